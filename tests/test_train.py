"""Training loop: distributed steps, EMA, checkpoints and exact resumption, monitoring output, SIGKILL."""

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
from svgan_tf.metrics import evaluation
from svgan_tf.networks.generator import Generator
from svgan_tf.training import loop
from tests.support import REPO, STUB_DETECTORS, TINY_TRAIN, local_worker_configs


def _values(model):
    return [v.numpy().copy() for v in model.weights]


def test_mirrored_steps_train_both_networks_and_the_ema(tmp_path):
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    cfg = dataclasses.replace(TINY_TRAIN, outdir=str(tmp_path), kimg=0.012 * 3, aug="ada")
    training = loop.train(cfg, strategy=strategy)
    assert strategy.num_replicas_in_sync == 2 and int(training.step.numpy()) == 3
    fresh = loop.build_training(cfg.resolve(32), tf.distribute.get_strategy())
    for name in ("G", "D"):
        changed = [not np.array_equal(a, b) for a, b in zip(_values(getattr(training, name)),
                                                               _values(getattr(fresh, name)))]
        assert sum(changed) > len(changed) // 2, name
    g, ema = _values(training.G), _values(training.G_ema)
    assert any(not np.array_equal(a, b) for a, b in zip(g, ema))
    assert all(np.all(np.isfinite(v)) for v in g + ema + _values(training.D))
    # Monitoring and snapshot outputs.
    assert glob.glob(str(tmp_path / "tensorboard" / "events.out.tfevents.*"))
    assert os.path.exists(tmp_path / "samples" / "fakes000000.gif")
    exports = sorted(glob.glob(str(tmp_path / "G_ema-reference-*.npz")))
    assert exports and tf.train.latest_checkpoint(str(tmp_path / "checkpoints"))
    G = Generator(**json.load(open(exports[-1][:-4] + ".json")))
    reference.load_reference_npz(G, exports[-1])
    for a, b in zip(_values(G), _values(training.G_ema)):
        np.testing.assert_array_equal(a, b)


@pytest.fixture(scope="module")
def resumed_runs(tmp_path_factory):
    """3 steps whole (with metrics every step), and 1 step + 2 resumed: three traced trainings that several tests
    read. The resumed part holds a lazy R1 step and an ADA update (intervals of 2)."""
    root = tmp_path_factory.mktemp("resumed_runs")
    cfg = dataclasses.replace(TINY_TRAIN, kimg=0.012 * 3, lr=0.002)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(evaluation, "default_detectors", lambda: STUB_DETECTORS)  # the metric plumbing, not I3D
        whole = loop.train(dataclasses.replace(cfg, outdir=str(root / "whole"), metrics=("fvd2048_16f",),
                                               metrics_every_kimg=0.012, metrics_num_fake=8))
    first = dataclasses.replace(cfg, outdir=str(root / "split"))
    loop.train(first, max_steps=1)
    config = (root / "split" / "config.json").read_text()
    with pytest.raises(ValueError) as refused:  # asserted by test_flags_changed_on_resume_apply_or_are_refused_by_name
        loop.train(dataclasses.replace(first, resume="latest", w_dim=32, kimg=0.048))
    unchanged = (root / "split" / "config.json").read_text() == config
    resumed = loop.train(dataclasses.replace(first, resume="latest"))
    return dict(whole=whole, resumed=resumed, first=first, root=root, refused=str(refused.value), unchanged=unchanged)


def test_resume_continues_exactly(resumed_runs):
    whole, resumed = resumed_runs["whole"], resumed_runs["resumed"]
    # Also shows that metrics during training (only in the whole run) leave the training itself as it was.
    assert int(resumed.step.numpy()) == int(whole.step.numpy()) == 3
    for name in ("G", "D", "G_ema"):
        for a, b in zip(_values(getattr(whole, name)), _values(getattr(resumed, name))):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(whole.ada_p.numpy(), resumed.ada_p.numpy(), atol=1e-7)


def test_flags_changed_on_resume_apply_or_are_refused_by_name(resumed_runs, caplog):
    assert re.match(r"--resume=latest: checkpoint .*ckpt-1 does not fit the networks of this configuration; these "
                    r"flags changed: --w_dim=32 \(the run has 16\), ", resumed_runs["refused"]), resumed_runs["refused"]
    assert resumed_runs["unchanged"]  # a resume that does not fit leaves the run as it was

    # The split run, at step 3 after the fixture's resume, resumed once more with a new rate.
    split = resumed_runs["root"] / "split"
    with caplog.at_level("WARNING"):
        resumed = loop.train(dataclasses.replace(resumed_runs["first"], resume="latest", lr=0.001, kimg=0.048))
    assert int(resumed.step.numpy()) == 4
    # Applied: the optimisers' rate (G's and D's lazy-regularisation corrections of 0.001), logged and recorded.
    assert float(resumed.G_opt.learning_rate.numpy()) == pytest.approx(0.001 * 4 / 5)
    assert float(resumed.D_opt.learning_rate.numpy()) == pytest.approx(0.001 * 2 / 3)
    assert "--lr=0.001 applies from step 3 on (the run had 0.002 until then)." in caplog.messages
    assert json.loads((split / "config.json").read_text())["lr"] == 0.001


