"""Motion-token arithmetic: which motion-noise tokens frames at given times need (NumPy only).

A video's motion is an endless sequence of noise tokens, token j at time j * d (d = `motion_z_distance`,
in frames). The motion mapping network's two unpadded convolutions of kernel size k turn input tokens
j .. j + 2 (k - 1) into motion vector j, and a frame at time t >= 0 interpolates motion vectors
floor(t / d) and floor(t / d) + 1 (`svgan_tf.networks.motion`). Hence:

* `window_length(k)` = 2 (k - 1) + 2 consecutive tokens per frame (W = 22 for the reference k = 11);
* `window_start(t, d)` = floor(t / d), the first of them;
* `token_window(t, d, W)`: the window shared by a set of times;
* `prefix_length(t, d, W)`: how many tokens from token 0 frames at times up to t need;
* `longest_window(span, d, W)`: a window length that fits the times of any interval of length `span`;
* `num_motion_tokens(t, d, W, max_num_frames)`: how many tokens the reference draws for times up to t;
* `frame_times(first, count, time_offset, time_step)`: the times of a video's frames, where they all start.

Because the convolutions are unpadded, a frame computed from its own window of tokens (with the window's
start as `token_offset`) equals the frame computed from the whole sequence.

The float32 rule: the window start is floor(t / d) with t rounded to float32 and the division done in
float32, exactly as the reference and the network compute it (t is a float32 tensor there;
`svgan_tf.networks.motion.window_start_in_graph` is the in-graph form of `window_start`). It differs from
exact arithmetic when the time itself rounds (47.99999999 is 48.0 in float32: token 3 for d = 16, not 2),
and, for a d that is not a power of two, when the quotient rounds (t = 16908674, d = 129: 131075, not
131074). Every user of the arithmetic (generator, exporters, `svgan_tf.generation`, the TF Serving client,
the LiteRT player, `svgan_tf.metrics.evaluation`) goes through this module, so that they all agree with the network
to the token. The reference's draw count (`num_motion_tokens`) is host arithmetic on Python numbers, as in
the reference.

Only a generator knows its kernel size; an exported model publishes W and d instead, so every function but
`window_length` takes W. No TensorFlow here: the LiteRT player and the TF Serving client run without it.
"""

import math

import numpy as np


def window_length(kernel_size):
    """Number W of consecutive motion-noise tokens one frame needs.

    Args:
        kernel_size: kernel size k of the motion mapping convolutions.

    Returns:
        2 (k - 1) + 2 (22 for the reference k = 11).
    """
    return 2 * (kernel_size - 1) + 2


def window_start(t, motion_z_distance):
    """Index of the first token of the window of frames at times `t` (the float32 rule, module docstring).

    Args:
        t: frame time(s), any shape.
        motion_z_distance: token spacing d in frames.

    Returns:
        floor(float32(t) / float32(d)) as int64, the shape of `t`.
    """
    return np.floor(np.asarray(t, np.float32) / np.float32(motion_z_distance)).astype(np.int64)


def token_window(t, motion_z_distance, tokens_per_frame):
    """The window of motion-noise tokens that frames at times `t` need, shared by all of them.

    Args:
        t: array-like of non-negative frame times (any shape).
        motion_z_distance: token spacing d in frames.
        tokens_per_frame: W, the window length of one frame (`window_length`).

    Returns:
        (start, length): slice `motion_z[:, start:start + length]` and pass `token_offset=start`.

    Raises:
        ValueError: when `t` is empty, negative or not finite.
    """
    t = np.asarray(t, np.float32)
    if t.size == 0 or np.any(t < 0) or not np.all(np.isfinite(t)):
        raise ValueError(f"Frame times must be finite and >= 0, got {t!r}.")
    starts = window_start(t, motion_z_distance)
    start = int(starts.min())
    return start, int(starts.max()) - start + tokens_per_frame


def prefix_length(max_t, motion_z_distance, tokens_per_frame):
    """Number L of tokens, from token 0, that frames at times 0 .. `max_t` need: floor(max_t / d) + W.

    Args:
        max_t: the latest frame time.
        motion_z_distance: token spacing d in frames.
        tokens_per_frame: W, the window length of one frame (`window_length`).

    Returns:
        L (an int).
    """
    return int(window_start(max_t, motion_z_distance)) + tokens_per_frame


def longest_window(span, motion_z_distance, tokens_per_frame):
    """A window length that holds the tokens of frames at any times within an interval of length `span`.

    floor(b / d) - floor(a / d) <= floor((b - a) / d) + 1, plus one token for float32 rounding of the times.

    Args:
        span: length of the interval of times (frames).
        motion_z_distance: token spacing d in frames.
        tokens_per_frame: W, the window length of one frame (`window_length`).

    Returns:
        floor(span / d) + 2 + W.
    """
    return int(math.floor(span / motion_z_distance)) + 2 + tokens_per_frame


def num_motion_tokens(max_t, motion_z_distance, tokens_per_frame, max_num_frames):
    """Number of motion-noise tokens the reference draws for frames at times up to `max_t`.

    The reference covers at least its training window: ceil(max(max_num_frames - 1, max_t) / d) + 2 motion
    vectors, i.e. ceil(max(max_num_frames - 1, max_t) / d) + W tokens.

    Args:
        max_t: the latest frame time (a Python number).
        motion_z_distance: token spacing d in frames.
        tokens_per_frame: W, the window length of one frame (`window_length`).
        max_num_frames: the generator's training window in frames.

    Returns:
        The number of tokens (an int).
    """
    return math.ceil(max(max_num_frames - 1, float(max_t)) / motion_z_distance) + tokens_per_frame


def frame_times(first, count, time_offset=0.0, time_step=1.0):
    """Times of frames first .. first + count - 1 of a video: t_i = time_offset + i * time_step.

    Computed in float64 and rounded once to float32 (the models' time dtype), so a video rendered in pieces,
    or continued from `time_offset` = t_k, meets the frames of one rendered whole at exactly the same times.

    Args:
        first: index of the first frame.
        count: number of frames.
        time_offset: time of frame 0, in frames.
        time_step: time between consecutive frames (< 1: slow motion).

    Returns:
        float32 [count].
    """
    return (time_offset + (first + np.arange(count, dtype=np.float64)) * time_step).astype(np.float32)
