"""Video datasets for StyleGAN-V training: sources, sparse frame sampling and the real-clip pipeline.

Sources (all give random access to frame `j` of video `v`, so that every format yields identical clips):

* `FolderSource`: the reference layout `root/<video_dir>/<frame files>` (png/jpg/jpeg, frames ordered by
  file name, videos by directory name); `ZipSource`: a `.zip` of the same, with or without explicit
  directory entries and with or without one top-level folder. Optional SG2-ADA `dataset.json` labels.
* `TFRecordSource`: shards written by `svgan_tf/dataset.py` (few large files; see below).
* `DemoSource`: a deterministic synthetic dataset of moving, rotating shapes (no files).

TFRecord layout (`index.json` + `frames-XXXXX.tfrecord` shards): one record per frame, a
`tf.train.Example` with `image` (encoded JPEG/PNG bytes), `video` and `frame`; the frames of a video are
consecutive records of one shard, so `index.json` stores, per video, its shard, the byte offset of its
first record and the payload size of every record; the offset of any frame then follows from the
TFRecord framing (8-byte length + 4-byte CRC before the payload, 4-byte CRC after). Why this design:
training reads 3 frames at random positions of random videos, and TensorFlow has no native op that
reads a byte range of a file. `tf.data.FixedLengthRecordDataset(header_bytes=offset)` does, but it skips
the header by reading it, measured 0.2 ms per frame at the start of a 150 MB shard and 10 ms at its
end. So the payloads are read with `os.pread` (thread-safe, releases the GIL; 0.07 ms per frame) inside
`tf.numpy_function`, and everything else (Example parsing, image decoding, validation) is native TF
running in parallel `tf.data` map calls. The shards remain ordinary TFRecord files that
`tf.data.TFRecordDataset` reads sequentially. Only local paths are supported for this random access.
Measured with tools/bench_data.py (2 CPUs, 256x256 JPEG, warm page cache, batch 32 x 3 frames): folder
1970 clips/s, TFRecord 1690, zip 1520; decoding dominates, so the gain of TFRecord is a few large files
(copying, network file systems, file-count limits) rather than speed on a local disk.

Sampling (`SamplingConfig`, reference `random_frame_sampling`): for a video of L frames, longer videos are
first cut to a random window of `max_num_frames` frames (real clips only) and L' = min(L, max_num_frames);
the span T is uniform over {d in total_dists : k - 1 <= d <= min(L' - 1, max_dist)}; the offset o is an
integer uniform in [0, L' - T - 1] for real clips and U[0, 1) * (L' - T - 1) for generated ones; the frames
are o, o + T and k - 2 distinct interior frames o + j, j in {1, ..., T - 1}, sorted. Times are relative to
the window. Videos too short for any span are skipped when a source is opened.

`real_clip_dataset` is index-based: clip i of the infinite stream is a pure function of (seed, i), so
resuming means starting at `start_index` = number of clips already consumed.
"""

import dataclasses
import json
import math
import os
import threading
import zipfile

import numpy as np
import tensorflow as tf
from absl import logging

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
LABELS_FILE = "dataset.json"
TFRECORD_INDEX = "index.json"
TFRECORD_FORMAT = "svgan-tfrecord-frames"
# TFRecord framing: uint64 length + uint32 masked CRC of the length before the payload, CRC after.
RECORD_HEADER_BYTES = 12
RECORD_OVERHEAD_BYTES = 16
# First bytes of the image formats tf.io.decode_image understands (PNG, JPEG, GIF, BMP).
_IMAGE_MAGIC = (b"\x89P", b"\xff\xd8", b"GI", b"BM")
_MAX_CLIP_INDEX = 2**62


# ----------------------------------------------------------------------------------------------------
# Sampling configuration and metadata.


