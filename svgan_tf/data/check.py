"""Checking a dataset source without writing anything (`python -m svgan_tf.dataset --check`).

Owns the report: frame counts as a conversion would produce them (`svgan_tf.data.convert`'s frame selection and
chunking applied to the timestamps), their histogram at the thresholds that matter, the frame sizes, and the
problems found (unreadable files, short videos, odd or mixed frame sizes, layout problems, damaged TFRecord
shards). Every format the converter writes is understood, TFRecord datasets included (`svgan_tf.data.tfrecord`:
each shard is read through TensorFlow's record reader, which verifies every record's checksums, and compared with
`index.json`). What it reports is documented for users in `svgan_tf/dataset.py` (the program's --help).
"""

import collections
import fractions
import io
import os
import zipfile

import numpy as np
import tensorflow as tf

from svgan_tf.data import convert, pipeline, sources, tfrecord
from svgan_tf.data import sampling as sampling_lib

_DEFAULT_SAMPLING = sampling_lib.SamplingConfig()
# Frame counts that matter: training clips need k frames, the full span distribution max_dist + 1, FVD16 and
# FVD128 16 and 128 consecutive frames; longer than max_num_frames, a video contributes random windows.
CHECK_MIN_FRAMES = _DEFAULT_SAMPLING.max_dist + 1
HISTOGRAM_EDGES = (0, _DEFAULT_SAMPLING.min_video_length, 16, CHECK_MIN_FRAMES, 128, _DEFAULT_SAMPLING.max_num_frames)
HISTOGRAM_NOTES = {0: f"unusable: training clips need {_DEFAULT_SAMPLING.min_video_length} frames",
                   1: "too short for FVD16", 2: f"fewer spans than max_dist={_DEFAULT_SAMPLING.max_dist}",
                   3: "too short for FVD128", 5: f"longer than max_num_frames={_DEFAULT_SAMPLING.max_num_frames}"}
_LIST_LIMIT = 10  # entries printed per check category


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
        return sum(1 for _ in convert.select_frames(iter(timed), fps, skip_frames, max_frames, name))
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
        "damaged": "damaged TFRecord shards (missing, truncated, corrupt, or not as index.json describes them)",
    }

    def __init__(self):
        self.items = {key: [] for key in self.PROBLEMS}
        self.notes = []
        self.sizes = {}  # video -> its (most common) frame size

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
    convert.check_arguments(1, chunk_frames, skip_frames, max_frames, max_videos, min_frames)
    fps, source_fps = convert.parse_fps(fps), convert.parse_fps(source_fps, "--source_fps")
    report = _Report()
    names, source_lengths, lengths, kind = [], [], [], "?"
    try:
        kind, video_files = ("tfrecord", []) if tfrecord.is_tfrecord_dataset(source) else convert.source_kind(source)
        if fps is not None and source_fps is None and kind in ("demo", "frames", "tfrecord"):
            report.notes.append("--fps needs --source_fps for frame folders, TFRecord datasets and the demo; counts "
                                "are not resampled")
            fps = None
        if kind == "demo":
            demo = pipeline.open_source(source, sampling=sampling_lib.SamplingConfig(num_frames=1))
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
                others = sorted(f for f in os.listdir(source) if not convert.is_video_file(f))
                if others:
                    report.notes.append(f"{len(others)} other entries ignored (only the top-level video files are "
                                        f"read): {', '.join(others[:_LIST_LIMIT])}")
        elif kind == "tfrecord":
            _check_tfrecord(source, report, names, source_lengths, lengths, fps, source_fps, skip_frames,
                            max_frames, max_videos, decode)
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
        name = convert.video_name(path)
        names.append(name)
        source_lengths.append(len(times))
        length = _converted_length(times, duration, fps, skip_frames, max_frames, path)
        if length is None:
            report.notes.append(f"{path}: no timestamps or frame rate, --fps cannot resample it")
        lengths.append(length if length is not None else len(times))
        size = frame_sizes.most_common(1)[0][0]
        sizes[path] = report.sizes[name] = size
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
        raise ValueError("not a directory, a video file (" + "/".join(convert.VIDEO_EXTENSIONS) + ") or a zip archive")
    with zipfile.ZipFile(source) as archive:
        members = archive.namelist()
        _check_frame_files(source, sorted(n for n in members if not n.endswith("/")),
                           sorted(n for n in members if n.endswith("/")), archive.read, *args)


