"""Input-pipeline throughput of svgan_tf.data.pipeline.real_clip_dataset (clips/s and frames/s).

    python -m tools.bench_data                                  # demo source (32x32, rendered on the fly)
    python -m tools.bench_data --data=demo,/tmp/demo256 --make_demo_tfrecord=/tmp/demo256 --batch=32

--make_demo_tfrecord=DIR first writes DIR (when it does not exist) with svgan_tf.data.convert: the demo
videos rendered at --demo_resolution (default 256) and stored as JPEG (quality 95), --demo_videos of them. After
--warmup batches, --batches batches are timed; the pipeline only decodes and batches (no training step).
"""

import os
import time

from absl import app, flags

flags.DEFINE_list("data", ["demo"], "Datasets (open_source paths) to measure.")
flags.DEFINE_integer("batch", 32, "Clips per batch.")
flags.DEFINE_integer("batches", 50, "Timed batches.")
flags.DEFINE_integer("warmup", 5, "Untimed batches first (tracing, autotuning, file cache).")
flags.DEFINE_integer("num_frames", 3, "Frames per clip k.")
flags.DEFINE_string("make_demo_tfrecord", None, "Write a TFRecord copy of the demo dataset here first.")
flags.DEFINE_integer("demo_resolution", 256, "Resolution of the --make_demo_tfrecord dataset.")
flags.DEFINE_integer("demo_videos", 16, "Videos in the --make_demo_tfrecord dataset.")
FLAGS = flags.FLAGS


def measure(path, sampling):
    """Prints and returns clips/s of real_clip_dataset on `path`."""
    from svgan_tf.data import pipeline

    source = pipeline.open_source(path, sampling=sampling)
    iterator = iter(pipeline.real_clip_dataset(source, sampling, FLAGS.batch, seed=0))
    for _ in range(FLAGS.warmup):
        next(iterator)
    start = time.perf_counter()
    for _ in range(FLAGS.batches):
        next(iterator)["frames"].numpy()
    clips_per_s = FLAGS.batches * FLAGS.batch / (time.perf_counter() - start)
    print(f"{source.index.description}\n  batch {FLAGS.batch} x {sampling.num_frames} frames: "
          f"{clips_per_s:8.1f} clips/s {clips_per_s * sampling.num_frames:9.1f} frames/s")
    return clips_per_s


def main(argv):
    del argv
    from svgan_tf.data import convert
    from svgan_tf.data import sampling as sampling_lib

    if FLAGS.make_demo_tfrecord and not os.path.exists(FLAGS.make_demo_tfrecord):
        convert.make_dataset("demo", FLAGS.make_demo_tfrecord, FLAGS.demo_resolution, max_videos=FLAGS.demo_videos,
                             log=lambda _: None)
    print(f"real_clip_dataset throughput, {os.cpu_count()} CPUs, {FLAGS.batches} batches after {FLAGS.warmup} "
          "warm-up batches")
    sampling = sampling_lib.SamplingConfig(num_frames=FLAGS.num_frames)
    for path in FLAGS.data:
        measure(path, sampling)


if __name__ == "__main__":
    app.run(main)
