"""Tests of the video-consistent ADA pipeline (`svgan_tf.training.augment`)."""

import math

import numpy as np
import pytest
import tensorflow as tf

from svgan_tf.training import augment
from svgan_tf.training.augment import AugmentPipe, apply_color, apply_geometric, augment_pipe

SHAPE = [2, 3, 16, 16, 3]
SEED = tf.constant([3, 7], tf.int32)


def _clips(shape=SHAPE, seed=0, dtype=np.float32):
    return tf.constant(np.random.default_rng(seed).uniform(-1, 1, size=shape).astype(dtype))


def _smooth_clips(batch, k, size):
    """Low-frequency content, on which the resampling chain is close to an ideal interpolator."""
    y, x = np.meshgrid(np.linspace(-1, 1, size), np.linspace(-1, 1, size), indexing="ij")
    rng = np.random.default_rng(1)
    clips = np.zeros([batch, k, size, size, 3], np.float32)
    for b in range(batch):
        for f in range(k):
            for c in range(3):
                a, bx, by = rng.uniform(-1.5, 1.5, 3)
                clips[b, f, :, :, c] = 0.5 * np.sin(bx * x + by * y + a) + 0.3 * x * y
    return tf.constant(clips)


# A direct NumPy transcription of the reference's geometric execution (batch-wide reflect padding,
# upfirdn2d upsampling, grid_sample with zeros outside, downsampling), for tiny NCHW inputs.
_F = np.asarray(augment.SYM6) / np.sum(augment.SYM6)


def _t2(tx, ty):
    return np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]], np.float64)


def _s2(sx, sy):
    return np.array([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], np.float64)


def _r2(theta):
    c, s = math.cos(theta), math.sin(theta)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]], np.float64)


def _np_up(x, axis):
    n = x.shape[axis]
    z = np.zeros(x.shape[:axis] + (2 * n,) + x.shape[axis + 1:])
    index = [slice(None)] * x.ndim
    index[axis] = slice(0, None, 2)
    z[tuple(index)] = x
    pad = [(0, 0)] * x.ndim
    pad[axis] = (6, 5)
    z = np.pad(z, pad)
    taps = _F[::-1] * 2  # upfirdn2d convolves (flipped filter), gain 4 split over two axes
    return sum(taps[t] * np.take(z, np.arange(t, t + 2 * n), axis=axis) for t in range(12))


def _np_down(x, axis):
    x = np.take(x, np.arange(1, x.shape[axis] - 1), axis=axis)
    m = x.shape[axis] - 11
    out = sum(_F[t] * np.take(x, np.arange(t, t + m), axis=axis) for t in range(12))
    return np.take(out, np.arange(0, m, 2), axis=axis)


def _np_reference_geometric(x, g_inv):
    batch, _, h, w = x.shape
    cx, cy = (w - 1) / 2, (h - 1) / 2
    corners = g_inv @ np.array([[-cx, -cy, 1], [cx, -cy, 1], [cx, cy, 1], [-cx, cy, 1]]).T
    margin = corners[:, :2, :].transpose(1, 0, 2).reshape(2, -1)
    margin = np.concatenate([-margin, margin]).max(axis=1) + np.array([6 - cx, 6 - cy] * 2)
    margin = np.minimum(np.maximum(margin, 0), [w - 1, h - 1] * 2)
    mx0, my0, mx1, my1 = np.ceil(margin).astype(int)
    x = np.pad(x, ((0, 0), (0, 0), (my0, my1), (mx0, mx1)), mode="reflect")
    g = _t2((mx0 - mx1) / 2, (my0 - my1) / 2) @ g_inv
    x = _np_up(_np_up(x, 2), 3)
    g = _t2(-0.5, -0.5) @ _s2(2, 2) @ g @ _s2(0.5, 0.5) @ _t2(0.5, 0.5)
    hu, wu = x.shape[2:]
    ho, wo = (h + 6) * 2, (w + 6) * 2
    g = _s2(2 / wu, 2 / hu) @ g @ _s2(wo / 2, ho / 2)
    gx, gy = np.meshgrid((2 * np.arange(wo) + 1) / wo - 1, (2 * np.arange(ho) + 1) / ho - 1)
    out = np.zeros([batch, x.shape[1], ho, wo])
    for b in range(batch):
        ix = ((g[b, 0, 0] * gx + g[b, 0, 1] * gy + g[b, 0, 2] + 1) * wu - 1) / 2
        iy = ((g[b, 1, 0] * gx + g[b, 1, 1] * gy + g[b, 1, 2] + 1) * hu - 1) / 2
        x0, y0 = np.floor(ix).astype(int), np.floor(iy).astype(int)
        fx, fy = ix - x0, iy - y0

        def tap(yy, xx):
            inside = (yy >= 0) & (yy < hu) & (xx >= 0) & (xx < wu)
            return x[b][:, np.clip(yy, 0, hu - 1), np.clip(xx, 0, wu - 1)] * inside

        out[b] = (tap(y0, x0) * (1 - fx) * (1 - fy) + tap(y0, x0 + 1) * fx * (1 - fy)
                  + tap(y0 + 1, x0) * (1 - fx) * fy + tap(y0 + 1, x0 + 1) * fx * fy)
    return _np_down(_np_down(out, 2), 3)


