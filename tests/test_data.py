"""Data pipeline: sparse sampling statistics, sources (folder / zip / TFRecord / demo), determinism, tools."""

import json
import os
import zipfile

import numpy as np
import PIL.Image
import pytest
import tensorflow as tf

from svgan_tf.data import pipeline as data
from svgan_tf import dataset as make_dataset

CFG = data.SamplingConfig()
LENGTHS = [6, 9, 2, 40, 17, 12]  # the 2-frame video is too short for k = 3


def _frame(video, frame, size=16):
    return np.random.default_rng([video, frame]).integers(0, 256, [size, size, 3], dtype=np.uint8)


def _write_folder(root, lengths=LENGTHS, labels=None, size=16):
    """Reference layout root/vid{v}/{f:06d}.png with random frames; optional dataset.json labels."""
    for v, length in enumerate(lengths):
        os.makedirs(root / f"vid{v}")
        for f in range(length):
            PIL.Image.fromarray(_frame(v, f, size)).save(root / f"vid{v}" / f"{f:06d}.png")
    if labels is not None:
        entries = [[f"vid{v}/{f:06d}.png", labels[v]] for v, n in enumerate(lengths) for f in range(n)]
        (root / "dataset.json").write_text(json.dumps({"labels": entries}))
    return root


def _zip(folder, path, top=None, dir_entries=True):
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


def _clips(source, n_batches=3, batch_size=4, seed=7, **kwargs):
    dataset = data.real_clip_dataset(source, CFG, batch_size, seed, **kwargs)
    return [{k: v.numpy() for k, v in b.items()} for b in dataset.take(n_batches)]


def _assert_same_clips(a, b):
    for x, y in zip(a, b, strict=True):
        for key in ("frames", "t", "c"):
            np.testing.assert_array_equal(x[key], y[key], err_msg=key)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return _write_folder(tmp_path_factory.mktemp("folder") / "videos", labels=[0, 2, 1, 2, 0, 1])


# ------------------------------------------------------------------------------------------------------
# Sampling.


def test_real_spans_are_uniform_over_allowed_powers_of_two():
    n = 20000
    for length, allowed in [(100, [2, 4, 8, 16, 32]), (10, [2, 4, 8]), (3, [2])]:
        frames, t = data.sample_real_frames(tf.fill([n], length), CFG, seed=length)
        frames, t = frames.numpy(), t.numpy()
        np.testing.assert_array_equal(frames, t)  # no window for videos shorter than max_num_frames
        span = frames[:, -1] - frames[:, 0]
        values, counts = np.unique(span, return_counts=True)
        np.testing.assert_array_equal(values, allowed)
        expected = n / len(allowed)
        chi2 = np.sum((counts - expected) ** 2 / expected)
        assert chi2 < 30, (length, counts)  # dof <= 4: p < 1e-5 for a correct sampler
        assert frames[:, 0].min() == 0 and np.all(frames[:, 0] <= length - span - 1)
        assert np.all(np.diff(frames, axis=1) > 0)  # sorted, interior frame distinct from both ends
        assert np.all(frames[:, -1] < length)


def test_real_offsets_cover_their_range_and_interior_is_uniform():
    frames, _ = data.sample_real_frames(tf.fill([20000], 40), CFG, seed=1)
    frames = frames.numpy()
    span = frames[:, 2] - frames[:, 0]
    for s in (2, 4, 8, 16, 32):
        picked = frames[span == s]
        assert set(picked[:, 0]) == set(range(40 - s))  # offsets 0..L-T-1 all reached
        interior = picked[:, 1] - picked[:, 0]
        assert set(interior) == set(range(1, s))


def test_more_frames_per_clip_and_min_video_length():
    cfg = data.SamplingConfig(num_frames=5, max_dist=16)
    assert cfg.allowed_dists == (4, 8, 16) and cfg.min_video_length == 5
    frames, _ = data.sample_real_frames(tf.fill([2000], 30), cfg, seed=3)
    frames = frames.numpy()
    assert np.all(np.diff(frames, axis=1) > 0)
    assert set(frames[:, -1] - frames[:, 0]) == {4, 8, 16}
    assert data.SamplingConfig(num_frames=4).min_video_length == 5  # span 3 is not a power of two
    with pytest.raises(ValueError, match="no span"):
        data.SamplingConfig(num_frames=3, max_dist=1)


