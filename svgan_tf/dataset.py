"""Builds StyleGAN-V datasets from videos or frame folders, and checks sources (`--check`).

    python -m svgan_tf.dataset --source=data/sky_frames --out=data/sky_256 --resolution=256
    python -m svgan_tf.dataset --source=rainbow_jelly.mp4 --out=data/jelly_256.zip --skip_frames=150 \
        --chunk_frames=512
    python -m svgan_tf.dataset --source=data/videos --out=data/videos_256 --format=folder --fps=25
    python -m svgan_tf.dataset --source=data/sky_frames --check --min_frames=128 --strict

Sources: a reference-layout folder or zip (`[top/]<video_dir>/<frames>`, with optional dataset.json labels),
one video file, or a directory of video files (.mp4, .avi, .webm, .mov, .mkv at its top level, decoded with
PyAV; the first video stream of each), or "demo[:SEED]" (the synthetic dataset).

Outputs (--format):
* `tfrecord` (the default, unless --out ends in .zip): shards + index.json (svgan_tf.data.pipeline.TFRecordSource).
* `folder`: the reference layout OUT/<video>/<%06d.jpg or .png>, plus dataset.json (SG2-ADA format, one
  [frame path, label] pair per frame) when the source has labels.
* `zip`: the same layout below one top-level folder named after the zip (OUT.zip: <name>/<video>/<frame>),
  with explicit directory entries as `zip -r` writes them: the reference loader takes the first sorted
  entry as the root and every non-image entry as a video directory (issue #14).
All three open with svgan_tf.data.pipeline.open_source and give identical clips.

Per source video, in this order: the first --skip_frames source frames are dropped; --fps resamples the
rest; --max_frames keeps the first frames of the result (decoding stops there); every kept frame is centre-
cropped to a square and resized to --resolution with Lanczos (PIL; frames that already are --resolution
squares in PNG/JPEG are stored byte for byte, so the dataset decodes to exactly the source's pixels);
--chunk_frames splits the video into chunks named <video>_0000, <video>_0001, ... (a video of at most
--chunk_frames frames keeps its name); videos or chunks shorter than --min_frames are skipped (counted).

Frame-rate resampling (--fps=F, e.g. 25, 29.97 or 30000/1001): output frame j shows time j / F after the
first source frame and is the source frame whose presentation timestamp is nearest to that time (the
earlier one on a tie); the output covers the source's duration (last timestamp + last frame's duration),
so a video of D seconds gives ceil(D * F) frames. Lower rates drop frames, higher rates repeat them; no
frames are blended. Timestamps are exact (rational) PTS values, so resampling to the source's own constant
rate returns every frame once. Frame folders have no timestamps: give their rate with --source_fps.

The output is written under a temporary name beside --out (OUT.tmp-PID) and renamed at the end, so an
interrupted or failed run never leaves a dataset that looks complete; an existing --out is replaced only
with --overwrite, after the new one is complete. Bad inputs fail with an error naming the file (exit status
2 from the command line).

--check reads the source without writing anything and prints: the number of videos and frames, the frame
count distribution (min / median / max and a histogram with the thresholds that matter: 3 frames for the
k = 3 training clips, 16 and 128 for FVD16 / FVD128, max_dist + 1 = 33 for the full span distribution,
1024 = max_num_frames), the videos shorter than --min_frames (default in check mode: 33), unreadable files,
non-square frames, frames whose size differs from the rest of their video (mixed sizes) and videos whose
size differs from the rest of the dataset. By default it reads image headers and video packets (fast);
--check_decode decodes every frame. --fps, --source_fps, --skip_frames, --max_frames and --chunk_frames
are applied to the counts as a conversion would. It never fails on a bad input: it exits 0, or 1 with
--strict when a problem was found (notes, e.g. non-square video files that a conversion crops, do not count).
"""

import collections
import fractions
import io
import itertools
import json
import os
import shutil
import sys
import time
import zipfile

import numpy as np
import tensorflow as tf
from absl import app, flags

from svgan_tf.data import pipeline as data

VIDEO_EXTENSIONS = (".mp4", ".avi", ".webm", ".mov", ".mkv")
FORMATS = ("auto", "tfrecord", "folder", "zip")
_DEFAULT_SAMPLING = data.SamplingConfig()
# Frame counts that matter: training clips need k frames, the full span distribution max_dist + 1, FVD16 and
# FVD128 16 and 128 consecutive frames; longer than max_num_frames, a video contributes random windows.
CHECK_MIN_FRAMES = _DEFAULT_SAMPLING.max_dist + 1
HISTOGRAM_EDGES = (0, _DEFAULT_SAMPLING.min_video_length, 16, CHECK_MIN_FRAMES, 128, _DEFAULT_SAMPLING.max_num_frames)
HISTOGRAM_NOTES = {0: f"unusable: training clips need {_DEFAULT_SAMPLING.min_video_length} frames",
                   1: "too short for FVD16", 2: f"fewer spans than max_dist={_DEFAULT_SAMPLING.max_dist}",
                   3: "too short for FVD128", 5: f"longer than max_num_frames={_DEFAULT_SAMPLING.max_num_frames}"}
_LIST_LIMIT = 10  # entries printed per check category

flags.DEFINE_string("source", None, "Frame folder, .zip, video file, directory of video files or demo[:SEED].")
flags.DEFINE_string("out", None, "Output directory or .zip (must not exist unless --overwrite).")
flags.DEFINE_enum("format", "auto", FORMATS, "Output: tfrecord shards, reference frame folder or reference zip "
                  "(auto: zip when --out ends in .zip, else tfrecord).")
