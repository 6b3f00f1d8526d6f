"""The command-line conventions every svgan-tf program follows, and the console scripts' entry points.

Each program is a module of this package that runs as `python -m svgan_tf.<program>`; its console script
(pyproject.toml, and the Bazel binaries of BUILD.bazel) runs exactly that, the module executing as
`__main__`, so absl registers the program's flags as the main module's and `--help` lists them.
"""

import contextlib
import os
import runpy
import sys
import tempfile

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


def import_tensorflow_quietly():
    """Imports TensorFlow (if installed) without its C++ start-up lines, unless the user asked to see them.

    TensorFlow's native libraries print to the process' stderr while loading (oneDNN notice, CUDA probing,
    absl's pre-initialisation warning) whatever TF_CPP_MIN_LOG_LEVEL says, so file descriptor 2 is pointed
    at a temporary file meanwhile; if the import fails, what it printed is shown with the error. Runtime
    messages below ERROR stay hidden (TF_CPP_MIN_LOG_LEVEL=2, only where the user set no level). Nothing is
    done when TensorFlow is already imported, SVGAN_TF_VERBOSE is set or TF_CPP_MIN_LOG_LEVEL is set.
    """
    if "tensorflow" in sys.modules or os.environ.get("SVGAN_TF_VERBOSE") or "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    with tempfile.TemporaryFile() as captured:
        try:
            with _stderr_to(captured):
                import tensorflow as tf

                tf.config.list_physical_devices()  # device probing prints too
        except ImportError as error:
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            if error.name != "tensorflow":
                raise


@contextlib.contextmanager
def _stderr_to(file):
    """Points file descriptor 2 (native code's stderr) at `file` for the duration."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        os.dup2(file.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


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
