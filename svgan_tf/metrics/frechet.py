"""Feature statistics and the Fréchet distance, in float64, as the reference FVD / FID code.

The reference computes mean and covariance in float64 with the biased estimate cov = E[x x^T] - mu mu^T
(divided by N) and d = |mu_1 - mu_2|^2 + tr(S_1) + tr(S_2) - 2 tr(sqrtm(S_1 S_2)) with `scipy.linalg.sqrtm`
(real part of the trace). For covariance matrices (symmetric positive semi-definite) the same trace is
computed here exactly through symmetric eigendecompositions: tr(sqrtm(S_1 S_2)) = sum_i sqrt(l_i) with l_i
the eigenvalues of S_1^(1/2) S_2 S_1^(1/2) (similar to S_1 S_2), which avoids the non-symmetric square root.
"""

import dataclasses

import numpy as np

from svgan_tf import atomic


@dataclasses.dataclass
class Statistics:
    """Running first and second moments of feature vectors (float64).

    Args:
        dim: feature width.
    """

    dim: int
    count: int = 0
    total: np.ndarray = None
    outer: np.ndarray = None

    def __post_init__(self):
        if self.total is None:
            self.total = np.zeros(self.dim, np.float64)
            self.outer = np.zeros((self.dim, self.dim), np.float64)

    def add(self, features):
        """Accumulates features [N, dim]."""
        features = np.asarray(features, np.float64)
        if features.ndim != 2 or features.shape[1] != self.dim:
            raise ValueError(f"features must be [N, {self.dim}], got {features.shape}.")
        self.count += len(features)
        self.total += features.sum(axis=0)
        self.outer += features.T @ features

    @property
    def mean(self):
        return self.total / self.count

    @property
    def cov(self):
        """Biased covariance E[x x^T] - mu mu^T, as the reference."""
        mean = self.mean
        return self.outer / self.count - np.outer(mean, mean)

    def save(self, path):
        """Writes the statistics to `path` (.npz) atomically."""
        with atomic.staged_path(path) as staging, open(staging, "wb") as f:
            np.savez(f, count=self.count, total=self.total, outer=self.outer)

    @classmethod
    def load(cls, path):
        with np.load(path) as data:
            total = data["total"]
            return cls(dim=len(total), count=int(data["count"]), total=total, outer=data["outer"])


def _sqrt_psd(matrix):
    """Symmetric square root of a symmetric positive semi-definite matrix (negative rounding noise clipped)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(a, b):
    """Fréchet distance between the Gaussians of two `Statistics` (float)."""
    if a.count < 2 or b.count < 2:
        raise ValueError(f"need at least 2 samples on each side, got {a.count} and {b.count}.")
    root = _sqrt_psd(a.cov)
    middle = root @ b.cov @ root
    trace_sqrt = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)))
    diff = a.mean - b.mean
    return float(diff @ diff + np.trace(a.cov) + np.trace(b.cov) - 2 * trace_sqrt)
