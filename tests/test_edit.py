"""python -m svgan_tf.edit: each mode writes its grid (first frames) and grid video from the library's latents;
user errors are one line with exit status 2."""

import os

import keras
import numpy as np
import PIL.Image
import pytest

from svgan_tf import editing, latents, projection
from svgan_tf.training.summaries import to_uint8
from tests.support import TINY_G, run_program, tiny_generator, write_npz_generator


@pytest.fixture(scope="module")
def G():
    keras.utils.set_random_seed(4)
    return tiny_generator()


@pytest.fixture
def checkpoint(G, tmp_path):
    return write_npz_generator(G, str(tmp_path))


def _cli(*args):
    return run_program("svgan_tf.edit", *args)


def test_sefa_grid_is_the_library_edit(G, checkpoint, tmp_path):
    out = tmp_path / "edits"
    result = _cli(f"--checkpoint={checkpoint}", f"--out={out}", "--mode=sefa", "--seed=3", "--motion_seed=2",
                  "--directions=1-2", "--strengths=-1,1", "--resolutions=8,16", "--num_frames=3",
                  "--format=frames")
    assert result.returncode == 0, result.stderr
    assert "SeFa eigenvalues: 1:" in result.stderr
    grid = np.asarray(PIL.Image.open(out / "sefa.png"))
    assert grid.shape == (2 * 32, 2 * 32, 3) and sorted(os.listdir(out / "sefa")) == [
        f"frame_{i:06d}.png" for i in range(3)]
    ws = G.mapping(latents.content_z(3, G.z_dim)[None]).numpy()
    directions = editing.sefa_directions(G, [8, 16])[1]
    w_std = projection.w_statistics(G)[1]
    edited = editing.apply_direction(ws, directions[2], 1.0 * w_std, editing.ws_indices(G, [8, 16]))  # row 2, col 2
    times = np.arange(3, dtype=np.float32)
    motion_z = latents.MotionTokenStream(2, G.motion_z_dim).window(0, G.token_window(times[None])[1])[None]
    cell = to_uint8(editing.render_clips(G, edited, motion_z, times)).numpy()[0]
    np.testing.assert_array_equal(grid[32:, 32:], cell[0])
    np.testing.assert_array_equal(np.asarray(PIL.Image.open(out / "sefa" / "frame_000002.png"))[32:, 32:], cell[2])


def test_motion_interpolation_of_a_latents_file_ends_at_both_motions(G, checkpoint, tmp_path):
    out = tmp_path / "edits"
    ws = G.mapping(latents.content_z(1, G.z_dim)[None]).numpy() * 0.5  # a content no seed gives
    np.savez(tmp_path / "latents.npz", ws=ws)
    result = _cli(f"--checkpoint={checkpoint}", f"--out={out}", "--mode=motion",
                  f"--latents={tmp_path / 'latents.npz'}",
                  "--motion_seed=5", "--motion_seed2=6", "--columns=3", "--num_frames=2", "--time_step=3",
                  "--format=gif")
    assert result.returncode == 0, result.stderr
    grid = np.asarray(PIL.Image.open(out / "motion.png"))
    assert grid.shape == (32, 3 * 32, 3) and (out / "motion.gif").is_file()
    for column, seed in ((0, 5), (2, 6)):
        motion_z = latents.MotionTokenStream(seed, G.motion_z_dim).window(0, G.token_window(np.zeros((1, 1)))[1])
        frame = to_uint8(editing.render_clips(G, ws, motion_z[None], [0.0])).numpy()[0, 0]
        assert np.abs(grid[:, 32 * column:32 * (column + 1)].astype(int) - frame).max() <= 1


def test_user_errors_are_one_line(checkpoint, tmp_path):
    result = _cli(f"--checkpoint={checkpoint}", f"--out={tmp_path}", "--mode=sefa", "--directions=0,99")
    assert result.returncode == 2
    w_dim = TINY_G["w_dim"]
    assert result.stderr.strip() == (f"svgan_tf.edit: error: --directions: the generator has {w_dim} directions "
                                     f"(0..{w_dim - 1}).")
