"""python -m svgan_tf.demo: the page's frames are the library's, driven in a real (headless) Chromium.

The browser is Debian's `chromium` (`.ci/run` installs it; nothing is downloaded), driven over its DevTools
protocol (`tools/chromium.py`): the test moves the time slider with the mouse, types seeds and
times, reads back the PNG bytes the page's <img> shows and compares them with the frames
`svgan_tf.generation.generate_video` (the `svgan_tf.generate` program's path) writes for the same inputs.
Without chromium the browser test is skipped with its reason, and fails under CI=true.

Artefacts (a screenshot of the page, the measured slider-to-frame latency): `$TEST_UNDECLARED_OUTPUTS_DIR`
under Bazel, else `test-artefacts/` in the repository (git-ignored); the test prints the path.
"""

import contextlib
import json
import os
import pathlib
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

import numpy as np
import PIL.Image
import pytest

from svgan_tf import cli, demo, generation, tokens
from svgan_tf.data import video
from svgan_tf.export.player import frame_to_uint8
from svgan_tf.export.savedmodel import SavedModelRunner, export_savedmodel
from svgan_tf.latents import MotionTokenStream, content_z
from svgan_tf.training import run_dir
from tests.support import REPO, absent, tiny_generator, user_env
from tools import chromium
from tools.chromium import Chromium, DemoPage, free_port, wait


