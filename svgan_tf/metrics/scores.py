"""Kernel Inception Distance and Inception Score as StyleGAN-V (after StyleGAN2-ADA) computes them, NumPy only.

``kernel_inception_distance`` is ``src/metrics/kernel_inception_distance.compute_kid`` (``kid50k_full``: up to
1 000 000 real and 50 000 generated Inception pool3 features, 100 subsets of at most 1000 rows): the unbiased MMD^2
estimator with the cubic polynomial kernel ``k(x, y) = (x . y / d + 1)^3``, averaged over subsets. The subset
draws are separate (``kid_draws``) so that a caller can keep only the real rows the draws name: the real feature
set of ``kid50k_full`` can be a million rows, of which at most 100 000 are ever read.

``inception_score`` is ``src/metrics/inception_score.compute_is`` (``is50k``: 50 000 frames, 10 splits) and, with
``shuffle_seed=42``, ``src/metrics/video_inception_score.compute_isv`` (``isv2048_ucf``: 2048 clips, 10 splits,
the probabilities shuffled by ``np.random.RandomState(42)`` first).
"""

from __future__ import annotations

import numpy as np

__all__ = ["kid_draws", "kernel_inception_distance", "inception_score", "softmax"]

# How far a probability row's sum may be from 1: float32 softmax outputs over 1008 classes sum to 1 within ~1e-6, so
# anything beyond this is not a probability vector (e.g. logits or features passed by mistake).
_ROW_SUM_TOLERANCE = 1e-3


def softmax(logits):
    """Row-wise softmax in float64, the largest logit of each row subtracted first (no overflow).

    Args:
        logits: [N, num_classes] array.

    Returns:
        float64 np.ndarray [N, num_classes] whose rows sum to 1.

    Raises:
        ValueError: ``logits`` is not 2-D.
    """
    z = np.array(logits, dtype=np.float64)
    if z.ndim != 2:
        raise ValueError(f"logits must be [N, num_classes], got shape {z.shape}")
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    return z / z.sum(axis=1, keepdims=True)