def _check_frame_files(source, files, directories, read, report, names, source_lengths, lengths, fps, source_fps,
                       skip_frames, max_frames, max_videos, decode):
    """Checks frame files (`directories`: a zip's explicit directory entries, None for a folder)."""
    images = [n for n in files if sources.is_image_file(n)]
    others = [n for n in files if not sources.is_image_file(n) and os.path.basename(n) != sources.LABELS_FILE]
    if others:
        report.notes.append(f"{len(others)} non-image files ignored by svgan_tf.data.pipeline (the reference loader "
                            f"fails on files inside video folders): {', '.join(others[:_LIST_LIMIT])}")
    try:
        sources.FrameFiles.open(source)
    except Exception as e:
        report.items["layout"].append(f"{type(e).__name__}: {e}")
    if directories is not None and images:
        tops = {n.split("/", 1)[0] for n in images}
        if not directories or len(tops) != 1 or any(n.count("/") != 2 for n in images):
            report.notes.append("the zip lacks explicit directory entries or one top-level folder: "
                                "svgan_tf.data.pipeline reads it, the reference loader does not (issue #14); "
                                "rewrite it with --format=zip")
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
        video_sizes[video] = report.sizes[video] = size
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


def _check_tfrecord(source, report, names, source_lengths, lengths, fps, source_fps, skip_frames, max_frames,
                    max_videos, decode):
    """Checks a TFRecord dataset (see check_dataset): its index, every shard against it, every frame's image."""
    meta = tfrecord.read_index(source)  # unusable: reported by check_dataset as unreadable
    try:
        pipeline.open_source(source, sampling=sampling_lib.SamplingConfig(num_frames=1))
    except Exception as e:
        report.items["layout"].append(f"{type(e).__name__}: {e}")
    resolution = (meta["resolution"],) * 2
    step = 1 / source_fps if source_fps else None
    records = collections.defaultdict(list)  # shard -> [(offset, size, video number, frame)] of the checked videos
    for number, video in enumerate(meta["videos"][:max_videos]):
        names.append(video["name"])
        source_lengths.append(len(video["sizes"]))
        lengths.append(_converted_length([i * step if step else None for i in range(len(video["sizes"]))], step,
                                         fps, skip_frames, max_frames, f"{source}@{video['name']}"))
        records[video["shard"]] += [(int(offset), size, number, frame) for frame, (offset, size)
                                    in enumerate(zip(tfrecord.record_offsets(video), video["sizes"]))]
    frame_sizes = collections.defaultdict(collections.Counter)
    for shard, expected in sorted(records.items()):
        path = os.path.join(source, meta["shards"][shard])
        needed = max(int(tfrecord.record_offsets(v)[-1]) + v["sizes"][-1] + tfrecord.RECORD_OVERHEAD_BYTES
                     for v in meta["videos"] if v["shard"] == shard and v["sizes"])
        if not os.path.isfile(path):
            report.items["damaged"].append(f"{path}: missing")
            continue
        size = os.path.getsize(path)
        if size < needed:
            # The records past the end are lost; those before it are read (the reader never reaches the cut).
            within = [offset + length + tfrecord.RECORD_OVERHEAD_BYTES <= size for offset, length, *_ in expected]
            lost = [entry for entry, kept in zip(expected, within) if not kept]
            expected = [entry for entry, kept in zip(expected, within) if kept]
            report.items["damaged"].append(
                f"{path}: truncated, {size} bytes where {tfrecord.TFRECORD_INDEX} needs {needed}" + (
                    f": {len(lost)} frame(s) lost, from {meta['videos'][lost[0][2]]['name']} frame {lost[0][3]} on"
                    if lost else ""))
        elif size > needed:
            report.notes.append(f"{path}: {size - needed} bytes after the records {tfrecord.TFRECORD_INDEX} lists")
        for video, frame, image in _shard_images(path, expected, meta, report.items["damaged"]):
            name = tfrecord.frame_name(source, meta, meta["videos"][video], frame)
            try:
                frame_size = _image_size(lambda: image, decode)
            except Exception as e:
                report.items["unreadable"].append(f"{name}: {type(e).__name__}: {e}")
                continue
            frame_sizes[video][frame_size] += 1
            if frame_size != resolution:
                report.items["odd_sized"].append(f"{name}: {frame_size[0]}x{frame_size[1]}, {tfrecord.TFRECORD_INDEX} "
                                                 f"declares {resolution[0]}x{resolution[1]}")
    for video, counts in sorted(frame_sizes.items()):
        report.sizes[meta["videos"][video]["name"]] = counts.most_common(1)[0][0]


