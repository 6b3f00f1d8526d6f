"""Unit tests of svgan_tf.networks.layers against direct NumPy evaluations of the reference formulas."""

import fractions
import math

import numpy as np
import pytest
import tensorflow as tf

from svgan_tf.networks import layers

RNG = np.random.default_rng(0)


def np_upfirdn2d(x, up=1, pad=(0, 0), down=1, gain=1.0):
    """NumPy upfirdn2d on NHWC: zero insertion, padding, FIR convolution, decimation."""
    n, h, w, c = x.shape
    if up > 1:
        z = np.zeros((n, h * up, w * up, c), x.dtype)
        z[:, ::up, ::up] = x
        x = z
    x = np.pad(x, [(0, 0), pad, pad, (0, 0)])
    f = layers.resample_filter_2d() * gain
    kh, kw = f.shape
    out = np.zeros((n, x.shape[1] - kh + 1, x.shape[2] - kw + 1, c), np.float64)
    for i in range(kh):
        for j in range(kw):
            out += f[kh - 1 - i, kw - 1 - j] * x[:, i:i + out.shape[1], j:j + out.shape[2]]  # true convolution
    return out[:, ::down, ::down]


def np_conv2d(x, k, stride=1):
    """NumPy VALID correlation, NHWC x [kh, kw, I, O] kernel."""
    kh, kw = k.shape[:2]
    oh = (x.shape[1] - kh) // stride + 1
    ow = (x.shape[2] - kw) // stride + 1
    out = np.zeros((x.shape[0], oh, ow, k.shape[3]), np.float64)
    for i in range(kh):
        for j in range(kw):
            patch = x[:, i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride]
            out += patch @ k[i, j]
    return out


def np_conv_transpose2d(x, k):
    """NumPy stride-2 transposed convolution with no padding: output 2H + kh - 2 (adjoint of correlation)."""
    n, h, w, _ = x.shape
    kh, kw, _, o = k.shape
    out = np.zeros((n, 2 * h + kh - 2, 2 * w + kw - 2, o))
    for i in range(kh):
        for j in range(kw):
            out[:, i:i + 2 * h:2, j:j + 2 * w:2] += x @ k[i, j]
    return out


def test_resample_filter_is_normalised_binomial():
    f = layers.resample_filter_2d()
    np.testing.assert_allclose(f.sum(), 1.0, rtol=1e-7)
    np.testing.assert_allclose(f[0], np.array([1, 3, 3, 1]) / 64.0)


def test_bias_act_gain_then_clamp():
    x = tf.constant([[-4.0, -1.0, 0.5, 3.0]])
    b = tf.constant([1.0, 0.0, 0.0, -1.0])
    out = layers.bias_act(x, b, "lrelu", clamp=2.0).numpy()
    expected = np.array([-3.0 * 0.2, -1.0 * 0.2, 0.5, 2.0]) * math.sqrt(2)
    np.testing.assert_allclose(out, np.clip(expected, -2.0, 2.0)[None], rtol=1e-6)
    assert out[0, 3] == pytest.approx(2.0)  # clamped after the sqrt(2) gain, not before
    np.testing.assert_allclose(layers.bias_act(x, b, "linear", gain=3.0).numpy(), (x + b).numpy() * 3.0)
    with pytest.raises(ValueError, match="activation"):
        layers.bias_act(x, activation="relu")


@pytest.mark.parametrize("up,pad,down,gain", [(1, (1, 1), 2, 1.0), (1, (2, 2), 1, 1.0), (2, (2, 1), 1, 4.0),
                                               (1, (1, 1), 1, 4.0)])
def test_upfirdn2d_matches_numpy(up, pad, down, gain):
    x = RNG.normal(size=(2, 8, 8, 3)).astype(np.float32)
    ours = layers.upfirdn2d(tf.constant(x), padding=pad, up=up, down=down, gain=gain).numpy()
    np.testing.assert_allclose(ours, np_upfirdn2d(x, up, pad, down, gain), atol=1e-5)


def test_upsample2d_shape_and_dc_gain():
    x = np.ones((1, 6, 6, 2), np.float32)
    y = layers.upsample2d(tf.constant(x)).numpy()
    assert y.shape == (1, 12, 12, 2)
    np.testing.assert_allclose(y[:, 2:-2, 2:-2], 1.0, rtol=1e-6)  # a constant stays constant away from borders


