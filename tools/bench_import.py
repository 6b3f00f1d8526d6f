"""Memory and time of importing a full-size published snapshot (SkyTimelapse 256^2), on a synthetic one.

    python -m tools.bench_import
    python -m tools.bench_import --snapshot=/data/network-snapshot-sky256.pkl   # keep / reuse the file

No real published snapshot can be downloaded here, so this writes one in the official layout
(`tools/pickle_writer.py`, no torch): the StyleGAN-V SkyTimelapse-256 networks (G 32.1M and D 25.3M
parameters, random weights), G_ema, and the Adam moments (`exp_avg`, `exp_avg_sq`) of G_opt and D_opt that a
training snapshot carries, about 0.8 GB. Then, each in a fresh process (so each peak RSS is its own):

1. `read_snapshot` alone: seconds and peak RSS above the interpreter's RSS just before reading (NumPy and the
   reader loaded), as a multiple of the file size (issue 5: at most about twice);
2. the whole import (`svgan_tf.interop.importer.import_snapshot`: read, build G, D and G_ema in TensorFlow,
   load the weights, write the run directory): seconds and peak RSS of the process.
"""

import json
import os
import sys
import tempfile
import time

from absl import app, flags

from tools.bench_process import peak_rss_mb, rss_mb
from tools.bench_process import run_child as measure

flags.DEFINE_string("snapshot", None, "Snapshot to measure; written first if it does not exist (default: a "
                    "temporary file).")
flags.DEFINE_string("child", None, "Internal: 'write', 'read' or 'import' --snapshot; prints JSON.")
FLAGS = flags.FLAGS

# The published SkyTimelapse-256 configuration as the official code stores it in a snapshot
# (SPEC.md: channel_base 16384 at 256^2, 2 mapping layers, 512-wide motion, min period = token spacing 256).
SAMPLING = {"type": "random", "num_frames_per_video": 3, "max_num_frames": 1024, "fps": 25,
            "total_dists": [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048], "max_dist": 32,
            "name": "random3_max32"}
G_CFG = {"source": "networks", "use_noise": False, "w_dim": 512, "c_dim": 0, "input": {"type": "temporal"},
         "motion": {"time_enc": {}, "z_dim": 512, "v_dim": 512, "motion_z_distance": 256, "gen_strategy": "conv",
                    "kernel_size": 11, "use_fractional_t": True, "fourier": True},
         "sampling": SAMPLING, "z_dim": 512,
         "time_enc": {"cond_type": "concat_const", "dim": 256, "min_period_len": 256, "max_period_len": 1024,
                      "phase_dropout_std": 1.0}}
G_KWARGS = {"c_dim": 0, "img_resolution": 256, "img_channels": 3, "w_dim": 512,
            "mapping_kwargs": {"num_layers": 2, "cfg": G_CFG},
            "synthesis_kwargs": {"channel_base": 16384, "channel_max": 512, "num_fp16_res": 4, "conv_clamp": 256},
            "cfg": G_CFG}
D_KWARGS = {"c_dim": 0, "img_resolution": 256, "img_channels": 3, "channel_base": 16384, "channel_max": 512,
            "num_fp16_res": 4, "conv_clamp": 256, "block_kwargs": {}, "mapping_kwargs": {"num_layers": 2},
            "epilogue_kwargs": {"mbstd_group_size": 4},
            "cfg": {"source": "networks", "mbstd_group_size": 4, "sampling": SAMPLING, "concat_res": 16,
                    "num_frames_div_factor": 2, "dummy_c": False}}


