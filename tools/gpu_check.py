"""Every speed figure of a first GPU run, in one script (sized for under 10 minutes on one GPU; not yet run on one).

    python -m tools.gpu_check            # SkyTimelapse-256, 16 clips per replica: the figures to publish
    python -m tools.gpu_check --tiny     # a tiny 32x32 configuration: seconds on a CPU (tests/test_gpu_check.py)

Random weights, synthetic clips (`svgan_tf.data.demo`), nothing read from disk; all visible GPUs (MirroredStrategy,
as training uses them), or the CPU. One table, a row per figure:

* training s/kimg (kimg counts frames; R1 every 16 steps as the recipe) at `--batch_per_replica` clips per
  replica, in float32, mixed float16 (the top 4 resolutions, the recipe's) and mixed float16 with XLA
  (`--jit`; refused on a CPU, so that row says "needs a GPU"), with the peak GPU memory of each (GPU:0);
* generation frames/s in float32, float16 and bfloat16 (`svgan_tf.networks.generator.inference_overrides`),
  one video of 1 and of 16 frames per call, with the achieved GFLOP/s (TensorFlow's profiler count of a frame)
  and its fraction of the roofline measured in the same precision (`tools.bench_measure`);
* SavedModel frame latency: the exported `frame_at_time` signature (`svgan_tf.export.savedmodel`, parity
  checked), batch 1, median of `--runs` calls;
* FVD feature throughput: I3D clips/s on batches of 16-frame clips, spread over the replicas as
  `svgan_tf.evaluate` spreads them (`svgan_tf.metrics.evaluation.replicated_detectors`).

A figure that cannot be measured on this device is printed as such ("no GPU", "needs a GPU"), never an error:
the first GPU run must not be the script's first run.
"""

import dataclasses
import statistics
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags

from svgan_tf.export.savedmodel import SavedModelRunner, export_savedmodel
from svgan_tf.metrics import evaluation
from svgan_tf.networks.generator import Generator, inference_overrides
from svgan_tf.training import config, loop
from tools import bench_measure

# SkyTimelapse-256 (configs/sky.flags; the generator as README "Using the networks"), on synthetic clips.
SKY = dict(data="demo", min_period_len=256, max_period_len=1024, time_enc_dim=256, num_frames=3, max_dist=32,
           mirror=True, aug="ada", augpipe="bgc", aug_p=0.2, conv_clamp=256, num_fp16_res=4)
SKY_RESOLUTION = 256
# Every architectural feature, tiny sizes (as the test suite's tiny training run), and no R1 phase: one traced
# training graph per variant instead of two (tracing, not running, is what a tiny check spends its time on).
TINY = dict(data="demo", z_dim=16, w_dim=16, mapping_layers=1, channel_base=256, channel_max=16, motion_z_dim=8,
            motion_v_dim=8, motion_kernel_size=3, time_enc_dim=4, min_period_len=8, max_period_len=64,
            max_num_frames=64, d_mapping_layers=1, concat_res=8, aug_p=0.2, num_fp16_res=4, r1_interval=0)
TINY_RESOLUTION = 32
# Training variants: (name, TrainConfig changes).
TRAINING = {"float32": dict(num_fp16_res=0),
            "mixed_float16": dict(mixed_precision="mixed_float16"),
            "mixed_float16_xla": dict(mixed_precision="mixed_float16", jit=True)}
flags.DEFINE_bool("tiny", False, "A tiny 32x32 configuration (seconds on a CPU) instead of SkyTimelapse-256.")
flags.DEFINE_multi_enum("training", list(TRAINING), list(TRAINING), "Training variants to time.")
flags.DEFINE_integer("batch_per_replica", None, "Training clips per replica (default: 16; tiny: 2).", lower_bound=2)
flags.DEFINE_integer("steps", None, "Timed training steps of each kind (default: 3; tiny: 1).", lower_bound=1)
flags.DEFINE_integer("runs", None, "Timed calls per generation / latency / FVD figure (default: 5; tiny: 2).",
                     lower_bound=1)
flags.DEFINE_integer("fvd_clips", None, "16-frame clips per I3D batch (default: 16 per replica; tiny: 2).",
                     lower_bound=1)
FLAGS = flags.FLAGS

GENERATION_PRECISIONS = ("float32", "float16", "bfloat16")
GENERATION_FRAMES = (1, 16)
FVD_FRAMES = 16


def _settings():
    """(TrainConfig changes, resolution, batch per replica, steps, runs, FVD clips) of --tiny or the full check."""
    tiny = FLAGS.tiny
    pick = lambda value, full, small: value if value is not None else (small if tiny else full)  # noqa: E731
    return ((TINY if tiny else SKY), TINY_RESOLUTION if tiny else SKY_RESOLUTION,
            pick(FLAGS.batch_per_replica, 16, 2), pick(FLAGS.steps, 3, 1), pick(FLAGS.runs, 5, 2),
            pick(FLAGS.fvd_clips, 16, 2))


def _gpus():
    return tf.config.list_logical_devices("GPU")


def _peak_gpu_memory():
    """Peak memory of GPU:0 since the last reset, as a table value; "no GPU" on a CPU."""
    if not _gpus():
        return "no GPU"
    return f"{tf.config.experimental.get_memory_info('GPU:0')['peak'] / 2**30:.2f} GiB"


def _reset_gpu_memory():
    if _gpus():
        tf.config.experimental.reset_memory_stats("GPU:0")