@dataclasses.dataclass(frozen=True)
class SamplingConfig:
    """Frame-sampling hyper-parameters (reference `sampling/random.yaml` + `dataset.max_num_frames`).

    Args:
        num_frames: frames per clip k.
        max_num_frames: usable window length; longer videos contribute a random window of this length.
        max_dist: largest span between the first and last frame of a clip (None: no cap).
        total_dists: candidate spans.
        mirror: double the dataset with horizontally flipped copies of whole videos.
    """

    num_frames: int = 3
    max_num_frames: int = 1024
    max_dist: int | None = 32
    total_dists: tuple = tuple(2**i for i in range(12))
    mirror: bool = True

    def __post_init__(self):
        if self.num_frames < 1:
            raise ValueError(f"SamplingConfig.num_frames must be >= 1, got {self.num_frames}")
        if not self.allowed_dists:
            raise ValueError(f"SamplingConfig: no span in total_dists={self.total_dists} lies in "
                             f"[num_frames - 1, min(max_dist, max_num_frames - 1)] = "
                             f"[{self.num_frames - 1}, {min(self.max_dist or math.inf, self.max_num_frames - 1)}]")

    @property
    def allowed_dists(self):
        """Spans usable by a long enough video, ascending."""
        cap = min(self.max_dist if self.max_dist is not None else math.inf, self.max_num_frames - 1)
        return tuple(sorted(int(d) for d in set(self.total_dists) if self.num_frames - 1 <= d <= cap))

    @property
    def min_video_length(self):
        """Shortest video with a non-empty set of spans (k for the default power-of-two spans)."""
        return self.allowed_dists[0] + 1


@dataclasses.dataclass(frozen=True, eq=False)
class VideoIndex:
    """What the training loop needs to know about a dataset.

    Args:
        description: short human-readable description.
        video_names: name of each kept video.
        lengths: int64 [N] frames per kept video (not capped by max_num_frames).
        labels: float32 [N, c_dim] per-video labels (c_dim may be 0).
        resolution: frame height = width.
        num_skipped: videos dropped because they are too short for the sampling configuration.
    """

    description: str
    video_names: tuple
    lengths: np.ndarray
    labels: np.ndarray
    resolution: int
    num_skipped: int = 0

    @property
    def num_videos(self):
        return len(self.lengths)

    @property
    def c_dim(self):
        return self.labels.shape[1]


# ----------------------------------------------------------------------------------------------------
# Sparse frame sampling (TF, stateless: usable in tf.data and in a tf.function training step).


def _as_seed(seed):
    """A stateless-RNG seed: an int becomes [seed, 0]; a shape-[2] tensor is used as is."""
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
    return tf.stack([seed, tf.zeros_like(seed)]) if seed.shape.rank == 0 else seed


def _sample_relative_frames(lengths, sampling, seed):
    """Draws a span T per video and the clip's frame positions relative to its offset.

    Args:
        lengths: int64 [b] usable lengths L' (>= sampling.min_video_length).
        sampling: SamplingConfig.
        seed: shape-[2] stateless seed.

    Returns:
        (T int64 [b], relative positions int64 [b, k], sorted, first 0 and last T when k > 1).
    """
    dists = tf.constant(sampling.allowed_dists, tf.int64)
    span_seed, interior_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    # Spans are ascending, so the spans allowed for a video form a prefix of `dists`.
    count = tf.reduce_sum(tf.cast(dists[None, :] <= lengths[:, None] - 1, tf.int64), axis=1)
    u = tf.random.stateless_uniform(tf.shape(lengths), span_seed, dtype=tf.float64)
    choice = tf.minimum(tf.cast(tf.floor(u * tf.cast(count, tf.float64)), tf.int64), count - 1)
    span = tf.gather(dists, choice)
    parts = [tf.zeros_like(span)[:, None]]
    if sampling.num_frames > 1:
        parts.append(span[:, None])
    if sampling.num_frames > 2:
        # Uniform subset of k - 2 positions of {1..T-1}: the top k - 2 of i.i.d. keys, positions >= T masked.
        width = sampling.allowed_dists[-1] - 1
        keys = tf.random.stateless_uniform(tf.stack([tf.size(span), width]), interior_seed)
        positions = tf.range(1, width + 1, dtype=tf.int64)
        keys = tf.where(positions[None, :] < span[:, None], keys, -1.0)
        interior = tf.math.top_k(keys, k=sampling.num_frames - 2, sorted=False).indices
        parts.append(tf.cast(interior, tf.int64) + 1)
    return span, tf.sort(tf.concat(parts, axis=1), axis=1)


def sample_real_frames(lengths, sampling, seed):
    """Frame indices and times of real clips, one per video length (reference `sample_frames`).

    Args:
        lengths: int [b] full video lengths (each >= sampling.min_video_length).
        sampling: SamplingConfig.
        seed: int or shape-[2] stateless seed.

    Returns:
        (frames int64 [b, k]: indices into the video; t float32 [b, k]: times relative to the window
        of max_num_frames frames, integer-valued).
    """
    lengths = tf.cast(lengths, tf.int64)
    window_seed, offset_seed, frames_seed = tf.unstack(tf.random.experimental.stateless_split(_as_seed(seed), 3))
    # Longer videos: a random window of max_num_frames frames, start uniform in [0, L - max_num_frames].
    surplus = tf.maximum(lengths - sampling.max_num_frames, 0)
    u = tf.random.stateless_uniform(tf.shape(lengths), window_seed, dtype=tf.float64)
    window_start = tf.cast(tf.floor(u * tf.cast(surplus + 1, tf.float64)), tf.int64)
    usable = tf.minimum(lengths, sampling.max_num_frames)
    span, relative = _sample_relative_frames(usable, sampling, frames_seed)
    u = tf.random.stateless_uniform(tf.shape(lengths), offset_seed, dtype=tf.float64)
    offset = tf.cast(tf.floor(u * tf.cast(usable - span, tf.float64)), tf.int64)
    times = offset[:, None] + relative
    return window_start[:, None] + times, tf.cast(times, tf.float32)


