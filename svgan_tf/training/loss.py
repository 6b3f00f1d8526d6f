"""The StyleGAN-V objective (StyleGAN2's, SPEC.md section 4.2), one method per training phase.

`StyleGANVLoss.Gmain`, `.Dmain` and `.Dreg` each run their forward passes, take the gradients of their objective
with respect to their network and return them with what the reference reports (`training_stats.report` names,
per clip). The training loop (`svgan_tf.training.loop`) owns the phase table (which phase runs when, with which
optimiser
and gain) and applies the gradients.

Reductions follow the reference: per-clip losses, averaged over the clips of the batch (not over frames), times
the phase's gain. Under `tf.distribute` each replica divides its sum by the *global* batch, so that gradients
summed over replicas are those of the global-batch mean (the reference's DDP average over equal batches).
"""

from typing import NamedTuple

import tensorflow as tf


class RealClips(NamedTuple):
    """A batch of real clips as the step feeds them to D.

    Attributes:
        frames: [b, k, H, W, C] float32 in [-1, 1] (uint8 / 127.5 - 1).
        t: [b, k] frame indices.
        c: [b, c_dim] labels.
    """
    frames: tf.Tensor
    t: tf.Tensor
    c: tf.Tensor


def real_clips(batch):
    """`RealClips` of a data-pipeline batch {"frames": uint8, "t", "c"}."""
    return RealClips(tf.cast(batch["frames"], tf.float32) / 127.5 - 1.0, batch["t"], batch["c"])


def scrub(grads):
    """The reference's gradient hygiene (nan_to_num): NaN -> 0, +-Inf -> +-1e5; finite values are kept."""
    def one(g):
        g = tf.where(tf.math.is_nan(g), tf.zeros_like(g), g)
        return tf.where(tf.math.is_inf(g), tf.sign(g) * 1e5, g)
    return [None if g is None else one(g) for g in grads]


def r1_penalty(real_grads):
    """R1 per frame: squared gradient norm over H, W, C.

    Args:
        real_grads: [b, k, H, W, C] gradient of sum(D(real)) with respect to the real frames.

    Returns:
        [b, k] float32.
    """
    return tf.reduce_sum(tf.square(tf.cast(real_grads, tf.float32)), axis=[2, 3, 4])


def _dense(grads, variables, zero_fill=False):
    """Gradients as dense tensors (embedding lookups give IndexedSlices); None kept, or zeros with `zero_fill`."""
    return [(tf.zeros(v.shape, v.dtype) if zero_fill else None) if g is None else tf.convert_to_tensor(g)
            for g, v in zip(grads, variables)]


def _identity(objective):
    return objective


