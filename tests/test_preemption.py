"""Preemption and divergence of a training run: SIGTERM / SIGINT checkpoint the step reached and exit with one
line (resumed with no step lost, also across two workers); a non-finite loss or weight stops the run naming
the step, and nothing is written after the last good checkpoint."""

import dataclasses
import glob
import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from svgan_tf.interop import reference
from svgan_tf.networks.generator import Generator
from svgan_tf.training import loop, run_dir
from tests.support import REPO, TINY_TRAIN, local_worker_configs

# The tiny network of TINY_TRAIN as training flags; a step takes well under a second on a CPU.
TINY_FLAGS = ["--data=demo", "--batch=4", "--z_dim=16", "--w_dim=16", "--mapping_layers=1", "--channel_base=256",
              "--channel_max=16", "--motion_z_dim=8", "--motion_v_dim=8", "--motion_kernel_size=3", "--time_enc_dim=4",
              "--min_period_len=8", "--max_period_len=64", "--max_num_frames=64", "--num_fp16_res=0",
              "--concat_res=8", "--aug=noaug"]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
STEP_KIMG = 0.012  # one step of the tiny run: 4 clips x 3 frames


def _train(outdir, *flags, env=ENV, log="train"):
    """Starts `python -m svgan_tf.train` on the tiny run; stdout and stderr go to files in `outdir`'s parent."""
    out, err = (open(f"{outdir}.{log}.{name}", "w+") for name in ("out", "err"))
    args = [sys.executable, "-m", "svgan_tf.train", *TINY_FLAGS, f"--outdir={outdir}", *flags]
    return subprocess.Popen(args, cwd=REPO, env=env, stdout=out, stderr=err), out, err


def _steps(out):
    """The steps of the progress lines written so far."""
    out.seek(0)
    return [int(line.split("step")[1].split()[0]) for line in out.read().splitlines() if line.startswith("kimg")]


def _wait_for_step(process, out, step, timeout=240):
    deadline = time.time() + timeout
    while time.time() < deadline and (not _steps(out) or _steps(out)[-1] < step):
        assert process.poll() is None, "training stopped on its own"
        time.sleep(0.2)
    assert _steps(out) and _steps(out)[-1] >= step, f"no step {step} within {timeout} s"


