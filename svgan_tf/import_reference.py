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

import sys
import time

from absl import flags

from svgan_tf import cli
from svgan_tf.interop import importer, reference
from svgan_tf.training import run_dir

flags.DEFINE_string("pkl", None, "Reference snapshot network-snapshot-*.pkl (read as data, nothing executed).")
flags.DEFINE_string("npz", None, "Reference-named G_ema-reference-*.npz (with its .json).")
cli.define_out_flag("Run directory to create.")

FLAGS = flags.FLAGS


def main(argv):
    del argv  # cli.run has rejected positional arguments
    if bool(FLAGS.pkl) == bool(FLAGS.npz):
        raise cli.UserError("give one of --pkl or --npz.")
    start = time.perf_counter()

    def progress(done, total):
        print(f"\rreading {FLAGS.pkl}: {done / 2**20:.0f} / {total / 2**20:.0f} MiB", end="", file=sys.stderr)

    try:
        if FLAGS.pkl:
            training = importer.import_snapshot(FLAGS.pkl, FLAGS.out, progress)
        else:
            training = importer.import_npz(FLAGS.npz, FLAGS.out)
    except NotImplementedError as error:  # a reference option this port lacks: the user's file, not a bug
        raise cli.UserError(str(error)) from None
    finally:
        if FLAGS.pkl:
            print(file=sys.stderr)  # ends the progress line, before a message or an error
    print(f"{FLAGS.out}: imported G ({reference.num_parameters(training.G):,} parameters), D "
          f"({reference.num_parameters(training.D):,}), G_ema in {time.perf_counter() - start:.1f} s. Fine-tune with "
          f"--flagfile={run_dir.import_flags_path(FLAGS.out)}; generate / export with --checkpoint={FLAGS.out}.")


if __name__ == "__main__":
    cli.run(main)
