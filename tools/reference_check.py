"""Checks svgan_tf against a golden fixture made with the reference PyTorch StyleGAN-V.

    python -m tools.reference_check --fixture ../shared/fixtures/official_small

A fixture directory holds `config.json` (reference constructor arguments `G_kwargs` / `D_kwargs` and the
list of `calls` that produced the outputs), `params_G.npz` / `params_D.npz` (reference state_dicts),
`inputs.npz` and `outputs.npz`. Every size is read from those files. The networks are built in float32,
the reference weights loaded through `svgan_tf.interop.reference`, every listed call is run, and one line per
output gives its max abs difference and the tolerance. Exit status 1 if any output is out of tolerance
(or a call is unknown), 2 if the fixture itself cannot be read.

A training fixture (`state_0.npz`, `iter_k.npz`: three iterations of the reference's training loop) is checked by
`tools.reference_train_check`: teacher-forced per phase, then free-running (`--iterations N`: the first N only).
"""

import functools
import json
import os
import sys

import numpy as np
from absl import app, flags

FLAGS = flags.DEFINE_string("fixture", None, "Fixture directory: a network fixture (config.json, params_*.npz, "
                            "inputs.npz, outputs.npz) or a training fixture (config.json, state_k.npz, iter_k.npz).")
ITERATIONS = flags.DEFINE_integer("iterations", None, "Training fixtures: check only the first N iterations "
                                  "(quicker); default all.", lower_bound=1)

# (tolerance, "abs" | "rel"): "rel" tolerances are relative to the max abs value of the expected output.
TOLERANCES = {
    "ws": (1e-5, "abs"),
    "ws_trunc": (1e-5, "abs"),
    "motion_v": (2e-4, "abs"),
    "frames": (1e-3, "abs"),
    "frames_unfused": (1e-3, "abs"),
    "frames_trunc": (1e-3, "abs"),
    "d_logits": (1e-4, "abs"),
    "d_r1_grad": (1e-4, "rel"),
    # The penalty is a sum of squared gradients: its relative error is about twice the gradient's.
    "d_r1_penalty": (2e-4, "rel"),
}


def _nchw(frames):
    """[B, F, H, W, C] -> [B*F, C, H, W] (the reference's layout and frame order)."""
    b, f, h, w, c = frames.shape
    return np.asarray(frames).reshape(b * f, h, w, c).transpose(0, 3, 1, 2)


