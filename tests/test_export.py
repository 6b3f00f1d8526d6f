"""Export: every format through the one parity harness, plus what each format promises on its own."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from svgan_tf.export import onnx as onnx_export
from svgan_tf.export import parity, tflite
from svgan_tf.export.frame_model import FrameModel
from svgan_tf.export.savedmodel import SIGNATURES, WARMUP_FILE, SavedModelRunner, export_savedmodel
from svgan_tf.interop import reference
from svgan_tf.training import summaries
from tests.support import tiny_generator


def _tiny(c_dim=0):
    keras.utils.set_random_seed(c_dim)
    G = tiny_generator(c_dim=c_dim)
    G.mapping.w_avg.assign(np.full(G.w_dim, 0.2, np.float32))  # so that truncation does something
    return G


def _savedmodel(G, tmp_path, psi):
    return SavedModelRunner(export_savedmodel(G, str(tmp_path / "model"), truncation_psi=psi))


def _litert(quantization):
    return lambda G, tmp_path, psi: tflite.LiteRTRunner(tflite.convert(G, psi, quantization))


def _onnx(G, tmp_path, psi):
    return onnx_export.OnnxRunner(onnx_export.convert(G, psi))


FORMATS = {"savedmodel": (_savedmodel, "float32", None), "litert_float32": (_litert("float32"), "float32", 1),
           "litert_float16": (_litert("float16"), "float16", 1), "litert_int8": (_litert("int8"), "int8", 1),
           "onnx": (_onnx, "float32", None)}


@pytest.mark.parametrize("c_dim", [0, 3])
@pytest.mark.parametrize("name", list(FORMATS))
def test_parity_with_keras(tmp_path, name, c_dim):
    make, precision, batch_size = FORMATS[name]
    G = _tiny(c_dim)
    errors = parity.check(G, make(G, tmp_path, 0.7), truncation_psi=0.7, batch_size=batch_size or 2,
                          tolerance=parity.TOLERANCES[precision], what=name)
    print(name, c_dim, errors)
    if precision == "float32":
        assert errors.w_max < 1e-5
    else:  # quantised weights must change the output, or the variant is not what it claims to be
        assert errors.frame_mean > 1e-5


def test_harness_refuses_a_wrong_or_weightless_artefact(tmp_path):
    G = _tiny()
    other = tiny_generator()  # same architecture, other weights
    with pytest.raises(parity.ParityError, match="SavedModel disagrees"):
        parity.check(G, _savedmodel(other, tmp_path, 1.0), what="SavedModel")
    right = _onnx(G, tmp_path, 1.0)
    nan = lambda signature, **inputs: {k: v * np.nan for k, v in right(signature, **inputs).items()}  # noqa: E731
    with pytest.raises(parity.ParityError, match="non-finite"):
        parity.check(G, nan)


def test_savedmodel_serving_signatures(tmp_path):
    G = _tiny(c_dim=2)
    rng = np.random.default_rng(0)
    t = np.array([[0.0, 3.5, 17.25], [40.0, 41.0, 63.9]], np.float32)
    z = rng.standard_normal((2, G.z_dim)).astype(np.float32)
    c = np.eye(2, dtype=np.float32)[[1, 0]]
    motion_z = rng.standard_normal((2, G.num_motion_tokens(t.max()), G.motion_z_dim)).astype(np.float32)
    path = export_savedmodel(G, str(tmp_path / "sky"), version=3, truncation_psi=0.7)
    assert path.endswith("/3") and sorted(p.name for p in tmp_path.joinpath("sky").iterdir()) == ["3"]
    loaded = tf.saved_model.load(path)
    assert set(loaded.signatures) == {"serving_default", "frame_at_time", "mapping", "metadata"}
    frames = loaded.signatures["serving_default"](z=tf.constant(z), c=tf.constant(c), motion_z=tf.constant(motion_z),
                                                  t=tf.constant(t))["frames"].numpy()
    assert frames.dtype == np.uint8 and frames.shape == (2, 3, 32, 32, 3)
    expected = summaries.to_uint8(G(z, t, motion_z, c=c, truncation_psi=0.7)).numpy()
    assert np.abs(frames.astype(int) - expected.astype(int)).max() <= 1
    metadata = {k: v.numpy() for k, v in loaded.signatures["metadata"](t=tf.constant([0.0, 63.9])).items()}
    assert metadata.pop("num_tokens").tolist() == [G.token_window(0.0)[1], sum(G.token_window(63.9))]
    metadata = {k: v[1].item() for k, v in metadata.items()}
    assert metadata == pytest.approx(FrameModel(G, 0.7).constants)
    assert G.num_motion_tokens(63.9) == int(np.ceil(max(metadata["max_num_frames"] - 1, 63.9)
                                                    / metadata["motion_z_distance"])) + metadata["window_length"]


def test_savedmodel_warmup_requests_run(tmp_path):
    from tensorflow_serving.apis import prediction_log_pb2
    G = _tiny(c_dim=2)
    path = export_savedmodel(G, str(tmp_path / "sky"))
    loaded = tf.saved_model.load(path)
    records = list(tf.data.TFRecordDataset(os.path.join(path, WARMUP_FILE)).as_numpy_iterator())
    signatures = []
    for record in records:
        request = prediction_log_pb2.PredictionLog.FromString(record).predict_log.request
        signatures.append(request.model_spec.signature_name)
        inputs = {k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()}
        outputs = loaded.signatures[request.model_spec.signature_name](**inputs)
        assert all(np.all(np.isfinite(v.numpy())) for v in outputs.values())
    assert signatures == list(SIGNATURES)


def test_existing_savedmodel_version_is_refused(tmp_path):
    G = tiny_generator()
    export_savedmodel(G, str(tmp_path), version=1)
    with pytest.raises(FileExistsError, match="versions are immutable"):
        export_savedmodel(G, str(tmp_path), version=1)


def test_litert_file_is_self_describing_and_fixed_shape():
    G = _tiny()
    runner = tflite.LiteRTRunner(tflite.convert(G, 0.7))
    assert set(runner.signatures) == {"mapping", "frame_at_time", "metadata"}
    details = runner.interpreter.get_signature_runner("frame_at_time").get_input_details()
    assert {k: tuple(v["shape"]) for k, v in details.items()} == {"w": (1, 12), "window": (1, 6, 6), "t": (1,)}
    metadata = {k: v.item() for k, v in runner("metadata", t=np.zeros(1, np.float32)).items()}
    assert metadata.pop("num_tokens") == 6
    assert metadata == pytest.approx(FrameModel(G, 0.7).constants)


def test_failed_parity_writes_nothing(tmp_path, monkeypatch):
    G = _tiny()
    monkeypatch.setitem(parity.TOLERANCES, "int8", parity.Tolerance(1e-6, 1e-7))
    with pytest.raises(parity.ParityError, match="LiteRT int8"):
        tflite.export_tflite(G, str(tmp_path / "g.tflite"), quantization="int8")
    assert os.listdir(tmp_path) == []


def test_onnx_models_are_valid_and_batch_polymorphic(tmp_path):
    import onnx
    G = _tiny()
    onnx_export.export_onnx(G, str(tmp_path / "onnx"))
    assert sorted(os.listdir(tmp_path)) == ["onnx"]
    with pytest.raises(FileExistsError):
        onnx_export.export_onnx(G, str(tmp_path / "onnx"))
    proto = onnx.load(str(tmp_path / "onnx" / "frame_at_time.onnx"))
    onnx.checker.check_model(proto, full_check=True)
    assert {p.key: p.value for p in proto.metadata_props}["window_length"] == "6"
    runner = onnx_export.OnnxRunner(str(tmp_path / "onnx"))
    w = runner("mapping", z=np.zeros((3, G.z_dim), np.float32))["w"]
    frame = runner("frame_at_time", w=w, window=np.zeros((3, 6, G.motion_z_dim), np.float32),
                   t=np.array([0.0, 1.5, 9.0], np.float32))["frame"]
    assert frame.shape == (3, 32, 32, 3)


@pytest.mark.parametrize("export_format, out, extra, foreign", [
    ("tflite", "g.tflite", ["--quantization=float16"], "--version=1"), ("onnx", "onnx", [], "--precision=bfloat16"),
    ("savedmodel", "model", ["--version=2", "--precision=bfloat16"], "--quantization=int8")])
def test_export_program(tmp_path, export_format, out, extra, foreign):
    G = tiny_generator()
    reference.save_reference_npz(G, tmp_path / "g.npz")
    (tmp_path / "g.json").write_text(json.dumps(G.get_config()))
    program = [sys.executable, "-m", "svgan_tf.export", export_format]
    command = [*program, f"--checkpoint={tmp_path / 'g.npz'}", f"--out={tmp_path / out}", *extra]
    result = subprocess.run(command, capture_output=True, text=True, cwd=os.getcwd())
    assert result.returncode == 0, result.stderr[-3000:]
    assert "written" in result.stdout and (tmp_path / out).exists()
    missing = subprocess.run([*program, f"--checkpoint={tmp_path / 'none.npz'}", f"--out={tmp_path / 'x'}"],
                             capture_output=True, text=True)
    assert missing.returncode == 2 and "none.npz: no such file" in missing.stderr
    # A flag of another format is refused, naming it, before anything is loaded.
    refused = subprocess.run([*command, foreign], capture_output=True, text=True)
    assert refused.returncode == 2 and f"error: {foreign.split('=')[0]}: only " in refused.stderr
