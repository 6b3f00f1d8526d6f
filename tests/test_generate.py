"""Long-video generation: chunked == one-shot, continuation, slow motion, the token stream, grids, the CLI."""

import json
import os
import re
import subprocess
import sys
import types

import numpy as np
import pytest
from PIL import Image

from svgan_tf.data.video import read_mp4
from svgan_tf.generate import UserError, VideoRenderer, _plan, frame_times, generate_video, one_shot_frames
from svgan_tf.interop import reference
from svgan_tf.latents import TOKENS_PER_BLOCK, MotionTokenStream, content_z
from svgan_tf.training.summaries import to_uint8
from tests.support import REPO, tiny_generator


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
    np.testing.assert_array_equal(frame_times(0, 6, time_offset=2.0, time_step=0.25),
                                  [2.0, 2.25, 2.5, 2.75, 3.0, 3.25])
    np.testing.assert_array_equal(frame_times(4, 2, time_offset=1.0, time_step=0.5), [3.0, 3.5])
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


def _flags(tmp_path, **values):
    defaults = dict(checkpoint="g.npz", out=str(tmp_path / "out"), seeds="0", motion_seeds=None, num_frames=None,
                    seconds=None, fps=25.0, time_offset=0.0, time_step=1.0, truncation_psi=1.0, format="mp4",
                    grid=False, chunk_frames=32, class_idx=None, crf=18, overwrite=False)
    return types.SimpleNamespace(**{**defaults, **values})


def test_plan_and_user_errors(tmp_path):
    num_frames, jobs = _plan(_flags(tmp_path, seeds="2-3", seconds=2.0, fps=12.5))
    assert num_frames == 25 and [os.path.basename(p) for p, _, _ in jobs] == ["seed0002.mp4", "seed0003.mp4"]
    _, jobs = _plan(_flags(tmp_path, grid=True, format="frames", motion_seeds="4"))
    assert jobs == [(str(tmp_path / "out" / "grid"), [0], [4])]
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "seed0000.mp4").write_bytes(b"")
    for values, message in [
            (dict(checkpoint=None), "--checkpoint: required"),
            (dict(num_frames=10, seconds=1.0), "--num_frames and --seconds: give one"),
            (dict(num_frames=0), "--num_frames: must be >= 1"),
            (dict(time_offset=-1.0), "--time_offset: must be >= 0"),
            (dict(time_step=0.0), "--time_step: must be > 0"),
            (dict(fps=0.0), "--fps: must be > 0"),
            (dict(seeds="x"), "--seeds: 'x'"),
            (dict(motion_seeds="1"), "--motion_seeds: only with --grid"),
            (dict(time_offset=2.0 ** 24), "beyond 16777216 frames"),
            (dict(), "seed0000.mp4 exists"),
    ]:
        with pytest.raises(UserError, match=message):
            _plan(_flags(tmp_path, **values))
    _plan(_flags(tmp_path, overwrite=True))
    with pytest.raises(UserError, match="--class_idx: the model is unconditional"):
        VideoRenderer(tiny_generator(), [0], class_idx=1)
    with pytest.raises(UserError, match=r"--class_idx: the model is conditional \(c_dim=3\)"):
        VideoRenderer(tiny_generator(c_dim=3), [0])
    labelled = VideoRenderer(tiny_generator(c_dim=3), [0], class_idx=2, chunk_frames=2)
    assert labelled.render(0, 2).shape == (1, 2, 32, 32, 3)


def _cli(*args):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "svgan_tf.generate", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def test_cli_end_to_end_from_reference_npz(G, tmp_path):
    reference.save_reference_npz(G, tmp_path / "g.npz")
    (tmp_path / "g.json").write_text(json.dumps(G.get_config()))
    ckpt, out = str(tmp_path / "g.npz"), str(tmp_path / "videos")
    # PNG frames are lossless: the CLI's frames are exactly the library's, continued at t = 5 in slow motion.
    result = _cli(f"--checkpoint={ckpt}", f"--out={out}", "--seeds=0,2", "--num_frames=6", "--time_offset=5",
                  "--time_step=0.5", "--chunk_frames=4", "--format=frames")
    assert result.returncode == 0, result.stderr
    assert "6/6 frames" in result.stderr
    expected = np.concatenate(list(VideoRenderer(G, [2], time_offset=5.0, time_step=0.5).chunks(6)), 1)[0]
    written = np.stack([np.asarray(Image.open(os.path.join(out, "seed0002", f"frame_{i:06d}.png"))) for i in range(6)])
    np.testing.assert_array_equal(written, expected)
    assert sorted(os.listdir(out)) == ["seed0000", "seed0002"]

    result = _cli(f"--checkpoint={ckpt}", f"--out={out}", "--seeds=0-1", "--motion_seeds=3", "--grid",
                  "--seconds=0.4", "--fps=20")
    assert result.returncode == 0, result.stderr
    assert read_mp4(os.path.join(out, "grid.mp4")).shape == (8, 32, 64, 3)

    for args, message in [
            ([f"--checkpoint={tmp_path / 'missing.npz'}", f"--out={out}"], "--checkpoint: .*missing.npz: no such file"),
            ([f"--checkpoint={ckpt}", f"--out={out}", "--format=avi"], "--format.*avi"),
            ([f"--checkpoint={ckpt}", f"--out={out}", "--seed=3"], "Unknown command line flag 'seed'"),
    ]:
        result = _cli(*args)
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        assert re.search(message, result.stderr), result.stderr
