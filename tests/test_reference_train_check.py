"""The training step equals the reference's (training fixture), and the check catches a broken objective.

The mutation tests edit a copy of the package the way a bug would and run the check on it as a user does
(`python -m tools.reference_check --fixture DIR`): each mutant must exit 1 with the named quantities failing.
They check only the fixture's first iteration (`--iterations 1`), which every mutant already fails.
"""

import os
import shutil
import subprocess
import sys

import pytest

from tests.support import REPO
from tools import reference_check


def _lines(text):
    """{quantity: 'ok' | 'FAIL'} of a check's report."""
    rows = [line for line in text.splitlines() if line.endswith((" ok", " FAIL"))]
    return {line[:44].strip(): line.split()[-1] for line in rows}


def test_official_train_small_within_every_tolerance(official_train_small, capsys):
    assert reference_check.check(str(official_train_small))
    results = _lines(capsys.readouterr().out)
    assert set(results.values()) == {"ok"}
    # Every phase of every iteration was compared, Dreg only where the reference ran it (iterations 0 and 2).
    for k in range(3):
        for quantity in ("Gmain grads (68 tensors)", "Gmain adam params", "Dmain grads (35 tensors)",
                         "Dmain adam exp_avg_sq", "EMA G_ema"):
            assert f"it{k} {quantity}" in results
        assert (f"it{k} Dreg grads (35 tensors)" in results) == (k != 1)
        assert f"free run it{k} G_ema" in results


# (name, file, original text, mutated text, quantities that must fail).
MUTANTS = [
    ("G loss sign", "svgan_tf/training/loss.py", "loss = tf.nn.softplus(-fake_logits)",
     "loss = tf.nn.softplus(fake_logits)",
     ["it0 Gmain loss per clip", "it0 Gmain grads (68 tensors)"]),
    ("swapped optimisers", "svgan_tf/training/loop.py",
     '((G, cfg.g_reg_interval, "G_opt"), (D, cfg.r1_interval, "D_opt"))',
     '((G, cfg.r1_interval, "G_opt"), (D, cfg.g_reg_interval, "D_opt"))',
     ["G_opt lr, beta1, beta2, eps", "it0 Gmain adam params"]),
    ("missing R1 interval gain", "svgan_tf/training/loop.py", 'Phase("Dreg", "D", "D_opt", r1_interval, r1_interval)',
     'Phase("Dreg", "D", "D_opt", r1_interval, 1)', ["it0 Dreg objective", "it0 Dreg grads (35 tensors)"]),
    ("wrong EMA beta", "svgan_tf/training/loop.py", "return 0.5 ** (batch / (ema_kimg * 1000.0))",
     "return 0.5 ** (batch / (ema_kimg * 1024.0))", ["EMA beta", "it0 EMA G_ema"]),
    ("Keras-style epsilon", "svgan_tf/training/optimizer.py",
     "denominator = tf.sqrt(v) / bias_correction2_sqrt + tf.constant(self.epsilon, dtype)",
     "denominator = (tf.sqrt(v) + tf.constant(self.epsilon, dtype)) / bias_correction2_sqrt",
     ["it0 Gmain adam params", "it0 Dmain adam params"]),
    ("None instead of zero R1 gradients", "svgan_tf/training/loss.py",
     "_dense(tape.gradient(target, variables), variables, zero_fill=True)",
     "_dense(tape.gradient(target, variables), variables)", ["it0 Dreg grads", "free run it0 D_opt exp_avg_sq"]),
    ("Dmain fake/real swapped", "svgan_tf/training/loss.py", "loss_fake = tf.nn.softplus(fake_logits)",
     "loss_fake = tf.nn.softplus(-fake_logits)", ["it0 Dmain loss_fake per clip", "it0 Dmain grads (35 tensors)"]),
]


@pytest.mark.parametrize("name, path, original, mutated, failing", MUTANTS, ids=[m[0] for m in MUTANTS])
def test_check_catches_a_broken_training_step(official_train_small, tmp_path, name, path, original, mutated,
                                              failing):
    for package in ("svgan_tf", "tools"):
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    source = (tmp_path / path).read_text()
    assert source.count(original) == 1, f"the mutation {name!r} no longer applies to {path}: update MUTANTS"
    (tmp_path / path).write_text(source.replace(original, mutated))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(tmp_path)}
    run = subprocess.run([sys.executable, "-m", "tools.reference_check", "--fixture", str(official_train_small),
                          "--iterations", "1"], cwd=tmp_path, capture_output=True, text=True, env=env)
    results = _lines(run.stdout)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "reference training check FAILED" in run.stdout
    for quantity in failing:
        assert results.get(quantity) == "FAIL", f"{name}: {quantity} is {results.get(quantity)}\n{run.stdout}"
