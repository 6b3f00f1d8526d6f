"""Building blocks shared by the generator and the discriminator.

Everything is NHWC (channels last). Weights are stored *before* the run-time scaling of the equalised
learning rate: each layer multiplies its raw parameters by `lr_multiplier / sqrt(fan_in)` (weights) and
`lr_multiplier` (biases) in `call`, exactly as the reference StyleGAN2-ADA layers do, so that the raw
values can be exchanged with reference checkpoints unchanged (see `svgan_tf/interop/reference.py`).

Layers create their variables in `__init__` from explicit input sizes (as the reference constructors
do): a network is complete as soon as it is constructed, which keeps `tf.distribute` scopes, checkpoint
restores and reference-weight loading free of "call it once on dummy data first" steps.

Precision is explicit: every layer and network of the project is built with Keras autocasting off
(`autocast=False`: inputs are not converted, variables are not cast behind our back) and casts what it
needs itself, because the reference mixes precisions inside one block (float32 styles and running image
around float16 convolutions) and runs the motion path at its own precision.
"""

import math

import keras
import numpy as np
import tensorflow as tf

# Default gains of the activations, as the reference `bias_act` defines them.
ACTIVATION_GAINS = {"linear": 1.0, "lrelu": math.sqrt(2.0)}
LRELU_SLOPE = 0.2

# The 4-tap binomial low-pass filter [1, 3, 3, 1] used for every resampling.
RESAMPLE_TAPS = (1.0, 3.0, 3.0, 1.0)


def resample_filter_2d():
    """The normalised separable 2-D resampling filter (outer product, sums to 1), as numpy float32."""
    taps = np.asarray(RESAMPLE_TAPS, dtype=np.float64)
    f = np.outer(taps, taps)
    return (f / f.sum()).astype(np.float32)


def bias_act(x, bias=None, activation="linear", gain=None, clamp=None):
    """Adds a bias, applies an activation, multiplies by a gain, then clamps (reference `bias_act`).

    The activation, gain and clamp form one op whose gradient is computed from its output alone (as the
    reference's fused CUDA kernel does), so backpropagation keeps one activation tensor per layer instead
    of four; the gradient is itself differentiable (R1 differentiates through it).

    Args:
        x: tensor whose last axis holds the channels.
        bias: optional bias of shape [channels] (already scaled), added before the activation.
        activation: "linear" or "lrelu" (leaky ReLU, slope 0.2).
        gain: multiplier applied after the activation; None means the activation's default gain
            (sqrt(2) for lrelu, 1 for linear).
        clamp: if not None, the output is clipped to [-clamp, clamp] *after* the gain.
    """
    if activation not in ACTIVATION_GAINS:
        raise ValueError(f"Unknown activation {activation!r}; expected 'linear' or 'lrelu'.")
    if bias is not None:
        x = x + tf.cast(bias, x.dtype)
    gain = ACTIVATION_GAINS[activation] if gain is None else gain
    clamp = None if clamp is None or clamp < 0 else clamp
    if activation == "linear" and gain == 1 and clamp is None:
        return x
    return _act_gain_clamp(x, activation == "lrelu", float(gain), clamp)


def _act_gain_clamp(x, lrelu, gain, clamp):
    """y = clamp(act(x) * gain); dy/dx = gain * (slope if y < 0) * (|y| < clamp), all from y."""

    @tf.custom_gradient
    def forward(x):
        y = x
        if lrelu:
            y = tf.nn.leaky_relu(y, alpha=LRELU_SLOPE)
        if gain != 1:
            y = y * tf.cast(gain, x.dtype)
        if clamp is not None:
            y = tf.clip_by_value(y, tf.cast(-clamp, x.dtype), tf.cast(clamp, x.dtype))

        def backward(dy):
            # The sign of y is the sign of x (gain > 0), and |y| < clamp exactly where the clamp is inactive.
            slope = tf.cast(gain, y.dtype)
            if lrelu:
                slope = tf.where(y < 0, tf.cast(gain * LRELU_SLOPE, y.dtype), slope)
            if clamp is not None:
                slope = tf.where(tf.abs(y) < tf.cast(clamp, y.dtype), slope, tf.zeros_like(slope))
            return dy * slope

        return y, backward

    return forward(x)


