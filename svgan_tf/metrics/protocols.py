"""The reference's metric registry (SPEC.md section 6; StyleGAN-V's `src/metrics/metric_main.py`), over any detector.

Metrics (`PROTOCOLS`), named and sized as the reference registers them:

| metric                     | value   | generated                        | real set (at most)  | detector      |
|----------------------------|---------|----------------------------------|---------------------|---------------|
| `fvd2048_16f`              | Fréchet | 2048 clips, t = 0..15            | 2048 clips          | I3D           |
| `fvd2048_128f`             | Fréchet | 2048 clips, t = 0..127           | 2048 clips          | I3D           |
| `fvd2048_128f_subsample8f` | Fréchet | 2048 clips, t = 0, 8, ..., 120   | 2048 clips          | I3D           |
| `fid50k_full`              | Fréchet | 50,000 frames of 16-frame clips  | every frame         | Inception     |
| `kid50k_full`              | KID     | 50,000 frames                    | 1,000,000 frames    | Inception     |
| `is50k`                    | IS      | 50,000 frames, 10 splits         | none                | Inception cls |
| `isv2048_ucf`              | IS      | 2048 16-frame clips, 10 splits   | none                | C3D UCF101    |
| `fid50k` (legacy)          | Fréchet | 50,000 frames                    | 50,000, mirrored    | Inception     |
| `kid50k` (legacy)          | KID     | 50,000 frames                    | 50,000, mirrored    | Inception     |

Real items, in the reference's order (`real_items`): clips come from the videos in sorted name order, those
shorter than frames x subsample dropped, one clip per video; frames are every frame of every video in that order.
**Mirroring** (`mirror=True`, a training run's `--mirror`, the reference's default) doubles that list with
horizontally flipped copies, appended after it (the reference's `np.tile(raw_idx, 2)` with x-flips), and the first
`num_real` items are used. Only the legacy `fid50k` and `kid50k` see it: the reference's registry sets
`xflip=False` for every FVD, `fid50k_full`, `kid50k_full`, `is50k` and `isv2048_ucf`
(`opts.dataset_kwargs.update(max_size=None, xflip=False)`), so for those a mirrored run's numbers are the
unmirrored ones; `Protocol.honours_mirror` says which. A clip's offset is uniform over the reference's range,
`random.randint(0, length - frames * subsample + subsample - 1)`, drawn per item in order from a seeded
generator (the reference's is unseeded, so its FVD changes from run to run; here a seed fixes it).

Generated samples (`fake_batches`): z ~ N(0, I), the label of a random training video for conditional models,
fresh motion noise, clips starting at t = 0, the reference's uint8 quantisation floor(clip(x * 127.5 + 128, 0,
255)); frame metrics take the frames of 16-frame clips (t = 0..15) in order.

What the metrics are computed from: float64 feature moments for the Fréchet distance (`real_statistics`,
`fake_statistics`), feature rows for KID (`real_kid_rows` reads and detects only the real items KID's subsets use,
which gives exactly the value the whole real set would), detector outputs of generated samples (`fake_outputs`).
Real statistics are cached on disk, keyed by the dataset, the protocol, the mirror setting that applies, the
detector and the seed. `svgan_tf.metrics.evaluation` turns them into values.
"""

import dataclasses
import hashlib
import json
import os

import numpy as np
import tensorflow as tf

from svgan_tf import atomic
from svgan_tf.metrics.frechet import Statistics

# Bump when the real items or their offsets change, so that cached statistics of the old rule are not reused.
_CACHE_VERSION = 2


