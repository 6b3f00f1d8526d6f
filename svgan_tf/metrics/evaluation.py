"""Evaluating a generator: the reference's metrics (FVD, FID, KID, IS) of a checkpoint or an exported SavedModel
against a dataset, or of two halves of the dataset (real vs real, the metric's floor), over seeded runs, and the
JSON lines the results are logged as. The library of `python -m svgan_tf.evaluate` and of the metrics a training
run computes (`svgan_tf.training.loop`).

* `load_for_metrics`: a checkpoint (run, prefix, .npz) or a SavedModel (`SavedModelGenerator`) as a generator;
* `resolve_protocols`: metric names -> `svgan_tf.metrics.protocols` protocols, optionally scaled down;
* `evaluate`: {result name: MetricResult} (mean and spread over runs, sample counts, mirroring), real statistics
  cached in `DEFAULT_CACHE` (or another directory);
* `write_results`: one JSON line per result, appended to a log;
* `default_detectors`: the reference detectors (I3D, Inception, C3D), loaded on first use;
* `Replicated`, `replicated_detectors`: a generator and detectors spread over the replicas of a MirroredStrategy
  (`evaluate(..., strategy=...)`): each batch is split into one contiguous shard per replica, the shards run
  concurrently (one thread and device per replica) and their outputs are concatenated in order, so the samples,
  features and values are those of one device (up to the float rounding of per-batch kernels).
"""

import dataclasses
import hashlib
import json
import os

import numpy as np
import tensorflow as tf

from svgan_tf import atomic, cli, generation
from svgan_tf.export.savedmodel import SavedModelGenerator
from svgan_tf.metrics import protocols, scores
from svgan_tf.metrics.frechet import frechet_distance
from svgan_tf.training import run_dir, summaries

DEFAULT_CACHE = os.path.join(os.path.expanduser("~"), ".cache", "svgan_tf", "metrics")


def default_detectors(i3d=None, i3d_resize="bilinear", inception=None, c3d=None):
    """The reference detectors, loaded on first use.

    Args:
        i3d: I3D weights (None: the shipped port's; or the reference's `i3d_torchscript.pt`, read as data).
        i3d_resize: how clips are resized to 224x224 before I3D (`svgan_tf.metrics.i3d.RESIZE_MODES`).
        inception: Inception file (None: the shipped FID network; or StyleGAN2-ADA's `inception-2015-12-05.pt`,
            which also carries the classifier is50k needs).
        c3d: the reference's `c3d_ucf101.pt` (isv2048_ucf; none is shipped).

    Returns:
        {detector id of a Protocol: (name, fn)}, fn(uint8 batch) -> [N, D] outputs; the name identifies the
        weights and preprocessing in the real-statistics cache.
    """
    from svgan_tf.metrics import c3d as c3d_module
    from svgan_tf.metrics import i3d as i3d_module
    from svgan_tf.metrics import inception as inception_module

    def c3d_probabilities(batch):
        if c3d is None:
            raise ValueError("isv2048_ucf needs the reference's C3D file: --c3d=PATH to c3d_ucf101.pt (none is "
                             "shipped; it is read as data, torch is not needed).")
        return c3d_module.c3d_probabilities(batch, c3d)

    i3d_name = "i3d" if i3d is None else f"i3d-{_file_digest(i3d)}"
    inception_name = "inception" if inception is None else f"inception-{_file_digest(inception)}"
    return {
        "i3d": (i3d_name if i3d_resize == "bilinear" else f"{i3d_name}-{i3d_resize}",
                lambda batch: i3d_module.i3d_logits(batch, weights=i3d, resize=i3d_resize)),
        "inception": (inception_name, lambda batch: inception_module.inception_features(batch, path=inception)),
        "inception_probabilities": (f"{inception_name}-probabilities",
                                    lambda batch: inception_module.inception_probabilities(batch, path=inception)),
        "c3d": ("c3d" if c3d is None else f"c3d-{_file_digest(c3d)}", c3d_probabilities),
    }


