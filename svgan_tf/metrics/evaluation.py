"""Evaluating a generator: FVD / FID of a checkpoint or an exported SavedModel against a dataset, or of
two halves of the dataset (real vs real), and the JSON lines the results are logged as. The library of
`python -m svgan_tf.evaluate` and of the metrics a training run computes (`svgan_tf.training.loop`).

* `load_for_metrics`: a checkpoint (run, prefix, .npz) or a SavedModel (`SavedModelGenerator`) as a generator;
* `resolve_protocols`: metric names -> `svgan_tf.metrics.protocols` protocols, optionally scaled down;
* `evaluate`: {metric: value}, real statistics cached in `DEFAULT_CACHE` (or another directory);
* `write_results`: one JSON line per metric, appended to a log;
* `default_detectors`: the reference detectors (I3D for FVD, Inception for FID), loaded on first use.
"""

import json
import os

import numpy as np
import tensorflow as tf

from svgan_tf import atomic, tokens
from svgan_tf.metrics import protocols
from svgan_tf.metrics.frechet import frechet_distance
from svgan_tf.training import run_dir, summaries

DEFAULT_CACHE = os.path.join(os.path.expanduser("~"), ".cache", "svgan_tf", "metrics")


def default_detectors():
    """The reference detectors, loaded on first use.

    Returns:
        {"fvd": ("i3d", fn), "fid": ("inception", fn)}, fn(uint8 batch) -> [N, D] features.
    """
    def i3d(batch):
        from svgan_tf.metrics import i3d as module
        return module.i3d_logits(batch)

    def inception(batch):
        from svgan_tf.metrics import inception as module
        return module.inception_features(batch)

    return {"fvd": ("i3d", i3d), "fid": ("inception", inception)}


class SavedModelGenerator:
    """An exported TF Serving SavedModel (`python -m svgan_tf.export savedmodel`) seen as a generator by the metrics.

    Frames come from its `mapping` and `frame_at_time` signatures (float frames, so the reference's uint8
    quantisation applies exactly as to a checkpoint); sizes and token arithmetic from `metadata`.

    Args:
        path: the version directory (`MODEL/<version>`).
    """

    def __init__(self, path):
        if not os.path.isfile(os.path.join(path, "saved_model.pb")):
            raise FileNotFoundError(f"{path}: no saved_model.pb (give the version directory, e.g. models/sky/1).")
        model = tf.saved_model.load(path)
        missing = {"mapping", "frame_at_time", "metadata"} - set(model.signatures)
        if missing:
            raise ValueError(f"{path}: not an svgan-tf export (no {', '.join(sorted(missing))} signature).")
        self._mapping, self._frame = model.signatures["mapping"], model.signatures["frame_at_time"]
        meta = {k: int(v.numpy()[0]) for k, v in model.signatures["metadata"](t=tf.zeros([1])).items()
                if v.dtype == tf.int32}
        self.z_dim, self.c_dim, self.img_resolution = meta["z_dim"], meta["c_dim"], meta["img_resolution"]
        self.motion_z_dim, self.window_length = meta["motion_z_dim"], meta["window_length"]
        self.motion_z_distance, self.max_num_frames = meta["motion_z_distance"], meta["max_num_frames"]

    def num_motion_tokens(self, max_t):
        """Tokens the reference draws for frames up to time `max_t` (`svgan_tf.tokens.num_motion_tokens`)."""
        return tokens.num_motion_tokens(max_t, self.motion_z_distance, self.window_length, self.max_num_frames)

    def sample_motion_z(self, batch_size, num_tokens, seed):
        return tf.random.stateless_normal([batch_size, num_tokens, self.motion_z_dim], seed=seed, alg="philox")

    def __call__(self, z, t, motion_z, c=None, frames_per_batch=None):
        """Frames [B, F, R, R, 3] (float) for z [B, z_dim], times t [B, F] and whole token sequences."""
        del frames_per_batch  # one frame per call already
        conditioning = {"c": tf.constant(c, tf.float32)} if self.c_dim else {}
        w = self._mapping(z=tf.constant(z, tf.float32), **conditioning)["w"]
        t = np.asarray(t, np.float32)
        motion_z = np.asarray(motion_z)
        frames = []
        for f in range(t.shape[1]):
            start = tokens.window_start(t[:, f], self.motion_z_distance)
            window = np.stack([motion_z[b, s:s + self.window_length] for b, s in enumerate(start)])
            frames.append(self._frame(w=w, window=tf.constant(window), t=tf.constant(t[:, f]), **conditioning)["frame"])
        return tf.stack(frames, axis=1)