@pytest.mark.parametrize("transforms", [
    [np.eye(3), _s2(-1, 1), _r2(math.pi / 2), _t2(-2, 3)],
    [_r2(0.3) @ _s2(1.1, 0.9) @ _t2(0.7, -1.3), _r2(-0.2) @ _s2(0.95, 1.05), _t2(1.4, 0.6),
     _s2(1.1, 1.1) @ _r2(2.5)],
])
def test_geometric_matches_reference_algorithm(transforms):
    """Inside the reference's padding margin the periodic reflection gives the reference's numbers."""
    g_inv = np.stack(transforms)
    x = np.random.default_rng(0).normal(size=(len(transforms), 6, 16, 12))
    expected = _np_reference_geometric(x, g_inv)
    got = apply_geometric(tf.constant(x.transpose(0, 2, 3, 1), tf.float32), tf.constant(g_inv, tf.float32))
    np.testing.assert_allclose(got.numpy().transpose(0, 3, 1, 2), expected, atol=2e-5)


def test_p0_is_exact_identity():
    clips = _clips()
    out = augment_pipe("bgc")(clips, tf.constant(0.0), SEED)
    assert out.dtype == clips.dtype and out.shape == clips.shape
    np.testing.assert_array_equal(out.numpy(), clips.numpy())


def test_p1_changes_every_clip_and_keeps_shape():
    clips = _clips([4, 3, 16, 16, 3])
    out = augment_pipe("bgc")(clips, tf.constant(1.0), SEED).numpy()
    assert out.shape == tuple(clips.shape) and np.all(np.isfinite(out))
    assert np.all(np.abs(out - clips.numpy()).max(axis=(1, 2, 3, 4)) > 1e-2)


def test_seed_determinism():
    clips = _clips()
    pipe = augment_pipe("bgc")
    a = pipe(clips, tf.constant(0.7), SEED).numpy()
    b = pipe(clips, tf.constant(0.7), tf.constant([3, 7], tf.int64)).numpy()
    c = pipe(clips, tf.constant(0.7), tf.constant([3, 8], tf.int32)).numpy()
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-2


def test_identical_frames_stay_identical():
    frame = _clips([3, 1, 16, 16, 3])
    out = augment_pipe("bgc")(tf.tile(frame, [1, 4, 1, 1, 1]), tf.constant(1.0), SEED).numpy()
    for j in range(1, 4):
        np.testing.assert_allclose(out[:, j], out[:, 0], atol=1e-6)


def test_frames_share_the_clip_transform():
    """The draws depend on the batch only, so augmenting each frame alone reproduces the clip's frames."""
    clips = _clips([3, 3, 16, 16, 3])
    pipe = augment_pipe("bgc")
    together = pipe(clips, tf.constant(1.0), SEED).numpy()
    for j in range(3):
        alone = pipe(clips[:, j:j + 1], tf.constant(1.0), SEED).numpy()
        np.testing.assert_allclose(alone[:, 0], together[:, j], atol=1e-5)


def _best_match(out, candidates, crop=3):
    """Index of, and error to, the candidate closest to `out` away from the reflected borders."""
    inner = (slice(None), slice(crop, -crop), slice(crop, -crop))
    errors = [np.abs(out - c)[inner].max() for c in candidates]
    return int(np.argmin(errors)), min(errors)


def test_xflip_mirrors():
    clips = _smooth_clips(8, 2, 24)
    out = AugmentPipe(xflip=1)(clips, tf.constant(1.0), SEED).numpy()
    chosen = []
    for b, clip in enumerate(clips.numpy()):
        index, error = _best_match(out[b], [clip, clip[:, :, ::-1]])
        chosen.append(index)
        assert error < 2e-2
    assert set(chosen) == {0, 1}


