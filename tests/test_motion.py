"""Motion tokens, the acyclic positional encoding, and the frame-at-time window."""

import numpy as np
import pytest
import tensorflow as tf

from svgan_tf import tokens
from svgan_tf.networks import motion
from tests.support import tiny_generator


def test_generator_token_sizes():
    G = tiny_generator()  # kernel size 3, d = 4, training window 64 frames
    assert (G.motion_kernel_size, G.motion_z_distance, G.window_length) == (3, 4, 6)
    assert G.token_window([5.0, 9.5]) == (1, 7) and G.num_motion_tokens(10) == 22


def test_window_start_in_graph_is_the_float32_rule():
    for d, times in ((16, [0.0, 15.99, 16.0, 47.9, 48.0, 47.99999999]), (129, [0.0, 128.0, 129.0, 16908674.0])):
        t = np.array(times, np.float64)
        in_graph = motion.window_start_in_graph(tf.constant(t), d).numpy()
        np.testing.assert_array_equal(in_graph, tokens.window_start(t, d))


@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_frame_from_its_window_equals_frame_from_whole_sequence(precision):
    G = tiny_generator(motion_precision=precision)
    times = np.array([0.0, 3.0, 4.0, 7.99, 37.25, 63.5, 130.0], np.float32)
    z = tf.random.normal([1, G.z_dim], seed=4)
    motion_z = G.sample_motion_z(1, G.num_motion_tokens(times.max()), seed=[7, 8])
    whole = G(z, times[None], motion_z).numpy()[0]
    # Each frame from only its own window of tokens: one "video" per frame, batched like the whole call so
    # that the synthesis runs on the same batch and only the motion windowing differs.
    windows, offsets = [], []
    for t in times:
        window, start = G.slice_token_window(motion_z, [t])
        assert window.shape[1] == G.window_length
        windows.append(window[0])
        offsets.append(start)
    frames = G(tf.repeat(z, len(times), axis=0), times[:, None], tf.stack(windows), token_offset=offsets).numpy()
    np.testing.assert_allclose(frames[:, 0], whole, rtol=0, atol=1e-6)


def test_motion_code_is_continuous_and_equals_aligner_at_tokens():
    G = tiny_generator()
    mm = G.motion_mapping
    d = G.motion_z_distance
    motion_z = G.sample_motion_z(1, G.num_motion_tokens(64), seed=[1, 1])
    boundary = 3 * d
    v = mm(motion_z, np.array([[boundary - 1e-3, boundary, boundary + 1e-3]])).numpy()[0]
    assert np.abs(v[0] - v[1]).max() < 1e-2 and np.abs(v[2] - v[1]).max() < 1e-2
    # At a token, the stitched wave vanishes and v equals that token's alignment vector.
    u = mm.trajectory(tf.cast(motion_z, tf.float64))
    aligner = mm.time_encoder.aligners_predictor(u[:, 3]).numpy()[0]
    np.testing.assert_allclose(v[1], aligner, atol=1e-5)


def test_too_few_tokens_is_a_clear_error():
    G = tiny_generator()
    motion_z = G.sample_motion_z(1, G.window_length, seed=[0, 0])
    with pytest.raises(tf.errors.InvalidArgumentError, match="Too few motion tokens"):
        G.motion_mapping(motion_z, np.array([[40.0]]))
    with pytest.raises(ValueError, match="motion_z has 6 tokens"):
        G.slice_token_window(motion_z, [40.0])


def test_seeded_motion_draw_is_reproducible():
    G = tiny_generator()
    a = G.sample_motion_z(2, 30, seed=[3, 4]).numpy()
    np.testing.assert_array_equal(a, G.sample_motion_z(2, 30, seed=[3, 4]).numpy())
    assert not np.array_equal(a, G.sample_motion_z(2, 30, seed=[3, 5]).numpy())
