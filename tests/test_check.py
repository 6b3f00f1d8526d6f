"""Dataset checks (svgan_tf.data.check): counts, histogram and problems of frame folders, zips, video files,
TFRecord datasets and the demo, without writing anything and without failing on bad inputs."""

import json
import os
import shutil
import zipfile

import numpy as np
import PIL.Image
import pytest
import tensorflow as tf

from svgan_tf.data import check, convert, pipeline, tfrecord
from tests import support


def _check(source, **kwargs):
    lines = []
    report = check.check_dataset(str(source), log=lines.append, **kwargs)
    return report, "\n".join(lines)


def test_check_reports_short_unreadable_and_odd_sized_frames(tmp_path):
    root = support.write_frame_folder(tmp_path / "frames", [40, 5, 40, 40])
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


def test_check_on_videos_with_and_without_decoding(tmp_path):
    clips = support.sample_videos_or_skip()
    source = support.link_files([clips["bikes"], clips["carphone_pristine"]], tmp_path / "videos")
    support.transcode(clips["carphone_distorted"], source / "short.webm", "libvpx", 10)
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


def test_check_demo():
    report, _ = _check("demo", min_frames=100, max_videos=20)
    assert report["videos"] == 20 and report["problems"] == len(report["too_short"]) > 0


def _damage(directory, shard, how):
    """Damages a copy of a TFRecord dataset's shard `shard`: cut short, one payload byte flipped, or removed."""
    path = directory / json.loads((directory / tfrecord.TFRECORD_INDEX).read_text())["shards"][shard]
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[:-100])
    elif how == "corrupt":
        path.write_bytes(data[:60] + bytes([data[60] ^ 1]) + data[61:])
    else:
        path.unlink()


def test_check_understands_the_converters_tfrecord_output(tmp_path):
    root = support.write_frame_folder(tmp_path / "frames", [6, 5, 7])
    out = tmp_path / "tf"
    convert.make_dataset(str(root), str(out), 16, shard_bytes=1, log=lambda *_: None)  # one shard per video
    for decode in (False, True):
        report, text = _check(out, min_frames=3, decode=decode)
        assert report["kind"] == "tfrecord" and (report["videos"], report["frames"]) == (3, 18)
        assert report["source_lengths"] == [6, 5, 7] and report["sizes"] == {"16x16": 3}
        assert report["problems"] == 0 and "no problems found" in text and "frame size: 16x16 (3 videos)" in text
    assert _check(out)[0]["too_short"] == ["vid0: 6 frames", "vid1: 5 frames", "vid2: 7 frames"]  # 33 by default
    assert _check(out, min_frames=3, max_videos=2)[0]["frames"] == 11
    expected = {"truncated": "truncated, ", "corrupt": "corrupt (checksum mismatch) record at byte 0 (vid1 frame 0); "
                "5 frame(s) from there on not checked", "missing": "missing"}
    for how, message in expected.items():
        damaged = tmp_path / how
        shutil.copytree(out, damaged)
        _damage(damaged, 1, how)
        report, text = _check(damaged, min_frames=3)
        assert report["problems"] == 1 and len(report["damaged"]) == 1 and message in report["damaged"][0], text
        assert "frames-00001.tfrecord" in report["damaged"][0]
    assert "1 frame(s) lost, from vid1 frame 4 on" in _check(tmp_path / "truncated", min_frames=3)[0]["damaged"][0]
    # An index that does not describe its shards: a byte moved between two record sizes (the shard's size fits).
    shutil.copytree(out, tmp_path / "misplaced")
    index = json.loads((tmp_path / "misplaced" / tfrecord.TFRECORD_INDEX).read_text())
    sizes = index["videos"][1]["sizes"]
    sizes[:2] = sizes[0] + 1, sizes[1] - 1
    (tmp_path / "misplaced" / tfrecord.TFRECORD_INDEX).write_text(json.dumps(index))
    damaged = _check(tmp_path / "misplaced", min_frames=3)[0]["damaged"]
    assert len(damaged) == 2 and f"(vid1 frame 0): ValueError: {sizes[0] - 1} bytes, index.json says {sizes[0]}" \
        in damaged[0]
    assert "1 record(s) not where index.json puts them (the first: vid1 frame 1" in damaged[1]
    # A real problem: the lost frame does not load (the frames before it do).
    truncated = pipeline.open_source(str(tmp_path / "truncated"))
    assert truncated.load_frames(tf.constant(1, tf.int64), tf.constant([3], tf.int64)).shape == (1, 16, 16, 3)
    with pytest.raises(Exception):  # noqa: B017 (whatever the reader raises on a short read)
        truncated.load_frames(tf.constant(1, tf.int64), tf.constant([4], tf.int64)).numpy()