@dataclasses.dataclass(frozen=True)
class Protocol:
    """One metric of the reference's registry.

    Args:
        name: metric name as the reference spells it.
        statistic: "frechet", "kid" or "is".
        unit: "clips" (videos through a video detector) or "frames" (images through an image detector).
        detector: "i3d", "inception" (pool3 features), "inception_probabilities" or "c3d".
        num_fake: generated clips or frames.
        num_real: maximum real items (None: all; 0: the metric has no real set).
        num_frames: frames per clip (frame metrics: of the generated clips the frames are taken from).
        subsample: time step between a clip's frames.
        honours_mirror: the real set is mirrored when the dataset is (the reference's legacy fid50k / kid50k).
        num_splits: IS splits.
        num_subsets: KID subsets.
        max_subset_size: KID subset size limit.
    """

    name: str
    statistic: str
    unit: str
    detector: str
    num_fake: int
    num_real: int | None
    num_frames: int = 16
    subsample: int = 1
    honours_mirror: bool = False
    num_splits: int = 10
    num_subsets: int = 100
    max_subset_size: int = 1000

    @property
    def span(self):
        """Frames a real video needs for a clip (the reference's eligibility rule, frames x subsample)."""
        return self.num_frames * self.subsample

    @property
    def has_real_set(self):
        return self.num_real != 0

    def times(self):
        """Frame times of a generated clip (and frame offsets within a real one)."""
        return np.arange(self.num_frames, dtype=np.float32) * self.subsample

    def scaled(self, num_fake=None, num_real=None):
        """The same metric with other sample counts (quick looks; not comparable with published numbers).

        Raises:
            ValueError: `num_real` for a metric without a real set.
        """
        if num_real is not None and not self.has_real_set:
            raise ValueError(f"--num_real: {self.name} has no real set (it scores generated samples only).")
        return dataclasses.replace(self, num_fake=num_fake or self.num_fake,
                                   num_real=self.num_real if num_real is None else num_real)


PROTOCOLS = {p.name: p for p in (
    Protocol("fvd2048_16f", "frechet", "clips", "i3d", 2048, 2048),
    Protocol("fvd2048_128f", "frechet", "clips", "i3d", 2048, 2048, num_frames=128),
    Protocol("fvd2048_128f_subsample8f", "frechet", "clips", "i3d", 2048, 2048, subsample=8),
    Protocol("fid50k_full", "frechet", "frames", "inception", 50000, None),
    Protocol("kid50k_full", "kid", "frames", "inception", 50000, 1000000),
    Protocol("is50k", "is", "frames", "inception_probabilities", 50000, 0),
    Protocol("isv2048_ucf", "is", "clips", "c3d", 2048, 0),
    Protocol("fid50k", "frechet", "frames", "inception", 50000, 50000, honours_mirror=True),
    Protocol("kid50k", "kid", "frames", "inception", 50000, 50000, honours_mirror=True),
)}


def reference_uint8(frames):
    """Generator output -> uint8 as the reference metrics quantise it: floor(clip(x * 127.5 + 128, 0, 255))."""
    return tf.cast(tf.clip_by_value(tf.cast(frames, tf.float32) * 127.5 + 128.0, 0.0, 255.0), tf.uint8)


@dataclasses.dataclass(frozen=True)
class RealItems:
    """The real items of a protocol, in order: item i is video `videos[i]`, x-flipped if `flips[i]`, and either the
    frame `frames[i]` (frame metrics) or a clip at a random offset (clip metrics: `frames` is None)."""

    videos: np.ndarray
    frames: np.ndarray | None
    flips: np.ndarray

    def __len__(self):
        return len(self.videos)


def mirrored(protocol, mirror):
    """Whether the protocol's real set is mirrored for a dataset whose mirror setting is `mirror`."""
    return bool(mirror) and protocol.honours_mirror


def real_items(index, protocol, mirror=False, videos=None):
    """The real items a protocol reads, as the reference's datasets and samplers select them.

    Args:
        index: `svgan_tf.data.sources.VideoIndex`.
        protocol: the Protocol.
        mirror: the dataset's mirror setting (applied only where `protocol.honours_mirror`).
        videos: restrict to these video indices (e.g. one half of a real-vs-real split).

    Returns:
        `RealItems`.
    """
    order = sorted(range(index.num_videos) if videos is None else videos, key=lambda v: index.video_names[v])
    lengths = np.asarray(index.lengths, np.int64)
    if not protocol.has_real_set:
        order = []
    if protocol.unit == "clips":
        chosen = np.array([v for v in order if lengths[v] >= protocol.span], np.int64)
        frames = None
    else:
        chosen = np.repeat(np.array(order, np.int64), lengths[order] if order else 0)
        frames = np.concatenate([np.arange(lengths[v]) for v in order]) if order else np.zeros(0, np.int64)
    flips = np.zeros(len(chosen), bool)
    if mirrored(protocol, mirror):
        chosen, flips = np.tile(chosen, 2), np.concatenate([flips, ~flips])
        frames = None if frames is None else np.tile(frames, 2)
    count = len(chosen) if protocol.num_real is None else min(len(chosen), protocol.num_real)
    return RealItems(chosen[:count], None if frames is None else frames[:count], flips[:count])