flags.DEFINE_integer("resolution", 256, "Output frame size (square).")
flags.DEFINE_integer("chunk_frames", 0, "Split videos into chunks of this many frames (0: keep whole videos).")
flags.DEFINE_string("fps", None, "Resample videos to this frame rate (e.g. 25, 29.97, 30000/1001) by picking the "
                    "source frame with the nearest timestamp; default: keep every frame.")
flags.DEFINE_string("source_fps", None, "Frame rate of frame-folder (and demo) sources, needed by --fps.")
flags.DEFINE_integer("skip_frames", 0, "Drop this many source frames at the start of every video.")
flags.DEFINE_integer("max_frames", None, "Keep at most this many frames per source video (after --fps).")
flags.DEFINE_integer("max_videos", None, "Convert (or check) at most this many source videos.")
flags.DEFINE_integer("min_frames", None, f"Skip videos (or trailing chunks) with fewer frames (default 3); with "
                     f"--check, report videos shorter than this (default {CHECK_MIN_FRAMES} = max_dist + 1; "
                     "16 or 128 for FVD).")
flags.DEFINE_enum("image_format", "jpeg", ["jpeg", "png"], "Encoding of resized frames.")
flags.DEFINE_integer("jpeg_quality", 95, "JPEG quality (the reference scripts use 95).")
flags.DEFINE_integer("shard_mb", 256, "Start a new shard after this many MB (a video never spans shards).")
flags.DEFINE_bool("overwrite", False, "Replace an existing --out.")
flags.DEFINE_bool("check", False, "Only report on --source (counts, short videos, unreadable or odd-sized frames); "
                  "writes nothing.")
flags.DEFINE_bool("check_decode", False, "With --check: decode every frame (slower; finds corrupt data that "
                  "headers do not show).")
flags.DEFINE_bool("strict", False, "With --check: exit with status 1 when a problem was found.")


# ----------------------------------------------------------------------------------------------------
# Sources.


def _is_video_file(path):
    return os.path.splitext(path)[1].lower() in VIDEO_EXTENSIONS


def _is_image(path):
    return os.path.splitext(path)[1].lower() in data.IMAGE_EXTENSIONS


def _is_demo(source):
    return source == "demo" or source.startswith("demo:")


def parse_fps(value, what="--fps"):
    """A positive frame rate as a Fraction (None stays None); accepts numbers and strings like '30000/1001'."""
    if value is None:
        return None
    try:
        fps = fractions.Fraction(str(value).strip()) if not isinstance(value, fractions.Fraction) else value
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"{what}: expected a frame rate such as 25, 29.97 or 30000/1001, got {value!r}") from None
    if fps <= 0:
        raise ValueError(f"{what}: must be positive, got {value!r}")
    return fps


def _source_kind(source):
    """("demo" | "video" | "videos" | "frames", video file paths) for a source path."""
    if _is_demo(source):
        return "demo", []
    if not os.path.exists(source):
        raise FileNotFoundError(f"--source {source!r} does not exist")
    if os.path.isfile(source) and _is_video_file(source):
        return "video", [source]
    if os.path.isdir(source):
        videos = sorted(f for f in os.listdir(source) if _is_video_file(f) and os.path.isfile(os.path.join(source, f)))
        if videos:
            return "videos", [os.path.join(source, f) for f in videos]
    return "frames", []


def _check_fps(source, fps, source_fps):
    """_source_kind(source), failing early when --fps is asked of frames without timestamps or --source_fps."""
    kind, video_files = _source_kind(source)
    if fps is not None and source_fps is None and kind in ("demo", "frames"):
        raise ValueError(f"--fps: the frames of {source} have no timestamps; give their frame rate with "
                         "--source_fps")
    return kind, video_files


def _video_name(path):
    return os.path.splitext(os.path.basename(path))[0]


def iter_source_videos(source, resolution, fps=None, source_fps=None, skip_frames=0, max_frames=None):
    """Yields (name, label float list, frames) per source video; frames yields encoded bytes or RGB arrays.

    The frames are those a conversion keeps (see the module docstring); a frame repeated by --fps resampling
    is yielded as the same object again. Decoding is lazy and stops when the consumer stops.

    Args:
        source: frame folder, .zip, video file, directory of video files, or "demo[:SEED]" (the synthetic
            dataset, rendered at `resolution`).
        resolution: output resolution (used by the demo only).
        fps: resample to this frame rate (None: keep every frame).
        source_fps: frame rate of frame-folder and demo sources (their frames have no timestamps).
        skip_frames: drop this many source frames first.
        max_frames: keep at most this many frames (None: all).
    """
    fps, source_fps = parse_fps(fps), parse_fps(source_fps, "--source_fps")
    select = dict(fps=fps, skip_frames=skip_frames, max_frames=max_frames)
    kind, video_files = _check_fps(source, fps, source_fps)
    if kind == "demo":
        demo = data.open_source(source, resolution)
        for video, name in enumerate(demo.index.video_names):
            timed = _untimed(range(demo.index.lengths[video]), source_fps)
            frames = _select(timed, name=f"{source}/{name}", **select)
            yield name, [], _materialize(frames, lambda f, v=video: demo.render(v, [f])[0])
        return
    if kind in ("video", "videos"):
        for path in video_files:
            frames = _select(_timed_video_frames(path), name=path, **select)
            yield _video_name(path), [], _materialize(frames, lambda frame: frame.to_ndarray(format="rgb24"))
        return
    files = data.FrameFiles.open(source)
    for (name, frames), label in zip(files.videos, files.labels):
        yield name, label.tolist(), _frame_file_bytes(files, frames, source_fps, select)