def test_long_videos_use_a_random_window():
    cfg = data.SamplingConfig(max_num_frames=64, max_dist=None)
    frames, t = data.sample_real_frames(tf.fill([5000], 1000), cfg, seed=2)
    frames, t = frames.numpy(), t.numpy()
    start = frames - t
    assert np.all(start == start[:, :1]) and start.min() >= 0 and start.max() <= 1000 - 64
    assert len(np.unique(start)) > 500
    assert t.max() <= 63 and t.min() >= 0
    assert set(t[:, -1] - t[:, 0]) == {2, 4, 8, 16, 32}  # 64 > usable span cap of 63


def test_fake_times_have_fractional_offsets_and_integer_gaps():
    t = data.sample_fake_times(tf.fill([5000], 20), CFG, seed=4).numpy()
    span = t[:, -1] - t[:, 0]
    np.testing.assert_allclose(np.diff(t, axis=1), np.round(np.diff(t, axis=1)), atol=1e-4)
    assert set(np.round(span).astype(int)) == {2, 4, 8, 16}
    assert np.all(t[:, 0] >= 0) and np.all(t[:, 0] <= 20 - np.round(span) - 1)
    assert np.mean(np.abs(t[:, 0] - np.round(t[:, 0])) > 1e-3) > 0.9


def test_fake_conditions_draw_videos_inside_tf_function():
    lengths = tf.constant([3, 100], tf.int64)
    labels = tf.constant([[1.0, 0.0], [0.0, 1.0]])
    draw = tf.function(lambda seed: data.sample_fake_conditions((lengths, labels), CFG, 512, seed))
    t, c = draw(tf.constant([5, 6], tf.int64))
    t, c = t.numpy(), c.numpy()
    assert t.shape == (512, 3) and c.shape == (512, 2)
    short = c[:, 0] == 1  # the 3-frame video only allows T = 2 and offset 0
    assert 0.4 < short.mean() < 0.6
    np.testing.assert_allclose(t[short], [[0, 1, 2]] * short.sum())
    assert (t[~short, -1] - t[~short, 0]).max() > 2
    np.testing.assert_array_equal(draw(tf.constant([5, 6], tf.int64))[0], t)


# ------------------------------------------------------------------------------------------------------
# Sources.


def test_folder_index_skips_short_videos_and_reads_labels(folder):
    source = data.open_source(folder)
    index = source.index
    assert isinstance(source, data.FolderSource)
    assert index.num_videos == 5 and index.num_skipped == 1 and index.resolution == 16
    assert index.video_names == ("vid0", "vid1", "vid3", "vid4", "vid5")
    assert index.lengths.dtype == np.int64 and index.lengths.tolist() == [6, 9, 40, 17, 12]
    assert index.labels.dtype == np.float32
    np.testing.assert_array_equal(index.labels, np.eye(3)[[0, 2, 2, 0, 1]])
    assert data.open_source(folder, use_labels=False).index.c_dim == 0
    assert data.open_source(folder, sampling=data.SamplingConfig(num_frames=1)).index.num_videos == 6
    with pytest.raises(ValueError, match="same SamplingConfig"):
        data.real_clip_dataset(source, data.SamplingConfig(num_frames=8), 2, seed=0)


def test_float_labels_and_inconsistent_labels(tmp_path):
    root = _write_folder(tmp_path / "a", [3, 4], labels=[[0.5, 1.0], [2.0, -1.0]])
    np.testing.assert_array_equal(data.open_source(root).index.labels, [[0.5, 1.0], [2.0, -1.0]])
    root = _write_folder(tmp_path / "b", [3, 4])
    entries = [["vid0/000000.png", 0], ["vid0/000001.png", 1], ["vid0/000002.png", 0]]
    (root / "dataset.json").write_text(json.dumps({"labels": entries}))
    with pytest.raises(ValueError, match="'vid0' have different labels"):
        data.open_source(root)


def test_folder_zip_and_tfrecord_give_identical_clips(folder, tmp_path):
    reference = _clips(data.open_source(folder))
    sources = [
        data.open_source(_zip(folder, tmp_path / "top.zip", top="videos")),
        data.open_source(_zip(folder, tmp_path / "flat.zip", dir_entries=False)),
        data.open_source(_zip(folder, tmp_path / "top_nodirs.zip", top="videos", dir_entries=False)),
    ]
    make_dataset.make_dataset(str(folder), str(tmp_path / "records"), 16, shard_bytes=4000, log=lambda _: None)
    sources.append(data.open_source(tmp_path / "records"))
    assert [type(s).__name__ for s in sources] == ["ZipSource"] * 3 + ["TFRecordSource"]
    assert len(os.listdir(tmp_path / "records")) > 2  # several shards
    for source in sources:
        assert source.index.video_names == ("vid0", "vid1", "vid3", "vid4", "vid5")
        np.testing.assert_array_equal(source.index.labels, data.open_source(folder).index.labels)
        _assert_same_clips(reference, _clips(source))


