"""Discriminator: clip logits, frame fusion, time conditioning, class conditioning, R1 gradients."""

import numpy as np
import pytest
import tensorflow as tf

from tests.support import tiny_discriminator


def _clips(batch=4, seed=0):
    frames = tf.random.stateless_normal([batch, 3, 32, 32, 3], seed=[seed, 0])
    t = tf.constant([[0.0, 1.0, 3.0], [2.0, 6.0, 10.0], [0.0, 8.0, 16.0], [5.0, 6.0, 7.0]][:batch])
    return frames, t


def test_channel_rules_at_the_fusion_resolution():
    D = tiny_discriminator()
    b16, b8 = D.blocks[1], D.blocks[2]  # channels(16) = 16 -> each frame keeps 16 // 2, three frames concatenated
    assert (b16.out_channels, b8.in_channels, b8.conv0.in_channels, b8.skip.in_channels) == (8, 24, 24, 24)
    assert D.mapping.embed.in_features == D.time_encoder.output_dim == 2 * (8 + 2 * 6)


def test_logits_depend_on_frame_order_and_time_gaps():
    D = tiny_discriminator()
    frames, t = _clips()
    logits = D(frames, t).numpy()
    assert logits.shape == (4,) and np.all(np.isfinite(logits))
    swapped = tf.gather(frames, [1, 0, 2], axis=1)
    assert not np.allclose(D(swapped, t).numpy(), logits)
    assert not np.allclose(D(frames, t + tf.constant([[0.0, 0.0, 1.0]])).numpy(), logits)


def test_rounding_of_time_gaps_is_half_to_even():
    D = tiny_discriminator(num_frames=2)
    enc = D.time_encoder
    emb = enc(tf.constant([[0.0, 2.5], [0.0, 3.5]])).numpy()
    table = enc.const_embed.numpy()
    np.testing.assert_array_equal(emb[0, :8], table[2])
    np.testing.assert_array_equal(emb[1, :8], table[4])


def test_bad_clips_are_clear_errors():
    D = tiny_discriminator()
    frames, t = _clips()
    with pytest.raises(ValueError, match="3 frames per clip"):
        D(frames[:, :2], t[:, :2])
    with pytest.raises(tf.errors.InvalidArgumentError, match="max_num_frames"):
        D(frames, t * 100.0)
    with pytest.raises(tf.errors.InvalidArgumentError, match="sorted"):
        D(frames, tf.reverse(t, axis=[1]))


def test_class_conditioning_and_dummy_c():
    D = tiny_discriminator(c_dim=3)
    frames, t = _clips()
    a = D(frames, t, c=tf.one_hot([0, 1, 2, 0], 3)).numpy()
    b = D(frames, t, c=tf.one_hot([1, 1, 2, 0], 3)).numpy()
    assert a[0] != b[0] and np.array_equal(a[1:], b[1:])
    Dd = tiny_discriminator(dummy_c=True)
    logits = Dd(frames, t).numpy()
    np.testing.assert_array_equal(logits, Dd(frames, t * 2.0).numpy())  # conditioning zeroed: time has no effect


def test_single_frame_discriminator_has_no_time_conditioning():
    D = tiny_discriminator(num_frames=1)
    assert D.time_encoder is None and D.mapping is None and D.epilogue.out.out_features == 1
    frames = tf.random.normal([2, 1, 32, 32, 3])
    assert D(frames, tf.zeros([2, 1])).shape == (2,)
    Dc = tiny_discriminator(num_frames=1, c_dim=3)
    assert Dc.mapping.embed.in_features == 3
    assert Dc(frames, tf.zeros([2, 1]), c=tf.one_hot([0, 2], 3)).shape == (2,)


def test_only_the_skip_is_never_clamped():
    D = tiny_discriminator(conv_clamp=0.5)
    for block in D.blocks:
        assert block.skip.conv_clamp is None and block.conv0.conv_clamp == 0.5 and block.conv1.conv_clamp == 0.5


def test_r1_gradient_is_finite_and_per_frame():
    D = tiny_discriminator(num_fp16_res=2)
    frames, t = _clips()
    with tf.GradientTape() as tape:
        tape.watch(frames)
        total = tf.reduce_sum(D(frames, t))
    grad = tape.gradient(total, frames).numpy()
    assert grad.shape == frames.shape and np.all(np.isfinite(grad))
    assert np.all(np.square(grad).sum(axis=(2, 3, 4)) > 0)
