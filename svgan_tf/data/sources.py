"""Random access to the frames of a dataset's videos, and the sources of the reference frame layout.

Every source gives random access to frame `j` of video `v` (`VideoSource.load_frames`), so that every format
yields identical clips; its `VideoIndex` says what the training loop needs to know (names, lengths, labels,
resolution). Videos too short for the `SamplingConfig` a source is opened with are skipped (and counted).

* `FolderSource`: the reference layout `root/<video_dir>/<frame files>` (png/jpg/jpeg, frames ordered by
  file name, videos by directory name); `ZipSource`: a `.zip` of the same, with or without explicit
  directory entries and with or without one top-level folder. Optional SG2-ADA `dataset.json` labels.
* `EncodedFrameSource`: the base of every source whose frames are encoded image files (these two and
  `svgan_tf.data.tfrecord.TFRecordSource`): native TF decoding with errors that name the frame.

The synthetic dataset is `svgan_tf.data.demo`; `svgan_tf.data.pipeline.open_source` opens any of them by path.
"""

import dataclasses
import os
import threading
import zipfile

import numpy as np
import tensorflow as tf
from absl import logging

from svgan_tf.data import sampling as sampling_lib
from svgan_tf.interop import bounded

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
LABELS_FILE = "dataset.json"
# Classes of integer labels, or length of label vectors: far above any dataset's, far below exhausting memory.
MAX_LABEL_DIM = 4096
# First bytes of the image formats tf.io.decode_image understands (PNG, JPEG, GIF, BMP).
_IMAGE_MAGIC = (b"\x89P", b"\xff\xd8", b"GI", b"BM")


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


def keep_long_videos(path, lengths, sampling):
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


class EncodedFrameSource(VideoSource):
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


def _declared_size(data):
    """[height, width] an encoded frame's header declares (PNG, GIF, BMP, JPEG), read without decoding it."""
    head = tf.cast(tf.io.decode_raw(tf.strings.substr(tf.strings.join([data, b"\0" * 32]), 0, 32), tf.uint8),
                   tf.int64)

    def number(start, count, big_endian):
        order = range(count) if big_endian else reversed(range(count))
        value = tf.constant(0, tf.int64)
        for i in order:
            value = value * 256 + head[start + i]
        return value

    bmp_height = number(22, 4, False)  # signed: negative for top-down bitmaps
    bmp_height = tf.abs(tf.where(bmp_height >= 2 ** 31, bmp_height - 2 ** 32, bmp_height))
    magic = tf.strings.substr(data, 0, 2)
    return tf.case([
        (tf.equal(magic, _IMAGE_MAGIC[0]), lambda: tf.stack([number(20, 4, True), number(16, 4, True)])),
        (tf.equal(magic, _IMAGE_MAGIC[2]), lambda: tf.stack([number(8, 2, False), number(6, 2, False)])),
        (tf.equal(magic, _IMAGE_MAGIC[3]), lambda: tf.stack([bmp_height, number(18, 4, False)])),
    ], default=lambda: tf.cast(tf.image.extract_jpeg_shape(data)[:2], tf.int64))


def _decode_frame(data, name, resolution):
    """Decodes one encoded frame, failing with the frame's name when it is unreadable or mis-sized.

    The size its header declares is checked first, so a frame claiming a huge size is never decoded (every frame
    after the first; the first is checked when the source is opened, `svgan_tf.interop.bounded`).
    """
    magic_ok = tf.reduce_any(tf.equal(tf.strings.substr(data, 0, 2), tf.constant(_IMAGE_MAGIC)))
    with tf.control_dependencies([tf.debugging.Assert(magic_ok, ["Unreadable image file:", name])]):
        declared = _declared_size(data)
    declared_ok = tf.reduce_all(tf.equal(declared, resolution))
    with tf.control_dependencies([tf.debugging.Assert(declared_ok, ["Frame", name, "declares size", declared,
                                                                    f"expected [{resolution}, {resolution}]"])]):
        image = tf.io.decode_image(data, channels=3, expand_animations=False)
    shape = tf.shape(image)
    size_ok = tf.logical_and(tf.equal(shape[0], resolution), tf.equal(shape[1], resolution))
    with tf.control_dependencies([tf.debugging.Assert(size_ok, ["Frame", name, "has shape", shape,
                                                                f"expected [{resolution}, {resolution}, 3]"])]):
        return tf.ensure_shape(tf.identity(image), [resolution, resolution, 3])


# ----------------------------------------------------------------------------------------------------
# The reference frame layout: folders and zips.


