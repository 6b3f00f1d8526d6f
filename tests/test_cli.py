"""The command-line conventions (svgan_tf/cli.py): console scripts run the `python -m` programs; quiet start-up."""

import json
import logging
import os
import re
import subprocess
import sys

import pytest

from svgan_tf import cli
from tests.support import REPO


def _run(*args):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True)


def _flags(help_text):
    """The flags a --help text lists ("  --name: ..." lines)."""
    return set(re.findall(r"^\s+--(?:\[no\])?(\w+):", help_text, re.MULTILINE))


def _declared_scripts():
    """{console script: its function in svgan_tf.cli}, as pyproject.toml declares them."""
    with open(REPO / "pyproject.toml") as f:
        return dict(re.findall(r'^(svgan-[\w-]+) = "svgan_tf\.cli:(\w+)"$', f.read(), re.MULTILINE))


def test_every_console_script_is_declared():
    declared = _declared_scripts()
    assert set(declared) == set(cli.PROGRAMS)
    for script, function in declared.items():
        assert getattr(cli, function).__doc__ == f"`{script}`: python -m {cli.PROGRAMS[script]}."


# Every program's help as its console script prints it, from one Python process: it imports the libraries once,
# then forks a child per command line (a fresh process each would take a minute for the 27 command lines).
_HELP_SCRIPT = """
import json, os, sys
from svgan_tf import cli, generation  # noqa: F401 (the heavy imports, shared by the children)
from svgan_tf.metrics import evaluation  # noqa: F401
from svgan_tf.training import loop  # noqa: F401
helps = {}
for function, argv in json.loads(sys.argv[1]):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        os.dup2(write, 1)
        os.dup2(write, 2)
        sys.argv = argv
        try:
            getattr(cli, function)()  # what the console script argv[0] calls
            status = 0
        except SystemExit as exit:
            status = exit.code if isinstance(exit.code, int) else 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    os.close(write)
    with os.fdopen(read) as output:
        text = output.read()
    helps[" ".join(argv)] = (os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), text)
print(json.dumps(helps))
"""

# A flag of each program that its --help must list (the export's without FORMAT: its help needs none).
OWN_FLAG = {"svgan-train": "data", "svgan-generate": "seeds", "svgan-evaluate": "metrics", "svgan-export": "version",
            "svgan-dataset": "source", "svgan-import": "pkl", "svgan-serve-client": "server", "svgan-play": "model",
            "svgan-demo": "port", "svgan-project": "target", "svgan-edit": "mode", "svgan-profile": "config"}
# The modules whose flags a --helpfull may list besides svgan_tf's and the program's: absl's own.
ABSL_MODULES = {"absl.app", "absl.flags", "absl.logging"}


@pytest.fixture(scope="module")
def helps():
    """{command line: (exit status, output)} of --help and --helpfull of every console script, and a few more."""
    declared = _declared_scripts()
    argvs = [[script, flag] for script in cli.PROGRAMS for flag in ("--help", "--helpfull")]
    argvs += [["svgan-export", "tflite", "--help"], ["svgan-export"], ["svgan-export", "pdf"]]
    result = _run("-c", _HELP_SCRIPT, json.dumps([[declared[argv[0]], argv] for argv in argvs]))
    assert result.returncode == 0, result.stderr
    return {argv: tuple(value) for argv, value in json.loads(result.stdout).items()}


def _flag_modules(help_text):
    """The modules whose flags a help text lists (its headings after `flags:`)."""
    return re.findall(r"^(\S+):$", help_text.rpartition("\nflags:\n")[2], re.MULTILINE)


@pytest.mark.parametrize("script", list(cli.PROGRAMS))
def test_help_lists_the_programs_own_flags_and_no_foreign_ones(helps, script):
    status, text = helps[f"{script} --help"]
    assert status == 1 and OWN_FLAG[script] in _flags(text), text  # absl's --help exits with 1
    status, full = helps[f"{script} --helpfull"]
    assert _flag_modules(text)[0] == cli.PROGRAMS[script]  # its flags are headed by its name, not a file path
    modules = _flag_modules(full)
    assert status == 1 and _flags(text) <= _flags(full)
    assert [m for m in modules if not (m.startswith("svgan_tf.") or m in ABSL_MODULES)] == []
    assert not {"test_srcdir", "test_tmpdir", "xml_output_file"} & _flags(full)  # absltest's, as an example


def test_console_script_help_is_the_module_programs(helps):
    module = _run("-m", "svgan_tf.export", "tflite", "--help")
    status, text = helps["svgan-export tflite --help"]
    assert _flags(text) == _flags(module.stdout) and "quantization" in _flags(text)
    assert status == module.returncode


def test_export_dispatches_on_the_format(helps):
    for argv in ("svgan-export", "svgan-export pdf"):
        status, text = helps[argv]
        assert status == 2 and "savedmodel|tflite|onnx" in text


def test_tensorflow_start_up_lines_are_silenced_unless_asked_for():
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "SVGAN_TF_VERBOSE")}
    program = "import svgan_tf, tensorflow as tf; print(float(tf.reduce_sum(tf.ones([3]))))"
    quiet = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, env=env)
    assert quiet.returncode == 0 and quiet.stdout == "3.0\n" and quiet.stderr == ""
    verbose = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                             env={**env, "SVGAN_TF_VERBOSE": "1"})
    assert verbose.returncode == 0 and verbose.stdout == "3.0\n" and verbose.stderr != ""


def test_a_reader_that_leaves_ends_the_program_quietly():
    """`svgan-... | head`: no "Broken pipe" error line, and the status a program ended by SIGPIPE has."""
    program = ("import sys; from svgan_tf import cli; sys.argv = ['lines']; "
               "cli.run(lambda argv: [print(i) for i in range(10**6)] and None)")
    with subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdout.readline() == b"0\n"
        process.stdout.close()
        assert process.wait(60) == 141 and process.stderr.read() == b""
    # A broken pipe of the program's own (a server that hung up), its output still read: an error as any other.
    program = ("import sys\nfrom svgan_tf import cli\nsys.argv = ['lines']\n"
               "def main(argv):\n    raise BrokenPipeError(32, 'Broken pipe')\ncli.run(main)")
    result = _run("-c", program)
    assert (result.returncode, result.stderr) == (2, "lines: error: [Errno 32] Broken pipe\n")


def test_log_lines_left_out_are_only_those_named_and_once():
    logger = logging.getLogger("svgan_tf.test_cli")
    cli.leave_out_log_lines(logger, "noise one", "noise two")
    cli.leave_out_log_lines(logger, "noise one", "noise two")
    assert len(logger.filters) == 1
    records = [logging.LogRecord(logger.name, logging.WARNING, __file__, 1, message, None, None)
               for message in ("a noise one line", "noise two", "a real warning")]
    assert [record.getMessage() for record in records if logger.filter(record)] == ["a real warning"]
