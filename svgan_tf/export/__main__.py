"""`svgan-export FORMAT FLAGS...` (or `python -m svgan_tf.export FORMAT ...`) is `python -m svgan_tf.export.FORMAT ...`.

FORMAT is savedmodel, tflite or onnx; `svgan-export FORMAT --help` lists that exporter's flags.
"""

import sys

from svgan_tf.cli import run_module

FORMATS = ("savedmodel", "tflite", "onnx")

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in FORMATS:
        print(f"usage: svgan-export {{{'|'.join(FORMATS)}}} FLAGS...  (svgan-export FORMAT --help: its flags)",
              file=sys.stderr)
        sys.exit(2)
    run_module(f"svgan_tf.export.{sys.argv.pop(1)}")
