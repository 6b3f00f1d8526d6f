"""The synthetic dataset (svgan_tf.data.demo)."""

import pathlib

import numpy as np

import svgan_tf
from svgan_tf import generation
from svgan_tf.data import demo, pipeline
from svgan_tf.training import run_dir

REPO = pathlib.Path(__file__).resolve().parents[1]


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


def test_demo_shapes_move_over_a_plain_background():
    frames = pipeline.open_source("demo").render(2, [0, 30])
    modes = []
    for frame in frames:
        colours, counts = np.unique(frame.reshape(-1, 3), axis=0, return_counts=True)
        assert counts.max() > frame.shape[0] * frame.shape[1] / 2  # one flat colour fills most of the frame
        modes.append(colours[counts.argmax()])
        shape = np.any(frame != modes[-1], axis=-1)
        assert shape.mean() > 0.05  # the shapes are large
    np.testing.assert_array_equal(modes[0], modes[1])  # the background does not drift
    assert not np.array_equal(*[np.any(f != modes[0], axis=-1) for f in frames])  # the shapes do


def test_demo_paths():
    assert demo.is_demo("demo") and demo.is_demo("demo:7")
    assert not demo.is_demo("demos") and not demo.is_demo("data/demo")
    assert pipeline.open_source("demo:7").index.description.startswith("demo:7: 128 synthetic videos")


def test_bundled_generator_matches_the_demo_configuration():
    flags = dict(line[2:].split("=", 1) for line in (REPO / "configs" / "demo.flags").read_text().splitlines()
                 if line.startswith("--"))
    G = run_dir.load_generator(str(pathlib.Path(svgan_tf.__file__).parent / "assets" / "demo_generator.npz"))
    config = G.get_config()
    architecture = [k for k in flags if k in config]
    assert len(architecture) >= 10  # z_dim, widths, motion and time-encoding settings
    assert {k: str(config[k]) for k in architecture} == {k: flags[k] for k in architecture}
    videos = [generation.one_shot_frames(G, seed, [0.0, 8.0]) for seed in (0, 1)]
    assert videos[0].shape == (2, 32, 32, 3) and np.isfinite(videos).all()
    assert np.abs(videos[0][1] - videos[0][0]).mean() > 0.01  # it moves
    assert np.abs(videos[1] - videos[0]).mean() > 0.05  # seeds differ
