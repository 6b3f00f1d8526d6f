"""Seeded latents shared by generate, the TF Serving client and the LiteRT player."""

import numpy as np
import pytest

from svgan_tf.latents import TOKENS_PER_BLOCK, MotionTokenStream, content_z, parse_seeds, read_latents_file


def test_token_stream_is_deterministic_and_lazy():
    block = TOKENS_PER_BLOCK
    whole = MotionTokenStream(9, 6).window(0, 3 * block)
    stream = MotionTokenStream(9, 6)
    np.testing.assert_array_equal(stream.window(block - 3, 10), whole[block - 3:block + 7])  # across a block edge
    np.testing.assert_array_equal(stream.window(2 * block + 1, 5), whole[2 * block + 1:2 * block + 6])
    assert stream.cached_blocks == [2]  # blocks outside the last window are dropped
    assert not np.array_equal(MotionTokenStream(10, 6).window(0, 5), whole[:5])
    np.testing.assert_array_equal(content_z(9, 8), content_z(9, 8))
    assert not np.array_equal(content_z(9, 8), content_z(10, 8))


def test_parse_seeds():
    assert parse_seeds("0-3,7") == [0, 1, 2, 3, 7]
    assert parse_seeds(" 5 , 2-3,5") == [5, 2, 3]
    for bad, message in [("a", "'a'"), ("3-1", "'3-1'"), ("1,,2", "''"), ("-2", "seeds must be in")]:
        with pytest.raises(ValueError, match=f"--seeds: {message}"):
            parse_seeds(bad)


def test_seeded_streams_are_pinned():
    # A seed is the same video across releases and platforms: these values were drawn once (NumPy 2 PCG64
    # through SeedSequence) and must never change. Token 63 is the last of block 0, 64 and 65 open block 1.
    np.testing.assert_array_equal(content_z(3, 4), np.float32([0.99837476, 1.2329549, 1.6887102, 0.41403389]))
    np.testing.assert_array_equal(content_z(2**40, 2), np.float32([0.83565438, 0.68543726]))
    np.testing.assert_array_equal(MotionTokenStream(3, 2).window(63, 3),
                                  np.float32([[0.76750255, 0.15541781], [0.017553603, -0.51004446],
                                              [-1.8493348, 0.68749851]]))


def test_latents_file_gives_ws_or_the_one_w_of_an_exported_model(tmp_path):
    w = np.arange(4, dtype=np.float32)[None]
    motion_z = np.ones((1, 7, 3), np.float32)
    np.savez(tmp_path / "one.npz", ws=np.repeat(w[:, None], 5, 1), motion_z=motion_z)
    ws, tokens = read_latents_file(str(tmp_path / "one.npz"), w_dim=4, motion_z_dim=3, num_ws=5)
    assert ws.shape == (1, 5, 4) and np.array_equal(tokens, motion_z)
    one, _ = read_latents_file(str(tmp_path / "one.npz"), w_dim=4, motion_z_dim=3)
    assert np.array_equal(one, w)
    with pytest.raises(ValueError, match=r"one\.npz: ws has shape \(1, 5, 4\); this generator takes \(1, 6, 4\)\."):
        read_latents_file(str(tmp_path / "one.npz"), w_dim=4, motion_z_dim=3, num_ws=6)
    with pytest.raises(ValueError, match=r"one\.npz: motion_z has shape \(1, 7, 3\); this generator takes \(1, L, 2"):
        read_latents_file(str(tmp_path / "one.npz"), w_dim=4, motion_z_dim=2)
    np.savez(tmp_path / "plus.npz", ws=np.stack([w, w + 1], 1))
    with pytest.raises(ValueError, match=r"plus\.npz: a per-layer \(W\+\) content"):
        read_latents_file(str(tmp_path / "plus.npz"), w_dim=4, motion_z_dim=3)
    np.savez(tmp_path / "flat.npz", ws=w)
    with pytest.raises(ValueError, match=r"flat\.npz: ws has shape \(1, 4\); this generator takes \(1, num_ws, 4\)"):
        read_latents_file(str(tmp_path / "flat.npz"), w_dim=4, motion_z_dim=3)
