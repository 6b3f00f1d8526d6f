"""tools.gpu_check: the whole GPU check runs on a CPU in its tiny configuration, every figure a number or a
"no GPU" / "needs a GPU" mark, so that the first GPU run is not the script's first run."""

import os
import re
import subprocess
import sys

from tests.support import REPO


def test_tiny_gpu_check_runs_on_cpu():
    # One training variant is timed (its graph tracing dominates the run); XLA's row is the CPU mark.
    result = subprocess.run(
        [sys.executable, "-m", "tools.gpu_check", "--tiny", "--training=float32", "--training=mixed_float16_xla"],
        cwd=REPO, capture_output=True, text=True, timeout=600, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    print(result.stdout)

    def rows(check):
        return [line for line in lines if f" {check} " in line]

    def number(line, unit):
        match = re.search(rf"([0-9.]+) {unit}", line)
        assert match and float(match.group(1)) > 0, line
        return float(match.group(1))

    assert "no GPU" in lines[0]
    float32, xla = rows("training s/kimg")
    assert "float32, 2 clips x 3 frames, 1 replica(s)" in float32 and number(float32, "s/kimg")
    assert "peak GPU memory no GPU" in float32
    assert "mixed_float16_xla" in xla and "needs a GPU" in xla
    generation = rows("generation frames/s")
    assert [re.search(r"(\w+), batch (\d+)", line).groups() for line in generation] == [
        (p, b) for p in ("float32", "float16", "bfloat16") for b in ("1", "16")]
    for line in generation:
        number(line, "frames/s")
        assert re.search(r"= [0-9.]+ of the \w+ conv roofline \([0-9.]+ GFLOP/s; [0-9.]+ GFLOP/frame\)", line), line
    number(rows("SavedModel latency")[0], "ms/frame")
    number(rows("FVD features (I3D)")[0], "clips/s")
