"""python -m svgan_tf.generate: its videos are the library's, its flags are planned and checked before the
generator loads, and every user error is one line with exit status 2."""

import os
import re

import numpy as np
import pytest
from PIL import Image

from svgan_tf.data.video import read_mp4
from svgan_tf.generation import VideoRenderer
from tests.support import run_program, run_programs, tiny_generator, write_npz_generator


@pytest.fixture(scope="module")
def G():
    return tiny_generator()


@pytest.fixture
def checkpoint(G, tmp_path):
    return write_npz_generator(G, str(tmp_path))


def _cli(*args):
    return run_program("svgan_tf.generate", *args)


def _frames(directory, count):
    return np.stack([np.asarray(Image.open(os.path.join(directory, f"frame_{i:06d}.png"))) for i in range(count)])


def test_cli_end_to_end_from_reference_npz(G, checkpoint, tmp_path):
    out = str(tmp_path / "videos")
    # PNG frames are lossless: the CLI's frames are exactly the library's, continued at t = 5 in slow motion.
    result = _cli(f"--checkpoint={checkpoint}", f"--out={out}", "--seeds=0,2", "--num_frames=6", "--time_offset=5",
                  "--time_step=0.5", "--chunk_frames=4", "--format=frames")
    assert result.returncode == 0, result.stderr
    assert "6/6 frames" in result.stderr
    expected = np.concatenate(list(VideoRenderer(G, [2], time_offset=5.0, time_step=0.5).chunks(6)), 1)[0]
    np.testing.assert_array_equal(_frames(os.path.join(out, "seed0002"), 6), expected)
    assert sorted(os.listdir(out)) == ["seed0000", "seed0002"]
    # bfloat16 inference: the same video within bfloat16 rounding.
    result = _cli(f"--checkpoint={checkpoint}", f"--out={tmp_path / 'bf16'}", "--seeds=2", "--num_frames=6",
                  "--time_offset=5", "--time_step=0.5", "--chunk_frames=4", "--format=frames", "--precision=bfloat16")
    assert result.returncode == 0, result.stderr
    difference = np.abs(_frames(str(tmp_path / "bf16" / "seed0002"), 6).astype(int) - expected.astype(int))
    assert 0 < difference.mean() < 2 and difference.max() < 32

    result = _cli(f"--checkpoint={checkpoint}", f"--out={out}", "--seeds=0-1", "--motion_seeds=3", "--grid",
                  "--seconds=0.4", "--fps=20")
    assert result.returncode == 0, result.stderr
    assert read_mp4(os.path.join(out, "grid.mp4")).shape == (8, 32, 64, 3)


def test_plan_and_user_errors(checkpoint, tmp_path):
    out = tmp_path / "out"
    (out / "grid").mkdir(parents=True)
    for name in ("seed0002.mp4", "seed0003.mp4"):
        (out / name).write_bytes(b"")
    missing = f"--checkpoint={tmp_path / 'missing.npz'}"
    planned = [missing, f"--out={out}"]  # every flag is checked before the generator is loaded
    cases = [
        (["--checkpoint=", f"--out={out}"], "--checkpoint: required"),
        ([f"--out={out}"], "--checkpoint"),
        ([*planned, "--num_frames=10", "--seconds=1"], "--num_frames and --seconds: give one"),
        ([*planned, "--num_frames=0"], "--num_frames: must be >= 1"),
        ([*planned, "--time_offset=-1"], "--time_offset: must be >= 0"),
        ([*planned, "--time_step=0"], "--time_step: must be > 0"),
        ([*planned, "--fps=0"], "--fps: must be > 0"),
        ([*planned, "--seeds=x"], "--seeds: 'x'"),
        ([*planned, "--motion_seeds=1"], "--motion_seeds: only with --grid"),
        ([*planned, f"--time_offset={2 ** 24}"], "beyond 16777216 frames"),
        ([*planned, "--seeds=2-3", "--seconds=2", "--fps=12.5"], r"seed0002\.mp4 exists \(and 1 more\)"),
        ([*planned, "--grid", "--format=frames", "--motion_seeds=4"], re.escape(f"{out / 'grid'} exists")),
        ([*planned, "--seeds=2-3", "--overwrite"], "--checkpoint: .*missing.npz: no such file"),
        ([f"--checkpoint={checkpoint}", f"--out={out}", "--format=avi"], "--format.*avi"),
        ([f"--checkpoint={checkpoint}", f"--out={out}", "--seed=3"], "Unknown command line flag 'seed'"),
    ]
    for (args, message), result in zip(cases, run_programs("svgan_tf.generate", [args for args, _ in cases])):
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert re.search(message, result.stderr), (args, result.stderr)
