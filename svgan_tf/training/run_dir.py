"""The training run directory: its layout, its checkpoint keys, and loading a generator from a run.

    RUN/
      config.json                        the resolved `TrainConfig` (`TrainConfig.to_json`)
      checkpoints/ckpt-STEP.*            `tf.train.Checkpoint`s of the training state, objects under
                                         `CHECKPOINT_KEYS` (the newest `keep_checkpoints` are kept)
      samples/fakesKIMG.png, .gif        sample grid of each snapshot (KIMG: whole kimg, 6 digits)
      tensorboard/                       TensorBoard event files
      metrics.jsonl                      one JSON line per metric result (training and `svgan_tf.evaluate`)
      metric-cache/                      real statistics of the metrics computed during training
      G_ema-reference-KIMG.npz, .json    G_ema under reference parameter names, and its Generator arguments
      import.flags                       (runs made by `svgan_tf.import_reference`) the architecture as flags

Every program that writes or reads a run goes through this module. A generator is loaded from what a user
has (`load_generator`):

* a training run directory (its `config.json` and newest checkpoint);
* a checkpoint prefix inside such a run (`RUN/checkpoints/ckpt-12`);
* a reference-names `G_ema-reference-*.npz` with its `.json` of Generator arguments.

`G_ema` (the exponential moving average of G, the network the paper evaluates) is what is loaded.
"""

import json
import os

import tensorflow as tf
from absl import logging as absl_logging

from svgan_tf import atomic, cli
from svgan_tf.interop import bounded, reference
from svgan_tf.networks.generator import Generator
from svgan_tf.training.config import TrainConfig

# The objects of a training checkpoint, by key: the attributes of `svgan_tf.training.loop.Training` of these
# names. Renaming a key makes every existing checkpoint unreadable.
CHECKPOINT_KEYS = ("G", "D", "G_ema", "G_opt", "D_opt", "step", "ada_p", "ada_stats")
# How tf.train.Checkpoint names a variable's value in a checkpoint file: read without building the networks.
_STEP_VALUE = "step/.ATTRIBUTES/VARIABLE_VALUE"


# TensorFlow's checkpointing logs, through absl, "Sharding callback duration: N microseconds" at every save: a
# timing of its own internals that tells a user nothing, printed beside every snapshot of a run.
cli.leave_out_log_lines(absl_logging.get_absl_logger(), "Sharding callback duration")


def _kimg_tag(kimg):
    """Whole kimg, 6 digits (reference style: a later snapshot within the same kimg replaces the files)."""
    return f"{int(kimg):06d}"


def config_path(run):
    """The run's resolved training config."""
    return os.path.join(run, "config.json")


def checkpoints_dir(run):
    """The directory of the run's checkpoints."""
    return os.path.join(run, "checkpoints")


def checkpoint_prefix(run, step):
    """The prefix of the run's checkpoint of training step `step` (as `tf.train.CheckpointManager` names it)."""
    return os.path.join(checkpoints_dir(run), f"ckpt-{int(step)}")


def samples_dir(run):
    """The directory of the run's sample grids."""
    return os.path.join(run, "samples")


def sample_grid_path(run, kimg, extension):
    """The sample grid of the snapshot at `kimg` (`extension` "png": frames; "gif": animated)."""
    return os.path.join(samples_dir(run), f"fakes{_kimg_tag(kimg)}.{extension}")


def tensorboard_dir(run):
    """The directory of the run's TensorBoard event files."""
    return os.path.join(run, "tensorboard")


def metrics_path(run):
    """The run's JSON-lines log of metric results."""
    return os.path.join(run, "metrics.jsonl")


def metric_cache_dir(run):
    """The cache of real statistics of the metrics computed during training."""
    return os.path.join(run, "metric-cache")


def import_flags_path(run):
    """The architecture of an imported run as training flags."""
    return os.path.join(run, "import.flags")


