"""Long-video generation (svgan_tf.generation): chunked == one-shot, continuation, slow motion, the token stream,
grids, labels, inference precision."""

import numpy as np
import pytest
from PIL import Image

from svgan_tf.cli import UserError
from svgan_tf.generation import VideoRenderer, at_precision, generate_video, one_shot_frames
from svgan_tf.latents import TOKENS_PER_BLOCK, MotionTokenStream, content_z
from svgan_tf.training.summaries import to_uint8
from tests.support import tiny_generator


@pytest.fixture(scope="module")
def G():
    return tiny_generator()


def chunked(renderer, num_frames, first=0):
    return np.concatenate([renderer.render(i, min(renderer.chunk_frames, first + num_frames - i))
                           for i in range(first, first + num_frames, renderer.chunk_frames)], axis=1)


def u8(frames):
    return to_uint8(frames).numpy()


@pytest.mark.parametrize("chunk_frames", [1, 7])
def test_chunked_equals_one_shot(G, chunk_frames):
    renderer = VideoRenderer(G, [5], time_offset=2.5, chunk_frames=chunk_frames, truncation_psi=0.7)
    frames = chunked(renderer, 30)[0]
    expected = one_shot_frames(G, 5, renderer.frame_times(0, 30), truncation_psi=0.7)
    diff = float(np.abs(frames - expected).max())
    print(f"chunk_frames={chunk_frames}: float max |chunked - one-shot| = {diff:.3g}")
    assert diff <= 1e-5  # measured 0 (bit-identical) on x86 CPUs with oneDNN
    np.testing.assert_array_equal(u8(frames), u8(expected))
    # And the uint8 chunks the writers receive are the same frames.
    np.testing.assert_array_equal(np.concatenate(list(renderer.chunks(30)), axis=1)[0], u8(frames))


def test_time_offset_continues_the_same_video(G):
    full = np.concatenate(list(VideoRenderer(G, [1], chunk_frames=8).chunks(40)), axis=1)[0]
    # Started at t = 13 with other chunk boundaries: exactly the tail of the longer run.
    tail = np.concatenate(list(VideoRenderer(G, [1], time_offset=13.0, chunk_frames=5).chunks(27)), axis=1)[0]
    np.testing.assert_array_equal(tail, full[13:])
    other = np.concatenate(list(VideoRenderer(G, [2], chunk_frames=8).chunks(4)), axis=1)[0]
    assert not np.array_equal(other, full[:4])  # and another seed is another video


def test_slow_motion_time_grid(G):
    slow = np.concatenate(list(VideoRenderer(G, [4], time_offset=2.0, time_step=0.25, chunk_frames=6).chunks(17)),
                          axis=1)[0]
    normal = np.concatenate(list(VideoRenderer(G, [4], time_offset=2.0, chunk_frames=3).chunks(5)), axis=1)[0]
    np.testing.assert_array_equal(slow[::4], normal)  # frame 4k of 4x slow motion is frame k at normal speed
    assert not np.array_equal(slow[1], slow[0])  # in-between frames are new frames, not repeats


def test_rendering_far_into_a_video_draws_only_its_window(G):
    # An hour into a video (t = 90,000 frames, token 22,500 of the tiny model): only the window there is drawn.
    renderer = VideoRenderer(G, [3], time_offset=90_000.0, chunk_frames=16)
    frames = chunked(renderer, 64)
    (stream,) = renderer.streams
    assert stream.blocks_drawn == 1 and stream.cached_blocks == [90_000 // 4 // TOKENS_PER_BLOCK]
    start, length = G.token_window(renderer.frame_times(0, 64))
    window = MotionTokenStream(3, G.motion_z_dim).window(start, length)[None]
    expected = G(content_z(3, G.z_dim)[None], renderer.frame_times(0, 64)[None], window, token_offset=start)
    np.testing.assert_array_equal(u8(frames), u8(expected))


def test_grid_is_content_by_motion(G, tmp_path):
    path = tmp_path / "grid"
    assert generate_video(G, path, [0, 1], motion_seeds=[2, 3, 0], num_frames=5, chunk_frames=4, grid=True,
                          progress=False) == 5
    grid = np.stack([np.asarray(Image.open(path / f"frame_{i:06d}.png")) for i in range(5)])
    assert grid.shape == (5, 3 * 32, 2 * 32, 3)  # rows: motions, columns: contents
    cell = lambda i, j: grid[:, 32 * i:32 * i + 32, 32 * j:32 * j + 32]  # noqa: E731
    solo = lambda c, m: np.concatenate(list(VideoRenderer(G, [c], [m], chunk_frames=5).chunks(5)), 1)[0]  # noqa: E731
    np.testing.assert_array_equal(cell(1, 0), solo(0, 3))
    np.testing.assert_array_equal(cell(2, 0), solo(0, 0))  # motion seed = content seed: the ordinary video
    assert not np.array_equal(cell(0, 0), cell(1, 0)) and not np.array_equal(cell(0, 0), cell(0, 1))


def test_class_label_errors():
    with pytest.raises(UserError, match="--class_idx: the model is unconditional"):
        VideoRenderer(tiny_generator(), [0], class_idx=1)
    with pytest.raises(UserError, match=r"--class_idx: the model is conditional \(c_dim=3\)"):
        VideoRenderer(tiny_generator(c_dim=3), [0])
    labelled = VideoRenderer(tiny_generator(c_dim=3), [0], class_idx=2, chunk_frames=2)
    assert labelled.render(0, 2).shape == (1, 2, 32, 32, 3)


def test_bfloat16_inference_keeps_the_weights_and_the_frames(G):
    assert at_precision(G, "float32") is G
    G16 = at_precision(G, "bfloat16")
    assert all(np.array_equal(a, b) for a, b in zip(G16.get_weights(), G.get_weights()))
    assert G16.synthesis.b32.compute_dtype == "bfloat16" and G16.synthesis.b4.compute_dtype == "float32"
    times = np.arange(6, dtype=np.float32) * 1.5
    expected, frames = (one_shot_frames(g, 3, times) for g in (G, G16))
    error = np.abs(np.clip(frames, -1, 1) - np.clip(expected, -1, 1))
    print("bfloat16 vs float32: max", error.max(), "mean", error.mean())
    assert frames.dtype == np.float32 and 0 < error.mean() < 0.01 and error.max() < 0.1
    with pytest.raises(ValueError, match="--precision: unknown precision 'int4'"):
        at_precision(G, "int4")