def test_sigkill_then_resume_latest(tmp_path):
    outdir = tmp_path / "killed"
    args = [sys.executable, "-m", "svgan_tf.train", "--data=demo", f"--outdir={outdir}", "--batch=4", "--z_dim=16",
            "--w_dim=16", "--mapping_layers=1", "--channel_base=256", "--channel_max=16", "--motion_z_dim=8",
            "--motion_v_dim=8", "--motion_kernel_size=3", "--time_enc_dim=4", "--min_period_len=8",
            "--max_period_len=64", "--max_num_frames=64", "--num_fp16_res=0", "--concat_res=8", "--kimg=100",
            "--snapshot_kimg=0.024", "--tick_kimg=0.024", "--aug=noaug"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and len(glob.glob(str(outdir / "checkpoints" / "ckpt-*.index"))) < 2:
            time.sleep(0.2)
        assert process.poll() is None, "training stopped on its own"
        process.send_signal(signal.SIGKILL)  # possibly in the middle of writing a checkpoint
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
    last = tf.train.latest_checkpoint(str(outdir / "checkpoints"))
    assert last is not None
    last_step = int(last.rsplit("-", 1)[1])
    resumed = subprocess.run(args[:-4] + ["--kimg", str((last_step + 2) * 12 / 1000), "--snapshot_kimg=0.024",
                                          "--tick_kimg=0.012", "--aug=noaug", "--resume=latest"],
                             cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"step {last_step + 1:7d}" in resumed.stdout  # continued right after the last snapshot


def test_mixed_float16_steps_scale_the_loss(tmp_path):
    cfg = dataclasses.replace(TINY_TRAIN, outdir=str(tmp_path), num_fp16_res=1, kimg=0.012 * 2, aug="noaug")
    training = loop.train(cfg)
    assert type(training.D_opt).__name__ == "LossScaleOptimizer"
    assert training.D.blocks[0].compute_dtype == "float16"
    assert training.G.synthesis.blocks[-1].compute_dtype == "float16"
    assert all(np.all(np.isfinite(v)) for v in _values(training.G) + _values(training.D))
    fresh = loop.build_training(cfg.resolve(32), tf.distribute.get_strategy())
    assert any(not np.array_equal(a, b) for a, b in zip(_values(training.D), _values(fresh.D)))


def test_jit_is_refused_on_cpu(tmp_path):
    with pytest.raises(ValueError, match="--jit needs a GPU"):
        loop.train(dataclasses.replace(TINY_TRAIN, outdir=str(tmp_path), jit=True))


def test_two_workers_train_in_sync(tmp_path):
    args = [sys.executable, "-m", "svgan_tf.train", "--data=demo", f"--outdir={tmp_path}", "--batch=4", "--z_dim=16",
            "--w_dim=16", "--mapping_layers=1", "--channel_base=256", "--channel_max=16", "--motion_z_dim=8",
            "--motion_v_dim=8", "--motion_kernel_size=3", "--time_enc_dim=4", "--min_period_len=8",
            "--max_period_len=64", "--max_num_frames=64", "--num_fp16_res=0", "--concat_res=8", "--kimg=0.036",
            "--tick_kimg=0.012", "--snapshot_kimg=0.036", "--aug=ada", "--aug_p=0.1"]
    workers = [subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TF_CONFIG": tf_config})
               for tf_config in local_worker_configs(2)]
    outputs = [w.communicate(timeout=300) for w in workers]
    for w, (out, err) in zip(workers, outputs):
        assert w.returncode == 0, err[-3000:]
    progress = [[line.split("s/kimg")[0] + line.split("ETA")[1].split("elapsed")[0][10:] for line in out.splitlines()
                 if line.startswith("kimg")] for out, _ in outputs]
    assert len(progress[0]) == 3 and progress[0] == progress[1]  # same steps, same losses on both workers
    assert "num_replicas       2" in outputs[0][1]
    assert tf.train.latest_checkpoint(str(tmp_path / "checkpoints")).endswith("ckpt-3")


def test_metrics_during_training(resumed_runs):
    whole = resumed_runs["root"] / "whole"
    lines = [json.loads(line) for line in (whole / "metrics.jsonl").read_text().splitlines()]
    assert [(line["metric"], line["step"]) for line in lines] == [("fvd2048_16f", step) for step in (1, 2, 3)]
    assert all(line["value"] > 0 and line["scaled_down"] for line in lines)
    assert all(line["mirror"] == TINY_TRAIN.mirror and not line["mirrored_real"] for line in lines)  # never mirrored
    assert os.listdir(whole / "metric-cache")  # real statistics computed once, then reused