def _untimed(items, source_fps):
    """(timestamp, duration, item) triples of frames at a constant rate (timestamps None without a rate)."""
    step = 1 / source_fps if source_fps else None
    for i, item in enumerate(items):
        yield (i * step if step else None), step, item


def _timed_video_frames(path):
    """Yields (timestamp s, duration s or None, av.VideoFrame) of the first video stream, in presentation order."""
    import av  # PyAV is needed only for video sources.

    try:
        container = av.open(path)
    except Exception as e:  # PyAV raises FFmpegError subclasses, OSError, ...
        raise ValueError(f"{path}: unreadable video ({e})") from e
    with container:
        if not container.streams.video:
            raise ValueError(f"{path}: no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate
        default = 1 / fractions.Fraction(rate) if rate else None
        count = 0
        try:
            for frame in container.decode(stream):
                if frame.pts is not None and frame.time_base:
                    t = frame.pts * fractions.Fraction(frame.time_base)
                else:
                    t = count * default if default is not None else None
                ticks = getattr(frame, "duration", None)  # PyAV >= 13
                duration = ticks * fractions.Fraction(frame.time_base) if ticks and frame.time_base else default
                yield t, duration, frame
                count += 1
        except Exception as e:
            raise ValueError(f"{path}: decoding failed after {count} frames ({e})") from e
        if count == 0:
            raise ValueError(f"{path}: no decodable video frame")


def resample_nearest(timed, fps, name="video"):
    """Resamples timed frames to `fps` by picking the frame with the nearest timestamp (see module docstring).

    Args:
        timed: iterable of (timestamp in s, duration in s or None, item) in presentation order; timestamps are
            taken relative to the first one (exact for Fractions).
        fps: output frame rate (number or Fraction).
        name: the video, for error messages.

    Yields:
        items; output frame j is the item whose timestamp is nearest to j / fps (the earlier on a tie), for
        j / fps < last timestamp + last duration (the last interval, else 1 / fps, when the duration is unknown).
        A frame whose timestamp does not exceed the previous kept frame's is dropped.
    """
    step = 1 / parse_fps(fps)
    prev, start, j, duration, interval = None, None, 0, None, None
    for t, frame_duration, item in timed:
        if t is None:
            raise ValueError(f"{name}: --fps needs frame timestamps or a frame rate (--source_fps for frame "
                             "folders)")
        if start is None:
            start = t
        t -= start
        if prev is not None:
            if t <= prev[0]:  # a timestamp that does not increase: the earlier frame wins the tie
                continue
            interval = t - prev[0]
            while j * step < t:
                tau = j * step
                yield prev[1] if tau - prev[0] <= t - tau else item
                j += 1
        prev, duration = (t, item), frame_duration
    if prev is None:
        return
    end = prev[0] + (duration or interval or step)
    while j * step < end:
        yield prev[1]
        j += 1


def _select(timed, fps, skip_frames, max_frames, name):
    """The items a conversion keeps: skip, fps resampling, max_frames (lazily, so decoding stops early)."""
    timed = itertools.islice(timed, skip_frames, None) if skip_frames else timed
    items = resample_nearest(timed, fps, name) if fps else (item for _, _, item in timed)
    return itertools.islice(items, max_frames) if max_frames is not None else items


def _materialize(items, convert):
    """Converts items, converting a repeated item (fps upsampling) once and yielding the same object."""
    last, result = object(), None
    for item in items:
        if item is not last:
            last, result = item, convert(item)
        yield result


def _frame_file_bytes(files, frames, source_fps=None, select=None):
    """(path for messages, encoded bytes) of the selected frame files of one video."""
    items = _select(_untimed(frames, source_fps), name=f"{files.path}/{os.path.dirname(frames[0])}",
                    **(select or dict(fps=None, skip_frames=0, max_frames=None))) if frames else iter(())
    if os.path.isdir(files.path):
        yield from _materialize(items, lambda name: (f"{files.path}/{name}", files.read(name)))
        return
    with zipfile.ZipFile(files.path) as archive:
        yield from _materialize(items, lambda name: (f"{files.path}/{name}", archive.read(name)))


# ----------------------------------------------------------------------------------------------------
# Frame processing.


def crop_resize(image, resolution):
    """Centre-crops an RGB uint8 [H, W, 3] array to a square and resizes it (PIL Lanczos, else tf.image)."""
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    image = image[top:top + side, left:left + side]
    if side == resolution:
        return image
    try:
        import PIL.Image
    except ImportError:
        resized = tf.image.resize(image, [resolution, resolution], method="lanczos3", antialias=True)
        return tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8).numpy()
    return np.asarray(PIL.Image.fromarray(image).resize((resolution, resolution), PIL.Image.LANCZOS))


def encode_frame(frame, resolution, image_format="jpeg", quality=95):
    """Encoded frame bytes; PNG/JPEG files that already have the target size are kept byte for byte.

    Args:
        frame: (file name, encoded bytes) of an image file, or an RGB uint8 [H, W, 3] array.
        resolution: output size.
        image_format: "jpeg" or "png" for re-encoded frames.
        quality: JPEG quality.
    """
    if isinstance(frame, tuple):
        name, encoded = frame
        try:
            image = tf.io.decode_image(encoded, channels=3, expand_animations=False).numpy()
        except tf.errors.InvalidArgumentError as e:
            raise ValueError(f"{name}: unreadable image ({e.message})") from e
        if image.shape[:2] == (resolution, resolution) and encoded[:2] in (b"\x89P", b"\xff\xd8"):
            return encoded
        frame = image
    frame = crop_resize(frame, resolution)
    if image_format == "png":
        return tf.io.encode_png(frame).numpy()
    return tf.io.encode_jpeg(frame, quality=quality).numpy()


