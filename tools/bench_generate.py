"""Long-video generation to mp4: frames/s and peak memory for 1,000 and 90,000 frames (an hour at 25 fps).

    python -m tools.bench_generate                          # tiny 32x32 generator, 1,000 and 90,000 frames
    python -m tools.bench_generate --config=small --frames=1000,10000 --chunk_frames=64

Each measurement runs `svgan_tf.generation.generate_video` (the code path of `python -m svgan_tf.generate`)
in a fresh subprocess, so that its peak RSS (ru_maxrss, the whole process: Python, TensorFlow, the model)
is its own. The generator has random weights (speed and memory do not depend on them). The resident set is
also read when the generator is built ("RSS start"), after 10% of the frames and at the end: memory must
not grow with the video's length. frames/s counts the whole run including the first call's graph
tracing; "steady" is the rate after the first 10% of the frames. "= one-shot" checks the streamed frames
(the uint8 frames handed to the mp4 encoder) of the first and the last `--check_frames` frames against
`svgan_tf.generation.one_shot_frames` (all those frames in one generator call, the token stream
materialised from token 0): "yes" when every uint8 value is equal, else the number of values that differ.

Configurations: `tiny` is 32x32 with the test suite's tiny sizes (tests/support.py); `small` is 64x64 with the
reference motion sizes (512-wide tokens, kernel 11, a token every 16 frames) and narrow synthesis layers.
"""

import json
import os
import tempfile
import time

from absl import app, flags

from tools.bench_process import peak_rss_mb, rss_mb
from tools.bench_process import run_child as measure

flags.DEFINE_list("frames", ["1000", "90000"], "Video lengths to measure (frames).")
flags.DEFINE_enum("config", "tiny", ["tiny", "small"], "Generator configuration (see the module docstring).")
flags.DEFINE_integer("chunk_frames", 32, "Frames rendered per generator call.")
flags.DEFINE_float("fps", 25.0, "Output frame rate (only stored in the file).")
flags.DEFINE_integer("check_frames", 64, "Frames at each end of the video compared with the one-shot frames.")
flags.DEFINE_string("child", None, "Internal: run one measurement of this many frames and print JSON.")
FLAGS = flags.FLAGS

TINY = dict(z_dim=8, w_dim=12, img_resolution=32, channel_base=256, channel_max=16, num_fp16_res=0, conv_clamp=256,
            motion_z_dim=6, motion_v_dim=10, motion_kernel_size=3, motion_z_distance=4, time_enc_dim=5,
            min_period_len=4, max_period_len=64, max_num_frames=64)
SMALL = dict(z_dim=512, w_dim=512, img_resolution=64, channel_base=2048, channel_max=128, num_fp16_res=0,
             motion_z_dim=512, motion_v_dim=512, motion_kernel_size=11, motion_z_distance=16, time_enc_dim=256,
             min_period_len=16, max_period_len=1024)


def run_child(num_frames):
    import numpy as np

    from svgan_tf.generation import generate_video, one_shot_frames
    from svgan_tf.networks.generator import Generator
    from svgan_tf.tokens import frame_times
    from svgan_tf.training.summaries import to_uint8

    G = Generator(**(TINY if FLAGS.config == "tiny" else SMALL))
    rss_start = rss_mb()
    marks = {}  # frames done -> (seconds, RSS MB)
    done = [0]
    check = min(FLAGS.check_frames, num_frames)
    ends = {"first": (0, check), "last": (num_frames - check, num_frames)}
    kept = {name: [] for name in ends}  # the streamed uint8 frames of both ends
    start = time.perf_counter()

    def on_chunk(frames):
        before, done[0] = done[0], done[0] + len(frames)
        for name, (a, b) in ends.items():
            if before < b and a < done[0]:  # a copy: a view would keep every chunk alive
                kept[name].append(frames[max(a - before, 0):b - before].copy())
        # Sampled at 10% of the frames and at the end: memory must not grow in between.
        if before < num_frames // 10 <= done[0] or done[0] == num_frames:
            marks[done[0]] = (time.perf_counter() - start, rss_mb())

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.mp4")
        generate_video(G, path, [0], num_frames=num_frames, fps=FLAGS.fps, chunk_frames=FLAGS.chunk_frames,
                       progress=on_chunk)
        seconds = time.perf_counter() - start
        size = os.path.getsize(path)
    peak_rss = peak_rss_mb()  # before the one-shot check
    mismatches = 0
    for name, (a, b) in ends.items():
        expected = to_uint8(one_shot_frames(G, 0, frame_times(a, b - a))).numpy()
        mismatches += int(np.sum(np.concatenate(kept[name]) != expected))
    (early_frames, (early_s, early_rss)), (_, (_, end_rss)) = sorted(marks.items())[0], sorted(marks.items())[-1]
    return {"frames": num_frames, "seconds": seconds, "frames_per_s": num_frames / seconds,
            "steady_frames_per_s": (num_frames - early_frames) / max(seconds - early_s, 1e-9),
            "rss_start_mb": rss_start, "rss_10pct_mb": early_rss, "rss_end_mb": end_rss,
            "peak_rss_mb": peak_rss, "mp4_bytes": size, "one_shot_mismatches": mismatches}


def main(argv):
    del argv
    if FLAGS.child:
        print(json.dumps(run_child(int(FLAGS.child))))
        return
    print(f"svgan_tf.generate to mp4 (libx264), {FLAGS.config} generator, chunk_frames={FLAGS.chunk_frames}, "
          f"float32, {os.cpu_count()} CPUs; each row a fresh process")
    print(f"{'frames':>8}{'seconds':>10}{'frames/s':>10}{'steady':>9}{'RSS start':>11}{'RSS 10%':>9}"
          f"{'RSS end':>9}{'peak RSS':>10}{'mp4 MB':>8}{'= one-shot':>11}")
    for frames in FLAGS.frames:
        try:
            r = measure("tools.bench_generate", f"--child={int(frames)}", f"--config={FLAGS.config}",
                        f"--chunk_frames={FLAGS.chunk_frames}", f"--fps={FLAGS.fps}",
                        f"--check_frames={FLAGS.check_frames}")
        except RuntimeError as error:
            print(f"{frames:>8}  {error}")
            continue
        print(f"{r['frames']:>8}{r['seconds']:>10.1f}{r['frames_per_s']:>10.1f}{r['steady_frames_per_s']:>9.1f}"
              f"{r['rss_start_mb']:>9.0f}MB{r['rss_10pct_mb']:>7.0f}MB{r['rss_end_mb']:>7.0f}MB"
              f"{r['peak_rss_mb']:>8.0f}MB{r['mp4_bytes'] / 1e6:>8.2f}"
              f"{'yes' if r['one_shot_mismatches'] == 0 else r['one_shot_mismatches']:>11}", flush=True)


if __name__ == "__main__":
    app.run(main)
