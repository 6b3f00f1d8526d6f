"""StyleGAN2 losses for sparse video clips: non-saturating logistic loss and the R1 penalty.

Every function returns per-clip values [B]; the training step sums them and divides by the *global*
batch so that gradients all-reduced (summed) over replicas are those of the global-batch mean.
"""

import tensorflow as tf


def generator_loss(fake_logits):
    """Non-saturating generator loss per clip: softplus(-D(G(z)))."""
    return tf.nn.softplus(-fake_logits)


def discriminator_fake_loss(fake_logits):
    """The discriminator's logistic loss on generated clips: softplus(D(fake))."""
    return tf.nn.softplus(fake_logits)


def discriminator_real_loss(real_logits):
    """The discriminator's logistic loss on real clips: softplus(-D(real))."""
    return tf.nn.softplus(-real_logits)


def r1_penalty(real_grads):
    """R1 per clip: squared gradient norm of each frame (over H, W, C), averaged over the clip's frames.

    Args:
        real_grads: [B, k, H, W, C] gradient of sum(D(real)) w.r.t. the real frames.
    """
    per_frame = tf.reduce_sum(tf.square(tf.cast(real_grads, tf.float32)), axis=[2, 3, 4])
    return tf.reduce_mean(per_frame, axis=1)


def scrub(grads):
    """Reference gradient hygiene (nan_to_num): NaN -> 0, +-Inf -> +-1e5; finite values are kept."""
    def one(g):
        g = tf.where(tf.math.is_nan(g), tf.zeros_like(g), g)
        return tf.where(tf.math.is_inf(g), tf.sign(g) * 1e5, g)
    return [None if g is None else one(g) for g in grads]