def is_image_file(name):
    """Whether a file name has a frame-image extension (IMAGE_EXTENSIONS, any case)."""
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
            raw = bounded.parse_json(files.read(labels_name, bounded.MAX_JSON_BYTES), f"{path}/{labels_name}")
            if not isinstance(raw, dict):
                raise ValueError(f"{path}/{labels_name}: expected a JSON object with \"labels\", got "
                                 f"{type(raw).__name__}")
            raw = raw.get("labels")
            if raw is not None:
                files = dataclasses.replace(files, labels=_video_labels(path, labels_name, raw, root, videos))
        return files

    def read(self, name, limit=bounded.MAX_MEMBER_BYTES):
        """Bytes of one file (one-off reads; the training pipeline keeps the zip open), at most `limit` of them.

        Raises:
            ValueError: the file is larger than `limit` (checked before it is read).
        """
        if os.path.isdir(self.path):
            with open(os.path.join(self.path, name), "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size > limit:
                    raise ValueError(f"{self.path}/{name}: {size:,} bytes, more than the {limit:,} allowed.")
                return f.read()
        with zipfile.ZipFile(self.path) as archive:
            return bounded.read_member(archive, name, self.path, limit)


def _group_frames(path, names):
    """Groups image files by video directory; returns (root prefix, videos) (see FrameFiles)."""
    images = [n for n in names if is_image_file(n)]
    unsafe = next((n for n in names if _unsafe_member(n)), None)
    if unsafe is not None:
        raise ValueError(f"{path}: member name {unsafe!r} is not a plain relative path (.., an empty part, a drive "
                         "or a leading /)")
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


def _unsafe_member(name):
    """Whether an archive member name could step outside the folder it is written to (a video is named after it)."""
    parts = name.split("/")
    return name.startswith("/") or "\\" in name or ":" in parts[0] or any(p in ("", ".", "..") for p in parts[:-1])


def _label_dim(label):
    """Label dimensions an SG2-ADA label needs (an integer class: classes up to it; a number or a flat list of
    numbers: its length), or None for anything else (bools are not numbers)."""
    def number(x):
        return isinstance(x, (int, float)) and not isinstance(x, bool)
    if number(label):
        return label + 1 if isinstance(label, int) else 1
    return len(label) if isinstance(label, list) and all(map(number, label)) else None


def _video_labels(path, labels_name, raw, root, videos):
    """Per-video float32 labels from SG2-ADA frame labels; integers become one-hot vectors."""
    where = f"{path}/{labels_name}"
    if not isinstance(raw, list):
        raise ValueError(f"{where}: \"labels\" must be a list of [frame path, label] pairs, got {type(raw).__name__}")
    per_video = {}
    for pair in raw:
        if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)
                and _label_dim(pair[1]) is not None):
            raise ValueError(f"{where}: expected [frame path, integer or list of numbers], got {str(pair)[:80]}")
        frame_path, label = pair
        if _label_dim(label) > MAX_LABEL_DIM:
            raise ValueError(f"{where}: label {str(label)[:40]} of {frame_path!r} needs more than the "
                             f"{MAX_LABEL_DIM} label dimensions allowed")
        frame_path = frame_path.replace("\\", "/")
        frame_path = frame_path[len(root):] if root and frame_path.startswith(root) else frame_path
        video = frame_path.rsplit("/", 1)[0] if "/" in frame_path else ""
        if per_video.setdefault(video, label) != label:
            raise ValueError(f"{path}/{labels_name}: frames of video {video!r} have different labels "
                             f"({per_video[video]} and {label})")
    missing = [v for v, _ in videos if v not in per_video]
    if missing:
        raise ValueError(f"{path}/{labels_name}: no label for video {missing[0]!r} ({len(missing)} videos unlabelled)")
    if len({_label_dim(per_video[v]) if isinstance(per_video[v], list) else -1 for v, _ in videos}) > 1:
        raise ValueError(f"{where}: labels of different kinds or lengths")
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
    bounded.check_image_header(name, data)
    try:
        height, width, _ = tf.io.decode_image(data, channels=3, expand_animations=False).shape
    except tf.errors.InvalidArgumentError as e:
        raise ValueError(f"{name}: unreadable image ({e.message})") from e
    return width, height


def check_resolution(name, size, resolution):
    """Frame size check at open time: square, and equal to `resolution` when one is requested."""
    width, height = size
    if width != height:
        raise ValueError(f"{name}: frames must be square RGB images, got {width}x{height}")
    if resolution is not None and width != resolution:
        raise ValueError(f"{name}: frame is {width}x{height}, expected resolution {resolution}")
    return width


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
    keep = keep_long_videos(files.path, lengths, sampling)
    first = files.videos[int(np.argmax(keep))][1][0]
    resolution = check_resolution(f"{files.path}/{first}", _image_size(f"{files.path}/{first}", files.read(first)),
                                  resolution)
    names = tuple(v for (v, _), kept in zip(files.videos, keep) if kept)
    index = VideoIndex(description=f"{kind} {files.path}: {len(names)} videos at {resolution}x{resolution}",
                       video_names=names, lengths=lengths[keep], labels=files.labels[keep], resolution=resolution,
                       num_skipped=int(np.sum(~keep)))
    return index, keep


class FolderSource(EncodedFrameSource):
    """Reference layout folder `root/<video_dir>/<frames>`; frames are read with tf.io.read_file."""

    def __init__(self, path, resolution=None, sampling=sampling_lib.SamplingConfig(), use_labels=True):
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


class ZipSource(EncodedFrameSource):
    """A zip of the reference layout; members are read with Python's zipfile inside tf.numpy_function."""

    def __init__(self, path, resolution=None, sampling=sampling_lib.SamplingConfig(), use_labels=True):
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
