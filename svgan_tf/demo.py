"""python -m svgan_tf.demo [--checkpoint=runs/demo] [--port=7860]

A web page (Gradio, `pip install '.[demo]'`) to explore a trained generator: pick a content seed and a motion
seed, move the time slider over any real t (frame units of the training data, not frame indices) and the
frame at t is rendered at once; truncation, and the class of a conditional model; a clip of N seconds from t
at any playback speed (time step per output frame: 0.25 is 4x slow motion) on request; and a content x
motion grid tab (columns: contents, rows: motions, as `python -m svgan_tf.generate --grid`).

The page's frames are the library's: `frame` and `grid_frame` render through `svgan_tf.generation.VideoRenderer`
with the seeded latents of `svgan_tf.latents`, so content seed c, motion seed m at time t is the frame
`python -m svgan_tf.generate --seeds=c` (m = c) or `--grid --seeds=c --motion_seeds=m` writes at that time,
and the one TF Serving or the LiteRT player renders for that seed; the image is a lossless PNG of the uint8
frame (`svgan_tf.training.summaries.to_uint8`).

Without --checkpoint the demo shows the bundled model `DEFAULT_MODEL` (a reference-format `.npz` + `.json`
trained with `configs/demo.flags` on the synthetic moving-shapes videos), so a fresh install shows moving
shapes at once. --checkpoint may also be an exported SavedModel (`python -m svgan_tf.export savedmodel`; the TF
Serving folder, whose newest version is shown, or a version directory): its frames are TF Serving's, through
its `mapping` and `frame_at_time` signatures (`svgan_tf.export.savedmodel.SavedModelGenerator`), and its
truncation, fixed at export, is shown but cannot be changed. Loading a SavedModel runs its graph (TensorFlow
code): pass only SavedModels you trust.

The page is served on 127.0.0.1 (only this machine) unless --host says otherwise. Bad input in the page (a
seed that is not a number, a negative time) is a message in the page's status line; a missing or foreign
--checkpoint is one line and exit status 2, before anything is served.
"""

import logging
import math
import os
import sys
import tempfile
import time

import tensorflow as tf
from absl import flags

from svgan_tf import cli, generation
from svgan_tf.data import video
from svgan_tf.export.savedmodel import SavedModelGenerator
from svgan_tf.latents import parse_seeds

DEFAULT_MODEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets", "demo_generator.npz")
MAX_GRID_CELLS = 64  # grid frames render every cell in one batch: bounded memory and latency
MAX_CLIP_SECONDS = 60.0
CLIP_FPS = 25.0
FRAME_HEIGHT = 320  # pixels the frame is shown at (scaled: the models are 32 to 256 pixels)
# Frames scaled up to their box, pixels kept sharp (the image itself stays the model's exact frame).
CSS = "#frame img, #grid img { width: 100%; height: 100%; object-fit: contain; image-rendering: pixelated; }"

FLAGS = flags.FLAGS


def _define_flags():
    """The program's flags, defined only when it runs: tests import the page (`build_app`) in-process, where
    another program's --checkpoint must not collide with this one."""
    cli.define_checkpoint_flag("Training run directory (newest checkpoint), checkpoint prefix, "
                               "G_ema-reference-*.npz (with its .json), or an exported SavedModel (loading one runs "
                               "its graph: only SavedModels you trust); default: the bundled demo model.",
                               required=False)
    flags.DEFINE_string("host", "127.0.0.1", "Address to serve on (0.0.0.0: every interface; default: this "
                        "machine only).")
    flags.DEFINE_integer("port", 7860, "Port to serve on.")
    flags.DEFINE_float("max_time", 1024.0, "End of the time slider, in frames (any t below it can be typed too).")


class BadInput(ValueError):
    """Page input that cannot be rendered; its message is shown in the page's status line."""


def _one_seed(text, what):
    seeds = _seeds(text, what)
    if len(seeds) != 1:
        raise BadInput(f"{what}: one seed, got {text!r}.")
    return seeds[0]


def _seeds(text, what):
    try:
        return parse_seeds(str(text), what)
    except ValueError as error:
        raise BadInput(str(error)) from None


