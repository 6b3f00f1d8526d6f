"""svgan_tf.metrics.c3d: the C3D of the video Inception Score, on synthetic c3d_ucf101.pt-layout archives.

The real file is not available here, so the archives hold a narrow C3D (the widths are read from the file) with
random weights, and the network is checked against a NumPy float64 forward written from TGANv2's layer list.
"""

import keras
import numpy as np
import pytest

from svgan_tf.interop.unpickle import PickleFormatError
from svgan_tf.metrics import c3d
from tools.pickle_writer import torchscript_module_archive

WIDTHS = (4, 6, 8, 8, 8)
FC, CLASSES = 12, 5
CONVS = (("conv1a", 3, 0), ("conv2a", 0, 1), ("conv3a", 1, 2), ("conv3b", 2, 2), ("conv4a", 2, 3),
         ("conv4b", 3, 3), ("conv5a", 3, 4), ("conv5b", 4, 4))


def _weights(seed=0):
    """{torch name: array} in TGANv2's order; He-scaled so that the logits spread over a few units."""
    rng = np.random.RandomState(seed)
    out = {}
    for name, source, stage in CONVS:
        cin = 3 if name == "conv1a" else WIDTHS[source]
        scale = np.sqrt(2 / (27 * cin)) / (10 if name == "conv1a" else 1)  # conv1a sees 0..255-sized input
        out[f"{name}.weight"] = (rng.randn(WIDTHS[stage], cin, 3, 3, 3) * scale).astype(np.float32)
        out[f"{name}.bias"] = (rng.randn(WIDTHS[stage]) * 0.1).astype(np.float32)
    for name, n_in, n_out in (("fc6", WIDTHS[4] * 16, FC), ("fc7", FC, FC), ("fc8", FC, CLASSES)):
        out[f"{name}.weight"] = (rng.randn(n_out, n_in) * np.sqrt(2 / n_in)).astype(np.float32)
        out[f"{name}.bias"] = (rng.randn(n_out) * 0.1).astype(np.float32)
    return out


def _mean(seed=1):
    return np.random.RandomState(seed).uniform(80, 120, (3, 16, 112, 112)).astype(np.float32)


def _resize_align_corners(frames, size):
    """Bilinear resize [F, H, W, C] -> [F, size, size, C] with corner pixels aligned, in float64."""
    def axis(n_in):
        pos = np.arange(size) * (n_in - 1) / (size - 1)
        lo = np.minimum(np.floor(pos).astype(int), n_in - 1)
        return lo, np.minimum(lo + 1, n_in - 1), pos - lo

    y0, y1, fy = axis(frames.shape[1])
    x0, x1, fx = axis(frames.shape[2])
    rows = frames[:, y0] * (1 - fy)[None, :, None, None] + frames[:, y1] * fy[None, :, None, None]
    return rows[:, :, x0] * (1 - fx)[None, None, :, None] + rows[:, :, x1] * fx[None, None, :, None]


def _reference_probabilities(videos, weights, mean):
    """TGANv2's C3DVersion1UCF101 forward in NumPy float64 (NCDHW kept as N, C, T, H, W)."""
    n = len(videos)
    frames = _resize_align_corners(videos.reshape(-1, *videos.shape[2:]).astype(np.float64), 112)
    x = frames.reshape(n, 16, 112, 112, 3)[..., ::-1].transpose(0, 4, 1, 2, 3)  # BGR, [N, C, T, H, W]
    x = 128 * (x / 127.5 - 1) + 128 - mean  # the chainer model's pre conv and mean bias on x in [-1, 1]
    pools = {"conv1a": (1, 2, 2), "conv2a": (2, 2, 2), "conv3b": (2, 2, 2), "conv4b": (2, 2, 2), "conv5b": (2, 2, 2)}
    for name, _, _ in CONVS:
        w, b = weights[f"{name}.weight"].astype(np.float64), weights[f"{name}.bias"].astype(np.float64)
        t, h, wd = x.shape[2:]
        padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1), (1, 1)))
        y = np.zeros((n, w.shape[0], t, h, wd))
        for dt in range(3):
            for dh in range(3):
                for dw in range(3):
                    y += np.einsum("nctij,oc->notij", padded[:, :, dt:dt + t, dh:dh + h, dw:dw + wd],
                                   w[:, :, dt, dh, dw])
        x = np.maximum(y + b[None, :, None, None, None], 0)
        if name in pools:  # chainer cover_all: windows of the kernel's size, the last may overhang the end
            kt, kh, kw = pools[name]
            t, h, wd = x.shape[2:]
            ot, oh, ow = -(-t // kt), -(-h // kh), -(-wd // kw)
            full = np.full(x.shape[:2] + (ot * kt, oh * kh, ow * kw), -np.inf)
            full[:, :, :t, :h, :wd] = x
            x = full.reshape(n, x.shape[1], ot, kt, oh, kh, ow, kw).max(axis=(3, 5, 7))
    x = x.reshape(n, -1)
    for name in ("fc6", "fc7", "fc8"):
        x = x @ weights[f"{name}.weight"].astype(np.float64).T + weights[f"{name}.bias"]
        if name != "fc8":
            x = np.maximum(x, 0)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    weights, mean = _weights(), _mean()
    tensors = {**weights, "mean": mean}  # the mean after fc8, as a port's extra buffer would be pickled
    return torchscript_module_archive(tmp_path_factory.mktemp("c3d") / "c3d_ucf101.pt", tensors), weights, mean


def test_probabilities_match_a_numpy_forward(archive):
    path, weights, mean = archive
    videos = np.random.RandomState(2).randint(0, 256, (2, 16, 20, 26, 3)).astype(np.uint8)
    probs = c3d.c3d_probabilities(videos, path, batch_size=1)
    assert probs.shape == (2, CLASSES) and probs.dtype == np.float64
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=0, atol=1e-12)
    want = _reference_probabilities(videos, weights, mean)
    # The case discriminates: the probabilities are far from uniform and differ between the clips by far more than
    # the tolerance (measured: 6e-7 from float32 round-off).
    assert np.ptp(want) > 0.1 and np.abs(want[0] - want[1]).max() > 1e-3
    np.testing.assert_allclose(probs, want, rtol=0, atol=1e-5)
    model = c3d.build_c3d(path)
    assert (model.widths, model.fc_width, model.num_classes) == (WIDTHS, FC, CLASSES)
    np.testing.assert_array_equal(model.mean_clip, mean.transpose(1, 2, 3, 0))
    assert c3d.c3d_probabilities(videos[:0], path).shape == (0, CLASSES)


