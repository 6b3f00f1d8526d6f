"""Atomic outputs: complete under the final name, or nothing; replaced only when asked."""

import json
import os
import pathlib

import pytest

from svgan_tf import atomic
from svgan_tf.atomic import staged_path


def test_file_and_directory_appear_only_when_complete(tmp_path):
    with staged_path(tmp_path / "a.bin") as staging:
        open(staging, "wb").write(b"x")
        assert not (tmp_path / "a.bin").exists()
    assert (tmp_path / "a.bin").read_bytes() == b"x"
    with staged_path(tmp_path / "d", directory=True) as staging:
        open(os.path.join(staging, "f"), "w").write("y")
    assert (tmp_path / "d" / "f").read_text() == "y"
    assert sorted(os.listdir(tmp_path)) == ["a.bin", "d"]


def test_an_error_leaves_the_old_output_and_no_staging(tmp_path):
    (tmp_path / "a.bin").write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with staged_path(tmp_path / "a.bin") as staging:
            open(staging, "wb").write(b"half")
            raise RuntimeError
    with pytest.raises(KeyboardInterrupt):
        with staged_path(tmp_path / "new", directory=True):
            raise KeyboardInterrupt
    assert (tmp_path / "a.bin").read_bytes() == b"old" and os.listdir(tmp_path) == ["a.bin"]


def test_existing_outputs_are_replaced_only_when_asked(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "old").write_text("old")
    with pytest.raises(FileExistsError, match="d exists"):
        with staged_path(tmp_path / "d", directory=True, overwrite=False):
            pytest.fail("the block must not run")
    with staged_path(tmp_path / "d", directory=True) as staging:  # a directory is replaced whole
        open(os.path.join(staging, "new"), "w").write("new")
    assert os.listdir(tmp_path / "d") == ["new"]
    with pytest.raises(FileExistsError, match="late exists"):  # a target that appears meanwhile is kept
        with staged_path(tmp_path / "late", overwrite=False) as staging:
            open(staging, "w").write("mine")
            (tmp_path / "late").write_text("theirs")
    assert (tmp_path / "late").read_text() == "theirs" and sorted(os.listdir(tmp_path)) == ["d", "late"]


def test_staging_outlives_a_block(tmp_path):
    staging = atomic.Staging(tmp_path / "out" / "v.bin")
    assert os.path.dirname(staging.path) == str(tmp_path / "out") and staging.path.endswith(".partial")
    open(staging.path, "wb").write(b"v")
    staging.publish()
    staging.discard()
    assert os.listdir(tmp_path / "out") == ["v.bin"]
    discarded = atomic.Staging(tmp_path / "out" / "w", directory=True)
    assert os.path.isdir(discarded.path)
    discarded.discard()
    assert os.listdir(tmp_path / "out") == ["v.bin"]


def test_whole_file_writers(tmp_path):
    atomic.write_bytes(tmp_path / "b.bin", b"\x00\x01")
    atomic.write_text(tmp_path / "sub" / "t.txt", "héllo\n")
    atomic.write_json(tmp_path / "j.json", {"a": [1, 2], "b": None})
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "sub" / "t.txt").read_text(encoding="utf-8") == "héllo\n"
    assert json.loads((tmp_path / "j.json").read_text()) == {"a": [1, 2], "b": None}
    atomic.write_bytes(tmp_path / "b.bin", b"new")
    with pytest.raises(FileExistsError):
        atomic.write_bytes(tmp_path / "b.bin", b"newer", overwrite=False)
    assert (tmp_path / "b.bin").read_bytes() == b"new"
    assert sorted(os.listdir(tmp_path)) == ["b.bin", "j.json", "sub"]


def test_append_lines(tmp_path):
    path = tmp_path / "logs" / "metrics.jsonl"
    atomic.append_lines(path, ["a", "b"])
    atomic.append_lines(path, ["c"])
    assert path.read_text() == "a\nb\nc\n"


def test_a_file_and_a_directory_replace_each_other(tmp_path):
    target = tmp_path / "out"
    atomic.write_text(target, "file")
    with atomic.staged_path(target, directory=True) as staging:
        (pathlib.Path(staging) / "inside").write_text("directory")
    assert (target / "inside").read_text() == "directory"
    atomic.write_text(target, "file again")
    assert target.read_text() == "file again" and sorted(os.listdir(tmp_path)) == ["out"]


def test_a_failed_output_leaves_no_folder_it_created(tmp_path):
    target = tmp_path / "new" / "deeper" / "out.bin"
    with pytest.raises(RuntimeError):
        with atomic.staged_path(target) as staging:
            open(staging, "wb").close()
            raise RuntimeError("the work failed")
    assert os.listdir(tmp_path) == []
    with atomic.staged_path(target) as staging:
        open(staging, "wb").close()
    assert os.listdir(target.parent) == ["out.bin"]