def _file_digest(path):
    """A short content digest of a detector file (its cache identity), or a clear error if it cannot be read."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


def _shards(strategy, arrays):
    """`arrays` (batches, or None) split along axis 0 into one contiguous shard per replica, placed on its device."""
    replicas = strategy.num_replicas_in_sync
    split = [None if a is None else np.array_split(np.asarray(a), replicas) for a in arrays]
    devices = strategy.extended.worker_devices

    def shard(context):
        with tf.device(devices[context.replica_id_in_sync_group]):
            return tuple(None if s is None else tf.constant(s[context.replica_id_in_sync_group]) for s in split)

    return strategy.experimental_distribute_values_from_function(shard)


# TensorFlow's notice at every eager `strategy.run` that it has overhead: here each replica's share is a whole
# detector or generator call (Python, NumPy and compiled functions), which cannot run inside one graph.
cli.leave_out_log_lines(tf.get_logger(), "MirroredStrategy eagerly")


def _replicate(fn, strategy, *arrays):
    """fn(*arrays) computed as fn on each replica's shard (concurrently), outputs concatenated in order."""
    if len(arrays[0]) < strategy.num_replicas_in_sync:  # fewer items than replicas: not worth a split
        return np.asarray(fn(*arrays))
    outputs = strategy.run(lambda shard: fn(*shard), args=(_shards(strategy, arrays),))
    return np.concatenate([np.asarray(o) for o in strategy.experimental_local_results(outputs)])


class Replicated:
    """Generator `G` whose calls are spread over the replicas of `strategy` (the rest of `G` unchanged).

    Args:
        G: a `Generator` or `SavedModelGenerator`.
        strategy: a `tf.distribute.MirroredStrategy` (one replica per device).
    """

    def __init__(self, G, strategy):
        self._G, self._strategy = G, strategy

    def __getattr__(self, name):
        return getattr(self._G, name)

    def __call__(self, z, t, motion_z, c=None, frames_per_batch=None):
        """Frames of `G(z, t, motion_z, c)`, each replica rendering a contiguous share of the videos."""
        return _replicate(lambda z, t, m, c: self._G(z, t, m, c=c, frames_per_batch=frames_per_batch),
                          self._strategy, z, t, motion_z, c)


def replicated_detectors(detectors, strategy):
    """`detectors` ({id: (name, fn)}) with every fn spread over the replicas of `strategy`; names unchanged."""
    return {key: (name, lambda batch, fn=fn: _replicate(fn, strategy, batch)) for key, (name, fn) in detectors.items()}


def load_for_metrics(path, precision="float32"):
    """A checkpoint (run, prefix, .npz) or an exported SavedModel version directory, as a generator.

    Args:
        path: the checkpoint, or the SavedModel's version directory (`MODEL/<version>`).
        precision: inference precision of a checkpoint's generator (`generator.INFERENCE_PRECISIONS`); a
            SavedModel computes in the precision it was exported in.

    Returns:
        A `Generator` computing at `precision`, or a `SavedModelGenerator`.

    Raises:
        ValueError: naming --precision for a SavedModel and a precision other than float32.
    """
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        if precision != "float32":
            raise ValueError(f"--precision={precision}: {path} is a SavedModel, which computes in the precision it "
                             "was exported in (python -m svgan_tf.export savedmodel --precision=...).")
        return SavedModelGenerator(path)
    return generation.at_precision(run_dir.load_generator(path, num_fp16_res=0), precision)


def resolve_protocols(names, num_fake=None, num_real=None, real_vs_real=False):
    """Protocol objects for metric names, scaled if asked: each count applies to every metric, or is refused.

    Args:
        names: metric names, keys of `svgan_tf.metrics.protocols.PROTOCOLS`.
        num_fake: generated clips or frames instead of the protocol's (None: the protocol's).
        num_real: maximum real items instead of the protocol's (None: the protocol's).
        real_vs_real: the protocols are for a real-vs-real comparison (`evaluate(None, ...)`), which generates
            nothing.

    Returns:
        A list of `Protocol`s, in the order of `names`.

    Raises:
        ValueError: naming --metrics and an unknown metric, --num_real for a metric without a real set, or
            --num_fake for real vs real.
    """
    if real_vs_real and num_fake:
        raise ValueError("--num_fake: --real_vs_real compares two halves of the dataset and generates nothing.")
    result = []
    for name in names:
        if name not in protocols.PROTOCOLS:
            raise ValueError(f"--metrics: unknown metric {name!r} (known: {', '.join(protocols.PROTOCOLS)}).")
        protocol = protocols.PROTOCOLS[name]
        if num_fake or num_real is not None:
            protocol = protocol.scaled(num_fake, num_real)
        result.append(protocol)
    return result