def reference_export_path(run, kimg):
    """G_ema in reference format at the snapshot of `kimg` (`.npz`; its Generator arguments in the `.json`)."""
    return os.path.join(run, f"G_ema-reference-{_kimg_tag(kimg)}.npz")


def is_run(path):
    """Whether `path` is a training run directory (it has a config)."""
    return os.path.isfile(config_path(path))


def write_config(run, cfg):
    """Writes the resolved `TrainConfig` `cfg` as the run's config (atomically, replacing an older one)."""
    atomic.write_text(config_path(run), cfg.to_json())


def read_config(run):
    """The run's `TrainConfig`.

    Raises:
        FileNotFoundError: `run` has no config.
        ValueError: naming the file, when it is not a training config.
    """
    path = config_path(run)
    values = bounded.read_json(path)
    try:
        return TrainConfig.from_json(json.dumps(values))
    except ValueError as error:
        raise ValueError(f"{path}: not a training config ({error}).") from None


def latest_checkpoint(run):
    """The prefix of the run's newest checkpoint, or None."""
    return tf.train.latest_checkpoint(checkpoints_dir(run))


def checkpoints_by_step(run):
    """{training step: checkpoint prefix} of every checkpoint the run keeps."""
    state = tf.train.get_checkpoint_state(checkpoints_dir(run))
    paths = state.all_model_checkpoint_paths if state else []
    return {read_step(path): path for path in paths}


def read_step(checkpoint):
    """The training step a checkpoint was written at (read from the file, without building networks)."""
    return int(tf.train.load_variable(checkpoint, _STEP_VALUE))


def read_networks(checkpoint, **networks):
    """Reads networks from a training checkpoint; every other object of the checkpoint is left unread.

    Args:
        checkpoint: a checkpoint prefix.
        **networks: the networks to fill, by checkpoint key (`G`, `D`, `G_ema`), built with the run's
            arguments.

    Raises:
        ValueError: for a key that is not one of `CHECKPOINT_KEYS`.
        AssertionError: when the checkpoint lacks a variable of the networks.
    """
    unknown = sorted(set(networks) - set(CHECKPOINT_KEYS))
    if unknown:
        raise ValueError(f"not training checkpoint keys: {', '.join(unknown)} (the keys: "
                         f"{', '.join(CHECKPOINT_KEYS)}).")
    tf.train.Checkpoint(**networks).read(checkpoint).expect_partial().assert_existing_objects_matched()


def write_reference_generator(path, G):
    """Writes generator `G` under reference parameter names to `path` (.npz) with its arguments (.json).

    The `.json` is written first, so that an `.npz` is never without its arguments; both atomically.
    """
    atomic.write_json(path[:-4] + ".json", G.get_config())
    reference.save_reference_npz(G, path)


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
        reference.check_npz_export(path)  # the declared architecture fits the stored weights, before building
        G = Generator(**{**bounded.read_json(path[:-4] + ".json"), **overrides})
        reference.load_reference_npz(G, path)
        return G
    run = path if os.path.isdir(path) else os.path.dirname(os.path.dirname(path))
    if not is_run(run):
        raise FileNotFoundError(f"{path}: not a training run (no {config_path(run)}) nor a .npz export.")
    cfg = read_config(run)
    checkpoint = latest_checkpoint(run) if os.path.isdir(path) else path
    if checkpoint is None or not tf.io.gfile.glob(checkpoint + ".index"):
        raise FileNotFoundError(f"{path}: no checkpoint found (a run has them in {checkpoints_dir(run)}).")
    G = Generator(**{**cfg.generator_kwargs(), **overrides}, name="G_ema")
    read_networks(checkpoint, G_ema=G)
    return G


def rebuild(G, **overrides):
    """A copy of Generator `G` (same weights) built with other computation settings, e.g. `num_fp16_res=0`."""
    copy = Generator(**{**G.get_config(), **overrides})
    for target, source in zip(copy.weights, G.weights):
        target.assign(source)
    return copy
