"""Sparse frame sampling (svgan_tf.data.sampling): span, offset and interior statistics, fake conditions, clip plans."""

import numpy as np
import pytest
import tensorflow as tf

from svgan_tf.data import sampling as sampling_lib
from svgan_tf.data import sources

CFG = sampling_lib.SamplingConfig()


def test_real_spans_are_uniform_over_allowed_powers_of_two():
    n = 20000
    for length, allowed in [(100, [2, 4, 8, 16, 32]), (10, [2, 4, 8]), (3, [2])]:
        frames, t = sampling_lib.sample_real_frames(tf.fill([n], length), CFG, seed=length)
        frames, t = frames.numpy(), t.numpy()
        np.testing.assert_array_equal(frames, t)  # no window for videos shorter than max_num_frames
        span = frames[:, -1] - frames[:, 0]
        values, counts = np.unique(span, return_counts=True)
        np.testing.assert_array_equal(values, allowed)
        expected = n / len(allowed)
        chi2 = np.sum((counts - expected) ** 2 / expected)
        assert chi2 < 30, (length, counts)  # dof <= 4: p < 1e-5 for a correct sampler
        assert frames[:, 0].min() == 0 and np.all(frames[:, 0] <= length - span - 1)
        assert np.all(np.diff(frames, axis=1) > 0)  # sorted, interior frame distinct from both ends
        assert np.all(frames[:, -1] < length)


def test_real_offsets_cover_their_range_and_interior_is_uniform():
    frames, _ = sampling_lib.sample_real_frames(tf.fill([20000], 40), CFG, seed=1)
    frames = frames.numpy()
    span = frames[:, 2] - frames[:, 0]
    for s in (2, 4, 8, 16, 32):
        picked = frames[span == s]
        assert set(picked[:, 0]) == set(range(40 - s))  # offsets 0..L-T-1 all reached
        interior = picked[:, 1] - picked[:, 0]
        assert set(interior) == set(range(1, s))


def test_more_frames_per_clip_and_min_video_length():
    cfg = sampling_lib.SamplingConfig(num_frames=5, max_dist=16)
    assert cfg.allowed_dists == (4, 8, 16) and cfg.min_video_length == 5
    frames, _ = sampling_lib.sample_real_frames(tf.fill([2000], 30), cfg, seed=3)
    frames = frames.numpy()
    assert np.all(np.diff(frames, axis=1) > 0)
    assert set(frames[:, -1] - frames[:, 0]) == {4, 8, 16}
    assert sampling_lib.SamplingConfig(num_frames=4).min_video_length == 5  # span 3 is not a power of two
    with pytest.raises(ValueError, match="no span"):
        sampling_lib.SamplingConfig(num_frames=3, max_dist=1)


def test_long_videos_use_a_random_window():
    cfg = sampling_lib.SamplingConfig(max_num_frames=64, max_dist=None)
    frames, t = sampling_lib.sample_real_frames(tf.fill([5000], 1000), cfg, seed=2)
    frames, t = frames.numpy(), t.numpy()
    start = frames - t
    assert np.all(start == start[:, :1]) and start.min() >= 0 and start.max() <= 1000 - 64
    assert len(np.unique(start)) > 500
    assert t.max() <= 63 and t.min() >= 0
    assert set(t[:, -1] - t[:, 0]) == {2, 4, 8, 16, 32}  # 64 > usable span cap of 63


def test_fake_times_have_fractional_offsets_and_integer_gaps():
    t = sampling_lib.sample_fake_times(tf.fill([5000], 20), CFG, seed=4).numpy()
    span = t[:, -1] - t[:, 0]
    np.testing.assert_allclose(np.diff(t, axis=1), np.round(np.diff(t, axis=1)), atol=1e-4)
    assert set(np.round(span).astype(int)) == {2, 4, 8, 16}
    assert np.all(t[:, 0] >= 0) and np.all(t[:, 0] <= 20 - np.round(span) - 1)
    assert np.mean(np.abs(t[:, 0] - np.round(t[:, 0])) > 1e-3) > 0.9


def test_fake_conditions_draw_videos_inside_tf_function():
    lengths = tf.constant([3, 100], tf.int64)
    labels = tf.constant([[1.0, 0.0], [0.0, 1.0]])
    draw = tf.function(lambda seed: sampling_lib.sample_fake_conditions((lengths, labels), CFG, 512, seed))
    t, c = draw(tf.constant([5, 6], tf.int64))
    t, c = t.numpy(), c.numpy()
    assert t.shape == (512, 3) and c.shape == (512, 2)
    short = c[:, 0] == 1  # the 3-frame video only allows T = 2 and offset 0
    assert 0.4 < short.mean() < 0.6
    np.testing.assert_allclose(t[short], [[0, 1, 2]] * short.sum())
    assert (t[~short, -1] - t[~short, 0]).max() > 2
    np.testing.assert_array_equal(draw(tf.constant([5, 6], tf.int64))[0], t)


def test_fake_conditions_of_an_index_check_its_sampling():
    index = sources.VideoIndex(description="two videos", video_names=("a", "b"), lengths=np.array([3, 100]),
                               labels=np.eye(2, dtype=np.float32), resolution=8)
    t, c = sampling_lib.sample_fake_conditions(index, CFG, 64, seed=2)
    t, c = t.numpy(), c.numpy()
    short = c[:, 0] == 1  # the 3-frame video only allows T = 2 and offset 0
    assert t.shape == (64, 3) and c.shape == (64, 2) and 0 < short.sum() < 64
    np.testing.assert_allclose(t[short], [[0, 1, 2]] * short.sum())
    with pytest.raises(ValueError, match="two videos: has videos of 3 frames.*same SamplingConfig"):
        sampling_lib.sample_fake_conditions(index, sampling_lib.SamplingConfig(num_frames=5), 4, seed=2)


def test_epochs_are_permutations_of_the_mirrored_dataset():
    items = set()
    for i in range(14):
        video, flip, _ = sampling_lib.clip_plan(tf.constant(i, tf.int64), 7, CFG, 3)
        items.add((int(video), bool(flip)))
    assert len(items) == 14
    unmirrored = sampling_lib.SamplingConfig(mirror=False)
    videos = {int(sampling_lib.clip_plan(tf.constant(i, tf.int64), 7, unmirrored, 3)[0]) for i in range(7)}
    assert videos == set(range(7))
