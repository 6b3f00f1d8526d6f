"""The program `python -m svgan_tf.serve_client`: its flags and how it reports errors, without a server.

It renders through stand-ins of TF Serving in tests/test_client.py, where they are defined.
"""

import dataclasses
import re
import socket
import subprocess
import sys

from svgan_tf.export import client
from tests.support import REPO


def _program(*args):
    return subprocess.run([sys.executable, "-m", "svgan_tf.serve_client", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=120)


def _one_error_line(result):
    """The single `svgan_tf.serve_client: error: ...` line a user error prints, checked with exit status 2."""
    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("svgan_tf.serve_client: error: "), line
    return line


def test_the_flags_are_the_client_options():
    listed = {}  # flag -> its default as --help prints it (None: no default)
    for name, text in re.findall(r"^\s+--(?:\[no\])?(\w+):(.*?)(?=^\s+--|^Try)", _program("--helpshort").stdout,
                                 re.MULTILINE | re.DOTALL):
        default = re.search(r"\(default: '(.*)'\)", text)
        listed[name] = default and default.group(1)
    defaults = {field.name: field.default for field in dataclasses.fields(client.Options)}
    assert listed == {name: None if value is None else str(value).lower() if isinstance(value, bool) else str(value)
                      for name, value in defaults.items()}
    # d and W come from the model's metadata signature, never from the command line.
    assert "motion_z_distance" in _one_error_line(_program("--motion_z_distance=16"))


def test_user_errors_are_one_line_with_exit_status_2():
    assert "--seeds: '3-1'" in _one_error_line(_program("--seeds=3-1"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    line = _one_error_line(_program(f"--server=127.0.0.1:{port}", "--protocol=rest", "--model=ffs", "--version=2",
                                    "--seeds=1-3", "--num_frames=64", "--fps=30", "--time_step=0.5",
                                    "--out=o/{seed}.gif", "--frames_per_request=4", "--timeout=5", "--overwrite"))
    assert f"cannot connect to http://127.0.0.1:{port}: connection refused" in line
