"""LiteRT (TFLite) frame-at-time model (`python -m svgan_tf.export tflite --checkpoint RUN_DIR --out sky.tflite`).

One `.tflite` file with three signatures, batch 1, fixed shapes, TFLite builtin ops only (no Flex ops):

* `mapping`: z [1, z_dim] (+ c [1, c_dim]) -> w [1, w_dim] (truncation fixed at export);
* `frame_at_time`: w [1, w_dim] (+ c), window [1, W, motion_z_dim], t [1] -> frame [1, R, R, 3] float32;
* `metadata`: t [1] -> sizes and token arithmetic (see `svgan_tf.export.frame_model`), so the file is all a
  player needs (`svgan_tf.export.player`).

Quantization: `float32`; `float16` (weights stored in half precision, half the file); `int8`
(dynamic-range quantisation: int8 weights, activations quantised on the fly by the kernels; a quarter
of the file). The on-device loop and the token arithmetic are in README ("On device").

How the file is made, and why: the frame-at-time function is traced with the non-fused modulated
convolution (weights stay constants, so they quantise), its variables are folded into constants, and
the frozen function is converted through a SavedModel. Converting a module that tracks Keras 3 variables
directly gives a weightless file whose outputs are all NaN, without any error, so every export is run
through the parity harness (`svgan_tf.export.parity`) against the Keras model before it is written.
The motion path computes in float32 (LiteRT has no float64 kernels); the parity tolerances include the
resulting difference from the float64 Keras default.
"""

import tempfile

import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from svgan_tf import atomic
from svgan_tf.export import parity
from svgan_tf.export.frame_model import FrameModel
from svgan_tf.training.run_dir import rebuild

SIGNATURES = ("mapping", "frame_at_time", "metadata")
QUANTIZATIONS = ("float32", "float16", "int8")


def _frozen(function):
    """A tf.function with the inputs and outputs of the fixed-shape tf.function `function`, variables folded
    into constants."""
    concrete = function.get_concrete_function()
    frozen = convert_variables_to_constants_v2(concrete)
    specs = concrete.structured_input_signature[0]
    return tf.function(lambda *args: tf.nest.pack_sequence_as(concrete.structured_outputs, frozen(*args)),
                       input_signature=specs)


def convert(G, truncation_psi=1.0, quantization="float32"):
    """The LiteRT flatbuffer (bytes) of `G`'s mapping and frame-at-time functions (batch 1)."""
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {QUANTIZATIONS}, got {quantization!r}.")
    model = FrameModel(rebuild(G, motion_precision="float32", num_fp16_res=0), truncation_psi, batch_size=1)
    frozen = tf.Module()
    frozen.mapping = _frozen(model.mapping)
    frozen.frame_at_time = _frozen(model.frame_at_time)
    frozen.metadata = model.metadata
    with tempfile.TemporaryDirectory() as scratch:  # the converter's input, not an output: no atomic staging
        tf.saved_model.save(frozen, scratch, signatures={name: getattr(frozen, name) for name in SIGNATURES},
                            options=tf.saved_model.SaveOptions(experimental_custom_gradients=False))
        converter = tf.lite.TFLiteConverter.from_saved_model(scratch, signature_keys=list(SIGNATURES))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if quantization != "float32":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantization == "float16":
            converter.target_spec.supported_types = [tf.float16]
        return converter.convert()


class LiteRTRunner:
    """Runs the signatures of a `.tflite` file (path or bytes) with `ai_edge_litert`.

    Args:
        model: path of a .tflite file or its bytes.
        num_threads: interpreter threads.
    """

    def __init__(self, model, num_threads=2):
        from ai_edge_litert.interpreter import Interpreter
        source = {"model_content": model} if isinstance(model, bytes) else {"model_path": model}
        self.interpreter = Interpreter(**source, num_threads=num_threads)
        self.signatures = self.interpreter.get_signature_list()

    def __call__(self, signature, **inputs):
        return self.interpreter.get_signature_runner(signature)(**inputs)


def export_tflite(G, out_path, truncation_psi=1.0, quantization="float32"):
    """Converts, checks parity against `G`, then writes `out_path` atomically; returns the parity errors."""
    flatbuffer = convert(G, truncation_psi, quantization)
    errors = parity.check(G, LiteRTRunner(flatbuffer), truncation_psi, batch_size=1,
                          tolerance=parity.TOLERANCES[quantization], what=f"LiteRT {quantization}")
    atomic.write_bytes(out_path, flatbuffer)
    return errors
