"""The LiteRT player (svgan_tf/export/player.py), run by its program `python -m svgan_tf.play`, renders a video
from the .tflite file alone, without importing TensorFlow."""

import os
import re
import subprocess
import sys

import keras
import numpy as np
from PIL import Image

from svgan_tf.export import tflite
from svgan_tf.latents import MotionTokenStream, content_z
from svgan_tf.training import summaries
from tests.support import tiny_generator

# Runs the player with TensorFlow made unimportable: any `import tensorflow` raises ImportError.
NO_TENSORFLOW = ("import runpy, sys; sys.modules['tensorflow'] = None; sys.argv[0] = 'tflite_player'; "
                 "runpy.run_module('svgan_tf.play', run_name='__main__')")


def test_player_renders_the_keras_frames_without_tensorflow(tmp_path):
    keras.utils.set_random_seed(5)
    G = tiny_generator()
    tflite.export_tflite(G, str(tmp_path / "g.tflite"))
    result = subprocess.run([sys.executable, "-c", NO_TENSORFLOW, f"--model={tmp_path / 'g.tflite'}",
                             f"--out={tmp_path / 'frames'}", "--seed=3", "--num_frames=12", "--time_step=0.75",
                             "--time_offset=50"], capture_output=True, text=True, cwd=os.getcwd())
    assert result.returncode == 0, result.stderr[-3000:]
    files = sorted(os.listdir(tmp_path / "frames"))
    assert len(files) == 12
    frames = np.stack([np.asarray(Image.open(tmp_path / "frames" / f)) for f in files])
    # The same video from the Keras model: the player's content draw and token stream.
    t = 50 + 0.75 * np.arange(12, dtype=np.float32)
    z = content_z(3, G.z_dim)[None]
    start, length = G.token_window(t)
    window = MotionTokenStream(3, G.motion_z_dim).window(start, length)[None]
    expected = summaries.to_uint8(G(z, t[None], window, token_offset=start))[0].numpy()
    assert np.abs(frames.astype(int) - expected.astype(int)).max() <= 1
    # Seed 3's content given as a latents file (svgan_tf.project's format): the same video.
    np.savez(tmp_path / "latents.npz", ws=G.mapping(z).numpy())
    result = subprocess.run([sys.executable, "-c", NO_TENSORFLOW, f"--model={tmp_path / 'g.tflite'}",
                             f"--out={tmp_path / 'projected'}", "--seed=3", "--num_frames=12", "--time_step=0.75",
                             "--time_offset=50", f"--latents={tmp_path / 'latents.npz'}"],
                            capture_output=True, text=True, cwd=os.getcwd())
    assert result.returncode == 0, result.stderr[-3000:]
    projected = np.stack([np.asarray(Image.open(tmp_path / "projected" / f)) for f in files])
    assert np.abs(projected.astype(int) - expected.astype(int)).max() <= 1


def test_player_refuses_a_file_that_is_not_a_frame_model(tmp_path):
    (tmp_path / "bad.tflite").write_bytes(b"not a flatbuffer")
    result = subprocess.run([sys.executable, "-m", "svgan_tf.play", f"--model={tmp_path / 'bad.tflite'}",
                             f"--out={tmp_path / 'v.mp4'}"], capture_output=True, text=True)
    assert result.returncode == 2 and re.fullmatch(r"svgan_tf\.play: error: .*bad\.tflite: not a LiteRT model .*\n",
                                                   result.stderr)
    assert not (tmp_path / "v.mp4").exists()
