"""python -m svgan_tf.profile: the figures of a flagfile's or a run's networks, as printed and as JSON; user
errors are one line with exit status 2."""

import json
import os
import subprocess
import sys

from svgan_tf import profiling
from svgan_tf.networks.discriminator import Discriminator
from svgan_tf.networks.generator import Generator
from svgan_tf.training import run_dir
from tests.support import REPO, TINY_TRAIN


def _cli(*args):
    # As a user runs it: TensorFlow's start-up lines are silenced only where neither variable is set.
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "SVGAN_TF_VERBOSE")}
    return subprocess.run([sys.executable, "-m", "svgan_tf.profile", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)


def test_profile_of_a_run_directory(tmp_path):
    cfg = TINY_TRAIN.resolve(32)
    run = tmp_path / "run"
    run.mkdir()
    run_dir.write_config(str(run), cfg)
    out = tmp_path / "profile.json"
    result = _cli(f"--checkpoint={run}", f"--out={out}")
    assert result.returncode == 0, result.stderr
    profile = json.loads(out.read_text())
    G, D = Generator(**cfg.generator_kwargs()), Discriminator(**cfg.discriminator_kwargs())
    assert profile["G"] == profiling.profile_generator(G)
    assert profile["D"] == profiling.profile_discriminator(D)
    assert f"G: {profile['G']['parameters']['total']:,} parameters" in result.stdout
    assert f"{profile['G']['per_frame']['total']['gflop']:.4f}" in result.stdout
    again = _cli(f"--checkpoint={run}", f"--out={out}")
    assert again.returncode == 2 and again.stderr.strip().endswith("pass --overwrite to replace it.")


def test_user_errors_are_one_line():
    result = _cli("--config=configs/demo.flags")
    assert result.returncode == 2
    assert result.stderr.strip() == ("svgan_tf.profile: error: --resolution: required with --config (a run takes it "
                                     "from its data).")
    result = _cli("--config=configs/demo.flags", "--checkpoint=runs/x")
    assert result.returncode == 2 and "give exactly one of them" in result.stderr
