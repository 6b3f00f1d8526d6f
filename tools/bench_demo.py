"""The demo page's latency: from a move of its time slider to the new frame on screen, in headless Chromium.

    python -m tools.bench_demo                                        # the bundled model (svgan_tf.demo)
    python -m tools.bench_demo --checkpoint=runs/demo --moves=30
    python -m tools.bench_demo --flagfile=configs/demo.flags --random_weights   # a training config's generator

The page (`svgan_tf.demo.build_app`) is served on a free port and opened in Debian's `chromium`
(tools/chromium.py). Each move drags the time slider's thumb with the mouse to a random place of its track;
the time runs in the page, from just before the drag to the new <img> decoded (`performance.now()`): the
browser's events, Gradio's round trip, the frame rendered by the library, its PNG encoded, fetched and
decoded. The first move is a warm-up and not counted. "library" is `svgan_tf.demo.frame` alone, in this
process, for comparison (the same frames).
"""

import statistics
import tempfile
import time

import numpy as np
from absl import app, flags

from svgan_tf import demo
from svgan_tf.data import pipeline
from svgan_tf.networks.generator import Generator
from svgan_tf.training import config
from tools import chromium

flags.DEFINE_string("checkpoint", None, "Run, checkpoint or .npz (default: the bundled demo model).")
flags.DEFINE_bool("random_weights", False, "Instead: the generator of the training flags given (e.g. "
                  "--flagfile=configs/demo.flags), with random weights.")
flags.DEFINE_integer("moves", 20, "Slider moves measured.")
flags.DEFINE_integer("positions_seed", 0, "Seed of the slider positions.")
config.define_flags()
FLAGS = flags.FLAGS


def _generator():
    if not FLAGS.random_weights:
        return demo.load(FLAGS.checkpoint)
    cfg = config.from_flags()
    source = pipeline.open_source(cfg.data)
    cfg = cfg.resolve(source.index.resolution, source.index.c_dim)
    return Generator(**{**cfg.generator_kwargs(), "num_fp16_res": 0})


def _summary(name, values):
    values = sorted(values)
    p90 = values[min(len(values) - 1, int(0.9 * len(values)))]
    print(f"{name:<28} median {statistics.median(values):7.1f} ms   p90 {p90:7.1f} ms   min {values[0]:7.1f} ms   "
          f"max {values[-1]:7.1f} ms   ({len(values)} moves)")


def main(argv):
    del argv
    path = chromium.executable()
    if path is None:
        raise SystemExit("chromium is not installed: apt-get install -y chromium")
    G = _generator()
    rng = np.random.default_rng(FLAGS.positions_seed)
    fractions = rng.uniform(0.02, 0.98, FLAGS.moves + 1)
    max_time = 1024.0
    library = []
    for fraction in fractions:
        start = time.perf_counter()
        demo.frame(G, 0, 0, float(fraction * max_time))
        library.append(1000 * (time.perf_counter() - start))
    page_app = demo.build_app(G, max_time=max_time)
    url = demo.launch(page_app, port=chromium.free_port())
    browser = None
    try:
        with tempfile.TemporaryDirectory() as profile:
            browser = chromium.Chromium(path, profile)
            page = chromium.DemoPage(browser, url)
            shown = []
            for fraction in fractions:
                page.watch()
                page.drag_slider("time", fraction)
                shown.append(page.shown_ms())
            browser.close()
            browser = None
    finally:
        if browser is not None:
            browser.close()
        page_app.close()
    weights = "random weights" if FLAGS.random_weights else FLAGS.checkpoint or "the bundled model"
    print(f"{G.img_resolution}x{G.img_resolution} generator, {weights}")
    _summary("slider move -> frame shown", shown[1:])
    _summary("library frame alone", library[1:])


if __name__ == "__main__":
    app.run(main)
