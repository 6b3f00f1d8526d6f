"""SavedModel for TF Serving (`python -m svgan_tf.export savedmodel --checkpoint RUN_DIR --out models/sky --version 1`).

Writes the versioned TF Serving layout `OUT/<version>/` (saved_model.pb + variables/) with the signatures
of `svgan_tf.export.frame_model.FrameModel`: `serving_default` (z[, c], motion_z, t -> frames uint8), `frame_at_time`
(w[, c], window, t -> frame float32), `mapping` (z[, c] -> w) and `metadata` (t -> the sizes and
token arithmetic a client needs), and TF Serving's warm-up file `assets.extra/tf_serving_warmup_requests`
(one request per signature, run by the server while it loads the version). The version directory is written under a
temporary name and renamed when complete, so a crash never leaves a half-written version that a model
server would load.

Its client, for a model server that serves the export, is `svgan_tf.export.client`.
"""

import os

import numpy as np
import tensorflow as tf
from absl import logging

from svgan_tf import atomic
from svgan_tf.export import parity
from svgan_tf.export.frame_model import FrameModel

SIGNATURES = ("serving_default", "frame_at_time", "mapping", "metadata")


class SavedModelRunner:
    """Runs the signatures of a SavedModel directory (the parity harness's view of an artefact)."""

    def __init__(self, path):
        self.model = tf.saved_model.load(path)

    def __call__(self, signature, **inputs):
        outputs = self.model.signatures[signature](**{k: tf.constant(v) for k, v in inputs.items()})
        return {k: v.numpy() for k, v in outputs.items()}


WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")


def warmup_requests(model):
    """One small PredictRequest per signature of `model` (a FrameModel), batch 1, zeros."""
    from tensorflow_serving.apis import predict_pb2

    G = model.G
    zeros = lambda *shape: tf.make_tensor_proto(np.zeros(shape, np.float32))  # noqa: E731
    c = {"c": zeros(1, G.c_dim)} if G.c_dim else {}
    inputs = {
        "serving_default": dict(z=zeros(1, G.z_dim), motion_z=zeros(1, G.window_length, G.motion_z_dim),
                                t=zeros(1, 1), **c),
        "frame_at_time": dict(w=zeros(1, G.w_dim), window=zeros(1, G.window_length, G.motion_z_dim),
                              t=zeros(1), **c),
        "mapping": dict(z=zeros(1, G.z_dim), **c),
        "metadata": dict(t=zeros(1)),
    }
    requests = []
    for signature in SIGNATURES:
        request = predict_pb2.PredictRequest(inputs=inputs[signature])
        request.model_spec.signature_name = signature
        requests.append(request)
    return requests


def _write_warmup(model, directory):
    """TF Serving's warm-up file: it runs these requests while loading a version, so the first user
    request is not slowed by initialisation and a version that cannot predict never becomes AVAILABLE."""
    from tensorflow_serving.apis import prediction_log_pb2

    os.makedirs(os.path.join(directory, "assets.extra"))
    with tf.io.TFRecordWriter(os.path.join(directory, WARMUP_FILE)) as writer:
        for request in warmup_requests(model):
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())


def export_savedmodel(G, out_dir, version=1, truncation_psi=1.0):
    """Writes `out_dir/<version>/` atomically, after checking its parity with `G`; returns its path.

    An existing version is an error (TF Serving versions are immutable).
    """
    target = os.path.join(out_dir, str(int(version)))
    if os.path.exists(target):
        raise FileExistsError(f"{target} exists: choose another --version (TF Serving versions are immutable).")
    model = FrameModel(G, truncation_psi)
    with atomic.staged_path(target, overwrite=False) as staging:
        tf.saved_model.save(model, staging, signatures={
            "serving_default": model.generate, "frame_at_time": model.frame_at_time, "mapping": model.mapping,
            "metadata": model.metadata})
        _write_warmup(model, staging)
        errors = parity.check(G, SavedModelRunner(staging), truncation_psi, what="SavedModel")
        logging.info("SavedModel parity with the Keras model: %s", errors)
    return target
