"""Importing the reference implementation's networks into a training run directory: a published snapshot
pickle (G, D and G_ema, `import_snapshot`) or reference-named generator weights (`import_npz`, with a fresh
D). The library of `python -m svgan_tf.import_reference`, whose docstring describes the run it writes.

The networks are built from the file's constructor arguments, which must be expressible as training flags
(`training_config`; `ARCHITECTURE_FLAGS` are written to the run's `import.flags` for fine-tuning), and their
weights are loaded through the reference names (`svgan_tf.interop.reference`). `write_run` writes the run
atomically.
"""

import dataclasses
import os

import tensorflow as tf

from svgan_tf import atomic
from svgan_tf.interop import reference
from svgan_tf.interop.snapshot import read_snapshot
from svgan_tf.interop.unpickle import PickleFormatError
from svgan_tf.networks.discriminator import Discriminator
from svgan_tf.networks.generator import Generator
from svgan_tf.training import config, loop, run_dir

# TrainConfig fields that describe the networks: written to import.flags.
ARCHITECTURE_FLAGS = ("cond", "mirror", "num_frames", "max_dist", "max_num_frames", "total_dists", "z_dim", "w_dim",
                      "mapping_layers", "channel_base", "channel_max", "motion_z_dim", "motion_v_dim",
                      "motion_kernel_size", "time_enc_dim", "min_period_len", "max_period_len", "num_fp16_res",
                      "conv_clamp", "mbstd_group_size", "d_mapping_layers", "concat_res")


def _architecture(model):
    """A network's arguments, with equivalent spellings made equal (no options = {}; motion conditioning
    means nothing without labels)."""
    config = {k: v for k, v in model.get_config().items() if k not in ("name", "trainable", "dtype")}
    if config.get("mapping_kwargs") is None:
        config["mapping_kwargs"] = {}
    if config.get("c_dim") == 0:
        config.pop("motion_conditioning", None)
    return config


def training_config(G_kwargs, D_kwargs, training_set_kwargs, outdir):
    """The resolved `TrainConfig` whose networks are the snapshot's.

    Args:
        G_kwargs: the snapshot's generator constructor arguments (reference names).
        D_kwargs: the snapshot's discriminator constructor arguments.
        training_set_kwargs: the snapshot's dataset arguments ({} if absent): path and mirroring.
        outdir: the run directory the configuration names.

    Returns:
        A resolved `svgan_tf.training.config.TrainConfig`.

    Raises:
        ValueError: when training flags cannot express the snapshot's networks.
        NotImplementedError: for a reference option this port does not implement.
    """
    gk, dk = reference.generator_kwargs(G_kwargs), reference.discriminator_kwargs(D_kwargs)
    if gk["motion_z_distance"] != gk["min_period_len"]:
        raise ValueError(f"motion_z_distance={gk['motion_z_distance']} differs from min_period_len="
                         f"{gk['min_period_len']}: training flags tie them (one --min_period_len).")
    sampling = G_kwargs["cfg"].get("sampling", {})
    cfg = config.TrainConfig(
        data=training_set_kwargs.get("path"), outdir=outdir, cond=bool(gk["c_dim"]),
        mirror=bool(training_set_kwargs.get("xflip", False)), num_frames=dk["num_frames"],
        max_dist=sampling.get("max_dist", config.TrainConfig.max_dist),
        total_dists=tuple(sampling.get("total_dists", config.TrainConfig.total_dists)),
        max_num_frames=gk["max_num_frames"], z_dim=gk["z_dim"], w_dim=gk["w_dim"], mapping_layers=gk["mapping_layers"],
        channel_base=gk["channel_base"], channel_max=gk["channel_max"], motion_z_dim=gk["motion_z_dim"],
        motion_v_dim=gk["motion_v_dim"], motion_kernel_size=gk["motion_kernel_size"], time_enc_dim=gk["time_enc_dim"],
        min_period_len=gk["min_period_len"], max_period_len=gk["max_period_len"], num_fp16_res=gk["num_fp16_res"],
        conv_clamp=-1.0 if gk["conv_clamp"] is None else float(gk["conv_clamp"]),
        mbstd_group_size=dk["mbstd_group_size"], d_mapping_layers=dk["mapping_layers"], concat_res=dk["concat_res"])
    cfg = cfg.resolve(gk["img_resolution"], gk["c_dim"])
    _require_expressible(cfg, gk, dk)
    return cfg


def _require_expressible(cfg, generator_kwargs, discriminator_kwargs=None):
    """The networks the flags of `cfg` build must be exactly these (every argument, defaults included)."""
    pairs = [("G", Generator, cfg.generator_kwargs(), generator_kwargs)]
    if discriminator_kwargs is not None:
        pairs.append(("D", Discriminator, cfg.discriminator_kwargs(), discriminator_kwargs))
    for name, network, ours, theirs in pairs:
        ours, theirs = _architecture(network(**ours)), _architecture(network(**theirs))
        different = {k: (theirs[k], ours.get(k)) for k in theirs if ours.get(k) != theirs[k]}
        if different:
            raise ValueError(f"the snapshot's {name} uses arguments that training flags cannot express "
                             f"(snapshot value, flag value): {different}")