def _encoded(frames, resolution, image_format, quality):
    """Encodes frames, encoding a repeated frame object (fps upsampling) once."""
    last, result = object(), None
    for frame in frames:
        if frame is not last:
            last, result = frame, encode_frame(frame, resolution, image_format, quality)
        yield result


def _extension(encoded):
    return ".png" if encoded[:2] == b"\x89P" else ".jpg"


# ----------------------------------------------------------------------------------------------------
# Writers.


def _example(image, video, frame):
    return tf.train.Example(features=tf.train.Features(feature={
        "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image])),
        "video": tf.train.Feature(int64_list=tf.train.Int64List(value=[video])),
        "frame": tf.train.Feature(int64_list=tf.train.Int64List(value=[frame])),
    })).SerializeToString()


class _ShardWriter:
    """Writes videos as consecutive records, starting a new shard at video boundaries past shard_bytes."""

    kind = "tfrecord"

    def __init__(self, directory, shard_bytes):
        self.directory, self.shard_bytes = directory, shard_bytes
        self.shards, self.videos = [], []
        self._writer, self._position = None, 0

    def add_video(self, name, label, frames):
        if self._writer is None or self._position >= self.shard_bytes:
            self._next_shard()
        entry = dict(name=name, shard=len(self.shards) - 1, offset=self._position, sizes=[], label=label)
        for i, image in enumerate(frames):
            record = _example(image, len(self.videos), i)
            self._writer.write(record)
            entry["sizes"].append(len(record))
            self._position += len(record) + data.RECORD_OVERHEAD_BYTES
        self.videos.append(entry)

    def _next_shard(self):
        self.close()
        self.shards.append(f"frames-{len(self.shards):05d}.tfrecord")
        self._writer = tf.io.TFRecordWriter(os.path.join(self.directory, self.shards[-1]))
        self._position = 0

    def close(self):
        if self._writer is not None:
            self._writer.close()
            size = os.path.getsize(os.path.join(self.directory, self.shards[-1]))
            if size != self._position:  # the index offsets would be wrong
                raise RuntimeError(f"{self.shards[-1]}: {size} bytes written, expected {self._position}")
            self._writer = None

    def finish(self, source, resolution):
        """Closes the last shard and writes index.json; returns the extra summary entries."""
        self.close()
        index = dict(format=data.TFRECORD_FORMAT, version=1, source=source if _is_demo(source) else
                     os.path.abspath(source), resolution=resolution, c_dim=len(self.videos[0]["label"]),
                     shards=self.shards, videos=self.videos)
        with open(os.path.join(self.directory, data.TFRECORD_INDEX), "w") as f:
            json.dump(index, f)
        return dict(shards=len(self.shards))

    def abort(self):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class _LayoutWriter:
    """The reference layout <video>/<%06d.jpg|png> (+ dataset.json) in a folder, or below `top/` in a zip with
    explicit directory entries (written in `zip -r` order: each directory before its files)."""

    def __init__(self, path, zip_top=None):
        self.kind = "folder" if zip_top is None else "zip"
        self.path, self.videos, self._labels = path, [], []
        self._archive = None
        self._prefix = ""
        if zip_top is not None:
            self._archive = zipfile.ZipFile(path, "w", zipfile.ZIP_STORED)  # JPEG / PNG do not deflate
            self._prefix = f"{zip_top}/"
            self._mkdir(zip_top)
        else:
            os.makedirs(path)

    def add_video(self, name, label, frames):
        if self._archive is not None:
            self._mkdir(self._prefix + name)
        else:
            os.makedirs(os.path.join(self.path, name))
        for i, image in enumerate(frames):
            member = f"{name}/{i:06d}{_extension(image)}"
            self._put(member, image)
            self._labels.append([member, label])
        self.videos.append(dict(name=name, label=label))

    def _mkdir(self, name):
        entry = zipfile.ZipInfo(f"{name}/", time.localtime()[:6])
        entry.external_attr = 0o40775 << 16 | 0x10  # drwxrwxr-x + MS-DOS directory flag, as zip -r writes
        self._archive.writestr(entry, b"")

    def _put(self, member, content):
        if self._archive is not None:
            self._archive.writestr(self._prefix + member, content)
        else:
            with open(os.path.join(self.path, member), "wb") as f:
                f.write(content)

    def finish(self, source, resolution):
        del source, resolution
        if self.videos[0]["label"]:  # SG2-ADA labels, read back per video by svgan_tf.data.pipeline and the reference
            self._put(data.LABELS_FILE, json.dumps({"labels": self._labels}).encode())
        self.abort()
        return {}

    def abort(self):
        if self._archive is not None:
            self._archive.close()
            self._archive = None


def _resolve_format(out, out_format):
    if out_format not in FORMATS:
        raise ValueError(f"--format must be one of {FORMATS}, got {out_format!r}")
    is_zip = out.lower().endswith(".zip")
    if out_format == "auto":
        return "zip" if is_zip else "tfrecord"
    if out_format == "zip" and not is_zip:
        raise ValueError(f"--format=zip: --out {out!r} must end in .zip (the reference loader recognises zips "
                         "by their extension)")
    return out_format


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)


