"""Seeded latents shared by generate, the TF Serving client and the LiteRT player."""

import numpy as np
import pytest

from svgan_tf.latents import TOKENS_PER_BLOCK, MotionTokenStream, content_z, parse_seeds


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