def _number(value, what):
    """A page value (text or number) as a finite float, or BadInput naming `what`."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BadInput(f"{what}: {value!r} is not a number.") from None
    if not math.isfinite(number):
        raise BadInput(f"{what}: must be finite, got {value!r}.")
    return number


def _time(t):
    """The time t of the page (typed text or the slider's number), checked."""
    t = _number(t, "time t")
    if t < 0:
        raise BadInput(f"time t: must be >= 0 (frames), got {t:g}.")
    if t >= generation.MAX_TIME:
        raise BadInput(f"time t: must be below {generation.MAX_TIME:.0f} frames (float32 times), got {t:g}.")
    return t


def grid_frame(G, content_seeds, motion_seeds, t, truncation_psi=1.0, class_idx=None):
    """The content x motion grid at time t: column j has content `content_seeds[j]`, row i motion
    `motion_seeds[i]`; cell (i, j) is the frame `frame(G, content_seeds[j], motion_seeds[i], t, ...)`.

    Args:
        G: the generator (float32).
        content_seeds: the columns' content seeds.
        motion_seeds: the rows' motion seeds.
        t: the time (frames, real, >= 0).
        truncation_psi: truncation of the content latents.
        class_idx: class of a conditional model (None for an unconditional one).

    Returns:
        uint8 [rows * R, columns * R, 3].
    """
    content, motion = generation.grid_cells(content_seeds, motion_seeds)
    renderer = generation.VideoRenderer(G, content, motion, time_offset=t, chunk_frames=1,
                                        truncation_psi=truncation_psi, class_idx=class_idx)
    return video.video_grid(next(renderer.chunks(1)), len(content_seeds))[0]


def frame(G, content_seed, motion_seed, t, truncation_psi=1.0, class_idx=None):
    """The frame at time t of the video with content `content_seed` and motion `motion_seed`: uint8 [R, R, 3]."""
    return grid_frame(G, [content_seed], [motion_seed], t, truncation_psi, class_idx)


def _class_choices(G):
    return [str(i) for i in range(G.c_dim)]


def _class(G, label):
    return int(label) if G.c_dim else None


def _time_control(gr, max_time, elem_id):
    """A time slider over [0, max_time] and the exact time t as text, kept together in the browser; the text
    is the time the page renders (a slider cannot hold an invalid time, so it could not report one).

    Returns:
        the text box (its `.change` is the time's).
    """
    slider = gr.Slider(0.0, max_time, value=0.0, step=0.01, label="time t (frames of the training data)",
                       elem_id=elem_id)
    text = gr.Textbox("0.0", label="exact time t (any real t >= 0)", elem_id=elem_id + "_text")
    slider.input(None, slider, text, js="(t) => String(t)")
    # A typed time moves the slider when the slider can show it; else it stays (the page reports the error).
    text.change(None, [text, slider], slider, js=f"(text, current) => {{ const t = Number(text); return "
                f"text.trim() !== '' && t >= 0 && t <= {float(max_time)!r} ? t : current; }}")
    return text


def build_app(G, max_time=1024.0, title="svgan-tf"):
    """The demo page for generator `G` (not yet launched: `app.launch(...)`, as `main` does).

    Args:
        G: the generator (float32: `svgan_tf.cli.load_generator`).
        max_time: end of the time slider, in frames.
        title: the page's title.

    Returns:
        a `gradio.Blocks`. Its elements by id (tools/chromium.py drives them): `content`, `motion`, `time`
        (the slider), `time_text` (the exact time), `frame`, `status` (the frame tab); `contents`, `motions`,
        `grid_time`, `grid_time_text`, `grid`, `grid_status` (the grid tab); `psi`, `class`; `seconds`,
        `speed`, `clip_button`, `grid_clip_button`, `clip`, `clip_status`.
    """
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # nothing is sent anywhere
    import gradio as gr

    clip_dir = tempfile.mkdtemp(prefix="svgan-demo-")

    def guarded(render):
        """Runs `render`; bad input keeps the current outputs and puts the message in the status line."""
        def handler(*args):
            try:
                return render(*args)
            except (BadInput, cli.UserError) as error:
                return gr.update(), f"**error:** {error}"
        return handler

    def show_frame(content, motion, t, psi, label):
        content, motion = _one_seed(content, "content seed"), _one_seed(motion, "motion seed")
        t, psi = _time(t), _number(psi, "truncation")
        image = frame(G, content, motion, t, psi, _class(G, label))
        return image, f"content {content}, motion {motion}, t = {t!r}, truncation {psi:g}"

    def show_grid(contents, motions, t, psi, label):
        contents, motions = _seeds(contents, "content seeds"), _seeds(motions, "motion seeds")
        if len(contents) * len(motions) > MAX_GRID_CELLS:
            raise BadInput(f"grid: at most {MAX_GRID_CELLS} cells, got {len(contents)} x {len(motions)}.")
        t, psi = _time(t), _number(psi, "truncation")
        image = grid_frame(G, contents, motions, t, psi, _class(G, label))
        return image, f"{len(motions)} motions x {len(contents)} contents, t = {t!r}, truncation {psi:g}"

    def show_clip(contents, motions, t, seconds, speed, psi, label, grid):
        seeds = (_seeds(contents, "content seeds"), _seeds(motions, "motion seeds")) if grid else (
            [_one_seed(contents, "content seed")], [_one_seed(motions, "motion seed")])
        if grid and len(seeds[0]) * len(seeds[1]) > MAX_GRID_CELLS:
            raise BadInput(f"grid: at most {MAX_GRID_CELLS} cells, got {len(seeds[0])} x {len(seeds[1])}.")
        t, psi = _time(t), _number(psi, "truncation")
        seconds, speed = _number(seconds, "clip length"), _number(speed, "speed")
        if not 0 < seconds <= MAX_CLIP_SECONDS:
            raise BadInput(f"clip length: must be in (0, {MAX_CLIP_SECONDS:g}] seconds, got {seconds:g}.")
        if speed <= 0:
            raise BadInput(f"speed: must be > 0 (time step per frame), got {speed:g}.")
        num_frames = max(1, round(seconds * CLIP_FPS))
        if t + (num_frames - 1) * speed >= generation.MAX_TIME:
            raise BadInput(f"clip: its last frame would be beyond {generation.MAX_TIME:.0f} frames.")
        # One file per kind, replaced by the next clip: Gradio serves a copy, so /tmp does not fill up.
        path = os.path.join(clip_dir, "grid.mp4" if grid else "clip.mp4")
        generation.generate_video(G, path, *seeds, num_frames=num_frames, fps=CLIP_FPS, time_offset=t,
                                  time_step=speed, truncation_psi=psi, class_idx=_class(G, label), grid=grid,
                                  overwrite=True, progress=False)
        return path, (f"{num_frames} frames at {CLIP_FPS:g} fps from t = {t!r}, t step {speed:g} per frame "
                      f"({speed * CLIP_FPS:g} training frames per second)")

    exported = isinstance(G, SavedModelGenerator)
    start_psi = G.truncation_psi if exported else 1.0
    with gr.Blocks(title=title, analytics_enabled=False) as app:
        gr.Markdown(f"## {title}: {G.img_resolution}x{G.img_resolution} StyleGAN-V, one frame at any real time t")
        with gr.Row():
            psi = gr.Slider(-1.0, 2.0, value=start_psi, step=0.05, interactive=not exported, elem_id="psi",
                            label="truncation psi (fixed at export)" if exported else "truncation psi (1: none)")
            label = gr.Dropdown(_class_choices(G), value="0" if G.c_dim else None, label="class",
                                visible=bool(G.c_dim), elem_id="class")
        with gr.Tab("frame"):
            with gr.Row():
                with gr.Column():
                    with gr.Row():
                        content = gr.Textbox("0", label="content seed", elem_id="content")
                        motion = gr.Textbox("0", label="motion seed", elem_id="motion")
                    t = _time_control(gr, max_time, "time")
                    status = gr.Markdown(f"content 0, motion 0, t = 0.0, truncation {start_psi:g}", elem_id="status")
                image = gr.Image(frame(G, 0, 0, 0.0, start_psi, _class(G, "0")), format="png", type="numpy",
                                 label="frame at t", interactive=False, height=FRAME_HEIGHT, elem_id="frame")
            inputs = [content, motion, t, psi, label]
            # One listener for all the controls: its calls run one at a time, in order, and the page sends only
            # the newest pending one, so an older frame never replaces a newer (one listener per control would
            # run concurrently and could answer out of order).
            gr.on([control.change for control in inputs], guarded(show_frame), inputs, [image, status],
                  trigger_mode="always_last", show_progress="hidden", preprocess=False)
        with gr.Tab("content x motion grid"):
            with gr.Row():
                contents = gr.Textbox("0-3", label="content seeds (columns), e.g. 0-3,7", elem_id="contents")
                motions = gr.Textbox("0-2", label="motion seeds (rows)", elem_id="motions")
                with gr.Column():
                    grid_t = _time_control(gr, max_time, "grid_time")
            grid_status = gr.Markdown("", elem_id="grid_status")
            grid_image = gr.Image(format="png", type="numpy", label="grid at t", interactive=False,
                                  height=2 * FRAME_HEIGHT, elem_id="grid")
            grid_inputs = [contents, motions, grid_t, psi, label]
            # The same for the grid, whose first rendering (on page load) is one of that listener's calls too.
            gr.on(None, guarded(show_grid), grid_inputs, [grid_image, grid_status], trigger_mode="always_last",
                  show_progress="hidden", preprocess=False)
        with gr.Accordion("clip", open=True):
            with gr.Row():
                seconds = gr.Number(2.0, label="seconds", elem_id="seconds")
                speed = gr.Slider(0.05, 4.0, value=1.0, step=0.05, label="speed: time step per frame (0.25: 4x "
                                  "slow motion)", elem_id="speed")
                with gr.Column():
                    frame_clip = gr.Button("clip of the frame tab's video from its t", elem_id="clip_button")
                    grid_clip = gr.Button("clip of the grid from its t", elem_id="grid_clip_button")
            clip_status = gr.Markdown("", elem_id="clip_status")
            clip = gr.Video(label=f"clip ({CLIP_FPS:g} fps)", interactive=False, height=FRAME_HEIGHT,
                            elem_id="clip")
            frame_clip.click(guarded(lambda *a: show_clip(*a, grid=False)),
                             [content, motion, t, seconds, speed, psi, label], [clip, clip_status], preprocess=False)
            grid_clip.click(guarded(lambda *a: show_clip(*a, grid=True)),
                            [contents, motions, grid_t, seconds, speed, psi, label], [clip, clip_status],
                            preprocess=False)
    return app


def launch(app, host="127.0.0.1", port=7860, block=False):
    """Serves `app` on host:port and returns its URL; `app.close()` stops it.

    Args:
        app: `build_app`'s page.
        host: address to serve on.
        port: port to serve on.
        block: serve until interrupted: KeyboardInterrupt, once the server is closed.
    """
    logging.getLogger("httpx").setLevel(logging.WARNING)  # Gradio's own start-up requests, one line each
    _, url, _ = app.launch(server_name=host, server_port=port, prevent_thread_lock=True, quiet=True,
                           ssr_mode=False, show_error=False, footer_links=[], css=CSS)
    if block:
        print(f"{cli.program_name()}: serving {url} (Ctrl-C to stop)", file=sys.stderr)
        try:
            while True:
                time.sleep(1.0)
        finally:  # Ctrl-C: the server stops, and cli.run exits with 130 as every program does
            app.close()
    return url


def _savedmodel_version(path):
    """The SavedModel directory of `path` (itself, or the newest numbered version of a TF Serving folder), or
    None when `path` is not one."""
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        return path
    versions = [int(name) for name in os.listdir(path) if name.isdigit()] if os.path.isdir(path) else []
    for version in sorted(versions, reverse=True):
        if os.path.isfile(os.path.join(path, str(version), "saved_model.pb")):
            return os.path.join(path, str(version))
    return None


def load(checkpoint=None):
    """The generator the demo shows: `checkpoint` (run, checkpoint prefix, `.npz` or exported SavedModel), or
    the bundled `DEFAULT_MODEL` when None.

    Returns:
        a `Generator` (float32), or a `SavedModelGenerator` for an export.

    Raises:
        cli.UserError: naming --checkpoint, for a missing or foreign path.
    """
    path = checkpoint or DEFAULT_MODEL
    exported = _savedmodel_version(path)
    if exported:
        try:
            return SavedModelGenerator(exported)
        except (OSError, ValueError, KeyError, tf.errors.OpError) as error:
            first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise cli.UserError(f"--checkpoint: {exported}: not a loadable svgan-tf SavedModel "
                                f"({first_line}).") from None
    if not (os.path.exists(path) or os.path.exists(path + ".index")):  # a checkpoint prefix is not a file
        if checkpoint is None:
            raise cli.UserError(f"--checkpoint: the bundled demo model {path} is missing from this installation; "
                                "give a run, checkpoint or .npz.")
        raise cli.UserError(f"--checkpoint: {path}: no such run, checkpoint, .npz or SavedModel.")
    return cli.load_generator(path)


def main(argv):
    del argv  # cli.run has rejected positional arguments
    if not 0 < FLAGS.port < 65536:
        raise cli.UserError(f"--port: must be in 1..65535, got {FLAGS.port}.")
    if not (math.isfinite(FLAGS.max_time) and 0 < FLAGS.max_time <= generation.MAX_TIME):
        raise cli.UserError(f"--max_time: must be in (0, {generation.MAX_TIME:.0f}], got {FLAGS.max_time}.")
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise cli.UserError("the demo needs Gradio: pip install 'svgan-tf[demo]' (or -r requirements/demo.txt).")
    G = load(FLAGS.checkpoint)
    title = f"svgan-tf: {FLAGS.checkpoint}" if FLAGS.checkpoint else "svgan-tf demo (bundled model)"
    launch(build_app(G, FLAGS.max_time, title), FLAGS.host, FLAGS.port, block=True)


if __name__ == "__main__":
    _define_flags()
    cli.run(main)
