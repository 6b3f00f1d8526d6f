"""The real-clip pipeline (svgan_tf.data.pipeline): opening by path, clip contents and mirroring, determinism,
resumption and distribution."""

import numpy as np
import PIL.Image
import pytest
import tensorflow as tf

from svgan_tf.data import demo, pipeline
from svgan_tf.data import sampling as sampling_lib
from tests import support

CFG = sampling_lib.SamplingConfig()


def test_clips_hold_the_right_pixels_and_mirroring(tmp_path):
    source = pipeline.open_source(support.write_frame_folder(tmp_path / "videos", support.LENGTHS,
                                                              labels=support.LABELS))
    clips = support.clip_batches(source, CFG, n_batches=4, batch_size=5)
    flips = set()
    for i in range(20):
        video, flip, clip_seed = sampling_lib.clip_plan(tf.constant(i, tf.int64), 5, CFG, 7)
        frames, t = sampling_lib.sample_real_frames(tf.gather(source.index.lengths, video)[None], CFG, clip_seed)
        original = int(source.index.video_names[int(video)][3:])
        expected = np.stack([support.frame(original, f) for f in frames.numpy()[0]])
        expected = expected[:, :, ::-1] if flip else expected
        np.testing.assert_array_equal(clips[i // 5]["frames"][i % 5], expected)
        np.testing.assert_array_equal(clips[i // 5]["t"][i % 5], t.numpy()[0])
        flips.add(bool(flip))
    assert flips == {True, False}


def test_open_source_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        pipeline.open_source(tmp_path / "nowhere")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="unknown format"):
        pipeline.open_source(tmp_path / "notes.txt")
    with pytest.raises(ValueError, match="no image files"):
        pipeline.open_source(tmp_path)
    with pytest.raises(ValueError, match="no usable video"):
        pipeline.open_source(support.write_frame_folder(tmp_path / "short", [1, 2]))
    (tmp_path / "flat").mkdir()
    PIL.Image.fromarray(support.frame(0, 0)).save(tmp_path / "flat" / "000000.png")
    with pytest.raises(ValueError, match="<video_dir>/<frame>"):
        pipeline.open_source(tmp_path / "flat")
    with pytest.raises(ValueError, match="SEED"):
        pipeline.open_source("demo:abc")


def test_streams_are_deterministic_and_resume_exactly():
    source = demo.DemoSource(seed=1, num_videos=16, min_length=8, max_length=40)
    clips = support.clip_batches(source, CFG, n_batches=4, batch_size=3)
    support.assert_same_clips(clips, support.clip_batches(source, CFG, n_batches=4, batch_size=3))
    flat = {k: np.concatenate([b[k] for b in clips]) for k in clips[0]}
    resumed = support.clip_batches(source, CFG, n_batches=2, batch_size=3, start_index=5)
    for j, batch in enumerate(resumed):
        for key in ("frames", "t"):
            np.testing.assert_array_equal(batch[key], flat[key][5 + 3 * j:8 + 3 * j])
    other = support.clip_batches(source, CFG, n_batches=1, batch_size=3, seed=8)
    assert not np.array_equal(other[0]["frames"], clips[0]["frames"])


def test_input_context_splits_the_stream_into_disjoint_interleaved_parts():
    source = demo.DemoSource(seed=2, num_videos=8, min_length=8, max_length=20)
    single = np.concatenate([b["frames"] for b in support.clip_batches(source, CFG, n_batches=8, batch_size=1)])
    for part in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=part, num_replicas_in_sync=2)
        batches = support.clip_batches(source, CFG, n_batches=2, batch_size=context.get_per_replica_batch_size(4),
                                        input_context=context)
        assert batches[0]["frames"].shape[0] == 2  # per-replica batch
        got = np.concatenate([b["frames"] for b in batches])
        np.testing.assert_array_equal(got, single[part::2])