def sample_fake_times(lengths, sampling, seed):
    """Times of generated clips: like real ones but with a fractional offset U[0, 1) * (L' - T - 1).

    Args:
        lengths: int [b] video lengths (capped at sampling.max_num_frames here).
        sampling: SamplingConfig.
        seed: int or shape-[2] stateless seed.

    Returns:
        t float32 [b, k].
    """
    usable = tf.minimum(tf.cast(lengths, tf.int64), sampling.max_num_frames)
    offset_seed, frames_seed = tf.unstack(tf.random.experimental.stateless_split(_as_seed(seed), 2))
    span, relative = _sample_relative_frames(usable, sampling, frames_seed)
    u = tf.random.stateless_uniform(tf.shape(usable), offset_seed, dtype=tf.float64)
    offset = u * tf.cast(usable - span - 1, tf.float64)
    return tf.cast(offset[:, None] + tf.cast(relative, tf.float64), tf.float32)


def sample_fake_conditions(index, sampling, batch_size, seed):
    """Times and labels for generated clips, drawn from uniformly chosen training videos (reference loop).

    The same video gives the length for the times and the label, as in the reference training loop.

    Args:
        index: a VideoIndex, or a (lengths int [N], labels float32 [N, c_dim]) pair of tensors (keep them as
            constants of the training step so that this runs inside tf.function).
        sampling: SamplingConfig.
        batch_size: number of clips b.
        seed: int or shape-[2] stateless seed.

    Returns:
        (t float32 [b, k] with fractional offsets, c float32 [b, c_dim]).
    """
    if isinstance(index, VideoIndex):
        _check_lengths(index, sampling)
    lengths, labels = (index.lengths, index.labels) if isinstance(index, VideoIndex) else index
    lengths = tf.convert_to_tensor(lengths, tf.int64)
    labels = tf.convert_to_tensor(labels, tf.float32)
    video_seed, times_seed = tf.unstack(tf.random.experimental.stateless_split(_as_seed(seed), 2))
    videos = tf.random.stateless_uniform([batch_size], video_seed, minval=0, maxval=tf.size(lengths, tf.int64),
                                         dtype=tf.int64)
    t = sample_fake_times(tf.gather(lengths, videos), sampling, times_seed)
    return t, tf.gather(labels, videos)


def _check_lengths(index, sampling):
    """Fails when the index holds videos too short for `sampling` (it was opened for another one)."""
    if index.lengths.min() < sampling.min_video_length:
        raise ValueError(f"{index.description}: has videos of {index.lengths.min()} frames, fewer than the "
                         f"{sampling.min_video_length} that num_frames={sampling.num_frames} needs; open the source "
                         "with the same SamplingConfig")


# ----------------------------------------------------------------------------------------------------
# Frame files: the reference folder / zip layout.


def _is_image(name):
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


@dataclasses.dataclass(frozen=True)
class FrameFiles:
    """The videos of a reference-layout folder or zip: `[top/]<video_dir>/<frame files>`.

    Args:
        path: the folder or .zip.
        videos: ((video name, (frame file names relative to path or inside the zip, sorted)), ...), sorted.
        labels: float32 [num videos, c_dim] from dataset.json (c_dim 0 when absent or use_labels=False).
    """

    path: str
    videos: tuple
    labels: np.ndarray

    @classmethod
    def open(cls, path, use_labels=True):
        """Lists the videos and reads their labels.

        Args:
            path: a directory or a .zip file.
            use_labels: read dataset.json when present.
        """
        if os.path.isdir(path):
            names = sorted(os.path.relpath(os.path.join(root, f), path).replace(os.sep, "/")
                           for root, _, files in os.walk(path) for f in files)
        elif zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                names = sorted(n for n in archive.namelist() if not n.endswith("/"))
        else:
            raise ValueError(f"{path}: expected a directory of frame folders or a .zip of them")
        root, videos = _group_frames(path, names)
        files = cls(path, videos, np.zeros([len(videos), 0], np.float32))
        labels_name = next((n for n in (root + LABELS_FILE, LABELS_FILE) if n in names), None)
        if use_labels and labels_name is not None:
            raw = json.loads(files.read(labels_name)).get("labels")
            if raw is not None:
                files = dataclasses.replace(files, labels=_video_labels(path, labels_name, raw, root, videos))
        return files

    def read(self, name):
        """Bytes of one file (one-off reads; the training pipeline keeps the zip open)."""
        if os.path.isdir(self.path):
            with open(os.path.join(self.path, name), "rb") as f:
                return f.read()
        with zipfile.ZipFile(self.path) as archive:
            return archive.read(name)