@pytest.mark.parametrize("kernel,down", [(3, 2), (1, 2), (3, 1), (1, 1)])
def test_conv2d_down_conventions(kernel, down):
    x = RNG.normal(size=(2, 8, 8, 4)).astype(np.float32)
    k = RNG.normal(size=(kernel, kernel, 4, 5)).astype(np.float32)
    ours = layers.conv2d(tf.constant(x), tf.constant(k), down=down).numpy()
    if down == 2 and kernel == 3:
        expected = np_conv2d(np_upfirdn2d(x, pad=(2, 2)), k, stride=2)
    elif down == 2:
        expected = np_conv2d(np_upfirdn2d(x, pad=(1, 1), down=2), k)
    else:
        p = kernel // 2
        expected = np_conv2d(np.pad(x, [(0, 0), (p, p), (p, p), (0, 0)]), k)
    assert ours.shape == (2, 8 // down, 8 // down, 5)
    np.testing.assert_allclose(ours, expected, atol=1e-4)


def test_conv2d_up_is_transposed_conv_then_fir():
    x = RNG.normal(size=(2, 5, 5, 3)).astype(np.float32)
    k = RNG.normal(size=(3, 3, 3, 4)).astype(np.float32)
    ours = layers.conv2d(tf.constant(x), tf.constant(k), up=2).numpy()
    expected = np_upfirdn2d(np_conv_transpose2d(x, k), pad=(1, 1), gain=4.0)
    assert ours.shape == (2, 10, 10, 4)
    np.testing.assert_allclose(ours, expected, atol=1e-4)


def np_modulated_conv(x, weight, styles, demodulate, up):
    """Per-sample modulated kernels, each sample convolved on its own (the definition)."""
    outs = []
    for n in range(x.shape[0]):
        w = weight * styles[n][None, None, :, None]
        if demodulate:
            w = w / np.sqrt((w ** 2).sum(axis=(0, 1, 2), keepdims=True) + 1e-8)
        xn = x[n:n + 1]
        if up == 2:
            outs.append(np_upfirdn2d(np_conv_transpose2d(xn, w), pad=(1, 1), gain=4.0))
        else:
            p = w.shape[0] // 2
            outs.append(np_conv2d(np.pad(xn, [(0, 0), (p, p), (p, p), (0, 0)]), w))
    return np.concatenate(outs)


@pytest.mark.parametrize("up,demodulate,kernel", [(1, True, 3), (2, True, 3), (1, False, 1)])
@pytest.mark.parametrize("fused", [False, True])
def test_modulated_conv2d_fused_and_unfused_match_definition(up, demodulate, kernel, fused):
    x = RNG.normal(size=(3, 6, 6, 4)).astype(np.float32)
    weight = RNG.normal(size=(kernel, kernel, 4, 5)).astype(np.float32)
    styles = RNG.normal(size=(3, 4)).astype(np.float32)
    ours = layers.modulated_conv2d(tf.constant(x), tf.constant(weight), tf.constant(styles), demodulate=demodulate,
                                   up=up, fused=fused).numpy()
    np.testing.assert_allclose(ours, np_modulated_conv(x, weight, styles, demodulate, up), atol=2e-4)


def test_fused_equals_unfused():
    x = tf.random.normal([4, 8, 8, 6], seed=1)
    weight = tf.random.normal([3, 3, 6, 7], seed=2)
    styles = tf.random.normal([4, 6], seed=3)
    for up in (1, 2):
        a = layers.modulated_conv2d(x, weight, styles, up=up, fused=True).numpy()
        b = layers.modulated_conv2d(x, weight, styles, up=up, fused=False).numpy()
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_float16_modulated_conv_prenormalisation_keeps_result():
    x = RNG.normal(size=(2, 6, 6, 4)).astype(np.float32)
    weight = (RNG.normal(size=(3, 3, 4, 5)) * 300).astype(np.float32)  # would overflow float16 without it
    styles = (RNG.normal(size=(2, 4)) * 300).astype(np.float32)
    ref = layers.modulated_conv2d(tf.constant(x), tf.constant(weight), tf.constant(styles)).numpy()
    half = layers.modulated_conv2d(tf.constant(x, tf.float16), tf.constant(weight), tf.constant(styles)).numpy()
    assert np.all(np.isfinite(half))
    np.testing.assert_allclose(half.astype(np.float32), ref, atol=2e-2 * np.abs(ref).max())


def test_dense_layer_equalised_lr():
    layer = layers.DenseLayer(4, 3, activation="lrelu", lr_multiplier=0.01, bias_init=0.5)
    w = RNG.normal(size=(4, 3)).astype(np.float32)
    b = RNG.normal(size=(3,)).astype(np.float32)
    layer.weight.assign(w)
    layer.bias.assign(b)
    x = RNG.normal(size=(2, 4)).astype(np.float32)
    pre = x @ (w * 0.01 / 2.0) + b * 0.01
    expected = np.where(pre >= 0, pre, 0.2 * pre) * math.sqrt(2)
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-5, atol=1e-7)
    fresh = layers.DenseLayer(128, 128, lr_multiplier=0.01, bias_init=0.5)
    np.testing.assert_allclose(fresh.bias.numpy(), 0.5)
    assert 95 < np.std(fresh.weight.numpy()) < 105  # raw parameters ~ N(0, 1 / lr_multiplier^2)


