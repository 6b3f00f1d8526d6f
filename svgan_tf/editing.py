"""Latent-space editing of a generator: the library of `python -m svgan_tf.edit`.

* `sefa_directions`: closed-form semantic directions (SeFa; Shen and Zhou, "Closed-Form Factorization of Latent
  Semantics in GANs", CVPR 2021). Every synthesis layer reads w only through its style affine s = A w + b, so
  the directions n that move the styles most, max |A n| for unit n, are the top eigenvectors of A^T A. A stacks
  the affines ([out, w_dim], equalised-learning-rate gain applied) of the chosen layers, each style channel's
  weight row scaled to unit length so that wide layers do not dominate. The layers are chosen by resolution:
  coarse ones (4-16) move shape and layout, fine ones colour and texture. No extra network is needed. The
  motion path (the 4x4 input's motion code) does not read w, so an edit leaves the motion as it is.
* `apply_direction`, `truncate`, `lerp`, `slerp`: moves in W (a direction added to the ws of chosen layers;
  truncation towards w_avg; interpolation of contents) and of motion-noise tokens (spherical interpolation,
  which keeps Gaussian tokens at their typical norm).
* `ws_indices`: which rows of ws the layers of given resolutions read.
* `render_clips`: short clips of explicit (ws, motion tokens) at given times.
"""

import numpy as np
import tensorflow as tf


def _affine_layers(G):
    """[(resolution, ws row, affine DenseLayer)] of every synthesis layer, in order."""
    layers, w_idx = [], 0
    for block in G.synthesis.blocks:
        convs = [block.conv1] if block.conv0 is None else [block.conv0, block.conv1]
        for i, conv in enumerate(convs):
            layers.append((block.resolution, w_idx + i, conv.affine))
        layers.append((block.resolution, w_idx + block.num_conv, block.torgb.affine))
        w_idx += block.num_conv
    return layers


def ws_indices(G, resolutions=None):
    """Sorted rows of ws [num_ws] that the layers of `resolutions` (None: all) read."""
    chosen = _check_resolutions(G, resolutions)
    return sorted({row for res, row, _ in _affine_layers(G) if res in chosen})


def _check_resolutions(G, resolutions):
    if resolutions is None:
        return set(G.synthesis.block_resolutions)
    unknown = sorted(set(resolutions) - set(G.synthesis.block_resolutions))
    if unknown or not resolutions:
        raise ValueError(f"resolutions {sorted(resolutions)} must be a non-empty subset of the generator's "
                         f"{G.synthesis.block_resolutions}.")
    return set(resolutions)


def sefa_directions(G, resolutions=None):
    """SeFa directions of the layers of `resolutions` (None: all synthesis layers).

    Args:
        G: the generator.
        resolutions: block resolutions whose style affines are factorised.

    Returns:
        (eigenvalues float64 [w_dim] descending, directions float32 [w_dim, w_dim]: row k is the unit direction
        of the k-th eigenvalue).
    """
    chosen = _check_resolutions(G, resolutions)
    rows = []
    for res, _, affine in _affine_layers(G):
        if res in chosen:
            a = np.asarray(affine.weight, np.float64).T * affine.weight_gain  # [out, w_dim], as s = A w + b
            rows.append(a / np.linalg.norm(a, axis=1, keepdims=True))
    a = np.concatenate(rows)
    eigenvalues, vectors = np.linalg.eigh(a.T @ a)
    order = np.argsort(eigenvalues)[::-1]
    return eigenvalues[order], vectors[:, order].T.astype(np.float32)


def apply_direction(ws, direction, strength, rows=None):
    """ws [..., num_ws, w_dim] moved by `strength` * `direction` [w_dim] in the given ws rows (None: all)."""
    ws = np.array(ws, np.float32)
    rows = slice(None) if rows is None else list(rows)
    ws[..., rows, :] += np.float32(strength) * np.asarray(direction, np.float32)
    return ws


def truncate(ws, w_avg, psi):
    """ws pulled towards w_avg: w_avg + psi (ws - w_avg) (psi 1: unchanged, 0: the average content)."""
    return (np.asarray(w_avg, np.float32) + np.float32(psi) * (np.asarray(ws, np.float32) - w_avg)).astype(np.float32)


def lerp(a, b, fractions):
    """Linear interpolation a + f (b - a) for each f of `fractions`: [len(fractions), *a.shape]."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return np.stack([a + np.float32(f) * (b - a) for f in fractions])


def slerp(a, b, fractions):
    """Spherical interpolation along the last axis (token by token) for each f of `fractions`.

    Gaussian tokens lie near a sphere of radius sqrt(dim); the straight line between two of them passes well
    inside it (norm / sqrt(2) halfway), where the motion mapping never saw inputs.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    cos = np.sum(a * b, -1, keepdims=True) / (np.linalg.norm(a, axis=-1, keepdims=True)
                                              * np.linalg.norm(b, axis=-1, keepdims=True))
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    sin = np.sin(omega)
    out = []
    for f in fractions:
        with np.errstate(invalid="ignore", divide="ignore"):
            mixed = (np.sin((1 - f) * omega) * a + np.sin(f * omega) * b) / sin
        out.append(np.where(sin > 1e-6, mixed, a + f * (b - a)))
    return np.stack(out).astype(np.float32)


def render_clips(G, ws, motion_z, times, batch=8):
    """Frames of explicit latents: ws [N, num_ws, w_dim], motion_z [N, L, motion_z_dim] (tokens 0 .. L-1), times
    [F] -> float32 [N, F, R, R, 3], `batch` clips per generator call."""
    times = np.asarray(times, np.float32)
    clips = []
    for i in range(0, len(ws), batch):
        n = len(ws[i:i + batch])
        clips.append(G.synthesize(tf.constant(ws[i:i + batch]), tf.constant(np.tile(times[None], [n, 1])),
                                  tf.constant(motion_z[i:i + batch])).numpy())
    return np.concatenate(clips)