def _replace(temp, out):
    """Moves the finished `temp` to `out`; an existing `out` is moved aside first and removed afterwards."""
    if not os.path.lexists(out):
        os.rename(temp, out)
        return
    if os.path.isfile(temp) and os.path.isfile(out):
        os.replace(temp, out)  # atomic
        return
    old = f"{out}.old-{os.getpid()}"
    _remove(old)
    os.rename(out, old)
    os.rename(temp, out)
    _remove(old)


def _check_arguments(resolution, chunk_frames, skip_frames, max_frames, max_videos, min_frames):
    for name, value, low in (("resolution", resolution, 1), ("chunk_frames", chunk_frames, 0),
                             ("skip_frames", skip_frames, 0), ("max_frames", max_frames, 1),
                             ("max_videos", max_videos, 0), ("min_frames", min_frames, 0)):
        if value is not None and value < low:
            raise ValueError(f"--{name} must be >= {low}, got {value}")


def make_dataset(source, out, resolution, chunk_frames=0, max_videos=None, min_frames=3, image_format="jpeg",
                 quality=95, shard_bytes=256 << 20, overwrite=False, log=print, out_format="auto", fps=None,
                 source_fps=None, skip_frames=0, max_frames=None):
    """Converts `source` into TFRecord shards + index.json, a reference frame folder or a reference zip.

    The output is written under a temporary name and renamed when complete (see the module docstring).

    Args:
        source: frame folder, .zip, video file, directory of video files or "demo[:SEED]".
        out: output directory, or .zip file for out_format "zip".
        resolution: output frame size.
        chunk_frames: split videos into chunks of this many frames (0: whole videos).
        max_videos: convert at most this many source videos (None: all).
        min_frames: skip videos or chunks with fewer frames.
        image_format: "jpeg" or "png" for re-encoded frames.
        quality: JPEG quality.
        shard_bytes: start a new shard after this many bytes (tfrecord).
        overwrite: replace an existing `out`.
        log: progress printer.
        out_format: "auto" (zip when `out` ends in .zip, else tfrecord), "tfrecord", "folder" or "zip".
        fps: resample videos to this frame rate (number, Fraction or string like "30000/1001"; None: keep all).
        source_fps: frame rate of frame-folder and demo sources (needed by fps).
        skip_frames: drop this many source frames at the start of every video.
        max_frames: keep at most this many frames per source video, after fps resampling (None: all).

    Returns:
        Summary dict: source_videos, videos, frames, skipped, and shards for tfrecord.
    """
    _check_arguments(resolution, chunk_frames, skip_frames, max_frames, max_videos, min_frames)
    _check_fps(source, parse_fps(fps), parse_fps(source_fps, "--source_fps"))
    out = os.path.abspath(out)
    out_format = _resolve_format(out, out_format)
    if os.path.lexists(out) and not overwrite:
        raise FileExistsError(f"--out {out} exists (pass --overwrite to replace it)")
    temp = f"{out}.tmp-{os.getpid()}"
    _remove(temp)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    writer = None
    try:
        if out_format == "tfrecord":
            os.makedirs(temp)
            writer = _ShardWriter(temp, shard_bytes)
        else:
            zip_top = os.path.splitext(os.path.basename(out))[0] if out_format == "zip" else None
            writer = _LayoutWriter(temp, zip_top)
        summary = _write(source, writer, resolution, chunk_frames, max_videos, min_frames, image_format, quality,
                         log, dict(fps=fps, source_fps=source_fps, skip_frames=skip_frames, max_frames=max_frames))
        _replace(temp, out)
    except BaseException:
        if writer is not None:
            writer.abort()
        _remove(temp)
        raise
    return summary


def _stream_chunks(frames, chunk_frames):
    """Yields (chunk index, or None when the video is one chunk, frame list), holding one chunk at a time."""
    if chunk_frames <= 0:
        yield None, list(frames)
        return
    buffer, index = [], 0
    for frame in frames:
        if len(buffer) == chunk_frames:  # another frame follows: this is not the only chunk
            yield index, buffer
            buffer, index = [], index + 1
        buffer.append(frame)
    yield (index if index else None), buffer


def _unique(name, used, log):
    unique, k = name, 1
    while unique in used:
        k += 1
        unique = f"{name}_{k}"
    if unique != name:
        log(f"{name}: name already used, writing it as {unique}")
    used.add(unique)
    return unique


def _write(source, writer, resolution, chunk_frames, max_videos, min_frames, image_format, quality, log, select):
    summary = dict(source_videos=0, videos=0, frames=0, skipped=0)
    used = set()
    start = time.time()
    for name, label, frames in iter_source_videos(source, resolution, **select):
        if max_videos is not None and summary["source_videos"] >= max_videos:
            break
        summary["source_videos"] += 1
        total = chunks = 0
        for index, chunk in _stream_chunks(_encoded(frames, resolution, image_format, quality), chunk_frames):
            total += len(chunk)
            chunks += 1
            if len(chunk) < max(min_frames, 1):
                summary["skipped"] += 1
                continue
            writer.add_video(_unique(name if index is None else f"{name}_{index:04d}", used, log), label, chunk)
            summary["videos"] += 1
            summary["frames"] += len(chunk)
        log(f"[{summary['source_videos']}] {name}: {total} frames, {chunks} chunk(s); total "
            f"{summary['videos']} videos, {summary['frames']} frames, {time.time() - start:.1f} s")
    if not writer.videos:
        raise ValueError(f"--source {source}: no video with at least {min_frames} frames")
    summary.update(writer.finish(source, resolution))
    log(f"done: {summary['videos']} videos ({summary['source_videos']} source videos), {summary['frames']} "
        f"frames, {summary['skipped']} skipped (< {min_frames} frames)"
        + (f", {summary['shards']} shard(s)" if "shards" in summary else "") + f" ({writer.kind})")
    return summary


