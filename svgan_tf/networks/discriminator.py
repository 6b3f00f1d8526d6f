"""Holistic StyleGAN-V discriminator: per-frame resnet backbone, frame fusion, time-difference projection.

Stacked bottom-up: `DiscriminatorBlock` (resnet, one resolution) -> `DiscriminatorEpilogue` (4x4,
minibatch std, projection) and `TimeDifferenceEncoder` -> `Discriminator`. The k frames of a clip run
through the blocks above `concat_res` independently (shared weights); at `concat_res` their feature maps
(each with 1/num_frames_div_factor of the usual channels) are concatenated channel-wise, frame-major, and
the remaining blocks see one tensor per video. The time differences between the frames condition the
logit through a mapping network and a dot-product projection.
"""

import math

import keras
import numpy as np
import tensorflow as tf

from svgan_tf.networks.generator import MappingNetwork, channels_per_resolution, check_resolution, resolution_policy
from svgan_tf.networks.layers import Conv2dLayer, DenseLayer, minibatch_stddev


@keras.saving.register_keras_serializable(package="svgan_tf")
class DiscriminatorBlock(keras.layers.Layer):
    """Resnet block: [fromrgb] -> conv0 -> conv1 (down 2), plus a 1x1 down-sampling skip, both x sqrt(1/2).

    Args:
        in_channels: input feature channels (0 for the first block, which reads the image).
        tmp_channels: channels after conv0 (and after fromrgb).
        out_channels: output channels.
        img_channels: image channels (first block).
        conv_clamp: clamp of every conv (None: off).
    """

    def __init__(self, in_channels, tmp_channels, out_channels, img_channels=3, conv_clamp=None, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.in_channels, self.tmp_channels, self.out_channels = in_channels, tmp_channels, out_channels
        self.img_channels, self.conv_clamp = img_channels, conv_clamp
        conv = dict(conv_clamp=conv_clamp, dtype=self.dtype_policy)
        self.fromrgb = None
        if in_channels == 0:
            self.fromrgb = Conv2dLayer(img_channels, tmp_channels, 1, activation="lrelu", name="fromrgb", **conv)
        main_in = in_channels or tmp_channels
        self.conv0 = Conv2dLayer(main_in, tmp_channels, 3, activation="lrelu", name="conv0", **conv)
        self.conv1 = Conv2dLayer(tmp_channels, out_channels, 3, activation="lrelu", down=2, name="conv1", **conv)
        # The reference builds the skip without conv_clamp: it is never clamped.
        self.skip = Conv2dLayer(main_in, out_channels, 1, bias=False, down=2, name="skip", dtype=self.dtype_policy)
        self.built = True

    def call(self, x):
        """x: image [N, H, W, img_channels] for the first block, else features. Returns [N, H/2, W/2, out]."""
        if self.fromrgb is not None:
            x = self.fromrgb(x)
        gain = math.sqrt(0.5)
        return self.skip(x, gain=gain) + self.conv1(self.conv0(x), gain=gain)

    def get_config(self):
        return {**super().get_config(), "in_channels": self.in_channels, "tmp_channels": self.tmp_channels,
                "out_channels": self.out_channels, "img_channels": self.img_channels, "conv_clamp": self.conv_clamp}


@keras.saving.register_keras_serializable(package="svgan_tf")
class TimeDifferenceEncoder(keras.layers.Layer):
    """Embeds the k - 1 gaps between a clip's sorted frame times (reference `TemporalDifferenceEncoder`).

    Each gap delta gets a learned embedding looked up at round(delta) (half to even, as torch.round) and
    fixed Fourier features [sin(c_m delta), cos(c_m delta)], c_m = pi 2^m / T, m < log2(T) - skip,
    T = 2^ceil(log2(max_num_frames)). Per-gap vectors are concatenated gap by gap. Needs k >= 2.

    Args:
        num_frames: frames per clip k (>= 2).
        max_num_frames: size of the embedding table (gaps must be < max_num_frames).
        embed_dim: width of the learned embedding (256 in the reference, not configurable there).
        skip_small_t_freqs: number of the highest Fourier frequencies left out (reference option, 0).
    """

    def __init__(self, num_frames, max_num_frames=1024, embed_dim=256, skip_small_t_freqs=0, **kwargs):
        super().__init__(autocast=False, **kwargs)
        if num_frames < 2:
            raise ValueError(f"Time differences need at least 2 frames per clip, got num_frames={num_frames}.")
        self.num_frames, self.max_num_frames, self.embed_dim = num_frames, max_num_frames, embed_dim
        self.skip_small_t_freqs = skip_small_t_freqs
        time_resolution = 2 ** math.ceil(math.log2(max_num_frames))
        num_feats = int(math.ceil(math.log2(time_resolution))) - skip_small_t_freqs
        self.const_embed = self.add_weight(name="const_embed", shape=(max_num_frames, embed_dim),
                                           initializer=keras.initializers.RandomNormal(stddev=1.0))
        self.fourier_coefs = self.add_weight(
            name="fourier_coefs", shape=(num_feats,), trainable=False,
            initializer=keras.initializers.Constant(np.pi * 2.0 ** np.arange(num_feats) / time_resolution))
        self.built = True

    @property
    def output_dim(self):
        return (self.embed_dim + 2 * self.fourier_coefs.shape[0]) * (self.num_frames - 1)

    def call(self, t):
        """t: [B, k] sorted frame times -> [B, output_dim]."""
        t = tf.cast(t, tf.float32)
        diffs = tf.reshape(t[:, 1:] - t[:, :-1], [-1])
        index = tf.cast(tf.round(diffs), tf.int32)
        tf.debugging.assert_non_negative(index, message="Frame times of a clip must be sorted.")
        tf.debugging.assert_less(index, self.max_num_frames,
                                 message=f"Gaps between frames must be < max_num_frames={self.max_num_frames}.")
        raw = diffs[:, None] * self.fourier_coefs
        per_gap = tf.concat([tf.gather(self.const_embed, index), tf.sin(raw), tf.cos(raw)], axis=1)
        return tf.reshape(per_gap, [tf.shape(t)[0], self.output_dim])

    def get_config(self):
        return {**super().get_config(), "num_frames": self.num_frames, "max_num_frames": self.max_num_frames,
                "embed_dim": self.embed_dim, "skip_small_t_freqs": self.skip_small_t_freqs}


@keras.saving.register_keras_serializable(package="svgan_tf")
class DiscriminatorEpilogue(keras.layers.Layer):
    """4x4 head: minibatch std -> conv 3x3 -> fc -> out, projected onto the conditioning vector.

    Args:
        in_channels: channels at 4x4.
        cmap_dim: width of the conditioning vector and of `out`; 0: unconditional, `out` is the logit.
        mbstd_group_size: minibatch-std group size over videos (None: the whole batch).
        mbstd_num_channels: appended minibatch-std channels.
        conv_clamp: clamp of the conv (None: off).
    """

    def __init__(self, in_channels, cmap_dim, mbstd_group_size=4, mbstd_num_channels=1, conv_clamp=None, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.in_channels, self.cmap_dim = in_channels, cmap_dim
        self.mbstd_group_size, self.mbstd_num_channels = mbstd_group_size, mbstd_num_channels
        self.conv_clamp = conv_clamp
        self.conv = Conv2dLayer(in_channels + mbstd_num_channels, in_channels, 3, activation="lrelu",
                                conv_clamp=conv_clamp, name="conv")
        self.fc = DenseLayer(in_channels * 16, in_channels, activation="lrelu", name="fc")
        self.out = DenseLayer(in_channels, cmap_dim or 1, name="out")
        self.built = True

    def call(self, x, cmap=None):
        x = tf.cast(x, tf.float32)
        if self.mbstd_num_channels > 0:
            x = minibatch_stddev(x, self.mbstd_group_size, self.mbstd_num_channels)
        x = self.conv(x)
        # Flatten in the reference's channel-major order so `fc` keeps its reference layout.
        x = self.fc(tf.reshape(tf.transpose(x, [0, 3, 1, 2]), [tf.shape(x)[0], self.in_channels * 16]))
        x = self.out(x)
        if self.cmap_dim == 0:
            return x[:, 0]
        return tf.reduce_sum(x * cmap, axis=1) / math.sqrt(self.cmap_dim)

    def get_config(self):
        return {**super().get_config(), "in_channels": self.in_channels, "cmap_dim": self.cmap_dim,
                "mbstd_group_size": self.mbstd_group_size, "mbstd_num_channels": self.mbstd_num_channels,
                "conv_clamp": self.conv_clamp}


@keras.saving.register_keras_serializable(package="svgan_tf")
class Discriminator(keras.Model):
    """Holistic video discriminator: one logit per clip of k frames at times t.

    Defaults are the reference 256x256 model with k = 3.

    Args:
        c_dim: class-label width (0: unconditional).
        img_resolution: input resolution.
        img_channels: image channels.
        channel_base: channels(res) = min(channel_base // res, channel_max).
        channel_max: maximum channels.
        num_fp16_res: top resolutions computed under `mixed_precision`.
        conv_clamp: activation clamp (None: off).
        num_frames: frames per clip k (with k = 1 there are no time differences: the reference then
            projects on the class label only, or has no projection when unconditional).
        concat_res: resolution at which the frames' features are concatenated.
        num_frames_div_factor: channel reduction of each frame's features before the concatenation.
        mbstd_group_size: minibatch-std group size (videos; None: the whole batch).
        mbstd_num_channels: minibatch-std channels.
        mapping_layers: layers of the conditioning mapping network.
        max_num_frames: size of the time-difference embedding table.
        time_embed_dim: width of the learned time-difference embedding.
        skip_small_t_freqs: highest Fourier frequencies of the time-difference encoding left out.
        dummy_c: ablation switch of the reference: zero the conditioning vector.
        cmap_dim: width of the projection (None: channels at 4x4).
        mapping_kwargs: extra `MappingNetwork` arguments of the conditioning network.
        mixed_precision: Keras dtype policy of the fp16 resolutions.
    """

    def __init__(self, c_dim=0, img_resolution=256, img_channels=3, channel_base=16384, channel_max=512,
                 num_fp16_res=4, conv_clamp=256, num_frames=3, concat_res=16, num_frames_div_factor=2,
                 mbstd_group_size=4, mbstd_num_channels=1, mapping_layers=2, max_num_frames=1024, time_embed_dim=256,
                 skip_small_t_freqs=0, dummy_c=False, cmap_dim=None, mapping_kwargs=None,
                 mixed_precision="mixed_float16", **kwargs):
        super().__init__(autocast=False, **kwargs)
        check_resolution(img_resolution)
        self._config = dict(
            c_dim=c_dim, img_resolution=img_resolution, img_channels=img_channels, channel_base=channel_base,
            channel_max=channel_max, num_fp16_res=num_fp16_res, conv_clamp=conv_clamp, num_frames=num_frames,
            concat_res=concat_res, num_frames_div_factor=num_frames_div_factor, mbstd_group_size=mbstd_group_size,
            mbstd_num_channels=mbstd_num_channels, mapping_layers=mapping_layers, max_num_frames=max_num_frames,
            time_embed_dim=time_embed_dim, skip_small_t_freqs=skip_small_t_freqs, dummy_c=dummy_c, cmap_dim=cmap_dim,
            mapping_kwargs=mapping_kwargs, mixed_precision=mixed_precision)
        if not 8 <= concat_res < img_resolution:
            raise ValueError(f"concat_res must be a block resolution in [8, {img_resolution // 2}], got {concat_res}.")
        self.c_dim, self.img_resolution, self.img_channels = c_dim, img_resolution, img_channels
        self.num_frames, self.concat_res, self.dummy_c = num_frames, concat_res, dummy_c
        self.block_resolutions = [2 ** i for i in range(int(math.log2(img_resolution)), 2, -1)]
        channels = channels_per_resolution(self.block_resolutions + [4], channel_base, channel_max)
        for res in self.block_resolutions:
            in_channels = channels[res] if res < img_resolution else 0
            out_channels = channels[res // 2]
            if res // 2 == concat_res:
                out_channels //= num_frames_div_factor
            if res == concat_res:
                in_channels = in_channels // num_frames_div_factor * num_frames
            # An attribute, not a list item: tf.train.Checkpoint does not track Keras 3 lists.
            setattr(self, f"b{res}", DiscriminatorBlock(
                in_channels, channels[res], out_channels, img_channels=img_channels, conv_clamp=conv_clamp,
                name=f"b{res}", dtype=resolution_policy(res, img_resolution, num_fp16_res, mixed_precision)))
        self.time_encoder = None
        if num_frames > 1:
            self.time_encoder = TimeDifferenceEncoder(num_frames, max_num_frames, time_embed_dim, skip_small_t_freqs,
                                                      name="time_encoder")
        cond_dim = c_dim + (self.time_encoder.output_dim if self.time_encoder else 0)
        self.mapping = None
        if cond_dim > 0:
            cmap_dim = channels[4] if cmap_dim is None else cmap_dim
            self.mapping = MappingNetwork(0, cond_dim, cmap_dim, num_ws=None, num_layers=mapping_layers,
                                          **{"w_avg_beta": None, **(mapping_kwargs or {})}, name="mapping")
        else:
            cmap_dim = 0
        self.epilogue = DiscriminatorEpilogue(channels[4], cmap_dim, mbstd_group_size, mbstd_num_channels,
                                              conv_clamp=conv_clamp, name="b4")
        self.built = True

    @property
    def blocks(self):
        return [getattr(self, f"b{res}") for res in self.block_resolutions]

    def call(self, frames, t, c=None):
        """Logits [B] for clips `frames` [B, k, R, R, C] (NHWC frames) at sorted times `t` [B, k]."""
        batch = tf.shape(frames)[0]
        k, r = self.num_frames, self.img_resolution
        if frames.shape[1] is not None and frames.shape[1] != k:
            raise ValueError(f"Discriminator expects {k} frames per clip, got frames of shape {frames.shape}.")
        x = tf.reshape(frames, [batch * k, r, r, self.img_channels])
        for res, block in zip(self.block_resolutions, self.blocks):
            if res == self.concat_res:
                _, h, w, ch = x.shape
                x = tf.transpose(tf.reshape(x, [batch, k, h, w, ch]), [0, 2, 3, 1, 4])
                x = tf.reshape(x, [batch, h, w, k * ch])
            x = block(x)
        parts = [tf.cast(c, tf.float32)] if self.c_dim > 0 else []
        if self.time_encoder is not None:
            parts.append(self.time_encoder(t))
        cond = tf.concat(parts, axis=1) if len(parts) > 1 else (parts[0] if parts else None)
        if self.dummy_c and self.time_encoder is not None:
            cond = cond * 0.0  # the reference applies its ablation switch only where time is encoded
        return self.epilogue(x, None if self.mapping is None else self.mapping(None, cond))

    def get_config(self):
        return {**super().get_config(), **self._config}