def write_snapshot(path):
    """Writes the synthetic Sky-256 snapshot to `path`; returns (G, D) parameter counts."""
    import keras
    import numpy as np

    from svgan_tf.interop import reference
    from tools import pickle_writer as sw

    def easydict(value):
        return sw.Call("src.dnnlib.util.EasyDict", {k: easydict(v) if isinstance(v, dict) else v
                                                     for k, v in value.items()})

    keras.utils.set_random_seed(0)
    snapshot, counts = {"training_set_kwargs": {"path": "sky_timelapse_256", "resolution": 256, "xflip": False,
                                                "use_labels": False}}, []
    for key, build, kwargs in (("G", reference.build_generator, G_KWARGS), ("D", reference.build_discriminator,
                                                                            D_KWARGS)):
        model = build(kwargs, num_fp16_res=0)
        state = reference.reference_state_dict(model)
        trainable = {name for name, variable, _ in reference.reference_variables(model) if variable.trainable}
        counts.append(reference.num_parameters(model))
        snapshot[key], handles = sw.network("Generator" if key == "G" else "Discriminator", state,
                                            easydict(kwargs), trainable)
        if key == "G":
            snapshot["G_ema"], _ = sw.network("Generator", state, easydict(kwargs), trainable)
        moments = {handle: {"step": sw.tensor(np.float32(1000.0)), "exp_avg": sw.tensor(np.zeros_like(state[name])),
                            "exp_avg_sq": sw.tensor(np.zeros_like(state[name]))} for name, handle in handles.items()}
        snapshot[f"{key}_opt"] = sw.New("torch.optim.adam.Adam", {
            "defaults": {"lr": 0.0025, "betas": (0.0, 0.99), "eps": 1e-8},
            "param_groups": [{"params": list(handles.values())}], "state": moments})
        del model, state
    snapshot.update(augment_pipe=None, vis={}, stats={"cur_nimg": 25_000_000, "cur_tick": 1000})
    with open(path, "wb") as f:
        sw.PickleWriter(f, protocol=4).dump(snapshot)
    return counts


def run_child(kind, path):
    if kind == "write":
        start = time.perf_counter()
        counts = write_snapshot(path)
        return {"seconds": time.perf_counter() - start, "G": counts[0], "D": counts[1]}
    if kind == "read":
        from svgan_tf.interop.snapshot import read_snapshot
        before = rss_mb()
        start = time.perf_counter()
        snapshot = read_snapshot(path)
        seconds = time.perf_counter() - start
        values = sum(a.size for k in ("G", "D", "G_ema") for a in snapshot[k].state_dict.values())
        return {"seconds": seconds, "rss_before_mb": before, "peak_mb": peak_rss_mb(), "values": values}
    from svgan_tf.interop import reference
    from svgan_tf.interop.importer import import_snapshot
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        training = import_snapshot(path, os.path.join(tmp, "run"))
        return {"seconds": time.perf_counter() - start, "peak_mb": peak_rss_mb(),
                "G": reference.num_parameters(training.G), "D": reference.num_parameters(training.D)}


def main(argv):
    del argv
    if FLAGS.child:
        print(json.dumps(run_child(FLAGS.child, FLAGS.snapshot)))
        return

    def child(kind, path):
        try:
            return measure("tools.bench_import", f"--child={kind}", f"--snapshot={path}")
        except RuntimeError as error:
            sys.exit(str(error))

    with tempfile.TemporaryDirectory() as tmp:
        path = FLAGS.snapshot or os.path.join(tmp, "network-snapshot-sky256.pkl")
        if not os.path.exists(path):
            written = child("write", path)
            print(f"wrote {path}: G {written['G']:,} and D {written['D']:,} parameters, G_ema, Adam moments "
                  f"({written['seconds']:.0f} s)")
        size_mb = os.path.getsize(path) / 1e6
        print(f"snapshot {size_mb:.0f} MB; each row a fresh process")
        results = {kind: child(kind, path) for kind in ("read", "import")}
    read, full = results["read"], results["import"]
    grown = read["peak_mb"] - read["rss_before_mb"]
    print(f"read_snapshot: {read['seconds']:.1f} s, {read['values']:,} values; peak RSS {read['peak_mb']:.0f} MB, "
          f"{grown:.0f} MB above the {read['rss_before_mb']:.0f} MB before reading = {grown / size_mb:.2f} x the file")
    print(f"full import (read, build G/D/G_ema, load, write the run): {full['seconds']:.1f} s, peak RSS "
          f"{full['peak_mb']:.0f} MB = {full['peak_mb'] / size_mb:.2f} x the file; G {full['G']:,}, D {full['D']:,} "
          "parameters")


if __name__ == "__main__":
    app.run(main)