def _flagfile(cfg):
    lines = [f"# Architecture of an imported snapshot. Fine-tune with:\n#   python -m svgan_tf.train "
             f"--flagfile={run_dir.import_flags_path(cfg.outdir)} --data=DATA --outdir=NEW "
             f"--resume={run_dir.checkpoint_prefix(cfg.outdir, 0)}"]
    for name in ARCHITECTURE_FLAGS:
        value = getattr(cfg, name)
        if isinstance(value, bool):
            lines.append(f"--{name}" if value else f"--no{name}")
        elif isinstance(value, tuple):
            lines.append(f"--{name}={','.join(str(v) for v in value)}")
        else:
            lines.append(f"--{name}={value}")
    return "\n".join(lines) + "\n"


def write_run(out_dir, cfg, weights, source):
    """Writes the run directory (see the module docstring) atomically.

    Args:
        out_dir: the run directory (must not exist).
        cfg: resolved TrainConfig of the networks.
        weights: {"G": params, "D": params or None, "G_ema": params}, reference-named arrays.
        source: what the weights come from (for error messages).

    Returns:
        The `svgan_tf.training.loop.Training` built, holding the imported weights.
    """
    if os.path.exists(out_dir):
        raise FileExistsError(f"{out_dir} exists: choose another --out.")
    with atomic.staged_path(out_dir, directory=True, overwrite=False) as staging:
        training = loop.build_training(dataclasses.replace(cfg, outdir=out_dir), tf.distribute.get_strategy())
        for name in ("G", "D", "G_ema"):
            if weights.get(name) is not None:
                reference.load_reference_weights(getattr(training, name), weights[name], source=f"{source}: {name}")
        run_dir.write_config(staging, cfg)
        atomic.write_text(run_dir.import_flags_path(staging), _flagfile(cfg))
        tf.train.CheckpointManager(training.checkpoint(), run_dir.checkpoints_dir(staging), 1).save(0)
        run_dir.write_reference_generator(run_dir.reference_export_path(staging, 0), training.G_ema)
    return training


def import_snapshot(pkl_path, out_dir, progress=None):
    """Reference snapshot pickle -> run directory.

    Args:
        pkl_path: the snapshot, `network-snapshot-*.pkl` (read as data, nothing executed).
        out_dir: the run directory to create (must not exist).
        progress: called with (bytes read, total bytes) while the file is read (None: silent).

    Returns:
        The `svgan_tf.training.loop.Training` built.
    """
    snapshot = read_snapshot(pkl_path, progress=progress)
    for name in ("G", "D", "G_ema"):
        if snapshot[name].init_args:
            raise PickleFormatError(f"{pkl_path}: {name} has positional constructor arguments "
                                    f"{snapshot[name].init_args!r}; expected keywords only.")
    try:
        for name, translate, check in (("G", reference.generator_kwargs, reference.check_generator_kwargs),
                                       ("D", reference.discriminator_kwargs, reference.check_discriminator_kwargs)):
            check(translate(snapshot[name].init_kwargs), pkl_path,
                  sum(array.size for array in snapshot[name].state_dict.values()))
        try:
            cfg = training_config(snapshot["G"].init_kwargs, snapshot["D"].init_kwargs,
                                  snapshot.get("training_set_kwargs") or {}, out_dir)
        except ValueError as error:
            raise ValueError(f"{pkl_path}: {error}") from None
    except (KeyError, TypeError, AttributeError) as error:  # the file's nesting is not the reference's
        what = f"no {error.args[0]!r} entry" if isinstance(error, KeyError) else str(error)
        raise PickleFormatError(f"{pkl_path}: the networks' constructor arguments are not the reference's "
                                f"(G_kwargs / D_kwargs / training_set_kwargs: {what}).") from None
    weights = {name: snapshot[name].state_dict for name in ("G", "D", "G_ema")}
    return write_run(out_dir, cfg, weights, pkl_path)


def import_npz(npz_path, out_dir, seed=0):
    """Reference-named generator weights (`.npz` + `.json`) -> run directory with a fresh D.

    Args:
        npz_path: `G_ema-reference-*.npz`, with its `.json` of Generator arguments beside it.
        out_dir: the run directory to create (must not exist).
        seed: seed of the fresh discriminator.

    Returns:
        The `svgan_tf.training.loop.Training` built (G and G_ema hold the weights).
    """
    G = run_dir.load_generator(npz_path)
    kwargs = G.get_config()
    cfg = config.TrainConfig(
        data=None, outdir=out_dir, seed=seed, cond=bool(kwargs["c_dim"]), max_num_frames=kwargs["max_num_frames"],
        z_dim=kwargs["z_dim"], w_dim=kwargs["w_dim"], mapping_layers=kwargs["mapping_layers"],
        channel_base=kwargs["channel_base"], channel_max=kwargs["channel_max"], motion_z_dim=kwargs["motion_z_dim"],
        motion_v_dim=kwargs["motion_v_dim"], motion_kernel_size=kwargs["motion_kernel_size"],
        time_enc_dim=kwargs["time_enc_dim"], min_period_len=kwargs["min_period_len"],
        max_period_len=kwargs["max_period_len"], num_fp16_res=kwargs["num_fp16_res"],
        conv_clamp=-1.0 if kwargs["conv_clamp"] is None else float(kwargs["conv_clamp"]))
    cfg = cfg.resolve(kwargs["img_resolution"], kwargs["c_dim"])
    _require_expressible(cfg, {k: v for k, v in kwargs.items() if k not in ("name", "trainable", "dtype")})
    params = reference.reference_state_dict(G)
    return write_run(out_dir, cfg, {"G": params, "G_ema": params}, npz_path)
