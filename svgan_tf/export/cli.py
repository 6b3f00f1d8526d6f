"""What the export programs (`python -m svgan_tf.export.savedmodel|tflite|onnx`) share: flags and the run itself."""

import sys

from absl import flags

from svgan_tf.training.run_dir import load_generator

FLAGS = flags.FLAGS


def define_flags(out_help):
    """Defines --checkpoint, --out and --truncation_psi (only when an export module runs as a program)."""
    flags.DEFINE_string("checkpoint", None, "Training run directory, checkpoint prefix, or G_ema-reference-*.npz "
                        "(with its .json).", required=True)
    flags.DEFINE_string("out", None, out_help, required=True)
    flags.DEFINE_float("truncation_psi", 1.0, "Truncation of the exported mapping (1: none).")


def run(program, export):
    """Loads --checkpoint as a float32 generator and prints `export(G)` (a message); user errors exit with 2."""
    try:
        message = export(load_generator(FLAGS.checkpoint, num_fp16_res=0))
    except (OSError, ValueError) as error:
        print(f"{program}: {error}", file=sys.stderr)
        sys.exit(2)
    print(message)