def clip_offsets(index, protocol, items, seed):
    """First frame of each real clip: uniform over the reference's range, drawn per item in order."""
    rng = np.random.default_rng(seed)
    high = np.asarray(index.lengths, np.int64)[items.videos] - protocol.span + protocol.subsample
    return rng.integers(0, high) if len(high) else np.zeros(0, np.int64)


def real_batches(source, protocol, seed, batch_size, videos=None, mirror=False, select=None):
    """uint8 batches of real clips [n, T, R, R, 3] or frames [n, R, R, 3], in item order.

    Args:
        source: `svgan_tf.data.sources.VideoSource`.
        protocol: the Protocol.
        seed: seed of the clip offsets.
        batch_size: items per batch.
        videos: restrict to these video indices.
        mirror: the dataset's mirror setting.
        select: read only these item positions (sorted; the offsets stay those of the whole list).
    """
    index = source.index
    items = real_items(index, protocol, mirror, videos)
    if protocol.unit == "clips" and not len(items):
        raise ValueError(f"{index.description}: no video has the {protocol.span} frames {protocol.name} needs.")
    offsets = clip_offsets(index, protocol, items, seed) if protocol.unit == "clips" else items.frames
    positions = np.arange(len(items)) if select is None else np.asarray(select, np.int64)
    for start in range(0, len(positions), batch_size):
        chunk = positions[start:start + batch_size]
        samples = [_load_item(source, protocol, items.videos[i], offsets[i], items.flips[i]) for i in chunk]
        yield np.stack(samples) if protocol.unit == "clips" else np.concatenate(samples)


def _load_item(source, protocol, video, first, flip):
    frames = first + np.arange(protocol.num_frames) * protocol.subsample if protocol.unit == "clips" else [first]
    pixels = source.load_frames(tf.constant(video, tf.int64), tf.constant(frames, tf.int64)).numpy()
    return pixels[:, :, ::-1] if flip else pixels


