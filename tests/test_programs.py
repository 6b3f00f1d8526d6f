"""Console-script entry points (svgan_tf/programs.py, export/__main__.py): the same programs as `python -m`."""

import re
import subprocess
import sys

import pytest


def _run(*args):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True)


def _flags(help_text):
    """The flags a --help text lists ("  --name: ..." lines)."""
    return set(re.findall(r"^\s+--(?:\[no\])?(\w+):", help_text, re.MULTILINE))


@pytest.mark.parametrize("entry, flag", [("generate", "seeds"), ("evaluate", "metrics")])
def test_entry_point_is_the_module_program(entry, flag):
    # As the console script calls it: argv[0] is the script's name, the flags are the program's own.
    script = _run("-c", f"import sys; sys.argv = ['svgan-{entry}', '--help']; "
                        f"from svgan_tf.programs import {entry}; {entry}()")
    module = _run("-m", f"svgan_tf.{entry}", "--help")
    assert flag in _flags(module.stdout)
    assert _flags(script.stdout) == _flags(module.stdout)
    assert script.returncode == module.returncode  # absl's --help exits with 1


def test_export_dispatches_on_the_format():
    assert "quantization" in _flags(_run("-m", "export", "tflite", "--help").stdout)
    for args in ([], ["pdf"]):
        bad = _run("-m", "export", *args)
        assert bad.returncode == 2 and "savedmodel|tflite|onnx" in bad.stderr
