"""Frame sources (svgan_tf.data.sources): the reference folder and zip layouts, labels, frame checks; every format
(folder, zip variants, TFRecord) gives identical clips."""

import json
import os

import numpy as np
import PIL.Image
import pytest
import tensorflow as tf

from svgan_tf.data import convert, pipeline, sources
from svgan_tf.data import sampling as sampling_lib
from tests import support

CFG = sampling_lib.SamplingConfig()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return support.write_frame_folder(tmp_path_factory.mktemp("folder") / "videos", support.LENGTHS,
                                       labels=support.LABELS)


def test_folder_index_skips_short_videos_and_reads_labels(folder):
    source = pipeline.open_source(folder)
    index = source.index
    assert isinstance(source, sources.FolderSource)
    assert index.num_videos == 5 and index.num_skipped == 1 and index.resolution == 16
    assert index.video_names == ("vid0", "vid1", "vid3", "vid4", "vid5")
    assert index.lengths.dtype == np.int64 and index.lengths.tolist() == [6, 9, 40, 17, 12]
    assert index.labels.dtype == np.float32
    np.testing.assert_array_equal(index.labels, np.eye(3)[[0, 2, 2, 0, 1]])
    assert pipeline.open_source(folder, use_labels=False).index.c_dim == 0
    assert pipeline.open_source(folder, sampling=sampling_lib.SamplingConfig(num_frames=1)).index.num_videos == 6
    with pytest.raises(ValueError, match="same SamplingConfig"):
        pipeline.real_clip_dataset(source, sampling_lib.SamplingConfig(num_frames=8), 2, seed=0)


def test_float_labels_and_inconsistent_labels(tmp_path):
    root = support.write_frame_folder(tmp_path / "a", [3, 4], labels=[[0.5, 1.0], [2.0, -1.0]])
    np.testing.assert_array_equal(pipeline.open_source(root).index.labels, [[0.5, 1.0], [2.0, -1.0]])
    root = support.write_frame_folder(tmp_path / "b", [3, 4])
    entries = [["vid0/000000.png", 0], ["vid0/000001.png", 1], ["vid0/000002.png", 0]]
    (root / "dataset.json").write_text(json.dumps({"labels": entries}))
    with pytest.raises(ValueError, match="'vid0' have different labels"):
        pipeline.open_source(root)


def test_folder_zip_and_tfrecord_give_identical_clips(folder, tmp_path):
    reference = support.clip_batches(pipeline.open_source(folder), CFG)
    others = [
        pipeline.open_source(support.zip_folder(folder, tmp_path / "top.zip", top="videos")),
        pipeline.open_source(support.zip_folder(folder, tmp_path / "flat.zip", dir_entries=False)),
        pipeline.open_source(support.zip_folder(folder, tmp_path / "top_nodirs.zip", top="videos", dir_entries=False)),
    ]
    convert.make_dataset(str(folder), str(tmp_path / "records"), 16, shard_bytes=4000, log=lambda _: None)
    others.append(pipeline.open_source(tmp_path / "records"))
    assert [type(s).__name__ for s in others] == ["ZipSource"] * 3 + ["TFRecordSource"]
    assert len(os.listdir(tmp_path / "records")) > 2  # several shards
    for source in others:
        assert source.index.video_names == ("vid0", "vid1", "vid3", "vid4", "vid5")
        np.testing.assert_array_equal(source.index.labels, pipeline.open_source(folder).index.labels)
        support.assert_same_clips(reference, support.clip_batches(source, CFG))


def test_bad_frames_are_reported_with_their_file(tmp_path):
    root = support.write_frame_folder(tmp_path / "size", [5, 5])
    PIL.Image.fromarray(np.zeros([20, 20, 3], np.uint8)).save(root / "vid1" / "000002.png")
    source = pipeline.open_source(root, sampling=sampling_lib.SamplingConfig(num_frames=5, max_dist=4))
    with pytest.raises(tf.errors.InvalidArgumentError, match="vid1/000002.png"):
        support.clip_batches(source, CFG, n_batches=1, batch_size=4)
    root = support.write_frame_folder(tmp_path / "garbage", [5, 5])
    (root / "vid1" / "000003.png").write_bytes(b"not an image")
    source = pipeline.open_source(root, sampling=sampling_lib.SamplingConfig(num_frames=5, max_dist=4))
    with pytest.raises(tf.errors.InvalidArgumentError, match="vid1/000003.png"):
        support.clip_batches(source, CFG, n_batches=1, batch_size=4)
    root = support.write_frame_folder(tmp_path / "rect", [3])
    PIL.Image.fromarray(np.zeros([16, 12, 3], np.uint8)).save(root / "vid0" / "000000.png")
    with pytest.raises(ValueError, match="vid0/000000.png.*square"):
        pipeline.open_source(root)
    with pytest.raises(ValueError, match="expected resolution 32"):
        pipeline.open_source(support.write_frame_folder(tmp_path / "res", [3]), resolution=32)