def _median_seconds(fn, runs):
    """Median wall time of `runs` calls of fn (after one warm-up call)."""
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def training_rows(changes, resolution, batch_per_replica, steps, strategy):
    """One row per `--training` variant: s/kimg, seconds per step without / with R1, peak GPU memory."""
    replicas = strategy.num_replicas_in_sync
    base = config.TrainConfig(**changes, batch=batch_per_replica * replicas)
    for name in FLAGS.training:
        cfg = dataclasses.replace(base, **TRAINING[name]).resolve(resolution, num_replicas=replicas)
        setting = f"{cfg.batch} clips x {cfg.num_frames} frames, {replicas} replica(s)"
        if cfg.jit and not _gpus():
            yield "training s/kimg", f"{name}, {setting}", "needs a GPU (XLA is refused on a CPU)"
            continue
        _reset_gpu_memory()
        r = bench_measure.training_step_seconds(cfg, strategy, steps)
        r1 = f"with R1 {r['with_r1']:.3f} s, every {cfg.r1_interval}" if r["with_r1"] is not None else "no R1"
        yield ("training s/kimg", f"{name}, {setting}",
               f"{r['s_per_kimg']:.2f} s/kimg (step {r['plain']:.3f} s, {r1}); peak GPU memory {_peak_gpu_memory()}")


def generation_rows(G32, runs):
    """frames/s, GFLOP/s and the roofline fraction of each precision and frames per call."""
    gflop = bench_measure.frame_gflop(G32)
    for precision in GENERATION_PRECISIONS:
        G = Generator(**{**G32.get_config(), **inference_overrides(precision, G32.img_resolution)})
        G.set_weights(G32.get_weights())
        roofline = bench_measure.roofline_gflops(precision, runs=runs)
        z = tf.random.stateless_normal([1, G.z_dim], seed=[0, 1])
        for frames in GENERATION_FRAMES:
            render = tf.function(lambda z, t, m, G=G: G(z, t, m))
            t = tf.range(frames, dtype=tf.float32)[None]
            motion_z = G.sample_motion_z(1, G.num_motion_tokens(frames - 1), seed=[0, 2])
            seconds = _median_seconds(lambda t=t, m=motion_z: render(z, t, m).numpy(), runs)
            achieved = gflop * frames / seconds
            yield ("generation frames/s", f"{precision}, batch {frames}",
                   f"{frames / seconds:.2f} frames/s; {achieved:.1f} GFLOP/s = {achieved / roofline:.2f} of the "
                   f"{precision} conv roofline ({roofline:.1f} GFLOP/s; {gflop:.3g} GFLOP/frame)")


def savedmodel_row(G, runs):
    """Latency of one frame of the exported SavedModel (batch 1)."""
    with tempfile.TemporaryDirectory() as directory:
        run = SavedModelRunner(export_savedmodel(G, directory))
        w = run("mapping", z=np.zeros([1, G.z_dim], np.float32))["w"]
        window = np.zeros([1, G.window_length, G.motion_z_dim], np.float32)
        seconds = _median_seconds(lambda: run("frame_at_time", w=w, window=window, t=np.zeros([1], np.float32)),
                                  runs)
    return "SavedModel latency", "frame_at_time, batch 1, float32", f"{seconds * 1e3:.1f} ms/frame"


def fvd_row(resolution, clips_per_replica, runs, strategy):
    """I3D throughput on 16-frame clips at the generator's resolution, over every replica."""
    replicas = strategy.num_replicas_in_sync
    clips = clips_per_replica * replicas
    detectors = {"i3d": evaluation.default_detectors()["i3d"]}
    if replicas > 1:
        detectors = evaluation.replicated_detectors(detectors, strategy)
    detector = detectors["i3d"][1]
    videos = np.random.default_rng(0).integers(0, 256, (clips, FVD_FRAMES, resolution, resolution, 3), np.uint8)
    seconds = _median_seconds(lambda: detector(videos), runs)
    return ("FVD features (I3D)", f"{clips} clips x {FVD_FRAMES} frames per batch, {replicas} replica(s)",
            f"{clips / seconds:.2f} clips/s")


def main(argv):
    del argv
    changes, resolution, batch_per_replica, steps, runs, fvd_clips = _settings()
    strategy = loop.make_strategy()
    devices = _gpus() or tf.config.list_logical_devices("CPU")[:1]
    print(f"gpu_check: {'tiny 32x32' if FLAGS.tiny else 'SkyTimelapse-256'} configuration; "
          f"{strategy.num_replicas_in_sync} replica(s) on {', '.join(d.name for d in devices)}"
          f"{'' if _gpus() else ' (no GPU: GPU-only figures are marked)'}; TensorFlow {tf.__version__}")
    print(f"{'elapsed':>8}  {'check':<22}{'setting':<48}value", flush=True)
    start = time.perf_counter()

    def show(row):
        print(f"{time.perf_counter() - start:>7.0f}s  {row[0]:<22}{row[1]:<48}{row[2]}", flush=True)

    for row in training_rows(changes, resolution, batch_per_replica, steps, strategy):
        show(row)
    keras.utils.set_random_seed(0)
    cfg = config.TrainConfig(**changes).resolve(resolution)
    G = Generator(**{**cfg.generator_kwargs(), **inference_overrides("float32", resolution)})
    for row in generation_rows(G, runs):
        show(row)
    show(savedmodel_row(G, runs))
    show(fvd_row(resolution, fvd_clips, runs, strategy))
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    app.run(main)