def _group_frames(path, names):
    """Groups image files by video directory; returns (root prefix, videos) (see FrameFiles)."""
    images = [n for n in names if _is_image(n)]
    if not images:
        raise ValueError(f"{path}: no image files ({'/'.join(IMAGE_EXTENSIONS)}) found")
    depths = {n.count("/") for n in images}
    tops = {n.split("/", 1)[0] for n in images}
    # Frames sit at <video>/<frame>, or at <top>/<video>/<frame> below one top-level folder (zip -r style).
    if depths == {1}:
        root = ""
    elif depths == {2} and len(tops) == 1:
        root = tops.pop() + "/"
    else:
        bad = next(n for n in images if n.count("/") != 1)
        raise ValueError(f"{path}: frames must be at <video_dir>/<frame> (optionally below one top-level "
                         f"folder), but found {bad!r}")
    videos = {}
    for name in images:  # `names` is sorted, so frames come in file-name order.
        video, _ = name[len(root):].split("/")
        videos.setdefault(video, []).append(name)
    return root, tuple((v, tuple(frames)) for v, frames in sorted(videos.items()))


def _video_labels(path, labels_name, raw, root, videos):
    """Per-video float32 labels from SG2-ADA frame labels; integers become one-hot vectors."""
    per_video = {}
    for frame_path, label in raw:
        frame_path = frame_path.replace("\\", "/")
        frame_path = frame_path[len(root):] if root and frame_path.startswith(root) else frame_path
        video = frame_path.rsplit("/", 1)[0] if "/" in frame_path else ""
        if per_video.setdefault(video, label) != label:
            raise ValueError(f"{path}/{labels_name}: frames of video {video!r} have different labels "
                             f"({per_video[video]} and {label})")
    missing = [v for v, _ in videos if v not in per_video]
    if missing:
        raise ValueError(f"{path}/{labels_name}: no label for video {missing[0]!r} ({len(missing)} videos unlabelled)")
    labels = np.array([per_video[v] for v, _ in videos])
    if np.issubdtype(labels.dtype, np.integer) and labels.ndim == 1:
        if labels.min() < 0:
            raise ValueError(f"{path}/{labels_name}: integer labels must be >= 0, got {labels.min()}")
        return np.eye(labels.max() + 1, dtype=np.float32)[labels]
    if labels.dtype.kind not in "iuf":
        raise ValueError(f"{path}/{labels_name}: labels must be integers or numeric vectors, got {labels.dtype}")
    return labels.reshape(len(videos), -1).astype(np.float32)


def _image_size(name, data):
    """(width, height) of an encoded image, with an error naming the file when it cannot be decoded."""
    try:
        height, width, _ = tf.io.decode_image(data, channels=3, expand_animations=False).shape
    except tf.errors.InvalidArgumentError as e:
        raise ValueError(f"{name}: unreadable image ({e.message})") from e
    return width, height


def _check_resolution(name, size, resolution):
    """Frame size check at open time: square, and equal to `resolution` when one is requested."""
    width, height = size
    if width != height:
        raise ValueError(f"{name}: frames must be square RGB images, got {width}x{height}")
    if resolution is not None and width != resolution:
        raise ValueError(f"{name}: frame is {width}x{height}, expected resolution {resolution}")
    return width


# ----------------------------------------------------------------------------------------------------
# Sources.


class VideoSource:
    """Random access to the frames of a set of videos.

    Attributes:
        index: VideoIndex of the kept videos.
    """

    index: VideoIndex

    def load_frames(self, video, frames):
        """Decoded frames of one video (graph-compatible).

        Args:
            video: int64 scalar, index of a kept video.
            frames: int64 [k] frame indices.

        Returns:
            uint8 [k, R, R, 3].
        """
        raise NotImplementedError