def _artefacts():
    """Where the test keeps what a person may want to look at (printed by the test)."""
    folder = pathlib.Path(os.environ.get("TEST_UNDECLARED_OUTPUTS_DIR") or REPO / "test-artefacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _chromium():
    executable = chromium.executable()
    if executable is None:
        absent("BROWSER ABSENT: Debian's chromium is not installed (apt-get install -y chromium); the demo page "
               "NOT checked in a browser")
    return executable


def _screenshot(browser, name):
    path = _artefacts() / name
    browser.screenshot(path)
    print(f"\nscreenshot: {path}")
    return path


def _clip(browser, folder, previous):
    """The frames of the clip the page shows (once it is not `previous`)."""
    def new_clip():
        src = browser.js("(document.querySelector('#clip video') || {}).src")
        if not src:
            return None
        path = folder / "clip.mp4"
        path.write_bytes(urllib.request.urlopen(src).read())
        frames = video.read_mp4(path)
        return [frames] if previous is None or frames.shape != previous.shape else None
    return wait(new_clip, 30, "the clip")[0]


def _library_frame(G, content, motion, t, folder, truncation_psi=1.0):
    """The frame `python -m svgan_tf.generate --format=frames` writes for these inputs (its library path)."""
    path = folder / f"frames{len(list(folder.glob('frames*')))}"
    generation.generate_video(G, path, [content], [motion], num_frames=1, time_offset=t,
                              truncation_psi=truncation_psi, progress=False)
    return np.asarray(PIL.Image.open(path / "frame_000000.png"))


@contextlib.contextmanager
def _page(G, tmp_path):
    """The demo page of `G` (t up to 64) served here and opened in headless Chromium: (browser, page)."""
    executable = _chromium()
    app = demo.build_app(G, max_time=64.0)
    url = demo.launch(app, port=free_port())
    browser = None
    try:
        browser = Chromium(executable, tmp_path / "profile")
        yield browser, DemoPage(browser, url)
    finally:
        if browser is not None:
            browser.close()
        app.close()


@pytest.fixture(scope="module")
def generator(tmp_path_factory):
    """A tiny generator, saved as a reference `.npz` and loaded back as the program loads --checkpoint."""
    path = str(tmp_path_factory.mktemp("model") / "G_ema-reference-000000.npz")
    run_dir.write_reference_generator(path, tiny_generator())
    return cli.load_generator(path)


def test_page_shows_the_library_frames_in_a_browser(generator, tmp_path, monkeypatch):
    # What the demo hands to the H.264 encoder, per output file: compared with the library's lossless frames,
    # since two encodes of (near-)equal frames need not agree (x264's decisions flip on one level's change).
    encoded, encode = {}, video.Mp4Writer._write

    def recording_encode(writer, frames):
        encoded.setdefault(str(writer.path), []).append(frames.copy())
        encode(writer, frames)
    monkeypatch.setattr(video.Mp4Writer, "_write", recording_encode)
    with _page(generator, tmp_path) as (browser, page):
        np.testing.assert_array_equal(page.image(), _library_frame(generator, 0, 0, 0.0, tmp_path))

        # The time slider, moved with the mouse: each move shows the frame at the slider's t, timed.
        latencies = []
        for fraction in (0.3, 0.55, 0.8, 0.42, 0.67):
            page.watch()
            page.drag_slider("time", fraction)
            latencies.append(page.shown_ms())
            t = float(page.wait_status(r"t = (?P<t>[0-9.e+-]+),").group("t"))
            assert abs(t - fraction * 64.0) < 1.0
            shown = page.image()
            assert np.abs(shown.astype(int) - _library_frame(generator, 0, 0, t, tmp_path)).max() <= 1

        # Seeds and an exact real time, typed.
        page.type("#content textarea", "5")
        page.wait_status(r"content 5, motion 0")
        page.type("#motion textarea", "11")
        page.type("#time_text textarea", "2.375")
        page.wait_status(r"content 5, motion 11, t = 2\.375,")
        np.testing.assert_array_equal(page.image(), _library_frame(generator, 5, 11, 2.375, tmp_path))

        # The grid tab: cell (i, j) is content j under motion i.
        page.tab("grid")
        page.wait_status(r"4 contents, t = 0\.0,", elem="grid_status")  # rendered on page load
        page.type("#grid_time_text textarea", "7.5")
        page.wait_status(r"t = 7\.5,", elem="grid_status")
        grid = page.image("grid")
        r = generator.img_resolution
        assert grid.shape == (3 * r, 4 * r, 3)
        np.testing.assert_array_equal(grid[2 * r:, 1 * r:2 * r], _library_frame(generator, 1, 2, 7.5, tmp_path))
        page.tab("frame")

        # A clip on request: 0.4 s at 25 fps from t = 2.375, 4x slow motion.
        page.type("#seconds input", "0.4")
        page.type("#speed input[type=number]", "0.25")
        browser.js("document.querySelector('#clip_button').click()")
        page.wait_status(r"10 frames at 25 fps from t = 2\.375, t step 0\.25", elem="clip_status")
        frames = _clip(browser, tmp_path, None)
        assert frames.shape == (10, r, r, 3)
        # The page plays the very file the demo encoded, and the demo encoded generate's frames for these inputs.
        (clip_path, fed), = encoded.items()
        assert (tmp_path / "clip.mp4").read_bytes() == pathlib.Path(clip_path).read_bytes()
        generation.generate_video(generator, tmp_path / "generate", [5], [11], num_frames=10, fps=25.0,
                                  time_offset=2.375, time_step=0.25, progress=False)
        expected = np.stack([np.asarray(PIL.Image.open(tmp_path / "generate" / f"frame_{i:06d}.png"))
                             for i in range(10)])
        assert np.abs(np.concatenate(fed).astype(int) - expected).max() <= 1
        # H.264 is lossy: what the browser decodes is near those frames.
        assert np.abs(frames.astype(float) - expected).mean() < 12
        _screenshot(browser, "demo_page.png")
        # The grid's clip replaces it.
        page.type("#seconds input", "0.2")
        browser.js("document.querySelector('#grid_clip_button').click()")
        page.wait_status(r"5 frames at 25 fps from t = 7\.5,", elem="clip_status")
        assert _clip(browser, tmp_path, frames).shape == (5, 3 * r, 4 * r, 3)

        # Bad input: a message in the page, the last frame kept, no traceback.
        before = page.src()
        page.type("#content textarea", "abc")
        message = page.wait_status(r"error: content seed: .*'abc'.*").group(0)
        page.type("#content textarea", "5")
        page.wait_status(r"content 5, motion 11")
        page.type("#time_text textarea", "-3")
        negative = page.wait_status(r"error: time t: .*-3.*").group(0)
        assert page.src() == before and "Traceback" not in browser.js("document.body.innerText")
        _screenshot(browser, "demo_page_errors.png")

        # The first move also opens Gradio's event stream: it is reported, not counted in the median.
        report = {"slider_to_frame_ms": latencies, "median_ms_after_the_first": statistics.median(latencies[1:]),
                  "bad_seed_message": message, "negative_time_message": negative}
        (_artefacts() / "demo_latency.json").write_text(json.dumps(report, indent=1))
        print(f"\nslider move -> new frame: median {statistics.median(latencies[1:]):.0f} ms after the first "
              f"({', '.join(f'{x:.0f}' for x in latencies)} ms)")


def test_an_older_frame_never_replaces_a_newer_one(generator, tmp_path, monkeypatch):
    """Two edits in a row whose first takes longest: the page ends on the second's frame, as a user expects."""
    finished, render = threading.Event(), demo.frame

    def slow_for_the_first_edit(G, content, motion, *args):
        if (content, motion) == (5, 0):
            time.sleep(3.0)
            image = render(G, content, motion, *args)
            finished.set()
            return image
        return render(G, content, motion, *args)
    monkeypatch.setattr(demo, "frame", slow_for_the_first_edit)
    with _page(generator, tmp_path) as (_, page):
        page.type("#content textarea", "5")
        page.type("#motion textarea", "11")
        assert finished.wait(30)
        page.wait_status(r"content 5, motion 11,")
        time.sleep(1.0)  # long enough for an answer still on its way to arrive
        assert re.match(r"content 5, motion 11,", page.status())
        np.testing.assert_array_equal(page.image(), _library_frame(generator, 5, 11, 0.0, tmp_path))


def test_without_checkpoint_the_bundled_model_is_shown(generator, tmp_path, monkeypatch):
    bundled = str(tmp_path / "demo_generator.npz")
    run_dir.write_reference_generator(bundled, generator)
    monkeypatch.setattr(demo, "DEFAULT_MODEL", bundled)
    G = demo.load(None)
    np.testing.assert_array_equal(demo.frame(G, 3, 4, 1.5), demo.frame(generator, 3, 4, 1.5))
    monkeypatch.setattr(demo, "DEFAULT_MODEL", str(tmp_path / "absent.npz"))
    with pytest.raises(cli.UserError, match="bundled demo model .*absent.npz is missing"):
        demo.load(None)


def test_frames_are_the_generate_programs(generator, tmp_path):
    """Content and motion seeds apart, a real t, truncation: the frame and each grid cell are generate's."""
    t = 9.8125
    expected = _library_frame(generator, 2, 7, t, tmp_path, truncation_psi=0.7)
    np.testing.assert_array_equal(demo.frame(generator, 2, 7, t, 0.7), expected)
    grid = demo.grid_frame(generator, [4, 2], [1, 7], t, 0.7)
    r = generator.img_resolution
    np.testing.assert_array_equal(grid[r:, r:], expected)
    np.testing.assert_array_equal(grid[:r, :r], _library_frame(generator, 4, 1, t, tmp_path, truncation_psi=0.7))
    # Frame 9 of generate's 4x slow-motion video is at t = 2.25.
    path = tmp_path / "slow"
    generation.generate_video(generator, path, [3], num_frames=12, time_step=0.25, progress=False)
    ninth = np.asarray(PIL.Image.open(path / "frame_000009.png"))
    np.testing.assert_array_equal(demo.frame(generator, 3, 3, 2.25), ninth)


def test_conditional_model_renders_its_classes(tmp_path):
    G = tiny_generator(c_dim=3)
    frames = [demo.frame(G, 0, 0, 2.0, class_idx=c) for c in range(3)]
    assert not np.array_equal(frames[0], frames[1])
    path = tmp_path / "frames"
    generation.generate_video(G, path, [0], [0], num_frames=1, time_offset=2.0, class_idx=2, progress=False)
    np.testing.assert_array_equal(frames[2], np.asarray(PIL.Image.open(path / "frame_000000.png")))


def test_a_missing_checkpoint_is_one_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "svgan_tf.demo", f"--checkpoint={tmp_path / 'missing'}"],
                            cwd=REPO, env=user_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == f"svgan_tf.demo: error: --checkpoint: {tmp_path / 'missing'}: no such run, checkpoint, " \
                            ".npz or SavedModel.\n"


