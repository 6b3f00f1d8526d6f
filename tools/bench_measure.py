"""Measurements the benchmarks and `tools.gpu_check` share (no flags): a frame's FLOP count, the roofline of a
precision, PSNR against float32 frames, and the time of real training steps.

The roofline is measured, not nominal: the GFLOP/s of one large 3x3 convolution, 512 -> 512 channels on
4 x 32 x 32 (the generator's dominant operation at its best, in oneDNN's or cuDNN's kernel for it), in the same
process and precision as the figure it divides, so that progress is a ratio however busy the machine is.
"""

import statistics
import time

import numpy as np

ROOFLINE_CONV = ([4, 32, 32, 512], [3, 3, 512, 512])  # the convolution that measures the roofline (input, kernel)


def frame_gflop(G):
    """TensorFlow's profiler count of one frame of generator `G` (batch 1, one frame), GFLOP (multiply-add = 2)."""
    from svgan_tf import profiling

    return profiling.profiler_flops(profiling.frame_function(G)) / 1e9


def roofline_gflops(dtype, runs=10):
    """GFLOP/s of the ROOFLINE_CONV convolution in `dtype`: the fastest of `runs` after a warm-up (a peak, so the
    best run, the one least disturbed by anything else running)."""
    import tensorflow as tf

    (n, h, w, c), kernel_shape = ROOFLINE_CONV
    x = tf.cast(tf.random.stateless_normal([n, h, w, c], seed=[0, 0]), dtype)
    kernel = tf.cast(tf.random.stateless_normal(kernel_shape, seed=[0, 1]), dtype)
    conv = tf.function(lambda x, k: tf.reduce_sum(tf.cast(tf.nn.conv2d(x, k, 1, "SAME"), tf.float32)))
    conv(x, kernel).numpy()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        conv(x, kernel).numpy()
        times.append(time.perf_counter() - start)
    return 2 * n * h * w * float(np.prod(kernel_shape)) / min(times) / 1e9


def psnr(frames, reference):
    """PSNR (dB) of `frames` against `reference`, both clipped to [-1, 1] (peak-to-peak 2)."""
    error = np.clip(frames, -1, 1).astype(np.float64) - np.clip(reference, -1, 1)
    mse = np.mean(np.square(error))
    return float("inf") if mse == 0 else float(10 * np.log10(4.0 / mse))


def training_step_seconds(cfg, strategy, steps):
    """Seconds of the real training steps of resolved config `cfg` under `strategy`, on cached synthetic clips.

    Args:
        cfg: a resolved `TrainConfig` (its data must be the synthetic demo videos at `cfg.resolution`).
        strategy: the tf.distribute strategy.
        steps: timed steps of each kind (median reported), after one warm-up step each.

    Returns:
        {"plain", "with_r1": median seconds per step without / with the R1 phase (None when `cfg.r1_interval` is
        0), "plain_runs", "r1_runs": every timed step, "s_per_kimg": for the reference schedule (R1 every
        `cfg.r1_interval` steps; kimg counts frames)}.
    """
    from svgan_tf.data import demo, pipeline
    from svgan_tf.training import loop

    sampling = cfg.sampling()
    source = demo.DemoSource(resolution=cfg.resolution, sampling=sampling)
    training = loop.build_training(cfg, strategy)
    train_step = loop.make_train_step(cfg, training, source, strategy)
    dataset = strategy.distribute_datasets_from_function(
        lambda ctx: pipeline.real_clip_dataset(source, sampling, ctx.get_per_replica_batch_size(cfg.batch), 0,
                                               input_context=ctx).take(1).cache().repeat())
    iterator = iter(dataset)

    def timed(step):
        """Seconds of training step `step` (its due phases), reading a statistic back as the loop's tick does."""
        train_step(iterator, step)  # warm-up: trace, build
        times = []
        for _ in range(steps):
            start = time.perf_counter()
            train_step(iterator, step)
            training.tick_stats.numpy()
            times.append(time.perf_counter() - start)
        return statistics.median(times), times

    plain, plain_runs = timed(1)  # Gmain, Dmain
    if cfg.r1_interval <= 0:  # no R1 phase: every step is a plain one
        return dict(plain=plain, plain_runs=plain_runs, with_r1=None, r1_runs=[],
                    s_per_kimg=plain / (cfg.batch * cfg.num_frames) * 1000)
    with_r1, r1_runs = timed(0)  # and Dreg
    mean_step = (plain * (cfg.r1_interval - 1) + with_r1) / cfg.r1_interval
    return dict(plain=plain, plain_runs=plain_runs, with_r1=with_r1, r1_runs=r1_runs,
                s_per_kimg=mean_step / (cfg.batch * cfg.num_frames) * 1000)
