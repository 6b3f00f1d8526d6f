"""Video and image files (NumPy, Pillow and PyAV only: no TensorFlow): grids, PNG, GIF, and streaming
writers: H.264 mp4 (PyAV), a folder of PNG frames, or an animated GIF.

    with open_writer("videos/seed0003.mp4", fps=25) as writer:
        for frames in chunks:            # uint8 [N, H, W, 3], any N, as many calls as needed
            writer.write(frames)

The format follows the path: `.mp4`, `.gif`, or a directory path (no suffix) for PNG frames named
`frame_000000.png`, `frame_000001.png`, ... Every writer builds its output under a staging name beside the
target (`svgan_tf.atomic.Staging`) and renames it to the target only when it closes without an error, so
an exception, a Ctrl-C or a killed process never leaves a truncated file under the final name.

Memory: mp4 and PNG frames stream; GIF has to encode all frames at once (Pillow's GIF encoder keeps every
frame), so it holds the whole clip and is meant for short clips. An mp4's sample index (a few tens of bytes
per frame) stays in memory until the file is finalised, as the mp4 format writes it at the end: measured
+8.6 MB for 81,000 frames, i.e. about 10 MB per hour at 25 fps, independent of the resolution.
"""

import fractions
import io
import os

import numpy as np
from PIL import Image

from svgan_tf import atomic

VIDEO_CODEC = "libx264"
PIXEL_FORMAT = "yuv420p"


def video_grid(videos, columns):
    """[N, F, H, W, C] uint8 videos -> [F, rows*H, columns*W, C]: one tiled frame per time step."""
    n, f, h, w, c = videos.shape
    rows = -(-n // columns)
    padded = np.zeros((rows * columns, f, h, w, c), np.uint8)
    padded[:n] = videos
    return padded.reshape(rows, columns, f, h, w, c).transpose(2, 0, 3, 1, 4, 5).reshape(f, rows * h, columns * w, c)


def frames_grid(videos):
    """[N, F, H, W, C] uint8 -> one image [N*H, F*W, C]: a row per video, its frames left to right."""
    n, f, h, w, c = videos.shape
    return videos.transpose(0, 2, 1, 3, 4).reshape(n * h, f * w, c)


def save_png(path, image):
    """Writes an [H, W, 3] uint8 image as a PNG file (atomically, replacing an existing one)."""
    with atomic.staged_path(path) as staging:
        Image.fromarray(image).save(staging, format="PNG")


def encode_gif(frames, fps=10):
    """[F, H, W, 3] uint8 -> animated GIF bytes (looping)."""
    images = [Image.fromarray(frame) for frame in frames]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
    return buffer.getvalue()


def output_format(path):
    """"mp4", "gif" or "frames" (a directory of PNG frames), from the path's suffix.

    Raises:
        ValueError: for any other suffix (naming the path).
    """
    suffix = os.path.splitext(os.fspath(path).rstrip(os.sep))[1].lower()
    if suffix == "":
        return "frames"
    if suffix in (".mp4", ".gif"):
        return suffix[1:]
    raise ValueError(f"{path}: unsupported output suffix {suffix!r} (use .mp4, .gif, or a directory for PNG "
                     "frames).")


def check_mp4_support():
    """Raises RuntimeError, saying what is missing, when PyAV or its H.264 encoder is unavailable."""
    try:
        import av
    except ImportError as error:
        raise RuntimeError(f"mp4 output needs PyAV (pip install av): {error}") from error
    if VIDEO_CODEC not in av.codecs_available:
        raise RuntimeError(f"mp4 output needs the {VIDEO_CODEC} H.264 encoder, which this PyAV build "
                           f"({av.__version__}) lacks; use the PyPI wheel (it bundles it) or write "
                           "--format=frames / gif.")


class _AtomicWriter:
    """Base of the writers: an `atomic.Staging` beside `path`, published as `path` on a clean close.

    Args:
        path: final output path (file or directory).
        fps: frames per second (> 0).
        overwrite: replace an existing output at `path` (only once the new one is complete); False
            refuses it up front.
    """

    is_directory = False

    def __init__(self, path, fps, overwrite=False):
        self.path = os.path.abspath(os.fspath(path).rstrip(os.sep) or os.sep)
        if not fps > 0:
            raise ValueError(f"fps must be > 0, got {fps}.")
        self.fps = fps
        if overwrite and os.path.lexists(self.path) and os.path.isdir(self.path) != self.is_directory:
            raise FileExistsError(f"{self.path} exists and is {'a' if os.path.isdir(self.path) else 'not a'} "
                                  "directory: not replaced by this output.")
        self._staging = atomic.Staging(self.path, directory=self.is_directory, overwrite=overwrite)
        self.staging = self._staging.path
        self.frames_written = 0
        self.frame_shape = None
        self._closed = False

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False

    def _check(self, frames):
        frames = np.asarray(frames)
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"frames must be uint8 [N, H, W, 3], got {frames.dtype} {list(frames.shape)}.")
        if self.frame_shape is None:
            self.frame_shape = frames.shape[1:]
        elif frames.shape[1:] != self.frame_shape:
            raise ValueError(f"frame size changed from {list(self.frame_shape)} to {list(frames.shape[1:])}.")
        return frames

    def write(self, frames):
        """Appends frames: uint8 [N, H, W, 3] (N may be 0)."""
        if self._closed:
            raise ValueError(f"{self.path}: writer already closed.")
        frames = self._check(frames)
        if len(frames):
            self._write(frames)
            self.frames_written += len(frames)

    def close(self):
        """Finishes the output and renames it to its final name (no-op when already closed)."""
        if self._closed:
            return
        self._closed = True
        try:
            if self.frames_written == 0:
                raise ValueError(f"{self.path}: no frames were written.")
            self._finish()
            self._staging.publish()
        except BaseException:
            self._discard()
            raise

    def abort(self):
        """Discards everything written so far; the final name is left untouched."""
        if self._closed:
            return
        self._closed = True
        self._discard()

    def _discard(self):
        self._staging.discard()

    def _write(self, frames):
        raise NotImplementedError

    def _finish(self):
        pass