def _scalar_steps(outdir, tag):
    """The steps at which the run's TensorBoard events hold scalar `tag`."""
    steps = []
    for path in glob.glob(str(outdir / "tensorboard" / "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            steps += [event.step for value in event.summary.value if value.tag == tag]
    return sorted(steps)


def _leftovers(outdir):
    """Staging files and directories of unfinished writes (atomic writers, checkpoint shards)."""
    return [path for path in glob.glob(str(outdir / "**" / "*"), recursive=True)
            if path.endswith(".partial") or "_temp" in os.path.basename(path)]


@pytest.mark.parametrize("signal_number,exit_code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_checkpoints_the_step_reached_and_resume_loses_none(tmp_path, signal_number, exit_code):
    outdir = tmp_path / "run"
    process, out, err = _train(outdir, "--kimg=100", f"--tick_kimg={STEP_KIMG}", "--snapshot_kimg=100")
    try:
        _wait_for_step(process, out, 2)
        process.send_signal(signal_number)
        assert process.wait(timeout=120) == exit_code
    finally:
        if process.poll() is None:
            process.kill()
    step = _steps(out)[-1]  # one progress line per step: the last is the step reached
    err.seek(0)
    name = signal.Signals(signal_number).name
    assert err.read().splitlines()[-1] == (
        f"svgan_tf.train: stopped by {name} after step {step}: checkpoint {outdir}/checkpoints/ckpt-{step} written "
        "and TensorBoard flushed; continue with --resume=latest.")
    assert list(run_dir.checkpoints_by_step(str(outdir))) == [step]  # snapshots are 100 kimg apart: only this one
    assert run_dir.read_step(run_dir.latest_checkpoint(str(outdir))) == step
    assert _scalar_steps(outdir, "Progress/kimg") == list(range(1, step + 1))
    assert _leftovers(outdir) == []
    cfg = dataclasses.replace(run_dir.read_config(str(outdir)), resume="latest")
    assert int(loop.train(cfg, max_steps=1).step.numpy()) == step + 1  # continued from the step reached


@pytest.fixture
def poisoned(monkeypatch):
    """Makes training step `at` (1-based, as progress lines count) non-finite: its G loss, or a weight of G_ema.

    Yields a function (what, at) -> the `_Snapshots.write` calls of the run, by step.
    """
    snapshot_steps = []
    write = loop._Snapshots.write
    monkeypatch.setattr(loop._Snapshots, "write", lambda self, G_ema, step, kimg: (
        snapshot_steps.append(step), write(self, G_ema, step, kimg)))

    def poison(what, at):
        if what == "loss":
            replica_step = loop.TrainStep._replica_step

            def nan_g_loss(self, batch, step, names):
                stats = replica_step(self, batch, step, names)
                cell = tf.one_hot(loop.TICK_STATS.index("Loss/G/loss"), len(loop.TICK_STATS))[:, None] * [1.0, 0.0]
                return tf.where((cell > 0) & (step + 1 >= at), float("nan"), stats)

            monkeypatch.setattr(loop.TrainStep, "_replica_step", nan_g_loss)
        else:
            record = loop.TrainStep._record_nonfinite

            def nan_ema_weight(self, step, sums):
                weight = self.training.G_ema.weights[0]
                weight.assign(tf.where(step >= at, float("nan"), weight))
                record(self, step, sums)

            monkeypatch.setattr(loop.TrainStep, "_record_nonfinite", nan_ema_weight)
        return snapshot_steps

    return poison


@pytest.mark.parametrize("what,named", [("loss", r"Loss/G/loss = nan\."),
                                        ("weights", r"\d+ of \d+ weights of G_ema\.")])
def test_divergence_stops_before_writing_anything_more(tmp_path, poisoned, what, named):
    # A snapshot every step, a tick every 4: the divergence at step 3 is caught before the snapshot of step 3.
    snapshots = poisoned(what, 3)
    cfg = dataclasses.replace(TINY_TRAIN, outdir=str(tmp_path), kimg=STEP_KIMG * 8, tick_kimg=STEP_KIMG * 4,
                              snapshot_kimg=STEP_KIMG)
    with pytest.raises(loop.Diverged) as error:
        loop.train(cfg)
    last_good = str(tmp_path / "checkpoints" / "ckpt-2")
    assert re.match(f"training diverged at step 3: non-finite {named} ", str(error.value))
    assert f"the last good checkpoint, {last_good}, stays the latest" in str(error.value)
    assert run_dir.latest_checkpoint(str(tmp_path)) == last_good
    assert list(run_dir.checkpoints_by_step(str(tmp_path))) == [1, 2]
    assert snapshots == [0, 1, 2]
    assert _scalar_steps(tmp_path, "Progress/kimg") == []  # the first tick (step 4) never came
    [export] = glob.glob(str(tmp_path / "G_ema-reference-*.npz"))
    G = Generator(**json.load(open(export[:-4] + ".json")))
    reference.load_reference_npz(G, export)
    assert all(np.all(np.isfinite(w.numpy())) for w in G.weights)
    assert _leftovers(tmp_path) == []


def test_diverged_program_exits_2_naming_step_and_loss(tmp_path):
    # lr 1e30 is finite and positive, so accepted; the first step makes G's weights ~1e30 and D's scores NaN.
    outdir = tmp_path / "run"
    result = subprocess.run([sys.executable, "-m", "svgan_tf.train", *TINY_FLAGS, f"--outdir={outdir}", "--lr=1e30",
                             f"--kimg={STEP_KIMG * 4}", f"--tick_kimg={STEP_KIMG}", f"--snapshot_kimg={STEP_KIMG}"],
                            cwd=REPO, env=ENV, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].startswith(
        "svgan_tf.train: error: training diverged at step 1: non-finite Loss/D/loss = nan")
    assert "the last good checkpoint, none, stays the latest" in result.stderr
    assert run_dir.latest_checkpoint(str(outdir)) is None and "kimg" not in result.stdout
    assert sorted(os.listdir(outdir / "samples")) == ["fakes000000.gif", "fakes000000.png"]  # step 0's, before it


@pytest.mark.parametrize("signalled,signal_number", [(1, signal.SIGTERM), (0, signal.SIGINT)],
                         ids=["SIGTERM-to-the-other-worker", "SIGINT-to-the-chief"])
def test_two_workers_stop_together_on_one_workers_signal(tmp_path, signalled, signal_number):
    # Two processes of TensorFlow's PreemptionCheckpointHandler agreeing on the step: the one test of it, ~3 min
    # on 2 busy cores (each worker starts TensorFlow and traces its step under MultiWorkerMirroredStrategy).
    outdir = tmp_path / "run"
    configs = local_worker_configs(2)
    workers = [_train(outdir, "--kimg=100", f"--tick_kimg={STEP_KIMG}", "--snapshot_kimg=100", log=f"worker{i}",
                      env={**ENV, "TF_CONFIG": tf_config}) for i, tf_config in enumerate(configs)]
    try:
        _wait_for_step(workers[0][0], workers[0][1], 2, timeout=400)
        workers[signalled][0].send_signal(signal_number)  # one worker is stopped: both must checkpoint and stop
        codes = [process.wait(timeout=120) for process, _, _ in workers]
    finally:
        for process, _, _ in workers:
            if process.poll() is None:
                process.kill()
    own, peer = 128 + signal_number, 128 + signal.SIGTERM  # a peer's stop is reported as a termination
    assert codes == ([own, peer] if signalled == 0 else [peer, own])
    steps = [_steps(out) for _, out, _ in workers]
    step = steps[0][-1]
    assert steps[0] == steps[1] == list(range(1, step + 1))
    lines = []
    for _, _, err in workers:
        err.seek(0)
        lines.append(err.read().splitlines()[-1])
    checkpoint = f"checkpoint {outdir}/checkpoints/ckpt-{step} written"
    name = signal.Signals(signal_number).name
    assert lines[signalled] == (f"svgan_tf.train: stopped by {name} after step {step}: {checkpoint} and "
                                "TensorBoard flushed; continue with --resume=latest.")
    assert lines[1 - signalled].startswith(f"svgan_tf.train: stopped by a peer worker's termination signal after "
                                           f"step {step}: {checkpoint}")
    assert list(run_dir.checkpoints_by_step(str(outdir))) == [step]
    assert _leftovers(outdir) == []


def test_a_signal_while_a_checkpoint_is_written_lets_the_write_finish(tmp_path, monkeypatch):
    # SIGTERM delivered from inside the snapshot of step 2, as its checkpoint is being written: the write
    # completes, the run stops right after it with that checkpoint (written once), and nothing is half-written.
    saves = []
    save = tf.train.CheckpointManager.save

    def save_while_signalled(manager, checkpoint_number=None, **kwargs):
        saves.append(checkpoint_number)
        os.kill(os.getpid(), signal.SIGTERM)  # its Python handler runs here, inside the write
        return save(manager, checkpoint_number=checkpoint_number, **kwargs)

    monkeypatch.setattr(tf.train.CheckpointManager, "save", save_while_signalled)
    cfg = dataclasses.replace(TINY_TRAIN, outdir=str(tmp_path), kimg=STEP_KIMG * 4, tick_kimg=STEP_KIMG,
                              snapshot_kimg=STEP_KIMG * 2)
    with pytest.raises(loop.Preempted) as stopped:
        loop.train(cfg)
    checkpoint = str(tmp_path / "checkpoints" / "ckpt-2")
    assert (stopped.value.step, stopped.value.checkpoint, stopped.value.exit_code) == (2, checkpoint, 143)
    assert saves == [2] and run_dir.latest_checkpoint(str(tmp_path)) == checkpoint
    assert int(tf.train.load_checkpoint(checkpoint).get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE")) == 2
    assert _leftovers(tmp_path) == []