def test_an_exported_savedmodel_shows_tf_servings_frames(generator, tmp_path):
    # The TF Serving folder (its newest version) and a version directory both load.
    export_savedmodel(generator, str(tmp_path / "sky"), version=1, truncation_psi=0.7)
    exported = demo.load(str(tmp_path / "sky"))
    assert exported.path == str(tmp_path / "sky" / "1") and exported.truncation_psi == pytest.approx(0.7)
    t = 9.8125
    shown = demo.frame(exported, 2, 7, t, exported.truncation_psi)
    # The frame TF Serving computes: frame_at_time(mapping(z), the motion seed's window at t, t).
    model = SavedModelRunner(str(tmp_path / "sky" / "1"))
    w = model("mapping", z=content_z(2, generator.z_dim)[None])["w"]
    start = tokens.window_start(t, generator.motion_z_distance)
    window = MotionTokenStream(7, generator.motion_z_dim).window(start, generator.window_length)[None]
    served = frame_to_uint8(model("frame_at_time", w=w, window=window, t=np.float32([t]))["frame"][0])
    assert np.abs(shown.astype(int) - served).max() <= 1
    # ... which is the checkpoint's frame (the export's parity), and grid cells are single frames.
    assert np.abs(shown.astype(int) - demo.frame(generator, 2, 7, t, 0.7)).max() <= 1
    r = generator.img_resolution
    grid = demo.grid_frame(exported, [4, 2], [1, 7], t, exported.truncation_psi)
    assert np.abs(grid[r:, r:].astype(int) - shown).max() <= 1
    # The truncation is the export's: another one is a message naming it, as the page shows it.
    with pytest.raises(cli.UserError, match=r"--truncation_psi: .*sky/1 was exported with truncation 0\.7, fixed"):
        demo.frame(exported, 2, 7, t, 1.0)
    # A clip, as the page's clip button writes it.
    generation.generate_video(exported, tmp_path / "clip", [2], [7], num_frames=3, time_offset=t, time_step=0.5,
                              truncation_psi=exported.truncation_psi, progress=False)
    assert np.abs(np.asarray(PIL.Image.open(tmp_path / "clip" / "frame_000000.png")).astype(int) - shown).max() <= 1
    # A folder that only looks like one is one line naming it.
    (tmp_path / "fake" / "3").mkdir(parents=True)
    (tmp_path / "fake" / "3" / "saved_model.pb").write_bytes(b"not a protobuf")
    with pytest.raises(cli.UserError, match=r"^--checkpoint: .*fake/3: not a loadable svgan-tf SavedModel \("):
        demo.load(str(tmp_path / "fake"))


def test_program_serves_the_page_on_this_machine(generator, tmp_path):
    # Of an exported SavedModel, the form a deployed model has (a checkpoint's page: the browser test).
    path = str(tmp_path / "models" / "sky")
    export_savedmodel(generator, path, version=3, truncation_psi=0.5)
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "svgan_tf.demo", f"--checkpoint={path}", f"--port={port}"],
                               cwd=REPO, env=user_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        def page():
            assert process.poll() is None, process.stdout.read()
            try:
                return urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read().decode()
            except OSError:
                return None
        html = wait(page, 120, "the demo page")
        assert f"svgan-tf: {path}" in html and "truncation psi (fixed at export)" in html
    finally:
        process.terminate()
        process.wait(timeout=30)