def kid_draws(num_real, num_fake, num_subsets=100, max_subset_size=1000, seed=0):
    """The subsets KID compares: row indices drawn as the reference draws them.

    The subset size is ``m = min(num_real, num_fake, max_subset_size)``; for each subset the generated rows are drawn
    first, then the real rows, each with ``choice(n, m, replace=False)`` from one ``np.random.RandomState(seed)``
    (the reference uses the same calls on NumPy's unseeded global generator).

    Args:
        num_real: number of real feature rows.
        num_fake: number of generated feature rows.
        num_subsets: number of subsets (100 for ``kid50k_full``).
        max_subset_size: the largest subset (1000 for ``kid50k_full``).
        seed: seed of the ``RandomState``.

    Returns:
        A list of ``num_subsets`` pairs ``(fake_indices, real_indices)``, each an int64 array of ``m`` distinct
        indices.

    Raises:
        ValueError: a count is not an integer, ``num_subsets < 1``, or ``m < 2`` (the unbiased estimator divides by
            ``m - 1``).
    """
    for name, value in (("num_real", num_real), ("num_fake", num_fake), ("num_subsets", num_subsets),
                        ("max_subset_size", max_subset_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"{name} must be an integer, got {value!r}")
    if num_subsets < 1:
        raise ValueError(f"num_subsets must be at least 1, got {num_subsets}")
    m = min(num_real, num_fake, max_subset_size)
    if m < 2:
        raise ValueError(f"KID needs subsets of at least 2 rows: min(num_real={num_real}, num_fake={num_fake}, "
                         f"max_subset_size={max_subset_size}) = {m}")
    rng = np.random.RandomState(seed)
    draws = []
    for _ in range(int(num_subsets)):
        fake = rng.choice(int(num_fake), int(m), replace=False).astype(np.int64)
        real = rng.choice(int(num_real), int(m), replace=False).astype(np.int64)
        draws.append((fake, real))
    return draws


def _rows(features, indices, what):
    """``features[indices]`` as a finite float64 [m, d] array."""
    try:
        rows = np.asarray(features[indices], dtype=np.float64)
    except (IndexError, KeyError) as e:
        raise ValueError(f"{what}: cannot read the drawn rows ({type(e).__name__}: {e})") from None
    if rows.ndim != 2 or rows.shape[0] != len(indices):
        raise ValueError(f"{what}: the drawn rows have shape {rows.shape}, expected ({len(indices)}, feature dim)")
    if not np.isfinite(rows).all():
        raise ValueError(f"{what}: the drawn rows hold non-finite values")
    return rows


def kernel_inception_distance(real_features, fake_features, draws):
    """KID over the given subsets, in float64.

    For each subset of ``m`` generated rows ``x`` and ``m`` real rows ``y`` with feature dimension ``d``:
    ``a = (x x^T / d + 1)^3 + (y y^T / d + 1)^3``, ``b = (x y^T / d + 1)^3``, and the subset adds
    ``(sum(a) - trace(a)) / (m - 1) - 2 sum(b) / m``; the result is that total divided by ``num_subsets * m``.

    Args:
        real_features: real features; anything whose ``__getitem__`` takes an int64 index array and returns the
            rows as an [m, d] array (an array, a memory map, a sparse row store holding only the drawn rows).
        fake_features: generated features, the same way.
        draws: ``kid_draws(...)``: a non-empty list of ``(fake_indices, real_indices)`` of one common length.

    Returns:
        The KID (float); close to 0 for two samples of one distribution, and may be slightly negative then.

    Raises:
        ValueError: no draws, subsets of unequal or too small size, rows that cannot be read, of another feature
            dimension, or not finite.
    """
    draws = list(draws)
    if not draws:
        raise ValueError("draws is empty: KID needs at least one subset")
    m = len(draws[0][0])
    if m < 2:
        raise ValueError(f"KID needs subsets of at least 2 rows, got {m}")
    dim = None
    total = 0.0
    for i, (fake_indices, real_indices) in enumerate(draws):
        if len(fake_indices) != m or len(real_indices) != m:
            raise ValueError(f"draw {i} has {len(fake_indices)} generated and {len(real_indices)} real rows; every "
                             f"subset must have {m} of each")
        x = _rows(fake_features, np.asarray(fake_indices, np.int64), f"fake_features (draw {i})")
        y = _rows(real_features, np.asarray(real_indices, np.int64), f"real_features (draw {i})")
        if dim is None:
            dim = x.shape[1]
        if x.shape[1] != dim or y.shape[1] != dim:
            raise ValueError(f"draw {i}: feature dimensions {x.shape[1]} (generated) and {y.shape[1]} (real) differ "
                             f"from {dim}")
        a = (x @ x.T / dim + 1) ** 3 + (y @ y.T / dim + 1) ** 3
        b = (x @ y.T / dim + 1) ** 3
        total += (a.sum() - np.diag(a).sum()) / (m - 1) - b.sum() * 2 / m
    return float(total / len(draws) / m)


def inception_score(probabilities, num_splits=10, shuffle_seed=None):
    """Inception Score: the mean and standard deviation over splits of ``exp(E_x KL(p(y|x) || p(y)))``.

    Split ``i`` is rows ``[i N // k, (i + 1) N // k)``; ``p(y)`` is the split's mean row. Computed in float64.
    Where a probability is exactly 0 its term counts as 0 (the limit of ``p log p``); the reference evaluates
    ``0 * log 0`` as NaN there, which only exactly-zero (underflowed) probabilities reach.

    Args:
        probabilities: [N, num_classes] class probabilities (rows non-negative, summing to 1).
        num_splits: number of splits (10 for ``is50k`` and ``isv2048_ucf``).
        shuffle_seed: when not None, the rows are first shuffled (on a copy) with
            ``np.random.RandomState(shuffle_seed).shuffle``: 42 for ``isv2048_ucf``.

    Returns:
        ``(mean, std)`` floats (``np.std``: the population standard deviation over splits).

    Raises:
        ValueError: not a 2-D array, fewer rows than splits, non-finite or negative values, or rows that do not sum
            to 1.
    """
    probs = np.array(probabilities, dtype=np.float64)  # a copy: shuffled in place below
    if probs.ndim != 2 or probs.shape[1] < 1:
        raise ValueError(f"probabilities must be [N, num_classes], got shape {probs.shape}")
    if isinstance(num_splits, bool) or not isinstance(num_splits, (int, np.integer)) or num_splits < 1:
        raise ValueError(f"num_splits must be a positive integer, got {num_splits!r}")
    n = probs.shape[0]
    if n < num_splits:
        raise ValueError(f"{n} probability rows cannot make {num_splits} non-empty splits")
    if not np.isfinite(probs).all():
        raise ValueError("probabilities hold non-finite values")
    if (probs < 0).any():
        raise ValueError(f"probabilities hold negative values (min {probs.min():.3g}): logits passed instead?")
    sums = probs.sum(axis=1)
    worst = int(np.argmax(np.abs(sums - 1)))
    if abs(sums[worst] - 1) > _ROW_SUM_TOLERANCE:
        raise ValueError(f"probability row {worst} sums to {sums[worst]:.6g}, not 1: logits or features passed "
                         "instead of probabilities?")
    if shuffle_seed is not None:
        np.random.RandomState(shuffle_seed).shuffle(probs)
    scores = []
    for i in range(num_splits):
        part = probs[i * n // num_splits:(i + 1) * n // num_splits]
        marginal = part.mean(axis=0, keepdims=True)
        positive = part > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            kl = np.where(positive, part * (np.log(np.where(positive, part, 1)) - np.log(marginal)), 0.0)
        scores.append(np.exp(kl.sum(axis=1).mean()))
    return float(np.mean(scores)), float(np.std(scores))
