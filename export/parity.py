"""One parity harness for every export format: same inputs to the Keras model and to the artefact.

An artefact is seen through one callable, `run(signature, **inputs) -> {output name: array}`, with the
signatures of `export.frame_model.FrameModel` (`mapping`: z[, c] -> w; `frame_at_time`: w[, c], window,
t -> frame). The harness draws contents, motion tokens and times (`frame_times`: token boundaries,
fractional times, up to the end of the training window `max_num_frames`), runs the artefact end to end (its own `mapping`, then its `frame_at_time` on
the w it returned) and compares the frames with the Keras generator's, `G.synthesize` from the whole
token window, in the generator's own precision (float64 motion by default).

Tolerances (`TOLERANCES`, on frames in about [-1, 1]; max and mean absolute error over all pixels of
the harness's frames). Measured on three models: the tiny test generator (32 px, psi 0.7), the trained
demo generator (32 px, runs/demo) and a full-size Sky-256 generator (random weights, 32.1M parameters):

* float32 (SavedModel, ONNX, LiteRT): max 1e-4, mean 1e-5. Measured max 1.4e-5 to 2.7e-5, mean 4e-7 to
  5e-6; the difference is the float32 motion path of ONNX and LiteRT (svgan_tf/motion.py).
* float16 (LiteRT weights in half precision): max 0.3, mean 0.02. Measured max 0.012 (Sky), 0.021
  (demo), 0.156 (tiny); mean 0.0009 to 0.0085. Half-precision weights are off by up to 2^-11
  relatively; in the synthesis that gives ~1e-3, but the motion code's wave argument
  freqs * scale * t amplifies the error of the period predictor in proportion to t / min_period_len:
  the worst frames are the late ones of models with short periods (the tiny model: t = 1000 is 250
  shortest periods). The motion then drifts in phase (a plausible but different motion), not into
  artefacts. Long videos that must match the server exactly want the float32 file.
* int8 (LiteRT dynamic range: int8 weights per channel, activations quantised per tensor at run time):
  max 1.0, mean 0.12. Measured mean 0.013 (tiny), 0.021 (demo), 0.065 (Sky, random weights: no learnt
  structure, larger activations); single pixels move by up to 0.09 / 0.69 / 0.45. The mean is the
  informative bound here: quantising the activations of about 20 modulated layers is coarse, and the
  same amplification of the motion code applies at large t.
"""

import dataclasses

import numpy as np



def frame_times(G):
    """Times the harness checks: 0, fractional, both sides of a token boundary, the end of the training window."""
    d = G.motion_mapping.motion_z_distance
    return (0.0, 0.5, d - 0.25, float(d), 37.3 % G.max_num_frames, G.max_num_frames - 0.75)


@dataclasses.dataclass(frozen=True)
class Tolerance:
    max_abs: float
    mean_abs: float


TOLERANCES = {
    "float32": Tolerance(1e-4, 1e-5),
    "float16": Tolerance(0.15, 0.01),
    "int8": Tolerance(0.75, 0.12),
}


class ParityError(ValueError):
    """An exported artefact disagrees with the Keras model beyond its tolerance."""


@dataclasses.dataclass(frozen=True)
class Errors:
    """Absolute errors of an artefact against the Keras model."""
    frame_max: float
    frame_mean: float
    w_max: float
    frames: int

    def __str__(self):
        return (f"frames max abs error {self.frame_max:.3g}, mean {self.frame_mean:.3g} over {self.frames} frames; "
                f"w max abs error {self.w_max:.3g}")


def cases(G, batch_size=2, seed=0):
    """Inputs for the check: a list of dicts z, c (conditional models), window, t, start, one per batch."""
    rng = np.random.default_rng(seed)
    kernel, distance = G.motion_mapping.kernel_size, G.motion_mapping.motion_z_distance
    length = 2 * (kernel - 1) + 2
    out, times = [], frame_times(G)
    for i in range(0, len(times), batch_size):
        t = np.array((times * batch_size)[i:i + batch_size], np.float32)
        case = dict(z=rng.standard_normal((batch_size, G.z_dim)).astype(np.float32),
                    window=rng.standard_normal((batch_size, length, G.motion_z_dim)).astype(np.float32),
                    t=t, start=np.floor(t / np.float32(distance)).astype(np.int32))
        if G.c_dim:
            case["c"] = np.eye(G.c_dim, dtype=np.float32)[rng.integers(G.c_dim, size=batch_size)]
        out.append(case)
    return out


def keras_outputs(G, case, truncation_psi):
    """(w, frames) of the Keras generator for one case."""
    c = case.get("c")
    ws = G.mapping(case["z"], c, truncation_psi=truncation_psi)
    frames = G.synthesize(ws, case["t"][:, None], case["window"], c=c, token_offset=case["start"])
    return ws[:, 0].numpy(), frames[:, 0].numpy()


def measure(G, run, truncation_psi=1.0, batch_size=2):
    """Errors of the artefact `run` against `G` (see the module docstring)."""
    frame_errors, w_max = [], 0.0
    for case in cases(G, batch_size):
        conditioning = {"c": case["c"]} if G.c_dim else {}
        w_expected, frames_expected = keras_outputs(G, case, truncation_psi)
        w = np.asarray(run("mapping", z=case["z"], **conditioning)["w"])
        frames = np.asarray(run("frame_at_time", w=w, window=case["window"], t=case["t"], **conditioning)["frame"])
        if frames.shape != frames_expected.shape:
            raise ParityError(f"frame_at_time returned shape {frames.shape}, expected {frames_expected.shape}.")
        w_max = max(w_max, float(np.max(np.abs(w - w_expected))))
        frame_errors.append(np.abs(frames.astype(np.float64) - frames_expected))
    frame_errors = np.concatenate(frame_errors)
    if not np.all(np.isfinite(frame_errors)):
        raise ParityError("the artefact returns non-finite frames (a weightless conversion gives NaN).")
    return Errors(float(frame_errors.max()), float(frame_errors.mean()), w_max, len(frame_errors))


def check(G, run, truncation_psi=1.0, batch_size=2, tolerance=TOLERANCES["float32"], what="artefact"):
    """`measure`, raising `ParityError` naming `what` if an error exceeds `tolerance`; returns the errors."""
    errors = measure(G, run, truncation_psi, batch_size)
    if errors.frame_max > tolerance.max_abs or errors.frame_mean > tolerance.mean_abs:
        raise ParityError(f"{what} disagrees with the Keras model: {errors} (tolerance: max {tolerance.max_abs}, "
                          f"mean {tolerance.mean_abs}).")
    return errors
