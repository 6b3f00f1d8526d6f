"""The reference's optimiser: PyTorch's Adam, with StyleGAN2's lazy-regularisation correction.

Keras' Adam adds epsilon to sqrt(v) *before* the bias correction (p -= lr sqrt(1-b2^t)/(1-b1^t) m / (sqrt(v) + eps));
PyTorch, and hence the reference, adds it *after* (p -= lr/(1-b1^t) m / (sqrt(v)/sqrt(1-b2^t) + eps)). At step 1
with eps = 1e-8 that is a 10x larger effective epsilon in Keras, and many StyleGAN gradients are that small: on the
training fixture a Keras update misses the reference's parameters by up to 1.1e-3, half a step.

`ReferenceAdam` keeps Keras' Adam variables (so checkpoints are the same objects) and replaces the update by
PyTorch's, in PyTorch's order of operations. Its scalars (lr / bias corrections) are computed in float64 from the
Python-float settings and rounded once, as PyTorch does.
"""

import math

import keras
import tensorflow as tf

from svgan_tf.networks.layers import fused_multiply_add, lerp


def lazy_regularization(lr, betas, reg_interval):
    """StyleGAN2's correction for a network regularised every `reg_interval` steps: (lr, beta_1, beta_2).

    With c = interval / (interval + 1): lr * c and betas ** c. An interval of 0 (never regularised) or None
    leaves them unchanged. The reference applies it to G too, whose interval only scales its optimiser.
    """
    c = reg_interval / (reg_interval + 1) if reg_interval else 1.0
    return lr * c, betas[0] ** c, betas[1] ** c


@keras.saving.register_keras_serializable(package="svgan_tf")
class ReferenceAdam(keras.optimizers.Adam):
    """Adam exactly as `torch.optim.Adam` (no weight decay, no amsgrad).

    Args:
        learning_rate: a Python float (the reference has no schedule).
        beta_1, beta_2, epsilon: as `keras.optimizers.Adam`, with epsilon added after the bias correction.
        **kwargs: other `keras.optimizers.Optimizer` arguments (name, ...).
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8, **kwargs):
        if not isinstance(learning_rate, (int, float)):
            raise TypeError("ReferenceAdam takes a constant Python-float learning_rate, as the reference.")
        kwargs.pop("amsgrad", None)
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, **kwargs)
        self._lr64 = float(learning_rate)

    def update_step(self, gradient, variable, learning_rate):
        del learning_rate  # the float64 value of the constructor is used (one rounding, as torch)
        dtype = variable.dtype
        gradient = tf.cast(gradient, dtype)
        step = tf.cast(self.iterations + 1, tf.float64)
        bias_correction1 = 1.0 - tf.pow(tf.constant(self.beta_1, tf.float64), step)
        bias_correction2 = 1.0 - tf.pow(tf.constant(self.beta_2, tf.float64), step)
        step_size = tf.cast(-self._lr64 / bias_correction1, dtype)
        bias_correction2_sqrt = tf.cast(tf.sqrt(bias_correction2), dtype)
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        self.assign(m, lerp(m, gradient, 1.0 - self.beta_1))
        one_minus_beta_2 = tf.constant(1.0 - self.beta_2, dtype)
        self.assign(v, fused_multiply_add(one_minus_beta_2 * gradient, gradient, v * tf.constant(self.beta_2, dtype)))
        denominator = tf.sqrt(v) / bias_correction2_sqrt + tf.constant(self.epsilon, dtype)
        self.assign_add(variable, step_size * m / denominator)

    def moments(self, variable):
        """(first, second) moment variables of `variable` (torch's exp_avg, exp_avg_sq)."""
        index = self._get_variable_index(variable)
        return self._momentums[index], self._velocities[index]

    def get_config(self):
        config = super().get_config()
        config.pop("amsgrad", None)
        config["learning_rate"] = self._lr64  # Keras reports the float32 variable's value
        return config


def make_optimizer(lr, betas, eps, reg_interval, loss_scale=False, name=None):
    """The reference optimiser of one network: `ReferenceAdam` with the lazy-regularisation correction.

    Args:
        lr, betas, eps: Adam settings before the correction (SPEC.md section 4.3).
        reg_interval: the network's lazy-regularisation interval (0: none).
        loss_scale: wrap it in Keras' dynamic `LossScaleOptimizer` (float16 training).
        name: optimiser name.
    """
    lr, beta_1, beta_2 = lazy_regularization(lr, betas, reg_interval)
    if not all(math.isfinite(v) for v in (lr, beta_1, beta_2, eps)):
        raise ValueError(f"Adam settings must be finite: lr {lr}, betas ({beta_1}, {beta_2}), eps {eps}")
    opt = ReferenceAdam(learning_rate=lr, beta_1=beta_1, beta_2=beta_2, epsilon=eps, **({"name": name} if name else {}))
    return keras.optimizers.LossScaleOptimizer(opt) if loss_scale else opt
