"""Train StyleGAN-V: `python -m svgan_tf.train --flagfile=configs/sky.flags` (console script `svgan-train`).

The loop itself is `svgan_tf.training.loop`; the flags are `svgan_tf.training.config`'s. On one CPU, all
GPUs of a host (MirroredStrategy) or several hosts (MultiWorkerMirroredStrategy when TF_CONFIG names several
workers).
"""

import sys

from absl import app, flags

from svgan_tf.training import config, loop

config.define_flags()
flags.adopt_module_key_flags(config)  # `--help` lists the training flags


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    try:
        loop.train(config.from_flags())
    except ValueError as error:
        print(f"svgan_tf.train: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    app.run(main)
