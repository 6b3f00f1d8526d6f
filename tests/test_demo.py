"""The synthetic dataset (svgan_tf.data.demo)."""

import numpy as np

from svgan_tf.data import demo, pipeline


def test_demo_renders_deterministic_moving_content():
    a, b = pipeline.open_source("demo"), pipeline.open_source("demo")
    assert a.index.num_videos == 128 and a.index.resolution == 32 and a.index.c_dim == 0
    assert 64 <= a.index.lengths.min() and a.index.lengths.max() <= 128
    frames = a.render(0, [0, 1, 10])
    np.testing.assert_array_equal(frames, b.render(0, [0, 1, 10]))
    np.testing.assert_array_equal(frames[1:2], a.render(0, [1]))  # a frame does not depend on its clip
    step = np.abs(frames[1].astype(int) - frames[0]).mean()
    far = np.abs(frames[2].astype(int) - frames[0]).mean()
    assert 0 < step < far  # smooth, visible motion
    assert np.abs(a.render(1, [0]).astype(int) - frames[:1]).mean() > 10  # videos differ
    assert not np.array_equal(pipeline.open_source("demo:1").render(0, [0]), frames[:1])
    assert pipeline.open_source("demo", resolution=64).render(3, [5]).shape == (1, 64, 64, 3)


def test_demo_paths():
    assert demo.is_demo("demo") and demo.is_demo("demo:7")
    assert not demo.is_demo("demos") and not demo.is_demo("data/demo")
    assert pipeline.open_source("demo:7").index.description.startswith("demo:7: 128 synthetic videos")
