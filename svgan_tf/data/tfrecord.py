"""The TFRecord dataset format: its writer (`ShardWriter`) and its reader (`TFRecordSource`).

Layout (`index.json` + `frames-XXXXX.tfrecord` shards): one record per frame, a `tf.train.Example` with
`image` (encoded JPEG/PNG bytes), `video` and `frame`; the frames of a video are consecutive records of one
shard, so `index.json` stores, per video, its shard, the byte offset of its first record and the payload size
of every record; the offset of any frame then follows from the TFRecord framing (8-byte length + 4-byte CRC
before the payload, 4-byte CRC after).

Why this design: training reads 3 frames at random positions of random videos, and TensorFlow has no native op
that reads a byte range of a file. `tf.data.FixedLengthRecordDataset(header_bytes=offset)` does, but it skips
the header by reading it, measured 0.2 ms per frame at the start of a 150 MB shard and 10 ms at its end. So
the payloads are read with `os.pread` (thread-safe, releases the GIL; 0.07 ms per frame) inside
`tf.numpy_function`, and everything else (Example parsing, image decoding, validation) is native TF running in
parallel `tf.data` map calls. The shards remain ordinary TFRecord files that `tf.data.TFRecordDataset` reads
sequentially. Only local paths are supported for this random access. Measured with tools/bench_data.py
(2 CPUs, 256x256 JPEG, warm page cache, batch 32 x 3 frames): folder 1970 clips/s, TFRecord 1690, zip 1520;
decoding dominates, so the gain of TFRecord is a few large files (copying, network file systems, file-count
limits) rather than speed on a local disk.
"""

import json
import os
import threading

import numpy as np
import tensorflow as tf

from svgan_tf.data import sampling as sampling_lib
from svgan_tf.data import sources
from svgan_tf.interop import bounded

TFRECORD_INDEX = "index.json"
TFRECORD_FORMAT = "svgan-tfrecord-frames"
# TFRecord framing: uint64 length + uint32 masked CRC of the length before the payload, CRC after.
RECORD_HEADER_BYTES = 12
RECORD_OVERHEAD_BYTES = 16


def _example(image, video, frame):
    """One frame's serialised `tf.train.Example` record."""
    return tf.train.Example(features=tf.train.Features(feature={
        "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image])),
        "video": tf.train.Feature(int64_list=tf.train.Int64List(value=[video])),
        "frame": tf.train.Feature(int64_list=tf.train.Int64List(value=[frame])),
    })).SerializeToString()


