"""Entry points of the console scripts (pyproject.toml) and of the Bazel binaries (BUILD.bazel).

Each runs its program exactly as `python -m MODULE` does, the module executing as `__main__`: absl then
registers the program's flags as the main module's, so `--help` and the usage text are those of
`python -m` (flags defined by a function called from an entry point belong to the module's import name,
and `--help` would list none of them).
"""

import runpy


def run_module(module):
    """Runs `module` as `python -m module` does, on the current command line (sys.argv[1:])."""
    runpy.run_module(module, run_name="__main__", alter_sys=True)


def train():
    """`svgan-train`: python -m svgan_tf.train."""
    run_module("svgan_tf.train")


def generate():
    """`svgan-generate`: python -m svgan_tf.generate."""
    run_module("svgan_tf.generate")


def evaluate():
    """`svgan-evaluate`: python -m svgan_tf.evaluate."""
    run_module("svgan_tf.evaluate")
