"""Generator throughput, roofline fraction, memory and bfloat16 accuracy: full SkyTimelapse-256, random weights.

    python -m tools.bench_generator                     # 1 x 16 frames, float32 and bfloat16, non-fused
    python -m tools.bench_generator --precision=float32 --batches=1x16,4x16 --frames_per_batch=all,4 --fused

Each configuration (precision x videos x frames x frames per batch) runs in a fresh subprocess so that its
peak RSS is its own; every subprocess builds the same weights (seeded). After one warm-up call (graph
tracing), `--runs` timed calls of a compiled `tf.function` render `videos x frames` frames at times
0..frames-1; the median time gives frames/s. With `--rounds=N` the precisions of a configuration are measured
N times alternately (a fresh process each) and the median of the rounds is reported. Peak RSS is the process
maximum (ru_maxrss), which includes TensorFlow itself (about 0.74 GB with the model built).

Side by side: after each configuration's rows, one more process renders with float32 and each other precision
(same weights) with their calls alternating, `--side_by_side_runs` pairs; the median of the per-pair time ratios
is the speed-up least disturbed by anything else running on the machine (a busy minute slows both of a pair).

Precision (`svgan_tf.networks.generator.inference_overrides`, the `--precision` of generate, export and
evaluate): "bfloat16" runs the synthesis convolutions and activations in bfloat16, styles, demodulation and
the RGB image in float32. Its row gives `x f32`, the frames/s ratio to the float32 row of the same batch
configuration, and its PSNR against those float32 frames: frames clipped to [-1, 1] (what any video or uint8
output shows), peak-to-peak 2, PSNR = 10 log10(2^2 / MSE).

Roofline: `GFLOP/frame` is TensorFlow's profiler count of one frame (mapping, motion and synthesis; a
multiply-add is 2 FLOP), `GFLOP/s` that count times frames/s, and `roof` their fraction of the measured
roofline of the same process and precision (`tools.bench_measure`: one large 3x3 convolution in oneDNN's
kernel, measured just before the generator), so progress is a ratio however busy the machine is.

Reference PyTorch on a 2-core CPU: 2.38 frames/s (1 x 16), 1.50 frames/s (4 x 16); peak RSS 1.76 / 5.37 GB.
"""

import json
import os
import statistics
import tempfile
import time

import numpy as np
from absl import app, flags

from tools.bench_measure import frame_gflop, psnr, roofline_gflops
from tools.bench_process import peak_rss_mb
from tools.bench_process import run_child as measure

flags.DEFINE_list("precision", ["float32", "bfloat16"], "Inference precisions (one row each).")
flags.DEFINE_list("batches", ["1x16"], "Configurations VIDEOSxFRAMES.")
flags.DEFINE_integer("runs", 3, "Timed runs per configuration and round.")
flags.DEFINE_integer("rounds", 1, "Rounds over the precisions, alternating (median of the rounds' medians).")
flags.DEFINE_integer("side_by_side_runs", 5, "Alternating call pairs of float32 and each other precision in one "
                     "process, after the table (0: none): the ratio least disturbed by other load.")
flags.DEFINE_bool("fused", False, "Fused (grouped, per-sample kernels) modulated convolutions.")
flags.DEFINE_list("frames_per_batch", ["all"], "Render frames sequentially in groups of this many "
                  "(bounds memory); 'all' renders every frame in one batch.")
flags.DEFINE_integer("resolution", 256, "Output resolution (256 is the SkyTimelapse model).")
flags.DEFINE_string("child", None, "Internal: run one configuration and print JSON.")
flags.DEFINE_string("frames_out", None, "Internal: where the child writes its frames (.npy).")
FLAGS = flags.FLAGS

# SkyTimelapse-256 as trained by the reference (SPEC.md sections 1-2).
SKY_256 = dict(z_dim=512, w_dim=512, mapping_layers=2, channel_base=16384, channel_max=512, conv_clamp=256,
               motion_z_dim=512, motion_v_dim=512, motion_kernel_size=11, motion_z_distance=256, time_enc_dim=256,
               min_period_len=256, max_period_len=1024, max_num_frames=1024, num_fp16_res=0, mixed_precision=None)


