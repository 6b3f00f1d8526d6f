"""The command-line conventions (svgan_tf/cli.py): console scripts run the `python -m` programs; quiet start-up."""

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


def _script_help(script, *args):
    """`script args --help` as the console script calls it: argv[0] is the script's name."""
    function = script.removeprefix("svgan-").replace("-", "_").replace("import", "import_reference")
    return _run("-c", f"import sys; sys.argv = {[script, *args, '--help']!r}; "
                      f"from svgan_tf.cli import {function}; {function}()")


def test_every_console_script_is_declared():
    with open(REPO / "pyproject.toml") as f:
        declared = dict(re.findall(r'^(svgan-[\w-]+) = "svgan_tf\.cli:(\w+)"$', f.read(), re.MULTILINE))
    assert set(declared) == set(cli.PROGRAMS)
    for script, function in declared.items():
        assert getattr(cli, function).__doc__ == f"`{script}`: python -m {cli.PROGRAMS[script]}."


@pytest.mark.parametrize("script, args, flag", [
    ("svgan-train", [], "data"), ("svgan-generate", [], "seeds"), ("svgan-evaluate", [], "metrics"),
    ("svgan-export", ["tflite"], "quantization"), ("svgan-dataset", [], "source"), ("svgan-import", [], "pkl"),
    ("svgan-serve-client", [], "server"), ("svgan-play", [], "model"), ("svgan-demo", [], "port"),
    ("svgan-project", [], "target"),
    ("svgan-edit", [], "mode"), ("svgan-profile", [], "config")])
def test_console_script_runs_its_program(script, args, flag):
    assert flag in _flags(_script_help(script, *args).stdout)


def test_entry_point_lists_the_module_programs_flags():
    module = _run("-m", "svgan_tf.generate", "--help")
    script = _script_help("svgan-generate")
    assert _flags(script.stdout) == _flags(module.stdout)
    assert script.returncode == module.returncode  # absl's --help exits with 1


def test_export_dispatches_on_the_format():
    for args in ([], ["pdf"]):
        bad = _run("-m", "svgan_tf.export", *args)
        assert bad.returncode == 2 and "savedmodel|tflite|onnx" in bad.stderr


def test_tensorflow_start_up_lines_are_silenced_unless_asked_for():
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "SVGAN_TF_VERBOSE")}
    program = "import svgan_tf, tensorflow as tf; print(float(tf.reduce_sum(tf.ones([3]))))"
    quiet = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, env=env)
    assert quiet.returncode == 0 and quiet.stdout == "3.0\n" and quiet.stderr == ""
    verbose = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                             env={**env, "SVGAN_TF_VERBOSE": "1"})
    assert verbose.returncode == 0 and verbose.stdout == "3.0\n" and verbose.stderr != ""