def test_rotate90_rotates_by_quarter_turns():
    clips = _smooth_clips(8, 2, 24)
    out = AugmentPipe(rotate90=1)(clips, tf.constant(1.0), SEED).numpy()
    chosen = []
    for b, clip in enumerate(clips.numpy()):
        index, error = _best_match(out[b], [np.rot90(clip, i, axes=(1, 2)) for i in range(4)])
        chosen.append(index)
        assert error < 2e-2
    assert len(set(chosen)) > 1


def test_integer_translation_moves_content_exactly():
    clips = _clips([8, 2, 16, 16, 3])
    out = AugmentPipe(xint=1)(clips, tf.constant(1.0), SEED).numpy()
    shifts = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)]
    moved = 0
    for b, clip in enumerate(clips.numpy()):
        index, error = _best_match(out[b], [np.roll(clip, s, axis=(1, 2)) for s in shifts])
        assert error < 1e-5
        moved += shifts[index] != (0, 0)
    assert moved > 0


def test_brightness_adds_one_constant_per_clip():
    clips = _clips([4, 3, 8, 8, 3])
    delta = AugmentPipe(brightness=1)(clips, tf.constant(1.0), SEED).numpy() - clips.numpy()
    per_clip = delta.reshape(4, -1)
    np.testing.assert_allclose(per_clip, per_clip[:, :1] * np.ones_like(per_clip), atol=1e-6)
    assert np.abs(per_clip[:, 0]).max() > 1e-3


def test_contrast_scales_by_one_constant_per_clip():
    clips = _clips([4, 3, 8, 8, 3])
    ratio = (AugmentPipe(contrast=1)(clips, tf.constant(1.0), SEED).numpy() / clips.numpy()).reshape(4, -1)
    np.testing.assert_allclose(ratio, ratio[:, :1] * np.ones_like(ratio), rtol=1e-4)


def test_hue_and_saturation_keep_luma_and_lumaflip_negates_it():
    clips = _clips([6, 2, 8, 8, 3])
    luma = clips.numpy().mean(axis=-1)
    for name in ("hue", "saturation"):
        out = AugmentPipe(**{name: 1})(clips, tf.constant(1.0), SEED).numpy()
        np.testing.assert_allclose(out.mean(axis=-1), luma, atol=1e-5)
    out = AugmentPipe(lumaflip=1)(clips, tf.constant(1.0), SEED).numpy()
    out_luma = out.mean(axis=-1)
    for b in range(6):
        flipped = np.allclose(out_luma[b], -luma[b], atol=1e-5)
        assert flipped or np.allclose(out[b], clips.numpy()[b], atol=1e-6)
        if flipped:  # a reflection along the luma axis keeps the chroma part
            np.testing.assert_allclose(out[b] - out_luma[b][..., None],
                                       clips.numpy()[b] - luma[b][..., None], atol=1e-5)


def test_color_matrix_is_applied_per_rgb_triplet():
    clips = _clips([2, 3, 4, 4, 3])
    c_mat = np.random.default_rng(2).normal(size=(2, 4, 4)).astype(np.float32)
    out = apply_color(clips, tf.constant(c_mat)).numpy()
    expected = np.einsum("bij,bkhwj->bkhwi", c_mat[:, :3, :3], clips.numpy())
    expected += c_mat[:, None, None, None, :3, 3]
    np.testing.assert_allclose(out, expected, atol=1e-5)


@pytest.mark.parametrize("p, expected", [(1.0, 0.5), (0.5, 0.25)])
def test_xflip_probability(p, expected):
    """A flip is applied with probability p, and an applied flip picks mirror / no mirror 50:50."""
    clips = tf.tile(tf.constant([[0.0, 1.0]], tf.float32)[None, None, :, :, None], [400, 1, 2, 1, 3])
    out = AugmentPipe(xflip=1)(clips, tf.constant(p), SEED).numpy()
    flipped = out[:, 0, 0, 0, 0] > out[:, 0, 0, 1, 0]
    assert abs(flipped.mean() - expected) < 0.08


def test_transform_sampling_statistics():
    g_inv, c_mat = augment_pipe("bgc").sample_transforms(2000, 16, 16, tf.constant(0.0), SEED)
    np.testing.assert_allclose(g_inv.numpy(), np.broadcast_to(np.eye(3), [2000, 3, 3]), atol=1e-6)
    np.testing.assert_allclose(c_mat.numpy(), np.broadcast_to(np.eye(4), [2000, 4, 4]), atol=1e-6)
    _, c_mat = AugmentPipe(brightness=1).sample_transforms(4000, 16, 16, tf.constant(1.0), SEED)
    assert abs(np.std(c_mat.numpy()[:, 0, 3]) - 0.2) < 0.02