def run_child(precision, videos, frames):
    import keras
    import tensorflow as tf

    from svgan_tf.interop import reference
    from svgan_tf.networks.generator import Generator, inference_overrides

    keras.utils.set_random_seed(0)  # the same weights in every configuration's process
    G = Generator(img_resolution=FLAGS.resolution, **{**SKY_256, **inference_overrides(precision, FLAGS.resolution)})
    gflop = frame_gflop(G)
    roofline = roofline_gflops(precision)
    z = tf.random.stateless_normal([videos, G.z_dim], seed=[0, 1])
    t = tf.tile(tf.range(frames, dtype=tf.float32)[None], [videos, 1])
    motion_z = G.sample_motion_z(videos, G.num_motion_tokens(frames - 1), seed=[0, 2])
    group = None if FLAGS.frames_per_batch[0] == "all" else int(FLAGS.frames_per_batch[0])
    render = tf.function(lambda z, t, m: G(z, t, m, fused_modconv=FLAGS.fused, frames_per_batch=group))
    render(z, t, motion_z).numpy()  # warm-up: trace and build
    times = []
    for _ in range(FLAGS.runs):
        start = time.perf_counter()
        out = render(z, t, motion_z).numpy()
        times.append(time.perf_counter() - start)
    if FLAGS.frames_out:
        np.save(FLAGS.frames_out, out)
    frames_per_s = videos * frames / statistics.median(times)
    return {"videos": videos, "frames": frames, "seconds": times, "frames_per_s": frames_per_s,
            "gflop_per_frame": gflop, "gflops": gflop * frames_per_s, "roofline_gflops": roofline,
            "peak_rss_gb": peak_rss_mb() / 1e3, "params": reference.num_parameters(G)}


def run_side_by_side(precision, videos, frames):
    """float32 and `precision` in one process (same weights), their calls alternating: the ratio of each pair."""
    import keras
    import tensorflow as tf

    from svgan_tf.generation import at_precision
    from svgan_tf.networks.generator import Generator

    keras.utils.set_random_seed(0)
    G = Generator(img_resolution=FLAGS.resolution, **SKY_256)
    z = tf.random.stateless_normal([videos, G.z_dim], seed=[0, 1])
    t = tf.tile(tf.range(frames, dtype=tf.float32)[None], [videos, 1])
    motion_z = G.sample_motion_z(videos, G.num_motion_tokens(frames - 1), seed=[0, 2])
    group = None if FLAGS.frames_per_batch[0] == "all" else int(FLAGS.frames_per_batch[0])
    renders = [tf.function(lambda z, t, m, g=g: g(z, t, m, fused_modconv=FLAGS.fused, frames_per_batch=group))
               for g in (G, at_precision(G, precision))]
    times = [[], []]
    for render in renders:
        render(z, t, motion_z).numpy()  # warm-up: trace and build
    for _ in range(FLAGS.side_by_side_runs):
        for render, seconds in zip(renders, times):
            start = time.perf_counter()
            render(z, t, motion_z).numpy()
            seconds.append(time.perf_counter() - start)
    return {"float32": times[0], precision: times[1],
            "ratio": statistics.median(a / b for a, b in zip(*times)), "frames": videos * frames}