class Mp4Writer(_AtomicWriter):
    """H.264 (libx264, yuv420p) in an mp4 container, encoded as frames arrive.

    Args:
        path: output `.mp4` path.
        fps: frame rate (a real number; stored as an exact fraction, e.g. 29.97 -> 2997/100).
        overwrite: replace an existing file.
        crf: x264 constant rate factor (0 lossless luma, 18 visually near-lossless, 23 x264's default).
    """

    def __init__(self, path, fps, overwrite=False, crf=18):
        check_mp4_support()
        super().__init__(path, fps, overwrite)
        self.crf = crf
        self._container = None
        self._stream = None

    def _open(self, height, width):
        import av

        if height % 2 or width % 2:
            raise ValueError(f"{self.path}: yuv420p H.264 needs even frame sizes, got {width}x{height}.")
        # The container format is named explicitly: the staging name has no .mp4 suffix to guess from.
        self._container = av.open(self.staging, mode="w", format="mp4")
        rate = fractions.Fraction(self.fps).limit_denominator(1001)
        self._stream = self._container.add_stream(VIDEO_CODEC, rate=rate)
        self._stream.width, self._stream.height = width, height
        self._stream.pix_fmt = PIXEL_FORMAT
        self._stream.options = {"crf": str(self.crf)}

    def _write(self, frames):
        import av

        if self._container is None:
            self._open(frames.shape[1], frames.shape[2])
        for i, frame in enumerate(frames):
            video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            video_frame.pts = self.frames_written + i  # time base 1 / fps
            for packet in self._stream.encode(video_frame):
                self._container.mux(packet)

    def _finish(self):
        for packet in self._stream.encode():  # flush the encoder's look-ahead
            self._container.mux(packet)
        self._container.close()
        self._container = None

    def _discard(self):
        if self._container is not None:
            try:
                self._container.close()
            except Exception:  # a half-written container may fail to finalise; it is deleted anyway
                pass
            self._container = None
        super()._discard()


class FramesWriter(_AtomicWriter):
    """A directory of PNG frames `frame_000000.png`, ... (constant memory)."""

    is_directory = True

    def _write(self, frames):
        for i, frame in enumerate(frames):
            save_png(os.path.join(self.staging, f"frame_{self.frames_written + i:06d}.png"), frame)


class GifWriter(_AtomicWriter):
    """A looping animated GIF. Holds every frame until `close` (GIF is for short clips).

    Args:
        path: output `.gif` path.
        fps: frame rate (GIF stores delays in 1/100 s, so rates that do not divide 100 are approximate).
        overwrite: replace an existing file.
        max_frames: refuse longer clips (memory grows with the clip); None: no limit.
    """

    def __init__(self, path, fps, overwrite=False, max_frames=None):
        super().__init__(path, fps, overwrite)
        self.max_frames = max_frames
        self._chunks = []

    def _write(self, frames):
        if self.max_frames is not None and self.frames_written + len(frames) > self.max_frames:
            raise ValueError(f"{self.path}: GIF is limited to {self.max_frames} frames (all are kept in "
                             "memory); use mp4 or PNG frames for long videos.")
        self._chunks.append(frames.copy())

    def _finish(self):
        data = encode_gif(np.concatenate(self._chunks), fps=self.fps)
        self._chunks = []
        with open(self.staging, "wb") as f:
            f.write(data)


_OPTIONS = {"mp4": {"crf"}, "gif": {"max_frames"}, "frames": set()}


def open_writer(path, fps, overwrite=False, **options):
    """A streaming writer for `path`, chosen by its suffix (see the module docstring).

    Use it as a context manager: `.write(frames)` with uint8 [N, H, W, 3] frames, any number of times;
    the output appears under `path` only when the block exits without an exception.

    Args:
        path: `.mp4` file, `.gif` file, or a directory (no suffix) for PNG frames.
        fps: frames per second.
        overwrite: replace an existing output (False: FileExistsError).
        **options: format-specific options (`crf` for mp4, `max_frames` for GIF).

    Returns:
        The writer (Mp4Writer, GifWriter or FramesWriter).

    Raises:
        ValueError: unsupported suffix or option.
        FileExistsError: `path` exists and `overwrite` is False.
        RuntimeError: mp4 requested but PyAV / libx264 is unavailable.
    """
    kind = output_format(path)
    unknown = sorted(set(options) - _OPTIONS[kind])
    if unknown:
        raise ValueError(f"{path}: {kind} output has no option {', '.join(unknown)} (it takes: "
                         f"{', '.join(sorted(_OPTIONS[kind])) or 'none'}).")
    writer = {"mp4": Mp4Writer, "gif": GifWriter, "frames": FramesWriter}[kind]
    return writer(path, fps, overwrite=overwrite, **options)


def read_mp4(path):
    """All frames of a video file as uint8 [N, H, W, 3] (for checks and tests; holds the whole video)."""
    import av

    with av.open(os.fspath(path)) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])
