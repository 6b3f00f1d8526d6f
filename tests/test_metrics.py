"""Fréchet distance and the FVD / FID protocols (real and generated samples, caching), with a stub detector."""

import dataclasses

import keras
import numpy as np
import pytest

from svgan_tf.data import pipeline
from svgan_tf.data import sampling as sampling_lib
from svgan_tf.metrics import protocols
from svgan_tf.metrics.frechet import Statistics, frechet_distance
from tests.support import LENGTHS, projection_detector, tiny_generator, write_frame_folder


def _stats(features):
    stats = Statistics(features.shape[1])
    stats.add(features[: len(features) // 2])
    stats.add(features[len(features) // 2:])
    return stats


def test_frechet_distance_matches_closed_forms():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4000, 3)) * [1.0, 2.0, 0.5] + [1.0, 0.0, -1.0]
    b = rng.standard_normal((3000, 3)) * [2.0, 1.0, 0.5]
    sa, sb = _stats(a), _stats(b)
    np.testing.assert_allclose(sa.cov, np.cov(a, rowvar=False, bias=True), atol=1e-12)
    # General case: tr sqrtm(S1 S2) from the eigenvalues of the (non-symmetric) product.
    product_trace = np.sum(np.sqrt(np.linalg.eigvals(sa.cov @ sb.cov).real))
    expected = np.sum((sa.mean - sb.mean) ** 2) + np.trace(sa.cov) + np.trace(sb.cov) - 2 * product_trace
    assert frechet_distance(sa, sb) == pytest.approx(expected, rel=1e-9)
    # Commuting (diagonal) covariances: sum (sqrt(s1) - sqrt(s2))^2 + |mu1 - mu2|^2.
    d1, d2 = Statistics(2), Statistics(2)
    d1.count = d2.count = 10
    d1.total, d2.total = np.array([10.0, 0.0]), np.zeros(2)
    d1.outer, d2.outer = np.diag([40.0, 90.0]) + np.outer([1.0, 0.0], [10.0, 0.0]), np.diag([10.0, 10.0])
    assert frechet_distance(d1, d2) == pytest.approx(1 + (2 - 1) ** 2 + (3 - 1) ** 2)
    assert abs(frechet_distance(sa, sa)) < 1e-9


def test_statistics_round_trip(tmp_path):
    stats = _stats(np.random.default_rng(1).standard_normal((50, 4)))
    stats.save(tmp_path / "s.npz")
    loaded = Statistics.load(tmp_path / "s.npz")
    np.testing.assert_array_equal(loaded.cov, stats.cov)
    assert loaded.count == 50 and sorted(p.name for p in tmp_path.iterdir()) == ["s.npz"]


@pytest.fixture(scope="module")
def source():
    return pipeline.open_source("demo:3", sampling=sampling_lib.SamplingConfig(num_frames=1, mirror=False))


def _reference_items(names, lengths, num_frames, subsample, unit, xflip, max_real):
    """The reference's real items, transcribed from its code: VideoFramesFolderDataset (clips: video dirs sorted,
    discard_short_videos) or ImageFolderDataset (frames: every image file, sorted), SG2-ADA's Dataset x-flip
    (np.tile(raw_idx, 2), flips appended) and the metric sampler (item i for i < min(len, max_items), one GPU)."""
    if unit == "clips":
        files = [(name, None) for name in sorted(names) if lengths[name] >= num_frames * subsample]
    else:
        files = sorted((name, f) for name in names for f in range(lengths[name]))  # "vid3/000007.png" order
    raw_idx, flips = np.arange(len(files)), np.zeros(len(files), np.uint8)
    if xflip:
        raw_idx, flips = np.tile(raw_idx, 2), np.concatenate([flips, np.ones_like(flips)])
    num_items = len(raw_idx) if max_real is None else min(len(raw_idx), max_real)
    return [(*files[raw_idx[i]], bool(flips[i])) for i in range(num_items)]


@pytest.mark.parametrize("metric, num_real", [("fvd2048_16f", 8), ("fvd2048_128f_subsample8f", 8),
                                              ("fid50k", 100), ("kid50k", 60), ("fid50k_full", None),
                                              ("kid50k_full", 1000)])
@pytest.mark.parametrize("mirror", [False, True])
def test_real_items_are_the_references(tmp_path, metric, num_real, mirror):
    # Fewer eligible videos (5 of 6 for 4-frame clips) and frames (86) than the (scaled-down) real counts.
    data = write_frame_folder(tmp_path / "data", LENGTHS)
    index = pipeline.open_source(str(data), sampling=sampling_lib.SamplingConfig(num_frames=1, mirror=False)).index
    protocol = dataclasses.replace(protocols.PROTOCOLS[metric], num_frames=4, subsample=1 + 2 * ("subsample" in metric),
                                   num_real=num_real)
    items = protocols.real_items(index, protocol, mirror)
    ours = [(index.video_names[v], None if items.frames is None else int(f), bool(flip))
            for v, f, flip in zip(items.videos, [None] * len(items) if items.frames is None else items.frames,
                                  items.flips)]
    # The reference's registry forces xflip=False except for the legacy fid50k / kid50k.
    xflip = mirror and metric in ("fid50k", "kid50k")
    lengths = dict(zip(index.video_names, (int(n) for n in index.lengths)))
    assert ours == _reference_items(index.video_names, lengths, protocol.num_frames, protocol.subsample,
                                    protocol.unit, xflip, protocol.num_real)
    assert any(flip for *_, flip in ours) == (xflip and (num_real or 0) > sum(LENGTHS))


def test_mirrored_items_are_flipped_and_offsets_cover_the_references_range(tmp_path):
    data = write_frame_folder(tmp_path / "data", LENGTHS)
    source = pipeline.open_source(str(data), sampling=sampling_lib.SamplingConfig(num_frames=1, mirror=False))
    protocol = protocols.PROTOCOLS["fid50k"].scaled(num_real=100)
    items = protocols.real_items(source.index, protocol, mirror=True)
    first_flipped = int(np.argmax(items.flips))
    assert first_flipped == sum(LENGTHS)
    plain, flipped = np.concatenate(list(protocols.real_batches(source, protocol, 0, 64, mirror=True,
                                                                select=[0, first_flipped])))
    np.testing.assert_array_equal(flipped, plain[:, ::-1])
    # random.randint(0, length - frames * subsample + subsample - 1): 40 frames, 4 x 3 -> offsets 0..30.
    clips = dataclasses.replace(protocols.PROTOCOLS["fvd2048_128f_subsample8f"], num_frames=4, subsample=3)
    many = protocols.RealItems(np.full(3000, 3), None, np.zeros(3000, bool))
    offsets = protocols.clip_offsets(source.index, clips, many, seed=0)
    assert offsets.min() == 0 and offsets.max() == 40 - 12 + 3 - 1
    np.testing.assert_array_equal(offsets, protocols.clip_offsets(source.index, clips, many, seed=0))
    assert not np.array_equal(offsets, protocols.clip_offsets(source.index, clips, many, seed=1))


def test_real_clips_follow_the_protocol(source):
    # 50 frames every 2nd: a 100-frame span, which only some of the 64..128-frame demo videos have.
    protocol = dataclasses.replace(protocols.PROTOCOLS["fvd2048_16f"], num_frames=50, subsample=2).scaled(4, 5)
    batches = list(protocols.real_batches(source, protocol, seed=0, batch_size=2))
    assert [b.shape[:2] for b in batches] == [(2, 50), (2, 50), (1, 50)] and batches[0].dtype == np.uint8
    again = np.concatenate(list(protocols.real_batches(source, protocol, seed=0, batch_size=5)))
    np.testing.assert_array_equal(np.concatenate(batches), again)  # offsets are a function of the seed
    some = np.concatenate(list(protocols.real_batches(source, protocol, seed=0, batch_size=5, select=[1, 4])))
    np.testing.assert_array_equal(some, again[[1, 4]])
    fid = protocols.PROTOCOLS["fid50k_full"]
    assert sum(len(b) for b in protocols.real_batches(source, fid, 0, 64, videos=[0, 1])) == \
        source.index.lengths[:2].sum()


def test_fake_clips_start_at_zero_and_use_reference_quantisation():
    G = tiny_generator()
    protocol = protocols.PROTOCOLS["fvd2048_128f_subsample8f"].scaled(num_fake=3)
    clips = np.concatenate(list(protocols.fake_batches(G, protocol, seed=1, batch_size=2)))
    assert clips.shape == (3, 16, 32, 32, 3) and clips.dtype == np.uint8
    np.testing.assert_array_equal(protocols.reference_uint8(np.array([-2.0, -1.0, 0.0, 0.999, 1.0])).numpy(),
                                  [0, 0, 128, 255, 255])
    fid = protocols.PROTOCOLS["fid50k_full"].scaled(num_fake=40)
    frames = list(protocols.fake_batches(G, fid, seed=1, batch_size=2))
    assert sum(len(f) for f in frames) == 40 and frames[0].shape == (32, 32, 32, 3)


def test_fvd_real_vs_itself_split_and_untrained_generator(source, tmp_path):
    protocol = protocols.PROTOCOLS["fvd2048_16f"].scaled(num_fake=24, num_real=24)
    real = protocols.real_statistics(source, protocol, projection_detector, "stub", seed=0, cache_dir=str(tmp_path))
    assert len(list(tmp_path.iterdir())) == 1
    cached = protocols.real_statistics(source, protocol, projection_detector, "stub", seed=0, cache_dir=str(tmp_path))
    np.testing.assert_array_equal(cached.outer, real.outer)
    assert abs(frechet_distance(real, cached)) < 1e-9
    # Halves as large as the real set: with 12 clips each, the split of the demo's solid-coloured videos is
    # about half the untrained distance.
    halves = [protocols.real_statistics(source, protocol.scaled(24, 24), projection_detector, "stub", seed=s,
                                        videos=range(h, source.index.num_videos, 2)) for h, s in ((0, 1), (1, 2))]
    split = frechet_distance(*halves)
    keras.utils.set_random_seed(0)  # the untrained generator's weights, fixed: the test is deterministic
    fake = protocols.fake_statistics(tiny_generator(), protocol, projection_detector, seed=0, batch_size=8)
    untrained = frechet_distance(real, fake)
    # untrained / split measured 4.9 for this initialisation (2.1 with halves of 12 clips).
    assert 0 < split < untrained / 3, (split, untrained)
