"""The TFRecord format (svgan_tf.data.tfrecord): shards written by ShardWriter and read back by TFRecordSource."""

import json

import numpy as np
import pytest
import tensorflow as tf

from svgan_tf.data import sampling as sampling_lib
from svgan_tf.data import tfrecord
from tests import support

LENGTHS = (4, 2, 5)


def _write(directory, shard_bytes=2000):
    writer = tfrecord.ShardWriter(str(directory), shard_bytes)
    for v, length in enumerate(LENGTHS):
        frames = [tf.io.encode_png(support.frame(v, f)).numpy() for f in range(length)]
        writer.add_video(f"video{v}", [float(v), 1.0], frames)
    return writer.finish("the source", 16)


def test_shards_round_trip_with_byte_offsets(tmp_path):
    summary = _write(tmp_path)
    index = json.loads((tmp_path / tfrecord.TFRECORD_INDEX).read_text())
    assert index["format"] == tfrecord.TFRECORD_FORMAT and index["source"] == "the source"
    assert index["resolution"] == 16 and index["c_dim"] == 2
    assert summary == {"shards": 2} and len(index["shards"]) == 2
    # Video 0 fills shard 0 past 2000 bytes; a video never spans shards. Each record adds 16 bytes of framing.
    assert [(v["shard"], v["offset"]) for v in index["videos"]] == [
        (0, 0), (1, 0), (1, sum(size + 16 for size in index["videos"][1]["sizes"]))]
    sizes = index["videos"][2]["sizes"]
    assert tfrecord.record_offsets(index["videos"][2]).tolist() == [
        index["videos"][2]["offset"] + sum(size + 16 for size in sizes[:f]) for f in range(len(sizes))]
    assert tfrecord.is_tfrecord_dataset(str(tmp_path)) and not tfrecord.is_tfrecord_dataset(str(tmp_path / "x"))
    # Plain TFRecord files: read sequentially, the records are the frames in order.
    records = tf.data.TFRecordDataset([str(tmp_path / s) for s in index["shards"]])
    parsed = [tf.io.parse_single_example(r, {"video": tf.io.FixedLenFeature([], tf.int64),
                                             "frame": tf.io.FixedLenFeature([], tf.int64)}) for r in records]
    assert [(int(p["video"]), int(p["frame"])) for p in parsed] == [(v, f) for v, n in enumerate(LENGTHS)
                                                                   for f in range(n)]
    # Random access by byte offset; the 2-frame video is too short for k = 3 and is skipped.
    source = tfrecord.TFRecordSource(str(tmp_path))
    assert source.index.video_names == ("video0", "video2") and source.index.num_skipped == 1
    assert source.index.lengths.tolist() == [4, 5] and source.index.resolution == 16
    np.testing.assert_array_equal(source.index.labels, [[0.0, 1.0], [2.0, 1.0]])
    frames = source.load_frames(tf.constant(1, tf.int64), tf.constant([4, 0, 2], tf.int64)).numpy()
    np.testing.assert_array_equal(frames, np.stack([support.frame(2, f) for f in (4, 0, 2)]))
    every = tfrecord.TFRecordSource(str(tmp_path), sampling=sampling_lib.SamplingConfig(num_frames=1),
                                    use_labels=False)
    assert every.index.num_videos == 3 and every.index.c_dim == 0
    np.testing.assert_array_equal(every.load_frames(tf.constant(1, tf.int64), tf.constant([1], tf.int64)).numpy(),
                                  support.frame(1, 1)[None])


def test_source_checks_the_index(tmp_path):
    _write(tmp_path)
    with pytest.raises(ValueError, match="expected resolution 32"):
        tfrecord.TFRecordSource(str(tmp_path), resolution=32)
    index = json.loads((tmp_path / tfrecord.TFRECORD_INDEX).read_text())
    (tmp_path / tfrecord.TFRECORD_INDEX).write_text(json.dumps(dict(index, format="something else")))
    with pytest.raises(ValueError, match="not an svgan TFRecord index"):
        tfrecord.TFRecordSource(str(tmp_path))