@dataclasses.dataclass
class MetricResult:
    """A metric's value over one or more seeded runs, with the sample counts it was computed from.

    Args:
        value: the mean over runs.
        runs: the value of each run (seeds seed, seed + 1, ...).
        protocol: the `Protocol` computed (its `num_real` is a maximum, its `num_fake` the generated count).
        num_real: real items each run used (0: none; real vs real: both halves together): the real set of the
            statistics, or the set KID's subsets are drawn from.
        num_fake: generated items each run used (0: real vs real).
        mirrored_real: the real set held mirrored copies.
        num_real_halves: real vs real only: the items of each half.
    """

    value: float
    runs: list
    protocol: protocols.Protocol
    num_real: int
    num_fake: int
    mirrored_real: bool
    num_real_halves: tuple | None = None

    @property
    def std(self):
        """Population standard deviation over runs, as the reference's `calc_metric(num_runs=N)`."""
        return float(np.std(self.runs))

    def __float__(self):
        return float(self.value)

    def as_json(self):
        """The result as a JSON-able dict; `protocol` names its real-set limit `max_real` (None: all)."""
        protocol = dataclasses.asdict(self.protocol)
        protocol["max_real"] = protocol.pop("num_real")
        counts = dict(num_real=self.num_real, num_fake=self.num_fake)
        if self.num_real_halves is not None:  # real vs real: nothing generated
            del protocol["num_fake"]
            counts["num_real_halves"] = list(self.num_real_halves)
        return dict(value=self.value, std=self.std, runs=self.runs, **counts, mirrored_real=self.mirrored_real,
                    protocol=protocol)


def evaluate(G, source, metric_protocols, seed=0, batch_size=16, cache_dir=DEFAULT_CACHE, detectors=None,
             progress=True, mirror=False, runs=1, strategy=None):
    """{result name: MetricResult} of generator `G` against `source` (None G: real vs real halves).

    Run r uses seed + r for the real clip offsets, the generated samples and KID's subsets; the value is the mean
    over runs and `MetricResult.std` their spread. Real vs real: the videos alternately assigned to two halves in
    name order, the halves' clips at different offsets; it shows the metric's floor on the dataset.

    Args:
        G: the generator (float32), or None for the real-vs-real comparison.
        source: `svgan_tf.data.sources.VideoSource` (opened without mirroring; `mirror` applies it).
        metric_protocols: `Protocol`s (see `resolve_protocols`).
        seed: seed of the first run.
        batch_size: clips (or frames / 16) per batch.
        cache_dir: real statistics cache (None: no cache).
        detectors: {detector id: (name, fn)} (default: `default_detectors()`).
        progress: print a progress line per pass.
        mirror: the dataset's mirror setting (a training run's `mirror`); applied where the reference does.
        runs: seeded runs to average.
        strategy: a `tf.distribute.MirroredStrategy` to spread generation and detection over its replicas
            (`Replicated`; the values are those of one device); None: one device.

    Returns:
        {result name: MetricResult}: the metric's name, or `<name>_mean` / `<name>_std` for IS.

    Raises:
        ValueError: real vs real for a metric without a real set, or `runs` < 1.
    """
    if runs < 1:
        raise ValueError(f"--runs must be >= 1, got {runs}.")
    detectors = detectors or default_detectors()
    if strategy is not None and strategy.num_replicas_in_sync > 1:
        detectors = replicated_detectors(detectors, strategy)
        G = None if G is None else Replicated(G, strategy)
    results = {}
    for protocol in metric_protocols:
        if G is None and not protocol.has_real_set:
            raise ValueError(f"--real_vs_real: {protocol.name} scores generated samples only; it has no real-vs-real "
                             "floor.")
        values = [_run(G, source, protocol, seed + r, batch_size, cache_dir, detectors, progress, mirror)
                  for r in range(runs)]
        num_real, num_fake, halves = _counts(G, source.index, protocol, mirror)
        for key in values[0]:
            runs_values = [v[key] for v in values]
            results[key] = MetricResult(float(np.mean(runs_values)), runs_values, protocol, num_real, num_fake,
                                        protocols.mirrored(protocol, mirror) and num_real > 0, halves)
    return results


