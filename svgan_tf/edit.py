"""python -m svgan_tf.edit --checkpoint=runs/demo --mode=sefa --seed=3 --out=edits

Latent-space edits of one content (a seed's, or a projection's with `--latents`, `svgan_tf.project`), rendered
as a grid of short clips (`svgan_tf.editing`); every cell of a grid has the same motion unless the motion is
what varies. Modes:

* `sefa`: closed-form semantic directions from the generator's own style-affine weights (SeFa, Shen and Zhou,
  CVPR 2021; no extra network; `--resolutions` picks the layers, coarse = shape, fine = colour and texture):
  a row per direction of `--directions` (0 = the largest eigenvalue), a column per `--strengths` (multiples
  of the RMS spread of w around w_avg), applied to the ws rows of those layers;
* `content`: `--columns` contents interpolated (linearly in W) from the content to that of `--seed2`;
* `motion`: the content under `--columns` motions interpolated (spherically, token by token) from the tokens
  of `--motion_seed` to those of `--motion_seed2`;
* `truncation`: the content pulled towards w_avg, a column per `--psis`.

Outputs in `--out`: `<mode>.png` (the grid's first frames) and `<mode>.<ext>` (the grid as a video of
`--num_frames` frames at times 0, `--time_step`, ...; `--format`).
"""

import os
import sys

import numpy as np
from absl import flags

from svgan_tf import cli, editing, generation, latents, projection
from svgan_tf.data import video
from svgan_tf.training import summaries

cli.define_checkpoint_flag()
cli.define_out_flag("Output directory (<mode>.png and <mode>.<ext>).")
flags.DEFINE_enum("mode", "sefa", ["sefa", "content", "motion", "truncation"], "What the grid varies.")
flags.DEFINE_integer("seed", 0, "Content seed (unless --latents).")
flags.DEFINE_string("latents", None, "A latents .npz of svgan_tf.project: its ws is the content.")
flags.DEFINE_integer("seed2", None, "--mode=content: the content seed interpolated to (default --seed + 1).")
flags.DEFINE_integer("motion_seed", 0, "Motion seed of every cell.")
flags.DEFINE_integer("motion_seed2", None, "--mode=motion: the motion interpolated to (default --motion_seed + 1).")
flags.DEFINE_string("directions", "0-4", "--mode=sefa: direction indices (0: largest eigenvalue), e.g. 0-4,7.")
flags.DEFINE_list("strengths", ["-1", "-0.5", "0", "0.5", "1"], "--mode=sefa: steps along a direction, in RMS "
                  "spreads of w.")
flags.DEFINE_list("resolutions", None, "--mode=sefa: block resolutions whose layers are factorised and edited "
                  "(default: all), e.g. 4,8,16.")
flags.DEFINE_integer("columns", 5, "--mode=content / motion: interpolation steps, ends included.")
flags.DEFINE_list("psis", ["1", "0.75", "0.5", "0.25", "0"], "--mode=truncation: truncation values.")
flags.DEFINE_integer("num_frames", 16, "Frames of the grid video.")
flags.DEFINE_float("time_step", 1.0, "Time between frames, in frames.")
flags.DEFINE_float("fps", 25.0, "Frames per second of the grid video.")
flags.DEFINE_enum("format", "gif", ["gif", "mp4", "frames"], "Format of the grid video.")
cli.define_overwrite_flag()

FLAGS = flags.FLAGS


def _floats(values, flag):
    try:
        return [float(v) for v in values]
    except ValueError:
        raise cli.UserError(f"--{flag}: {','.join(values)!r} is not a list of numbers.") from None


def _plan():
    """The validated flags -> (png path, video path); touches no file."""
    if FLAGS.num_frames < 1:
        raise cli.UserError(f"--num_frames: must be >= 1, got {FLAGS.num_frames}.")
    if FLAGS.columns < 2:
        raise cli.UserError(f"--columns: must be >= 2, got {FLAGS.columns}.")
    cli.check_timing(0.0, FLAGS.time_step)
    if FLAGS.latents is not None and not os.path.isfile(FLAGS.latents):
        raise cli.UserError(f"--latents: {FLAGS.latents} is not a file.")
    if os.path.exists(FLAGS.out) and not os.path.isdir(FLAGS.out):
        raise cli.UserError(f"--out: {FLAGS.out} exists and is not a directory.")
    paths = (os.path.join(FLAGS.out, FLAGS.mode + ".png"),
             os.path.join(FLAGS.out, FLAGS.mode + generation.EXTENSIONS[FLAGS.format]))
    existing = [p for p in paths if os.path.lexists(p)]
    if existing and not FLAGS.overwrite:
        raise cli.UserError(f"--out: {existing[0]} exists; pass --overwrite to replace, or choose another --out.")
    return paths


