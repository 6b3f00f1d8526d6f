"""SavedModel for TF Serving: `python -m export.savedmodel --checkpoint RUN_DIR --out models/sky --version 1`.

Writes the versioned TF Serving layout `OUT/<version>/` (saved_model.pb + variables/) with the signatures
of `export.frame_model.FrameModel`: `serving_default` (z[, c], motion_z, t -> frames uint8), `frame_at_time`
(w[, c], window, t -> frame float32) and `mapping` (z[, c] -> w). The version directory is written under a
temporary name and renamed when complete, so a crash never leaves a half-written version that a model
server would load.

`--checkpoint` accepts a training run directory (its config.json and newest checkpoint; G_ema is
exported), a checkpoint prefix inside such a run, or a reference-format `G_ema-reference-*.npz` (with
its `.json`).
"""

import os
import shutil
import sys

from absl import app, flags
import tensorflow as tf

from export.frame_model import FrameModel
from svgan_tf.checkpoints import load_generator

SIGNATURES = ("serving_default", "frame_at_time", "mapping")


def export_savedmodel(G, out_dir, version=1, truncation_psi=1.0):
    """Writes `out_dir/<version>/` atomically; returns its path. An existing version is an error."""
    target = os.path.join(out_dir, str(int(version)))
    if os.path.exists(target):
        raise FileExistsError(f"{target} exists: choose another --version (TF Serving versions are immutable).")
    os.makedirs(out_dir, exist_ok=True)
    model = FrameModel(G, truncation_psi)
    staging = os.path.join(out_dir, f".{int(version)}.incomplete")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        tf.saved_model.save(model, staging, signatures={
            "serving_default": model.generate, "frame_at_time": model.frame_at_time, "mapping": model.mapping})
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


FLAGS = flags.FLAGS


def _define_flags():
    """Command-line flags, defined only when run as a program (the module is also a library)."""
    flags.DEFINE_string("checkpoint", None, "Training run directory, checkpoint prefix, or G_ema-reference-*.npz.")
    flags.DEFINE_string("out", None, "Model directory (the version is a subdirectory).")
    flags.DEFINE_integer("version", 1, "TF Serving model version.")
    flags.DEFINE_float("truncation_psi", 1.0, "Truncation of the exported mapping.")


def main(argv):
    del argv
    if not FLAGS.checkpoint or not FLAGS.out:
        raise app.UsageError("--checkpoint and --out are required.")
    try:
        G = load_generator(FLAGS.checkpoint)
        path = export_savedmodel(G, FLAGS.out, FLAGS.version, FLAGS.truncation_psi)
    except (OSError, ValueError) as error:
        print(f"export.savedmodel: {error}", file=sys.stderr)
        sys.exit(2)
    print(f"SavedModel written: {path} (signatures: {', '.join(SIGNATURES)})")


if __name__ == "__main__":
    _define_flags()
    app.run(main)
