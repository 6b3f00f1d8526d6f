"""svgan_tf.editing: SeFa directions are the style affines' principal directions, edits move only the rows
and the latents asked for, interpolations keep their ends."""

import keras
import numpy as np
import pytest

from svgan_tf import editing, latents
from tests.support import tiny_generator


@pytest.fixture(scope="module")
def G():
    keras.utils.set_random_seed(2)
    return tiny_generator()


def _stacked_affines(G, resolutions):
    rows = []
    for block in G.synthesis.blocks:
        if block.resolution in resolutions:
            for layer in (block.conv0, block.conv1, block.torgb):
                if layer is not None:
                    a = np.asarray(layer.affine.weight, np.float64).T * layer.affine.weight_gain
                    rows.append(a / np.linalg.norm(a, axis=1, keepdims=True))
    return np.concatenate(rows)


def test_sefa_directions_maximise_the_style_change(G):
    eigenvalues, directions = editing.sefa_directions(G, [8, 16])
    assert directions.shape == (G.w_dim, G.w_dim) and np.all(np.diff(eigenvalues) <= 1e-9)
    np.testing.assert_allclose(directions @ directions.T, np.eye(G.w_dim), atol=1e-5)
    a = _stacked_affines(G, {8, 16})
    # |A n|^2 of direction k is its eigenvalue, and no unit vector moves the chosen styles more than direction 0.
    np.testing.assert_allclose(np.sum((a @ directions.T.astype(np.float64)) ** 2, 0), eigenvalues, rtol=1e-4)
    random = np.random.default_rng(0).standard_normal((100, G.w_dim))
    random /= np.linalg.norm(random, axis=1, keepdims=True)
    assert np.max(np.sum((a @ random.T) ** 2, 0)) < eigenvalues[0]
    assert not np.allclose(np.abs(editing.sefa_directions(G)[1][0]), np.abs(directions[0]))  # other layers, others
    with pytest.raises(ValueError, match="subset"):
        editing.sefa_directions(G, [64])


def test_ws_indices_follow_the_blocks(G):
    # 32x32: b4 reads rows 0 (conv1), 1 (torgb); b8 rows 1, 2, 3; b16 3, 4, 5; b32 5, 6, 7.
    assert editing.ws_indices(G, [4]) == [0, 1]
    assert editing.ws_indices(G, [16]) == [3, 4, 5]
    assert editing.ws_indices(G) == list(range(G.num_ws))


def test_edit_moves_only_its_rows_and_keeps_the_motion_path(G):
    ws = G.mapping(latents.content_z(0, G.z_dim)[None]).numpy()
    direction = editing.sefa_directions(G)[1][0]
    edited = editing.apply_direction(ws, direction, 2.0, rows=[3, 4, 5])
    np.testing.assert_array_equal(np.delete(edited, [3, 4, 5], axis=1), np.delete(ws, [3, 4, 5], axis=1))
    np.testing.assert_allclose(edited[0, 4] - ws[0, 4], 2.0 * direction, atol=1e-6)
    times = np.arange(3, dtype=np.float32)
    motion_z = latents.MotionTokenStream(0, G.motion_z_dim).window(0, G.token_window(times[None])[1])[None]
    before, after = (editing.render_clips(G, w, motion_z, times) for w in (ws, edited))
    assert np.abs(after - before).mean() > 1e-3
    # The frames' differences over time (the motion) come from the same motion codes in both clips.
    np.testing.assert_array_equal(editing.render_clips(G, ws, motion_z, times)[0],
                                  G.synthesize(ws, times[None], motion_z).numpy()[0])


def test_truncation_and_interpolations():
    w_avg, ws = np.full(4, 1.0, np.float32), np.arange(8, dtype=np.float32).reshape(1, 2, 4)
    np.testing.assert_array_equal(editing.truncate(ws, w_avg, 1.0), ws)
    np.testing.assert_array_equal(editing.truncate(ws, w_avg, 0.0), np.ones_like(ws))
    np.testing.assert_allclose(editing.lerp(ws, ws + 2, [0, 0.5, 1]), [ws, ws + 1, ws + 2])
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 5, 64))
    path = editing.slerp(a, b, [0, 0.5, 1])
    np.testing.assert_allclose(path[0], a, atol=1e-5)
    np.testing.assert_allclose(path[2], b, atol=1e-5)
    norms = np.linalg.norm(path[1], axis=-1)
    ends = np.linalg.norm(a, axis=-1), np.linalg.norm(b, axis=-1)
    assert np.all(norms > 0.95 * np.minimum(*ends))  # a straight line would pass at about 1 / sqrt(2) of them
    np.testing.assert_allclose(editing.slerp(a, a, [0.3])[0], a, atol=1e-5)