def _content(G, seed):
    return G.mapping(latents.content_z(seed, G.z_dim)[None]).numpy()


def _cells(G, times):
    """(ws [N, num_ws, w_dim], motion_z [N, L, motion_z_dim], columns) of the grid."""
    if FLAGS.latents is not None:
        try:
            ws, _ = projection.load_latents(FLAGS.latents, G)
        except ValueError as error:
            raise cli.UserError(f"--latents: {error}") from None
    else:
        ws = _content(G, FLAGS.seed)
    start, length = G.token_window(np.asarray(times)[None])
    motion = latents.MotionTokenStream(FLAGS.motion_seed, G.motion_z_dim).window(0, start + length)[None]
    mode = FLAGS.mode
    if mode == "sefa":
        try:
            resolutions = None if FLAGS.resolutions is None else [int(r) for r in FLAGS.resolutions]
            eigenvalues, directions = editing.sefa_directions(G, resolutions)
            rows = editing.ws_indices(G, resolutions)
        except ValueError as error:
            raise cli.UserError(f"--resolutions: {error}") from None
        chosen = latents.parse_seeds(FLAGS.directions, "--directions")
        if chosen[-1] >= len(directions):
            raise cli.UserError(f"--directions: the generator has {len(directions)} directions "
                                f"(0..{len(directions) - 1}).")
        strengths = _floats(FLAGS.strengths, "strengths")
        _, w_std = projection.w_statistics(G)
        print("SeFa eigenvalues: " + ", ".join(f"{k}: {eigenvalues[k]:.3g}" for k in chosen), file=sys.stderr)
        cells = [editing.apply_direction(ws, directions[k], s * w_std, rows)[0] for k in chosen for s in strengths]
        return np.stack(cells), np.repeat(motion, len(cells), 0), len(strengths)
    if mode == "truncation":
        psis = _floats(FLAGS.psis, "psis")
        w_avg, _ = projection.w_statistics(G)
        cells = np.stack([editing.truncate(ws[0], w_avg, psi) for psi in psis])
        return cells, np.repeat(motion, len(cells), 0), len(cells)
    fractions = np.linspace(0.0, 1.0, FLAGS.columns)
    if mode == "content":
        other = _content(G, FLAGS.seed + 1 if FLAGS.seed2 is None else FLAGS.seed2)
        return editing.lerp(ws[0], other[0], fractions), np.repeat(motion, len(fractions), 0), len(fractions)
    seed2 = FLAGS.motion_seed + 1 if FLAGS.motion_seed2 is None else FLAGS.motion_seed2
    other = latents.MotionTokenStream(seed2, G.motion_z_dim).window(0, start + length)
    return np.repeat(ws, len(fractions), 0), editing.slerp(motion[0], other, fractions), len(fractions)


def main(argv):
    del argv
    png, movie = _plan()
    G = cli.load_generator(FLAGS.checkpoint)
    if G.c_dim:
        raise cli.UserError(f"--checkpoint: {FLAGS.checkpoint} is a conditional model; editing takes unconditional "
                            "ones.")
    times = np.arange(FLAGS.num_frames, dtype=np.float32) * np.float32(FLAGS.time_step)
    ws, motion_z, columns = _cells(G, times)
    clips = summaries.to_uint8(editing.render_clips(G, ws, motion_z, times)).numpy()
    os.makedirs(FLAGS.out, exist_ok=True)
    video.save_png(png, video.video_grid(clips[:, :1], columns)[0])  # absent unless --overwrite: _plan
    options = {"max_frames": FLAGS.num_frames} if FLAGS.format == "gif" else {}
    with video.open_writer(movie, FLAGS.fps, overwrite=FLAGS.overwrite, **options) as writer:
        writer.write(video.video_grid(clips, columns))
    print(png)
    print(movie)


if __name__ == "__main__":
    cli.run(main)
