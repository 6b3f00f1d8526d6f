"""Adaptive discriminator augmentation: StyleGAN2-ADA's `AugmentPipe`, applied video-consistently.

StyleGAN-V augments every clip the discriminator sees (reals and fakes) with the SG2-ADA "bgc" pipeline:
pixel blitting (x-flip, 90-degree rotations, integer translation), general geometric transforms
(isotropic scaling, rotation, anisotropic scaling, fractional translation) and colour transforms
(brightness, contrast, luma flip, hue rotation, saturation). Each transform is applied to each clip
independently with probability `p * multiplier`, where `p` is the adaptive strength driven by the
training loop. All k frames of a clip share one draw of every transform (the reference folds the frames
into channels, [B*k, 3, H, W] -> [B, 3k, H, W], and applies one 4x4 colour matrix per RGB triplet).

The geometric part follows the reference algorithm: the inverse homogeneous transform is composed in
the same order; the image is reflect-extended, upsampled 2x with the orthogonal sym6 wavelet low-pass
filter, resampled bilinearly on an upsampled output grid with a 3-pixel border, then low-pass filtered
and decimated back. (Because sym6 is not symmetric, even x-flips and quarter turns are mirrors only up to
the filter's phase, as in the reference; integer translations are exact.) The one deliberate difference
is how the reflect extension is materialised (see `apply_geometric`): instead of a batch-wide,
data-dependent padding the reflection is made periodic, so every shape is static (XLA) and a clip's
result never depends on the other clips in the batch.

Everything is built from ops whose gradients are exact and themselves differentiable to any order
(a gather with computed bilinear weights, stride-2 convolutions and transposed convolutions for the FIR
filters, einsum for colour), so the R1 penalty can differentiate through the augmentation's backward
pass. Randomness is stateless Philox (`tf.random.stateless_*`), so training is exactly resumable: the
transforms are a pure function of (batch size, p, seed, replica id) -- and of whether the step is
XLA-compiled, because XLA's Philox produces different (equally valid) numbers than TF's kernels.
"""

import itertools
import math

import numpy as np
import tensorflow as tf

# Low-pass decomposition filter of the sym6 wavelet (the standard published coefficients). Orthogonal,
# so 2x upsampling followed by 2x downsampling with it reconstructs the input exactly.
SYM6 = (
    0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633,
    0.4910559419267466, 0.787641141030194, 0.3379294217276218, -0.07263752278646252,
    -0.021060292512300564, 0.04472490177066578, 0.0017677118642428036, -0.007800708325034148,
)

# Border (in input pixels) that the reference adds around the output sampling grid so that the
# decimation filter sees real samples at the image edges: len(filter) // 4.
_GEOM_BORDER = len(SYM6) // 4

# Multipliers of the "bgc" pipeline (blit + geometric + colour), as in SG2-ADA's `augpipe_specs`.
BGC = dict(xflip=1, rotate90=1, xint=1, scale=1, rotate=1, aniso=1, xfrac=1,
           brightness=1, contrast=1, lumaflip=1, hue=1, saturation=1)

PRESETS = {"bgc": BGC}

# A fixed RNG algorithm: "auto_select" may pick different generators with and without XLA, which would
# make the transforms depend on how the training step happens to be compiled.
_RNG = "philox"

_GEOMETRIC = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac")
_COLOR = ("brightness", "contrast", "lumaflip", "hue", "saturation")


def _matrix(rows, batch_size):
    """Stacks a nested list of scalars / [B] tensors into a [B, n, m] float32 batch of matrices."""
    ones = tf.ones([batch_size], tf.float32)
    elems = [tf.cast(e, tf.float32) * ones for row in rows for e in row]
    return tf.reshape(tf.stack(elems, axis=-1), [batch_size, len(rows), len(rows[0])])


def _translate2d(tx, ty, b):
    return _matrix([[1, 0, tx], [0, 1, ty], [0, 0, 1]], b)


def _scale2d(sx, sy, b):
    return _matrix([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], b)


