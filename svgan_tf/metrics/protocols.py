"""FVD and FID as the reference protocol (SPEC.md section 6), over any detector.

Protocols (`PROTOCOLS`):

* `fvd2048_16f`: up to 2048 real clips of 16 consecutive frames vs 2048 generated clips at t = 0..15;
* `fvd2048_128f`: the same with 128 frames (t = 0..127);
* `fvd2048_128f_subsample8f`: 16 frames every 8th (t = 0, 8, ..., 120), real and generated;
* `fid50k_full`: every frame of every real video vs 50,000 generated frames taken from 16-frame clips
  (t = 0..15, 3125 videos).

Real clips: the videos in sorted name order, those shorter than frames x subsample dropped, the first
min(#videos, 2048); one clip per video at a uniformly random offset (seeded). Generated clips: z ~ N(0, I),
the label of a random training video for conditional models, fresh motion noise, starting at t = 0, and
the reference's uint8 quantisation floor(clip(x * 127.5 + 128, 0, 255)). Features go through a detector
(`detector(uint8 batch) -> [N, D] features`: I3D logits for FVD, Inception pool3 for FID) into float64
statistics (`svgan_tf.metrics.frechet`). Real statistics are cached on disk, keyed by the dataset, the
protocol, the detector and the seed.
"""

import dataclasses
import hashlib
import json
import os

import numpy as np
import tensorflow as tf

from svgan_tf.metrics.frechet import Statistics


@dataclasses.dataclass(frozen=True)
class Protocol:
    """One metric of the reference protocol.

    Args:
        name: metric name as the reference spells it.
        kind: "fvd" (clips through a video detector) or "fid" (frames through an image detector).
        num_fake: generated clips (fvd) or frames (fid).
        num_real: maximum real clips (fvd; None for fid: every frame).
        num_frames: frames per clip.
        subsample: time step between a clip's frames.
    """

    name: str
    kind: str
    num_fake: int
    num_real: int | None
    num_frames: int
    subsample: int = 1

    @property
    def span(self):
        """Frames of a real video a clip needs."""
        return self.num_frames * self.subsample

    def times(self):
        """Frame times of a generated clip (and frame offsets of a real one)."""
        return np.arange(self.num_frames, dtype=np.float32) * self.subsample

    def scaled(self, num_fake, num_real=None):
        """The same protocol with other clip counts (smoke tests, quick evaluations)."""
        return dataclasses.replace(self, num_fake=num_fake, num_real=num_real if self.kind == "fvd" else None)


PROTOCOLS = {p.name: p for p in (
    Protocol("fvd2048_16f", "fvd", 2048, 2048, 16),
    Protocol("fvd2048_128f", "fvd", 2048, 2048, 128),
    Protocol("fvd2048_128f_subsample8f", "fvd", 2048, 2048, 16, 8),
    Protocol("fid50k_full", "fid", 50000, None, 16),
)}


def reference_uint8(frames):
    """Generator output -> uint8 as the reference metrics quantise it: floor(clip(x * 127.5 + 128, 0, 255))."""
    return tf.cast(tf.clip_by_value(tf.cast(frames, tf.float32) * 127.5 + 128.0, 0.0, 255.0), tf.uint8)


def real_videos(index, protocol, videos=None):
    """Indices of the real videos a protocol uses: sorted by name, long enough, the first `num_real`.

    Args:
        index: `svgan_tf.data.sources.VideoIndex`.
        protocol: the Protocol.
        videos: restrict to these video indices (e.g. one half of a real-vs-real split).
    """
    order = sorted(range(index.num_videos) if videos is None else videos, key=lambda v: index.video_names[v])
    if protocol.kind == "fid":
        return order
    eligible = [v for v in order if index.lengths[v] >= protocol.span]
    return eligible[:protocol.num_real]


def real_batches(source, protocol, seed, batch_size, videos=None):
    """uint8 batches of real clips [n, T, R, R, 3] (fvd) or frames [n, R, R, 3] (fid)."""
    index = source.index
    chosen = real_videos(index, protocol, videos)
    if protocol.kind == "fvd" and not chosen:
        raise ValueError(f"{index.description}: no video has the {protocol.span} frames {protocol.name} needs.")
    rng = np.random.default_rng(seed)
    pending = []
    for video in chosen:
        if protocol.kind == "fvd":
            offset = int(rng.integers(0, index.lengths[video] - protocol.span + 1))
            frames = offset + np.arange(protocol.num_frames) * protocol.subsample
            pending.append(source.load_frames(tf.constant(video, tf.int64), tf.constant(frames, tf.int64)).numpy())
            if len(pending) == batch_size:
                yield np.stack(pending)
                pending = []
        else:
            for start in range(0, int(index.lengths[video]), batch_size):
                frames = np.arange(start, min(start + batch_size, int(index.lengths[video])))
                yield source.load_frames(tf.constant(video, tf.int64), tf.constant(frames, tf.int64)).numpy()
    if pending:
        yield np.stack(pending)


def fake_batches(G, protocol, seed, batch_size, labels=None):
    """uint8 batches of generated clips [n, T, R, R, 3] (fvd) or frames [n, R, R, 3] (fid).

    Args:
        G: the generator (float32 inference).
        protocol: the Protocol.
        seed: seed of the contents, labels and motion noise.
        batch_size: clips per generator call.
        labels: [N, c_dim] labels of the training videos (conditional models draw one per clip).
    """
    t = protocol.times()
    num_clips = protocol.num_fake if protocol.kind == "fvd" else -(-protocol.num_fake // protocol.num_frames)
    rng = np.random.default_rng(seed)
    tokens = G.num_motion_tokens(float(t[-1]))
    remaining_frames = protocol.num_fake
    for i, start in enumerate(range(0, num_clips, batch_size)):
        n = min(batch_size, num_clips - start)
        z = rng.standard_normal((n, G.z_dim)).astype(np.float32)
        c = labels[rng.integers(len(labels), size=n)] if G.c_dim else None
        motion_z = G.sample_motion_z(n, tokens, seed=[seed, i])
        clips = reference_uint8(G(z, np.tile(t, (n, 1)), motion_z, c=c, frames_per_batch=16)).numpy()
        if protocol.kind == "fvd":
            yield clips
        else:
            frames = clips.reshape(-1, *clips.shape[2:])[:remaining_frames]
            remaining_frames -= len(frames)
            yield frames


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


def real_statistics(source, protocol, detector, detector_name, seed=0, batch_size=16, cache_dir=None,
                    videos=None, progress=None):
    """Real statistics of a protocol, from `cache_dir` when computed before with the same key."""
    key = json.dumps(dict(dataset=source.index.description, videos=list(map(str, source.index.video_names)),
                          lengths=[int(n) for n in source.index.lengths], resolution=source.index.resolution,
                          protocol=dataclasses.asdict(protocol), detector=detector_name, seed=seed,
                          subset=None if videos is None else sorted(int(v) for v in videos)), sort_keys=True)
    path = None
    if cache_dir:
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        path = os.path.join(cache_dir, f"{protocol.name}-{detector_name}-{digest}.npz")
        if os.path.isfile(path):
            return Statistics.load(path)
    stats = accumulate(real_batches(source, protocol, seed, batch_size, videos), detector, progress)
    if path:
        stats.save(path)
    return stats


def fake_statistics(G, protocol, detector, seed=0, batch_size=16, labels=None, progress=None):
    """Statistics of generated clips (or frames) of a protocol."""
    return accumulate(fake_batches(G, protocol, seed, batch_size, labels), detector, progress)
