"""`svgan-export FORMAT FLAGS...` (or `python -m export FORMAT FLAGS...`) is `python -m export.FORMAT FLAGS...`.

FORMAT is savedmodel, tflite or onnx; `svgan-export FORMAT --help` lists that exporter's flags.
"""

import sys

from svgan_tf.programs import run_module

FORMATS = ("savedmodel", "tflite", "onnx")


def run():
    """Runs the exporter named by the first argument on the remaining arguments; a usage error exits with 2."""
    if len(sys.argv) < 2 or sys.argv[1] not in FORMATS:
        print(f"usage: svgan-export {{{'|'.join(FORMATS)}}} FLAGS...  (svgan-export FORMAT --help: its flags)",
              file=sys.stderr)
        sys.exit(2)
    run_module(f"export.{sys.argv.pop(1)}")


if __name__ == "__main__":
    run()
