"""One parity harness for every export format: same inputs to the Keras model and to the artefact.

An artefact is seen through one callable, `run(signature, **inputs) -> {output name: array}`, with the
signatures of `svgan_tf.export.frame_model.FrameModel` (`mapping`: z[, c] -> w; `frame_at_time`: w[, c], window,
t -> frame). The harness draws contents, motion tokens and times (`frame_times`: token boundaries,
fractional times, up to the end of the training window `max_num_frames`), runs the artefact end to end
(its own `mapping`, then its `frame_at_time` on the w it returned) and compares the frames with the Keras
generator's, `G.synthesize` from the whole token window, in the generator's own precision (float64
motion by default).

Tolerances (`TOLERANCES`, on frames in about [-1, 1]; the max and the mean absolute error over every
value of the harness's frames: 6 frames, times as above). Measured (tests/test_export.py with `-s`, and
`python -m tools.bench_export`) on four models: the tiny test generator (32 px, psi 0.7, unconditional
and 3 classes), the trained demo generator (32 px, `runs/demo` after the 48-kimg demo), the official
small networks imported from the reference snapshot fixture (64 px), and a full-size SkyTimelapse-256
generator (random weights, 32.1M parameters):

| variant | tiny (c=0 / c=3) max, mean | demo | official small | Sky-256 | tolerance max / mean |
|---|---|---|---|---|---|
| float32 (SavedModel) | 0 | 0 | - | 0 | 1e-4 / 1e-5 |
| float32 (LiteRT) | 7.2e-6, 5.8e-7 / 1.1e-5, 9.0e-7 | 2.0e-6, 1.8e-7 | 4.2e-5, 3.3e-6 | 2.7e-5, 3.5e-6 | 1e-4 / 1e-5 |
| float32 (ONNX) | 1.4e-5, 8.3e-7 / 1.0e-5, 6.8e-7 | 3.4e-6, 1.7e-7 | - | 2.1e-5, 2.7e-6 | 1e-4 / 1e-5 |
| float16 (LiteRT) | 0.030, 0.0024 / 0.023, 0.0018 | 0.0026, 0.00018 | - | 0.0072, 0.0014 | 0.15 / 0.01 |
| int8 (LiteRT) | 0.099, 0.016 / 0.27, 0.028 | 0.087, 0.0069 | - | 0.35, 0.060 | 0.75 / 0.12 |

* float32: the SavedModel is the Keras computation itself (float64 motion path): 0. LiteRT and ONNX
  compute the motion path in float32 (no float64 kernels there), whose wave argument amplifies float32
  rounding (svgan_tf/networks/motion.py); the largest, 4.2e-5, is on the official weights, whose own float32 vs
  float64 difference is of the same size (README, motion precision). 1e-4 leaves a 2.4x margin.
* float16 (weights stored in half precision, relative error up to 2^-11): about 1e-3 through the synthesis,
  more where the period predictor's error is amplified by the wave argument freqs * scale * t (late frames,
  short periods: the tiny model, periods from 4 frames, is the worst). The motion then drifts in phase (a
  plausible, slightly different motion), not into artefacts. The tolerance is 5x the largest max and 4x
  the largest mean measured; long videos that must match the server exactly want the float32 file.
* int8 (dynamic range: int8 weights per channel, activations quantised per tensor at run time): the
  quantisation of the activations of about 20 modulated layers is coarse; the full-size random-weight
  generator (no learnt structure, wide activation ranges) is the worst. The tolerance is 2x its max and
  its mean; the mean is the informative figure (single pixels move much more than the average).
"""

import dataclasses

import numpy as np

from svgan_tf import tokens


def frame_times(G):
    """Times the harness checks: 0, fractional, both sides of a token boundary, the end of the training window."""
    d = G.motion_z_distance
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
    out, times = [], frame_times(G)
    for i in range(0, len(times), batch_size):
        t = np.array((times * batch_size)[i:i + batch_size], np.float32)
        case = dict(z=rng.standard_normal((batch_size, G.z_dim)).astype(np.float32),
                    window=rng.standard_normal((batch_size, G.window_length, G.motion_z_dim)).astype(np.float32),
                    t=t, start=tokens.window_start(t, G.motion_z_distance))
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
