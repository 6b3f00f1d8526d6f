"""Flags -> TrainConfig: reference defaults, automatic values, validation errors naming the flag."""

import dataclasses
import math
import pathlib
import subprocess
import sys

import pytest
from absl import flags
from absl.testing import flagsaver

from svgan_tf.training import config
from tests.support import REPO

config.define_flags()
FLAGS = flags.FLAGS


@pytest.fixture(autouse=True)
def parsed_flags():
    if not FLAGS.is_parsed():
        FLAGS(["test"])
    yield


def test_reference_automatic_values():
    cfg = config.TrainConfig(data="demo").resolve(256, num_replicas=4)
    assert cfg.channel_base == 16384 and cfg.lr == 0.0025 and cfg.ema_kimg == 20
    assert cfg.r1_gamma == pytest.approx(0.2048) and cfg.mbstd_group_size == 4 and cfg.batch_per_replica == 16
    big = config.TrainConfig(data="demo", batch=16).resolve(1024)
    assert big.channel_base == 32768 and big.lr == 0.002 and big.r1_gamma == pytest.approx(13.1072)
    assert config.kimg_to_steps(25000, 64, 3) == 130209


_MBSTD = (": D's minibatch-std groups must split each replica's batch evenly (as in the reference); change --batch "
          "or --mbstd_group_size")


@pytest.mark.parametrize("changes,message", [
    (dict(batch=-4), "--batch must be positive, got -4"),
    (dict(batch=6), "--batch=6 is not divisible by the 4 replicas"),
    (dict(max_dist=1), "--max_dist=1 is shorter than num_frames - 1 = 2; --total_dists has no span within "
                       "[num_frames - 1, max_dist]"),
    (dict(aug_p=2.0), "--aug_p must be in [0, 1], got 2.0"),
    (dict(cond=True), "--cond needs a dataset with labels (dataset.json), but this one has none"),
    (dict(concat_res=64), "--concat_res=64 must be a discriminator resolution in [8, 32]"),
    (dict(lr=math.nan), "--lr must be finite, got nan"),
    (dict(eps=math.nan), "--eps must be finite, got nan"),
    (dict(betas=(0.0, math.inf)), "--betas must be finite, got (0.0, inf)"),
    (dict(r1_gamma=-math.inf), "--r1_gamma must be finite, got -inf"),
    (dict(lr=0.0), "--lr must be positive, or -1 (auto), got 0.0"),
    (dict(eps=0.0), "--eps must be positive, got 0.0"),
    (dict(kimg=-1.0), "--kimg must be positive, got -1.0"),
    (dict(ema_kimg=0.0), "--ema_kimg must be positive, or -1 (auto), got 0.0"),
    (dict(w_dim=0), "--w_dim must be positive, got 0"),
    (dict(channel_max=0), "--channel_max must be positive, got 0"),
    (dict(motion_kernel_size=0), "--motion_kernel_size must be positive, got 0"),
    (dict(max_period_len=8), "--max_period_len must be >= --min_period_len=16, got 8"),
    (dict(ada_interval=0), "--ada_interval must be >= 1 with --aug=ada, got 0"),
    (dict(batch=24, mbstd_group_size=4), "--mbstd_group_size=4 (a group of 4) does not divide the 6 clips per "
                                         "replica of --batch=24" + _MBSTD),
    (dict(batch=24), "--mbstd_group_size=-1 (a group of 4) does not divide the 6 clips per replica of --batch=24"
                     + _MBSTD),
])
def test_validation_names_the_flag(changes, message):
    with pytest.raises(ValueError) as error:
        config.TrainConfig(data="demo", **changes).resolve(64, num_replicas=4)
    assert str(error.value) == f"invalid training configuration: {message}."


def test_every_error_is_listed_on_one_line():
    with pytest.raises(ValueError) as error:
        config.TrainConfig(data="demo", lr=math.nan, z_dim=0, aug_p=-1.0).resolve(64)
    assert str(error.value) == ("invalid training configuration: --lr must be finite, got nan; --z_dim must be "
                                "positive, got 0; --aug_p must be in [0, 1], got -1.0.")


def test_absurd_flag_is_refused_by_the_command_before_any_work(tmp_path):
    result = subprocess.run([sys.executable, "-m", "svgan_tf.train", "--data=demo", f"--outdir={tmp_path / 'run'}",
                             "--lr=nan"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == "svgan_tf.train: error: invalid training configuration: --lr must be " \
                                             "finite, got nan."
    assert not (tmp_path / "run").exists()


def test_from_flags_reads_flagfiles_and_checks_data():
    for flagfile in sorted(pathlib.Path(REPO / "configs").glob("*.flags")):
        header = [line for line in flagfile.read_text().splitlines() if line.startswith("#")]
        assert flagfile.read_text().startswith("#")
        assert any(f"python -m svgan_tf.train --flagfile=configs/{flagfile.name}" in line for line in header)
    with flagsaver.flagsaver():
        FLAGS(["train", f"--flagfile={REPO / 'configs' / 'sky.flags'}", "--data=demo"])
        cfg = config.from_flags()
        assert cfg.min_period_len == 256 and cfg.batch == 64 and cfg.total_dists[-1] == 2048
    with flagsaver.flagsaver(data=None):
        with pytest.raises(ValueError, match="--data is required"):
            config.from_flags()
    with flagsaver.flagsaver(data="/no/such/dataset"):
        with pytest.raises(ValueError, match="--data=/no/such/dataset"):
            config.from_flags()


def test_unknown_flag_is_refused_by_the_command():
    result = subprocess.run([sys.executable, "-m", "svgan_tf.train", "--data=demo", "--bacth=4"], cwd=REPO,
                            capture_output=True, text=True)
    assert result.returncode != 0 and "bacth" in result.stderr


def test_json_round_trip_keeps_every_field():
    cfg = config.TrainConfig(data="demo", total_dists=(2, 8), betas=(0.5, 0.9), metrics=("fvd2048_16f",),
                             conv_clamp=-1.0, cond=True, lr=0.001).resolve(64, c_dim=3, num_replicas=2)
    for value in (cfg, config.TrainConfig()):
        loaded = config.TrainConfig.from_json(value.to_json())
        assert loaded == value
        assert all(type(getattr(loaded, f.name)) is type(getattr(value, f.name)) for f in dataclasses.fields(value))
    assert config.TrainConfig.from_json('{"batch": 8}') == config.TrainConfig(batch=8)
    with pytest.raises(ValueError, match="unknown training config fields: bacth"):
        config.TrainConfig.from_json('{"bacth": 8}')
    with pytest.raises(ValueError, match="JSON object"):
        config.TrainConfig.from_json("[1, 2]")


def test_metrics_are_checked_at_start_up():
    from svgan_tf.training.config import TrainConfig

    with pytest.raises(ValueError, match="--metrics: unknown metric 'fvd16'"):
        TrainConfig(metrics=("fvd16",)).resolve(32)
    with pytest.raises(ValueError, match="--metrics: is50k needs a detector file that is not shipped"):
        TrainConfig(metrics=("is50k",)).resolve(32)
    TrainConfig(metrics=("fvd2048_16f", "kid50k_full")).resolve(32)
