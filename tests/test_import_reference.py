"""python -m svgan_tf.import_reference: reference-named weights imported into a run; user errors as one line
with exit status 2."""

import json
import subprocess
import sys

import numpy as np

from svgan_tf.interop import reference
from svgan_tf.training.run_dir import load_generator
from tests.support import tiny_generator


def test_npz_import_and_the_cli(tmp_path):
    G = tiny_generator()
    reference.save_reference_npz(G, tmp_path / "g.npz")
    (tmp_path / "g.json").write_text(json.dumps(G.get_config()))
    result = subprocess.run([sys.executable, "-m", "svgan_tf.import_reference", f"--npz={tmp_path / 'g.npz'}",
                             f"--out={tmp_path / 'run'}"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = load_generator(str(tmp_path / "run"))
    for a, b in zip(loaded.weights, G.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    bad = subprocess.run([sys.executable, "-m", "svgan_tf.import_reference", f"--pkl={tmp_path / 'g.json'}",
                          f"--out={tmp_path / 'run2'}"], capture_output=True, text=True)
    assert bad.returncode == 2 and "g.json" in bad.stderr and not (tmp_path / "run2").exists()