def _rotate2d(theta, b):
    c, s = tf.cos(theta), tf.sin(theta)
    return _matrix([[c, -s, 0], [s, c, 0], [0, 0, 1]], b)


def _translate3d(t, b):
    return _matrix([[1, 0, 0, t], [0, 1, 0, t], [0, 0, 1, t], [0, 0, 0, 1]], b)


def _scale3d(s, b):
    return _matrix([[s, 0, 0, 0], [0, s, 0, 0], [0, 0, s, 0], [0, 0, 0, 1]], b)


def _rotate3d(v, theta, b):
    """Rodrigues rotation by `theta` around the unit axis `v` (numpy, 3 components), homogeneous 4x4."""
    vx, vy, vz = (float(e) for e in v)
    s, c = tf.sin(theta), tf.cos(theta)
    cc = 1 - c
    return _matrix([
        [vx * vx * cc + c, vx * vy * cc - vz * s, vx * vz * cc + vy * s, 0],
        [vy * vx * cc + vz * s, vy * vy * cc + c, vy * vz * cc - vx * s, 0],
        [vz * vx * cc - vy * s, vz * vy * cc + vx * s, vz * vz * cc + c, 0],
        [0, 0, 0, 1]], b)


def _sym6_kernel(axis, gain, dtype):
    """The normalised sym6 filter times `gain` as a 1-D conv2d kernel along `axis` (1 = H, 2 = W)."""
    taps = np.asarray(SYM6) / np.sum(SYM6) * gain
    shape = [len(SYM6), 1, 1, 1] if axis == 1 else [1, len(SYM6), 1, 1]
    return tf.constant(taps.reshape(shape), dtype)


def _upsample_periodic(x, axis):
    """2x upsampling of the infinite reflect-extension of planes x [N, H, W, 1] along `axis`.

    Reflecting a length-n signal about its first and last samples (no edge repeat, like `reflect`
    padding) gives a signal with period 2n-2, and so does its upsampling. One period of the upsampled
    signal, 2(2n-2) samples, is returned so that the sampler can read any amount of reflect padding by
    wrapping indices. Sample i of the result equals the reference `upsample2d` (zero insertion, padding
    (6, 5), convolution with sym6 at gain 2 per axis) at upsampled position i relative to input pixel 0.
    """
    n = x.shape[axis]
    period = 2 * n - 2
    # Every upsampled sample of the period depends on input samples -3 .. period+2 of the extension.
    src = np.arange(-3, period + 3) % period
    src = np.where(src >= n, period - src, src)
    xp = tf.gather(x, src, axis=axis)
    # A transposed stride-2 convolution is zero insertion followed by the (unflipped) filter, which is
    # the reference's convolution with the flipped filter; the period starts 11 samples in.
    out_shape = tf.unstack(tf.shape(xp))
    out_shape[axis] = 2 * (period + 6) + 10
    strides = [1, 2, 1, 1] if axis == 1 else [1, 1, 2, 1]
    y = tf.nn.conv2d_transpose(xp, _sym6_kernel(axis, 2.0, x.dtype), tf.stack(out_shape), strides, "VALID")
    return y[:, 11:11 + 2 * period] if axis == 1 else y[:, :, 11:11 + 2 * period]


def _downsample(x, axis):
    """Reference `downsample2d(f=sym6, down=2, padding=-6, flip_filter=True)` of planes [N, H, W, 1].

    `x` holds the reference's 2n+12 sample grid along `axis` without its first and last sample (which
    the reference crops before filtering); the result has n samples.
    """
    strides = [1, 2, 1, 1] if axis == 1 else [1, 1, 2, 1]
    return tf.nn.conv2d(x, _sym6_kernel(axis, 1.0, x.dtype), strides, "VALID")


