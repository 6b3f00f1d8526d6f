"""The exportable frame-at-time generator: one module whose functions take explicit tensors only.

Every exporter (SavedModel for TF Serving, LiteRT, ONNX) is built from `FrameModel`, so that all formats
compute the same thing. Its functions:

* `mapping(z[, c]) -> w [B, w_dim]`: content code, truncation applied (`truncation_psi` fixed at export).
* `frame_at_time(w[, c], window, t) -> frame [B, R, R, 3]` float32 (about [-1, 1]): the on-device unit.
  `window` [B, W, motion_z_dim] holds the W = `window_length` motion tokens starting at token
  floor(t / motion_z_distance) of the video's token sequence, `t` [B] the frame times (frame units).
* `generate(z[, c], motion_z, t) -> frames uint8 [B, F, R, R, 3]`: whole videos from the whole token
  sequence (`motion_z` [B, L, motion_z_dim], `t` [B, F]), the seed-free serving signature.

The batch (and F, L) are polymorphic. The modulated convolutions are the non-fused form so the weights
stay constants of the graph.
"""

import numpy as np
import tensorflow as tf

from svgan_tf.motion import window_length
from svgan_tf.summaries import to_uint8


class FrameModel(tf.Module):
    """Frame-at-time functions of a `Generator` with explicit tensor inputs.

    Args:
        G: a `svgan_tf.generator.Generator` (its variables are tracked and exported).
        truncation_psi: truncation applied by `mapping` and `generate`.
    """

    def __init__(self, G, truncation_psi=1.0):
        super().__init__(name="frame_model")
        self.G = G
        self.truncation_psi = float(truncation_psi)
        self.window_length = window_length(G.motion_mapping.kernel_size)
        self.motion_z_distance = G.motion_mapping.motion_z_distance
        z = tf.TensorSpec([None, G.z_dim], tf.float32, name="z")
        w = tf.TensorSpec([None, G.w_dim], tf.float32, name="w")
        c = [tf.TensorSpec([None, G.c_dim], tf.float32, name="c")] if G.c_dim else []
        tokens = lambda length, name: tf.TensorSpec([None, length, G.motion_z_dim], tf.float32, name=name)  # noqa: E731
        self.mapping = tf.function(self._mapping, input_signature=[z, *c])
        self.frame_at_time = tf.function(
            self._frame_at_time,
            input_signature=[w, *c, tokens(self.window_length, "window"), tf.TensorSpec([None], tf.float32, "t")])
        self.generate = tf.function(
            self._generate, input_signature=[z, *c, tokens(None, "motion_z"), tf.TensorSpec([None, None], tf.float32, "t")])

    def _split(self, args):
        """(c or None, rest) from positional arguments that start with c when the model is conditional."""
        return (args[0], args[1:]) if self.G.c_dim else (None, args)

    def _mapping(self, z, *args):
        c, _ = self._split(args)
        return {"w": self.G.mapping(z, c, truncation_psi=self.truncation_psi)[:, 0]}

    def _frame_at_time(self, w, *args):
        c, (window, t) = self._split(args)
        ws = tf.tile(w[:, None, :], [1, self.G.num_ws, 1])
        offset = tf.cast(tf.floor(t / float(self.motion_z_distance)), tf.int32)
        frames = self.G.synthesize(ws, t[:, None], window, c=c, token_offset=offset)
        return {"frame": frames[:, 0]}

    def _generate(self, z, *args):
        c, (motion_z, t) = self._split(args)
        ws = self.G.mapping(z, c, truncation_psi=self.truncation_psi)
        return {"frames": to_uint8(self.G.synthesize(ws, t, motion_z, c=c))}

    def window_start(self, t):
        """Index of the first token of the window for times `t` (NumPy, float32 as the model)."""
        return np.floor(np.asarray(t, np.float32) / np.float32(self.motion_z_distance)).astype(np.int64)
