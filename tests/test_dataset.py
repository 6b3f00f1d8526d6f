"""The program `python -m svgan_tf.dataset` (svgan_tf/dataset.py): flags, output and exit statuses."""

import os
import subprocess
import sys

from svgan_tf.data import convert, pipeline
from tests import support
from tests.support import REPO


def _run(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, "-m", "svgan_tf.dataset", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def test_check_command_line(tmp_path):
    root = support.write_frame_folder(tmp_path / "frames", [40, 5])
    result = _run(f"--source={root}", "--check", "--strict")
    assert result.returncode == 1, result.stderr
    assert "vid1: 5 frames" in result.stdout and "1 problem(s)" in result.stdout
    result = _run(f"--source={root / 'missing'}", "--check")  # without --strict: exit status 0
    assert result.returncode == 0 and "does not exist" in result.stdout, result.stderr
    assert sorted(os.listdir(tmp_path)) == ["frames"]


def test_check_passes_the_converters_default_output(tmp_path):
    root = support.write_frame_folder(tmp_path / "frames", [33, 34])  # long enough for the check's default 33
    convert.make_dataset(str(root), str(tmp_path / "data"), 16, log=lambda *_: None)  # the defaults: TFRecord
    result = _run(f"--source={tmp_path / 'data'}", "--check", "--strict")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "TFRecord shards" in result.stdout and "videos: 2, frames: 67" in result.stdout
    assert "no problems found" in result.stdout


def test_convert_command_line(tmp_path):
    clips = support.sample_videos_or_skip()
    out = tmp_path / "clip.zip"
    result = _run(f"--source={clips['carphone_distorted']}", f"--out={out}", "--resolution=16", "--fps=30000/1001",
                  "--max_frames=40", "--chunk_frames=16", "--min_frames=10")
    assert result.returncode == 0, result.stderr
    assert pipeline.open_source(out).index.lengths.tolist() == [16, 16]  # the 8-frame trailing chunk is skipped
    (tmp_path / "bad.mp4").write_bytes(b"junk")
    result = _run(f"--source={tmp_path / 'bad.mp4'}", f"--out={tmp_path / 'bad'}")
    assert result.returncode == 2 and "bad.mp4: unreadable video" in result.stderr, result.stderr
    assert sorted(os.listdir(tmp_path)) == ["bad.mp4", "clip.zip"]