def zero_insert(x, factor):
    """[N, H, W, C] -> [N, factor*H, factor*W, C]: each sample followed by factor - 1 zeros on both axes.

    Built from 4-D reshapes and pads only (LiteRT's PAD has no 6-D form).
    """
    n, h, w, c = tf.unstack(tf.shape(x))
    x = tf.pad(tf.reshape(x, [n, h, 1, w * c]), [[0, 0], [0, 0], [0, factor - 1], [0, 0]])  # rows
    x = tf.reshape(x, [n, h * factor * w, 1, c])
    x = tf.pad(x, [[0, 0], [0, 0], [0, factor - 1], [0, 0]])  # columns
    return tf.reshape(x, [n, h * factor, w * factor, c])


def upfirdn2d(x, padding, up=1, down=1, gain=1.0):
    """Upsample by zero insertion, pad, filter with the [1,3,3,1] FIR, downsample (reference `upfirdn2d`).

    Args:
        x: [N, H, W, C].
        padding: (before, after), applied to both spatial axes after the zero insertion.
        up: zero-insertion factor (each sample is followed by `up - 1` zeros).
        down: keep every `down`-th output sample.
        gain: overall gain of the filter (4 for 2x upsampling keeps the signal level).
    """
    if up > 1:
        x = zero_insert(x, up)
    channels = x.shape[-1]
    f = tf.constant(resample_filter_2d() * gain, dtype=x.dtype)
    f = tf.tile(f[:, :, None, None], [1, 1, channels, 1])
    # The filter is symmetric, so correlation (what depthwise_conv2d does) equals convolution. Explicit
    # padding inside the convolution saves a padded copy of the activations.
    return tf.nn.depthwise_conv2d(x, f, strides=[1, down, down, 1], padding=_explicit(padding))


def _explicit(padding):
    """(before, after) on both spatial axes -> the explicit NHWC padding list of tf.nn convolutions."""
    p0, p1 = padding
    return [[0, 0], [p0, p1], [p0, p1], [0, 0]]


def upsample2d(x):
    """2x upsampling with the FIR filter (reference `upsample2d`): output exactly [2H, 2W]."""
    return upfirdn2d(x, padding=(2, 1), up=2, gain=4.0)


