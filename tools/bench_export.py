"""Per-frame latency, size and parity of every export format of the frame-at-time generator.

    python -m tools.bench_export                       # full Sky-256 generator, random weights
    python -m tools.bench_export --checkpoint runs/demo --runs 20

For each of Keras (the generator's frame-at-time tf.function), SavedModel (float32, and bfloat16: `export
savedmodel --precision=bfloat16`, its errors against the float32 model), LiteRT float32 / float16 / int8 (the
interpreter's default XNNPACK delegate) and ONNX Runtime: the median wall time of one 1-frame call (batch 1,
after 2 warm-up calls) over `--runs` calls with `--threads` threads, the artefact size, and its parity errors
against the Keras model (`svgan_tf.export.parity`). Target (issue 4): LiteRT at most half of the reference
PyTorch's 0.42 s per 256^2 frame on a 2-core CPU.
"""

import os
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags

from svgan_tf.export import onnx as onnx_export
from svgan_tf.export import parity, tflite
from svgan_tf.export.frame_model import FrameModel
from svgan_tf.export.savedmodel import SavedModelRunner, export_savedmodel
from svgan_tf.generation import at_precision
from svgan_tf.interop import reference
from svgan_tf.networks.generator import Generator
from svgan_tf.training.run_dir import load_generator
from tools import bench_measure

FLAGS = flags.FLAGS
flags.DEFINE_string("checkpoint", None, "Generator to export (default: the Sky-256 architecture, random weights).")
flags.DEFINE_integer("runs", 10, "Timed calls per format (median reported).")
flags.DEFINE_integer("threads", 2, "Threads of every runtime.")
flags.DEFINE_string("formats", "keras,savedmodel,savedmodel_bfloat16,litert_float32,litert_float16,litert_int8,onnx",
                    "Formats to time.")

REFERENCE_SECONDS_PER_FRAME = 0.42  # reference PyTorch, 256^2, 2-core CPU (issue 4)


def _size(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def _keras_runner(G):
    model = FrameModel(G)

    def run(signature, **inputs):
        function = getattr(model, signature)
        outputs = function(*[inputs[spec.name] for spec in function.input_signature])
        return {k: v.numpy() for k, v in outputs.items()}
    return run


def _artefacts(G, directory):
    """(name, runner, size in bytes) per format, built lazily (conversion is slow at 256^2)."""
    yield "keras", lambda: (_keras_runner(G), sum(int(np.prod(v.shape)) * 4 for v in G.weights))
    yield "savedmodel", lambda: (lambda path: (SavedModelRunner(path), _size(path)))(
        export_savedmodel(G, os.path.join(directory, "savedmodel")))
    yield "savedmodel_bfloat16", lambda: (lambda path: (SavedModelRunner(path), _size(path)))(
        export_savedmodel(at_precision(G, "bfloat16"), os.path.join(directory, "savedmodel_bfloat16")))
    for quantization in tflite.QUANTIZATIONS:
        def make(quantization=quantization):
            path = os.path.join(directory, f"g_{quantization}.tflite")
            tflite.export_tflite(G, path, quantization=quantization)
            return tflite.LiteRTRunner(path, FLAGS.threads), _size(path)
        yield f"litert_{quantization}", make

    def make_onnx():
        path = os.path.join(directory, "onnx")
        onnx_export.export_onnx(G, path)
        return onnx_export.OnnxRunner(path, FLAGS.threads), _size(path)
    yield "onnx", make_onnx


def _seconds_per_frame(run, inputs):
    for _ in range(2):
        run("frame_at_time", **inputs)
    times = []
    for _ in range(FLAGS.runs):
        start = time.perf_counter()
        run("frame_at_time", **inputs)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(argv):
    del argv
    tf.config.threading.set_intra_op_parallelism_threads(FLAGS.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    if FLAGS.checkpoint:
        G = load_generator(FLAGS.checkpoint, num_fp16_res=0)
    else:
        keras.utils.set_random_seed(0)
        G = Generator(img_resolution=256, motion_z_distance=256, min_period_len=256, num_fp16_res=0)
    case = parity.cases(G, batch_size=1)[-1]
    inputs = dict(w=G.mapping(case["z"])[:, 0].numpy(), window=case["window"], t=case["t"])
    wanted = FLAGS.formats.split(",")
    gflop, peak = bench_measure.frame_gflop(G), bench_measure.roofline_gflops(tf.float32)
    print(f"Generator {G.img_resolution}^2, {reference.num_parameters(G):,} parameters, {gflop:.2f} GFLOP/frame "
          f"(TensorFlow's profiler); {FLAGS.threads} threads, median of {FLAGS.runs} one-frame calls; float32 conv "
          f"roofline {peak:.0f} GFLOP/s measured now (the float16 file's weights are widened to float32 when it "
          "loads; int8 multiplies in integers, so its fraction of this float32 roofline can pass 1)")
    print(f"{'format':20s} {'s/frame':>8s} {'frames/s':>9s} {'GFLOP/s':>8s} {'roofline':>8s} {'size MiB':>9s} "
          f"{'max err':>9s} {'mean err':>9s}")
    with tempfile.TemporaryDirectory() as directory:
        for name, make in _artefacts(G, directory):
            if name not in wanted:
                continue
            run, size = make()
            precision = name.split("_")[-1] if name.startswith("litert") else "float32"
            errors = parity.measure(G, run, batch_size=1)
            seconds = _seconds_per_frame(run, inputs)
            # The bfloat16 SavedModel's own parity is with its bfloat16 Keras model (checked on export); against
            # float32 it is bfloat16 rounding, which no parity tolerance covers.
            tolerance = parity.TOLERANCES.get(precision if name != "savedmodel_bfloat16" else "bfloat16")
            flag = "" if tolerance is None or errors.frame_max <= tolerance.max_abs else "  (over tolerance)"
            print(f"{name:20s} {seconds:8.3f} {1 / seconds:9.2f} {gflop / seconds:8.1f} {gflop / seconds / peak:8.2f} "
                  f"{size / 2**20:9.1f} {errors.frame_max:9.2e} "
                  f"{errors.frame_mean:9.2e}{flag}", flush=True)
    print(f"Reference PyTorch: {REFERENCE_SECONDS_PER_FRAME} s/frame at 256^2; LiteRT target <= "
          f"{REFERENCE_SECONDS_PER_FRAME / 2:.2f} s/frame.")


if __name__ == "__main__":
    app.run(main)
