"""Training-step cost of the full SkyTimelapse-256 recipe on the current device.

    python -m tools.bench_train --batch=4                           # CPU: float32, plain graph mode
    python -m tools.bench_train --batch=32 --num_fp16_res=4 --jit   # a GPU: mixed precision and XLA

Every training flag of `svgan_tf.train` is accepted (defaults here: SkyTimelapse, batch 4, float32).

Builds the full networks (random weights) and the real training steps of `svgan_tf.training.loop` (Gmain + Dmain,
and the same plus the lazy R1 phase), with ADA bgc at p = 0.2 so the augmentation cost is included. Real
clips come from the built-in synthetic videos at 256x256, one batch cached so that only the step is timed.
Prints seconds per step without / with R1 (median of --steps after a warm-up), s/kimg for the reference
schedule (R1 every 16 steps; kimg counts frames), and peak memory (process RSS; also GPU peak on a GPU).

Reference PyTorch on a 2-core CPU, batch 4 videos x 3 frames, float32: 61 s per step without R1, 116 s
with R1, peak RSS 10.45 GB. Published StyleGAN2 256^2 on one A100: 12.53 s/kimg (StyleGAN-V ~5% more).
"""

import resource

import tensorflow as tf
from absl import app, flags

from svgan_tf.training import config, loop
from tools.bench_measure import training_step_seconds

config.define_flags()
flags.DEFINE_integer("steps", 3, "Timed steps of each kind (median reported).")
flags.DEFINE_integer("resolution", 256, "Resolution of the synthetic clips (and so of the model).")
FLAGS = flags.FLAGS
# The training flags of svgan_tf.training.config apply (e.g. --batch, --num_fp16_res, --mixed_precision, --jit); the
# defaults here are the SkyTimelapse model in float32 on synthetic data.
FLAGS.set_default("data", "demo")
FLAGS.set_default("batch", 4)
FLAGS.set_default("min_period_len", 256)
FLAGS.set_default("num_fp16_res", 0)
FLAGS.set_default("aug_p", 0.2)


def main(argv):
    del argv
    strategy = loop.make_strategy()
    cfg = config.from_flags().resolve(FLAGS.resolution, num_replicas=strategy.num_replicas_in_sync)
    r = training_step_seconds(cfg, strategy, FLAGS.steps)
    device = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    print(f"StyleGAN-V training step, SkyTimelapse config at {cfg.resolution}x{cfg.resolution}, batch {cfg.batch} "
          f"videos x {cfg.num_frames} frames, {strategy.num_replicas_in_sync} replica(s) on {device[0].device_type}, "
          f"num_fp16_res={cfg.num_fp16_res} ({cfg.mixed_precision if cfg.num_fp16_res else 'float32'}), "
          f"jit={cfg.jit}")
    print(f"  step without R1: {r['plain']:8.3f} s   (runs {', '.join(f'{t:.3f}' for t in r['plain_runs'])})")
    print(f"  step with R1:    {r['with_r1']:8.3f} s   (runs {', '.join(f'{t:.3f}' for t in r['r1_runs'])})")
    print(f"  s/kimg (R1 every {cfg.r1_interval} steps, {cfg.batch * cfg.num_frames} frames per step): "
          f"{r['s_per_kimg']:.2f}")
    print(f"  peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB")
    if tf.config.list_logical_devices("GPU"):
        peak = tf.config.experimental.get_memory_info("GPU:0")["peak"]
        print(f"  peak GPU memory: {peak / 2**30:.2f} GiB")


if __name__ == "__main__":
    app.run(main)