def _nhwc_clips(frames, num_videos):
    """[B*F, C, H, W] -> [B, F, H, W, C]."""
    n, c, h, w = frames.shape
    return frames.transpose(0, 2, 3, 1).reshape(num_videos, n // num_videos, h, w, c)


def load_fixture(directory):
    """(config, params_G, params_D, inputs, outputs) of a fixture directory; clear errors if incomplete."""
    def path(name):
        p = os.path.join(directory, name)
        if not os.path.isfile(p):
            raise FileNotFoundError(f"Fixture file missing: {p}")
        return p

    with open(path("config.json")) as f:
        config = json.load(f)
    for key in ("G_kwargs", "D_kwargs", "calls"):
        if key not in config:
            raise KeyError(f"{path('config.json')} has no {key!r} entry.")
    arrays = [dict(np.load(path(n))) for n in ("params_G.npz", "params_D.npz", "inputs.npz", "outputs.npz")]
    return (config, *arrays)


def run_calls(G, D, config, inputs, outputs):
    """Runs every call listed in the fixture; returns {call name: our output as numpy, reference layout}."""
    import tensorflow as tf

    z = inputs["z"]
    c = inputs["c"] if inputs["c"].shape[-1] > 0 else None
    motion_z, t_frames = inputs["motion_z"], inputs["t_frames"]
    preset = config.get("preset_params", {})
    psi = float(inputs.get("truncation_psi", preset.get("truncation_psi", 1.0)))
    cutoff = inputs.get("truncation_cutoff", preset.get("truncation_cutoff"))
    cutoff = None if cutoff is None else int(cutoff)
    num_videos = z.shape[0]

    @functools.cache  # d_r1_grad and d_r1_penalty share one gradient computation
    def d_gradient():
        frames = tf.constant(_nhwc_clips(outputs["frames"], num_videos))
        with tf.GradientTape() as tape:
            tape.watch(frames)
            total = tf.reduce_sum(D(frames, t_frames, c=c))
        return _nchw(tape.gradient(total, frames).numpy())

    runners = {
        "ws": lambda: G.mapping(z, c),
        "ws_trunc": lambda: G.mapping(z, c, truncation_psi=psi, truncation_cutoff=cutoff),
        "motion_v": lambda: np.reshape(G.motion_mapping(motion_z, inputs["t_motion"], c=c),
                                       [-1, G.motion_mapping.output_dim]),
        "frames": lambda: _nchw(G(z, t_frames, motion_z, c=c, fused_modconv=True)),
        "frames_unfused": lambda: _nchw(G(z, t_frames, motion_z, c=c, fused_modconv=False)),
        "frames_trunc": lambda: _nchw(G(z, t_frames, motion_z, c=c, truncation_psi=psi, truncation_cutoff=cutoff,
                                        fused_modconv=True)),
        "d_logits": lambda: D(tf.constant(_nhwc_clips(outputs["frames"], num_videos)), t_frames, c=c),
        "d_r1_grad": d_gradient,
        "d_r1_penalty": lambda: np.square(d_gradient()).sum(axis=(1, 2, 3)),
    }
    results = {}
    for name in config["calls"]:
        if name in runners:
            results[name] = np.asarray(runners[name]())
    return results


def check(directory, out=None, G=None, D=None, iterations=None):
    """Runs the whole check on a fixture directory; returns True when every output is within tolerance.

    A training fixture (with `state_0.npz`) is checked by `tools.reference_train_check`. `G` and `D` (float32
    networks) replace the ones built from a network fixture's parameters (e.g. networks imported from a
    reference snapshot). `iterations` limits a training check to the first iterations.
    """
    out = out or sys.stdout
    from tools import reference_train_check

    if reference_train_check.is_training_fixture(directory):
        if G is not None or D is not None:
            raise ValueError("G and D can only replace the networks of a network fixture")
        return reference_train_check.check(directory, out, iterations)
    from svgan_tf.interop import reference

    config, params_G, params_D, inputs, outputs = load_fixture(directory)
    # Parity is defined in float32: mixed precision off whatever num_fp16_res says.
    if G is None:
        G = reference.build_generator(config["G_kwargs"], mixed_precision=None)
        reference.load_reference_weights(G, params_G, source=os.path.join(directory, "params_G.npz"))
    if D is None:
        D = reference.build_discriminator(config["D_kwargs"], mixed_precision=None)
        reference.load_reference_weights(D, params_D, source=os.path.join(directory, "params_D.npz"))
    results = run_calls(G, D, config, inputs, outputs)

    ok = True
    print(f"{'output':<16}{'shape':<22}{'max abs diff':>14}{'tolerance':>26}  result", file=out)
    for name in config["calls"]:
        if name not in results or name not in TOLERANCES:
            print(f"{name:<16}no checker for this call: cannot verify it  FAIL", file=out)
            ok = False
            continue
        if name not in outputs:
            print(f"{name:<16}listed in calls but missing from outputs.npz  FAIL", file=out)
            ok = False
            continue
        ours, expected = results[name], outputs[name]
        if ours.shape != expected.shape:
            print(f"{name:<16}shape {ours.shape} != reference {expected.shape}  FAIL", file=out)
            ok = False
            continue
        diff = float(np.max(np.abs(ours.astype(np.float64) - expected))) if expected.size else 0.0
        tol, kind = TOLERANCES[name]
        limit = tol * float(np.max(np.abs(expected))) if kind == "rel" else tol
        passed = diff <= limit
        ok &= passed
        tol_text = f"{tol:g} x max = {limit:.3g}" if kind == "rel" else f"{tol:g}"
        print(f"{name:<16}{str(list(expected.shape)):<22}{diff:>14.3e}{tol_text:>26}  {'ok' if passed else 'FAIL'}",
              file=out)
    print(f"reference check {'passed' if ok else 'FAILED'}: {directory}", file=out)
    return ok


def main(argv):
    del argv
    if not FLAGS.value:
        raise app.UsageError("--fixture DIR is required.")
    try:
        ok = check(FLAGS.value, iterations=ITERATIONS.value)
    except (OSError, KeyError, ValueError, NotImplementedError) as error:
        print(f"reference_check: cannot use fixture {FLAGS.value}: {error}", file=sys.stderr)
        sys.exit(2)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    app.run(main)
