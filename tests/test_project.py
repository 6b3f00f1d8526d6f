"""python -m svgan_tf.project: it writes the latents, the reconstruction beside the target, the animation and
the metrics; `svgan_tf.generate --latents` renders the projected content; user errors are one line, exit 2."""

import json
import os

import keras
import numpy as np
import PIL.Image
import pytest

from svgan_tf.data.video import read_mp4
from svgan_tf.generation import VideoRenderer
from svgan_tf.metrics import inception
from svgan_tf.projection import load_latents
from tests.support import absent, narrow_vgg16_tensors, run_program, tiny_generator, write_npz_generator
from tools.pickle_writer import torchscript_module_archive


@pytest.fixture(scope="module")
def G():
    keras.utils.set_random_seed(3)
    return tiny_generator()


@pytest.fixture
def checkpoint(G, tmp_path):
    return write_npz_generator(G, str(tmp_path))


def _cli(module, *args):
    return run_program(module, *args)


def test_project_a_frame_folder_then_generate_from_its_latents(G, checkpoint, tmp_path):
    try:
        inception.default_weights_path()
    except FileNotFoundError as error:
        absent(f"INCEPTION WEIGHTS ABSENT (the perceptual loss): {error}")
    target = tmp_path / "clip"
    target.mkdir()
    for i in range(3):
        PIL.Image.fromarray(np.full((40, 48, 3), 60 * i, np.uint8)).save(target / f"{i:02d}.png")
    out = tmp_path / "out"
    result = _cli("svgan_tf.project", f"--checkpoint={checkpoint}", f"--target={target}", f"--out={out}",
                  "--num_steps=4", "--animation_frames=3", "--animation_format=frames")
    assert result.returncode == 0, result.stderr
    assert "projecting: 4/4 steps" in result.stderr
    assert sorted(os.listdir(out)) == ["animation", "latents.npz", "metrics.json", "reconstruction.png"]
    ws, motion_z = load_latents(str(out / "latents.npz"), G)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["motion_optimized"] and metrics["times"] == [0.0, 1.0, 2.0]
    assert len(metrics["reconstruction"]["psnr"]) == 3 and len(metrics["start_w_avg"]["distance"]) == 3
    assert np.asarray(PIL.Image.open(out / "reconstruction.png")).shape == (2 * 32, 3 * 32, 3)  # target over result
    animation = np.stack([np.asarray(PIL.Image.open(out / "animation" / f"frame_{i:06d}.png")) for i in range(3)])
    expected = next(VideoRenderer(G, [0], [0], ws=ws).chunks(3))[0]  # the content with the motion of --motion_seed
    np.testing.assert_array_equal(animation, expected)

    videos = tmp_path / "videos"
    result = _cli("svgan_tf.generate", f"--checkpoint={checkpoint}", f"--latents={out / 'latents.npz'}",
                  f"--out={videos}", "--seeds=4", "--num_frames=2", "--format=mp4")
    assert result.returncode == 0, result.stderr
    expected = next(VideoRenderer(G, [4], ws=ws).chunks(2))[0]
    assert np.abs(read_mp4(videos / "seed0004.mp4").astype(int) - expected).mean() < 8  # H.264 is lossy

    again = _cli("svgan_tf.project", f"--checkpoint={checkpoint}", f"--target={target}", f"--out={out}")
    assert again.returncode == 2 and again.stderr.strip().endswith("choose another --out.")
    assert len(again.stderr.strip().splitlines()) == 1


def test_projection_with_the_reference_lpips_vgg16(checkpoint, tmp_path):
    vgg16 = torchscript_module_archive(tmp_path / "vgg16.pt", narrow_vgg16_tensors())
    PIL.Image.fromarray(np.full((32, 32, 3), 90, np.uint8)).save(tmp_path / "a.png")
    out = tmp_path / "out"
    result = _cli("svgan_tf.project", f"--checkpoint={checkpoint}", f"--target={tmp_path / 'a.png'}", f"--out={out}",
                  f"--vgg16={vgg16}", "--num_steps=2", "--animation_frames=0")
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["distance"] == "lpips-vgg16" and not metrics["motion_optimized"]
    assert sorted(os.listdir(out)) == ["latents.npz", "metrics.json", "reconstruction.png"]
    result = _cli("svgan_tf.project", f"--checkpoint={checkpoint}", f"--target={tmp_path / 'a.png'}",
                  f"--out={tmp_path / 'out2'}", f"--vgg16={tmp_path / 'a.png'}")
    assert result.returncode == 2 and result.stderr.strip().startswith("svgan_tf.project: error: --vgg16: ")


def test_user_errors_are_one_line(checkpoint, tmp_path):
    result = _cli("svgan_tf.project", f"--checkpoint={checkpoint}", f"--target={tmp_path / 'missing.png'}",
                  f"--out={tmp_path / 'out'}")
    assert result.returncode == 2
    assert result.stderr.strip() == f"svgan_tf.project: error: --target: {tmp_path / 'missing.png'} does not exist."
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    result = _cli("svgan_tf.generate", f"--checkpoint={checkpoint}", f"--latents={tmp_path / 'bad.npz'}",
                  f"--out={tmp_path / 'v'}")
    assert result.returncode == 2 and "--latents:" in result.stderr and "bad.npz" in result.stderr
    result = _cli("svgan_tf.generate", f"--checkpoint={checkpoint}", f"--latents={tmp_path / 'bad.npz'}",
                  f"--out={tmp_path / 'v'}", "--truncation_psi=0.5")
    assert result.returncode == 2 and result.stderr.strip().startswith(
        "svgan_tf.generate: error: --truncation_psi: not with --latents")
