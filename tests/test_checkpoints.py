"""Loading G_ema from a run directory, a checkpoint prefix or reference-format weights."""

import dataclasses
import json

import numpy as np
import pytest
import tensorflow as tf

from svgan_tf.interop import reference
from svgan_tf.training.run_dir import load_generator
from svgan_tf.networks.generator import Generator
from tests.test_train import TINY
from tests.support import tiny_generator


def test_load_generator_from_reference_npz(tmp_path):
    G = tiny_generator()
    reference.save_reference_npz(G, tmp_path / "g.npz")
    with pytest.raises(FileNotFoundError, match="g.json"):
        load_generator(str(tmp_path / "g.npz"))
    (tmp_path / "g.json").write_text("{")
    with pytest.raises(ValueError, match="g.json: not valid JSON"):
        load_generator(str(tmp_path / "g.npz"))
    (tmp_path / "g.json").write_text(json.dumps(G.get_config()))
    loaded = load_generator(str(tmp_path / "g.npz"))
    for a, b in zip(loaded.weights, G.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert load_generator(str(tmp_path / "g.npz"), motion_precision="float32").motion_mapping.precision == "float32"


def test_load_generator_from_a_training_run(tmp_path):
    cfg = TINY.resolve(32)
    (tmp_path / "config.json").write_text(json.dumps(dataclasses.asdict(cfg)))
    G_ema = Generator(**cfg.generator_kwargs())
    tf.train.CheckpointManager(tf.train.Checkpoint(G_ema=G_ema), str(tmp_path / "checkpoints"), 2).save()
    for path in (str(tmp_path), str(tmp_path / "checkpoints" / "ckpt-1")):
        loaded = load_generator(path)
        for a, b in zip(loaded.weights, G_ema.weights):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(FileNotFoundError, match="not a training run"):
        load_generator(str(tmp_path / "checkpoints"))
