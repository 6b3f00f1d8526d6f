"""Atomic outputs: complete under the final name, or nothing."""

import os

import pytest

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
