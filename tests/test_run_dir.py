"""The run directory (svgan_tf/training/run_dir.py): its layout, checkpoints, and loading G_ema from what a user has."""

import json
import logging

import numpy as np
import pytest
import tensorflow as tf

from svgan_tf.interop import reference
from svgan_tf.networks.generator import Generator
from svgan_tf.training import loop, run_dir
from svgan_tf.training.run_dir import load_generator
from tests.support import TINY_TRAIN, tiny_generator


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
    cfg = TINY_TRAIN.resolve(32)
    run_dir.write_config(str(tmp_path), cfg)
    G_ema = Generator(**cfg.generator_kwargs())
    tf.train.CheckpointManager(tf.train.Checkpoint(G_ema=G_ema), str(tmp_path / "checkpoints"), 2).save()
    for path in (str(tmp_path), str(tmp_path / "checkpoints" / "ckpt-1")):
        loaded = load_generator(path)
        for a, b in zip(loaded.weights, G_ema.weights):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(FileNotFoundError, match="not a training run"):
        load_generator(str(tmp_path / "checkpoints"))
    (tmp_path / "config.json").write_text('{"bacth": 4}')
    with pytest.raises(ValueError, match="config.json: not a training config .*bacth"):
        load_generator(str(tmp_path))


def test_layout(tmp_path):
    run = str(tmp_path)
    assert not run_dir.is_run(run)
    cfg = TINY_TRAIN.resolve(32)
    run_dir.write_config(run, cfg)
    assert run_dir.is_run(run) and run_dir.read_config(run) == cfg
    assert json.loads((tmp_path / "config.json").read_text())["total_dists"] == list(cfg.total_dists)
    layout = [
        (run_dir.checkpoints_dir(run), "checkpoints"),
        (run_dir.checkpoint_prefix(run, 12), "checkpoints/ckpt-12"),
        (run_dir.sample_grid_path(run, 4.9, "png"), "samples/fakes000004.png"),
        (run_dir.sample_grid_path(run, 12, "gif"), "samples/fakes000012.gif"),
        (run_dir.tensorboard_dir(run), "tensorboard"),
        (run_dir.metrics_path(run), "metrics.jsonl"),
        (run_dir.metric_cache_dir(run), "metric-cache"),
        (run_dir.import_flags_path(run), "import.flags"),
        (run_dir.reference_export_path(run, 0.5), "G_ema-reference-000000.npz"),
    ]
    for path, name in layout:
        assert path == str(tmp_path / name)


def test_checkpoints_steps_and_networks(tmp_path):
    run = str(tmp_path)
    G, step = tiny_generator(), tf.Variable(0, dtype=tf.int64)
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(G_ema=G, step=step), run_dir.checkpoints_dir(run), 3)
    for value in (3, 7):
        step.assign(value)
        manager.save(checkpoint_number=value)
    assert run_dir.latest_checkpoint(run) == run_dir.checkpoint_prefix(run, 7)
    assert run_dir.read_step(run_dir.checkpoint_prefix(run, 3)) == 3
    assert run_dir.checkpoints_by_step(run) == {n: run_dir.checkpoint_prefix(run, n) for n in (3, 7)}
    assert run_dir.checkpoints_by_step(str(tmp_path / "empty")) == {}
    loaded = Generator(**G.get_config())
    run_dir.read_networks(run_dir.latest_checkpoint(run), G_ema=loaded)
    for a, b in zip(loaded.weights, G.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(ValueError, match="not training checkpoint keys: G_emma"):
        run_dir.read_networks(run_dir.latest_checkpoint(run), G_emma=loaded)


def test_reference_generator_pair(tmp_path):
    G = tiny_generator()
    path = run_dir.reference_export_path(str(tmp_path), 3)
    run_dir.write_reference_generator(path, G)
    loaded = load_generator(path)
    for a, b in zip(loaded.weights, G.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_a_hostile_run_config_is_refused_naming_it(tmp_path):
    (tmp_path / "config.json").write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(ValueError, match="config.json: JSON nested too deeply"):
        run_dir.read_config(str(tmp_path))


def test_a_resume_restores_the_whole_checkpoint_quietly(tmp_path, caplog):
    cfg = TINY_TRAIN.resolve(32)
    saved = loop.build_training(cfg, tf.distribute.get_strategy())
    saved.step.assign(5)
    resumed = loop.build_training(cfg, tf.distribute.get_strategy())
    manager = tf.train.CheckpointManager(resumed.checkpoint(), run_dir.checkpoints_dir(str(tmp_path)), 1)
    with caplog.at_level(logging.INFO):
        path = tf.train.CheckpointManager(saved.checkpoint(), run_dir.checkpoints_dir(str(tmp_path)), 1).save(5)
        loop._restore(cfg, resumed, manager.checkpoint, path, [])
    assert int(resumed.step.numpy()) == 5 and int(manager.checkpoint.save_counter.numpy()) == 1
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    assert "Sharding callback" not in caplog.text  # TensorFlow's timing line at every save
    # What the loop did before: reading into a checkpoint object of its own left the save counter unrestored, and
    # TensorFlow warned (as if the resume had failed) when that object was deleted.
    with caplog.at_level(logging.INFO):
        resumed.checkpoint().read(path).assert_existing_objects_matched()
    assert "unrestored values" in caplog.text and "save_counter" in caplog.text
