"""Losses: values of the logistic losses, R1 per clip, reference gradient scrubbing."""

import numpy as np
import tensorflow as tf

from svgan_tf import losses


def test_logistic_losses():
    logits = tf.constant([-2.0, 0.0, 3.0])
    np.testing.assert_allclose(losses.generator_loss(logits).numpy(), np.log1p(np.exp([2.0, 0.0, -3.0])), rtol=1e-6)
    np.testing.assert_allclose(losses.discriminator_fake_loss(logits).numpy(), np.log1p(np.exp([-2.0, 0.0, 3.0])),
                               rtol=1e-6)
    np.testing.assert_allclose(losses.discriminator_real_loss(logits).numpy(), losses.generator_loss(logits).numpy())


def test_r1_penalty_is_mean_over_frames_of_squared_norms():
    grads = np.zeros([2, 3, 4, 4, 3], np.float32)
    grads[0, 0, 0, 0, 0] = 3.0  # frame 0 of clip 0: squared norm 9
    grads[1, 2] = 1.0  # frame 2 of clip 1: squared norm 48
    np.testing.assert_allclose(losses.r1_penalty(tf.constant(grads)).numpy(), [3.0, 16.0])


def test_scrub_replaces_only_non_finite_values():
    g = tf.constant([np.nan, np.inf, -np.inf, 2e6, -3.0], tf.float32)
    scrubbed, none = losses.scrub([g, None])
    np.testing.assert_array_equal(scrubbed.numpy(), [0.0, 1e5, -1e5, 2e6, -3.0])
    assert none is None
