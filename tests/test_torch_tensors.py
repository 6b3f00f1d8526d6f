"""svgan_tf.interop.torch_tensors: torch storages and tensors rebuilt as bounds-checked NumPy views."""

import numpy as np
import pytest

from svgan_tf.interop.torch_tensors import Storage, load_legacy_storage, rebuild_tensor_v2
from svgan_tf.interop.unpickle import PickleFormatError
from tools.pickle_writer import legacy_storage

FLAT = np.random.default_rng(0).standard_normal(20).astype(np.float32)


def test_legacy_storage_is_a_zero_copy_view():
    blob = legacy_storage(FLAT)
    storage = load_legacy_storage(blob)
    np.testing.assert_array_equal(storage.array, FLAT)
    assert storage.location == "cpu" and not storage.array.flags.writeable
    assert storage.array.base is not None  # a view of the stream's bytes
    steps = load_legacy_storage(legacy_storage(np.arange(3, dtype=np.int64), "torch.LongStorage"))
    np.testing.assert_array_equal(steps.array, np.arange(3))
    with pytest.raises(PickleFormatError, match="trailing bytes"):
        load_legacy_storage(blob + b"\0")
    with pytest.raises(PickleFormatError, match="truncated"):
        load_legacy_storage(blob[:-1])


def test_tensor_views_of_a_storage():
    storage = Storage(FLAT, "cpu")
    whole = rebuild_tensor_v2(storage, 0, (4, 5), (5, 1))
    assert whole.array.base is not None and whole.array.shape == (4, 5)  # the whole storage: no copy
    strided = rebuild_tensor_v2(storage, 2, (3, 2), (1, 3))
    np.testing.assert_array_equal(strided.array, FLAT[2:8].reshape(2, 3).T)
    assert strided.array.flags.c_contiguous


@pytest.mark.parametrize("size, stride, offset", [((10,), (1,), 0), ((2, 2), (3, 1), 0), ((2,), (-1,), 3),
                                                   ((4,), (1,), 1)])
def test_tensor_out_of_bounds(size, stride, offset):
    with pytest.raises(PickleFormatError, match="storage|stride"):
        rebuild_tensor_v2(Storage(FLAT[:4], "cpu"), offset, size, stride)