def _keep_long_videos(path, lengths, sampling):
    """Mask of the videos long enough for `sampling`; logs how many are skipped, errors when none is left."""
    keep = np.asarray(lengths) >= sampling.min_video_length
    skipped = int(np.sum(~keep))
    if skipped:
        logging.info("%s: skipped %d of %d videos shorter than %d frames", path, skipped, len(keep),
                     sampling.min_video_length)
    if not keep.any():
        raise ValueError(f"{path}: no usable video ({skipped} videos, all shorter than "
                         f"{sampling.min_video_length} frames, the minimum for num_frames={sampling.num_frames})")
    return keep


class _EncodedFrameSource(VideoSource):
    """A source whose frames are encoded images addressed by a flat frame id; subclasses read the bytes."""

    def __init__(self, index, frame_names, video_starts):
        self.index = index
        # Names (for error messages) of every frame of the kept videos; video v starts at video_starts[v].
        self._frame_names = tf.constant(frame_names, tf.string)
        self._video_starts = tf.constant(video_starts, tf.int64)

    def _read_encoded(self, frame_ids):
        """Encoded bytes (tf.string [k]) of the frames with the given flat ids (int64 [k])."""
        raise NotImplementedError

    def load_frames(self, video, frames):
        frame_ids = tf.gather(self._video_starts, video) + tf.cast(frames, tf.int64)
        data = self._read_encoded(frame_ids)
        names = tf.gather(self._frame_names, frame_ids)
        resolution = self.index.resolution
        return tf.map_fn(lambda x: _decode_frame(x[0], x[1], resolution), (data, names),
                         fn_output_signature=tf.TensorSpec([resolution, resolution, 3], tf.uint8))


def _decode_frame(data, name, resolution):
    """Decodes one encoded frame, failing with the frame's name when it is unreadable or mis-sized."""
    magic_ok = tf.reduce_any(tf.equal(tf.strings.substr(data, 0, 2), tf.constant(_IMAGE_MAGIC)))
    with tf.control_dependencies([tf.debugging.Assert(magic_ok, ["Unreadable image file:", name])]):
        image = tf.io.decode_image(data, channels=3, expand_animations=False)
    shape = tf.shape(image)
    size_ok = tf.logical_and(tf.equal(shape[0], resolution), tf.equal(shape[1], resolution))
    with tf.control_dependencies([tf.debugging.Assert(size_ok, ["Frame", name, "has shape", shape,
                                                                f"expected [{resolution}, {resolution}, 3]"])]):
        return tf.ensure_shape(tf.identity(image), [resolution, resolution, 3])


def _flatten_videos(videos, keep):
    """(flat frame names, start of each kept video) for kept videos given as (name, frames) pairs."""
    frame_names, starts = [], []
    for (_, frames), kept in zip(videos, keep):
        if kept:
            starts.append(len(frame_names))
            frame_names.extend(frames)
    return frame_names, np.array(starts, np.int64)


def _files_index(files, resolution, sampling, kind):
    """VideoIndex and kept-video mask for FrameFiles, checking the first frame's size."""
    lengths = np.array([len(frames) for _, frames in files.videos], np.int64)
    keep = _keep_long_videos(files.path, lengths, sampling)
    first = files.videos[int(np.argmax(keep))][1][0]
    resolution = _check_resolution(f"{files.path}/{first}", _image_size(f"{files.path}/{first}", files.read(first)),
                                  resolution)
    names = tuple(v for (v, _), kept in zip(files.videos, keep) if kept)
    index = VideoIndex(description=f"{kind} {files.path}: {len(names)} videos at {resolution}x{resolution}",
                       video_names=names, lengths=lengths[keep], labels=files.labels[keep], resolution=resolution,
                       num_skipped=int(np.sum(~keep)))
    return index, keep


class FolderSource(_EncodedFrameSource):
    """Reference layout folder `root/<video_dir>/<frames>`; frames are read with tf.io.read_file."""

    def __init__(self, path, resolution=None, sampling=SamplingConfig(), use_labels=True):
        """Opens a folder.

        Args:
            path: the dataset directory.
            resolution: required frame size (None: take the first frame's).
            sampling: SamplingConfig deciding which videos are too short.
            use_labels: read dataset.json when present.
        """
        files = FrameFiles.open(path, use_labels)
        index, keep = _files_index(files, resolution, sampling, "folder")
        names, starts = _flatten_videos(files.videos, keep)
        super().__init__(index, [os.path.join(path, n) for n in names], starts)

    def _read_encoded(self, frame_ids):
        return tf.map_fn(tf.io.read_file, tf.gather(self._frame_names, frame_ids))


