"""Monitoring: generator output to uint8, animated GIFs in TensorBoard, durations, progress lines.

Grids and image files are in `svgan_tf.data.video` (NumPy and Pillow only).
"""

import math
import sys
import time

import tensorflow as tf
from tensorboard.plugins.image import metadata as image_metadata


def to_uint8(frames):
    """Generator output (about [-1, 1]) -> uint8 tensor, as the reference visualises: (x + 1) * 127.5, clipped.

    Graph-compatible: the exported serving signature uses it too.
    """
    frames = tf.convert_to_tensor(frames, tf.float32)
    return tf.cast(tf.clip_by_value(tf.round((frames + 1.0) * 127.5), 0.0, 255.0), tf.uint8)


def write_gif_summary(tag, gif, height, width, step):
    """An animated GIF in TensorBoard's image dashboard (it shows encoded images as they are)."""
    metadata = image_metadata.create_summary_metadata(display_name=tag, description="animated sample grid")
    tensor = tf.constant([str(width).encode(), str(height).encode(), gif])
    tf.summary.write(tag, tensor, step=step, metadata=metadata)


def format_kimg(kimg, total):
    """`kimg/total` for progress lines: the total with the decimals it needs (kimg counts whole frames, so at most
    3: `2.4`, `0.144`, `64`), `kimg` right-aligned with as many (at least 1)."""
    total_text = f"{total:.3f}".rstrip("0").rstrip(".")
    decimals = max(1, len(total_text.partition(".")[2]))
    return f"{kimg:9.{decimals}f}/{total_text}"


def format_duration(seconds):
    seconds = int(max(seconds, 0))
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    if days:
        return f"{days}d {hours:02d}h{minutes:02d}m"
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{seconds:02d}s"


class Progress:
    """A progress line on stderr: items done / total, items/s, ETA.

    On a terminal the line is redrawn in place (at most every `interval` seconds); otherwise (a log file) a
    line is printed every `log_interval` seconds, so logs stay short.

    Args:
        total: items to do.
        unit: what the items are ("frames", "clips", ...).
        label: prefix (e.g. the output name).
        stream: where to write (default sys.stderr).
        interval: seconds between redraws on a terminal.
        log_interval: seconds between lines when not a terminal.
    """

    def __init__(self, total, label="", stream=None, interval=0.5, log_interval=30.0, unit="frames"):
        self.total, self.label, self.unit = total, label, unit
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.interval = interval if self.tty else log_interval
        self.done = 0
        self.start = self.last = time.perf_counter()

    def line(self):
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        rate = self.done / elapsed
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        eta_text = format_duration(eta) if math.isfinite(eta) else "?"
        return (f"{self.label}{self.done}/{self.total} {self.unit} ({100 * self.done / max(self.total, 1):5.1f}%)  "
                f"{rate:.1f} {self.unit}/s  elapsed {format_duration(elapsed)}  ETA {eta_text}")

    def update(self, count):
        """Counts `count` more items done."""
        self.done += count
        now = time.perf_counter()
        if now - self.last >= self.interval or self.done >= self.total:
            self.last = now
            self._emit()

    def _emit(self):
        if self.tty:
            self.stream.write("\r\033[K" + self.line())  # back to the line start, clear it, redraw
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def close(self):
        """Ends the line (on a terminal)."""
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
