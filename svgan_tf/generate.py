"""python -m svgan_tf.generate --checkpoint=runs/demo --out=videos --seeds=0-3,7 --seconds=60

Long videos from a trained StyleGAN-V generator, rendered a chunk of frames at a time and streamed to disk:
memory stays constant whatever the length (an hour at 25 fps is 90,000 frames).

Outputs (`--format`, one per seed in `--out`): `seedNNNN.mp4` (H.264), `seedNNNN/frame_000000.png`, ...
(PNG frames) or `seedNNNN.gif` (short clips only: a GIF is encoded from all its frames at once). With
`--grid`, a single `grid.<ext>`: a content x motion decomposition, as in the reference StyleGAN-V's
generate script: column j shows the content (z) of the j-th `--seeds`, row i the motion of the i-th
`--motion_seeds` (default: the same seeds), so a row keeps one motion across contents, a column one content
across motions, and cell (i, i) is the ordinary video of seed i.

`--latents=FILE.npz` (written by `svgan_tf.project`) replaces every video's content by the projected one; the
seeds then only choose the motion.

Time: frame i is at t = time_offset + i * time_step (frame units of the training data). `--time_step=0.25`
is 4x slow motion (the generator is continuous in t); `--time_offset` continues a video exactly: the same
seed gives the same frame at the same t in every run.

Reproducibility: everything is a function of the seed, never of the chunking: the content latent and the
motion-token stream of a seed are `svgan_tf.latents` (shared with the TF Serving client and the LiteRT
player, so a seed is the same video there); only the token blocks under the current chunk's window
(`Generator.token_window`) exist at any time.

Chunks: every call renders the same shapes (`--chunk_frames` frames per video, the last chunk padded by
repeating its last time; the motion window always the same number of tokens), so the graph is traced once
and every chunk is computed the same way. Identity with the one-shot computation `G(z, t_all,
motion_z_all)` (all frames in one call, the same token stream materialised at once) was measured on CPU:
with TensorFlow's default oneDNN kernels the chunked frames are bit-identical to it (float difference 0;
tiny test model, a 512-channel 32x32 model, the full SkyTimelapse-256 generator) for any chunk size, time
offset and time step, hence the same uint8 frames. Two things broke it and are avoided here: a synthesis
batch of a single frame takes another convolution path (up to 7e-6 off, enough to flip a few uint8
values), so at least 2 frames are always rendered; and the mapping's matmul rounds differently for several
videos than for one, so ws are computed one video at a time (grid cells equal the single videos). With
TF_ENABLE_ONEDNN_OPTS=0 (Eigen kernels) the convolutions round differently for different batch sizes (up
to 4e-6; 7-10 uint8 values in 370,000 off by one), so chunked frames equal the one-shot ones only when
both batches fall in the same size regime; runs with the same `--chunk_frames` remain bit-identical to
each other, continuations included, as every call has the same shapes.

User errors (bad flags, missing checkpoint, existing output) print one line naming the flag or file and
exit with status 2; Ctrl-C discards the video in progress (finished videos are kept) and exits with 130.
"""

import math
import os
import sys

import numpy as np
from absl import flags

from svgan_tf import cli, generation
from svgan_tf.data.video import check_mp4_support
from svgan_tf.latents import parse_seeds
from svgan_tf.training import summaries

cli.define_checkpoint_flag("Training run directory (newest checkpoint), checkpoint prefix, or G_ema-reference-*.npz "
                           "(with its .json).")
cli.define_out_flag("Output directory: one seedNNNN.<ext> per seed (or grid.<ext>).")
flags.DEFINE_string("seeds", "0", "Video seeds, e.g. 0-3,7 (with --grid: the content of each column).")
flags.DEFINE_string("latents", None, "A latents .npz of svgan_tf.project: its content (ws) in every video, with the "
                    "motion of each seed.")
flags.DEFINE_string("motion_seeds", None, "With --grid: the motion of each row (default: --seeds).")
flags.DEFINE_integer("num_frames", None, "Frames per video (or --seconds; default 5 seconds).")
flags.DEFINE_float("seconds", None, "Video length in seconds at --fps (or --num_frames).")
cli.define_timing_flags()
cli.define_truncation_flag()
cli.define_precision_flag()
flags.DEFINE_enum("format", "mp4", ["mp4", "gif", "frames"], "mp4 (H.264), gif (short clips), or frames "
                  "(a directory of PNG files per video).")
flags.DEFINE_bool("grid", False, "One content x motion grid video instead of one video per seed.")
flags.DEFINE_integer("chunk_frames", 32, "Frames per video rendered per generator call (memory vs speed).")
flags.DEFINE_integer("crf", 18, "mp4 quality: x264 constant rate factor (0-51, lower is better).")
cli.define_overwrite_flag()

FLAGS = flags.FLAGS


def _seeds(text, flag):
    try:
        return parse_seeds(text, flag)
    except ValueError as error:
        raise cli.UserError(str(error)) from None


