"""svgan_tf.metrics.detector_cache: one build per weights file and key, again when the file changes."""

import os

import pytest

from svgan_tf.metrics.detector_cache import FileCache


def test_builds_once_per_file_and_key_and_again_after_a_change(tmp_path):
    path = tmp_path / "w.pt"
    path.write_bytes(b"1")
    builds = []
    cache = FileCache("test weights")

    def build(p):
        builds.append(p)
        return len(builds)

    assert cache.get(path, build) == cache.get(str(path), build) == 1
    assert cache.get(path, build, "antialias") == 2
    path.write_bytes(b"22")
    os.utime(path, ns=(1, 1))
    assert cache.get(path, build) == 3 and len(builds) == 3
    with pytest.raises(FileNotFoundError, match="absent.pt: no such test weights"):
        cache.get(tmp_path / "absent.pt", build)
