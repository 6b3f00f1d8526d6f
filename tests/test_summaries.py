"""Monitoring helpers: uint8 conversion, durations."""

import numpy as np

from svgan_tf import summaries


def test_to_uint8_maps_minus_one_to_one_onto_0_255():
    np.testing.assert_array_equal(summaries.to_uint8(np.array([-2.0, -1.0, 0.0, 1.0, 3.0])).numpy(),
                                  [0, 0, 128, 255, 255])


def test_format_duration():
    assert summaries.format_duration(75) == "1m15s"
    assert summaries.format_duration(3 * 3600 + 120) == "3h02m"
    assert summaries.format_duration(2 * 86400 + 3600) == "2d 01h00m"
