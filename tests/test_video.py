"""Grids, GIF encoding and the streaming video writers: mp4 (PyAV), PNG frames, GIF; atomic publication."""

import io
import os

import numpy as np
import pytest
from PIL import Image

from svgan_tf.data import video
from svgan_tf.data.video import open_writer, output_format, read_mp4


def _frames(n, h=32, w=48, start=0):
    """Smooth, distinct frames (H.264 keeps them close): a moving gradient."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([np.stack([(x * 4 + 8 * (start + i)) % 256, y * 6, np.full_like(x, 20 * (start + i) % 256)], -1)
                     for i in range(n)]).astype(np.uint8)


def _leftovers(directory):
    return [name for name in os.listdir(directory) if name.endswith(".partial") or ".partial." in name]


def test_output_format():
    assert output_format("a/b.mp4") == "mp4"
    assert output_format("a/b.GIF") == "gif"
    assert output_format("a/seed0003") == "frames"
    assert output_format("a/seed0003/") == "frames"
    with pytest.raises(ValueError, match="unsupported output suffix '.avi'"):
        output_format("a/b.avi")


def test_mp4_streams_and_decodes(tmp_path):
    path = tmp_path / "v.mp4"
    frames = _frames(12)
    with open_writer(path, fps=25) as writer:
        for chunk in (frames[:5], frames[5:5], frames[5:]):  # any N, including 0
            writer.write(chunk)
        assert not path.exists()  # published only on close
    decoded = read_mp4(path)
    assert decoded.shape == (12, 32, 48, 3)
    assert np.abs(decoded.astype(int) - frames).mean() < 4  # lossy, but the same pictures
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
        assert stream.average_rate == 25
    assert not _leftovers(tmp_path)


def test_frames_folder_is_lossless(tmp_path):
    path = tmp_path / "clip"
    frames = _frames(5)
    with open_writer(path, fps=25) as writer:
        writer.write(frames[:2])
        writer.write(frames[2:])
    assert sorted(os.listdir(path)) == [f"frame_{i:06d}.png" for i in range(5)]
    np.testing.assert_array_equal(np.asarray(Image.open(path / "frame_000003.png")), frames[3])
    assert not _leftovers(tmp_path)


def test_gif(tmp_path):
    path = tmp_path / "v.gif"
    with open_writer(path, fps=10) as writer:
        writer.write(_frames(3))
        writer.write(_frames(4, start=3))
    with Image.open(path) as gif:
        assert gif.n_frames == 7 and gif.size == (48, 32)
    with pytest.raises(ValueError, match="limited to 5 frames"):
        with open_writer(tmp_path / "long.gif", fps=10, max_frames=5) as writer:
            writer.write(_frames(6))
    assert not (tmp_path / "long.gif").exists() and not _leftovers(tmp_path)


@pytest.mark.parametrize("name", ["v.mp4", "v.gif", "frames"])
def test_an_exception_leaves_no_output(tmp_path, name):
    path = tmp_path / name
    with pytest.raises(RuntimeError, match="crash"):
        with open_writer(path, fps=25) as writer:
            writer.write(_frames(4))
            raise RuntimeError("crash while rendering")
    assert not path.exists()
    assert os.listdir(tmp_path) == []  # nor any staging file


def test_existing_output_is_refused_or_replaced_only_when_complete(tmp_path):
    path = tmp_path / "v.gif"
    path.write_bytes(b"old")
    with pytest.raises(FileExistsError, match="v.gif exists"):
        open_writer(path, fps=25)
    with pytest.raises(KeyboardInterrupt):
        with open_writer(path, fps=25, overwrite=True) as writer:
            writer.write(_frames(2))
            raise KeyboardInterrupt  # Ctrl-C: the old output stays as it was
    assert path.read_bytes() == b"old"
    with open_writer(path, fps=25, overwrite=True) as writer:
        writer.write(_frames(2))
    assert path.read_bytes()[:3] == b"GIF"
    folder = tmp_path / "frames"
    for frames in (_frames(4), _frames(2)):
        with open_writer(folder, fps=25, overwrite=True) as writer:
            writer.write(frames)
    assert len(os.listdir(folder)) == 2 and not _leftovers(tmp_path)


def test_bad_frames_and_options(tmp_path):
    with pytest.raises(ValueError, match="uint8"):
        with open_writer(tmp_path / "a.mp4", fps=25) as writer:
            writer.write(np.zeros((2, 32, 32, 3), np.float32))
    with pytest.raises(ValueError, match="frame size changed"):
        with open_writer(tmp_path / "b", fps=25) as writer:
            writer.write(_frames(1))
            writer.write(_frames(1, h=16))
    with pytest.raises(ValueError, match="even frame sizes"):
        with open_writer(tmp_path / "c.mp4", fps=25) as writer:
            writer.write(np.zeros((1, 31, 32, 3), np.uint8))
    with pytest.raises(ValueError, match="no frames were written"):
        with open_writer(tmp_path / "d.gif", fps=25):
            pass
    with pytest.raises(ValueError, match="no option crf"):
        open_writer(tmp_path / "e.gif", fps=25, crf=10)
    with pytest.raises(ValueError, match="fps must be > 0"):
        open_writer(tmp_path / "f.mp4", fps=0)
    assert os.listdir(tmp_path) == []


def test_grids():
    videos = np.arange(5 * 4 * 2 * 3 * 3, dtype=np.uint8).reshape(5, 4, 2, 3, 3)  # 5 videos, 4 frames, 2x3
    tiled = video.video_grid(videos, columns=3)
    assert tiled.shape == (4, 2 * 2, 3 * 3, 3)
    np.testing.assert_array_equal(tiled[1, 2:4, 0:3], videos[3, 1])  # video 3 sits in row 1, column 0
    np.testing.assert_array_equal(tiled[0, 2:4, 6:9], 0)  # the missing sixth tile is black
    strip = video.frames_grid(videos)
    assert strip.shape == (5 * 2, 4 * 3, 3)
    np.testing.assert_array_equal(strip[2:4, 3:6], videos[1, 1])


def test_gif_has_every_frame():
    frames = np.zeros([6, 8, 8, 3], np.uint8)
    frames[:, :, :, 0] = np.arange(6)[:, None, None] * 40
    gif = Image.open(io.BytesIO(video.encode_gif(frames)))
    assert gif.n_frames == 6 and gif.size == (8, 8)
