"""Train StyleGAN-V: `python -m svgan_tf.train --flagfile=configs/sky.flags` (console script `svgan-train`).

The loop itself is `svgan_tf.training.loop`; the flags are `svgan_tf.training.config`'s. On one CPU, all
GPUs of a host (MirroredStrategy) or several hosts (MultiWorkerMirroredStrategy when TF_CONFIG names several
workers).

Exit status: 0 when the run is complete; 2 with one line `svgan_tf.train: error: ...` for a user error or a
diverged run (`loop.Diverged`: a non-finite loss or weight, named with its step; the last good checkpoint
stays the latest); after SIGTERM or SIGINT, once the step reached is checkpointed, one line
`svgan_tf.train: stopped by SIG... after step N: ...` and 128 + the signal number (143 SIGTERM, 130 SIGINT:
what a shell reports for a process the signal ended, and non-zero, so that a scheduler does not take the run
for finished; `--resume=latest` continues it with no step lost).
"""

import sys

from absl import flags

from svgan_tf import cli
from svgan_tf.training import config, loop

config.define_flags()
flags.adopt_module_key_flags(config)  # `--help` lists the training flags


def main(argv):
    del argv
    try:
        loop.train(config.from_flags())
    except loop.Preempted as stop:
        print(f"{cli.program_name()}: {stop}", file=sys.stderr, flush=True)
        sys.exit(stop.exit_code)


if __name__ == "__main__":
    cli.run(main)
