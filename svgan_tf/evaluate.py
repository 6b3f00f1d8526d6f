"""python -m svgan_tf.evaluate --checkpoint=runs/sky --data=DATA --metrics=fvd2048_16f,fid50k_full

FVD / FID of a generator (a checkpoint, or an exported SavedModel) against a dataset, exactly as the reference
protocol (`svgan_tf.metrics.protocols`), offline: the I3D and Inception weights come from pip packages
(requirements-weights.txt). Each result is printed and appended as a JSON line to `--out` (default: the
run's `metrics.jsonl` for a run directory) and, for a run, written to its TensorBoard log
(`Metrics/<name>`) at the checkpoint's step.

`--real_vs_real` needs no generator: it compares two disjoint halves of the dataset (videos alternately
assigned in name order, different clip offsets), which shows the floor of the metric for the dataset.
`--num_fake` / `--num_real` scale the protocols down for quick looks (the values are then not comparable
with published numbers, and the JSON line says so). Real statistics are cached in `--cache_dir`.
"""

import dataclasses
import datetime
import time

import tensorflow as tf
from absl import flags

from svgan_tf import cli
from svgan_tf.data import pipeline
from svgan_tf.data import sampling as sampling_lib
from svgan_tf.metrics import evaluation, protocols
from svgan_tf.training import run_dir

# Not cli.define_checkpoint_flag: that one is required, and --real_vs_real needs no checkpoint.
cli.define_checkpoint_flag("Training run directory, checkpoint prefix, G_ema-reference-*.npz, or an exported "
                           "SavedModel version directory (MODEL/<version>).", required=False)
flags.DEFINE_string("data", None, "Dataset (folder, zip, TFRecord directory, or demo).", required=True)
flags.DEFINE_list("metrics", ["fvd2048_16f"], f"Metrics: {', '.join(protocols.PROTOCOLS)}.")
flags.DEFINE_bool("real_vs_real", False, "Compare two halves of the dataset instead of a generator.")
flags.DEFINE_integer("num_fake", None, "Generated clips (frames for FID) instead of the protocol's.")
flags.DEFINE_integer("num_real", None, "Maximum real clips instead of the protocol's 2048.")
flags.DEFINE_integer("seed", 0, "Seed of the real clip offsets and the generated samples.")
flags.DEFINE_integer("batch", 16, "Clips per batch.")
flags.DEFINE_integer("resolution", None, "Frame size of the dataset (default: the generator's).")
flags.DEFINE_string("cache_dir", evaluation.DEFAULT_CACHE, "Real statistics cache ('' for none).")
cli.define_out_flag("JSON-lines file to append results to (default: the run's metrics.jsonl).", required=False)

FLAGS = flags.FLAGS


def main(argv):
    del argv  # cli.run has rejected positional arguments
    start = time.perf_counter()
    if FLAGS.real_vs_real == bool(FLAGS.checkpoint):
        raise cli.UserError("give --checkpoint, or --real_vs_real (and no checkpoint).")
    metric_protocols = evaluation.resolve_protocols(FLAGS.metrics, FLAGS.num_fake, FLAGS.num_real)
    G = evaluation.load_for_metrics(FLAGS.checkpoint) if FLAGS.checkpoint else None
    resolution = FLAGS.resolution or (G.img_resolution if G is not None else None)
    source = pipeline.open_source(FLAGS.data, resolution=resolution,
                                  sampling=sampling_lib.SamplingConfig(num_frames=1, mirror=False))
    results = evaluation.evaluate(G, source, metric_protocols, FLAGS.seed, FLAGS.batch, FLAGS.cache_dir or None)
    run = FLAGS.checkpoint if FLAGS.checkpoint and run_dir.is_run(FLAGS.checkpoint) else None
    out = FLAGS.out or (run_dir.metrics_path(run) if run else None)
    scaled = any(p != protocols.PROTOCOLS[p.name] for p in metric_protocols)
    extra = dict(checkpoint=FLAGS.checkpoint, real_vs_real=FLAGS.real_vs_real, data=FLAGS.data, seed=FLAGS.seed,
                 protocol={p.name: dataclasses.asdict(p) for p in metric_protocols}, scaled_down=scaled,
                 seconds=round(time.perf_counter() - start, 1),
                 time=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    for line in evaluation.write_results(results, out, extra):
        print(line)
    if run:
        step = run_dir.read_step(run_dir.latest_checkpoint(run))
        with tf.summary.create_file_writer(run_dir.tensorboard_dir(run)).as_default():
            for name, value in results.items():
                tf.summary.scalar(f"Metrics/{name}", value, step=step)


if __name__ == "__main__":
    cli.run(main)
