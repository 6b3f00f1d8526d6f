"""ONNX frame-at-time model (`python -m svgan_tf.export onnx --checkpoint RUN_DIR --out models/sky_onnx`).

Writes a directory with one ONNX model per function of `svgan_tf.export.frame_model.FrameModel`, batch dynamic:

* `mapping.onnx`: z [B, z_dim] (+ c [B, c_dim]) -> w [B, w_dim] (truncation fixed at export);
* `frame_at_time.onnx`: w [B, w_dim] (+ c), window [B, W, motion_z_dim], t [B] -> frame [B, R, R, 3].

Both carry `svgan_tf.export.frame_model.FrameModel.constants` (sizes, token arithmetic) as metadata_props.
Converted with tf2onnx from the traced functions (non-fused modulated convolution, so the weights are
initialisers of the graph; the motion path in float32 because ONNX Runtime has no float64 convolution),
validated with `onnx.checker`, and run through the parity harness with
ONNX Runtime before the directory is put in place (written under a temporary name, then renamed).
"""

import os

import numpy as np

from svgan_tf import atomic
from svgan_tf.export import parity
from svgan_tf.export.frame_model import FrameModel
from svgan_tf.training.run_dir import rebuild

SIGNATURES = ("mapping", "frame_at_time")
OPSET = 17


def convert(G, truncation_psi=1.0):
    """{signature: onnx.ModelProto} for `G`'s mapping and frame-at-time functions."""
    import onnx
    import tf2onnx

    model = FrameModel(rebuild(G, motion_precision="float32", num_fp16_res=0), truncation_psi)
    protos = {}
    for name in SIGNATURES:
        function = getattr(model, name)
        proto, _ = tf2onnx.convert.from_function(function, input_signature=function.input_signature, opset=OPSET)
        onnx.helper.set_model_props(proto, {k: str(v) for k, v in model.constants.items()})
        onnx.checker.check_model(proto, full_check=True)
        protos[name] = proto
    return protos


class OnnxRunner:
    """Runs the models of an ONNX export directory (or the protos of `convert`) with ONNX Runtime.

    Args:
        models: export directory, or {signature: ModelProto}.
        num_threads: intra-op threads.
    """

    def __init__(self, models, num_threads=2):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = num_threads
        options.inter_op_num_threads = 1
        self.sessions = {}
        for name in SIGNATURES:
            model = (os.path.join(models, f"{name}.onnx") if isinstance(models, str)
                     else models[name].SerializeToString())
            self.sessions[name] = onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])

    def __call__(self, signature, **inputs):
        session = self.sessions[signature]
        names = [o.name for o in session.get_outputs()]
        feed = {i.name: np.asarray(inputs[i.name.split(":")[0]], np.float32) for i in session.get_inputs()}
        return {name.split(":")[0]: value for name, value in zip(names, session.run(names, feed))}


def export_onnx(G, out_dir, truncation_psi=1.0):
    """Converts, checks parity against `G`, writes `out_dir/{mapping,frame_at_time}.onnx`; returns the errors.

    An existing `out_dir` is an error (an export is never overwritten in place).
    """
    if os.path.exists(out_dir):
        raise FileExistsError(f"{out_dir} exists: remove it or choose another --out.")
    protos = convert(G, truncation_psi)
    errors = parity.check(G, OnnxRunner(protos), truncation_psi, tolerance=parity.TOLERANCES["float32"],
                          what="ONNX")
    with atomic.staged_path(out_dir, directory=True, overwrite=False) as staging:
        for name, proto in protos.items():
            with open(os.path.join(staging, f"{name}.onnx"), "wb") as f:
                f.write(proto.SerializeToString())
    return errors