class ZipSource(_EncodedFrameSource):
    """A zip of the reference layout; members are read with Python's zipfile inside tf.numpy_function."""

    def __init__(self, path, resolution=None, sampling=SamplingConfig(), use_labels=True):
        """Opens a zip archive (see FolderSource for the arguments)."""
        files = FrameFiles.open(path, use_labels)
        index, keep = _files_index(files, resolution, sampling, "zip")
        names, starts = _flatten_videos(files.videos, keep)
        super().__init__(index, names, starts)
        self._path = path
        self._members = names
        self._archive = None
        self._lock = threading.Lock()

    def _read_members(self, frame_ids):
        with self._lock:  # zipfile shares one file position between readers.
            if self._archive is None:
                self._archive = zipfile.ZipFile(self._path)
            return np.array([self._archive.read(self._members[i]) for i in frame_ids], dtype=object)

    def _read_encoded(self, frame_ids):
        data = tf.numpy_function(self._read_members, [frame_ids], tf.string, stateful=False)
        return tf.ensure_shape(data, frame_ids.shape)


class TFRecordSource(_EncodedFrameSource):
    """TFRecord shards with a byte-offset index (the fast path; written by svgan_tf/dataset.py)."""

    def __init__(self, path, resolution=None, sampling=SamplingConfig(), use_labels=True):
        """Opens a directory holding `index.json` and its shards (see FolderSource for the arguments)."""
        with open(os.path.join(path, TFRECORD_INDEX)) as f:
            meta = json.load(f)
        if meta.get("format") != TFRECORD_FORMAT:
            raise ValueError(f"{path}/{TFRECORD_INDEX}: not an svgan TFRecord index (format "
                             f"{meta.get('format')!r}, expected {TFRECORD_FORMAT!r})")
        videos = meta["videos"]
        lengths = np.array([len(v["sizes"]) for v in videos], np.int64)
        keep = _keep_long_videos(path, lengths, sampling)
        res = _check_resolution(f"{path}/{TFRECORD_INDEX}", (meta["resolution"],) * 2, resolution)
        kept = [v for v, k in zip(videos, keep) if k]
        c_dim = meta["c_dim"] if use_labels else 0
        labels = np.array([v["label"][:c_dim] for v in kept], np.float32).reshape(len(kept), c_dim)
        index = VideoIndex(description=f"tfrecord {path}: {len(kept)} videos at {res}x{res}",
                           video_names=tuple(v["name"] for v in kept), lengths=lengths[keep], labels=labels,
                           resolution=res, num_skipped=int(np.sum(~keep)))
        names, shards, offsets, sizes, starts = [], [], [], [], []
        for video in kept:
            starts.append(len(names))
            position = video["offset"]
            for frame, size in enumerate(video["sizes"]):
                names.append(f"{path}/{meta['shards'][video['shard']]}@{video['name']}/{frame}")
                shards.append(video["shard"])
                offsets.append(position + RECORD_HEADER_BYTES)
                sizes.append(size)
                position += size + RECORD_OVERHEAD_BYTES
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


# ----------------------------------------------------------------------------------------------------
# Synthetic dataset.


