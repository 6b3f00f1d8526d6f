"""The command-line conventions every svgan-tf program follows, and the console scripts' entry points.

* Each program is a module of this package run as `python -m svgan_tf.<program>`; its console script
  (pyproject.toml, and the Bazel binaries of BUILD.bazel) runs exactly that, the module executing as
  `__main__`. Its flags are defined at module level, so `--help` lists them (the flag groups shared by
  several programs below are adopted as the program's own). `--helpfull` adds absl's own flags (--flagfile,
  logging) and nothing else: the flags other packages' modules define when imported (TensorFlow imports
  absltest, its TPU and pfor modules) are no option of any program, so `run` leaves them out of the help.
* A user error (a bad flag value, a missing or foreign file, a shape that does not fit) is one line on
  stderr, `<program>: error: <what>`, naming the flag or file, and exit status 2: `run` turns `UserError`,
  `ValueError` and `OSError` (and absl's flag errors) into that. `SVGAN_TF_VERBOSE=1` shows the traceback
  instead. Ctrl-C exits with 130; a reader of the output that leaves early (`| head`) ends the program
  quietly, with SIGPIPE's status 141.
* TensorFlow's C++ start-up lines are silenced (`import_tensorflow_quietly`, called by the package).
"""

import contextlib
import dataclasses
import math
import os
import runpy
import select
import signal
import sys
import tempfile
import zipfile

from absl import app, flags

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
    "svgan-demo": "svgan_tf.demo",
    "svgan-project": "svgan_tf.project",
    "svgan-edit": "svgan_tf.edit",
    "svgan-profile": "svgan_tf.profile",
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
        except BaseException as error:  # what TensorFlow printed belongs with its failure
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            if not (isinstance(error, ImportError) and error.name == "tensorflow"):  # absent: nothing to quiet
                raise


@dataclasses.dataclass(frozen=True)
class _LeftOut:
    """A logging filter dropping the records whose message contains one of `fragments` (equal filters are one:
    `addFilter` adds a second equal one as nothing)."""

    fragments: tuple

    def filter(self, record):
        message = record.getMessage()
        return not any(fragment in message for fragment in self.fragments)


def leave_out_log_lines(logger, *fragments):
    """Drops the lines of `logger` that contain one of `fragments`: notices of TensorFlow's that tell a user of
    these programs nothing (each caller says why).

    Args:
        logger: a `logging.Logger`: TensorFlow's (`tf.get_logger()`), or absl's for what TensorFlow logs through it.
        *fragments: text that marks a line to drop.
    """
    logger.addFilter(_LeftOut(fragments))


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


class UserError(Exception):
    """A problem with the user's input, reported as one line naming the flag or file, with exit status 2."""


def program_name():
    """The running program as the user called it: `svgan_tf.generate` (also for its console script)."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return spec.name.removesuffix(".__main__") if spec is not None else os.path.basename(sys.argv[0])


def fail(message):
    """Reports a user error, `<program>: error: <message>`, and exits with status 2."""
    print(f"{program_name()}: error: {message}", file=sys.stderr)
    sys.exit(2)


def run(main):
    """`absl.app.run(main)` with the conventions above: one line and exit status 2 for any user error.

    Args:
        main: the program's main(argv); it receives the arguments that are not flags (there should be none).
    """
    def guarded(argv):
        if len(argv) > 1:
            fail(f"unexpected arguments {' '.join(argv[1:])!r} (every option is a --flag).")
        try:
            status = main(argv)
            sys.stdout.flush()  # output still buffered meets a reader that left (`| head`) here, inside the guard
            return status
        except KeyboardInterrupt:
            print(f"\n{program_name()}: interrupted.", file=sys.stderr)
            sys.exit(130)
        except (UserError, ValueError, OSError) as error:
            if isinstance(error, BrokenPipeError) and _output_reader_left():
                # Stop quietly, with the status of a program SIGPIPE ends; what is still buffered goes nowhere
                # instead of failing again at exit. (A pipe or socket of the program's own is an error as any.)
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                sys.exit(128 + signal.SIGPIPE)
            if os.environ.get("SVGAN_TF_VERBOSE"):
                raise
            fail(_describe(error))

    _hide_foreign_flags()
    app.run(guarded, flags_parser=_parse_flags)


def _output_reader_left():
    """Whether standard output is a pipe whose reader has closed it (`| head` after its lines)."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), 0)  # a pipe without its reader reports POLLERR whatever is asked
    except (AttributeError, OSError, ValueError):  # no file descriptor (output captured in memory)
        return False
    return any(events & select.POLLERR for _, events in poller.poll(0))


# The modules whose flags a program's help lists, besides svgan_tf's and the program's own: absl's (--flagfile,
# --undefok, logging, the help flags).
_ABSL_MODULES = ("absl.app", "absl.flags", "absl.logging")


def _hide_foreign_flags():
    """Leaves the flags of other packages' modules out of the help (they stay defined: code may read them), and
    heads the program's own with its name."""
    by_module = flags.FLAGS.flags_by_module_dict()  # absl's own registry, which its help renders
    for module in list(by_module):
        if not (module == sys.argv[0] or module.partition(".")[0] == "svgan_tf" or module in _ABSL_MODULES):
            del by_module[module]
    # absl heads the program's own flags with sys.argv[0], a file path under `python -m`: the program's name.
    name = program_name()
    for registry in (by_module, flags.FLAGS.key_flags_by_module_dict()):
        if sys.argv[0] in registry:
            registry[name] = registry.pop(sys.argv[0])
    sys.argv[0] = name


def asks_for_help(argv):
    """Whether a command line asks for help (absl's help flags), which needs no other argument."""
    return any(arg in ("--help", "-?", "--helpshort", "--helpfull", "--helpxml") for arg in argv[1:])