def main(argv):
    del argv
    if FLAGS.child:
        mode, precision, batch = FLAGS.child.split(":")
        videos, frames = map(int, batch.split("x"))
        child = run_child if mode == "alone" else run_side_by_side
        print(json.dumps(child(precision, videos, frames)))
        return
    print(f"StyleGAN-V generator, SkyTimelapse config at {FLAGS.resolution}x{FLAGS.resolution}, "
          f"{'fused' if FLAGS.fused else 'non-fused'} modulated convs, {os.cpu_count()} CPUs, median of {FLAGS.runs}; "
          f"x f32 and PSNR (frames clipped to [-1, 1], peak-to-peak 2) against the float32 row")
    print(f"{'precision':<10}{'videos x frames':>16}{'frames/batch':>13}{'frames/s':>10}{'s/frame':>9}{'x f32':>7}"
          f"{'PSNR dB':>9}{'GFLOP/frame':>12}{'GFLOP/s':>9}{'roofline':>10}{'roof':>6}{'peak RSS GB':>12}  runs (s)")
    params = None
    with tempfile.TemporaryDirectory() as scratch:
        for batch in FLAGS.batches:
            for group in FLAGS.frames_per_batch:
                rows = {}  # precision -> the child results of each round
                for _ in range(FLAGS.rounds):  # the precisions alternate, so that a busier minute hits each alike
                    for precision in FLAGS.precision:
                        frames_path = os.path.join(scratch, f"{precision}-{batch}-{group}.npy")
                        try:
                            rows.setdefault(precision, []).append(measure(
                                "tools.bench_generator", f"--child=alone:{precision}:{batch}", f"--runs={FLAGS.runs}",
                                f"--resolution={FLAGS.resolution}", f"--fused={FLAGS.fused}",
                                f"--frames_per_batch={group}", f"--frames_out={frames_path}"))
                        except RuntimeError as error:
                            print(f"{precision:<10}{batch:>16}{group:>13}  {error}")
                float32 = rows.get("float32")
                for precision, results in rows.items():
                    r = results[-1]
                    frames_per_s = statistics.median(x["frames_per_s"] for x in results)
                    roofline = statistics.median(x["roofline_gflops"] for x in results)
                    gflops = r["gflop_per_frame"] * frames_per_s
                    ratio = accuracy = "-"
                    if float32 and precision != "float32":
                        ratio = f"{frames_per_s / statistics.median(x['frames_per_s'] for x in float32):.2f}"
                        frames = [np.load(os.path.join(scratch, f"{name}-{batch}-{group}.npy"))
                                  for name in (precision, "float32")]
                        accuracy = f"{psnr(*frames):.1f}"
                    print(f"{precision:<10}{batch:>16}{group:>13}{frames_per_s:>10.2f}{1 / frames_per_s:>9.3f}"
                          f"{ratio:>7}{accuracy:>9}{r['gflop_per_frame']:>12.2f}{gflops:>9.1f}{roofline:>10.1f}"
                          f"{gflops / roofline:>6.2f}{max(x['peak_rss_gb'] for x in results):>12.2f}  "
                          + " ".join(f"{t:.2f}" for x in results for t in x["seconds"]), flush=True)
                    params = r["params"]
                for precision in FLAGS.precision if FLAGS.side_by_side_runs else ():
                    if precision == "float32":
                        continue
                    r = measure("tools.bench_generator", f"--child=pair:{precision}:{batch}",
                                f"--side_by_side_runs={FLAGS.side_by_side_runs}", f"--resolution={FLAGS.resolution}",
                                f"--fused={FLAGS.fused}", f"--frames_per_batch={group}")
                    rates = {p: r["frames"] / statistics.median(r[p]) for p in ("float32", precision)}
                    best = min(r["float32"]) / min(r[precision])
                    print(f"  side by side, one process, calls alternating ({batch}, {group}): {precision} / float32 = "
                          f"{r['ratio']:.2f} (median of {FLAGS.side_by_side_runs} pairs; best vs best {best:.2f}; "
                          f"medians {rates['float32']:.2f} vs {rates[precision]:.2f} frames/s; float32 runs "
                          + " ".join(f"{x:.2f}" for x in r["float32"]) + f", {precision} runs "
                          + " ".join(f"{x:.2f}" for x in r[precision]) + ")", flush=True)
    if params:
        print(f"G parameters: {params:,}")


if __name__ == "__main__":
    app.run(main)
