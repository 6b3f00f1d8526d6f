"""Converts videos or frame folders into TFRecord shards with a random-access index (svgan_tf.data).

    python -m tools.make_dataset --source=data/sky_frames --out=data/sky_256 --resolution=256
    python -m tools.make_dataset --source=rainbow_jelly.mp4 --out=data/jelly_256 --chunk_frames=512

Sources: a reference-layout folder or zip (`[top/]<video_dir>/<frames>`, with optional dataset.json
labels), one video file, or a directory of video files (decoded with PyAV). Frames are centre-cropped to a
square and resized to --resolution (Lanczos); frames that already are --resolution squares in PNG/JPEG are
stored byte for byte, so the TFRecord dataset decodes to exactly the source's pixels. Long videos can be
split into --chunk_frames chunks. The output is written to a temporary directory beside --out and renamed
at the end, so an interrupted run never leaves a dataset that looks complete. See svgan_tf/data.py for
the shard and index layout.
"""

import json
import os
import shutil
import time
import zipfile

import numpy as np
import tensorflow as tf
from absl import app, flags

from svgan_tf import data

VIDEO_EXTENSIONS = (".mp4", ".avi", ".webm", ".mov", ".mkv")

flags.DEFINE_string("source", None, "Frame folder, .zip, video file or directory of video files.")
flags.DEFINE_string("out", None, "Output directory (must not exist unless --overwrite).")
flags.DEFINE_integer("resolution", 256, "Output frame size (square).")
flags.DEFINE_integer("chunk_frames", 0, "Split videos into chunks of this many frames (0: keep whole videos).")
flags.DEFINE_integer("max_videos", None, "Convert at most this many source videos.")
flags.DEFINE_integer("min_frames", 3, "Skip videos (or trailing chunks) with fewer frames.")
flags.DEFINE_enum("image_format", "jpeg", ["jpeg", "png"], "Encoding of resized frames.")
flags.DEFINE_integer("jpeg_quality", 95, "JPEG quality (the reference scripts use 95).")
flags.DEFINE_integer("shard_mb", 256, "Start a new shard after this many MB (a video never spans shards).")
flags.DEFINE_bool("overwrite", False, "Replace an existing --out.")


def _is_video_file(path):
    return os.path.splitext(path)[1].lower() in VIDEO_EXTENSIONS


def iter_source_videos(source, resolution):
    """Yields (name, label float list, frames) per source video; frames yields encoded bytes or RGB arrays.

    Args:
        source: frame folder, .zip, video file, directory of video files, or "demo[:SEED]" (the synthetic
            dataset, rendered at `resolution`).
        resolution: output resolution (used by the demo only).
    """
    if source == "demo" or source.startswith("demo:"):
        demo = data.open_source(source, resolution)
        for video, name in enumerate(demo.index.video_names):
            yield name, [], iter(demo.render(video, range(demo.index.lengths[video])))
        return
    if not os.path.exists(source):
        raise FileNotFoundError(f"--source {source!r} does not exist")
    if os.path.isfile(source) and _is_video_file(source):
        yield os.path.splitext(os.path.basename(source))[0], [], _video_frames(source)
        return
    if os.path.isdir(source):
        video_files = sorted(f for f in os.listdir(source) if _is_video_file(f))
        if video_files:
            for f in video_files:
                yield os.path.splitext(f)[0], [], _video_frames(os.path.join(source, f))
            return
    files = data.FrameFiles.open(source)
    for (name, frames), label in zip(files.videos, files.labels):
        yield name, label.tolist(), _frame_file_bytes(files, frames)


def _video_frames(path):
    import av  # PyAV is needed only for video sources.

    with av.open(path) as container:
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="rgb24")


def _frame_file_bytes(files, frames):
    if os.path.isdir(files.path):
        for name in frames:
            yield f"{files.path}/{name}", files.read(name)
        return
    with zipfile.ZipFile(files.path) as archive:
        for name in frames:
            yield f"{files.path}/{name}", archive.read(name)


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


def _example(image, video, frame):
    return tf.train.Example(features=tf.train.Features(feature={
        "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image])),
        "video": tf.train.Feature(int64_list=tf.train.Int64List(value=[video])),
        "frame": tf.train.Feature(int64_list=tf.train.Int64List(value=[frame])),
    })).SerializeToString()