def _shard_images(path, expected, meta, damage):
    """Yields (video number, frame, image bytes) of the `expected` records of a shard that are intact and where
    the index puts them; appends a line per damaged or misplaced record (or the first unreadable one) to `damage`.

    The shard is read in order with TensorFlow's record reader, which verifies each record's length and data
    checksums, so a truncated or corrupt record ends the reading of its shard (the records after it are counted
    as not checked).
    """
    expected = {offset: entry for offset, *entry in sorted(expected)}
    if not expected:
        return
    last, position, checked = max(expected), 0, set()

    def where(offset):
        _, video, frame = expected.get(offset) or expected[min((o for o in expected if o > offset), default=last)]
        return f"{meta['videos'][video]['name']} frame {frame}"

    try:
        for record in tf.data.TFRecordDataset(path).as_numpy_iterator():
            start, position = position, position + len(record) + tfrecord.RECORD_OVERHEAD_BYTES
            if start in expected:
                checked.add(start)
                size, video, frame = expected[start]
                try:
                    image = _record_image(record, size, video, frame)
                except Exception as e:
                    damage.append(f"{path}: record at byte {start} ({where(start)}): {type(e).__name__}: {e}")
                else:
                    yield video, frame, image
            if position > last:
                break
    except tf.errors.OpError as e:
        problem = "truncated" if "truncated" in e.message else "corrupt (checksum mismatch)"
        damage.append(f"{path}: {problem} record at byte {position} ({where(position)}); "
                      f"{len(expected) - len(checked)} frame(s) from there on not checked")
        return
    missing = sorted(set(expected) - checked)
    if missing:
        damage.append(f"{path}: {len(missing)} record(s) not where {tfrecord.TFRECORD_INDEX} puts them (the first: "
                      f"{where(missing[0])}, at byte {missing[0]})")


def _record_image(record, size, video, frame):
    """The image bytes of a frame's record, which must be `size` bytes and name that video and frame."""
    if len(record) != size:
        raise ValueError(f"{len(record)} bytes, {tfrecord.TFRECORD_INDEX} says {size}")
    features = tf.train.Example.FromString(record).features.feature
    stored = features["video"].int64_list.value[0], features["frame"].int64_list.value[0]
    if stored != (video, frame):
        raise ValueError(f"the record is video {stored[0]} frame {stored[1]}")
    return features["image"].bytes_list.value[0]


def _summarize(source, kind, report, names, source_lengths, lengths, min_frames, chunk_frames, select, log):
    converted = any(v for v in select.values()) or chunk_frames
    too_short = [(n, length) for n, length in zip(names, lengths) if length < min_frames]
    report.items["too_short"] = [f"{n}: {length} frames" for n, length in too_short]
    chunks = [min(chunk_frames, length - i) for length in lengths for i in range(0, length, chunk_frames)] \
        if chunk_frames > 0 else list(lengths)
    kinds = dict(demo="synthetic demo videos", video="one video file", videos="a directory of video files",
                 frames="frame folders" + (" (zip)" if os.path.isfile(source) else ""),
                 tfrecord="TFRecord shards (index.json)")
    log(f"check {source}: {kinds.get(kind, 'unknown')}")
    log(f"  videos: {len(names)}, frames: {sum(source_lengths)}")
    sizes = collections.Counter(report.sizes.values()).most_common()
    if sizes:
        log("  frame size: " + ", ".join(f"{w}x{h} ({n} video{'s' if n > 1 else ''})" for (w, h), n in sizes))

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
                  min_frames=min_frames, sizes={f"{w}x{h}": n for (w, h), n in sizes})
    result.update(report.items)
    return result

