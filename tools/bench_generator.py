"""Generator throughput and memory: full-size SkyTimelapse-256 configuration, random weights.

    python -m tools.bench_generator                     # 1 x 16 and 4 x 16 frames, float32, non-fused
    python -m tools.bench_generator --batches=1x16 --fused --runs=5 --frames_per_batch=all

Each configuration runs in a fresh subprocess so that its peak RSS is its own. After one warm-up call
(graph tracing), `--runs` timed calls of a compiled `tf.function` render `videos x frames` frames at times
0..frames-1; the median time gives frames/s. Peak RSS is the process maximum (ru_maxrss), which includes
TensorFlow itself (about 0.74 GB with the model built). Every configuration is measured with all frames in
one batch ("all") and rendered sequentially in groups of `--frames_per_batch` frames.

Reference PyTorch on a 2-core CPU: 2.38 frames/s (1 x 16), 1.50 frames/s (4 x 16); peak RSS 1.76 / 5.37 GB.
"""

import json
import os
import statistics
import time

from absl import app, flags

from tools.bench_process import peak_rss_mb
from tools.bench_process import run_child as measure

flags.DEFINE_list("batches", ["1x16", "4x16"], "Configurations VIDEOSxFRAMES.")
flags.DEFINE_integer("runs", 3, "Timed runs per configuration (median reported).")
flags.DEFINE_bool("fused", False, "Fused (grouped, per-sample kernels) modulated convolutions.")
flags.DEFINE_list("frames_per_batch", ["all", "4"], "Render frames sequentially in groups of this many "
                  "(bounds memory); 'all' renders every frame in one batch.")
flags.DEFINE_integer("resolution", 256, "Output resolution (256 is the SkyTimelapse model).")
flags.DEFINE_string("child", None, "Internal: run one configuration and print JSON.")
FLAGS = flags.FLAGS

# SkyTimelapse-256 as trained by the reference (SPEC.md sections 1-2).
SKY_256 = dict(z_dim=512, w_dim=512, mapping_layers=2, channel_base=16384, channel_max=512, conv_clamp=256,
               motion_z_dim=512, motion_v_dim=512, motion_kernel_size=11, motion_z_distance=256, time_enc_dim=256,
               min_period_len=256, max_period_len=1024, max_num_frames=1024, num_fp16_res=0, mixed_precision=None)


def run_child(videos, frames):
    import tensorflow as tf

    from svgan_tf.interop import reference
    from svgan_tf.networks.generator import Generator

    G = Generator(img_resolution=FLAGS.resolution, **SKY_256)
    z = tf.random.stateless_normal([videos, G.z_dim], seed=[0, 1])
    t = tf.tile(tf.range(frames, dtype=tf.float32)[None], [videos, 1])
    motion_z = G.sample_motion_z(videos, G.num_motion_tokens(frames - 1), seed=[0, 2])
    group = None if FLAGS.frames_per_batch[0] == "all" else int(FLAGS.frames_per_batch[0])
    render = tf.function(lambda z, t, m: G(z, t, m, fused_modconv=FLAGS.fused, frames_per_batch=group))
    render(z, t, motion_z).numpy()  # warm-up: trace and build
    times = []
    for _ in range(FLAGS.runs):
        start = time.perf_counter()
        render(z, t, motion_z).numpy()
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    params = reference.num_parameters(G)
    return {"videos": videos, "frames": frames, "seconds": times, "frames_per_s": videos * frames / median,
            "peak_rss_gb": peak_rss_mb() / 1e3, "params": params}


def main(argv):
    del argv
    if FLAGS.child:
        videos, frames = map(int, FLAGS.child.split("x"))
        print(json.dumps(run_child(videos, frames)))
        return
    print(f"StyleGAN-V generator, SkyTimelapse config at {FLAGS.resolution}x{FLAGS.resolution}, float32, "
          f"{'fused' if FLAGS.fused else 'non-fused'} modulated convs, {os.cpu_count()} CPUs, median of {FLAGS.runs}")
    print(f"{'videos x frames':<16}{'frames/batch':>13}{'frames/s':>10}{'s/frame':>10}{'peak RSS GB':>13}  runs (s)")
    for batch in FLAGS.batches:
        for group in FLAGS.frames_per_batch:
            try:
                r = measure("tools.bench_generator", f"--child={batch}", f"--runs={FLAGS.runs}",
                            f"--resolution={FLAGS.resolution}", f"--fused={FLAGS.fused}", f"--frames_per_batch={group}")
            except RuntimeError as error:
                print(f"{batch:<16}{group:>13}  {error}")
                continue
            print(f"{batch:<16}{group:>13}{r['frames_per_s']:>10.2f}{1 / r['frames_per_s']:>10.3f}"
                  f"{r['peak_rss_gb']:>13.2f}  " + " ".join(f"{s:.2f}" for s in r["seconds"]), flush=True)
            params = r["params"]
    print(f"G parameters: {params:,}")


if __name__ == "__main__":
    app.run(main)