class _ShardWriter:
    """Writes videos as consecutive records, starting a new shard at video boundaries past shard_bytes."""

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


def _chunks(frames, chunk_frames):
    """Splits a frame list into chunks of chunk_frames (0: one chunk)."""
    if chunk_frames <= 0:
        return [frames]
    return [frames[i:i + chunk_frames] for i in range(0, len(frames), chunk_frames)]


def make_dataset(source, out, resolution, chunk_frames=0, max_videos=None, min_frames=3, image_format="jpeg",
                 quality=95, shard_bytes=256 << 20, overwrite=False, log=print):
    """Converts `source` into TFRecord shards + index.json in `out` (atomically).

    Args:
        source: frame folder, .zip, video file or directory of video files.
        out: output directory.
        resolution: output frame size.
        chunk_frames: split videos into chunks of this many frames (0: whole videos).
        max_videos: convert at most this many source videos (None: all).
        min_frames: skip videos or chunks with fewer frames.
        image_format: "jpeg" or "png" for re-encoded frames.
        quality: JPEG quality.
        shard_bytes: start a new shard after this many bytes.
        overwrite: replace an existing `out`.
        log: progress printer.

    Returns:
        Summary dict: source_videos, videos, frames, skipped, shards.
    """
    out = os.path.abspath(out)
    if os.path.exists(out) and not overwrite:
        raise FileExistsError(f"--out {out} exists (pass --overwrite to replace it)")
    temp = f"{out}.tmp-{os.getpid()}"
    shutil.rmtree(temp, ignore_errors=True)
    os.makedirs(temp)
    try:
        summary = _write(source, temp, resolution, chunk_frames, max_videos, min_frames, image_format, quality,
                         shard_bytes, log)
        if os.path.exists(out):
            shutil.rmtree(out)
        os.rename(temp, out)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return summary


def _write(source, directory, resolution, chunk_frames, max_videos, min_frames, image_format, quality,
           shard_bytes, log):
    writer = _ShardWriter(directory, shard_bytes)
    summary = dict(source_videos=0, videos=0, frames=0, skipped=0)
    start = time.time()
    for name, label, frames in iter_source_videos(source, resolution):
        if max_videos is not None and summary["source_videos"] >= max_videos:
            break
        encoded = [encode_frame(f, resolution, image_format, quality) for f in frames]
        summary["source_videos"] += 1
        chunks = _chunks(encoded, chunk_frames)
        for i, chunk in enumerate(chunks):
            if len(chunk) < min_frames:
                summary["skipped"] += 1
                continue
            writer.add_video(name if len(chunks) == 1 else f"{name}_{i:04d}", label, chunk)
            summary["videos"] += 1
            summary["frames"] += len(chunk)
        log(f"[{summary['source_videos']}] {name}: {len(encoded)} frames, {len(chunks)} chunk(s); total "
            f"{summary['videos']} videos, {summary['frames']} frames, {time.time() - start:.1f} s")
    writer.close()
    if not writer.videos:
        raise ValueError(f"--source {source}: no video with at least {min_frames} frames")
    index = dict(format=data.TFRECORD_FORMAT, version=1, source=os.path.abspath(source), resolution=resolution,
                 c_dim=len(writer.videos[0]["label"]), shards=writer.shards, videos=writer.videos)
    with open(os.path.join(directory, data.TFRECORD_INDEX), "w") as f:
        json.dump(index, f)
    summary["shards"] = len(writer.shards)
    log(f"done: {summary['videos']} videos ({summary['source_videos']} source videos), {summary['frames']} "
        f"frames, {summary['skipped']} skipped (< {min_frames} frames), {summary['shards']} shard(s)")
    return summary


def main(argv):
    del argv
    FLAGS = flags.FLAGS
    make_dataset(FLAGS.source, FLAGS.out, FLAGS.resolution, FLAGS.chunk_frames, FLAGS.max_videos, FLAGS.min_frames,
                 FLAGS.image_format, FLAGS.jpeg_quality, FLAGS.shard_mb << 20, FLAGS.overwrite)


if __name__ == "__main__":
    flags.mark_flags_as_required(["source", "out"])
    app.run(main)
