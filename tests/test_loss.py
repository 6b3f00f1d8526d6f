"""The StyleGAN-V objective: each phase's losses, objective, gradients and their direction, on tiny networks.

Exact agreement with the reference's phases is `test_reference_train_check.py` (the training fixture); these
tests need no fixture.
"""

import numpy as np
import pytest
import tensorflow as tf

from svgan_tf.training import loss as loss_lib
from svgan_tf.training.draws import Draws
from tests.support import tiny_discriminator, tiny_generator

B = 2


@pytest.fixture(scope="module")
def setup():
    G, D = tiny_generator(), tiny_discriminator()
    rng = np.random.default_rng(0)
    draws = Draws(z=tf.constant(rng.standard_normal([B, 8]), tf.float32), c=tf.zeros([B, 0]),
                  t=tf.constant([[0.0, 1.5, 3.0], [2.0, 4.0, 8.0]]),
                  motion_z=tf.constant(rng.standard_normal([B, G.num_motion_tokens(63), 6]), tf.float32),
                  aug_seed=tf.zeros([2], tf.int64))
    real = loss_lib.real_clips({"frames": tf.constant(rng.integers(0, 256, [B, 3, 32, 32, 3]), tf.uint8),
                                "t": tf.constant([[0.0, 2.0, 4.0], [1.0, 3.0, 9.0]]), "c": tf.zeros([B, 0])})
    G(draws.z, draws.t, draws.motion_z)  # build
    return G, D, loss_lib.StyleGANVLoss(G, D, r1_gamma=2.0, global_batch=B), draws, real


def _sgd(variables, grads, lr):
    for v, g in zip(variables, grads):
        if g is not None:
            v.assign_sub(lr * g)


def _restore(variables, values):
    for v, x in zip(variables, values):
        v.assign(x)


def test_real_clips_scale_uint8_to_unit_range():
    real = loss_lib.real_clips({"frames": tf.constant([[[[[0, 255]]]]], tf.uint8), "t": [[0.0]], "c": [[]]})
    np.testing.assert_array_equal(real.frames.numpy().ravel(), [-1.0, 1.0])


def test_gmain_objective_and_its_descent(setup):
    G, D, loss, draws, real = setup
    grads, report = loss.Gmain(draws, real, gain=1)
    logits = report["Loss/scores/fake"].numpy()
    np.testing.assert_allclose(D(G(draws.z, draws.t, draws.motion_z, training=True), draws.t).numpy(), logits,
                               atol=1e-5)
    np.testing.assert_allclose(report["Loss/G/loss"].numpy(), np.logaddexp(0, -logits), rtol=1e-5)
    np.testing.assert_allclose(report["objective_0"].numpy(), np.logaddexp(0, -logits).mean(), rtol=1e-5)
    assert len(grads) == len(G.trainable_variables) and all(g is not None for g in grads)
    # The gradients are those of the objective: a small step against them makes D score the fakes higher.
    saved = [v.numpy() for v in G.trainable_variables]
    _sgd(G.trainable_variables, grads, 1e-3)
    _, after = loss.Gmain(draws, real, gain=1)
    _restore(G.trainable_variables, saved)
    assert after["objective_0"].numpy() < report["objective_0"].numpy()


def test_dmain_scores_fakes_low_and_reals_high(setup):
    _, D, loss, draws, real = setup
    grads, report = loss.Dmain(draws, real, gain=1)
    fake, real_logits = report["Loss/scores/fake"].numpy(), report["Loss/scores/real"].numpy()
    np.testing.assert_allclose(report["loss_fake"].numpy(), np.logaddexp(0, fake), rtol=1e-5)
    np.testing.assert_allclose(report["loss_real"].numpy(), np.logaddexp(0, -real_logits), rtol=1e-5)
    np.testing.assert_allclose(report["Loss/D/loss"].numpy(), np.logaddexp(0, fake) + np.logaddexp(0, -real_logits),
                               rtol=1e-5)
    np.testing.assert_allclose([report["objective_0"].numpy(), report["objective_1"].numpy()],
                               [np.logaddexp(0, fake).mean(), np.logaddexp(0, -real_logits).mean()], rtol=1e-5)
    saved = [v.numpy() for v in D.trainable_variables]
    _sgd(D.trainable_variables, grads, 1e-3)
    _, after = loss.Dmain(draws, real, gain=1)
    _restore(D.trainable_variables, saved)
    assert after["Loss/D/loss"].numpy().mean() < report["Loss/D/loss"].numpy().mean()


def test_gain_scales_objective_and_gradients(setup):
    _, _, loss, draws, real = setup
    g1, r1 = loss.Dreg(draws, real, gain=1)
    g4, r4 = loss.Dreg(draws, real, gain=4)
    np.testing.assert_allclose(r4["objective_0"].numpy(), 4 * r1["objective_0"].numpy(), rtol=1e-6)
    for a, b in zip(g1, g4):
        np.testing.assert_allclose(b.numpy(), 4 * a.numpy(), rtol=1e-5, atol=1e-12)


def test_dreg_is_half_gamma_squared_gradient_norm_and_steps_every_d_variable(setup):
    _, D, loss, draws, real = setup
    grads, report = loss.Dreg(draws, real, gain=1)
    with tf.GradientTape() as tape:
        tape.watch(real.frames)
        total = tf.reduce_sum(D(real.frames, real.t))
    per_frame = np.square(tape.gradient(total, real.frames).numpy()).sum(axis=(2, 3, 4))
    np.testing.assert_allclose(report["Loss/r1_penalty"].numpy(), per_frame, rtol=1e-4)
    np.testing.assert_allclose(report["Loss/D/reg"].numpy(), per_frame.mean(axis=1) * 2.0 / 2, rtol=1e-4)
    # The reference adds logits * 0: every D variable gets a tensor (zeros where R1 does not reach), never None.
    assert len(grads) == len(D.trainable_variables)
    assert all(isinstance(g, tf.Tensor) and g.shape == v.shape for g, v in zip(grads, D.trainable_variables))


def test_r1_penalty_is_per_frame_squared_norm():
    grads = np.zeros([2, 3, 4, 4, 3], np.float32)
    grads[0, 0, 0, 0, 0] = 3.0
    grads[1, 2] = 1.0
    np.testing.assert_allclose(loss_lib.r1_penalty(tf.constant(grads)).numpy(), [[9, 0, 0], [0, 0, 48]])


def test_scrub_replaces_only_non_finite_values():
    g = tf.constant([np.nan, np.inf, -np.inf, 2e6, -3.0], tf.float32)
    scrubbed, none = loss_lib.scrub([g, None])
    np.testing.assert_array_equal(scrubbed.numpy(), [0.0, 1e5, -1e5, 2e6, -3.0])
    assert none is None
