"""Motion: equidistant motion-noise tokens -> motion mapping network -> acyclic positional encoding.

A video's motion is a sequence of i.i.d. Gaussian noise tokens placed every `motion_z_distance` (d)
frames. Two unpadded conv1d layers turn them into motion vectors u_j (token j sits at time j*d); the
acyclic positional encoding turns the two vectors around a time t into the motion code v(t) that the
synthesis network concatenates to its 4x4 constant input. Which tokens a frame needs (the window, its
start, the float32 rule) is `svgan_tf.tokens`; `window_start_in_graph` is its in-graph form.

Precision: the wave arguments reach hundreds of radians (t up to thousands of frames), so float32
rounding of the motion vectors (a few ulp) is amplified about 400 times in v(t). The motion path therefore
computes in float64 by default (variables stay float32): measured on the official_small fixture, the
reference's float32 motion codes are 1.0e-4 from a float64 evaluation and ours 1.5e-4 in float32, so
float64 halves our distance to the reference (1.9e-4 -> 1.0e-4). `precision="float32"` is for
targets without float64 (LiteRT).
"""

import keras
import numpy as np
import tensorflow as tf

from svgan_tf.networks.layers import Conv1dLayer, DenseLayer


def window_start_in_graph(t, motion_z_distance):
    """`svgan_tf.tokens.window_start` in the graph: floor(t / d) of times `t` taken as float32, as int32."""
    return tf.cast(tf.floor(tf.cast(t, tf.float32) / float(motion_z_distance)), tf.int32)


@keras.saving.register_keras_serializable(package="svgan_tf")
class AcyclicPositionalEncoding(keras.layers.Layer):
    """Motion code v(t) from the motion vectors around t (reference `AlignedTimeEncoder`).

    Periods are geometrically spaced from `min_period_len` to `max_period_len` frames (`freqs` holds the
    angular frequencies in ascending order). From the left token u_L: period multipliers
    s = tanh(W_p u_L) + 1 and phases phi = W_phi u_L (scaled by max_period / period). The wave
    e(tau) = [sin(raw), cos(raw)], raw = freqs * s * tau + phi, is "stitched" so it vanishes at both
    tokens: v(t) = e(t) - lerp(e(t_L), e(t_R), a) + lerp(W_a u_L, W_a u_R, a), a = (t - t_L) / d.

    Args:
        latent_dim: width of the motion vectors u.
        dim: number of frequencies (the motion code is 2 * dim wide).
        min_period_len: shortest base period in frames.
        max_period_len: longest base period in frames.
    """

    def __init__(self, latent_dim, dim, min_period_len, max_period_len, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.latent_dim = latent_dim
        self.dim = dim
        self.min_period_len = min_period_len
        self.max_period_len = max_period_len
        periods = 2.0 ** np.linspace(np.log2(min_period_len), np.log2(max_period_len), dim)
        # Buffers of the reference: constants of the architecture, kept as (non-trainable) variables so
        # that reference checkpoints can carry their exact float32 values.
        self.freqs = self.add_weight(name="freqs", shape=(dim,), trainable=False,
                                     initializer=keras.initializers.Constant((2 * np.pi / periods)[::-1]))
        self.phase_scales = self.add_weight(name="phase_scales", shape=(dim,), trainable=False,
                                            initializer=keras.initializers.Constant((max_period_len / periods)[::-1]))
        # No biases: the reference drops them "to prevent motion mode collapse".
        self.periods_predictor = DenseLayer(latent_dim, dim, bias=False, name="periods_predictor")
        self.phase_predictor = DenseLayer(latent_dim, dim, bias=False, name="phase_predictor")
        self.aligners_predictor = DenseLayer(latent_dim, 2 * dim, bias=False, name="aligners_predictor")
        self.built = True

    def call(self, t, t_left, t_right, alpha, u_left, u_right):
        """Per frame: times t, t_left, t_right and weights alpha [N]; vectors u [N, latent_dim] -> [N, 2 * dim].

        Computes in the dtype of `u_left` (all inputs must share it).
        """
        alpha = alpha[:, None]
        freqs = tf.cast(self.freqs, u_left.dtype)
        scale = tf.tanh(self.periods_predictor(u_left)) + 1.0
        phase = self.phase_predictor(u_left) * tf.cast(self.phase_scales, u_left.dtype)

        def wave(tau):
            raw = freqs * scale * tau[:, None] + phase
            return tf.concat([tf.sin(raw), tf.cos(raw)], axis=1)

        stitch = wave(t_left) * (1.0 - alpha) + wave(t_right) * alpha
        aligners = self.aligners_predictor(u_left) * (1.0 - alpha) + self.aligners_predictor(u_right) * alpha
        return wave(t) - stitch + aligners

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim, "dim": self.dim,
                "min_period_len": self.min_period_len, "max_period_len": self.max_period_len}


