"""Loading a trained generator from whatever a user has: a run, a checkpoint, or reference-format weights.

Accepted paths:

* a training run directory (its `config.json` and newest checkpoint in `checkpoints/`);
* a checkpoint prefix inside such a run (`RUN/checkpoints/ckpt-12`);
* a reference-names `G_ema-reference-*.npz` with its `.json` of Generator arguments (written at every
  training snapshot).

`G_ema` (the exponential moving average of G, the network the paper evaluates) is what is loaded.
"""

import json
import os

import tensorflow as tf

from svgan_tf.training import config
from svgan_tf.interop import reference
from svgan_tf.networks.generator import Generator


def _read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error}).") from None


def load_generator(path, **overrides):
    """G_ema from `path` (see the module docstring).

    Args:
        path: run directory, checkpoint prefix, or `.npz` (+ `.json`).
        **overrides: Generator arguments that change how, not what, it computes (e.g. `num_fp16_res=0`
            for float32 inference, `motion_precision="float32"` for LiteRT).

    Raises:
        FileNotFoundError: naming the missing file (config, sidecar, checkpoint).
    """
    if path.endswith(".npz"):
        sidecar = path[:-4] + ".json"
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: no such file.")
        if not os.path.isfile(sidecar):
            raise FileNotFoundError(f"{path}: the Generator arguments {sidecar} are missing.")
        G = Generator(**{**_read_json(sidecar), **overrides})
        reference.load_reference_npz(G, path)
        return G
    run_dir = path if os.path.isdir(path) else os.path.dirname(os.path.dirname(path))
    config_file = os.path.join(run_dir, "config.json")
    if not os.path.isfile(config_file):
        raise FileNotFoundError(f"{path}: not a training run (no {config_file}) nor a .npz export.")
    values = _read_json(config_file)
    cfg = config.TrainConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})
    checkpoint = tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints")) if os.path.isdir(path) else path
    if checkpoint is None or not tf.io.gfile.glob(checkpoint + ".index"):
        raise FileNotFoundError(f"{path}: no checkpoint found (a run has them in {run_dir}/checkpoints).")
    G = Generator(**{**cfg.generator_kwargs(), **overrides}, name="G_ema")
    tf.train.Checkpoint(G_ema=G).read(checkpoint).expect_partial().assert_existing_objects_matched()
    return G


def rebuild(G, **overrides):
    """A copy of Generator `G` (same weights) built with other computation settings, e.g. `num_fp16_res=0`."""
    copy = Generator(**{**G.get_config(), **overrides})
    for target, source in zip(copy.weights, G.weights):
        target.assign(source)
    return copy
