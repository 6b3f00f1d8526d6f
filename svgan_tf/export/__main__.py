"""Exports a generator for serving and devices: `svgan-export FORMAT ...` is `python -m svgan_tf.export FORMAT ...`.

    python -m svgan_tf.export savedmodel --checkpoint runs/sky --out models/sky --version 1
    python -m svgan_tf.export tflite --checkpoint runs/sky --out sky.tflite --quantization float16
    python -m svgan_tf.export onnx --checkpoint runs/sky --out models/sky_onnx

FORMAT, the first argument, is one of
* savedmodel: TF Serving's versioned layout OUT/<version>/ (svgan_tf.export.savedmodel), for --version;
* tflite: one LiteRT file for devices (svgan_tf.export.tflite), in the precision of --quantization;
* onnx: a directory of ONNX models (svgan_tf.export.onnx).
--version, --precision and --quantization are refused for the formats that do not take them.

--checkpoint accepts a training run directory (its config.json and newest checkpoint; G_ema is exported), a
checkpoint prefix inside such a run, or a reference-format G_ema-reference-*.npz (with its .json). The generator
is exported in float32 (a SavedModel in bfloat16 with --precision=bfloat16); every export is checked against it
(svgan_tf.export.parity) before it is written.
"""

import functools
import os
import sys

from absl import flags

from svgan_tf import cli
from svgan_tf.export import onnx as onnx_export
from svgan_tf.export import savedmodel, tflite

cli.define_checkpoint_flag()
cli.define_out_flag("Where to write: the model directory, whose subdirectories are the versions (savedmodel); the "
                    ".tflite file (tflite); the directory of mapping.onnx and frame_at_time.onnx (onnx).")
cli.define_truncation_flag("Truncation of the exported mapping (1: none).")
cli.define_precision_flag()
flags.DEFINE_integer("version", 1, "TF Serving model version (savedmodel only).")
flags.DEFINE_enum("quantization", "float32", tflite.QUANTIZATIONS, "Weight precision of the file (tflite only).")

FLAGS = flags.FLAGS

# The flags that only one format takes: flag -> that format.
FORMAT_FLAGS = {"version": "savedmodel", "precision": "savedmodel", "quantization": "tflite"}


def _savedmodel(G):
    path = savedmodel.export_savedmodel(G, FLAGS.out, FLAGS.version, FLAGS.truncation_psi)
    return f"SavedModel written: {path} (signatures: {', '.join(savedmodel.SIGNATURES)}; parity checked)"


def _tflite(G):
    errors = tflite.export_tflite(G, FLAGS.out, FLAGS.truncation_psi, FLAGS.quantization)
    return (f"LiteRT model written: {FLAGS.out} ({os.path.getsize(FLAGS.out) / 2**20:.1f} MiB, "
            f"{FLAGS.quantization}; signatures {', '.join(tflite.SIGNATURES)}); parity: {errors}")


def _onnx(G):
    errors = onnx_export.export_onnx(G, FLAGS.out, FLAGS.truncation_psi)
    return (f"ONNX models written: {FLAGS.out}/{{{','.join(onnx_export.SIGNATURES)}}}.onnx "
            f"(opset {onnx_export.OPSET}); parity: {errors}")


# FORMAT -> the export: the loaded generator -> the line that reports it.
EXPORTS = {"savedmodel": _savedmodel, "tflite": _tflite, "onnx": _onnx}


def pop_format(argv):
    """Removes FORMAT, the first argument, from `argv` (before absl parses the flags) and returns it.

    Anything else there is a usage error: one line on stderr, exit status 2; but a help request needs no format
    (None: absl prints the help, whose text lists the formats, and exits).
    """
    if len(argv) < 2 or argv[1] not in EXPORTS:
        if cli.asks_for_help(argv):
            return None
        cli.fail(f"usage: svgan-export {{{'|'.join(EXPORTS)}}} --checkpoint=RUN --out=PATH [FLAGS...] "
                 f"(svgan-export --help lists the flags); got {repr(argv[1]) if len(argv) > 1 else 'none'}.")
    return argv.pop(1)


def main(argv, export_format):
    del argv  # cli.run refuses arguments that are not flags
    for flag, owner in FORMAT_FLAGS.items():
        if FLAGS[flag].present and export_format != owner:
            raise cli.UserError(f"--{flag}: only {owner} exports take it, not {export_format}.")
    print(EXPORTS[export_format](cli.load_generator(FLAGS.checkpoint, precision=FLAGS.precision)))


if __name__ == "__main__":
    cli.run(functools.partial(main, export_format=pop_format(sys.argv)))
