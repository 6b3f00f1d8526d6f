"""svgan_tf.interop.importer: a reference snapshot imported into a run that every tool accepts."""

import dataclasses
import io
import os

import numpy as np
import pytest
from PIL import Image

from svgan_tf.interop import importer
from svgan_tf.networks.discriminator import Discriminator
from svgan_tf.networks.generator import Generator
from svgan_tf.training import run_dir
from svgan_tf.training.run_dir import load_generator
from tools import reference_check


def _networks(run):
    """G, D and G_ema of ckpt-0 of a run, float32."""
    cfg = run_dir.read_config(run)
    G, G_ema = (Generator(**{**cfg.generator_kwargs(), "num_fp16_res": 0}) for _ in range(2))
    D = Discriminator(**{**cfg.discriminator_kwargs(), "num_fp16_res": 0})
    run_dir.read_networks(run_dir.checkpoint_prefix(run, 0), G=G, D=D, G_ema=G_ema)
    return cfg, G, D, G_ema


def test_snapshot_imports_and_passes_the_reference_check(reference_pickle, official_small, tmp_path):
    out = tmp_path / "run"
    progress = []
    importer.import_snapshot(str(reference_pickle), str(out), progress=lambda done, total: progress.append(done))
    assert progress and sorted(os.listdir(out)) == ["G_ema-reference-000000.json", "G_ema-reference-000000.npz",
                                                    "checkpoints", "config.json", "import.flags"]
    cfg, G, D, G_ema = _networks(out)
    for generator in (G, G_ema):
        report = io.StringIO()
        assert reference_check.check(str(official_small), out=report, G=generator, D=D), report.getvalue()
    # generate / export load the run like any other.
    loaded = load_generator(str(out))
    for a, b in zip(loaded.weights, G_ema.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    # The flagfile reproduces the architecture for fine-tuning.
    flag_lines = [line for line in (out / "import.flags").read_text().splitlines() if not line.startswith("#")]
    assert f"--min_period_len={cfg.min_period_len}" in flag_lines and f"--z_dim={cfg.z_dim}" in flag_lines
    with pytest.raises(FileExistsError):
        importer.import_snapshot(str(reference_pickle), str(out))


def test_training_resumes_from_an_imported_snapshot(reference_pickle, tmp_path):
    from svgan_tf.training import loop
    out = tmp_path / "imported"
    importer.import_snapshot(str(reference_pickle), str(out))
    cfg, _, D_imported, _ = _networks(out)
    rng = np.random.default_rng(0)
    for video in range(2):  # a tiny dataset at the snapshot's resolution (reference folder layout)
        (tmp_path / "data" / f"v{video}").mkdir(parents=True)
        for frame in range(40):
            image = rng.integers(0, 255, (64, 64, 3), np.uint8)
            Image.fromarray(image).save(tmp_path / "data" / f"v{video}" / f"{frame:03d}.png")
    fine = dataclasses.replace(cfg, data=str(tmp_path / "data"), outdir=str(tmp_path / "fine"), batch=2,
                               mbstd_group_size=2, aug="noaug", kimg=0.012, tick_kimg=0.006, snapshot_kimg=0.012,
                               resume=str(out / "checkpoints" / "ckpt-0"))
    training = loop.train(fine.resolve(64), max_steps=1)
    assert int(training.step.numpy()) == 1
    moved = [float(np.max(np.abs(a.numpy() - b.numpy()))) for a, b in zip(training.D.weights, D_imported.weights)]
    assert 0 < max(moved) < 1.0  # one small step from the imported weights, not a fresh initialisation
