"""StyleGAN-V generator: content mapping, motion mapping, synthesis; frame-at-time API.

Stacked bottom-up: `SynthesisLayer` / `ToRGBLayer` -> `SynthesisBlock` -> `SynthesisNetwork`;
`MappingNetwork` (z, c -> w); `MotionMappingNetwork` (motion tokens, t -> v(t), in `motion.py`);
`Generator` ties them together. Frames are NHWC; videos are [B, F, H, W, C].

How many motion tokens a frame needs is `svgan_tf.tokens`; `Generator.token_window`,
`Generator.num_motion_tokens` and the sizes `motion_z_distance`, `motion_kernel_size`, `window_length`
apply it to a generator.
"""

import math

import keras
import numpy as np
import tensorflow as tf

from svgan_tf import tokens
from svgan_tf.networks.layers import DenseLayer, bias_act, lerp, modulated_conv2d, normalize_2nd_moment, upsample2d
from svgan_tf.networks.motion import MotionMappingNetwork


def channels_per_resolution(resolutions, channel_base, channel_max):
    """Feature maps per resolution: min(channel_base // res, channel_max) (reference rule)."""
    return {res: min(channel_base // res, channel_max) for res in resolutions}


def fp16_resolution(img_resolution, num_fp16_res):
    """Lowest resolution that runs in reduced precision when the top `num_fp16_res` resolutions do."""
    return max(2 ** (int(math.log2(img_resolution)) + 1 - num_fp16_res), 8)


def resolution_policy(resolution, img_resolution, num_fp16_res, mixed_precision):
    """Keras dtype policy of a block: `mixed_precision` for the top `num_fp16_res` resolutions, else float32."""
    if num_fp16_res > 0 and mixed_precision and resolution >= fp16_resolution(img_resolution, num_fp16_res):
        return mixed_precision
    return "float32"


# Inference precisions of `inference_overrides` (the `--precision` of generate, export and evaluate).
INFERENCE_PRECISIONS = ("float32", "bfloat16", "float16")


def inference_overrides(precision, img_resolution):
    """Generator arguments that run inference at `precision` (for `rebuild` or `load_generator`).

    "bfloat16" runs every synthesis block above 4x4 under "mixed_bfloat16": convolutions and activations in
    bfloat16 (oneDNN's AVX512-BF16 / AMX kernels on CPU), while styles, demodulation coefficients and the
    running RGB image stay float32, as do the mapping and motion networks. The 4x4 block stays float32 as
    under every mixed policy (`fp16_resolution`); it costs well under 1% of a frame. "float16" (for GPUs: CPUs
    have no fast float16 convolutions) is the reference's own setting, the top 4 resolutions under
    "mixed_float16" with its clamp and pre-normalisation.

    Args:
        precision: one of `INFERENCE_PRECISIONS`.
        img_resolution: the generator's output resolution.

    Raises:
        ValueError: naming --precision and the known precisions.
    """
    if precision == "float32":
        return {"num_fp16_res": 0}
    if precision == "bfloat16":
        return {"num_fp16_res": int(math.log2(img_resolution)) - 1, "mixed_precision": "mixed_bfloat16"}
    if precision == "float16":
        return {"num_fp16_res": 4, "mixed_precision": "mixed_float16"}
    raise ValueError(f"--precision: unknown precision {precision!r} (known: {', '.join(INFERENCE_PRECISIONS)}).")


def check_resolution(img_resolution):
    if img_resolution < 4 or img_resolution & (img_resolution - 1):
        raise ValueError(f"img_resolution must be a power of two >= 4, got {img_resolution}.")


@keras.saving.register_keras_serializable(package="svgan_tf")
class MappingNetwork(keras.Model):
    """z (and class label c) -> w, optionally broadcast to `num_ws` copies (reference `MappingNetwork`).

    Also serves as the discriminator's conditioning network (z_dim=0, no w_avg, no broadcast).

    Args:
        z_dim: latent width (0: none).
        c_dim: conditioning width (0: none); c is embedded to `w_dim` by a linear layer (lr multiplier 1).
        w_dim: output width (also the hidden width).
        num_ws: number of copies of w to output ([B, num_ws, w_dim]); None outputs [B, w_dim].
        num_layers: fully connected lrelu layers.
        lr_multiplier: learning-rate multiplier of those layers (0.01).
        w_avg_beta: decay of the tracked average of w (updated when training=True); None: no tracking,
            no truncation.
        embed_features: width of the embedded label (None: w_dim; 0 when c_dim is 0).
        layer_features: width of the hidden layers (None: w_dim).
    """

    def __init__(self, z_dim, c_dim, w_dim, num_ws=None, num_layers=2, lr_multiplier=0.01, w_avg_beta=0.995,
                 embed_features=None, layer_features=None, **kwargs):
        super().__init__(autocast=False, **kwargs)
        if z_dim + c_dim == 0:
            raise ValueError("MappingNetwork needs z_dim > 0 or c_dim > 0.")
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, w_dim
        self.num_ws, self.num_layers = num_ws, num_layers
        self.lr_multiplier, self.w_avg_beta = lr_multiplier, w_avg_beta
        self.embed_features = (w_dim if embed_features is None else embed_features) if c_dim > 0 else 0
        self.layer_features = w_dim if layer_features is None else layer_features
        self.embed = DenseLayer(c_dim, self.embed_features, name="embed") if c_dim > 0 else None
        features = [z_dim + self.embed_features] + [self.layer_features] * (num_layers - 1) + [w_dim]
        # Sub-layers are attributes, not list items: tf.train.Checkpoint does not track Keras 3 lists.
        for i in range(num_layers):
            setattr(self, f"fc{i}", DenseLayer(features[i], features[i + 1], activation="lrelu",
                                               lr_multiplier=lr_multiplier, name=f"fc{i}"))
        self.w_avg = None
        if w_avg_beta is not None:
            self.w_avg = self.add_weight(name="w_avg", shape=(w_dim,), initializer="zeros", trainable=False,
                                         aggregation="mean")
        self.built = True

    @property
    def fcs(self):
        return [getattr(self, f"fc{i}") for i in range(self.num_layers)]

    def call(self, z=None, c=None, truncation_psi=1.0, truncation_cutoff=None, training=False):
        parts = []
        if self.z_dim > 0:
            parts.append(normalize_2nd_moment(tf.cast(z, tf.float32)))
        if self.c_dim > 0:
            parts.append(normalize_2nd_moment(self.embed(tf.cast(c, tf.float32))))
        x = tf.concat(parts, axis=1) if len(parts) > 1 else parts[0]
        for fc in self.fcs:
            x = fc(x)
        if training and self.w_avg is not None:
            batch_mean = tf.reduce_mean(tf.stop_gradient(x), axis=0)
            self.w_avg.assign(lerp(batch_mean, self.w_avg, self.w_avg_beta))  # torch.lerp, as the reference
        if self.num_ws is None:
            return x
        x = tf.tile(x[:, None, :], [1, self.num_ws, 1])
        if not (isinstance(truncation_psi, (int, float)) and truncation_psi == 1):
            if self.w_avg is None:
                raise ValueError("Truncation needs the tracked w_avg (w_avg_beta is None).")
            truncated = self.w_avg + (x - self.w_avg) * tf.cast(truncation_psi, x.dtype)
            if truncation_cutoff is None:
                x = truncated
            else:
                x = tf.concat([truncated[:, :truncation_cutoff], x[:, truncation_cutoff:]], axis=1)
        return x

    def get_config(self):
        return {**super().get_config(), "z_dim": self.z_dim, "c_dim": self.c_dim, "w_dim": self.w_dim,
                "num_ws": self.num_ws, "num_layers": self.num_layers, "lr_multiplier": self.lr_multiplier,
                "w_avg_beta": self.w_avg_beta, "embed_features": self.embed_features,
                "layer_features": self.layer_features}


@keras.saving.register_keras_serializable(package="svgan_tf")
class SynthesisLayer(keras.layers.Layer):
    """Modulated, demodulated 3x3 convolution (optionally 2x upsampling) + bias + lrelu + clamp.

    The style affine stays float32 under a mixed-precision policy (as the reference, whose styles come
    from float32 w); only the convolution runs in the layer's compute dtype.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        w_dim: width of w.
        kernel_size: convolution size.
        up: 1 or 2.
        conv_clamp: output clamp (None: off).
    """

    def __init__(self, in_channels, out_channels, w_dim, kernel_size=3, up=1, conv_clamp=None, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.in_channels, self.out_channels, self.w_dim = in_channels, out_channels, w_dim
        self.kernel_size, self.up, self.conv_clamp = kernel_size, up, conv_clamp
        self.affine = DenseLayer(w_dim, in_channels, bias_init=1.0, name="affine", dtype="float32")
        self.weight = self.add_weight(name="weight", shape=(kernel_size, kernel_size, in_channels, out_channels),
                                      initializer=keras.initializers.RandomNormal(stddev=1.0))
        self.bias = self.add_weight(name="bias", shape=(out_channels,), initializer="zeros")
        self.built = True

    def call(self, x, w, fused_modconv=False):
        styles = self.affine(w)
        x = modulated_conv2d(tf.cast(x, self.compute_dtype), tf.convert_to_tensor(self.weight), styles,
                             up=self.up, fused=fused_modconv)
        return bias_act(x, self.bias, "lrelu", clamp=self.conv_clamp)

    def get_config(self):
        return {**super().get_config(), "in_channels": self.in_channels, "out_channels": self.out_channels,
                "w_dim": self.w_dim, "kernel_size": self.kernel_size, "up": self.up, "conv_clamp": self.conv_clamp}


@keras.saving.register_keras_serializable(package="svgan_tf")
class ToRGBLayer(keras.layers.Layer):
    """Modulated 1x1 convolution without demodulation to RGB; output float32 (reference `ToRGBLayer`).

    Args:
        in_channels: input channels.
        out_channels: image channels.
        w_dim: width of w.
        conv_clamp: output clamp (None: off).
    """

    def __init__(self, in_channels, out_channels, w_dim, conv_clamp=None, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.in_channels, self.out_channels, self.w_dim, self.conv_clamp = in_channels, out_channels, w_dim, conv_clamp
        self.affine = DenseLayer(w_dim, in_channels, bias_init=1.0, name="affine", dtype="float32")
        self.weight = self.add_weight(name="weight", shape=(1, 1, in_channels, out_channels),
                                      initializer=keras.initializers.RandomNormal(stddev=1.0))
        self.bias = self.add_weight(name="bias", shape=(out_channels,), initializer="zeros")
        self.weight_gain = 1.0 / math.sqrt(in_channels)
        self.built = True

    def call(self, x, w, fused_modconv=False):
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(tf.cast(x, self.compute_dtype), tf.convert_to_tensor(self.weight), styles,
                             demodulate=False, fused=fused_modconv)
        return tf.cast(bias_act(x, self.bias, "linear", clamp=self.conv_clamp), tf.float32)

    def get_config(self):
        return {**super().get_config(), "in_channels": self.in_channels, "out_channels": self.out_channels,
                "w_dim": self.w_dim, "conv_clamp": self.conv_clamp}


@keras.saving.register_keras_serializable(package="svgan_tf")
class SynthesisBlock(keras.layers.Layer):
    """One resolution of the skip-architecture synthesis network.

    The first block (in_channels == 0) starts from a learned 4x4 constant concatenated channel-wise with
    the motion code (const channels first) and has a single conv; later blocks upsample with conv0.
    Every block adds its ToRGB output to the upsampled running image. Uses `num_conv + 1` ws.

    Args:
        in_channels: channels of the previous block (0 for the first block).
        out_channels: channels of this block.
        w_dim: width of w.
        resolution: output resolution.
        img_channels: image channels.
        motion_v_dim: width of the motion code (first block only).
        conv_clamp: clamp of every conv (None: off).
    """

    def __init__(self, in_channels, out_channels, w_dim, resolution, img_channels, motion_v_dim=0, conv_clamp=None,
                 **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.in_channels, self.out_channels, self.w_dim = in_channels, out_channels, w_dim
        self.resolution, self.img_channels, self.motion_v_dim = resolution, img_channels, motion_v_dim
        self.conv_clamp = conv_clamp
        layer_kwargs = dict(w_dim=w_dim, conv_clamp=conv_clamp, dtype=self.dtype_policy)
        if in_channels == 0:
            self.const = self.add_weight(name="const", shape=(resolution, resolution, out_channels),
                                         initializer=keras.initializers.RandomNormal(stddev=1.0))
            self.conv0 = None
            self.conv1 = SynthesisLayer(out_channels + motion_v_dim, out_channels, name="conv1", **layer_kwargs)
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, up=2, name="conv0", **layer_kwargs)
            self.conv1 = SynthesisLayer(out_channels, out_channels, name="conv1", **layer_kwargs)
        self.torgb = ToRGBLayer(out_channels, img_channels, name="torgb", **layer_kwargs)
        self.num_conv = 1 if in_channels == 0 else 2
        self.built = True

    def call(self, x, img, ws, motion_v=None, fused_modconv=False):
        """x: [N, h, w, in] or None; img: [N, h, w, C] or None; ws: [N, num_conv + 1, w_dim]; motion_v: [N, v]."""
        if self.conv0 is None:
            n = tf.shape(ws)[0]
            r = self.resolution
            const = tf.tile(tf.convert_to_tensor(self.const)[None], [n, 1, 1, 1])
            motion = tf.tile(tf.cast(motion_v, const.dtype)[:, None, None, :], [1, r, r, 1])
            x = tf.concat([const, motion], axis=-1)
        else:
            x = self.conv0(x, ws[:, 0], fused_modconv=fused_modconv)
        x = self.conv1(x, ws[:, self.num_conv - 1], fused_modconv=fused_modconv)
        y = self.torgb(x, ws[:, self.num_conv], fused_modconv=fused_modconv)
        img = y if img is None else upsample2d(img) + y
        return x, img

    def get_config(self):
        return {**super().get_config(), "in_channels": self.in_channels, "out_channels": self.out_channels,
                "w_dim": self.w_dim, "resolution": self.resolution, "img_channels": self.img_channels,
                "motion_v_dim": self.motion_v_dim, "conv_clamp": self.conv_clamp}


@keras.saving.register_keras_serializable(package="svgan_tf")
class SynthesisNetwork(keras.Model):
    """ws [N, num_ws, w_dim] + motion codes [N, motion_v_dim] -> images [N, R, R, C] (skip architecture).

    Args:
        w_dim: width of w.
        img_resolution: output resolution (power of two).
        img_channels: image channels.
        motion_v_dim: width of the motion code concatenated to the 4x4 constant.
        channel_base: channels(res) = min(channel_base // res, channel_max).
        channel_max: maximum channels.
        num_fp16_res: number of top resolutions that run under `mixed_precision`.
        conv_clamp: clamp of every conv (None: off).
        mixed_precision: Keras dtype policy of those resolutions ("mixed_float16" or "mixed_bfloat16").
    """

    def __init__(self, w_dim, img_resolution, img_channels, motion_v_dim, channel_base=16384, channel_max=512,
                 num_fp16_res=0, conv_clamp=None, mixed_precision="mixed_float16", **kwargs):
        super().__init__(autocast=False, **kwargs)
        check_resolution(img_resolution)
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        self.motion_v_dim, self.channel_base, self.channel_max = motion_v_dim, channel_base, channel_max
        self.num_fp16_res, self.conv_clamp, self.mixed_precision = num_fp16_res, conv_clamp, mixed_precision
        self.block_resolutions = [2 ** i for i in range(2, int(math.log2(img_resolution)) + 1)]
        channels = channels_per_resolution(self.block_resolutions, channel_base, channel_max)
        for res in self.block_resolutions:
            setattr(self, f"b{res}", SynthesisBlock(
                channels[res // 2] if res > 4 else 0, channels[res], w_dim, res, img_channels,
                motion_v_dim=motion_v_dim if res == 4 else 0, conv_clamp=conv_clamp, name=f"b{res}",
                dtype=resolution_policy(res, img_resolution, num_fp16_res, mixed_precision)))
        self.num_ws = sum(block.num_conv for block in self.blocks) + 1
        self.built = True

    @property
    def blocks(self):
        return [getattr(self, f"b{res}") for res in self.block_resolutions]

    def call(self, ws, motion_v, fused_modconv=False):
        x = img = None
        w_idx = 0
        for block in self.blocks:
            x, img = block(x, img, ws[:, w_idx:w_idx + block.num_conv + 1], motion_v=motion_v,
                           fused_modconv=fused_modconv)
            w_idx += block.num_conv
        return img

    def get_config(self):
        return {**super().get_config(), "w_dim": self.w_dim, "img_resolution": self.img_resolution,
                "img_channels": self.img_channels, "motion_v_dim": self.motion_v_dim,
                "channel_base": self.channel_base, "channel_max": self.channel_max,
                "num_fp16_res": self.num_fp16_res, "conv_clamp": self.conv_clamp,
                "mixed_precision": self.mixed_precision}


@keras.saving.register_keras_serializable(package="svgan_tf")
class Generator(keras.Model):
    """StyleGAN-V generator: one frame at any real time t, non-autoregressively.

    Defaults are the reference FaceForensics-256 model (SkyTimelapse: motion_z_distance=256,
    min_period_len=256).

    Args:
        z_dim: content latent width.
        c_dim: class-label width (0: unconditional).
        w_dim: intermediate latent width.
        img_resolution: output resolution.
        img_channels: image channels.
        mapping_layers: layers of the content mapping network.
        channel_base: synthesis channels(res) = min(channel_base // res, channel_max).
        channel_max: maximum synthesis channels.
        num_fp16_res: top resolutions computed under `mixed_precision`.
        conv_clamp: activation clamp (None: off).
        motion_z_dim: width of the motion-noise tokens.
        motion_v_dim: width of the motion vectors u.
        motion_kernel_size: kernel size of the motion conv1d layers.
        motion_z_distance: token spacing d in frames.
        time_enc_dim: frequencies of the acyclic positional encoding (motion code width 2 * time_enc_dim).
        min_period_len: shortest base period (frames).
        max_period_len: longest base period (frames).
        max_num_frames: training window; the reference draws tokens for at least this many frames.
        mixed_precision: Keras dtype policy for the fp16 resolutions ("mixed_float16", "mixed_bfloat16").
        motion_precision: precision of the motion path, "float64" (default, closest to the reference) or
            "float32" (targets without float64, e.g. LiteRT); see `svgan_tf/networks/motion.py`.
        motion_conditioning: concatenate the class label to the motion tokens (conditional models; the
            reference follows its `cfg.c_dim` here, which may differ from `c_dim`).
        mapping_kwargs: extra `MappingNetwork` arguments (lr_multiplier, w_avg_beta, embed_features,
            layer_features).
    """

    def __init__(self, z_dim=512, c_dim=0, w_dim=512, img_resolution=256, img_channels=3, mapping_layers=2,
                 channel_base=16384, channel_max=512, num_fp16_res=4, conv_clamp=256, motion_z_dim=512,
                 motion_v_dim=512, motion_kernel_size=11, motion_z_distance=16, time_enc_dim=256,
                 min_period_len=16, max_period_len=1024, max_num_frames=1024, mixed_precision="mixed_float16",
                 motion_precision="float64", motion_conditioning=True, mapping_kwargs=None, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self._config = dict(
            z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, img_resolution=img_resolution, img_channels=img_channels,
            mapping_layers=mapping_layers, channel_base=channel_base, channel_max=channel_max,
            num_fp16_res=num_fp16_res, conv_clamp=conv_clamp, motion_z_dim=motion_z_dim, motion_v_dim=motion_v_dim,
            motion_kernel_size=motion_kernel_size, motion_z_distance=motion_z_distance, time_enc_dim=time_enc_dim,
            min_period_len=min_period_len, max_period_len=max_period_len, max_num_frames=max_num_frames,
            mixed_precision=mixed_precision, motion_precision=motion_precision,
            motion_conditioning=motion_conditioning, mapping_kwargs=mapping_kwargs)
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, w_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.max_num_frames = max_num_frames
        self.motion_mapping = MotionMappingNetwork(
            motion_z_dim, motion_v_dim, c_dim if motion_conditioning else 0, motion_kernel_size, motion_z_distance,
            time_enc_dim, min_period_len, max_period_len, precision=motion_precision, name="motion_mapping")
        self.synthesis = SynthesisNetwork(
            w_dim, img_resolution, img_channels, self.motion_mapping.output_dim, channel_base=channel_base,
            channel_max=channel_max, num_fp16_res=num_fp16_res, conv_clamp=conv_clamp,
            mixed_precision=mixed_precision, name="synthesis")
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(z_dim, c_dim, w_dim, num_ws=self.num_ws, num_layers=mapping_layers,
                                      name="mapping", **(mapping_kwargs or {}))
        self.built = True

    @property
    def motion_z_dim(self):
        """Width of the motion-noise tokens."""
        return self.motion_mapping.motion_z_dim

    @property
    def motion_z_distance(self):
        """Token spacing d in frames."""
        return self.motion_mapping.motion_z_distance

    @property
    def motion_kernel_size(self):
        """Kernel size of the motion mapping convolutions."""
        return self.motion_mapping.kernel_size

    @property
    def window_length(self):
        """Motion-noise tokens one frame needs (`svgan_tf.tokens.window_length`)."""
        return tokens.window_length(self.motion_kernel_size)

    def num_motion_tokens(self, max_t):
        """Tokens the reference draws for frames up to time `max_t` (`svgan_tf.tokens.num_motion_tokens`)."""
        return tokens.num_motion_tokens(max_t, self.motion_z_distance, self.window_length, self.max_num_frames)

    def token_window(self, t):
        """(start, length) of the motion tokens that frames at times `t` need (`svgan_tf.tokens.token_window`)."""
        return tokens.token_window(t, self.motion_z_distance, self.window_length)

    def slice_token_window(self, motion_z, t):
        """Exactly the tokens that frames at times `t` need: (motion_z window, token_offset).

        `G(z, t, window, token_offset=offset)` then equals `G(z, t, motion_z)`.
        """
        start, length = self.token_window(t)
        if motion_z.shape[1] is not None and start + length > motion_z.shape[1]:
            raise ValueError(f"motion_z has {motion_z.shape[1]} tokens; times up to {np.max(t)} need "
                             f"{start + length} (see Generator.num_motion_tokens).")
        return motion_z[:, start:start + length], start

    def sample_motion_z(self, batch_size, num_tokens, seed):
        """A seeded draw of motion-noise tokens [batch_size, num_tokens, motion_z_dim] (stateless, reproducible).

        Philox explicitly: the default algorithm may differ between devices, and with it the draw.
        """
        return tf.random.stateless_normal([batch_size, num_tokens, self.motion_z_dim], seed=seed, alg="philox")

    def synthesize(self, ws, t, motion_z, c=None, token_offset=0, fused_modconv=False, frames_per_batch=None):
        """Frames from ws: the frame-at-time API.

        Args:
            ws: [B, num_ws, w_dim] (from `mapping`), shared by all frames of a video.
            t: [B, F] real frame times >= 0.
            motion_z: [B, L, motion_z_dim] motion tokens; token i is token `token_offset + i` of the video.
            c: [B, c_dim] class labels (conditional models only).
            token_offset: first token index of `motion_z` (scalar or [B]).
            fused_modconv: per-sample grouped convolutions (reference inference path) instead of
                activation scaling around shared kernels.
            frames_per_batch: render the B * F frames sequentially in groups of this many (inference only:
                bounds activation memory, frames are independent); None renders all at once.

        Returns:
            [B, F, R, R, img_channels] float32 frames, nominally in [-1, 1] (not clamped).
        """
        motion_v = self.motion_mapping(motion_z, t, c=c, token_offset=token_offset)  # [B, F, V]
        batch, frames = tf.shape(motion_v)[0], tf.shape(motion_v)[1]
        ws = tf.repeat(ws, frames, axis=0)
        motion_v = tf.reshape(motion_v, [batch * frames, -1])
        if frames_per_batch is None:
            img = self.synthesis(ws, motion_v, fused_modconv=fused_modconv)
        else:
            img = self._synthesize_in_groups(ws, motion_v, frames_per_batch, fused_modconv)
        r = self.img_resolution
        return tf.reshape(img, [batch, frames, r, r, self.img_channels])

    def _synthesize_in_groups(self, ws, motion_v, group, fused_modconv):
        """Runs the synthesis on consecutive groups of frames, one group at a time (a sequential loop)."""
        n = tf.shape(ws)[0]
        groups = (n + group - 1) // group
        pad = groups * group - n
        ws = tf.pad(ws, [[0, pad], [0, 0], [0, 0]])
        motion_v = tf.pad(motion_v, [[0, pad], [0, 0]])
        img = tf.map_fn(
            lambda args: self.synthesis(args[0], args[1], fused_modconv=fused_modconv),
            (tf.reshape(ws, [groups, group, self.num_ws, self.w_dim]), tf.reshape(motion_v, [groups, group, -1])),
            fn_output_signature=tf.TensorSpec([group, self.img_resolution, self.img_resolution, self.img_channels]),
            parallel_iterations=1)
        return tf.reshape(img, [groups * group, self.img_resolution, self.img_resolution, self.img_channels])[:n]

    def call(self, z, t, motion_z, c=None, truncation_psi=1.0, truncation_cutoff=None, token_offset=0,
             fused_modconv=False, frames_per_batch=None, training=False):
        """Frames [B, F, R, R, C] for content latents z [B, z_dim] at times t [B, F]; see `synthesize`."""
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff,
                          training=training)
        return self.synthesize(ws, t, motion_z, c=c, token_offset=token_offset, fused_modconv=fused_modconv,
                               frames_per_batch=frames_per_batch)

    def get_config(self):
        return {**super().get_config(), **self._config}
