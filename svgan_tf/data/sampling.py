"""Sparse frame sampling of StyleGAN-V (reference `random_frame_sampling`): which frames and times a clip takes.

`SamplingConfig` holds the hyper-parameters. For a video of L frames, longer videos are first cut to a random
window of `max_num_frames` frames (real clips only) and L' = min(L, max_num_frames); the span T is uniform over
{d in total_dists : k - 1 <= d <= min(L' - 1, max_dist)}; the offset o is an integer uniform in [0, L' - T - 1]
for real clips and U[0, 1) * (L' - T - 1) for generated ones; the frames are o, o + T and k - 2 distinct
interior frames o + j, j in {1, ..., T - 1}, sorted. Times are relative to the window. Sources skip the videos
too short for any span when they are opened.

Everything here is stateless TensorFlow (usable in tf.data and in a tf.function training step): a draw is a
pure function of its seed. `clip_plan` maps a position of the infinite real-clip stream to its video, its
mirroring and its seed.
"""

import dataclasses
import math

import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class SamplingConfig:
    """Frame-sampling hyper-parameters (reference `sampling/random.yaml` + `dataset.max_num_frames`).

    Args:
        num_frames: frames per clip k.
        max_num_frames: usable window length; longer videos contribute a random window of this length.
        max_dist: largest span between the first and last frame of a clip (None: no cap).
        total_dists: candidate spans.
        mirror: double the dataset with horizontally flipped copies of whole videos.
    """

    num_frames: int = 3
    max_num_frames: int = 1024
    max_dist: int | None = 32
    total_dists: tuple = tuple(2**i for i in range(12))
    mirror: bool = True

    def __post_init__(self):
        if self.num_frames < 1:
            raise ValueError(f"SamplingConfig.num_frames must be >= 1, got {self.num_frames}")
        if not self.allowed_dists:
            raise ValueError(f"SamplingConfig: no span in total_dists={self.total_dists} lies in "
                             f"[num_frames - 1, min(max_dist, max_num_frames - 1)] = "
                             f"[{self.num_frames - 1}, {min(self.max_dist or math.inf, self.max_num_frames - 1)}]")

    @property
    def allowed_dists(self):
        """Spans usable by a long enough video, ascending."""
        cap = min(self.max_dist if self.max_dist is not None else math.inf, self.max_num_frames - 1)
        return tuple(sorted(int(d) for d in set(self.total_dists) if self.num_frames - 1 <= d <= cap))

    @property
    def min_video_length(self):
        """Shortest video with a non-empty set of spans (k for the default power-of-two spans)."""
        return self.allowed_dists[0] + 1


def check_lengths(index, sampling):
    """Fails when a dataset holds videos too short for `sampling` (its source was opened for another one).

    Args:
        index: the source's `svgan_tf.data.sources.VideoIndex`.
        sampling: SamplingConfig.
    """
    if index.lengths.min() < sampling.min_video_length:
        raise ValueError(f"{index.description}: has videos of {index.lengths.min()} frames, fewer than the "
                         f"{sampling.min_video_length} that num_frames={sampling.num_frames} needs; open the source "
                         "with the same SamplingConfig")


def _as_seed(seed):
    """A stateless-RNG seed: an int becomes [seed, 0]; a shape-[2] tensor is used as is."""
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
    return tf.stack([seed, tf.zeros_like(seed)]) if seed.shape.rank == 0 else seed


def _sample_relative_frames(lengths, sampling, seed):
    """Draws a span T per video and the clip's frame positions relative to its offset.

    Args:
        lengths: int64 [b] usable lengths L' (>= sampling.min_video_length).
        sampling: SamplingConfig.
        seed: shape-[2] stateless seed.

    Returns:
        (T int64 [b], relative positions int64 [b, k], sorted, first 0 and last T when k > 1).
    """
    dists = tf.constant(sampling.allowed_dists, tf.int64)
    span_seed, interior_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    # Spans are ascending, so the spans allowed for a video form a prefix of `dists`.
    count = tf.reduce_sum(tf.cast(dists[None, :] <= lengths[:, None] - 1, tf.int64), axis=1)
    u = tf.random.stateless_uniform(tf.shape(lengths), span_seed, dtype=tf.float64)
    choice = tf.minimum(tf.cast(tf.floor(u * tf.cast(count, tf.float64)), tf.int64), count - 1)
    span = tf.gather(dists, choice)
    parts = [tf.zeros_like(span)[:, None]]
    if sampling.num_frames > 1:
        parts.append(span[:, None])
    if sampling.num_frames > 2:
        # Uniform subset of k - 2 positions of {1..T-1}: the top k - 2 of i.i.d. keys, positions >= T masked.
        width = sampling.allowed_dists[-1] - 1
        keys = tf.random.stateless_uniform(tf.stack([tf.size(span), width]), interior_seed)
        positions = tf.range(1, width + 1, dtype=tf.int64)
        keys = tf.where(positions[None, :] < span[:, None], keys, -1.0)
        interior = tf.math.top_k(keys, k=sampling.num_frames - 2, sorted=False).indices
        parts.append(tf.cast(interior, tf.int64) + 1)
    return span, tf.sort(tf.concat(parts, axis=1), axis=1)


