"""SavedModel for TF Serving (`python -m svgan_tf.export savedmodel --checkpoint RUN_DIR --out models/sky --version 1`).

Writes the versioned TF Serving layout `OUT/<version>/` (saved_model.pb + variables/) with the signatures
of `svgan_tf.export.frame_model.FrameModel`: `serving_default` (z[, c], motion_z, t -> frames uint8), `frame_at_time`
(w[, c], window, t -> frame float32), `mapping` (z[, c] -> w) and `metadata` (t -> the sizes and
token arithmetic a client needs), and TF Serving's warm-up file `assets.extra/tf_serving_warmup_requests`
(one request per signature, run by the server while it loads the version). The version directory is written under a
temporary name and renamed when complete, so a crash never leaves a half-written version that a model
server would load.

Its client, for a model server that serves the export, is `svgan_tf.export.client`; in-process, an export is a
generator for the metrics, `svgan_tf.generation`'s renderers and the demo page (`SavedModelGenerator`). Loading
a SavedModel runs its graph, TensorFlow code: load only SavedModels you trust.
"""

import os

import numpy as np
import tensorflow as tf
from absl import logging

from svgan_tf import atomic, cli, tokens
from svgan_tf.export import parity
from svgan_tf.export.frame_model import FrameModel
from svgan_tf.networks.motion import window_start_in_graph

SIGNATURES = ("serving_default", "frame_at_time", "mapping", "metadata")


class SavedModelRunner:
    """Runs the signatures of a SavedModel directory (the parity harness's view of an artefact)."""

    def __init__(self, path):
        self.model = tf.saved_model.load(path)

    def __call__(self, signature, **inputs):
        outputs = self.model.signatures[signature](**{k: tf.constant(v) for k, v in inputs.items()})
        return {k: v.numpy() for k, v in outputs.items()}


class SavedModelGenerator:
    """An export (`python -m svgan_tf.export savedmodel`) seen as a generator, computing what TF Serving computes.

    Frames come from its `mapping` and `frame_at_time` signatures (float frames, so the reference's uint8
    quantisation applies exactly as to a checkpoint); sizes and token arithmetic from `metadata`. It has the
    parts of `Generator` that the metrics and `svgan_tf.generation.VideoRenderer` use: the sizes, `__call__`,
    `mapping` (one w for every layer: `num_ws` is 1; the truncation is the export's), `synthesize` and
    `token_window`.

    Args:
        path: the version directory (`MODEL/<version>`).
    """

    def __init__(self, path):
        if not os.path.isfile(os.path.join(path, "saved_model.pb")):
            raise FileNotFoundError(f"{path}: no saved_model.pb (give the version directory, e.g. models/sky/1).")
        model = tf.saved_model.load(path)
        missing = {"mapping", "frame_at_time", "metadata"} - set(model.signatures)
        if missing:
            raise ValueError(f"{path}: not an svgan-tf export (no {', '.join(sorted(missing))} signature).")
        self.path, self._model = path, model  # the signatures read the model's variables: keep it alive
        self._mapping, self._frame = model.signatures["mapping"], model.signatures["frame_at_time"]
        meta = {k: v.numpy()[0] for k, v in model.signatures["metadata"](t=tf.zeros([1])).items()}
        self.z_dim, self.c_dim, self.w_dim = int(meta["z_dim"]), int(meta["c_dim"]), int(meta["w_dim"])
        self.img_resolution, self.motion_z_dim = int(meta["img_resolution"]), int(meta["motion_z_dim"])
        self.motion_z_distance, self.window_length = int(meta["motion_z_distance"]), int(meta["window_length"])
        self.max_num_frames, self.truncation_psi = int(meta["max_num_frames"]), float(meta["truncation_psi"])
        self.num_ws = 1

    def _conditioning(self, c, repeats=1):
        return {"c": tf.repeat(tf.convert_to_tensor(c, tf.float32), repeats, axis=0)} if self.c_dim else {}

    def mapping(self, z, c=None, truncation_psi=1.0):
        """w [B, 1, w_dim] of content codes z [B, z_dim] (+ classes c), at the truncation fixed at export.

        Raises:
            cli.UserError: naming --truncation_psi, when it is not the export's.
        """
        if float(truncation_psi) != self.truncation_psi:
            raise cli.UserError(f"--truncation_psi: {self.path} was exported with truncation {self.truncation_psi:g}, "
                                f"fixed in the SavedModel; got {float(truncation_psi):g}.")
        return self._mapping(z=tf.convert_to_tensor(z, tf.float32), **self._conditioning(c))["w"][:, None]

    def token_window(self, t):
        """(start, length) of the motion tokens that frames at times `t` need (`svgan_tf.tokens.token_window`)."""
        return tokens.token_window(t, self.motion_z_distance, self.window_length)

    def synthesize(self, ws, t, window, c=None, token_offset=0):
        """Frames [B, F, R, R, 3] (float) as `Generator.synthesize`: ws [B, 1, w_dim], times t [B, F], and the
        motion tokens `window` [B, L, motion_z_dim] from token `token_offset` on; one `frame_at_time` call."""
        t = tf.convert_to_tensor(t, tf.float32)
        batch, num_frames = tf.shape(t)[0], tf.shape(t)[1]
        starts = window_start_in_graph(t, self.motion_z_distance) - token_offset
        windows = tf.gather(tf.convert_to_tensor(window, tf.float32),
                            starts[:, :, None] + tf.range(self.window_length), batch_dims=1)
        frames = self._frame(w=tf.repeat(tf.convert_to_tensor(ws, tf.float32)[:, 0], num_frames, axis=0),
                             window=tf.reshape(windows, [-1, self.window_length, self.motion_z_dim]),
                             t=tf.reshape(t, [-1]), **self._conditioning(c, num_frames))["frame"]
        return tf.reshape(frames, [batch, num_frames, self.img_resolution, self.img_resolution, 3])

    def num_motion_tokens(self, max_t):
        """Tokens the reference draws for frames up to time `max_t` (`svgan_tf.tokens.num_motion_tokens`)."""
        return tokens.num_motion_tokens(max_t, self.motion_z_distance, self.window_length, self.max_num_frames)

    def sample_motion_z(self, batch_size, num_tokens, seed):
        return tf.random.stateless_normal([batch_size, num_tokens, self.motion_z_dim], seed=seed, alg="philox")

    def __call__(self, z, t, motion_z, c=None, frames_per_batch=None):
        """Frames [B, F, R, R, 3] (float) for z [B, z_dim], times t [B, F] and whole token sequences, one frame
        index per call (memory of B frames)."""
        del frames_per_batch  # one frame per call already
        ws = self.mapping(z, c, self.truncation_psi)
        t = np.asarray(t, np.float32)
        return tf.concat([self.synthesize(ws, t[:, f:f + 1], motion_z, c) for f in range(t.shape[1])], axis=1)


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