def test_conv1d_has_no_sqrt2_gain_and_no_padding():
    layer = layers.Conv1dLayer(2, 3, 5, activation="lrelu", lr_multiplier=0.01)
    w = RNG.normal(size=(5, 2, 3)).astype(np.float32)
    layer.weight.assign(w)
    layer.bias.assign(np.array([0.1, -0.2, 0.3], np.float32))
    x = RNG.normal(size=(1, 9, 2)).astype(np.float32)
    out = layer(x).numpy()
    assert out.shape == (1, 5, 3)
    gain = 0.01 / math.sqrt(2 * 5)
    bias = np.array([0.1, -0.2, 0.3]) * 0.01
    pre = np.stack([np.einsum("ki,kio->o", x[0, i:i + 5], w * gain) for i in range(5)]) + bias
    np.testing.assert_allclose(out[0], np.where(pre >= 0, pre, 0.2 * pre), rtol=1e-5, atol=1e-7)


def test_conv2d_layer_gain_scales_clamp():
    layer = layers.Conv2dLayer(2, 2, 1, activation="linear", conv_clamp=1.0)
    layer.weight.assign(np.eye(2, dtype=np.float32)[None, None] * math.sqrt(2))  # runtime gain 1/sqrt(2) -> identity
    x = np.full((1, 2, 2, 2), 10.0, np.float32)
    np.testing.assert_allclose(layer(x).numpy(), 1.0)  # clamp 1
    np.testing.assert_allclose(layer(x, gain=0.5).numpy(), 0.5)  # clamp scales with the gain: 1 * 0.5


def test_minibatch_stddev_matches_numpy_grouping():
    x = RNG.normal(size=(8, 4, 4, 6)).astype(np.float32)
    out = layers.minibatch_stddev(tf.constant(x), group_size=4, num_channels=2).numpy()
    assert out.shape == (8, 4, 4, 8)
    g = 4
    grouped = x.reshape(g, 2, 4, 4, 2, 3)  # sample i is in group i mod 2
    std = np.sqrt(grouped.var(axis=0) + 1e-8).mean(axis=(1, 2, 4))  # [2 groups, 2 channel groups]
    for i in range(8):
        np.testing.assert_allclose(out[i, :, :, 6:], np.broadcast_to(std[i % 2], (4, 4, 2)), rtol=1e-5)
    np.testing.assert_array_equal(out[..., :6], x)
    small = layers.minibatch_stddev(tf.constant(x[:2]), group_size=4).numpy()  # group clipped to the batch
    assert small.shape == (2, 4, 4, 7)


def _plain_bias_act(x, b, gain, clamp):
    return tf.clip_by_value(tf.nn.leaky_relu(x + b, alpha=0.2) * gain, -clamp, clamp)


def test_bias_act_gradients_match_autodiff_to_second_order():
    x = tf.constant(RNG.normal(size=(3, 4, 4, 5)) * 3.0, tf.float32)
    b = tf.constant(RNG.normal(size=(5,)), tf.float32)
    w = tf.Variable(1.3)

    def grads(f):
        with tf.GradientTape() as outer:
            with tf.GradientTape(persistent=True) as inner:
                inner.watch([x, b])
                y = f(w * x, b)
                total = tf.reduce_sum(y * tf.range(1.0, 6.0))
            dx, db = inner.gradient(total, [x, b])
            penalty = tf.reduce_sum(tf.square(dx))  # an R1-like second-order term
        return y, dx, db, outer.gradient(penalty, w)

    ours = grads(lambda v, b: layers.bias_act(v, b, "lrelu", clamp=2.0))
    plain = grads(lambda v, b: _plain_bias_act(v, b, math.sqrt(2), 2.0))
    assert 0 < np.mean(np.abs(ours[0].numpy()) >= 2.0 - 1e-6) < 1  # the clamp is active somewhere
    for a, p in zip(ours, plain):
        np.testing.assert_allclose(a.numpy(), p.numpy(), rtol=1e-5, atol=1e-6)


def _nearest_float32(exact):
    """The float32 nearest to a Fraction (ties to even), from the candidates around its float64 rounding."""
    guess = np.float32(float(exact))
    candidates = [np.nextafter(guess, np.float32(-np.inf)), guess, np.nextafter(guess, np.float32(np.inf))]
    return min(candidates, key=lambda c: (abs(fractions.Fraction(float(c)) - exact), int(c.view(np.int32)) & 1))


def test_lerp_rounds_once_as_torch_lerp():
    rng = np.random.default_rng(0)
    start, end = (rng.standard_normal(300).astype(np.float32) for _ in range(2))
    for weight in (0.995, 0.25):
        w = np.float32(weight)
        ours = layers.lerp(tf.constant(start), tf.constant(end), weight).numpy()
        diff = (end - start).astype(np.float32)  # rounded, as in torch
        exact = fractions.Fraction
        expected = [_nearest_float32(exact(float(w - 1)) * exact(float(d)) + exact(float(e)))
                    if weight >= 0.5 else
                    _nearest_float32(exact(float(w)) * exact(float(d)) + exact(float(s)))
                    for s, e, d in zip(start, end, diff)]
        np.testing.assert_array_equal(ours, np.array(expected, np.float32))
    np.testing.assert_array_equal(layers.lerp(tf.constant(start), tf.constant(end), 1.0).numpy(), end)