def _describe(error):
    """The message of a user error; an OSError from a write (full disk, read-only place) names its file."""
    if isinstance(error, OSError) and error.strerror and error.filename is not None:
        return f"{error.filename}: {error.strerror}."
    return str(error)


def load_generator(path, flag="--checkpoint", precision="float32"):
    """The generator of a checkpoint, run or `.npz` export given with `flag`, or a UserError naming both.

    An `.npz` export's declared architecture is checked against its stored weights before the network is
    built (`svgan_tf.training.run_dir.load_generator`); a missing, corrupt or foreign file is the user's input,
    not a bug, so every way loading it fails becomes one line.

    Args:
        path: the checkpoint, run directory or `.npz`.
        flag: the flag that gave `path`, named in errors.
        precision: inference precision, one of `svgan_tf.networks.generator.INFERENCE_PRECISIONS`.
    """
    import tensorflow as tf

    from svgan_tf import generation
    from svgan_tf.training import run_dir

    try:
        G = run_dir.load_generator(path, num_fp16_res=0)  # float32 inference on any device
    except (OSError, ValueError, KeyError, TypeError, AssertionError, zipfile.BadZipFile, tf.errors.OpError) as error:
        message = str(error) if path in str(error) else f"{path}: cannot load a generator: {error}"
        raise UserError(f"{flag}: {message}") from None
    return generation.at_precision(G, precision)


def _parse_flags(argv):
    try:
        return flags.FLAGS(argv)
    except flags.Error as error:
        fail(str(error))


# Flag groups shared by several programs. Each defines its flags as the calling program's own (so `--help`
# lists them); arguments carry what differs between programs (help text, defaults).


def _caller():
    """The flag-owning module name of the program that called a define_* function, as absl names it."""
    name = sys._getframe(2).f_globals["__name__"]
    return sys.argv[0] if name == "__main__" else name


def define_checkpoint_flag(help_text="Training run directory, checkpoint prefix, or G_ema-reference-*.npz "
                                     "(with its .json).", required=True):
    """--checkpoint: the generator to load."""
    flags.DEFINE_string("checkpoint", None, help_text, required=required, module_name=_caller())


def define_out_flag(help_text, required=True, default=None):
    """--out: where the program writes."""
    flags.DEFINE_string("out", default, help_text, required=required, module_name=_caller())


def define_overwrite_flag(help_text="Replace existing outputs (default: refuse)."):
    """--overwrite: nothing is replaced without it."""
    flags.DEFINE_bool("overwrite", False, help_text, module_name=_caller())


def define_truncation_flag(help_text="Truncation of the content latent (1: none)."):
    """--truncation_psi."""
    flags.DEFINE_float("truncation_psi", 1.0, help_text, module_name=_caller())


def define_precision_flag():
    """--precision: the inference precision of the loaded generator (`inference_overrides`)."""
    from svgan_tf.networks.generator import INFERENCE_PRECISIONS

    flags.DEFINE_enum("precision", "float32", INFERENCE_PRECISIONS,
                      "Inference precision: bfloat16 runs the synthesis convolutions and activations in bfloat16 "
                      "(styles, demodulation and the RGB image stay float32): faster on CPUs with AVX512-BF16 or "
                      "AMX, over 40 dB PSNR against float32 frames; float16 (GPUs) is the reference's mixed float16 "
                      "in the top 4 resolutions.", module_name=_caller())


def define_timing_flags(time_offset=True):
    """--fps, --time_step, --class_idx (and --time_offset): how a video samples the generator's time axis."""
    module = _caller()
    flags.DEFINE_float("fps", 25.0, "Frames per second of the written video.", module_name=module)
    flags.DEFINE_float("time_step", 1.0, "Time between consecutive frames, in frames (0.25 = 4x slow motion).",
                       module_name=module)
    if time_offset:
        flags.DEFINE_float("time_offset", 0.0, "Time of the first frame, in frames (real, >= 0): continues a video.",
                           module_name=module)
    flags.DEFINE_integer("class_idx", None, "Class of a conditional model.", module_name=module)


def video_frames(num_frames, seconds, fps, default_seconds):
    """The frame count of --num_frames or --seconds at --fps, or a UserError naming the flag out of range.

    Args:
        num_frames: --num_frames (None: from seconds).
        seconds: --seconds (None: `default_seconds`).
        fps: --fps.
        default_seconds: the length when neither is given.
    """
    if not (math.isfinite(fps) and fps > 0):
        raise UserError(f"--fps: must be > 0, got {fps}.")
    if num_frames is not None and seconds is not None:
        raise UserError("--num_frames and --seconds: give one of them, not both.")
    if num_frames is not None:
        if num_frames < 1:
            raise UserError(f"--num_frames: must be >= 1, got {num_frames}.")
        return num_frames
    seconds = default_seconds if seconds is None else seconds
    if not (math.isfinite(seconds) and seconds > 0):
        raise UserError(f"--seconds: must be > 0, got {seconds}.")
    return max(1, round(seconds * fps))


def check_timing(time_offset, time_step):
    """--time_offset (finite, >= 0) and --time_step (finite, > 0), or a UserError naming the flag."""
    for flag, value in (("--time_offset", time_offset), ("--time_step", time_step)):
        if not math.isfinite(value):
            raise UserError(f"{flag}: must be finite, got {value}.")
    if time_offset < 0:
        raise UserError(f"--time_offset: must be >= 0 (times start at 0), got {time_offset}.")
    if time_step <= 0:
        raise UserError(f"--time_step: must be > 0, got {time_step}.")


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
demo = _entry_point("svgan-demo")
project = _entry_point("svgan-project")
edit = _entry_point("svgan-edit")
profile = _entry_point("svgan-profile")