def _warp_planes(x, g_inv):
    """The geometric resampling of `apply_geometric` on planar input x [B, P, H, W]."""
    planes, height, width = x.shape[1], x.shape[2], x.shape[3]
    b = tf.shape(x)[0]
    v = tf.reshape(x, [b * planes, height, width, 1])
    v = _upsample_periodic(_upsample_periodic(v, 1), 2)
    hv, wv = v.shape[1], v.shape[2]
    v = tf.reshape(v, [b, planes, hv * wv])

    # Move the transform to the upsampled grid exactly as the reference does (including its half-pixel
    # conjugation), so that sample positions, and hence interpolation weights, coincide with it.
    g = (_translate2d(-0.5, -0.5, b) @ _scale2d(2.0, 2.0, b) @ tf.cast(g_inv, tf.float32)
         @ _scale2d(0.5, 0.5, b) @ _translate2d(0.5, 0.5, b))

    # Output grid: the reference's 2(n + 2*border) samples minus the first and last, which its
    # downsampling crops; the centred coordinate of sample j is j - (2(n + 2*border) - 1)/2, j from 1.
    ho, wo = 2 * (height + 2 * _GEOM_BORDER) - 2, 2 * (width + 2 * _GEOM_BORDER) - 2
    qx = tf.constant(np.arange(1, wo + 1) - (wo + 1) / 2, tf.float32)[None, None, :]
    qy = tf.constant(np.arange(1, ho + 1) - (ho + 1) / 2, tf.float32)[None, :, None]
    g = g[:, :, :, None, None]
    # Centred upsampled coordinates -> pixel indices of the period, whose origin is input pixel 0.
    ix = tf.reshape(g[:, 0, 0] * qx + g[:, 0, 1] * qy + g[:, 0, 2] + (2 * width - 1) / 2, [b, 1, -1])
    iy = tf.reshape(g[:, 1, 0] * qx + g[:, 1, 1] * qy + g[:, 1, 2] + (2 * height - 1) / 2, [b, 1, -1])
    x0, y0 = tf.floor(ix), tf.floor(iy)
    fx, fy = ix - x0, iy - y0
    x0 = tf.math.floormod(tf.cast(x0, tf.int32), wv)
    y0 = tf.math.floormod(tf.cast(y0, tf.int32), hv)
    x1, y1 = tf.math.floormod(x0 + 1, wv), tf.math.floormod(y0 + 1, hv)

    # Bilinear interpolation with one gather for the four neighbours, so that the backward pass is a
    # single scatter-add; the weights depend on the transform only, so every derivative order w.r.t.
    # the images is exact.
    index = tf.concat([y0 * wv + x0, y0 * wv + x1, y1 * wv + x0, y1 * wv + x1], axis=1)
    weight = tf.concat([(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy], axis=1)
    taps = tf.gather(v, tf.reshape(index, [b, -1]), axis=2, batch_dims=1)
    taps = tf.reshape(taps, [b, planes, 4, ho * wo])
    sampled = tf.reduce_sum(taps * tf.cast(weight, x.dtype)[:, None], axis=2)
    out = _downsample(_downsample(tf.reshape(sampled, [b * planes, ho, wo, 1]), 1), 2)
    return tf.reshape(out, [b, planes, height, width])


def apply_geometric(images, g_inv):
    """Resamples images with per-sample inverse affine transforms, as the reference `AugmentPipe` does.

    The reference reflect-pads the batch by a margin derived from the batch's most extreme transform
    (clamped to size-1), upsamples with sym6, samples bilinearly (zeros outside the padded image) and
    downsamples. Here the reflect extension is periodic and unbounded instead. Inside the reference's
    margin both agree (up to float rounding); they differ only where the reference would read beyond its
    margin (its zeros and zero-padded filter edges) -- i.e. for extreme zoom-outs / rotations whose
    corners leave the size-1 clamp -- and in that the result no longer depends on the rest of the batch.

    Args:
        images: [B, H, W, C] float tensor (C may hold several frames' channels); H, W, C static, >= 2.
        g_inv: [B, 3, 3] float32 homogeneous transforms mapping output pixel coordinates to input pixel
            coordinates, both centred on the image centre (x right, y down), as the reference's `G_inv`.

    Returns:
        [B, H, W, C] tensor of the same dtype.
    """
    warped = _warp_planes(tf.transpose(images, [0, 3, 1, 2]), g_inv)
    return tf.transpose(warped, [0, 2, 3, 1])


def apply_color(clips, c_mat):
    """Applies one homogeneous 4x4 colour matrix per clip to every RGB pixel of every frame.

    Args:
        clips: [B, k, H, W, 3] float tensor.
        c_mat: [B, 4, 4] float32 matrices (colour_out = C @ [r, g, b, 1]).

    Returns:
        [B, k, H, W, 3] tensor of the same dtype.
    """
    c_mat = tf.cast(c_mat, clips.dtype)
    out = tf.einsum("bij,bkhwj->bkhwi", c_mat[:, :3, :3], clips)
    return out + c_mat[:, None, None, None, :3, 3]


class AugmentPipe:
    """SG2-ADA augmentation pipeline with per-clip (video-consistent) transforms.

    Args:
        xflip: probability multiplier for x-flip.
        rotate90: probability multiplier for rotations by multiples of 90 degrees.
        xint: probability multiplier for integer translation.
        xint_max: range of integer translation, relative to the image size.
        scale: probability multiplier for isotropic scaling.
        rotate: probability multiplier for arbitrary rotation.
        aniso: probability multiplier for anisotropic scaling.
        xfrac: probability multiplier for fractional translation.
        scale_std: log2 standard deviation of isotropic scaling.
        rotate_max: range of arbitrary rotation, 1 = full circle.
        aniso_std: log2 standard deviation of anisotropic scaling.
        xfrac_std: standard deviation of fractional translation, relative to the image size.
        brightness: probability multiplier for brightness.
        contrast: probability multiplier for contrast.
        lumaflip: probability multiplier for luma flip.
        hue: probability multiplier for hue rotation.
        saturation: probability multiplier for saturation.
        brightness_std: standard deviation of the brightness offset.
        contrast_std: log2 standard deviation of contrast.
        hue_max: range of hue rotation, 1 = full circle.
        saturation_std: log2 standard deviation of saturation.
    """

    def __init__(self, xflip=0, rotate90=0, xint=0, xint_max=0.125,
                 scale=0, rotate=0, aniso=0, xfrac=0, scale_std=0.2, rotate_max=1, aniso_std=0.2,
                 xfrac_std=0.125, brightness=0, contrast=0, lumaflip=0, hue=0, saturation=0,
                 brightness_std=0.2, contrast_std=0.5, hue_max=1, saturation_std=1):
        self.xflip = float(xflip)
        self.rotate90 = float(rotate90)
        self.xint = float(xint)
        self.xint_max = float(xint_max)
        self.scale = float(scale)
        self.rotate = float(rotate)
        self.aniso = float(aniso)
        self.xfrac = float(xfrac)
        self.scale_std = float(scale_std)
        self.rotate_max = float(rotate_max)
        self.aniso_std = float(aniso_std)
        self.xfrac_std = float(xfrac_std)
        self.brightness = float(brightness)
        self.contrast = float(contrast)
        self.lumaflip = float(lumaflip)
        self.hue = float(hue)
        self.saturation = float(saturation)
        self.brightness_std = float(brightness_std)
        self.contrast_std = float(contrast_std)
        self.hue_max = float(hue_max)
        self.saturation_std = float(saturation_std)

    def get_config(self):
        """All constructor arguments as a plain dict (for logging and `AugmentPipe(**config)`)."""
        return dict(vars(self))

    def sample_transforms(self, batch_size, height, width, p, seed):
        """Draws one geometric and one colour transform per clip.

        Args:
            batch_size: number of clips (int or scalar int tensor).
            height: image height in pixels (Python int).
            width: image width in pixels (Python int).
            p: scalar float augmentation probability.
            seed: int32/int64 [2] stateless seed.

        Returns:
            (g_inv [B, 3, 3], c_mat [B, 4, 4]) float32, or None for a part whose transforms are all
            disabled by zero multipliers. g_inv maps centred output pixel coordinates to input ones;
            c_mat maps homogeneous RGB in to RGB out.
        """
        p = tf.cast(p, tf.float32)
        b = batch_size
        draws = itertools.count()  # a distinct sub-seed per draw, in a fixed order

        def uniform(shape=()):
            sub = tf.random.experimental.stateless_fold_in(seed, next(draws), alg=_RNG)
            return tf.random.stateless_uniform([b, *shape], sub, alg=_RNG)

        def normal(shape=()):
            sub = tf.random.experimental.stateless_fold_in(seed, next(draws), alg=_RNG)
            return tf.random.stateless_normal([b, *shape], sub, alg=_RNG)

        def gate(value, prob, identity, shape=()):
            return tf.where(uniform(shape) < prob, value, identity)

        g_inv = None
        if any(getattr(self, name) > 0 for name in _GEOMETRIC):
            # Composed right to left on the inverse, in the reference order: each later transform acts
            # on the output side of the earlier ones.
            g_inv = tf.eye(3, batch_shape=[b])
            if self.xflip > 0:
                i = gate(tf.floor(uniform() * 2), self.xflip * p, 0.0)
                g_inv = g_inv @ _scale2d(1 - 2 * i, 1, b)
            if self.rotate90 > 0:
                i = gate(tf.floor(uniform() * 4), self.rotate90 * p, 0.0)
                g_inv = g_inv @ _rotate2d(math.pi / 2 * i, b)
            if self.xint > 0:
                t = gate((uniform([2]) * 2 - 1) * self.xint_max, self.xint * p, 0.0, [1])
                g_inv = g_inv @ _translate2d(-tf.round(t[:, 0] * width), -tf.round(t[:, 1] * height), b)
            if self.scale > 0:
                s = gate(tf.pow(2.0, normal() * self.scale_std), self.scale * p, 1.0)
                g_inv = g_inv @ _scale2d(1 / s, 1 / s, b)
            # Rotation is split into a pre- and a post-rotation around the anisotropic scaling, each with
            # the probability that makes P(either) = rotate * p.
            p_rot = 1 - tf.sqrt(tf.clip_by_value(1 - self.rotate * p, 0.0, 1.0))
            if self.rotate > 0:
                theta = gate((uniform() * 2 - 1) * math.pi * self.rotate_max, p_rot, 0.0)
                g_inv = g_inv @ _rotate2d(theta, b)
            if self.aniso > 0:
                s = gate(tf.pow(2.0, normal() * self.aniso_std), self.aniso * p, 1.0)
                g_inv = g_inv @ _scale2d(1 / s, s, b)
            if self.rotate > 0:
                theta = gate((uniform() * 2 - 1) * math.pi * self.rotate_max, p_rot, 0.0)
                g_inv = g_inv @ _rotate2d(theta, b)
            if self.xfrac > 0:
                t = gate(normal([2]) * self.xfrac_std, self.xfrac * p, 0.0, [1])
                g_inv = g_inv @ _translate2d(-t[:, 0] * width, -t[:, 1] * height, b)

        c_mat = None
        if any(getattr(self, name) > 0 for name in _COLOR):
            # Composed left to right: each later transform acts on the colours the earlier ones produced.
            c_mat = tf.eye(4, batch_shape=[b])
            luma = np.asarray([1, 1, 1, 0]) / np.sqrt(3)
            luma_outer = tf.constant(np.outer(luma, luma), tf.float32)
            if self.brightness > 0:
                v = gate(normal() * self.brightness_std, self.brightness * p, 0.0)
                c_mat = _translate3d(v, b) @ c_mat
            if self.contrast > 0:
                v = gate(tf.pow(2.0, normal() * self.contrast_std), self.contrast * p, 1.0)
                c_mat = _scale3d(v, b) @ c_mat
            if self.lumaflip > 0:
                i = gate(tf.floor(uniform() * 2), self.lumaflip * p, 0.0)
                c_mat = (tf.eye(4) - 2 * luma_outer * i[:, None, None]) @ c_mat  # Householder reflection.
            if self.hue > 0:
                theta = gate((uniform() * 2 - 1) * math.pi * self.hue_max, self.hue * p, 0.0)
                c_mat = _rotate3d(luma[:3], theta, b) @ c_mat
            if self.saturation > 0:
                s = gate(tf.pow(2.0, normal() * self.saturation_std), self.saturation * p, 1.0)
                c_mat = (luma_outer + (tf.eye(4) - luma_outer) * s[:, None, None]) @ c_mat
        return g_inv, c_mat

    def __call__(self, clips, p, seed):
        """Augments a batch of clips; all frames of a clip share the same transforms.

        The replica id of the current replica context is folded into the seed, so replicas given the
        same seed still draw independent transforms (the reference's per-GPU RNGs differ too).

        Args:
            clips: [B, k, H, W, 3] float tensor (values roughly in [-1, 1]); k, H, W static, H, W >= 2.
            p: scalar float tensor >= 0, the augmentation probability (a tf.Variable in training);
                probabilities p * multiplier above 1 saturate, as in the reference.
            seed: int32/int64 [2] tensor for the stateless RNG.

        Returns:
            [B, k, H, W, 3] tensor of the same dtype. Exactly `clips` when p == 0; for p > 0 the clips
            that draw no geometric transform still go through the resampling chain, which reproduces
            them to float rounding (~1e-6), as in the reference.
        """
        clips = tf.convert_to_tensor(clips)
        if clips.shape.rank != 5 or clips.shape[-1] != 3:
            raise ValueError(f"Expected RGB clips [B, k, H, W, 3], got shape {clips.shape}.")
        seed = tf.convert_to_tensor(seed)
        replica = tf.distribute.get_replica_context()
        if replica is not None:
            seed = tf.random.experimental.stateless_fold_in(seed, replica.replica_id_in_sync_group, alg=_RNG)
        p = tf.cast(p, tf.float32)
        # Skipping the pipeline at p == 0 makes it an exact identity (the resampling chain reconstructs
        # only to float rounding) and saves the whole cost while ADA has not kicked in yet.
        return tf.cond(p > 0, lambda: self._augment(clips, p, seed), lambda: tf.identity(clips))

    def _augment(self, clips, p, seed):
        _, k, height, width, channels = clips.shape
        b = tf.shape(clips)[0]
        g_inv, c_mat = self.sample_transforms(b, height, width, p, seed)
        if g_inv is not None:
            # All colour planes of all frames share the clip's warp (the reference's [B, 3k, H, W] view).
            x = tf.reshape(tf.transpose(clips, [0, 1, 4, 2, 3]), [b, k * channels, height, width])
            x = _warp_planes(x, g_inv)
            clips = tf.transpose(tf.reshape(x, [b, k, channels, height, width]), [0, 1, 3, 4, 2])
        if c_mat is not None:
            clips = apply_color(clips, c_mat)
        return clips


def augment_pipe(preset="bgc", **overrides):
    """Builds an `AugmentPipe` from a named preset of multipliers (only "bgc" is used by StyleGAN-V).

    Args:
        preset: key of `PRESETS`.
        **overrides: constructor arguments replacing the preset's or the default strengths.
    """
    if preset not in PRESETS:
        raise ValueError(f"Unknown augmentation preset {preset!r}; expected one of {sorted(PRESETS)}.")
    return AugmentPipe(**{**PRESETS[preset], **overrides})


def ada_adjust(p, mean_sign, target, speed):
    """The ADA controller (SG2-ADA's heuristic), a pure function: the next augmentation probability.

    p moves by `speed` towards more augmentation when D is over-confident on the reals (E[sign(D(real))] above
    `target`) and towards less otherwise; it is clipped at 0 from below only, as the reference.

    Args:
        p: current probability (float or scalar tensor).
        mean_sign: mean of sign(D(real)) over the reals D scored since the last adjustment.
        target: the ADA target (0.6).
        speed: the step, batch x interval / (ada_kimg x 1000).
    """
    return tf.maximum(p + tf.sign(mean_sign - target) * speed, 0.0)
