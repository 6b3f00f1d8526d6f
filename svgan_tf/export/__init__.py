"""The frame-at-time generator for TF Serving (SavedModel), LiteRT and ONNX."""