def _plan():
    """The validated flags -> (num_frames, jobs [(path, content_seeds, motion_seeds)]); touches no file."""
    if not FLAGS.checkpoint:
        raise cli.UserError("--checkpoint: required (a training run directory, checkpoint prefix or .npz).")
    if not FLAGS.out:
        raise cli.UserError("--out: required (output directory).")
    if os.path.exists(FLAGS.out) and not os.path.isdir(FLAGS.out):
        raise cli.UserError(f"--out: {FLAGS.out} exists and is not a directory.")
    num_frames = cli.video_frames(FLAGS.num_frames, FLAGS.seconds, FLAGS.fps, default_seconds=5.0)
    seeds = _seeds(FLAGS.seeds, "--seeds")
    if FLAGS.motion_seeds is not None and not FLAGS.grid:
        raise cli.UserError("--motion_seeds: only with --grid.")
    if not math.isfinite(FLAGS.truncation_psi):
        raise cli.UserError(f"--truncation_psi: must be finite, got {FLAGS.truncation_psi}.")
    if FLAGS.latents is not None and FLAGS.truncation_psi != 1:
        raise cli.UserError("--truncation_psi: not with --latents, whose content is used as it is (svgan_tf.edit "
                            "--mode=truncation truncates it).")
    cli.check_timing(FLAGS.time_offset, FLAGS.time_step)
    last = FLAGS.time_offset + (num_frames - 1) * FLAGS.time_step
    if last >= generation.MAX_TIME:
        raise cli.UserError(f"--time_offset / --num_frames: the last frame would be at t = {last:.0f}, beyond "
                            f"{generation.MAX_TIME:.0f} frames where float32 times are no longer exact.")
    if FLAGS.chunk_frames < 1:
        raise cli.UserError(f"--chunk_frames: must be >= 1, got {FLAGS.chunk_frames}.")
    if not 0 <= FLAGS.crf <= 51:
        raise cli.UserError(f"--crf: must be in 0..51, got {FLAGS.crf}.")
    ext = generation.EXTENSIONS[FLAGS.format]
    if FLAGS.grid:
        motion = _seeds(FLAGS.motion_seeds, "--motion_seeds") if FLAGS.motion_seeds is not None else seeds
        jobs = [(os.path.join(FLAGS.out, "grid" + ext), seeds, motion)]
    else:
        jobs = [(os.path.join(FLAGS.out, f"seed{seed:04d}{ext}"), [seed], None) for seed in seeds]
    if not FLAGS.overwrite:
        existing = [path for path, _, _ in jobs if os.path.lexists(path)]
        if existing:
            more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
            raise cli.UserError(f"--out: {existing[0]} exists{more}; pass --overwrite to replace, or choose another "
                                "--out.")
    return num_frames, jobs


def main(argv):
    del argv  # cli.run has rejected positional arguments
    num_frames, jobs = _plan()
    G = cli.load_generator(FLAGS.checkpoint, precision=FLAGS.precision)
    generation.class_label(G, FLAGS.class_idx)
    options = {}
    if FLAGS.format == "mp4":
        options["crf"] = FLAGS.crf
        try:
            check_mp4_support()
        except RuntimeError as error:
            raise cli.UserError(f"--format=mp4: {error}") from None
    if FLAGS.format == "gif":
        _, columns, rows = jobs[0]
        rows = len(rows) if FLAGS.grid else 1
        frame_bytes = G.img_resolution ** 2 * 3 * rows * len(columns)
        options["max_frames"] = max(1, generation.GIF_MAX_BYTES // frame_bytes)
        if num_frames > options["max_frames"]:
            raise cli.UserError(f"--format=gif: a GIF is built in memory, limited to {options['max_frames']} frames "
                                f"of this size ({num_frames} asked); use --format=mp4 or frames for long videos.")
    ws = None
    if FLAGS.latents is not None:
        from svgan_tf.projection import load_latents

        try:
            ws = load_latents(FLAGS.latents, G)[0]
        except (OSError, ValueError) as error:
            raise cli.UserError(f"--latents: {error}") from None
    os.makedirs(FLAGS.out, exist_ok=True)
    print(f"{FLAGS.checkpoint}: {G.img_resolution}x{G.img_resolution}; {len(jobs)} output(s) of {num_frames} frames "
          f"({summaries.format_duration(num_frames / FLAGS.fps)} at {FLAGS.fps:g} fps), frame i at t = "
          f"{FLAGS.time_offset:g} + i * {FLAGS.time_step:g}", file=sys.stderr)
    path = None
    try:
        for path, content, motion in jobs:
            generation.generate_video(G, path, content, motion, num_frames=num_frames, fps=FLAGS.fps,
                                      time_offset=FLAGS.time_offset, time_step=FLAGS.time_step,
                                      chunk_frames=FLAGS.chunk_frames, truncation_psi=FLAGS.truncation_psi,
                                      class_idx=FLAGS.class_idx, grid=FLAGS.grid, overwrite=FLAGS.overwrite,
                                      ws=None if ws is None else np.repeat(ws, len(content) * len(motion or [0]), 0),
                                      **options)
            print(path)
    except KeyboardInterrupt:
        # cli.run's message would not say which output is incomplete.
        print(f"\ninterrupted: {path} was not written (outputs listed before it are complete).", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    cli.run(main)