def fake_batches(G, protocol, seed, batch_size, labels=None):
    """uint8 batches of generated clips [n, T, R, R, 3] or frames [n, R, R, 3].

    Args:
        G: the generator (float32 inference).
        protocol: the Protocol.
        seed: seed of the contents, labels and motion noise.
        batch_size: clips per generator call.
        labels: [N, c_dim] labels of the training videos (conditional models draw one per clip).
    """
    t = protocol.times()
    num_clips = protocol.num_fake if protocol.unit == "clips" else -(-protocol.num_fake // protocol.num_frames)
    rng = np.random.default_rng(seed)
    tokens = G.num_motion_tokens(float(t[-1]))
    remaining_frames = protocol.num_fake
    for i, start in enumerate(range(0, num_clips, batch_size)):
        n = min(batch_size, num_clips - start)
        z = rng.standard_normal((n, G.z_dim)).astype(np.float32)
        c = labels[rng.integers(len(labels), size=n)] if G.c_dim else None
        motion_z = G.sample_motion_z(n, tokens, seed=[seed, i])
        clips = reference_uint8(G(z, np.tile(t, (n, 1)), motion_z, c=c, frames_per_batch=16)).numpy()
        if protocol.unit == "clips":
            yield clips
        else:
            frames = clips.reshape(-1, *clips.shape[2:])[:remaining_frames]
            remaining_frames -= len(frames)
            yield frames


def detect(batches, detector, progress=None):
    """The detector's outputs over uint8 batches, concatenated (float32 [N, D])."""
    outputs = []
    for batch in batches:
        outputs.append(np.asarray(detector(batch), np.float32))
        if progress:
            progress(len(batch))
    if not outputs:
        raise ValueError("no samples to compute the metric on.")
    return np.concatenate(outputs)


def accumulate(batches, detector, progress=None):
    """Statistics of the detector's features over uint8 batches."""
    stats = None
    for batch in batches:
        features = np.asarray(detector(batch))
        if stats is None:
            stats = Statistics(features.shape[1])
        stats.add(features)
        if progress:
            progress(len(batch))
    if stats is None:
        raise ValueError("no samples to compute statistics on.")
    return stats


class SelectedRows:
    """Feature rows of some item positions of a larger set, indexed by position (KID reads only these)."""

    def __init__(self, positions, rows):
        self.positions, self.rows = np.asarray(positions, np.int64), np.asarray(rows)

    def __getitem__(self, positions):
        positions = np.asarray(positions, np.int64)
        where = np.minimum(np.searchsorted(self.positions, positions), len(self.positions) - 1)
        if not np.array_equal(self.positions[where], positions):
            raise KeyError("a real row that was not read was asked for.")
        return self.rows[where]


def _cache_file(cache_dir, protocol, detector_name, key):
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return os.path.join(cache_dir, f"{protocol.name}-{detector_name}-{digest}.npz")


def _cache_key(source, protocol, detector_name, seed, mirror, videos, **extra):
    index = source.index
    return dict(version=_CACHE_VERSION, dataset=index.description, videos=list(map(str, index.video_names)),
                lengths=[int(n) for n in index.lengths], resolution=index.resolution,
                protocol=dataclasses.asdict(protocol), mirrored=mirrored(protocol, mirror), detector=detector_name,
                seed=seed, subset=None if videos is None else sorted(int(v) for v in videos), **extra)


def real_statistics(source, protocol, detector, detector_name, seed=0, batch_size=16, cache_dir=None,
                    videos=None, progress=None, mirror=False):
    """Real feature statistics of a Fréchet protocol, from `cache_dir` when computed before with the same key."""
    path = cache_dir and _cache_file(cache_dir, protocol, detector_name,
                                     _cache_key(source, protocol, detector_name, seed, mirror, videos))
    if path and os.path.isfile(path):
        return Statistics.load(path)
    stats = accumulate(real_batches(source, protocol, seed, batch_size, videos, mirror), detector, progress)
    if path:
        stats.save(path)
    return stats


def real_kid_rows(source, protocol, detector, detector_name, positions, seed=0, batch_size=16, cache_dir=None,
                  videos=None, progress=None, mirror=False):
    """Real features of the item `positions` KID's subsets use, as `SelectedRows` (cached like statistics)."""
    positions = np.unique(np.asarray(positions, np.int64))
    digest = hashlib.sha256(positions.tobytes()).hexdigest()
    path = cache_dir and _cache_file(cache_dir, protocol, detector_name,
                                     _cache_key(source, protocol, detector_name, seed, mirror, videos, rows=digest))
    if path and os.path.isfile(path):
        with np.load(path) as data:
            return SelectedRows(data["positions"], data["rows"])
    rows = detect(real_batches(source, protocol, seed, batch_size, videos, mirror, select=positions), detector,
                  progress)
    if path:
        with atomic.staged_path(path) as staging, open(staging, "wb") as f:
            np.savez(f, positions=positions, rows=rows)
    return SelectedRows(positions, rows)


def fake_statistics(G, protocol, detector, seed=0, batch_size=16, labels=None, progress=None):
    """Statistics of generated clips (or frames) of a Fréchet protocol."""
    return accumulate(fake_batches(G, protocol, seed, batch_size, labels), detector, progress)


def fake_outputs(G, protocol, detector, seed=0, batch_size=16, labels=None, progress=None):
    """Detector outputs [num_fake, D] of generated clips (or frames): KID features, IS probabilities."""
    return detect(fake_batches(G, protocol, seed, batch_size, labels), detector, progress)
