"""python -m svgan_tf.profile --config=configs/sky.flags --resolution=256

Profiles a model's generator and discriminator (`svgan_tf.profiling`, which states how each figure is counted):
parameters (trainable weights, as the reference counts them), GFLOP per frame from TensorFlow's profiler
(total and per resolution) and activation memory per frame. The SkyTimelapse-256 generator is 30.7 GFLOP
per frame. The model comes from a training run (`--checkpoint`: its config.json; a `.npz` export gives the
generator only) or a training flagfile with the dataset resolution (`--config`, `--resolution`); only the
architecture matters, no weights are read. `--out` also writes the figures as JSON.
"""

import os
import sys

from absl import flags

from svgan_tf import atomic, cli

cli.define_checkpoint_flag("Training run directory (its config.json) or G_ema-reference-*.npz (+ .json: G only).",
                           required=False)
flags.DEFINE_string("config", None, "Training flagfile (configs/*.flags), instead of --checkpoint.")
flags.DEFINE_integer("resolution", None, "With --config: the dataset resolution.")
flags.DEFINE_integer("c_dim", 0, "With --config: the label width of a conditional dataset.")
cli.define_out_flag("Also write the profile as JSON to this file.", required=False)
cli.define_overwrite_flag()

FLAGS = flags.FLAGS


def _networks():
    """(G, D or None) of the flags; raises UserError naming the flag."""
    from svgan_tf import profiling
    from svgan_tf.networks.discriminator import Discriminator
    from svgan_tf.networks.generator import Generator
    from svgan_tf.training import run_dir

    if (FLAGS.checkpoint is None) == (FLAGS.config is None):
        raise cli.UserError("--checkpoint / --config: give exactly one of them.")
    if FLAGS.config is not None:
        if FLAGS.resolution is None:
            raise cli.UserError("--resolution: required with --config (a run takes it from its data).")
        try:
            cfg = profiling.config_from_flagfile(FLAGS.config, FLAGS.resolution, FLAGS.c_dim)
        except ValueError as error:
            raise cli.UserError(f"--config: {error}") from None
    elif run_dir.is_run(FLAGS.checkpoint):
        cfg = run_dir.read_config(FLAGS.checkpoint)
    else:
        return cli.load_generator(FLAGS.checkpoint), None
    return Generator(**cfg.generator_kwargs()), Discriminator(**cfg.discriminator_kwargs())


def _print(title, parameters, table):
    print(f"{title}: {parameters['total']:,} parameters")
    for part, count in parameters.items():
        if part != "total":
            print(f"  {part:<24} {count:>14,}")
    print(f"  {'per frame':<24} {'GFLOP':>14} {'activations MiB':>16}")
    for part, row in table.items():
        if row["gflop"] or row["activation_mib"]:
            print(f"  {part:<24} {row['gflop']:>14.4f} {row['activation_mib']:>16.2f}")


def main(argv):
    del argv
    from svgan_tf import profiling

    if FLAGS.out is not None and os.path.lexists(FLAGS.out) and not FLAGS.overwrite:
        raise cli.UserError(f"--out: {FLAGS.out} exists; pass --overwrite to replace it.")
    G, D = _networks()
    result = {"G": profiling.profile_generator(G)}
    _print("G", result["G"]["parameters"], result["G"]["per_frame"])
    if D is None:
        print("D: not in a .npz export (profile a run directory or --config for D).", file=sys.stderr)
    else:
        result["D"] = profiling.profile_discriminator(D)
        _print(f"D (a clip of {D.num_frames} frames / {D.num_frames})", result["D"]["parameters"],
               result["D"]["per_frame"])
    if FLAGS.out is not None:
        atomic.write_json(FLAGS.out, result, overwrite=FLAGS.overwrite)


if __name__ == "__main__":
    cli.run(main)