def test_pool5_overhangs_the_end_as_chainer_cover_all():
    x = np.arange(7 * 7, dtype=np.float32).reshape(1, 1, 7, 7, 1)
    pooled = keras.ops.max_pool(x, (1, 2, 2), strides=(1, 2, 2), padding="same")
    model = c3d.C3D((1, 1, 1, 1, 1), 1, 1)
    assert pooled.shape == (1, 1, 4, 4, 1)
    # Windows rows/cols {0,1}, {2,3}, {4,5}, {6}: the max of each is its bottom-right in-image element.
    np.testing.assert_array_equal(np.asarray(pooled)[0, 0, :, :, 0], x[0, 0, [1, 3, 5, 6]][:, [1, 3, 5, 6], 0])
    assert [s for _, s in model.slots()][:2] == [(1, 3, 3, 3, 3), (1,)] and len(model.slots()) == 22


def test_archive_errors_name_the_tensor(tmp_path):
    weights = _weights()
    bad = dict(weights)
    bad["conv2a.weight"] = np.zeros((6, 5, 3, 3, 3), np.float32)
    wrong_shape = (r"shape\.pt: tensor conv2a\.weight \(#2 in pickled order, read as conv2a\.weight\) has shape "
                   r"\(6, 5, 3, 3, 3\); expected \(6, 4, 3, 3, 3\)")
    with pytest.raises(PickleFormatError, match=wrong_shape):
        c3d.build_c3d(torchscript_module_archive(tmp_path / "shape.pt", bad))
    with pytest.raises(PickleFormatError, match=r"extra\.pt: unexpected tensor extra\.scale \(3,\) after the 22"):
        c3d.build_c3d(torchscript_module_archive(tmp_path / "extra.pt", {**weights,
                                                                        "extra.scale": np.ones(3, np.float32)}))
    short = {k: v for k, v in weights.items() if not k.startswith("fc8")}
    with pytest.raises(PickleFormatError, match=r"short\.pt: 20 weight tensors; .*fc8\.weight, fc8\.bias missing"):
        c3d.build_c3d(torchscript_module_archive(tmp_path / "short.pt", short))
    with pytest.raises(PickleFormatError, match="two mean-clip tensors, a and b"):
        c3d.build_c3d(torchscript_module_archive(tmp_path / "means.pt", {"a": _mean(), **weights, "b": _mean()}))
    with pytest.raises(FileNotFoundError, match=r"absent\.pt: no such C3D weights file"):
        c3d.c3d_probabilities(np.zeros((1, 16, 8, 8, 3), np.uint8), tmp_path / "absent.pt")
    with pytest.warns(UserWarning, match="no mean-clip tensor"):
        model = c3d.build_c3d(torchscript_module_archive(tmp_path / "nomean.pt", weights))
    assert model.mean_clip is None


def test_video_input_is_checked(archive):
    path = archive[0]
    with pytest.raises(ValueError, match=r"\[N, 16, H, W, 3\].*\(1, 15, 8, 8, 3\)"):
        c3d.c3d_probabilities(np.zeros((1, 15, 8, 8, 3), np.uint8), path)
    with pytest.raises(TypeError, match="uint8"):
        c3d.c3d_probabilities(np.zeros((1, 16, 8, 8, 3), np.float32), path)
