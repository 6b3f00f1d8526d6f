"""Monitoring helpers: uint8 conversion, durations, progress lines."""

import io

import numpy as np

from svgan_tf.training import summaries


def test_to_uint8_maps_minus_one_to_one_onto_0_255():
    np.testing.assert_array_equal(summaries.to_uint8(np.array([-2.0, -1.0, 0.0, 1.0, 3.0])).numpy(),
                                  [0, 0, 128, 255, 255])


def test_format_duration():
    assert summaries.format_duration(75) == "1m15s"
    assert summaries.format_duration(3 * 3600 + 120) == "3h02m"
    assert summaries.format_duration(2 * 86400 + 3600) == "2d 01h00m"


def test_format_kimg_gives_the_total_the_decimals_it_needs():
    assert summaries.format_kimg(2.4, 2.4) == "      2.4/2.4"  # was "2.4/2" for --kimg=2.4
    assert summaries.format_kimg(0.048, 0.144) == "    0.048/0.144"
    assert summaries.format_kimg(3.2, 64) == "      3.2/64"
    assert summaries.format_kimg(1234.5678, 25000) == "   1234.6/25000"


def test_progress_line():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    for stream in (io.StringIO(), Terminal()):
        bar = summaries.Progress(100, label="v.mp4: ", stream=stream, interval=0.0, log_interval=0.0)
        bar.update(40)
        bar.update(60)
        bar.close()
        text = stream.getvalue()
        assert "v.mp4: 40/100 frames" in text and "100/100 frames (100.0%)" in text
        assert "frames/s" in text and "ETA 0m00s" in text
    assert text.startswith("\r") and text.endswith("\n")  # redrawn in place on a terminal
