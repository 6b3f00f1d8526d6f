"""Long videos from a generator, rendered a chunk of frames at a time at constant memory: the library of
`python -m svgan_tf.generate` (whose docstring describes the outputs and the measured exactness).

* the time grid is `tokens.frame_times`: frame i at t = time_offset + i * time_step;
* `VideoRenderer`: a batch of videos (content seed + motion seed each), chunk by chunk; every chunk has the
  same shapes, so a generator's synthesis is traced once (`_compiled_synthesis`, shared by all renderers),
  and only the motion tokens under the current chunk's window are drawn;
* `generate_video`: one video, or one content x motion grid, streamed to a writer of `svgan_tf.data.video`;
* `grid_cells`: the seeds of a content x motion grid's cells;
* `one_shot_frames`: the definition streamed videos equal (every frame in one generator call);
* `class_label`: the label of a conditional model;
* `at_precision`: a float32 generator rebuilt for bfloat16 (or float16) inference.

A video is a function of its seeds (`svgan_tf.latents`), never of the chunking. Inputs that cannot be
rendered raise `svgan_tf.cli.UserError` naming the program's flag.
"""

import math
import os
import weakref

import numpy as np
import tensorflow as tf

from svgan_tf import cli, tokens
from svgan_tf.data import video
from svgan_tf.data.video import open_writer
from svgan_tf.latents import MotionTokenStream, content_z
from svgan_tf.networks.generator import inference_overrides
from svgan_tf.training import run_dir, summaries

EXTENSIONS = {"mp4": ".mp4", "gif": ".gif", "frames": ""}  # output format -> a video's name suffix
GIF_MAX_BYTES = 1 << 30  # raw frames a GIF may hold in memory before it is encoded
MAX_TIME = float(2 ** 24)  # beyond, float32 times (as the reference computes them) lose whole frames


def at_precision(G, precision):
    """Float32 generator `G` computing at inference `precision` (`svgan_tf.networks.generator.inference_overrides`).

    Args:
        G: a float32 `Generator` (loaded with `num_fp16_res=0`).
        precision: "float32" (`G` itself), "bfloat16" or "float16" (a copy with the same weights).
    """
    overrides = inference_overrides(precision, G.img_resolution)
    return G if precision == "float32" else run_dir.rebuild(G, **overrides)


def class_label(G, class_idx):
    """One-hot class label [1, c_dim] for conditional models, None for unconditional ones.

    Args:
        G: the generator.
        class_idx: the class asked for (None: none).

    Returns:
        float32 [1, c_dim], or None.

    Raises:
        cli.UserError: naming --class_idx, when it is missing, out of range, or given to an unconditional model.
    """
    if G.c_dim == 0:
        if class_idx is not None:
            raise cli.UserError(f"--class_idx: the model is unconditional (c_dim=0); got "
                                f"--class_idx={class_idx}.")
        return None
    if class_idx is None:
        raise cli.UserError(f"--class_idx: the model is conditional (c_dim={G.c_dim}); give a class in "
                            f"0..{G.c_dim - 1}.")
    if not 0 <= class_idx < G.c_dim:
        raise cli.UserError(f"--class_idx: {class_idx} is out of range 0..{G.c_dim - 1}.")
    return np.eye(G.c_dim, dtype=np.float32)[[class_idx]]