def test_clips_hold_the_right_pixels_and_mirroring(folder):
    source = data.open_source(folder)
    clips = _clips(source, n_batches=4, batch_size=5)
    flips = set()
    for i in range(20):
        video, flip, clip_seed = data.clip_plan(tf.constant(i, tf.int64), 5, CFG, 7)
        frames, t = data.sample_real_frames(tf.gather(source.index.lengths, video)[None], CFG, clip_seed)
        original = int(source.index.video_names[int(video)][3:])
        expected = np.stack([_frame(original, f) for f in frames.numpy()[0]])
        expected = expected[:, :, ::-1] if flip else expected
        np.testing.assert_array_equal(clips[i // 5]["frames"][i % 5], expected)
        np.testing.assert_array_equal(clips[i // 5]["t"][i % 5], t.numpy()[0])
        flips.add(bool(flip))
    assert flips == {True, False}


def test_epochs_are_permutations_of_the_mirrored_dataset():
    items = set()
    for i in range(14):
        video, flip, _ = data.clip_plan(tf.constant(i, tf.int64), 7, CFG, 3)
        items.add((int(video), bool(flip)))
    assert len(items) == 14
    unmirrored = {int(data.clip_plan(tf.constant(i, tf.int64), 7, data.SamplingConfig(mirror=False), 3)[0])
                  for i in range(7)}
    assert unmirrored == set(range(7))


def test_bad_frames_are_reported_with_their_file(tmp_path):
    root = _write_folder(tmp_path / "size", [5, 5])
    PIL.Image.fromarray(np.zeros([20, 20, 3], np.uint8)).save(root / "vid1" / "000002.png")
    source = data.open_source(root, sampling=data.SamplingConfig(num_frames=5, max_dist=4))
    with pytest.raises(tf.errors.InvalidArgumentError, match="vid1/000002.png"):
        _clips(source, n_batches=1, batch_size=4)
    root = _write_folder(tmp_path / "garbage", [5, 5])
    (root / "vid1" / "000003.png").write_bytes(b"not an image")
    source = data.open_source(root, sampling=data.SamplingConfig(num_frames=5, max_dist=4))
    with pytest.raises(tf.errors.InvalidArgumentError, match="vid1/000003.png"):
        _clips(source, n_batches=1, batch_size=4)
    root = _write_folder(tmp_path / "rect", [3])
    PIL.Image.fromarray(np.zeros([16, 12, 3], np.uint8)).save(root / "vid0" / "000000.png")
    with pytest.raises(ValueError, match="vid0/000000.png.*square"):
        data.open_source(root)
    with pytest.raises(ValueError, match="expected resolution 32"):
        data.open_source(_write_folder(tmp_path / "res", [3]), resolution=32)


def test_open_source_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        data.open_source(tmp_path / "nowhere")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="unknown format"):
        data.open_source(tmp_path / "notes.txt")
    with pytest.raises(ValueError, match="no image files"):
        data.open_source(tmp_path)
    with pytest.raises(ValueError, match="no usable video"):
        data.open_source(_write_folder(tmp_path / "short", [1, 2]))
    (tmp_path / "flat").mkdir()
    PIL.Image.fromarray(_frame(0, 0)).save(tmp_path / "flat" / "000000.png")
    with pytest.raises(ValueError, match="<video_dir>/<frame>"):
        data.open_source(tmp_path / "flat")
    with pytest.raises(ValueError, match="SEED"):
        data.open_source("demo:abc")


# ------------------------------------------------------------------------------------------------------
# Determinism, resumption, distribution.


def test_streams_are_deterministic_and_resume_exactly():
    source = data.DemoSource(seed=1, num_videos=16, min_length=8, max_length=40)
    clips = _clips(source, n_batches=4, batch_size=3)
    _assert_same_clips(clips, _clips(source, n_batches=4, batch_size=3))
    flat = {k: np.concatenate([b[k] for b in clips]) for k in clips[0]}
    resumed = _clips(source, n_batches=2, batch_size=3, start_index=5)
    for j, batch in enumerate(resumed):
        for key in ("frames", "t"):
            np.testing.assert_array_equal(batch[key], flat[key][5 + 3 * j:8 + 3 * j])
    other = _clips(source, n_batches=1, batch_size=3, seed=8)
    assert not np.array_equal(other[0]["frames"], clips[0]["frames"])


def test_input_context_splits_the_stream_into_disjoint_interleaved_parts():
    source = data.DemoSource(seed=2, num_videos=8, min_length=8, max_length=20)
    single = np.concatenate([b["frames"] for b in _clips(source, n_batches=8, batch_size=1)])
    for pipeline in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline,
                                             num_replicas_in_sync=2)
        batches = _clips(source, n_batches=2, batch_size=context.get_per_replica_batch_size(4),
                         input_context=context)
        assert batches[0]["frames"].shape[0] == 2  # per-replica batch
        got = np.concatenate([b["frames"] for b in batches])
        np.testing.assert_array_equal(got, single[pipeline::2])


# ------------------------------------------------------------------------------------------------------
# Demo dataset and tools.


def test_demo_renders_deterministic_moving_content():
    a, b = data.open_source("demo"), data.open_source("demo")
    assert a.index.num_videos == 128 and a.index.resolution == 32 and a.index.c_dim == 0
    assert 64 <= a.index.lengths.min() and a.index.lengths.max() <= 128
    frames = a.render(0, [0, 1, 10])
    np.testing.assert_array_equal(frames, b.render(0, [0, 1, 10]))
    np.testing.assert_array_equal(frames[1:2], a.render(0, [1]))  # a frame does not depend on its clip
    step = np.abs(frames[1].astype(int) - frames[0]).mean()
    far = np.abs(frames[2].astype(int) - frames[0]).mean()
    assert 0 < step < far  # smooth, visible motion
    assert np.abs(a.render(1, [0]).astype(int) - frames[:1]).mean() > 10  # videos differ
    assert not np.array_equal(data.open_source("demo:1").render(0, [0]), frames[:1])
    assert data.open_source("demo", resolution=64).render(3, [5]).shape == (1, 64, 64, 3)


def _write_video(path, num_frames, width=48, height=32):
    """A moving bar, mpeg4 in an .mp4 container (PyAV)."""
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


def test_make_dataset_converts_video_files_with_chunking(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    _write_video(videos / "a.mp4", 40)
    _write_video(videos / "b.mp4", 12)
    out = tmp_path / "out"
    summary = make_dataset.make_dataset(str(videos), str(out), 16, chunk_frames=16, min_frames=10,
                                        log=lambda _: None)
    assert summary == dict(source_videos=2, videos=3, frames=44, skipped=1, shards=1)
    assert sorted(os.listdir(tmp_path)) == ["out", "videos"]  # no temporary directory left
    source = data.open_source(out)
    assert source.index.video_names == ("a_0000", "a_0001", "b")
    assert source.index.lengths.tolist() == [16, 16, 12] and source.index.resolution == 16
    frames = source.load_frames(tf.constant(0, tf.int64), tf.constant([0, 5], tf.int64)).numpy()
    assert frames.shape == (2, 16, 16, 3) and np.abs(frames[0].astype(int) - frames[1]).mean() > 5
    records = sum(1 for _ in tf.data.TFRecordDataset(sorted(str(p) for p in out.glob("*.tfrecord"))))
    assert records == 44  # ordinary TFRecord files
    with pytest.raises(FileExistsError, match="--overwrite"):
        make_dataset.make_dataset(str(videos / "a.mp4"), str(out), 16, log=lambda _: None)
    summary = make_dataset.make_dataset(str(videos / "a.mp4"), str(out), 8, overwrite=True, log=lambda _: None)
    assert summary["videos"] == 1 and data.open_source(out).index.resolution == 8


def test_make_dataset_leaves_nothing_when_it_fails(tmp_path):
    root = _write_folder(tmp_path / "frames", [4, 4])
    (root / "vid1" / "000002.png").write_bytes(b"broken")
    with pytest.raises(ValueError, match="vid1/000002.png"):
        make_dataset.make_dataset(str(root), str(tmp_path / "out"), 8, log=lambda _: None)
    assert sorted(os.listdir(tmp_path)) == ["frames"]