class DemoSource(VideoSource):
    """Deterministic synthetic videos: textured discs and squares moving, bouncing and rotating over a
    drifting striped background. Every frame is a pure function of (seed, video, frame)."""

    def __init__(self, seed=0, resolution=32, num_videos=128, min_length=64, max_length=128,
                 sampling=SamplingConfig()):
        """Builds the index (lengths are drawn per video from the seed).

        Args:
            seed: dataset seed (non-negative).
            resolution: frame size, >= 8.
            num_videos: number of videos.
            min_length: shortest video (frames).
            max_length: longest video (frames).
            sampling: SamplingConfig deciding which videos are too short.
        """
        if resolution < 8 or seed < 0 or not 1 <= min_length <= max_length:
            raise ValueError(f"demo: need resolution >= 8, seed >= 0, 1 <= min_length <= max_length; got "
                             f"resolution={resolution}, seed={seed}, lengths {min_length}..{max_length}")
        self._seed, self._resolution = seed, resolution
        self._min_length, self._max_length = min_length, max_length
        lengths = np.array([self._params(v)["length"] for v in range(num_videos)], np.int64)
        keep = _keep_long_videos(f"demo:{seed}", lengths, sampling)
        self._videos = np.flatnonzero(keep)
        self.index = VideoIndex(
            description=f"demo:{seed}: {int(keep.sum())} synthetic videos of {min_length}..{max_length} frames "
                        f"at {resolution}x{resolution}",
            video_names=tuple(f"demo{v:05d}" for v in self._videos), lengths=lengths[keep],
            labels=np.zeros([int(keep.sum()), 0], np.float32), resolution=resolution,
            num_skipped=int(np.sum(~keep)))

    def _params(self, video):
        """Random description of one video; the length is drawn first so the index needs nothing else."""
        rng = np.random.default_rng([self._seed, int(video)])
        length = int(rng.integers(self._min_length, self._max_length + 1))
        num_shapes = int(rng.integers(2, 4))
        return dict(
            length=length,
            bg_colors=rng.uniform(0.05, 0.5, [2, 3]),
            bg_angles=rng.uniform(0, 2 * np.pi, 3),
            bg_freqs=rng.uniform(1.0, 3.0, 3),
            bg_phases=rng.uniform(0, 2 * np.pi, 3),
            bg_speeds=rng.uniform(0.03, 0.08, 3) * rng.choice([-1, 1], 3),
            is_disc=rng.random(num_shapes) < 0.5,
            colors=rng.uniform(0.5, 1.0, [num_shapes, 3]) * (rng.random([num_shapes, 3]) < 0.7) + 0.1,
            sizes=rng.uniform(0.1, 0.18, num_shapes),
            starts=rng.uniform(0, 1, [num_shapes, 2]),
            velocities=rng.uniform(0.01, 0.03, [num_shapes, 1]) * _unit_vectors(rng, num_shapes),
            angles=rng.uniform(0, 2 * np.pi, num_shapes),
            spins=rng.uniform(0.03, 0.1, num_shapes) * rng.choice([-1, 1], num_shapes),
        )

    def render(self, video, frames):
        """uint8 [k, R, R, 3] frames of kept video `video` (NumPy)."""
        p = self._params(self._videos[video])
        t = np.asarray(frames, np.float64)[:, None, None]  # [k, 1, 1]
        coords = (np.arange(self._resolution) + 0.5) / self._resolution  # pixel centres in [0, 1]
        y, x = coords[:, None], coords[None, :]
        waves = [np.sin(2 * np.pi * f * (x * np.cos(a) + y * np.sin(a)) + ph + s * t)
                 for a, f, ph, s in zip(p["bg_angles"], p["bg_freqs"], p["bg_phases"], p["bg_speeds"])]
        mix = (0.5 + 0.5 * np.mean(waves, axis=0))[..., None]  # [k, R, R, 1]
        image = p["bg_colors"][0] + (p["bg_colors"][1] - p["bg_colors"][0]) * mix
        for i in range(len(p["sizes"])):
            r = p["sizes"][i]
            centre = _bounce(p["starts"][i] * (1 - 2 * r) + r + p["velocities"][i] * t[..., None], r)
            angle = p["angles"][i] + p["spins"][i] * t
            dx, dy = x - centre[..., 0], y - centre[..., 1]
            u = dx * np.cos(angle) + dy * np.sin(angle)  # coordinates in the shape's rotating frame
            v = -dx * np.sin(angle) + dy * np.cos(angle)
            distance = np.hypot(u, v) - r if p["is_disc"][i] else np.maximum(abs(u), abs(v)) - 0.8 * r
            # Anti-aliased coverage; the darker half makes the rotation of discs visible.
            cover = np.clip(0.5 - distance * self._resolution, 0, 1)[..., None]
            shade = np.where(u > 0, 1.0, 0.55)[..., None]
            image = image * (1 - cover) + p["colors"][i] * shade * cover
        return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)

    def load_frames(self, video, frames):
        images = tf.numpy_function(self.render, [video, frames], tf.uint8, stateful=False)
        return tf.ensure_shape(images, [frames.shape[0], self._resolution, self._resolution, 3])


def _unit_vectors(rng, n):
    angles = rng.uniform(0, 2 * np.pi, n)
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _bounce(position, margin):
    """Reflects free motion into [margin, 1 - margin] (elastic bounces off the frame border)."""
    width = 1 - 2 * margin
    phase = np.mod(position - margin, 2 * width)
    return margin + np.where(phase < width, phase, 2 * width - phase)


# ----------------------------------------------------------------------------------------------------
# Factory and the real-clip pipeline.


