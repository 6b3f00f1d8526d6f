"""Training monitoring: sample grids (PNG), animated grids (GIF) in TensorBoard, and a progress line."""

import io

import numpy as np
import tensorflow as tf
from PIL import Image
from tensorboard.plugins.image import metadata as image_metadata


def to_uint8(frames):
    """Generator output (about [-1, 1]) -> uint8 tensor, as the reference visualises: (x + 1) * 127.5, clipped.

    Graph-compatible: the exported serving signature uses it too.
    """
    frames = tf.convert_to_tensor(frames, tf.float32)
    return tf.cast(tf.clip_by_value(tf.round((frames + 1.0) * 127.5), 0.0, 255.0), tf.uint8)


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
    """Writes an [H, W, 3] uint8 image."""
    Image.fromarray(image).save(path)


def encode_gif(frames, fps=10):
    """[F, H, W, 3] uint8 -> animated GIF bytes (looping)."""
    images = [Image.fromarray(frame) for frame in frames]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
    return buffer.getvalue()


def write_gif_summary(tag, gif, height, width, step):
    """An animated GIF in TensorBoard's image dashboard (it shows encoded images as they are)."""
    metadata = image_metadata.create_summary_metadata(display_name=tag, description="animated sample grid")
    tensor = tf.constant([str(width).encode(), str(height).encode(), gif])
    tf.summary.write(tag, tensor, step=step, metadata=metadata)


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
