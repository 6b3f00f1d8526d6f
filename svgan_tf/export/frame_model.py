"""The exportable frame-at-time generator: one module whose functions take explicit tensors only.

Every exporter (SavedModel for TF Serving, LiteRT, ONNX) is built from `FrameModel`, so that all formats
compute the same thing. Its functions:

* `mapping(z[, c]) -> w [B, w_dim]`: content code, truncation applied (`truncation_psi` fixed at export).
* `frame_at_time(w[, c], window, t) -> frame [B, R, R, 3]` float32 (about [-1, 1]): the on-device unit.
  `window` [B, W, motion_z_dim] holds the W = `window_length` motion tokens starting at token
  floor(t / motion_z_distance) of the video's token sequence, `t` [B] the frame times (frame units).
* `generate(z[, c], motion_z, t) -> frames uint8 [B, F, R, R, 3]`: whole videos from the whole token
  sequence (`motion_z` [B, L, motion_z_dim], `t` [B, F]), the seed-free serving signature.
* `metadata(t) -> {name: [B]}`: the sizes a client needs (`constants`, each repeated per element of t), so
  that an exported file is self-describing, and `num_tokens`: the L = floor(t / motion_z_distance) +
  window_length tokens that frames up to time t need (`svgan_tf.tokens.prefix_length`). `motion_z_distance`,
  `window_length` and `max_num_frames` are all the token arithmetic of `svgan_tf.tokens` takes (the
  reference's draw, `num_motion_tokens`, included). It takes t because TF Serving's REST API refuses
  signatures without inputs.

The batch (and F, L) are polymorphic unless `batch_size` fixes it (LiteRT needs fixed shapes). The
modulated convolutions are the non-fused form so the weights stay constants of the graph.
"""

import tensorflow as tf

from svgan_tf.networks.motion import window_start_in_graph
from svgan_tf.training.summaries import to_uint8


class FrameModel(tf.Module):
    """Frame-at-time functions of a `Generator` with explicit tensor inputs.

    Args:
        G: a `svgan_tf.networks.generator.Generator` (its variables are tracked and exported).
        truncation_psi: truncation applied by `mapping` and `generate`.
        batch_size: fixed batch size of every signature (None: any).
    """

    def __init__(self, G, truncation_psi=1.0, batch_size=None):
        super().__init__(name="frame_model")
        # Not tracked: a SavedModel would store the Keras 3 variable wrappers as a second copy of every
        # weight, and the signatures read the tf.Variables under them (tracked below).
        object.__setattr__(self, "G", G)
        self.truncation_psi = float(truncation_psi)
        self.constants = dict(
            z_dim=G.z_dim, c_dim=G.c_dim, w_dim=G.w_dim, motion_z_dim=G.motion_z_dim,
            motion_z_distance=G.motion_z_distance, window_length=G.window_length,
            max_num_frames=G.max_num_frames, img_resolution=G.img_resolution, truncation_psi=self.truncation_psi)
        b = batch_size
        z = tf.TensorSpec([b, G.z_dim], tf.float32, name="z")
        w = tf.TensorSpec([b, G.w_dim], tf.float32, name="w")
        c = [tf.TensorSpec([b, G.c_dim], tf.float32, name="c")] if G.c_dim else []
        tokens = lambda length, name: tf.TensorSpec([b, length, G.motion_z_dim], tf.float32, name=name)  # noqa: E731
        self.mapping = tf.function(self._mapping, input_signature=[z, *c])
        self.frame_at_time = tf.function(
            self._frame_at_time,
            input_signature=[w, *c, tokens(G.window_length, "window"), tf.TensorSpec([b], tf.float32, "t")])
        self.generate = tf.function(
            self._generate,
            input_signature=[z, *c, tokens(None, "motion_z"), tf.TensorSpec([b, None], tf.float32, "t")])
        self.metadata = tf.function(self._metadata, input_signature=[tf.TensorSpec([b], tf.float32, "t")])
        # The tf.Variables under the Keras 3 variables: a SavedModel restores only tracked ones, and TF
        # Serving's session loader fails ("Could not find variable ...") on the functions otherwise.
        self.tf_variables = [v.value for v in G.variables]

    def _split(self, args):
        """(c or None, rest) from positional arguments that start with c when the model is conditional."""
        return (args[0], args[1:]) if self.G.c_dim else (None, args)

    def _mapping(self, z, *args):
        c, _ = self._split(args)
        return {"w": self.G.mapping(z, c, truncation_psi=self.truncation_psi)[:, 0]}

    def _frame_at_time(self, w, *args):
        c, (window, t) = self._split(args)
        ws = tf.tile(w[:, None, :], [1, self.G.num_ws, 1])
        offset = window_start_in_graph(t, self.G.motion_z_distance)
        frames = self.G.synthesize(ws, t[:, None], window, c=c, token_offset=offset)
        return {"frame": frames[:, 0]}

    def _generate(self, z, *args):
        c, (motion_z, t) = self._split(args)
        ws = self.G.mapping(z, c, truncation_psi=self.truncation_psi)
        return {"frames": to_uint8(self.G.synthesize(ws, t, motion_z, c=c))}

    def _metadata(self, t):
        outputs = {k: tf.fill(tf.shape(t), tf.constant(v, tf.float32 if isinstance(v, float) else tf.int32))
                   for k, v in self.constants.items()}
        outputs["num_tokens"] = window_start_in_graph(t, self.G.motion_z_distance) + self.G.window_length
        return outputs