def open_source(path, resolution=None, sampling=SamplingConfig(), use_labels=True):
    """Opens a dataset by path.

    Args:
        path: "demo" or "demo:SEED" (synthetic), a directory with `index.json` (TFRecord shards), another
            directory (reference frame folders) or a .zip file.
        resolution: required frame size (None: the dataset's own; 32 for the demo).
        sampling: SamplingConfig; videos too short for it are skipped and counted.
        use_labels: read labels when the dataset has them (False gives c_dim 0).

    Returns:
        A VideoSource.
    """
    path = os.fspath(path)
    if path == "demo" or path.startswith("demo:"):
        seed = path.partition(":")[2]
        if seed and not seed.isdigit():
            raise ValueError(f"demo dataset: expected 'demo' or 'demo:SEED' with an integer SEED, got {path!r}")
        return DemoSource(seed=int(seed or 0), resolution=resolution or 32, sampling=sampling)
    if not os.path.exists(path):
        raise FileNotFoundError(f"dataset path {path!r} does not exist")
    if os.path.isdir(path):
        kind = TFRecordSource if os.path.isfile(os.path.join(path, TFRECORD_INDEX)) else FolderSource
        return kind(path, resolution, sampling, use_labels)
    if zipfile.is_zipfile(path):
        return ZipSource(path, resolution, sampling, use_labels)
    raise ValueError(f"dataset path {path!r}: unknown format (expected 'demo[:SEED]', a directory or a .zip)")


def clip_plan(clip_index, num_videos, sampling, seed):
    """Which video (and mirroring) clip `clip_index` of the real stream uses, and its sampling seed.

    Clips walk through epoch-wise permutations of the (mirror-doubled) dataset.

    Args:
        clip_index: int64 scalar position in the infinite stream.
        num_videos: number of videos N.
        sampling: SamplingConfig (its `mirror` doubles the dataset: copies N..2N-1 are flipped).
        seed: int or shape-[2] stateless seed of the stream.

    Returns:
        (video int64, flip bool, clip seed int64 [2]).
    """
    seed = _as_seed(seed)
    size = tf.constant(num_videos * (2 if sampling.mirror else 1), tf.int64)
    perm_seed = tf.random.experimental.stateless_fold_in(tf.random.experimental.stateless_fold_in(seed, 1),
                                                         clip_index // size)
    item = tf.random.experimental.index_shuffle(clip_index % size, perm_seed, size - 1)
    clip_seed = tf.random.experimental.stateless_fold_in(tf.random.experimental.stateless_fold_in(seed, 2),
                                                         clip_index)
    return item % num_videos, item >= num_videos, clip_seed


def load_clip(source, clip_index, sampling, seed):
    """Clip `clip_index` of the real stream as {"frames": uint8 [k, R, R, 3], "t": float32 [k], "c": [c_dim]}."""
    index = source.index
    video, flip, clip_seed = clip_plan(clip_index, index.num_videos, sampling, seed)
    length = tf.gather(tf.constant(index.lengths, tf.int64), video)
    frames, t = sample_real_frames(length[None], sampling, clip_seed)
    images = source.load_frames(video, frames[0])
    images = tf.cond(flip, lambda: tf.reverse(images, axis=[2]), lambda: images)
    return {"frames": images, "t": t[0], "c": tf.gather(tf.constant(index.labels, tf.float32), video)}


def real_clip_dataset(source, sampling, batch_size, seed, start_index=0, input_context=None):
    """Infinite, deterministic stream of real clip batches.

    Clip i is a pure function of (seed, i): to resume after n clips were consumed, pass start_index=n.

    Args:
        source: a VideoSource.
        sampling: SamplingConfig.
        batch_size: clips per batch of this pipeline: the per-replica batch size when distributing
            (`input_context.get_per_replica_batch_size(global_batch)`).
        seed: int or shape-[2] stateless seed.
        start_index: first clip of the stream (global count: clips consumed by all pipelines together).
        input_context: optional tf.distribute.InputContext; of P pipelines, pipeline p takes clips
            start_index + p + j * P, so one pipeline per replica (or a single pipeline feeding all replicas)
            consumes the global stream in order.

    Returns:
        tf.data.Dataset of {"frames": uint8 [b, k, R, R, 3], "t": float32 [b, k], "c": float32 [b, c_dim]}.
    """
    _check_lengths(source.index, sampling)
    first, step = start_index, 1
    if input_context is not None:
        first, step = start_index + input_context.input_pipeline_id, input_context.num_input_pipelines
    seed = _as_seed(seed)
    dataset = tf.data.Dataset.range(first, _MAX_CLIP_INDEX, step)
    dataset = dataset.map(lambda i: load_clip(source, i, sampling, seed), num_parallel_calls=tf.data.AUTOTUNE,
                          deterministic=True)
    return dataset.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