def load_for_metrics(path):
    """A checkpoint (run, prefix, .npz) or an exported SavedModel version directory, as a generator.

    Args:
        path: the checkpoint, or the SavedModel's version directory (`MODEL/<version>`).

    Returns:
        A float32 `Generator`, or a `SavedModelGenerator`.
    """
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        return SavedModelGenerator(path)
    return run_dir.load_generator(path, num_fp16_res=0)


def resolve_protocols(names, num_fake=None, num_real=None):
    """Protocol objects for metric names, scaled if asked.

    Args:
        names: metric names, keys of `svgan_tf.metrics.protocols.PROTOCOLS`.
        num_fake: generated clips (frames for FID) instead of the protocol's (None: the protocol's).
        num_real: maximum real clips instead of the protocol's (None: the protocol's).

    Returns:
        A list of `Protocol`s, in the order of `names`.

    Raises:
        ValueError: naming --metrics and an unknown metric.
    """
    result = []
    for name in names:
        if name not in protocols.PROTOCOLS:
            raise ValueError(f"--metrics: unknown metric {name!r} (known: {', '.join(protocols.PROTOCOLS)}).")
        protocol = protocols.PROTOCOLS[name]
        if num_fake or num_real:
            protocol = protocol.scaled(num_fake or protocol.num_fake, num_real or protocol.num_real)
        result.append(protocol)
    return result


def evaluate(G, source, metric_protocols, seed=0, batch_size=16, cache_dir=DEFAULT_CACHE, detectors=None,
             progress=True):
    """{metric name: value} of generator `G` against `source` (None G: real vs real halves).

    Args:
        G: the generator (float32), or None for the real-vs-real comparison.
        source: `svgan_tf.data.sources.VideoSource` (opened without mirroring).
        metric_protocols: `Protocol`s (see `resolve_protocols`).
        seed: seed of the real clip offsets and of the generated samples.
        batch_size: clips (or frames / 16) per batch.
        cache_dir: real statistics cache (None: no cache).
        detectors: {"fvd": (name, fn), "fid": (name, fn)} (default: I3D and Inception).
        progress: print a progress line per pass.

    Returns:
        {metric name: Fréchet distance}.
    """
    detectors = detectors or default_detectors()
    results = {}
    for protocol in metric_protocols:
        name, detector = detectors[protocol.kind]
        unit = "clips" if protocol.kind == "fvd" else "frames"

        def bar(label, total):
            line = summaries.Progress(total, label=f"{protocol.name} {label}: ", unit=unit) if progress else None
            return line.update if line else None

        index = source.index
        if G is None:
            halves = [range(h, index.num_videos, 2) for h in (0, 1)]
            real, fake = (protocols.real_statistics(source, protocol, detector, name, seed=seed + h,
                                                    batch_size=batch_size, cache_dir=cache_dir, videos=videos,
                                                    progress=bar(f"real half {h}", _real_count(index, protocol,
                                                                                                videos)))
                          for h, videos in enumerate(halves))
        else:
            real = protocols.real_statistics(source, protocol, detector, name, seed=seed, batch_size=batch_size,
                                             cache_dir=cache_dir, progress=bar("real", _real_count(index, protocol)))
            fake = protocols.fake_statistics(G, protocol, detector, seed=seed, batch_size=batch_size,
                                             labels=index.labels, progress=bar("fake", protocol.num_fake))
        results[protocol.name] = frechet_distance(real, fake)
    return results


def _real_count(index, protocol, videos=None):
    chosen = protocols.real_videos(index, protocol, videos)
    return int(sum(index.lengths[v] for v in chosen)) if protocol.kind == "fid" else len(chosen)


def write_results(results, out_path, extra):
    """Appends one JSON line per metric to `out_path`.

    Args:
        results: {metric name: value}.
        out_path: the JSON-lines log (None: write nothing).
        extra: fields added to every line (checkpoint, protocol, time, ...).

    Returns:
        The lines, as strings.
    """
    lines = [json.dumps({"metric": name, "value": value, **extra}) for name, value in results.items()]
    if out_path:
        atomic.append_lines(out_path, lines)
    return lines
