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
    result = subprocess.run(command + ["--runs=2", "--floor", "--mirror", "--precision=bfloat16"], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    line = json.loads((tmp_path / "m.jsonl").read_text())
    assert line["metric"] == "fvd2048_16f" and line["value"] > 0 and line["scaled_down"]
    assert line["precision"] == "bfloat16"
    assert len(line["runs"]) == 2 and line["std"] > 0 and line["floor"]["value"] > 0
    assert line["mirror"] and not line["mirrored_real"] and (line["num_real"], line["num_fake"]) == (4, 4)
    for flag, message in (("--metrics=fvd16", "unknown metric 'fvd16'"), ("--runs=0", "--runs"),
                          ("--check_i3d", "--check_i3d needs --i3d=PATH"),
                          ("--metrics=isv2048_ucf", "isv2048_ucf needs the reference's C3D file: --c3d=PATH"),
                          ("--metrics=is50k", "no `output` classifier layer, which is50k needs: pass --inception")):
        bad = subprocess.run(command[:5] + [flag], capture_output=True, text=True)
        assert bad.returncode == 2 and message in bad.stderr and "Traceback" not in bad.stderr, bad.stderr


def test_check_i3d_compares_the_references_file_with_the_port(tmp_path):
    from svgan_tf.metrics import i3d
    from tools.torchscript_i3d import write_torchscript_i3d

    path = tmp_path / "i3d_torchscript.pt"
    write_torchscript_i3d(path, i3d.default_embedding().model)
    result = subprocess.run([sys.executable, "-m", "svgan_tf.evaluate", "--check_i3d", f"--i3d={path}"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "upsample_trilinear3d -> trilinear" in result.stdout and "file vs shipped, resize antialias" in result.stdout