@keras.saving.register_keras_serializable(package="svgan_tf")
class MotionMappingNetwork(keras.layers.Layer):
    """Motion-noise tokens (+ class label) -> motion codes v(t) (reference `MotionMappingNetwork`).

    Args:
        motion_z_dim: width of the motion-noise tokens (also the hidden width of the first conv).
        motion_v_dim: width of the motion vectors u.
        c_dim: width of the class label concatenated to every token (0: motion is not conditioned).
        kernel_size: kernel size of both unpadded conv1d layers.
        motion_z_distance: token spacing d in frames.
        time_enc_dim: number of frequencies of the positional encoding.
        min_period_len: shortest base period.
        max_period_len: longest base period.
        precision: "float64" (default, closest to the reference) or "float32"; the output is float32.
    """

    def __init__(self, motion_z_dim, motion_v_dim, c_dim, kernel_size, motion_z_distance, time_enc_dim,
                 min_period_len, max_period_len, precision="float64", **kwargs):
        super().__init__(autocast=False, **kwargs)
        if precision not in ("float32", "float64"):
            raise ValueError(f"precision must be 'float32' or 'float64', got {precision!r}.")
        self.precision = precision
        self.motion_z_dim = motion_z_dim
        self.motion_v_dim = motion_v_dim
        self.c_dim = c_dim
        self.kernel_size = kernel_size
        self.motion_z_distance = motion_z_distance
        self.time_enc_dim = time_enc_dim
        self.min_period_len = min_period_len
        self.max_period_len = max_period_len
        self.conv0 = Conv1dLayer(motion_z_dim + c_dim, motion_z_dim, kernel_size, activation="lrelu",
                                 lr_multiplier=0.01, name="conv0")
        self.conv1 = Conv1dLayer(motion_z_dim, motion_v_dim, kernel_size, activation="lrelu",
                                 lr_multiplier=0.01, name="conv1")
        self.time_encoder = AcyclicPositionalEncoding(motion_v_dim, time_enc_dim, min_period_len, max_period_len,
                                                      name="acyclic_positional_encoding")
        self.built = True

    @property
    def output_dim(self):
        """Width of the motion code v(t)."""
        return 2 * self.time_enc_dim

    def trajectory(self, motion_z, c=None):
        """Motion vectors u: [B, L, motion_z_dim] (+ c [B, c_dim]) -> [B, L - 2 * (k - 1), motion_v_dim]."""
        motion_z = tf.cast(motion_z[:, :, :self.motion_z_dim], self.precision)
        if self.c_dim > 0:
            tokens = tf.shape(motion_z)[1]
            motion_z = tf.concat([motion_z, tf.tile(tf.cast(c, self.precision)[:, None, :], [1, tokens, 1])], axis=2)
        return self.conv1(self.conv0(motion_z))

    def call(self, motion_z, t, c=None, token_offset=0):
        """Motion codes for frames at times t.

        Args:
            motion_z: [B, L, motion_z_dim] motion-noise tokens; token i of this tensor is token
                `token_offset + i` of the video's sequence. It must contain the window of every
                requested time (see `svgan_tf.tokens.token_window`).
            t: [B, F] frame times (>= 0), taken as float32 like the reference.
            c: [B, c_dim] class labels (only when c_dim > 0).
            token_offset: index of the first token of `motion_z` in the video's sequence (scalar or [B]).

        Returns:
            [B, F, 2 * time_enc_dim] float32 motion codes.
        """
        t = tf.cast(t, tf.float32)
        # The token index by the float32 rule, as the reference; the rest of the encoding at `precision`.
        left = window_start_in_graph(t, self.motion_z_distance) - tf.cast(tf.reshape(token_offset, [-1, 1]), tf.int32)
        t = tf.cast(t, self.precision)
        d = float(self.motion_z_distance)
        u = self.trajectory(motion_z, c)
        batch, frames = tf.shape(t)[0], tf.shape(t)[1]
        tf.debugging.assert_non_negative(left, message="Frame time before the first motion token given "
                                                       "(negative t, or token_offset too large).")
        tf.debugging.assert_less(left + 1, tf.shape(u)[1], message="Too few motion tokens for the requested "
                                                                   "times: see svgan_tf.tokens.token_window.")
        u_left = tf.gather(u, left, batch_dims=1)
        u_right = tf.gather(u, left + 1, batch_dims=1)
        remainder = tf.math.floormod(t, d)
        t_left = t - remainder
        per_frame = lambda x: tf.reshape(x, [batch * frames, -1])  # noqa: E731
        v = self.time_encoder(tf.reshape(t, [-1]), tf.reshape(t_left, [-1]), tf.reshape(t_left + d, [-1]),
                              tf.reshape(remainder / d, [-1]), per_frame(u_left), per_frame(u_right))
        return tf.cast(tf.reshape(v, [batch, frames, self.output_dim]), tf.float32)

    def get_config(self):
        return {**super().get_config(), "motion_z_dim": self.motion_z_dim, "motion_v_dim": self.motion_v_dim,
                "c_dim": self.c_dim, "kernel_size": self.kernel_size, "motion_z_distance": self.motion_z_distance,
                "time_enc_dim": self.time_enc_dim, "min_period_len": self.min_period_len,
                "max_period_len": self.max_period_len, "precision": self.precision}