class ShardWriter:
    """Writes videos as consecutive records, starting a new shard at video boundaries past shard_bytes.

    Args:
        directory: an existing, empty directory that receives the shards and index.json.
        shard_bytes: start a new shard before a video once the current one holds this many bytes.
    """

    kind = "tfrecord"

    def __init__(self, directory, shard_bytes):
        self.directory, self.shard_bytes = directory, shard_bytes
        self.shards, self.videos = [], []
        self._writer, self._position = None, 0

    def add_video(self, name, label, frames):
        """Appends one video.

        Args:
            name: the video's name.
            label: its label, a list of floats (empty without labels).
            frames: its encoded frames (bytes), in order.
        """
        if self._writer is None or self._position >= self.shard_bytes:
            self._next_shard()
        entry = dict(name=name, shard=len(self.shards) - 1, offset=self._position, sizes=[], label=label)
        for i, image in enumerate(frames):
            record = _example(image, len(self.videos), i)
            self._writer.write(record)
            entry["sizes"].append(len(record))
            self._position += len(record) + RECORD_OVERHEAD_BYTES
        self.videos.append(entry)

    def _next_shard(self):
        self._close_shard()
        self.shards.append(f"frames-{len(self.shards):05d}.tfrecord")
        self._writer = tf.io.TFRecordWriter(os.path.join(self.directory, self.shards[-1]))
        self._position = 0

    def _close_shard(self):
        if self._writer is not None:
            self._writer.close()
            size = os.path.getsize(os.path.join(self.directory, self.shards[-1]))
            if size != self._position:  # the index offsets would be wrong
                raise RuntimeError(f"{self.shards[-1]}: {size} bytes written, expected {self._position}")
            self._writer = None

    def finish(self, source, resolution):
        """Closes the last shard and writes index.json.

        Args:
            source: what the dataset was made from, as index.json records it.
            resolution: the frame size.

        Returns:
            The writer's entries of the conversion summary: {"shards": number of shards}.
        """
        self._close_shard()
        index = dict(format=TFRECORD_FORMAT, version=1, source=source, resolution=resolution,
                     c_dim=len(self.videos[0]["label"]), shards=self.shards, videos=self.videos)
        with open(os.path.join(self.directory, TFRECORD_INDEX), "w") as f:
            json.dump(index, f)
        return dict(shards=len(self.shards))

    def abort(self):
        """Closes the open shard without checking it (the output is being discarded)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def is_tfrecord_dataset(path):
    """Whether `path` is a TFRecord dataset directory (it holds an `index.json`)."""
    return os.path.isdir(path) and os.path.isfile(os.path.join(path, TFRECORD_INDEX))


def read_index(path):
    """The `index.json` of the TFRecord dataset directory `path`; ValueError naming it if it is not one of ours."""
    meta = bounded.read_json(os.path.join(path, TFRECORD_INDEX))
    found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
    if found != TFRECORD_FORMAT:
        raise ValueError(f"{path}/{TFRECORD_INDEX}: not an svgan TFRecord index (format {found!r}, expected "
                         f"{TFRECORD_FORMAT!r})")
    return meta


def record_offsets(video):
    """Byte offsets in its shard of the records of one `index.json` video entry (each record's framing included)."""
    ends = np.cumsum(np.asarray(video["sizes"], np.int64) + RECORD_OVERHEAD_BYTES)
    return video["offset"] + np.concatenate([[0], ends[:-1]]).astype(np.int64)


def frame_name(path, meta, video, frame):
    """How errors name a frame of the dataset at `path`: `<shard path>@<video>/<frame>`."""
    return f"{path}/{meta['shards'][video['shard']]}@{video['name']}/{frame}"


class TFRecordSource(sources.EncodedFrameSource):
    """TFRecord shards with a byte-offset index, as ShardWriter writes them (`python -m svgan_tf.dataset`)."""

    def __init__(self, path, resolution=None, sampling=sampling_lib.SamplingConfig(), use_labels=True):
        """Opens a directory holding `index.json` and its shards (see sources.FolderSource for the arguments)."""
        meta = read_index(path)
        videos = meta["videos"]
        lengths = np.array([len(v["sizes"]) for v in videos], np.int64)
        keep = sources.keep_long_videos(path, lengths, sampling)
        res = sources.check_resolution(f"{path}/{TFRECORD_INDEX}", (meta["resolution"],) * 2, resolution)
        kept = [v for v, k in zip(videos, keep) if k]
        c_dim = meta["c_dim"] if use_labels else 0
        labels = np.array([v["label"][:c_dim] for v in kept], np.float32).reshape(len(kept), c_dim)
        index = sources.VideoIndex(description=f"tfrecord {path}: {len(kept)} videos at {res}x{res}",
                                   video_names=tuple(v["name"] for v in kept), lengths=lengths[keep], labels=labels,
                                   resolution=res, num_skipped=int(np.sum(~keep)))
        names, shards, offsets, sizes, starts = [], [], [], [], []
        for video in kept:
            starts.append(len(names))
            for frame, (offset, size) in enumerate(zip(record_offsets(video), video["sizes"])):
                names.append(frame_name(path, meta, video, frame))
                shards.append(video["shard"])
                offsets.append(offset + RECORD_HEADER_BYTES)
                sizes.append(size)
        super().__init__(index, names, np.array(starts, np.int64))
        self._shard_paths = [os.path.join(path, s) for s in meta["shards"]]
        self._shards = np.array(shards, np.int64)
        self._offsets = np.array(offsets, np.int64)
        self._sizes = np.array(sizes, np.int64)
        self._files = {}
        self._lock = threading.Lock()

    def _file(self, shard):
        with self._lock:
            if shard not in self._files:
                self._files[shard] = open(self._shard_paths[shard], "rb")
            return self._files[shard]

    def _read_records(self, frame_ids):
        # os.pread does not move a shared file position, so parallel map calls can share the open files.
        return np.array([os.pread(self._file(self._shards[i]).fileno(), int(self._sizes[i]), int(self._offsets[i]))
                         for i in frame_ids], dtype=object)

    def _read_encoded(self, frame_ids):
        records = tf.numpy_function(self._read_records, [frame_ids], tf.string, stateful=False)
        records = tf.ensure_shape(records, frame_ids.shape)
        return tf.io.parse_example(records, {"image": tf.io.FixedLenFeature([], tf.string)})["image"]
