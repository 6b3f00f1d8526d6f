"""The command-line conventions every svgan-tf program follows, and the console scripts' entry points.

Each program is a module of this package that runs as `python -m svgan_tf.<program>`; its console script
(pyproject.toml, and the Bazel binaries of BUILD.bazel) runs exactly that, the module executing as
`__main__`, so absl registers the program's flags as the main module's and `--help` lists them.
"""

import runpy

# Console script -> the program module it runs.
PROGRAMS = {
    "svgan-train": "svgan_tf.train",
    "svgan-generate": "svgan_tf.generate",
    "svgan-evaluate": "svgan_tf.evaluate",
    "svgan-export": "svgan_tf.export",
    "svgan-dataset": "svgan_tf.dataset",
    "svgan-import": "svgan_tf.import_reference",
    "svgan-serve-client": "svgan_tf.serve_client",
    "svgan-play": "svgan_tf.play",
}


def run_module(module):
    """Runs `module` as `python -m module` does, on the current command line (sys.argv[1:])."""
    runpy.run_module(module, run_name="__main__", alter_sys=True)


def _entry_point(script):
    def main():
        run_module(PROGRAMS[script])

    main.__doc__ = f"`{script}`: python -m {PROGRAMS[script]}."
    return main


train = _entry_point("svgan-train")
generate = _entry_point("svgan-generate")
evaluate = _entry_point("svgan-evaluate")
export = _entry_point("svgan-export")
dataset = _entry_point("svgan-dataset")
import_reference = _entry_point("svgan-import")
serve_client = _entry_point("svgan-serve-client")
play = _entry_point("svgan-play")
