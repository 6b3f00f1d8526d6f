"""python -m svgan_tf.evaluate: results as JSON lines, user errors as one line with exit status 2."""

import json
import subprocess
import sys

from svgan_tf.interop import reference
from tests.support import tiny_generator


def test_evaluate_cli(tmp_path):
    G = tiny_generator()
    reference.save_reference_npz(G, tmp_path / "g.npz")
    (tmp_path / "g.json").write_text(json.dumps(G.get_config()))
    command = [sys.executable, "-m", "svgan_tf.evaluate", f"--checkpoint={tmp_path / 'g.npz'}", "--data=demo",
               "--metrics=fvd2048_16f", "--num_fake=4", "--num_real=4", "--cache_dir=", f"--out={tmp_path / 'm.jsonl'}"]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    line = json.loads((tmp_path / "m.jsonl").read_text())
    assert line["metric"] == "fvd2048_16f" and line["value"] > 0 and line["scaled_down"]
    bad = subprocess.run(command[:5] + ["--metrics=fvd16"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown metric 'fvd16'" in bad.stderr
