"""Training monitoring: generator output to uint8, animated GIFs in TensorBoard, durations for progress lines.

Grids and image files are in `svgan_tf.video` (NumPy and Pillow only).
"""

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
