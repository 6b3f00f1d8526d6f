"""Motion-token arithmetic (svgan_tf/tokens.py), against values worked out by hand."""

import numpy as np
import pytest

from svgan_tf import tokens


def test_window_length():
    assert [tokens.window_length(k) for k in (1, 3, 11)] == [2, 6, 22]


def test_window_start_on_and_around_token_boundaries():
    d = 16
    assert tokens.window_start(0.0, d) == 0
    assert tokens.window_start(15.99, d) == 0
    assert tokens.window_start(16.0, d) == 1  # exactly on a boundary: the token that starts there
    assert tokens.window_start(47.9, d) == 2
    assert tokens.window_start(48.0, d) == 3
    assert tokens.window_start([[3.0, 4.0], [7.5, 8.0]], 4).tolist() == [[0, 1], [1, 2]]


def test_window_start_follows_float32_rounding():
    # The time rounds to float32 first: 47.99999999 is 48.0 there, so token 3 (exact arithmetic: 2).
    assert tokens.window_start(47.99999999, 16) == 3
    # The quotient rounds in float32 for a d that is not a power of two: 16908674 / 129 = 131074.992...
    # rounds to 131075.0 (exact arithmetic: 131074).
    assert tokens.window_start(16908674.0, 129) == 131075
    assert tokens.window_start(np.float32(16908674.0), 129).dtype == np.int64


def test_token_window():
    assert tokens.token_window([[37.0]], 16, 22) == (2, 22)
    assert tokens.token_window([[16.0, 47.9, 90.0]], 16, 22) == (1, 26)  # tokens 1 .. 5 start windows
    assert tokens.token_window([0.0, 3.99, 4.0], 4, 6) == (0, 7)
    for bad in ([-1.0], [], [np.nan], [np.inf]):
        with pytest.raises(ValueError, match=">= 0"):
            tokens.token_window(bad, 16, 22)


def test_prefix_length():
    assert tokens.prefix_length(0.0, 4, 6) == 6
    assert tokens.prefix_length(3.99, 4, 6) == 6
    assert tokens.prefix_length(4.0, 4, 6) == 7
    assert tokens.prefix_length(63.0, 4, 6) == 21
    assert tokens.prefix_length(1023.0, 16, 22) == 85


def test_longest_window():
    assert tokens.longest_window(31.0, 16, 22) == 25  # floor(31 / 16) + 2 + 22
    assert tokens.longest_window(0.0, 4, 6) == 8
    # It holds every window of times spread over the span, wherever the span starts.
    times = np.arange(32, dtype=np.float32) * 0.75
    for offset in (0.0, 3.9, 4.0, 1000.3):
        assert tokens.token_window(times + offset, 4, 6)[1] <= tokens.longest_window(31 * 0.75, 4, 6)


def test_num_motion_tokens_follows_the_reference():
    # SPEC examples: FaceForensics (d=16) and SkyTimelapse (d=256), kernel 11 (W=22), window 1024 frames.
    assert tokens.num_motion_tokens(1023, 16, 22, 1024) == 86
    assert tokens.num_motion_tokens(0, 256, 22, 1024) == 26
    assert tokens.num_motion_tokens(5000, 16, 22, 1024) == 313 + 2 + 20
    assert tokens.num_motion_tokens(15, 8, 6, 64) == 14  # the training window, not t, decides: ceil(63 / 8) + 6


def test_frame_times_meet_wherever_a_video_starts():
    whole = tokens.frame_times(0, 10, time_offset=0.1, time_step=0.3)
    assert whole.dtype == np.float32 and whole[4] == np.float32(0.1 + 4 * 0.3)
    np.testing.assert_array_equal(tokens.frame_times(4, 6, 0.1, 0.3), whole[4:])  # a piece of the same video
    np.testing.assert_array_equal(tokens.frame_times(0, 3, 50.0, 0.75), np.float32([50, 50.75, 51.5]))
    np.testing.assert_array_equal(tokens.frame_times(4, 2, time_offset=1.0, time_step=0.5), [3.0, 3.5])
