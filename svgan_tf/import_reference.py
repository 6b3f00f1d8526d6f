"""Import a published StyleGAN-V snapshot as data, without its code and without torch.

    python -m svgan_tf.import_reference --pkl network-snapshot-XXXXXX.pkl --out runs/sky_official

The snapshot is read by `svgan_tf.interop.snapshot` (a restricted unpickler: nothing in the file is
executed, see its docstring). G, D and G_ema are built from the constructor arguments stored in the
file, their weights loaded through the reference names (`svgan_tf.interop.reference`), and OUT becomes a
training run directory like any other (`svgan_tf.training.run_dir`):

* `config.json` and `checkpoints/ckpt-0` (G, D, G_ema, fresh optimisers, step 0): what
  `python -m svgan_tf.generate --checkpoint OUT` and `python -m svgan_tf.export.* --checkpoint OUT` load;
* `import.flags`: the architecture as training flags, for fine-tuning:
  `python -m svgan_tf.train --flagfile=OUT/import.flags --data=DATA --outdir=NEW --resume=OUT/checkpoints/ckpt-0`
  (the kimg counter and Adam moments start afresh: the snapshot's optimiser state is not imported);
* `G_ema-reference-000000.npz` + `.json`: G_ema under reference names.

`--npz G_ema-reference-*.npz` (with its `.json` of Generator arguments) imports reference-named generator
weights instead: G and G_ema get them, D is freshly initialised (seeded).

OUT is written under a temporary name and renamed when complete; an existing OUT is refused.
"""

import dataclasses
import os
import sys
import time

import tensorflow as tf
from absl import app, flags

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
    """The resolved `TrainConfig` whose networks are the snapshot's; ValueError if flags cannot express them."""
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
    """Reference snapshot pickle -> run directory; returns the `train.Training` built."""
    snapshot = read_snapshot(pkl_path, progress=progress)
    for name in ("G", "D", "G_ema"):
        if snapshot[name].init_args:
            raise PickleFormatError(f"{pkl_path}: {name} has positional constructor arguments "
                                    f"{snapshot[name].init_args!r}; expected keywords only.")
    cfg = training_config(snapshot["G"].init_kwargs, snapshot["D"].init_kwargs,
                          snapshot.get("training_set_kwargs") or {}, out_dir)
    weights = {name: snapshot[name].state_dict for name in ("G", "D", "G_ema")}
    return write_run(out_dir, cfg, weights, pkl_path)


def import_npz(npz_path, out_dir, seed=0):
    """Reference-named generator weights (`.npz` + `.json`) -> run directory with a fresh D."""
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


FLAGS = flags.FLAGS


def main(argv):
    del argv
    if bool(FLAGS.pkl) == bool(FLAGS.npz):
        print("import_reference: give one of --pkl or --npz.", file=sys.stderr)
        sys.exit(2)
    start = time.perf_counter()

    def progress(done, total):
        print(f"\rreading {FLAGS.pkl}: {done / 2**20:.0f} / {total / 2**20:.0f} MiB", end="", file=sys.stderr)

    try:
        if FLAGS.pkl:
            training = import_snapshot(FLAGS.pkl, FLAGS.out, progress)
            print(file=sys.stderr)
        else:
            training = import_npz(FLAGS.npz, FLAGS.out)
    except (OSError, ValueError, NotImplementedError) as error:
        print(f"\nimport_reference: {error}", file=sys.stderr)
        sys.exit(2)
    print(f"{FLAGS.out}: imported G ({reference.num_parameters(training.G):,} parameters), D "
          f"({reference.num_parameters(training.D):,}), G_ema in {time.perf_counter() - start:.1f} s. Fine-tune with "
          f"--flagfile={run_dir.import_flags_path(FLAGS.out)}; generate / export with --checkpoint={FLAGS.out}.")


if __name__ == "__main__":
    flags.DEFINE_string("pkl", None, "Reference snapshot network-snapshot-*.pkl (read as data, nothing executed).")
    flags.DEFINE_string("npz", None, "Reference-named G_ema-reference-*.npz (with its .json).")
    flags.DEFINE_string("out", None, "Run directory to create.", required=True)
    app.run(main)