class StyleGANVLoss:
    """Non-saturating logistic GAN loss with lazy R1 on the real clips, through the augmentation.

    Every phase method takes the same arguments and returns (gradients, report):

    * draws: the phase's `draws.Draws` (Dreg uses only its augmentation seed).
    * real: `RealClips` of this step (Gmain does not use them).
    * gain: the phase's gain (its interval for the lazy regulariser).
    * scale: objective -> objective to differentiate (the loss scale of float16 training; identity otherwise).

    Gradients are aligned with the phase network's `trainable_variables`: None where the objective does not
    reach a variable (torch's None grad, which Adam skips), except in Dreg, where the reference adds
    `logits * 0` to the objective and so every D parameter gets a (possibly zero) gradient that Adam steps on.
    The report maps reference statistic names to per-clip [b] values (per frame [b, k] for the R1 penalty)
    and holds the phase's objectives (`objective_0`, `objective_1`), as in the training fixture.

    Args:
        G: the `Generator` being trained (always run in training mode: w_avg is tracked).
        D: the `Discriminator`.
        r1_gamma: R1 weight gamma.
        global_batch: clips per step over all replicas.
        augment: None, or a callable (clips, seed) -> clips applied to every D input (ADA).
        conditional: whether G and D take labels.
    """

    def __init__(self, G, D, r1_gamma, global_batch, augment=None, conditional=False):
        self.G, self.D, self.r1_gamma = G, D, r1_gamma
        self.global_batch, self.augment, self.conditional = float(global_batch), augment, conditional

    def run_G(self, draws):
        """Generated clips [b, k, H, W, C] for `draws`."""
        return self.G(draws.z, draws.t, draws.motion_z, c=draws.c if self.conditional else None, training=True)

    def run_D(self, clips, t, c, aug_seed):
        """D's logits [b] of (augmented) clips."""
        if self.augment is not None:
            clips = self.augment(clips, aug_seed)
        return self.D(clips, t, c=c if self.conditional else None)

    def _mean(self, per_clip, gain):
        return tf.reduce_sum(per_clip) / self.global_batch * gain

    def Gmain(self, draws, real, gain, scale=_identity):
        """Make D call the fakes real: mean softplus(-D(G(z)))."""
        del real
        variables = self.G.trainable_variables
        with tf.GradientTape() as tape:
            fake_logits = self.run_D(self.run_G(draws), draws.t, draws.c, draws.aug_seed)
            loss = tf.nn.softplus(-fake_logits)
            objective = self._mean(loss, gain)
            target = scale(objective)
        grads = _dense(tape.gradient(target, variables), variables)
        return grads, {"Loss/scores/fake": fake_logits, "Loss/signs/fake": tf.sign(fake_logits),
                       "Loss/G/loss": loss, "objective_0": objective}

    def Dmain(self, draws, real, gain, scale=_identity):
        """Score fakes low and reals high: mean softplus(D(fake)) + mean softplus(-D(real)).

        Two passes with their own backward, fakes first, whose gradients add (the reference's order; only one
        pass's activations are alive at a time).
        """
        variables = self.D.trainable_variables
        fake = tf.stop_gradient(self.run_G(draws))
        with tf.GradientTape() as tape:
            fake_logits = self.run_D(fake, draws.t, draws.c, draws.aug_seed)
            loss_fake = tf.nn.softplus(fake_logits)
            objective_fake = self._mean(loss_fake, gain)
            target = scale(objective_fake)
        fake_grads = _dense(tape.gradient(target, variables), variables)
        with tf.control_dependencies([g for g in fake_grads if g is not None]):
            frames = tf.identity(real.frames)
        with tf.GradientTape() as tape:
            real_seed = tf.random.experimental.stateless_fold_in(draws.aug_seed, 1)
            real_logits = self.run_D(frames, real.t, real.c, real_seed)
            loss_real = tf.nn.softplus(-real_logits)
            objective_real = self._mean(loss_real, gain)
            target = scale(objective_real)
        real_grads = _dense(tape.gradient(target, variables), variables)
        grads = [f if r is None else r if f is None else f + r for f, r in zip(fake_grads, real_grads)]
        return grads, {"Loss/scores/fake": fake_logits, "Loss/signs/fake": tf.sign(fake_logits),
                       "Loss/scores/real": real_logits, "Loss/signs/real": tf.sign(real_logits),
                       "Loss/D/loss": loss_fake + loss_real, "loss_fake": loss_fake, "loss_real": loss_real,
                       "objective_0": objective_fake, "objective_1": objective_real}

    def Dreg(self, draws, real, gain, scale=_identity):
        """Lazy R1: gamma/2 x the squared gradient of sum(D(real)) w.r.t. each real frame, mean over the clip's
        frames, mean over clips, times the gain. The gradient is taken through the augmentation."""
        variables = self.D.trainable_variables
        frames = real.frames
        with tf.GradientTape() as tape:
            with tf.GradientTape() as inner:
                inner.watch(frames)
                real_logits = self.run_D(frames, real.t, real.c, draws.aug_seed)
                total = tf.reduce_sum(real_logits)
            penalty = r1_penalty(inner.gradient(total, frames))
            reg = tf.reduce_mean(penalty, axis=1) * (self.r1_gamma / 2)
            objective = self._mean(reg, gain)
            target = scale(objective)
        grads = _dense(tape.gradient(target, variables), variables, zero_fill=True)
        return grads, {"Loss/scores/real": real_logits, "Loss/signs/real": tf.sign(real_logits),
                       "Loss/r1_penalty": penalty, "Loss/D/reg": reg, "objective_0": objective}
