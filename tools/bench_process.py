"""What the benchmarks share: each measurement in a fresh process, and that process's memory.

A measurement runs as `python -m <benchmark module> --child=... <flags>` and prints one JSON line; the
parent collects the lines. A fresh process per measurement makes each peak RSS its own, and the parent must
stay small: Linux keeps a process's peak RSS across fork + exec, so the child of a big parent reports the
parent's memory as its own peak.
"""

import json
import os
import resource
import subprocess
import sys


def rss_mb():
    """Current resident set size of this process, MB (Linux /proc)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def peak_rss_mb():
    """Peak resident set size of this process so far, MB (ru_maxrss: Python, TensorFlow, data)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


def run_child(module, *args):
    """Runs `python -m module *args` and returns the JSON object of its last stdout line.

    Raises:
        RuntimeError: with the end of the child's stderr, if it fails.
    """
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{module} {' '.join(args)} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])
