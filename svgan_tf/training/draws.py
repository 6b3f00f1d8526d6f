"""The random inputs of a training phase, drawn explicitly.

A training step never draws implicitly: each phase asks a sampler for its `Draws` (content latents, labels,
frame times, motion-noise tokens, augmentation seed). Training uses `KeyedSampler`, a pure function of
(seed, step, phase, replica), so that a resumed run draws exactly what an uninterrupted one would; the reference
check replays the draws recorded from the reference's own training loop through the same interface.
"""

from typing import NamedTuple

import tensorflow as tf

from svgan_tf.data import sampling as sampling_lib

# Each phase draws an independent stream.
PHASE_KEYS = {"Gmain": 1, "Dmain": 2, "Dreg": 3}


class Draws(NamedTuple):
    """A phase's random inputs for b clips.

    Attributes:
        z: [b, z_dim] content latents.
        c: [b, c_dim] labels of the generated clips (c_dim may be 0).
        t: [b, k] float32 frame times of the generated clips.
        motion_z: [b, L, motion_z_dim] motion-noise tokens (token 0 at t = 0).
        aug_seed: int64 [2] stateless seed of the augmentation (fakes; the reals of the phase fold in 1).
    """
    z: tf.Tensor
    c: tf.Tensor
    t: tf.Tensor
    motion_z: tf.Tensor
    aug_seed: tf.Tensor


class KeyedSampler:
    """Draws as a pure function of (seed, step, phase, replica): stateless, hence exactly resumable.

    Args:
        seed: the run's seed.
        index: `svgan_tf.data.sources.VideoIndex` of the training set; fake times and labels follow its videos
            as the reference's loop does.
        sampling: `svgan_tf.data.sampling.SamplingConfig`.
        batch_size: clips per replica.
        z_dim: content latent width.
        num_motion_tokens: motion tokens per clip (`Generator.num_motion_tokens(max_num_frames - 1)`).
        motion_z_dim: motion token width.
    """

    def __init__(self, seed, index, sampling, batch_size, z_dim, num_motion_tokens, motion_z_dim):
        self.seed, self.sampling, self.batch_size = seed, sampling, batch_size
        self.z_dim, self.num_motion_tokens, self.motion_z_dim = z_dim, num_motion_tokens, motion_z_dim
        self.index = index

    def __call__(self, phase, step, replica):
        """The `Draws` of `phase` ('Gmain', 'Dmain', 'Dreg') at training `step` (int64 scalar) on `replica`."""
        key = tf.stack([tf.constant(self.seed * 8 + PHASE_KEYS[phase], tf.int64),
                        tf.cast(step, tf.int64) * 4096 + tf.cast(replica, tf.int64)])
        s = tf.random.experimental.stateless_split(key, 4)
        z = tf.random.stateless_normal([self.batch_size, self.z_dim], seed=s[0])
        t, c = sampling_lib.sample_fake_conditions(self.index, self.sampling, self.batch_size, s[1])
        motion_z = tf.random.stateless_normal([self.batch_size, self.num_motion_tokens, self.motion_z_dim], seed=s[2])
        return Draws(z, c, t, motion_z, s[3])
