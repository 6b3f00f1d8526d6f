"""Console-script entry points (svgan_tf/programs.py, export/__main__.py): the same programs as `python -m`."""

import subprocess
import sys

import pytest


def _run(*code_or_args):
    return subprocess.run([sys.executable, *code_or_args], capture_output=True, text=True)


@pytest.mark.parametrize("entry, flag", [("generate", "--seeds"), ("evaluate", "--metrics")])
def test_entry_point_is_the_module_program(entry, flag):
    # As the console script calls it: argv[0] is the script's name, the flags are the program's own.
    result = _run("-c", f"import sys; sys.argv = ['svgan-{entry}', '--help']; "
                        f"from svgan_tf.programs import {entry}; {entry}()")
    assert result.returncode == 0, result.stderr[-2000:]
    assert flag in result.stdout  # flags defined by the module as __main__ are listed


def test_export_dispatches_on_the_format():
    result = _run("-m", "export", "tflite", "--help")
    assert result.returncode == 0 and "--quantization" in result.stdout
    for args in ([], ["pdf"]):
        bad = _run("-m", "export", *args)
        assert bad.returncode == 2 and "savedmodel|tflite|onnx" in bad.stderr
