"""Making a dataset: source videos -> TFRecord shards, a reference frame folder or a reference zip.

Owns reading the sources (frame folders and zips, video files through PyAV, the demo), the frame selection
(--skip_frames, nearest-timestamp --fps resampling, --max_frames), crop and resize, encoding, chunking, the
reference-layout writer (the TFRecord writer is `svgan_tf.data.tfrecord.ShardWriter`) and the atomic output.
The rules are documented for users in `svgan_tf/dataset.py` (the program's --help).
"""

import fractions
import itertools
import json
import os
import time
import zipfile

import numpy as np
import tensorflow as tf

from svgan_tf import atomic
from svgan_tf.data import demo, pipeline, sources, tfrecord
from svgan_tf.interop import bounded

VIDEO_EXTENSIONS = (".mp4", ".avi", ".webm", ".mov", ".mkv")
FORMATS = ("auto", "tfrecord", "folder", "zip")


# ----------------------------------------------------------------------------------------------------
# Sources.


def is_video_file(path):
    """Whether a path has a video-file extension (VIDEO_EXTENSIONS, any case)."""
    return os.path.splitext(path)[1].lower() in VIDEO_EXTENSIONS


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


def source_kind(source):
    """("demo" | "video" | "videos" | "frames", video file paths) for a source path."""
    if demo.is_demo(source):
        return "demo", []
    if not os.path.exists(source):
        raise FileNotFoundError(f"--source {source!r} does not exist")
    if os.path.isfile(source) and is_video_file(source):
        return "video", [source]
    if os.path.isdir(source):
        videos = sorted(f for f in os.listdir(source) if is_video_file(f) and os.path.isfile(os.path.join(source, f)))
        if videos:
            return "videos", [os.path.join(source, f) for f in videos]
    return "frames", []


def _check_fps(source, fps, source_fps):
    """source_kind(source), failing early when --fps is asked of frames without timestamps or --source_fps."""
    kind, video_files = source_kind(source)
    if fps is not None and source_fps is None and kind in ("demo", "frames"):
        raise ValueError(f"--fps: the frames of {source} have no timestamps; give their frame rate with "
                         "--source_fps")
    return kind, video_files


def video_name(path):
    """The name of the video (or videos, when chunked) made from a video file: its base name."""
    return os.path.splitext(os.path.basename(path))[0]


def iter_source_videos(source, resolution, fps=None, source_fps=None, skip_frames=0, max_frames=None):
    """Yields (name, label float list, frames) per source video; frames yields encoded bytes or RGB arrays.

    The frames are those a conversion keeps (see svgan_tf/dataset.py); a frame repeated by --fps resampling
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
        synthetic = pipeline.open_source(source, resolution)
        for video, name in enumerate(synthetic.index.video_names):
            timed = _untimed(range(synthetic.index.lengths[video]), source_fps)
            frames = select_frames(timed, name=f"{source}/{name}", **select)
            yield name, [], _materialize(frames, lambda f, v=video: synthetic.render(v, [f])[0])
        return
    if kind in ("video", "videos"):
        for path in video_files:
            frames = select_frames(_timed_video_frames(path), name=path, **select)
            yield video_name(path), [], _materialize(frames, lambda frame: frame.to_ndarray(format="rgb24"))
        return
    files = sources.FrameFiles.open(source)
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
    """Resamples timed frames to `fps` by picking the frame with the nearest timestamp (see svgan_tf/dataset.py).

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


def select_frames(timed, fps, skip_frames, max_frames, name):
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
    items = select_frames(_untimed(frames, source_fps), name=f"{files.path}/{os.path.dirname(frames[0])}",
                    **(select or dict(fps=None, skip_frames=0, max_frames=None))) if frames else iter(())
    if os.path.isdir(files.path):
        yield from _materialize(items, lambda name: (f"{files.path}/{name}", files.read(name)))
        return
    with zipfile.ZipFile(files.path) as archive:
        yield from _materialize(items, lambda name: (f"{files.path}/{name}",
                                                     bounded.read_member(archive, name, files.path)))


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
        bounded.check_image_header(name, encoded)
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


