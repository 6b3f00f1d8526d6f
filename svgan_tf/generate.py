"""python -m svgan_tf.generate --checkpoint=runs/demo --out=videos --seeds=0-3,7 --seconds=60

Long videos from a trained StyleGAN-V generator, rendered a chunk of frames at a time and streamed to disk:
memory stays constant whatever the length (an hour at 25 fps is 90,000 frames).

Outputs (`--format`, one per seed in `--out`): `seedNNNN.mp4` (H.264), `seedNNNN/frame_000000.png`, ...
(PNG frames) or `seedNNNN.gif` (short clips only: a GIF is encoded from all its frames at once). With
`--grid`, a single `grid.<ext>`: a content x motion decomposition, as in the reference StyleGAN-V's
generate script: column j shows the content (z) of the j-th `--seeds`, row i the motion of the i-th
`--motion_seeds` (default: the same seeds), so a row keeps one motion across contents, a column one content
across motions, and cell (i, i) is the ordinary video of seed i.

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
import weakref
import zipfile

import numpy as np
import tensorflow as tf

from svgan_tf import tokens
from svgan_tf.data import video
from svgan_tf.data.video import check_mp4_support, open_writer
from svgan_tf.latents import MotionTokenStream, content_z, parse_seeds
from svgan_tf.training import summaries
from svgan_tf.training.run_dir import load_generator

EXTENSIONS = {"mp4": ".mp4", "gif": ".gif", "frames": ""}
GIF_MAX_BYTES = 1 << 30  # raw frames a GIF may hold in memory before it is encoded
MAX_TIME = float(2 ** 24)  # beyond, float32 times (as the reference computes them) lose whole frames


class UserError(ValueError):
    """Bad command-line input; the message names the flag or file."""


def frame_times(first, count, time_offset=0.0, time_step=1.0):
    """Times of frames first .. first + count - 1: float32 [count], t_i = time_offset + i * time_step.

    Computed in float64 and rounded once to float32, so a run started at `time_offset` = t_k meets the
    frames of a run from 0 at exactly the same float32 times.
    """
    return (time_offset + (first + np.arange(count, dtype=np.float64)) * time_step).astype(np.float32)


def class_label(G, class_idx):
    """One-hot class label [1, c_dim] for conditional models, None for unconditional ones.

    Raises:
        UserError: naming --class_idx, when it is missing, out of range, or given to an unconditional model.
    """
    if G.c_dim == 0:
        if class_idx is not None:
            raise UserError(f"--class_idx: the model is unconditional (c_dim=0); got --class_idx={class_idx}.")
        return None
    if class_idx is None:
        raise UserError(f"--class_idx: the model is conditional (c_dim={G.c_dim}); give a class in "
                        f"0..{G.c_dim - 1}.")
    if not 0 <= class_idx < G.c_dim:
        raise UserError(f"--class_idx: {class_idx} is out of range 0..{G.c_dim - 1}.")
    return np.eye(G.c_dim, dtype=np.float32)[[class_idx]]


def one_shot_frames(G, seed, times, truncation_psi=1.0):
    """The definition streamed videos must equal: `G(z, t_all, motion_z_all)`, every frame of `times` in one
    call, the seed's motion-token stream materialised from token 0 (memory grows with t: for checks only).

    Returns:
        float32 [len(times), R, R, C].
    """
    times = np.asarray(times, np.float32)[None]
    start, length = G.token_window(times)
    motion_z = MotionTokenStream(seed, G.motion_z_dim).window(0, start + length)[None]
    return G(content_z(seed, G.z_dim)[None], times, motion_z, truncation_psi=truncation_psi).numpy()[0]


_COMPILED = weakref.WeakKeyDictionary()


def _compiled_synthesis(G):
    """One graph function per generator, shared by all renderers: videos of the same shape (every seed of a
    run) reuse its trace instead of tracing again."""
    if G not in _COMPILED:
        model = weakref.ref(G)  # a strong reference from the value would keep the key alive forever

        def synthesize(ws, t, window, offset, c):
            return model().synthesize(ws, t, window, c=c, token_offset=offset)

        _COMPILED[G] = tf.function(synthesize)
    return _COMPILED[G]


class VideoRenderer:
    """Renders a batch of videos (content seed + motion seed each) chunk by chunk, at constant memory.

    Args:
        G: a `Generator` (float32 inference: load it with `num_fp16_res=0`).
        content_seeds: one seed per video (its content latent z).
        motion_seeds: one seed per video (its motion-token stream); default: `content_seeds`.
        time_offset: time of frame 0 (frames, >= 0).
        time_step: time between consecutive frames (> 0; < 1 is slow motion).
        chunk_frames: frames per video rendered per call (at least 2 are rendered, see the module docstring).
        truncation_psi: truncation of the content latents.
        class_idx: class of conditional models (None for unconditional ones).
    """

    def __init__(self, G, content_seeds, motion_seeds=None, time_offset=0.0, time_step=1.0, chunk_frames=32,
                 truncation_psi=1.0, class_idx=None):
        motion_seeds = list(content_seeds if motion_seeds is None else motion_seeds)
        if len(motion_seeds) != len(content_seeds) or not content_seeds:
            raise ValueError("content_seeds and motion_seeds must be non-empty and equally long.")
        if not (math.isfinite(time_offset) and time_offset >= 0):
            raise UserError(f"--time_offset: must be a finite time >= 0, got {time_offset}.")
        if not (math.isfinite(time_step) and time_step > 0):
            raise UserError(f"--time_step: must be > 0, got {time_step}.")
        if chunk_frames < 1:
            raise UserError(f"--chunk_frames: must be >= 1, got {chunk_frames}.")
        self.G = G
        self.num_videos = len(content_seeds)
        self.time_offset, self.time_step, self.chunk_frames = float(time_offset), float(time_step), chunk_frames
        # A one-frame batch takes another convolution path (different rounding), so never render one.
        self.batch_frames = max(chunk_frames, 2)
        streams = {}
        self.streams = [streams.setdefault(s, MotionTokenStream(s, G.motion_z_dim)) for s in motion_seeds]
        c = class_label(G, class_idx)
        self.c = None if c is None else np.repeat(c, self.num_videos, axis=0)
        # One video at a time: the mapping's matmul rounds differently for different batch sizes, and a
        # video must not depend on the others it is rendered with (grid cells equal the single videos).
        self.ws = tf.concat([G.mapping(content_z(s, G.z_dim)[None], None if c is None else c,
                                       truncation_psi=float(truncation_psi)) for s in content_seeds], axis=0)
        # The largest window any chunk of `batch_frames` consecutive frames can need. A fixed length keeps
        # every call the same shape; tokens past a frame's own window do not change it.
        self.window_tokens = tokens.longest_window((self.batch_frames - 1) * self.time_step, G.motion_z_distance,
                                                   G.window_length)
        self._synthesize = _compiled_synthesis(G)

    def frame_times(self, first, count):
        """Times of frames first .. first + count - 1 of these videos (float32 [count])."""
        return frame_times(first, count, self.time_offset, self.time_step)

    def render(self, first, count):
        """Frames first .. first + count - 1 (count <= chunk_frames): float32 [B, count, R, R, C]."""
        if not 1 <= count <= self.chunk_frames:
            raise ValueError(f"count must be in 1..{self.chunk_frames}, got {count}.")
        t = self.frame_times(first, count)
        if t[-1] >= MAX_TIME:
            raise UserError(f"--time_offset / --num_frames: time {t[-1]} is beyond {MAX_TIME:.0f} frames, where "
                            "float32 times are no longer exact.")
        t = np.concatenate([t, np.full(self.batch_frames - count, t[-1], np.float32)])  # same shape every call
        start, length = self.G.token_window(t)
        assert length <= self.window_tokens, (length, self.window_tokens)
        window = np.stack([stream.window(start, self.window_tokens) for stream in self.streams])
        frames = self._synthesize(self.ws, tf.constant(np.tile(t[None], [self.num_videos, 1])), tf.constant(window),
                                  tf.constant(start, tf.int32), None if self.c is None else tf.constant(self.c))
        return frames.numpy()[:, :count]

    def chunks(self, num_frames, first=0):
        """Yields uint8 [B, n, R, R, C] chunks covering frames first .. first + num_frames - 1 in order."""
        for begin in range(first, first + num_frames, self.chunk_frames):
            count = min(self.chunk_frames, first + num_frames - begin)
            yield summaries.to_uint8(self.render(begin, count)).numpy()


def generate_video(G, path, content_seeds, motion_seeds=None, num_frames=16, fps=25.0, time_offset=0.0,
                   time_step=1.0, chunk_frames=32, truncation_psi=1.0, class_idx=None, grid=False, overwrite=False,
                   progress=True, **writer_options):
    """Renders one video (or one content x motion grid) to `path`, streaming.

    Args:
        G: the generator.
        path: output (`.mp4`, `.gif`, or a directory for PNG frames; see `svgan_tf.data.video.open_writer`).
        content_seeds: seeds of the content latents; one seed for a video, the grid's columns with `grid`.
        motion_seeds: seeds of the motion streams: None for the content seeds (a video is one seed), the
            grid's rows with `grid`.
        num_frames: frames to write.
        fps: frames per second of the output.
        time_offset: time of the first frame.
        time_step: time between frames (< 1: slow motion).
        chunk_frames: frames per video per generator call.
        truncation_psi: content truncation.
        class_idx: class (conditional models).
        grid: render every (motion row, content column) pair, tiled into one video.
        overwrite: replace an existing output.
        progress: True: a progress line on stderr; False: none; a callable: called with each chunk of
            frames (uint8 [n, H, W, C], as written) once it is written.
        **writer_options: passed to `open_writer` (e.g. `crf`).

    Returns:
        The number of frames written.
    """
    if grid:
        motion_seeds = list(content_seeds if motion_seeds is None else motion_seeds)
        columns = len(content_seeds)
        content = [content_seeds[j] for _ in motion_seeds for j in range(columns)]
        motion = [m for m in motion_seeds for _ in range(columns)]
    else:
        columns, content, motion = 1, list(content_seeds), motion_seeds
        if len(content) != 1:
            raise ValueError("Without grid, a video has exactly one content seed.")
    renderer = VideoRenderer(G, content, motion, time_offset=time_offset, time_step=time_step,
                             chunk_frames=chunk_frames, truncation_psi=truncation_psi, class_idx=class_idx)
    bar = summaries.Progress(num_frames, label=f"{os.path.basename(os.fspath(path))}: ") if progress is True else None
    with open_writer(path, fps, overwrite=overwrite, **writer_options) as writer:
        for chunk in renderer.chunks(num_frames):
            frames = video.video_grid(chunk, columns) if grid else chunk[0]
            writer.write(frames)
            if bar:
                bar.update(len(frames))
            elif progress:
                progress(frames)
    if bar:
        bar.close()
    return writer.frames_written


# ----------------------------------------------------------------------------------------------------------
# Command line.

def _define_flags():
    """Command-line flags, defined only when run as a program (other modules define --out and others)."""
    from absl import flags

    flags.DEFINE_string("checkpoint", None, "Training run directory (newest checkpoint), checkpoint prefix, or "
                        "G_ema-reference-*.npz (with its .json).")
    flags.DEFINE_string("out", None, "Output directory: one seedNNNN.<ext> per seed (or grid.<ext>).")
    flags.DEFINE_string("seeds", "0", "Video seeds, e.g. 0-3,7 (with --grid: the content of each column).")
    flags.DEFINE_string("motion_seeds", None, "With --grid: the motion of each row (default: --seeds).")
    flags.DEFINE_integer("num_frames", None, "Frames per video (or --seconds; default 5 seconds).")
    flags.DEFINE_float("seconds", None, "Video length in seconds at --fps (or --num_frames).")
    flags.DEFINE_float("fps", 25.0, "Frames per second of the output.")
    flags.DEFINE_float("time_offset", 0.0, "Time of the first frame, in frames (real, >= 0): continues a video.")
    flags.DEFINE_float("time_step", 1.0, "Time between output frames (0.25 = 4x slow motion).")
    flags.DEFINE_float("truncation_psi", 1.0, "Truncation of the content latent (1: none).")
    flags.DEFINE_enum("format", "mp4", ["mp4", "gif", "frames"], "mp4 (H.264), gif (short clips), or frames "
                      "(a directory of PNG files per video).")
    flags.DEFINE_bool("grid", False, "One content x motion grid video instead of one video per seed.")
    flags.DEFINE_integer("chunk_frames", 32, "Frames per video rendered per generator call (memory vs speed).")
    flags.DEFINE_integer("class_idx", None, "Class of a conditional model.")
    flags.DEFINE_integer("crf", 18, "mp4 quality: x264 constant rate factor (0-51, lower is better).")
    flags.DEFINE_bool("overwrite", False, "Replace existing outputs (default: refuse).")


def _num_frames(num_frames, seconds, fps):
    if not (math.isfinite(fps) and fps > 0):
        raise UserError(f"--fps: must be > 0, got {fps}.")
    if num_frames is not None and seconds is not None:
        raise UserError("--num_frames and --seconds: give one of them, not both.")
    if num_frames is not None:
        if num_frames < 1:
            raise UserError(f"--num_frames: must be >= 1, got {num_frames}.")
        return num_frames
    seconds = 5.0 if seconds is None else seconds
    if not (math.isfinite(seconds) and seconds > 0):
        raise UserError(f"--seconds: must be > 0, got {seconds}.")
    return max(1, round(seconds * fps))


def _seeds(text, flag):
    try:
        return parse_seeds(text, flag)
    except ValueError as error:
        raise UserError(str(error)) from None


def _plan(FLAGS):
    """Validated flags -> (num_frames, jobs [(path, content_seeds, motion_seeds)]); touches no file."""
    if not FLAGS.checkpoint:
        raise UserError("--checkpoint: required (a training run directory, checkpoint prefix or .npz).")
    if not FLAGS.out:
        raise UserError("--out: required (output directory).")
    if os.path.exists(FLAGS.out) and not os.path.isdir(FLAGS.out):
        raise UserError(f"--out: {FLAGS.out} exists and is not a directory.")
    num_frames = _num_frames(FLAGS.num_frames, FLAGS.seconds, FLAGS.fps)
    seeds = _seeds(FLAGS.seeds, "--seeds")
    if FLAGS.motion_seeds is not None and not FLAGS.grid:
        raise UserError("--motion_seeds: only with --grid.")
    for flag in ("time_offset", "time_step", "truncation_psi"):
        if not math.isfinite(getattr(FLAGS, flag)):
            raise UserError(f"--{flag}: must be finite, got {getattr(FLAGS, flag)}.")
    if FLAGS.time_offset < 0:
        raise UserError(f"--time_offset: must be >= 0 (times start at 0), got {FLAGS.time_offset}.")
    if FLAGS.time_step <= 0:
        raise UserError(f"--time_step: must be > 0, got {FLAGS.time_step}.")
    last = FLAGS.time_offset + (num_frames - 1) * FLAGS.time_step
    if last >= MAX_TIME:
        raise UserError(f"--time_offset / --num_frames: the last frame would be at t = {last:.0f}, beyond "
                        f"{MAX_TIME:.0f} frames where float32 times are no longer exact.")
    if FLAGS.chunk_frames < 1:
        raise UserError(f"--chunk_frames: must be >= 1, got {FLAGS.chunk_frames}.")
    if not 0 <= FLAGS.crf <= 51:
        raise UserError(f"--crf: must be in 0..51, got {FLAGS.crf}.")
    ext = EXTENSIONS[FLAGS.format]
    if FLAGS.grid:
        motion = _seeds(FLAGS.motion_seeds, "--motion_seeds") if FLAGS.motion_seeds is not None else seeds
        jobs = [(os.path.join(FLAGS.out, "grid" + ext), seeds, motion)]
    else:
        jobs = [(os.path.join(FLAGS.out, f"seed{seed:04d}{ext}"), [seed], None) for seed in seeds]
    if not FLAGS.overwrite:
        existing = [path for path, _, _ in jobs if os.path.lexists(path)]
        if existing:
            more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
            raise UserError(f"--out: {existing[0]} exists{more}; pass --overwrite to replace, or choose another --out.")
    return num_frames, jobs


def _load(path):
    """The generator at `path` (float32), or a UserError naming the file."""
    try:
        return load_generator(path, num_fp16_res=0)  # float32 inference on any device
    except (OSError, ValueError, KeyError, AssertionError, zipfile.BadZipFile, tf.errors.OpError) as error:
        # A broken or foreign file is the user's input, not a bug: one line, no traceback.
        message = str(error) if path in str(error) else f"{path}: cannot load a generator: {error}"
        raise UserError(f"--checkpoint: {message}") from None


def main(argv):
    from absl import flags

    FLAGS = flags.FLAGS
    try:
        if len(argv) > 1:
            raise UserError(f"unexpected arguments {' '.join(argv[1:])!r} (every option is a --flag).")
        num_frames, jobs = _plan(FLAGS)
        G = _load(FLAGS.checkpoint)
        class_label(G, FLAGS.class_idx)
        options = {}
        if FLAGS.format == "mp4":
            options["crf"] = FLAGS.crf
            try:
                check_mp4_support()
            except RuntimeError as error:
                raise UserError(f"--format=mp4: {error}") from None
        if FLAGS.format == "gif":
            _, columns, rows = jobs[0]
            rows = len(rows) if FLAGS.grid else 1
            frame_bytes = G.img_resolution ** 2 * 3 * rows * len(columns)
            options["max_frames"] = max(1, GIF_MAX_BYTES // frame_bytes)
            if num_frames > options["max_frames"]:
                raise UserError(f"--format=gif: a GIF is built in memory, limited to {options['max_frames']} frames "
                                f"of this size ({num_frames} asked); use --format=mp4 or frames for long videos.")
    except UserError as error:
        _fail(str(error))
    os.makedirs(FLAGS.out, exist_ok=True)
    print(f"{FLAGS.checkpoint}: {G.img_resolution}x{G.img_resolution}; {len(jobs)} output(s) of {num_frames} frames "
          f"({summaries.format_duration(num_frames / FLAGS.fps)} at {FLAGS.fps:g} fps), frame i at t = "
          f"{FLAGS.time_offset:g} + i * {FLAGS.time_step:g}", file=sys.stderr)
    path = None
    try:
        for path, content, motion in jobs:
            generate_video(G, path, content, motion, num_frames=num_frames, fps=FLAGS.fps,
                           time_offset=FLAGS.time_offset, time_step=FLAGS.time_step, chunk_frames=FLAGS.chunk_frames,
                           truncation_psi=FLAGS.truncation_psi, class_idx=FLAGS.class_idx, grid=FLAGS.grid,
                           overwrite=FLAGS.overwrite, **options)
            print(path)
    except KeyboardInterrupt:
        print(f"\ninterrupted: {path} was not written (outputs listed before it are complete).", file=sys.stderr)
        sys.exit(130)
    except (UserError, FileExistsError) as error:
        _fail(str(error))


def _fail(message):
    print(f"svgan_tf.generate: error: {message}", file=sys.stderr)
    sys.exit(2)


def _parse_flags(argv):
    """absl's flag parsing, but a bad flag value exits with status 2 and one line, like every user error."""
    from absl import flags

    try:
        argv = flags.FLAGS(argv)
    except flags.Error as error:
        _fail(str(error))
    return argv


if __name__ == "__main__":
    from absl import app

    _define_flags()
    app.run(main, flags_parser=_parse_flags)
