"""svgan_tf.metrics.lpips_vgg16: a vgg16.pt-layout TorchScript archive (narrow channels, written here) is read
as data and its LPIPS equals a direct NumPy computation of the documented network."""

import numpy as np
import pytest

from svgan_tf.interop.unpickle import PickleFormatError
from svgan_tf.metrics import lpips_vgg16
from tests.support import narrow_vgg16_tensors
from tools.pickle_writer import torchscript_module_archive


def _numpy_lpips(tensors, a, b):
    """The module docstring's definition, in float64 NumPy (torch layouts, explicit loops over the kernel)."""
    def features(x):
        x = ((x + 1) / 2 - np.array(lpips_vgg16.IMAGENET_MEAN)) / np.array(lpips_vgg16.IMAGENET_STD)
        out, index = [], 1
        for block, count in enumerate(lpips_vgg16.BLOCKS):
            if block:
                n, h, w, c = x.shape
                x = x[:, :h // 2 * 2, :w // 2 * 2].reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))
            for _ in range(count):
                weight = tensors[f"layers.conv{index}.weight"].astype(np.float64)
                padded = np.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)])
                h, w = x.shape[1:3]
                y = sum(np.einsum("nhwi,oi->nhwo", padded[:, i:i + h, j:j + w], weight[:, :, i, j])
                        for i in range(3) for j in range(3))
                x = np.maximum(y + tensors[f"layers.conv{index}.bias"], 0)
                index += 1
            out.append(x / (np.linalg.norm(x, axis=-1, keepdims=True) + 1e-10))
        return out

    return sum(np.mean(np.sum(tensors[f"lpips{k}"] * (fa - fb) ** 2, -1), axis=(1, 2))
               for k, (fa, fb) in enumerate(zip(features(a), features(b))))


def test_lpips_of_a_vgg16_archive(tmp_path):
    tensors = narrow_vgg16_tensors()
    path = torchscript_module_archive(tmp_path / "vgg16.pt", {"net." + k: v for k, v in tensors.items()})
    distance = lpips_vgg16.LpipsVgg16(path)
    rng = np.random.default_rng(1)
    a, b = rng.uniform(-1, 1, (2, 2, 18, 18, 3))  # odd sizes after pooling: torch's floor
    np.testing.assert_allclose(distance(a.astype(np.float32), b.astype(np.float32)).numpy(),
                               _numpy_lpips(tensors, a, b), rtol=1e-4)
    np.testing.assert_allclose(distance(a.astype(np.float32), a.astype(np.float32)).numpy(), 0, atol=1e-7)


def test_refuses_archives_of_another_layout(tmp_path):
    tensors = narrow_vgg16_tensors()
    del tensors["lpips3"]
    with pytest.raises(PickleFormatError, match="lpips3 is missing"):
        lpips_vgg16.read_vgg16(torchscript_module_archive(tmp_path / "a.pt", tensors))
    tensors = narrow_vgg16_tensors()
    tensors["layers.conv5.weight"] = tensors["layers.conv5.weight"][:, :2]
    with pytest.raises(PickleFormatError, match="layers.conv5 has weight"):
        lpips_vgg16.read_vgg16(torchscript_module_archive(tmp_path / "b.pt", tensors))
    with pytest.raises(PickleFormatError, match="not an LPIPS VGG16 archive"):
        lpips_vgg16.read_vgg16(torchscript_module_archive(tmp_path / "c.pt", {"x.weight": np.zeros(2, np.float32)}))