def sample_real_frames(lengths, sampling, seed):
    """Frame indices and times of real clips, one per video length (reference `sample_frames`).

    Args:
        lengths: int [b] full video lengths (each >= sampling.min_video_length).
        sampling: SamplingConfig.
        seed: int or shape-[2] stateless seed.

    Returns:
        (frames int64 [b, k]: indices into the video; t float32 [b, k]: times relative to the window
        of max_num_frames frames, integer-valued).
    """
    lengths = tf.cast(lengths, tf.int64)
    window_seed, offset_seed, frames_seed = tf.unstack(tf.random.experimental.stateless_split(_as_seed(seed), 3))
    # Longer videos: a random window of max_num_frames frames, start uniform in [0, L - max_num_frames].
    surplus = tf.maximum(lengths - sampling.max_num_frames, 0)
    u = tf.random.stateless_uniform(tf.shape(lengths), window_seed, dtype=tf.float64)
    window_start = tf.cast(tf.floor(u * tf.cast(surplus + 1, tf.float64)), tf.int64)
    usable = tf.minimum(lengths, sampling.max_num_frames)
    span, relative = _sample_relative_frames(usable, sampling, frames_seed)
    u = tf.random.stateless_uniform(tf.shape(lengths), offset_seed, dtype=tf.float64)
    offset = tf.cast(tf.floor(u * tf.cast(usable - span, tf.float64)), tf.int64)
    times = offset[:, None] + relative
    return window_start[:, None] + times, tf.cast(times, tf.float32)


def sample_fake_times(lengths, sampling, seed):
    """Times of generated clips: like real ones but with a fractional offset U[0, 1) * (L' - T - 1).

    Args:
        lengths: int [b] video lengths (capped at sampling.max_num_frames here).
        sampling: SamplingConfig.
        seed: int or shape-[2] stateless seed.

    Returns:
        t float32 [b, k].
    """
    usable = tf.minimum(tf.cast(lengths, tf.int64), sampling.max_num_frames)
    offset_seed, frames_seed = tf.unstack(tf.random.experimental.stateless_split(_as_seed(seed), 2))
    span, relative = _sample_relative_frames(usable, sampling, frames_seed)
    u = tf.random.stateless_uniform(tf.shape(usable), offset_seed, dtype=tf.float64)
    offset = u * tf.cast(usable - span - 1, tf.float64)
    return tf.cast(offset[:, None] + tf.cast(relative, tf.float64), tf.float32)


def sample_fake_conditions(index, sampling, batch_size, seed):
    """Times and labels for generated clips, drawn from uniformly chosen training videos (reference loop).

    The same video gives the length for the times and the label, as in the reference training loop.

    Args:
        index: a `svgan_tf.data.sources.VideoIndex`, or a (lengths int [N], labels float32 [N, c_dim]) tuple of
            tensors (keep them as constants of the training step so that this runs inside tf.function).
        sampling: SamplingConfig.
        batch_size: number of clips b.
        seed: int or shape-[2] stateless seed.

    Returns:
        (t float32 [b, k] with fractional offsets, c float32 [b, c_dim]).
    """
    if isinstance(index, tuple):
        lengths, labels = index
    else:
        check_lengths(index, sampling)
        lengths, labels = index.lengths, index.labels
    lengths = tf.convert_to_tensor(lengths, tf.int64)
    labels = tf.convert_to_tensor(labels, tf.float32)
    video_seed, times_seed = tf.unstack(tf.random.experimental.stateless_split(_as_seed(seed), 2))
    videos = tf.random.stateless_uniform([batch_size], video_seed, minval=0, maxval=tf.size(lengths, tf.int64),
                                         dtype=tf.int64)
    t = sample_fake_times(tf.gather(lengths, videos), sampling, times_seed)
    return t, tf.gather(labels, videos)


def clip_plan(clip_index, num_videos, sampling, seed):
    """Which video (and mirroring) clip `clip_index` of the real stream uses, and its sampling seed.

    Clips walk through epoch-wise permutations of the (mirror-doubled) dataset.

    Args:
        clip_index: int64 scalar position in the infinite stream.
        num_videos: number of videos N.
        sampling: SamplingConfig (its `mirror` doubles the dataset: copies N..2N-1 are flipped).
        seed: int or shape-[2] stateless seed of the stream.

    Returns:
        (video int64, flip bool, clip seed int64 [2]).
    """
    seed = _as_seed(seed)
    size = tf.constant(num_videos * (2 if sampling.mirror else 1), tf.int64)
    perm_seed = tf.random.experimental.stateless_fold_in(tf.random.experimental.stateless_fold_in(seed, 1),
                                                         clip_index // size)
    item = tf.random.experimental.index_shuffle(clip_index % size, perm_seed, size - 1)
    clip_seed = tf.random.experimental.stateless_fold_in(tf.random.experimental.stateless_fold_in(seed, 2),
                                                         clip_index)
    return item % num_videos, item >= num_videos, clip_seed
