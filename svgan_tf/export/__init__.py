"""Export: the frame-at-time generator for TF Serving (SavedModel), LiteRT and ONNX, and what runs the exports.

* `frame_model`: the exported functions and their signatures; `parity`: the check every export passes;
* `savedmodel`, `tflite`, `onnx`: one library per format;
* `client`: renders videos from the SavedModel in TF Serving (the program is `svgan_tf.serve_client`);
* `player`: renders videos from the `.tflite` file with LiteRT alone (the program is `svgan_tf.play`).

The program `python -m svgan_tf.export FORMAT` (console script svgan-export) is this package's `__main__`.
"""
