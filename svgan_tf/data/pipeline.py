"""Opening a dataset by path (`open_source`) and the real-clip input pipeline (`real_clip_dataset`).

`real_clip_dataset` is index-based: clip i of the infinite stream is a pure function of (seed, i), so resuming
means starting at `start_index` = number of clips already consumed. Its frames follow the sparse sampling of
`svgan_tf.data.sampling`; the formats are those of `svgan_tf.data.sources`, `svgan_tf.data.tfrecord` and
`svgan_tf.data.demo`.
"""

import os
import zipfile

import tensorflow as tf

from svgan_tf.data import demo, sources, tfrecord
from svgan_tf.data import sampling as sampling_lib

_MAX_CLIP_INDEX = 2**62


def open_source(path, resolution=None, sampling=sampling_lib.SamplingConfig(), use_labels=True):
    """Opens a dataset by path.

    Args:
        path: "demo" or "demo:SEED" (synthetic), a directory with `index.json` (TFRecord shards), another
            directory (reference frame folders) or a .zip file.
        resolution: required frame size (None: the dataset's own; 32 for the demo).
        sampling: SamplingConfig; videos too short for it are skipped and counted.
        use_labels: read labels when the dataset has them (False gives c_dim 0).

    Returns:
        A `sources.VideoSource`.
    """
    path = os.fspath(path)
    if demo.is_demo(path):
        seed = path.partition(":")[2]
        if seed and not seed.isdigit():
            raise ValueError(f"demo dataset: expected 'demo' or 'demo:SEED' with an integer SEED, got {path!r}")
        return demo.DemoSource(seed=int(seed or 0), resolution=resolution or 32, sampling=sampling)
    if not os.path.exists(path):
        raise FileNotFoundError(f"dataset path {path!r} does not exist")
    if os.path.isdir(path):
        kind = tfrecord.TFRecordSource if tfrecord.is_tfrecord_dataset(path) else sources.FolderSource
        return kind(path, resolution, sampling, use_labels)
    if zipfile.is_zipfile(path):
        return sources.ZipSource(path, resolution, sampling, use_labels)
    raise ValueError(f"dataset path {path!r}: unknown format (expected 'demo[:SEED]', a directory or a .zip)")


def load_clip(source, clip_index, sampling, seed):
    """Clip `clip_index` of the real stream as {"frames": uint8 [k, R, R, 3], "t": float32 [k], "c": [c_dim]}."""
    index = source.index
    video, flip, clip_seed = sampling_lib.clip_plan(clip_index, index.num_videos, sampling, seed)
    length = tf.gather(tf.constant(index.lengths, tf.int64), video)
    frames, t = sampling_lib.sample_real_frames(length[None], sampling, clip_seed)
    images = source.load_frames(video, frames[0])
    images = tf.cond(flip, lambda: tf.reverse(images, axis=[2]), lambda: images)
    return {"frames": images, "t": t[0], "c": tf.gather(tf.constant(index.labels, tf.float32), video)}


def real_clip_dataset(source, sampling, batch_size, seed, start_index=0, input_context=None):
    """Infinite, deterministic stream of real clip batches.

    Clip i is a pure function of (seed, i): to resume after n clips were consumed, pass start_index=n.

    Args:
        source: a `sources.VideoSource`.
        sampling: SamplingConfig.
        batch_size: clips per batch of this pipeline: the per-replica batch size when distributing
            (`input_context.get_per_replica_batch_size(global_batch)`).
        seed: int or shape-[2] stateless seed.
        start_index: first clip of the stream (global count: clips consumed by all pipelines together).
        input_context: optional tf.distribute.InputContext; of P pipelines, pipeline p takes clips
            start_index + p + j * P, so one pipeline per replica (or a single pipeline feeding all replicas)
            consumes the global stream in order.

    Returns:
        tf.data.Dataset of {"frames": uint8 [b, k, R, R, 3], "t": float32 [b, k], "c": float32 [b, c_dim]}.
    """
    sampling_lib.check_lengths(source.index, sampling)
    first, step = start_index, 1
    if input_context is not None:
        first, step = start_index + input_context.input_pipeline_id, input_context.num_input_pipelines
    dataset = tf.data.Dataset.range(first, _MAX_CLIP_INDEX, step)
    dataset = dataset.map(lambda i: load_clip(source, i, sampling, seed), num_parallel_calls=tf.data.AUTOTUNE,
                          deterministic=True)
    return dataset.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