class _LayoutWriter:
    """The reference layout <video>/<%06d.jpg|png> (+ dataset.json) in a folder, or below `top/` in a zip with
    explicit directory entries (written in `zip -r` order: each directory before its files).

    Args:
        path: an existing, empty directory, or the zip file to create when `zip_top` is given.
        zip_top: the zip's top-level folder (None: write a folder).
    """

    def __init__(self, path, zip_top=None):
        self.kind = "folder" if zip_top is None else "zip"
        self.path, self.videos, self._labels = path, [], []
        self._archive = None
        self._prefix = ""
        if zip_top is not None:
            self._archive = zipfile.ZipFile(path, "w", zipfile.ZIP_STORED)  # JPEG / PNG do not deflate
            self._prefix = f"{zip_top}/"
            self._mkdir(zip_top)

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
        if self.videos[0]["label"]:  # SG2-ADA labels, read back per video by svgan_tf.data.sources and the reference
            self._put(sources.LABELS_FILE, json.dumps({"labels": self._labels}).encode())
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


def check_arguments(resolution, chunk_frames, skip_frames, max_frames, max_videos, min_frames):
    """Fails with a ValueError naming the flag when a conversion option is out of range (None: unset)."""
    for name, value, low in (("resolution", resolution, 1), ("chunk_frames", chunk_frames, 0),
                             ("skip_frames", skip_frames, 0), ("max_frames", max_frames, 1),
                             ("max_videos", max_videos, 0), ("min_frames", min_frames, 0)):
        if value is not None and value < low:
            raise ValueError(f"--{name} must be >= {low}, got {value}")


def make_dataset(source, out, resolution, chunk_frames=0, max_videos=None, min_frames=3, image_format="jpeg",
                 quality=95, shard_bytes=256 << 20, overwrite=False, log=print, out_format="auto", fps=None,
                 source_fps=None, skip_frames=0, max_frames=None):
    """Converts `source` into TFRecord shards + index.json, a reference frame folder or a reference zip.

    The output is staged beside `out` and renamed to it when complete (`svgan_tf.atomic.staged_path`): a
    failed or interrupted run leaves nothing, and an existing `out` is replaced only once the new one is
    complete.

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
    check_arguments(resolution, chunk_frames, skip_frames, max_frames, max_videos, min_frames)
    _check_fps(source, parse_fps(fps), parse_fps(source_fps, "--source_fps"))
    out = os.path.abspath(out)
    out_format = _resolve_format(out, out_format)
    if os.path.lexists(out) and not overwrite:
        raise FileExistsError(f"--out {out} exists (pass --overwrite to replace it)")
    if os.path.exists(source):  # not "demo[:SEED]"
        atomic.refuse_inside(out, source)
    select = dict(fps=fps, source_fps=source_fps, skip_frames=skip_frames, max_frames=max_frames)
    with atomic.staged_path(out, directory=out_format != "zip", overwrite=overwrite) as staging:
        if out_format == "tfrecord":
            writer = tfrecord.ShardWriter(staging, shard_bytes)
        else:
            zip_top = os.path.splitext(os.path.basename(out))[0] if out_format == "zip" else None
            writer = _LayoutWriter(staging, zip_top)
        try:
            summary = _write(source, writer, resolution, chunk_frames, max_videos, min_frames, image_format,
                             quality, log, select)
        except BaseException:
            writer.abort()
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
    summary.update(writer.finish(source if demo.is_demo(source) else os.path.abspath(source), resolution))
    log(f"done: {summary['videos']} videos ({summary['source_videos']} source videos), {summary['frames']} "
        f"frames, {summary['skipped']} skipped (< {min_frames} frames)"
        + (f", {summary['shards']} shard(s)" if "shards" in summary else "") + f" ({writer.kind})")
    return summary
