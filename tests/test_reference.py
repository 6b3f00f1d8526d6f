"""Reference parity (golden fixture), reference-name round trips, and the reference_check tool."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from svgan_tf.interop import reference
from tests.support import REPO
from tools import reference_check


def test_official_small_within_every_tolerance(official_small, capsys):
    assert reference_check.check(str(official_small))
    lines = capsys.readouterr().out.splitlines()
    results = {line.split()[0]: line.split()[-1] for line in lines[1:-1]}
    assert results == {name: "ok" for name in json.load(open(official_small / "config.json"))["calls"]}


def test_cli_exit_codes(official_small, tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    ok = subprocess.run([sys.executable, "-m", "tools.reference_check", "--fixture", str(official_small)], cwd=REPO,
                        capture_output=True, text=True, env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "reference check passed" in ok.stdout
    missing = subprocess.run([sys.executable, "-m", "tools.reference_check", "--fixture", str(tmp_path)], cwd=REPO,
                             capture_output=True, text=True, env=env)
    assert missing.returncode == 2 and "config.json" in missing.stderr


def _copy_fixture(src, dst):
    shutil.copytree(src, dst)
    for path in dst.iterdir():
        path.chmod(0o644)
    return dst


def test_check_fails_on_a_wrong_output_or_weight(official_small, tmp_path, capsys):
    bad_output = _copy_fixture(official_small, tmp_path / "bad_output")
    outputs = dict(np.load(bad_output / "outputs.npz"))
    outputs["frames"][1, 2, 3, 4] += 2e-3
    np.savez(bad_output / "outputs.npz", **outputs)
    assert not reference_check.check(str(bad_output))
    assert any(line.startswith("frames ") and line.endswith("FAIL") for line in capsys.readouterr().out.splitlines())

    bad_weight = _copy_fixture(official_small, tmp_path / "bad_weight")
    params = dict(np.load(bad_weight / "params_D.npz"))
    params["b4.out.weight"][0, 0] += 0.05
    np.savez(bad_weight / "params_D.npz", **params)
    assert not reference_check.check(str(bad_weight))


def test_state_dict_round_trip_is_exact(official_small):
    config = json.load(open(official_small / "config.json"))
    for build, params_file, kwargs in ((reference.build_generator, "params_G.npz", config["G_kwargs"]),
                                       (reference.build_discriminator, "params_D.npz", config["D_kwargs"])):
        params = dict(np.load(official_small / params_file))
        model = build(kwargs, mixed_precision=None)
        reference.load_reference_weights(model, params)
        state = reference.reference_state_dict(model)
        assert sorted(state) == sorted(params)
        for name in params:
            np.testing.assert_array_equal(state[name], params[name], err_msg=name)


def test_npz_files_round_trip(official_small, tmp_path):
    config = json.load(open(official_small / "config.json"))
    D = reference.build_discriminator(config["D_kwargs"], mixed_precision=None)
    reference.load_reference_npz(D, official_small / "params_D.npz")
    reference.save_reference_npz(D, tmp_path / "d.npz")
    assert [p.name for p in tmp_path.iterdir()] == ["d.npz"]  # no temporary file left behind
    with np.load(tmp_path / "d.npz") as ours, np.load(official_small / "params_D.npz") as theirs:
        assert sorted(ours.files) == sorted(theirs.files)
        for name in theirs.files:
            np.testing.assert_array_equal(ours[name], theirs[name])


def test_loading_problems_are_named_and_nothing_is_assigned(official_small):
    config = json.load(open(official_small / "config.json"))
    G = reference.build_generator(config["G_kwargs"], mixed_precision=None)
    before = [v.numpy().copy() for v in G.weights]
    params = dict(np.load(official_small / "params_G.npz"))
    del params["mapping.fc1.bias"]
    params["synthesis.b8.conv0.weight"] = params["synthesis.b8.conv0.weight"][:, :-1]
    params["synthesis.b8.noise_strength"] = np.zeros([])
    with pytest.raises(ValueError) as error:
        reference.load_reference_weights(G, params, source="params_G.npz")
    message = str(error.value)
    assert "params_G.npz" in message and "missing mapping.fc1.bias" in message
    assert "synthesis.b8.conv0.weight: shape (64, 63, 3, 3)" in message and "synthesis.b8.noise_strength" in message
    for v, old in zip(G.weights, before):
        np.testing.assert_array_equal(v.numpy(), old)


def test_unsupported_reference_options_are_refused():
    G_kwargs = _g_kwargs()
    G_kwargs["cfg"]["motion"]["gen_strategy"] = "autoregressive"
    with pytest.raises(NotImplementedError, match="gen_strategy"):
        reference.generator_kwargs(G_kwargs)
    D_kwargs = _d_kwargs()
    D_kwargs["architecture"] = "skip"
    with pytest.raises(NotImplementedError, match="architecture"):
        reference.discriminator_kwargs(D_kwargs)


# A fixture of another shape (conditional, active clamp, other depths/kernel/periods), written in the
# reference format from our own networks: reference_check must read everything from the files.

def _g_kwargs(c_dim=3):
    cfg = {"z_dim": 16, "w_dim": 20, "c_dim": c_dim, "use_noise": False, "input": {"type": "temporal"},
           "motion": {"z_dim": 10, "v_dim": 14, "motion_z_distance": 8, "gen_strategy": "conv", "kernel_size": 5,
                      "fourier": True},
           "time_enc": {"cond_type": "concat_const", "dim": 9, "min_period_len": 8, "max_period_len": 256},
           "sampling": {"type": "random", "num_frames_per_video": 4, "max_num_frames": 256}}
    return {"c_dim": c_dim, "img_resolution": 32, "img_channels": 3, "w_dim": 20,
            "mapping_kwargs": {"num_layers": 3, "cfg": cfg},
            "synthesis_kwargs": {"channel_base": 512, "channel_max": 32, "num_fp16_res": 0, "conv_clamp": 0.5},
            "cfg": cfg}


def _d_kwargs(c_dim=3):
    cfg = {"mbstd_group_size": 2, "concat_res": 8, "num_frames_div_factor": 2, "dummy_c": False,
           "sampling": {"type": "random", "num_frames_per_video": 4, "max_num_frames": 256}}
    return {"c_dim": c_dim, "img_resolution": 32, "img_channels": 3, "channel_base": 512, "channel_max": 32,
            "num_fp16_res": 0, "conv_clamp": 0.5, "block_kwargs": {}, "mapping_kwargs": {"num_layers": 1},
            "epilogue_kwargs": {"mbstd_group_size": 2}, "cfg": cfg}


def _write_fixture(directory):
    directory.mkdir()
    G_kwargs, D_kwargs = _g_kwargs(), _d_kwargs()
    G = reference.build_generator(G_kwargs, mixed_precision=None)
    D = reference.build_discriminator(D_kwargs, mixed_precision=None)
    G.mapping.w_avg.assign(np.linspace(-1, 1, 20, dtype=np.float32))
    rng = np.random.default_rng(5)
    t_frames = np.array([[0.0, 3.0, 4.0, 9.0], [17.5, 18.5, 21.5, 25.5]], np.float32)
    inputs = {"z": rng.normal(size=(2, 16)), "c": np.eye(3)[[0, 2]], "t_frames": t_frames,
              "motion_z": rng.normal(size=(2, G.num_motion_tokens(t_frames.max()), 10)),
              "t_motion": np.array([[0.0, 7.9, 8.0, 100.25], [3.0, 55.0, 200.0, 255.0]]), "truncation_psi": 0.6}
    inputs = {k: np.asarray(v, np.float32) for k, v in inputs.items()}
    calls = list(reference_check.TOLERANCES)
    outputs = {name: value for name, value in reference_check.run_calls(G, D, {"calls": calls[:6]}, inputs, {}).items()}
    outputs.update(reference_check.run_calls(G, D, {"calls": calls[6:]}, inputs, outputs))
    clamp_hits = np.mean(np.abs(outputs["frames"]) >= 0.5 - 1e-6)
    assert clamp_hits > 0.01  # the clamp really acts in this fixture
    np.savez(directory / "params_G.npz", **reference.reference_state_dict(G))
    np.savez(directory / "params_D.npz", **reference.reference_state_dict(D))
    np.savez(directory / "inputs.npz", **inputs)
    np.savez(directory / "outputs.npz", **outputs)
    (directory / "config.json").write_text(json.dumps({"G_kwargs": G_kwargs, "D_kwargs": D_kwargs, "calls": calls}))


def test_check_reads_every_size_from_the_fixture(tmp_path, capsys):
    fixture = tmp_path / "other_shape"
    _write_fixture(fixture)
    assert reference_check.check(str(fixture))
    outputs = dict(np.load(fixture / "outputs.npz"))
    outputs["ws_trunc"][0, 0, 0] += 1e-3
    np.savez(fixture / "outputs.npz", **outputs)
    assert not reference_check.check(str(fixture))
    assert "ws_trunc" in capsys.readouterr().out
