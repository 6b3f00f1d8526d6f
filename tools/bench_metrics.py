"""FVD16 wall time: real clips, generated clips and I3D, measured on `--clips` clips and scaled to 2048.

    python -m tools.bench_metrics                 # Sky-256 generator (random weights), synthetic 256^2 data
    python -m tools.bench_metrics --clips 256 --batch 16

Prints seconds per clip for each part of `fvd2048_16f` (loading + decoding real clips, generating 16-frame
clips, the I3D forward of real and generated clips) and the total extrapolated to the protocol's 2048 + 2048
clips (every part is linear in the number of clips). Uses whatever device TensorFlow sees.
"""

import time

import keras
import tensorflow as tf
from absl import app, flags

from svgan_tf.data import demo
from svgan_tf.data import sampling as sampling_lib
from svgan_tf.metrics import i3d, protocols
from svgan_tf.networks.generator import Generator

FLAGS = flags.FLAGS
flags.DEFINE_integer("clips", 64, "Clips measured on each side.")
flags.DEFINE_integer("batch", 16, "Clips per batch.")
flags.DEFINE_integer("resolution", 256, "Frame size.")


def _timed(batches):
    """(list of batches, seconds) of draining an iterator."""
    start = time.perf_counter()
    out = list(batches)
    return out, time.perf_counter() - start


def main(argv):
    del argv
    keras.utils.set_random_seed(0)
    protocol = protocols.PROTOCOLS["fvd2048_16f"].scaled(FLAGS.clips, FLAGS.clips)
    source = demo.DemoSource(resolution=FLAGS.resolution, num_videos=FLAGS.clips, min_length=32, max_length=64,
                             sampling=sampling_lib.SamplingConfig(num_frames=1, mirror=False))
    G = Generator(img_resolution=FLAGS.resolution, motion_z_distance=256, min_period_len=256, num_fp16_res=0)
    i3d.i3d_logits(next(iter(protocols.real_batches(source, protocol, 0, FLAGS.batch))))  # load + trace
    real, real_s = _timed(protocols.real_batches(source, protocol, 0, FLAGS.batch))
    fake, fake_s = _timed(protocols.fake_batches(G, protocol, 0, FLAGS.batch))
    start = time.perf_counter()
    for batch in real + fake:
        i3d.i3d_logits(batch)
    detector_s = time.perf_counter() - start
    n = FLAGS.clips
    device = (tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU"))[0].name
    print(f"fvd2048_16f parts at {FLAGS.resolution}^2 on {device}, {n} clips per side, batch {FLAGS.batch}:")
    print(f"  real clips (read + decode)   {real_s / n:8.3f} s/clip")
    print(f"  generated clips (16 frames)  {fake_s / n:8.3f} s/clip")
    print(f"  I3D (real + generated)       {detector_s / (2 * n):8.3f} s/clip")
    total = (real_s + fake_s + detector_s) / n * 2048
    print(f"  extrapolated to 2048 + 2048 clips: {total / 60:.1f} min")


if __name__ == "__main__":
    app.run(main)