# ----------------------------------------------------------------------------------------------------
# --check.


def _image_size(read, decode):
    """(width, height) of an image file opened by `read()` (header only unless `decode`); raises on bad data."""
    try:
        import PIL.Image
    except ImportError:
        height, width, _ = tf.io.decode_image(read(), channels=3, expand_animations=False).shape
        return width, height
    with PIL.Image.open(io.BytesIO(read())) as image:
        if decode:
            image.load()
        return image.size


def _video_info(path, decode):
    """(timestamps, last frame's duration, Counter of frame sizes, frame rate or None) of a video file's first
    video stream; raises on bad data.

    Without `decode`, timestamps come from the demuxed packets (sorted: presentation order) and the size from the
    stream header; with it, from the decoded frames.
    """
    import av

    with av.open(path) as container:
        if not container.streams.video:
            raise ValueError("no video stream")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        default = 1 / fractions.Fraction(rate) if rate else None
        base = fractions.Fraction(stream.time_base) if stream.time_base else None
        stamps, sizes = [], collections.Counter()
        if decode:
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                stamps.append((frame.pts, getattr(frame, "duration", None)))
                sizes[(frame.width, frame.height)] += 1
        else:
            for packet in container.demux(stream):
                if packet.size:
                    stamps.append((packet.pts, packet.duration))
            sizes[(stream.codec_context.width, stream.codec_context.height)] = len(stamps)
    if not stamps:
        raise ValueError("no video frame")
    if base is not None and all(pts is not None for pts, _ in stamps):
        stamps.sort(key=lambda s: s[0])
        times = [pts * base for pts, _ in stamps]
        duration = stamps[-1][1] * base if stamps[-1][1] else default
    else:
        times = [i * default for i in range(len(stamps))] if default is not None else [None] * len(stamps)
        duration = default
    return times, duration, sizes, rate


def _converted_length(times, duration, fps, skip_frames, max_frames, name):
    """Frames a conversion keeps from a video with these timestamps (None where --fps lacks timestamps)."""
    timed = [(t, duration if i == len(times) - 1 else None, i) for i, t in enumerate(times)]
    try:
        return sum(1 for _ in _select(iter(timed), fps, skip_frames, max_frames, name))
    except ValueError:
        return None


def _histogram(lengths):
    edges = HISTOGRAM_EDGES + (None,)
    rows = []
    for i, (low, high) in enumerate(zip(edges[:-1], edges[1:])):
        count = sum(1 for n in lengths if n >= low and (high is None or n < high))
        label = f"[{low}, {high})" if high is not None else f">= {low}"
        rows.append((label, count, HISTOGRAM_NOTES.get(i, "")))
    return rows


class _Report:
    """Findings of a check: problem categories (count for --strict) and notes."""

    PROBLEMS = {
        "unreadable": "unreadable files",
        "too_short": "videos shorter than --min_frames",
        "odd_sized": "odd-sized frames (size differs from the rest of their video)",
        "mixed_sizes": "videos with mixed frame sizes",
        "non_square": "videos with non-square frames (svgan_tf.data.pipeline and the reference need squares; "
                      "make_dataset centre-crops them)",
        "size_outliers": "videos whose frame size differs from the dataset's (svgan_tf.data.pipeline and the reference "
                         "need one size; make_dataset resizes them)",
        "layout": "layout problems (svgan_tf.data.pipeline cannot open the source as it is)",
    }

    def __init__(self):
        self.items = {key: [] for key in self.PROBLEMS}
        self.notes = []

    @property
    def problems(self):
        return sum(len(v) for v in self.items.values())


def check_dataset(source, min_frames=None, fps=None, source_fps=None, skip_frames=0, max_frames=None,
                  chunk_frames=0, max_videos=None, decode=False, log=print):
    """Reports on a source without writing anything and without raising on bad inputs.

    Args:
        source: as for make_dataset.
        min_frames: report videos with fewer frames (None: max_dist + 1 = 33).
        fps, source_fps, skip_frames, max_frames, chunk_frames: as for make_dataset; applied to the counts.
        max_videos: check at most this many source videos.
        decode: decode every frame (else image headers and video packets only).
        log: printer for the summary.

    Returns:
        dict: source, kind, videos, frames (total source frames), lengths (frames per video as converted),
        source_lengths, chunks, histogram [(bucket, count, note)], stats (min, median, max or None), problems
        (count), one list per problem category (see _Report.PROBLEMS) and notes.
    """
    min_frames = CHECK_MIN_FRAMES if min_frames is None else min_frames
    # Bad option values are usage errors (raised); anything wrong with the source is reported.
    _check_arguments(1, chunk_frames, skip_frames, max_frames, max_videos, min_frames)
    fps, source_fps = parse_fps(fps), parse_fps(source_fps, "--source_fps")
    report = _Report()
    names, source_lengths, lengths, kind = [], [], [], "?"
    try:
        kind, video_files = _source_kind(source)
        if fps is not None and source_fps is None and kind in ("demo", "frames"):
            report.notes.append("--fps needs --source_fps for frame folders and the demo; counts are not resampled")
            fps = None
        if kind == "demo":
            demo = data.open_source(source, sampling=data.SamplingConfig(num_frames=1))
            step = 1 / source_fps if source_fps else None
            for name, length in list(zip(demo.index.video_names, demo.index.lengths.tolist()))[:max_videos]:
                names.append(name)
                source_lengths.append(length)
                lengths.append(_converted_length([i * step if step else None for i in range(length)], step, fps,
                                                 skip_frames, max_frames, name))
        elif kind in ("video", "videos"):
            _check_videos(video_files[:max_videos] if max_videos is not None else video_files, report, names,
                          source_lengths, lengths, fps, skip_frames, max_frames, decode)
            if kind == "videos":
                others = sorted(f for f in os.listdir(source) if not _is_video_file(f))
                if others:
                    report.notes.append(f"{len(others)} other entries ignored (only the top-level video files are "
                                        f"read): {', '.join(others[:_LIST_LIMIT])}")
        else:
            _check_frames(source, report, names, source_lengths, lengths, fps, source_fps, skip_frames,
                          max_frames, max_videos, decode)
    except Exception as e:  # never fail: every problem is reported
        report.items["unreadable"].append(f"{source}: {type(e).__name__}: {e}")
    return _summarize(source, kind, report, names, source_lengths, lengths, min_frames, chunk_frames,
                      dict(fps=fps, skip_frames=skip_frames, max_frames=max_frames), log)