def one_shot_frames(G, seed, times, truncation_psi=1.0):
    """The definition streamed videos must equal: `G(z, t_all, motion_z_all)`, every frame of `times` in one
    call, the seed's motion-token stream materialised from token 0 (memory grows with t: for checks only).

    Args:
        G: the generator.
        seed: the video's seed (its content latent and its motion-token stream).
        times: the frames' times (float32 [F]).
        truncation_psi: truncation of the content latent.

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
        chunk_frames: frames per video rendered per call (at least 2 are rendered: a one-frame batch rounds
            differently).
        truncation_psi: truncation of the content latents.
        class_idx: class of conditional models (None for unconditional ones).
        ws: float32 [B, num_ws, w_dim] content codes used instead of the content seeds' (a projection's or an
            edit's, `svgan_tf.projection.load_latents`); the content seeds then only count the videos.
    """

    def __init__(self, G, content_seeds, motion_seeds=None, time_offset=0.0, time_step=1.0, chunk_frames=32,
                 truncation_psi=1.0, class_idx=None, ws=None):
        motion_seeds = list(content_seeds if motion_seeds is None else motion_seeds)
        if len(motion_seeds) != len(content_seeds) or not content_seeds:
            raise ValueError("content_seeds and motion_seeds must be non-empty and equally long.")
        if not (math.isfinite(time_offset) and time_offset >= 0):
            raise cli.UserError(f"--time_offset: must be a finite time >= 0, got {time_offset}.")
        if not (math.isfinite(time_step) and time_step > 0):
            raise cli.UserError(f"--time_step: must be > 0, got {time_step}.")
        if chunk_frames < 1:
            raise cli.UserError(f"--chunk_frames: must be >= 1, got {chunk_frames}.")
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
        if ws is not None:
            self.ws = tf.constant(np.asarray(ws, np.float32).reshape([self.num_videos, G.num_ws, G.w_dim]))
        else:
            self.ws = tf.concat([G.mapping(content_z(s, G.z_dim)[None], None if c is None else c,
                                           truncation_psi=float(truncation_psi)) for s in content_seeds], axis=0)
        # The largest window any chunk of `batch_frames` consecutive frames can need. A fixed length keeps
        # every call the same shape; tokens past a frame's own window do not change it.
        self.window_tokens = tokens.longest_window((self.batch_frames - 1) * self.time_step, G.motion_z_distance,
                                                   G.window_length)
        self._synthesize = _compiled_synthesis(G)

    def frame_times(self, first, count):
        """Times of frames first .. first + count - 1 of these videos (float32 [count])."""
        return tokens.frame_times(first, count, self.time_offset, self.time_step)

    def render(self, first, count):
        """Frames first .. first + count - 1 (count <= chunk_frames): float32 [B, count, R, R, C]."""
        if not 1 <= count <= self.chunk_frames:
            raise ValueError(f"count must be in 1..{self.chunk_frames}, got {count}.")
        t = self.frame_times(first, count)
        if t[-1] >= MAX_TIME:
            raise cli.UserError(f"--time_offset / --num_frames: time {t[-1]} is beyond {MAX_TIME:.0f} frames, "
                                "where float32 times are no longer exact.")
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


def grid_cells(content_seeds, motion_seeds=None):
    """The (content seeds, motion seeds) of a content x motion grid's cells, row by row: column j has content
    `content_seeds[j]`, row i motion `motion_seeds[i]` (None: the content seeds)."""
    motion_seeds = list(content_seeds if motion_seeds is None else motion_seeds)
    return ([c for _ in motion_seeds for c in content_seeds], [m for m in motion_seeds for _ in content_seeds])


def generate_video(G, path, content_seeds, motion_seeds=None, num_frames=16, fps=25.0, time_offset=0.0,
                   time_step=1.0, chunk_frames=32, truncation_psi=1.0, class_idx=None, grid=False, overwrite=False,
                   progress=True, ws=None, **writer_options):
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
        ws: content codes [num_videos, num_ws, w_dim] used instead of the content seeds' (see `VideoRenderer`;
            with `grid`, one per cell, row by row).
        **writer_options: passed to `open_writer` (e.g. `crf`).

    Returns:
        The number of frames written.
    """
    if grid:
        columns = len(content_seeds)
        content, motion = grid_cells(content_seeds, motion_seeds)
    else:
        columns, content, motion = 1, list(content_seeds), motion_seeds
        if len(content) != 1:
            raise ValueError("Without grid, a video has exactly one content seed.")
    renderer = VideoRenderer(G, content, motion, time_offset=time_offset, time_step=time_step,
                             chunk_frames=chunk_frames, truncation_psi=truncation_psi, class_idx=class_idx, ws=ws)
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