def conv2d(x, kernel, up=1, down=1):
    """3x3 / 1x1 convolution with the reference `conv2d_resample` padding conventions.

    `kernel` is [kh, kw, in_channels_per_group, out_channels] (correlation, like `tf.nn.conv2d`). When
    the input has G times more channels than the kernel, the convolution is grouped (as `tf.nn.conv2d`
    infers): input channel block g meets output channel block g.

    * up=2 (3x3 only): transposed convolution with stride 2 and no padding (output 2H+1), then the FIR
      with padding 1 and gain 4 (output 2H).
    * down=2, 3x3: FIR with padding 2 (no decimation), then a stride-2 VALID convolution.
    * down=2, 1x1: FIR with padding 1 and decimation by 2, then the 1x1 convolution.
    * otherwise: "same" padding (k // 2).
    """
    kh = kernel.shape[0]
    if up > 1:
        if up != 2:
            raise ValueError(f"Only up=2 is supported, got up={up}.")
        if x.shape[-1] == kernel.shape[2]:
            n, h, w, _ = tf.unstack(tf.shape(x))
            out_channels = kernel.shape[-1]
            transposed = tf.transpose(kernel, [0, 1, 3, 2])
            output_shape = tf.stack([n, 2 * h + kh - 2, 2 * w + kh - 2, out_channels])
            x = tf.nn.conv2d_transpose(x, transposed, output_shape=output_shape,
                                       strides=2, padding="VALID")
        else:
            # TF has no grouped transposed convolution: the same result is a zero-inserted input, padded by
            # k - 1 on both sides, correlated with the spatially flipped kernel.
            x = tf.nn.conv2d(zero_insert(x, 2), tf.reverse(kernel, axis=[0, 1]), strides=1,
                             padding=_explicit((kh - 1, kh - 2)))
        return upfirdn2d(x, padding=(1, 1), gain=4.0)
    if down > 1:
        if down != 2:
            raise ValueError(f"Only down=2 is supported, got down={down}.")
        if kh == 1:
            x = upfirdn2d(x, padding=(1, 1), down=2)
            return tf.nn.conv2d(x, kernel, strides=1, padding="VALID")
        x = upfirdn2d(x, padding=(2, 2))
        return tf.nn.conv2d(x, kernel, strides=2, padding="VALID")
    return tf.nn.conv2d(x, kernel, strides=1, padding=_explicit((kh // 2, kh // 2)))


def fused_multiply_add(a, b, c):
    """a * b + c rounded once, as the fused multiply-add that PyTorch's CPU kernels use.

    For float32 the product is exact in float64 and the sum is rounded there and then to float32: the same value
    as a true fma but for rare double-rounding ties. Other dtypes round the product too.
    """
    if c.dtype != tf.float32:
        return a * b + c
    wide = tf.cast(a, tf.float64) * tf.cast(b, tf.float64) + tf.cast(c, tf.float64)
    return tf.cast(wide, tf.float32)


def lerp(start, end, weight):
    """torch.lerp's arithmetic, so that running averages round as the reference's do.

    fma(w, end - start, start) for |w| < 0.5, else fma(w - 1, end - start, end), with w a Python float rounded to
    the tensors' dtype first.
    """
    w = tf.constant(weight, start.dtype)
    if abs(weight) < 0.5:
        return fused_multiply_add(w, end - start, start)
    return fused_multiply_add(w - 1, end - start, end)


def normalize_2nd_moment(x, eps=1e-8):
    """Scales each row to unit mean square over the last axis."""
    return x * tf.math.rsqrt(tf.reduce_mean(tf.square(x), axis=-1, keepdims=True) + eps)


def modulated_conv2d(x, weight, styles, demodulate=True, up=1, fused=False):
    """Style-modulated convolution with optional demodulation (StyleGAN2).

    Args:
        x: [N, H, W, in_channels] activations (float32, float16 or bfloat16).
        weight: [kh, kw, in_channels, out_channels] raw kernel (float32).
        styles: [N, in_channels] per-sample styles (float32).
        demodulate: normalise each output channel of the modulated kernel to unit L2 norm.
        up: 1 or 2 (transposed convolution + FIR, see `conv2d`).
        fused: compute per-sample kernels and run one grouped convolution (the reference's inference
            path) instead of scaling the activations before and after a shared-kernel convolution (its
            training path, and the one that keeps the kernel a constant for export). Same mathematics;
            the results differ by float rounding only.
    """
    kh, kw, in_channels, out_channels = weight.shape
    if x.dtype == tf.float16 and demodulate:
        # Reference pre-normalisation that keeps float16 from overflowing; it cancels under demodulation.
        weight = weight * (1.0 / math.sqrt(in_channels * kh * kw)) / tf.reduce_max(
            tf.abs(weight), axis=[0, 1, 2], keepdims=True)
        styles = styles / tf.reduce_max(tf.abs(styles), axis=1, keepdims=True)
    dcoefs = None
    if demodulate:
        # sum_{i,k} (w_oik * s_i)^2 = sum_i s_i^2 * sum_k w_oik^2
        dcoefs = tf.math.rsqrt(tf.matmul(tf.square(styles), tf.reduce_sum(tf.square(weight), axis=[0, 1])) + 1e-8)
    if not fused:
        x = x * tf.cast(styles[:, None, None, :], x.dtype)
        x = conv2d(x, tf.cast(weight, x.dtype), up=up)
        if dcoefs is not None:
            x = x * tf.cast(dcoefs[:, None, None, :], x.dtype)
        return x
    # Per-sample kernels [N, kh, kw, I, O], run as one grouped convolution over [1, H, W, N*I].
    w = weight[None] * styles[:, None, None, :, None]
    if dcoefs is not None:
        w = w * dcoefs[:, None, None, None, :]
    batch = tf.shape(x)[0]
    h, wd = tf.shape(x)[1], tf.shape(x)[2]
    x = tf.reshape(tf.transpose(x, [1, 2, 0, 3]), [1, h, wd, batch * in_channels])
    w = tf.reshape(tf.transpose(w, [1, 2, 3, 0, 4]), [kh, kw, in_channels, batch * out_channels])
    x = conv2d(x, tf.cast(w, x.dtype), up=up)
    oh, ow = tf.shape(x)[1], tf.shape(x)[2]
    return tf.transpose(tf.reshape(x, [oh, ow, batch, out_channels]), [2, 0, 1, 3])


@keras.saving.register_keras_serializable(package="svgan_tf")
class DenseLayer(keras.layers.Layer):
    """Fully connected layer with equalised learning rate (reference `FullyConnectedLayer`).

    Args:
        in_features: input width.
        out_features: output width.
        bias: whether the layer has a bias.
        activation: "linear" or "lrelu" (with its sqrt(2) gain).
        lr_multiplier: learning-rate multiplier: parameters are initialised N(0, 1/lr_multiplier^2) and
            scaled by lr_multiplier / sqrt(in_features) (weights) and lr_multiplier (bias) at run time.
        bias_init: initial bias value (1 for style affines, so styles start around 1).
    """

    def __init__(self, in_features, out_features, bias=True, activation="linear", lr_multiplier=1.0,
                 bias_init=0.0, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.in_features = in_features
        self.out_features = out_features
        self.use_bias = bias
        self.activation = activation
        self.lr_multiplier = lr_multiplier
        self.bias_init = bias_init
        self.weight = self.add_weight(
            name="weight", shape=(in_features, out_features),
            initializer=keras.initializers.RandomNormal(stddev=1.0 / lr_multiplier))
        self.bias = self.add_weight(
            name="bias", shape=(out_features,),
            initializer=keras.initializers.Constant(bias_init)) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.built = True

    def call(self, x):
        """Computes in the dtype of `x` (float32 variables are cast to it)."""
        w = tf.cast(self.weight, x.dtype) * self.weight_gain
        b = None if self.bias is None else tf.cast(self.bias, x.dtype) * self.lr_multiplier
        return bias_act(tf.matmul(x, w), b, self.activation)

    def get_config(self):
        return {**super().get_config(), "in_features": self.in_features, "out_features": self.out_features,
                "bias": self.use_bias, "activation": self.activation, "lr_multiplier": self.lr_multiplier,
                "bias_init": self.bias_init}


@keras.saving.register_keras_serializable(package="svgan_tf")
class Conv2dLayer(keras.layers.Layer):
    """2-D convolution with equalised learning rate, optional 2x FIR downsampling, bias, activation, clamp.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: 1 or 3.
        bias: whether the layer has a bias.
        activation: "linear" or "lrelu".
        down: 1 or 2 (FIR low-pass then stride 2; see `conv2d`).
        conv_clamp: clamp the output to +-conv_clamp (times any extra gain); None disables it.
    """

    def __init__(self, in_channels, out_channels, kernel_size, bias=True, activation="linear", down=1,
                 conv_clamp=None, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.use_bias = bias
        self.activation = activation
        self.down = down
        self.conv_clamp = conv_clamp
        self.weight = self.add_weight(name="weight", shape=(kernel_size, kernel_size, in_channels, out_channels),
                                      initializer=keras.initializers.RandomNormal(stddev=1.0))
        self.bias = self.add_weight(name="bias", shape=(out_channels,), initializer="zeros") if bias else None
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.built = True

    def call(self, x, gain=1.0):
        x = tf.cast(x, self.compute_dtype)
        w = tf.cast(self.weight * self.weight_gain, x.dtype)
        x = conv2d(x, w, down=self.down)
        clamp = None if self.conv_clamp is None else self.conv_clamp * gain
        return bias_act(x, self.bias, self.activation, gain=ACTIVATION_GAINS[self.activation] * gain, clamp=clamp)

    def get_config(self):
        return {**super().get_config(), "in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": self.kernel_size, "bias": self.use_bias, "activation": self.activation,
                "down": self.down, "conv_clamp": self.conv_clamp}


@keras.saving.register_keras_serializable(package="svgan_tf")
class Conv1dLayer(keras.layers.Layer):
    """Unpadded 1-D convolution over a token sequence with equalised learning rate (reference `EqLRConv1d`).

    The reference applies a plain leaky ReLU here, *without* the sqrt(2) gain used everywhere else, and
    no clamp.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: taps; the output is `kernel_size - 1` tokens shorter than the input.
        activation: "linear" or "lrelu".
        lr_multiplier: learning-rate multiplier (0.01 in the motion mapping network).
    """

    def __init__(self, in_channels, out_channels, kernel_size, activation="linear", lr_multiplier=1.0, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.activation = activation
        self.lr_multiplier = lr_multiplier
        self.weight = self.add_weight(name="weight", shape=(kernel_size, in_channels, out_channels),
                                      initializer=keras.initializers.RandomNormal(stddev=1.0 / lr_multiplier))
        self.bias = self.add_weight(name="bias", shape=(out_channels,), initializer="zeros")
        self.weight_gain = lr_multiplier / math.sqrt(in_channels * kernel_size)
        self.built = True

    def call(self, x):
        """[B, L, in_channels] -> [B, L - kernel_size + 1, out_channels], in the dtype of `x`."""
        y = tf.nn.conv1d(x, tf.cast(self.weight, x.dtype) * self.weight_gain, stride=1, padding="VALID")
        return bias_act(y, tf.cast(self.bias, x.dtype) * self.lr_multiplier, self.activation, gain=1.0)

    def get_config(self):
        return {**super().get_config(), "in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": self.kernel_size, "activation": self.activation,
                "lr_multiplier": self.lr_multiplier}


def minibatch_stddev(x, group_size, num_channels=1):
    """Appends the minibatch standard deviation as extra channels (reference `MinibatchStdLayer`).

    Sample i belongs to group `i mod (N / G)` (the reference reshapes the batch as [G, N/G, ...]); each
    group's per-feature std over its G members, averaged over channels and pixels, becomes
    `num_channels` constant feature maps appended after the input channels.

    Args:
        x: [N, H, W, C]; N must be divisible by min(group_size, N).
        group_size: G (the effective size is min(G, N); None: the whole batch).
        num_channels: F, the number of channel groups (and of appended channels).
    """
    n = tf.shape(x)[0]
    h, w, c = x.shape[1], x.shape[2], x.shape[3]
    g = n if group_size is None else tf.minimum(group_size, n)
    tf.debugging.assert_equal(n % g, 0, message="minibatch_stddev: batch size must be divisible by the group size")
    y = tf.reshape(x, [g, -1, h, w, num_channels, c // num_channels])
    y = y - tf.reduce_mean(y, axis=0)
    y = tf.sqrt(tf.reduce_mean(tf.square(y), axis=0) + 1e-8)  # [n, H, W, F, c]
    y = tf.reduce_mean(y, axis=[1, 2, 4])  # [n, F]
    y = tf.tile(y[:, None, None, :], [g, h, w, 1])  # [N, H, W, F]
    return tf.concat([x, y], axis=-1)
