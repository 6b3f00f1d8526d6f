"""The reference's Adam: torch's epsilon placement and rounding, and the lazy-regularisation correction."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from svgan_tf.training import optimizer


def _torch_adam(p, grads, lr, b1, b2, eps):
    """torch.optim.Adam in float64 (the formula of the training fixture's README)."""
    m = v = np.zeros_like(p)
    for step, g in enumerate(grads, 1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr / (1 - b1 ** step) * m / (np.sqrt(v) / np.sqrt(1 - b2 ** step) + eps)
    return p


@pytest.mark.parametrize("scale", [1e-9, 1e-3])
def test_reference_adam_is_torch_adam(scale):
    # With gradients of 1e-9, epsilon dominates; Keras' placement (before the bias correction) is then far off.
    rng = np.random.default_rng(0)
    p0 = rng.standard_normal(64).astype(np.float32)
    grads = [(scale * rng.standard_normal(64)).astype(np.float32) for _ in range(3)]
    settings = dict(learning_rate=0.002, beta_1=0.5, beta_2=0.99, epsilon=1e-8)
    expected = _torch_adam(p0.astype(np.float64), [g.astype(np.float64) for g in grads], 0.002, 0.5, 0.99, 1e-8)
    results = {}
    for cls in (optimizer.ReferenceAdam, keras.optimizers.Adam):
        var = tf.Variable(p0)
        opt = cls(**settings)
        for g in grads:
            opt.apply([tf.constant(g)], [var])
        results[cls] = var.numpy()
    np.testing.assert_allclose(results[optimizer.ReferenceAdam], expected, rtol=0, atol=4e-7)
    if scale == 1e-9:
        assert np.abs(results[keras.optimizers.Adam] - expected).max() > 1e-4


def test_moments_are_torch_exp_avg_and_exp_avg_sq():
    var = tf.Variable([1.0, -2.0])
    opt = optimizer.ReferenceAdam(learning_rate=0.1, beta_1=0.0, beta_2=0.9)
    opt.apply([tf.constant([0.5, -0.25])], [var])
    m, v = opt.moments(var)
    np.testing.assert_allclose(m.numpy(), [0.5, -0.25])
    np.testing.assert_allclose(v.numpy(), 0.1 * np.square([0.5, -0.25]), rtol=1e-6)


def test_lazy_regularization_correction():
    # The training fixture's values (G_reg_interval 4, D_reg_interval 2).
    lr, b1, b2 = optimizer.lazy_regularization(0.0025, (0.0, 0.99), 4)
    assert (lr, b1, b2) == (0.0025 * 0.8, 0.0, 0.99 ** 0.8)
    assert optimizer.lazy_regularization(0.0025, (0.0, 0.99), 2)[0] == 0.0025 * (2 / 3)
    assert optimizer.lazy_regularization(0.0025, (0.0, 0.99), 0) == (0.0025, 0.0, 0.99)


def test_make_optimizer_applies_the_correction_and_loss_scaling():
    opt = optimizer.make_optimizer(0.0025, (0.0, 0.99), 1e-8, 16)
    assert isinstance(opt, optimizer.ReferenceAdam)
    assert opt._lr64 == 0.0025 * 16 / 17 and opt.beta_2 == 0.99 ** (16 / 17) and opt.epsilon == 1e-8
    scaled = optimizer.make_optimizer(0.0025, (0.0, 0.99), 1e-8, 16, loss_scale=True)
    assert isinstance(scaled, keras.optimizers.LossScaleOptimizer)
    with pytest.raises(ValueError, match="finite"):
        optimizer.make_optimizer(float("nan"), (0.0, 0.99), 1e-8, 16)


def test_config_round_trip():
    opt = optimizer.ReferenceAdam(learning_rate=0.002, beta_1=0.0, beta_2=0.99, epsilon=1e-8)
    again = optimizer.ReferenceAdam.from_config(opt.get_config())
    assert (again._lr64, again.beta_1, again.beta_2, again.epsilon) == (0.002, 0.0, 0.99, 1e-8)
