"""Train StyleGAN-V: `python -m svgan_tf.train --flagfile=configs/sky.flags` (console script `svgan-train`).

The loop itself is `svgan_tf.training.loop`; the flags are `svgan_tf.training.config`'s. On one CPU, all
GPUs of a host (MirroredStrategy) or several hosts (MultiWorkerMirroredStrategy when TF_CONFIG names several
workers).
"""

from absl import flags

from svgan_tf import cli
from svgan_tf.training import config, loop

config.define_flags()
flags.adopt_module_key_flags(config)  # `--help` lists the training flags


def main(argv):
    del argv
    loop.train(config.from_flags())


if __name__ == "__main__":
    cli.run(main)
