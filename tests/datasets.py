"""Small datasets for the data tests: reference-layout frame folders, zips of them, video files, clip batches."""

import json
import os
import zipfile

import numpy as np
import PIL.Image

from svgan_tf.data import pipeline

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
