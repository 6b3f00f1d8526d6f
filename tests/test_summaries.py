"""Monitoring helpers: uint8 conversion, grids, animated GIFs, durations."""

import io

import numpy as np
from PIL import Image

from svgan_tf import summaries


def test_to_uint8_maps_minus_one_to_one_onto_0_255():
    np.testing.assert_array_equal(summaries.to_uint8(np.array([-2.0, -1.0, 0.0, 1.0, 3.0])).numpy(),
                                  [0, 0, 128, 255, 255])


def test_grids():
    videos = np.arange(5 * 4 * 2 * 3 * 3, dtype=np.uint8).reshape(5, 4, 2, 3, 3)  # 5 videos, 4 frames, 2x3
    tiled = summaries.video_grid(videos, columns=3)
    assert tiled.shape == (4, 2 * 2, 3 * 3, 3)
    np.testing.assert_array_equal(tiled[1, 2:4, 0:3], videos[3, 1])  # video 3 sits in row 1, column 0
    np.testing.assert_array_equal(tiled[0, 2:4, 6:9], 0)  # the missing sixth tile is black
    strip = summaries.frames_grid(videos)
    assert strip.shape == (5 * 2, 4 * 3, 3)
    np.testing.assert_array_equal(strip[2:4, 3:6], videos[1, 1])


def test_gif_has_every_frame():
    frames = np.zeros([6, 8, 8, 3], np.uint8)
    frames[:, :, :, 0] = np.arange(6)[:, None, None] * 40
    gif = Image.open(io.BytesIO(summaries.encode_gif(frames)))
    assert gif.n_frames == 6 and gif.size == (8, 8)


def test_format_duration():
    assert summaries.format_duration(75) == "1m15s"
    assert summaries.format_duration(3 * 3600 + 120) == "3h02m"
    assert summaries.format_duration(2 * 86400 + 3600) == "2d 01h00m"