def _check_videos(paths, report, names, source_lengths, lengths, fps, skip_frames, max_frames, decode):
    sizes = {}
    for path in paths:
        try:
            times, duration, frame_sizes, rate = _video_info(path, decode)
        except Exception as e:
            report.items["unreadable"].append(f"{path}: {type(e).__name__}: {e}")
            continue
        name = _video_name(path)
        names.append(name)
        source_lengths.append(len(times))
        length = _converted_length(times, duration, fps, skip_frames, max_frames, path)
        if length is None:
            report.notes.append(f"{path}: no timestamps or frame rate, --fps cannot resample it")
        lengths.append(length if length is not None else len(times))
        size = frame_sizes.most_common(1)[0][0]
        sizes[path] = size
        if len(frame_sizes) > 1:
            report.items["mixed_sizes"].append(f"{path}: " + ", ".join(f"{w}x{h} ({n} frames)"
                                                                       for (w, h), n in frame_sizes.items()))
        if size[0] != size[1]:
            report.notes.append(f"{path}: {size[0]}x{size[1]} at {float(rate or 0):.4g} fps, not square "
                                "(a conversion centre-crops it)")
    common = collections.Counter(sizes.values()).most_common(1)
    if len(set(sizes.values())) > 1:
        report.notes.append("video sizes differ: " + ", ".join(
            f"{w}x{h} ({n})" for (w, h), n in collections.Counter(sizes.values()).most_common())
            + f"; most common {common[0][0][0]}x{common[0][0][1]} (a conversion crops and resizes each)")


def _check_frames(source, *args):
    """Checks a frame folder or zip (see check_dataset)."""
    if os.path.isdir(source):
        names = sorted(os.path.relpath(os.path.join(root, f), source).replace(os.sep, "/")
                       for root, _, files in os.walk(source) for f in files)

        def read(name):
            with open(os.path.join(source, name), "rb") as f:
                return f.read()
        _check_frame_files(source, names, None, read, *args)
        return
    if not zipfile.is_zipfile(source):
        raise ValueError("not a directory, a video file (" + "/".join(VIDEO_EXTENSIONS) + ") or a zip archive")
    with zipfile.ZipFile(source) as archive:
        members = archive.namelist()
        _check_frame_files(source, sorted(n for n in members if not n.endswith("/")),
                           sorted(n for n in members if n.endswith("/")), archive.read, *args)


def _check_frame_files(source, files, directories, read, report, names, source_lengths, lengths, fps, source_fps,
                       skip_frames, max_frames, max_videos, decode):
    """Checks frame files (`directories`: a zip's explicit directory entries, None for a folder)."""
    images = [n for n in files if _is_image(n)]
    others = [n for n in files if not _is_image(n) and os.path.basename(n) != data.LABELS_FILE]
    if others:
        report.notes.append(f"{len(others)} non-image files ignored by svgan_tf.data.pipeline (the reference loader "
                            f"fails on files inside video folders): {', '.join(others[:_LIST_LIMIT])}")
    try:
        data.FrameFiles.open(source)
    except Exception as e:
        report.items["layout"].append(f"{type(e).__name__}: {e}")
    if directories is not None and images:
        tops = {n.split("/", 1)[0] for n in images}
        if not directories or len(tops) != 1 or any(n.count("/") != 2 for n in images):
            report.notes.append("the zip lacks explicit directory entries or one top-level folder: svgan_tf.data.pipeline "
                                "reads it, the reference loader does not (issue #14); rewrite it with "
                                "--format=zip")
    videos = collections.defaultdict(list)
    for name in images:  # grouped by folder, tolerating any depth
        videos[name.rsplit("/", 1)[0] if "/" in name else "."].append(name)
    video_items = sorted(videos.items())
    if max_videos is not None:
        video_items = video_items[:max_videos]
    video_sizes = {}
    for video, frames in video_items:
        frame_sizes = {}
        for frame in frames:
            try:
                frame_sizes[frame] = _image_size(lambda: read(frame), decode)
            except Exception as e:
                report.items["unreadable"].append(f"{source}/{frame}: {type(e).__name__}: {e}")
        names.append(video)
        source_lengths.append(len(frames))
        step = 1 / source_fps if source_fps else None
        length = _converted_length([i * step if step else None for i in range(len(frames))], step, fps,
                                   skip_frames, max_frames, f"{source}/{video}")
        lengths.append(length)
        counts = collections.Counter(frame_sizes.values())
        if not counts:
            continue
        size = counts.most_common(1)[0][0]
        video_sizes[video] = size
        if len(counts) > 1:
            report.items["mixed_sizes"].append(f"{source}/{video}: " + ", ".join(
                f"{w}x{h} ({n} frames)" for (w, h), n in counts.most_common()))
            for frame, frame_size in frame_sizes.items():
                if frame_size != size:
                    report.items["odd_sized"].append(f"{source}/{frame}: {frame_size[0]}x{frame_size[1]}, the "
                                                     f"video's other frames are {size[0]}x{size[1]}")
        if size[0] != size[1]:
            report.items["non_square"].append(f"{source}/{video}: {size[0]}x{size[1]}")
    counts = collections.Counter(video_sizes.values())
    if len(counts) > 1:
        common = counts.most_common(1)[0][0]
        for video, size in video_sizes.items():
            if size != common:
                report.items["size_outliers"].append(f"{source}/{video}: {size[0]}x{size[1]}, most videos are "
                                                     f"{common[0]}x{common[1]}")