def test_first_order_gradient_matches_finite_differences():
    # Float64 clips: for a fixed seed the pipe is affine in the clips, so central differences are exact
    # up to rounding and any mismatch would come from a wrong gradient.
    clips = _clips([2, 2, 6, 6, 3], dtype=np.float64)
    weights = _clips([2, 2, 6, 6, 3], seed=5, dtype=np.float64)
    direction = _clips([2, 2, 6, 6, 3], seed=6, dtype=np.float64)
    pipe = augment_pipe("bgc")

    def loss(x):
        return tf.reduce_sum(weights * pipe(x, tf.constant(1.0), SEED) ** 2)

    with tf.GradientTape() as tape:
        tape.watch(clips)
        value = loss(clips)
    grad = tape.gradient(value, clips)
    eps = 1e-4
    numeric = (loss(clips + eps * direction) - loss(clips - eps * direction)) / (2 * eps)
    np.testing.assert_allclose(tf.reduce_sum(grad * direction).numpy(), numeric.numpy(), rtol=1e-6)


def test_second_order_r1_style_gradient():
    clips = _clips([2, 2, 8, 8, 3])
    w = tf.Variable(tf.random.stateless_normal([3], [1, 2]))
    pipe = augment_pipe("bgc")

    @tf.function
    def r1_grad(weights):
        with tf.GradientTape() as outer:
            outer.watch(weights)
            with tf.GradientTape() as inner:
                inner.watch(clips)
                logits = tf.reduce_sum(tf.tanh(pipe(clips, tf.constant(1.0), SEED) * weights))
            penalty = tf.reduce_sum(tf.square(inner.gradient(logits, clips)))
        return penalty, outer.gradient(penalty, weights)

    penalty, grad = r1_grad(w)
    assert penalty.numpy() > 0
    # The second-order gradient through the augmentation equals the penalty's central difference along a
    # direction (the transforms are the same at every call: the seed is fixed).
    direction = tf.constant([0.3, -0.5, 0.8])
    eps = 1e-2
    numeric = (r1_grad(w + eps * direction)[0] - r1_grad(w - eps * direction)[0]) / (2 * eps)
    np.testing.assert_allclose(tf.reduce_sum(grad * direction).numpy(), numeric.numpy(), rtol=2e-4)  # measured: 2.4e-6


def test_xla_compiles_and_matches_eager_for_given_transforms():
    clips = _clips()
    pipe = augment_pipe("bgc")
    g_inv, c_mat = pipe.sample_transforms(2, 16, 16, tf.constant(1.0), SEED)
    frames = tf.reshape(tf.transpose(clips, [0, 2, 3, 1, 4]), [2, 16, 16, 9])

    def both(x, g, c):
        return apply_geometric(x, g), apply_color(clips, c)

    for eager, compiled in zip(both(frames, g_inv, c_mat),
                               tf.function(both, jit_compile=True)(frames, g_inv, c_mat)):
        np.testing.assert_allclose(compiled.numpy(), eager.numpy(), atol=1e-5)

    # XLA draws different (but equally deterministic) Philox numbers than the TF kernels, so the
    # whole pipe is only compared with itself.
    p = tf.Variable(0.6)
    run = tf.function(lambda x, s: pipe(x, p, s), jit_compile=True)
    np.testing.assert_array_equal(run(clips, SEED).numpy(), run(clips, SEED).numpy())
    p.assign(0.0)
    np.testing.assert_array_equal(run(clips, SEED).numpy(), clips.numpy())


def test_runs_under_a_distribution_strategy():
    clips = _clips()
    pipe = augment_pipe("bgc")
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    with strategy.scope():
        p = tf.Variable(0.6)
    out = strategy.run(tf.function(lambda x, s: pipe(x, p, s)), args=(clips, SEED))
    assert out.shape == clips.shape and np.all(np.isfinite(out.numpy()))


def test_config_and_presets():
    pipe = augment_pipe("bgc")
    config = pipe.get_config()
    assert config["xflip"] == 1 and config["saturation"] == 1 and config["xint_max"] == 0.125
    assert AugmentPipe(**config).get_config() == config
    assert augment_pipe("bgc", rotate=0).rotate == 0
    with pytest.raises(ValueError):
        augment_pipe("nope")