def _halves(index):
    return [range(h, index.num_videos, 2) for h in (0, 1)]


def _counts(G, index, protocol, mirror):
    """(real items, generated items, real items per half or None) of one run."""
    if G is None:
        halves = tuple(len(protocols.real_items(index, protocol, mirror, videos)) for videos in _halves(index))
        return sum(halves), 0, halves
    return len(protocols.real_items(index, protocol, mirror)), protocol.num_fake, None


def _run(G, source, protocol, seed, batch_size, cache_dir, detectors, progress, mirror):
    """{result name: value} of one seeded run."""
    name, detector = detectors[protocol.detector]
    index = source.index
    unit = protocol.unit

    def bar(label, total):
        return summaries.Progress(total, label=f"{protocol.name} {label}: ", unit=unit).update if progress else None

    common = dict(batch_size=batch_size, cache_dir=cache_dir, mirror=mirror)
    if protocol.statistic == "is":
        probabilities = protocols.fake_outputs(G, protocol, detector, seed=seed, batch_size=batch_size,
                                               labels=index.labels, progress=bar("fake", protocol.num_fake))
        mean, std = scores.inception_score(probabilities, protocol.num_splits,
                                           shuffle_seed=42 if unit == "clips" else None)
        return {f"{protocol.name}_mean": mean, f"{protocol.name}_std": std}
    if G is None:
        sides = [dict(videos=videos, seed=[seed, h]) for h, videos in enumerate(_halves(index))]
    else:
        sides = [dict(videos=None, seed=seed)]
    sizes = [len(protocols.real_items(index, protocol, mirror, side["videos"])) for side in sides]
    if protocol.statistic == "frechet":
        stats = [protocols.real_statistics(source, protocol, detector, name, progress=bar(f"real{h or ''}", n),
                                           **common, **side) for h, (side, n) in enumerate(zip(sides, sizes))]
        if G is not None:
            stats.append(protocols.fake_statistics(G, protocol, detector, seed=seed, batch_size=batch_size,
                                                   labels=index.labels, progress=bar("fake", protocol.num_fake)))
        return {protocol.name: frechet_distance(*stats)}
    # KID: the subsets are drawn first, so that only the real items they use are read.
    num_other = sizes[1] if G is None else protocol.num_fake
    draws = scores.kid_draws(sizes[0], num_other, protocol.num_subsets, protocol.max_subset_size, seed=seed)
    used = [np.unique(np.concatenate([draw[side] for draw in draws])) for side in (1, 0)]
    real = protocols.real_kid_rows(source, protocol, detector, name, used[0], progress=bar("real", len(used[0])),
                                   **common, **sides[0])
    if G is None:
        other = protocols.real_kid_rows(source, protocol, detector, name, used[1],
                                        progress=bar("real1", len(used[1])), **common, **sides[1])
    else:
        other = protocols.fake_outputs(G, protocol, detector, seed=seed, batch_size=batch_size, labels=index.labels,
                                       progress=bar("fake", protocol.num_fake))
    return {protocol.name: scores.kernel_inception_distance(real, other, draws)}


def write_results(results, out_path, extra):
    """Appends one JSON line per result to `out_path`.

    Args:
        results: {result name: MetricResult}.
        out_path: the JSON-lines log (None: write nothing).
        extra: fields added to every line (checkpoint, mirror, time, ...).

    Returns:
        The lines, as strings.
    """
    lines = [json.dumps({"metric": name, **result.as_json(), **extra}) for name, result in results.items()]
    if out_path:
        atomic.append_lines(out_path, lines)
    return lines