def _summarize(source, kind, report, names, source_lengths, lengths, min_frames, chunk_frames, select, log):
    converted = any(v for v in select.values()) or chunk_frames
    too_short = [(n, length) for n, length in zip(names, lengths) if length < min_frames]
    report.items["too_short"] = [f"{n}: {length} frames" for n, length in too_short]
    chunks = [min(chunk_frames, length - i) for length in lengths for i in range(0, length, chunk_frames)] \
        if chunk_frames > 0 else list(lengths)
    kinds = dict(demo="synthetic demo videos", video="one video file", videos="a directory of video files",
                 frames="frame folders" + (" (zip)" if os.path.isfile(source) else ""))
    log(f"check {source}: {kinds.get(kind, 'unknown')}")
    log(f"  videos: {len(names)}, frames: {sum(source_lengths)}")

    def stats(values):
        return (min(values), float(np.median(values)), max(values)) if values else None

    def distribution(title, values):
        s = stats(values)
        if s is None:
            log(f"  {title}: -")
            return
        log(f"  {title}: min {s[0]}, median {s[1]:g}, max {s[2]}")
        for label, count, note in _histogram(values):
            log(f"    {label:>12}: {count:6d}" + (f"  ({note})" if note and count else ""))

    distribution("frames per video" + (" (source)" if converted else ""), source_lengths)
    if converted:
        options = ", ".join(f"--{k}={v}" for k, v in select.items() if v)
        distribution(f"frames per video after {options or 'no resampling'}", lengths)
    if chunk_frames > 0:
        dropped = sum(1 for n in chunks if n < max(min_frames, 1))
        log(f"  --chunk_frames={chunk_frames}: {len(chunks)} chunks, {dropped} shorter than {min_frames} frames "
            "(a conversion with the same --min_frames skips them)")
    for key, title in _Report.PROBLEMS.items():
        items = report.items[key]
        if key == "too_short":
            title = f"videos shorter than --min_frames={min_frames}"
        if items:
            log(f"  PROBLEM: {len(items)} {title}:")
            for item in items[:_LIST_LIMIT]:
                log(f"    {item}")
            if len(items) > _LIST_LIMIT:
                log(f"    ... and {len(items) - _LIST_LIMIT} more")
    for note in report.notes:
        log(f"  note: {note}")
    log(f"  {report.problems} problem(s)" if report.problems else "  no problems found")
    result = dict(source=source, kind=kind, videos=len(names), frames=sum(source_lengths), lengths=list(lengths),
                  source_lengths=list(source_lengths), chunks=chunks, histogram=_histogram(lengths),
                  stats=stats(lengths), problems=report.problems, notes=list(report.notes),
                  min_frames=min_frames)
    result.update(report.items)
    return result


# ----------------------------------------------------------------------------------------------------
# Command line.


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    FLAGS = flags.FLAGS
    if not FLAGS.source:
        raise app.UsageError("--source is required")
    if not FLAGS.check and not FLAGS.out:
        raise app.UsageError("--out is required (or pass --check)")
    try:
        if FLAGS.check:
            report = check_dataset(FLAGS.source, FLAGS.min_frames, FLAGS.fps, FLAGS.source_fps, FLAGS.skip_frames,
                                   FLAGS.max_frames, FLAGS.chunk_frames, FLAGS.max_videos, FLAGS.check_decode)
            return 1 if FLAGS.strict and report["problems"] else 0
        make_dataset(FLAGS.source, FLAGS.out, FLAGS.resolution, FLAGS.chunk_frames, FLAGS.max_videos,
                     3 if FLAGS.min_frames is None else FLAGS.min_frames, FLAGS.image_format, FLAGS.jpeg_quality,
                     FLAGS.shard_mb << 20, FLAGS.overwrite, out_format=FLAGS.format, fps=FLAGS.fps,
                     source_fps=FLAGS.source_fps, skip_frames=FLAGS.skip_frames, max_frames=FLAGS.max_frames)
    except (ValueError, FileNotFoundError, FileExistsError) as e:  # bad inputs or options: the message names them
        print(f"make_dataset: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    app.run(main)
