"""Flags shared by the export programs (`python -m export.savedmodel|tflite|onnx`)."""

from absl import flags


def define_flags(out_help):
    """Defines --checkpoint, --out and --truncation_psi (only when an export module runs as a program)."""
    flags.DEFINE_string("checkpoint", None, "Training run directory, checkpoint prefix, or G_ema-reference-*.npz "
                        "(with its .json).", required=True)
    flags.DEFINE_string("out", None, out_help, required=True)
    flags.DEFINE_float("truncation_psi", 1.0, "Truncation of the exported mapping (1: none).")
