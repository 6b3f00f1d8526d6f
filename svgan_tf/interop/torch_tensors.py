"""Torch tensors and storages rebuilt as NumPy, for the restricted unpickler (``svgan_tf.interop.unpickle``).

Torch pickles a tensor as a call of ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`` and its
storage either as a persistent id (zip archives: ``svgan_tf.interop.torchscript``) or, in the pickles of
``persistence``-wrapped modules, as ``torch.storage._load_from_bytes(<a legacy torch.save stream>)``. This module
owns those safe constructors and the allow-list entries that name them:

* ``TENSOR_GLOBALS``: the torch names a pickle of torch modules may use. ``torch._utils._rebuild_tensor_v2`` /
  ``_rebuild_parameter`` / ``_rebuild_parameter_with_state`` and ``torch._tensor._rebuild_from_type_v2`` -> ours:
  bounds-checked NumPy views of a ``Storage`` (``_rebuild_from_type_v2`` only forwards to our own rebuild
  functions; its type argument must be a torch tensor marker and its ``state`` is ignored).
  ``torch.storage._load_from_bytes`` -> ``load_legacy_storage``, a parser of the legacy ``torch.save`` byte
  stream: five tiny pickles (magic number, protocol 1001, sys_info, the storage's persistent id, the key list)
  decoded under ``STORAGE_STREAM_ALLOWED`` (whose only names are the storage-class markers), then per key an int64
  element count and the raw data, wrapped with ``np.frombuffer`` (no copy). Torch's own ``_load_from_bytes`` (a
  full ``torch.load``) is never involved. ``torch.Size`` and ``torch.device`` -> functions returning a tuple of
  ints and a string; ``torch.Tensor``, ``torch.nn.parameter.Parameter`` and torch dtypes (``torch.float32``, ...)
  -> markers.
* ``storage_class_markers``: the storage classes (``torch.FloatStorage``, ...) as markers, and ``storage_dtype``
  / ``storage_array`` to turn a storage id's class and raw bytes into a zero-copy NumPy array.

A tensor covering its whole storage (always the case for module parameters and buffers) is a zero-copy,
*read-only* view of the bytes read from the file; a tensor that is a part of a larger storage is copied.
"""

from __future__ import annotations

import io
import math

import numpy as np

from svgan_tf.interop.unpickle import AllowList, Marker, PickleFormatError, UnsafePickleError, int_tuple, is_int, load

__all__ = ["STORAGE_DTYPES", "STORAGE_STREAM_ALLOWED", "TENSOR_GLOBALS", "Storage", "Tensor", "as_tensor",
           "load_legacy_storage", "rebuild_tensor_v2", "storage_array", "storage_class_markers", "storage_dtype",
           "storage_itemsize"]

STORAGE_DTYPES = {
    "FloatStorage": "f4", "DoubleStorage": "f8", "HalfStorage": "f2", "BFloat16Storage": "bf16",
    "LongStorage": "i8", "IntStorage": "i4", "ShortStorage": "i2", "CharStorage": "i1",
    "ByteStorage": "u1", "BoolStorage": "?", "ComplexFloatStorage": "c8", "ComplexDoubleStorage": "c16",
}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_TENSOR_TYPES = {"torch.Tensor", "torch._tensor.Tensor", "torch.nn.parameter.Parameter"}


class Storage:
    """A torch storage: its elements as a flat NumPy array, and the device it was saved from."""

    __slots__ = ("array", "location")

    def __init__(self, array, location):
        self.array = array
        self.location = location


class Tensor:
    """A rebuilt tensor. Hashable by identity, as torch tensors are (optimizer state dicts use them as keys)."""

    __slots__ = ("array", "requires_grad", "is_parameter")

    def __init__(self, array, requires_grad=False, is_parameter=False):
        self.array = array
        self.requires_grad = requires_grad
        self.is_parameter = is_parameter

    def __repr__(self):
        return f"<tensor {self.array.dtype} {list(self.array.shape)}>"


def as_tensor(data, what):
    """``data`` if it is a rebuilt ``Tensor``; PickleFormatError naming ``what`` otherwise."""
    if not isinstance(data, Tensor):
        raise PickleFormatError(f"{what}: expected a tensor, got {type(data).__name__}")
    return data


# --------------------------------------------------------------------------------------------------
# Storages.


def storage_class_markers(module):
    """{"<module>.FloatStorage": Marker("torch.FloatStorage"), ...}: the storage classes as a pickle names them."""
    return {f"{module}.{name}": Marker(f"torch.{name}") for name in STORAGE_DTYPES}


def storage_dtype(kind):
    """The element type code (``STORAGE_DTYPES`` value) of a storage-class marker; PickleFormatError otherwise."""
    if not (isinstance(kind, Marker) and kind.name.startswith("torch.") and kind.name[6:] in STORAGE_DTYPES):
        raise PickleFormatError(f"unknown storage class {kind!r:.100}")
    return STORAGE_DTYPES[kind.name[6:]]


def _raw_dtype(dtype, byteorder):
    return np.dtype(byteorder + ("u2" if dtype == "bf16" else dtype))


def storage_itemsize(dtype):
    """Bytes per element of a storage type code, as stored."""
    return _raw_dtype(dtype, "<").itemsize


def storage_array(buffer, dtype, byteorder, count, offset=0):
    """``count`` elements of type code ``dtype`` from ``buffer`` at ``offset``, zero-copy (bfloat16 is widened).

    Args:
        buffer: bytes holding at least ``offset + count * storage_itemsize(dtype)`` bytes.
        dtype: a ``STORAGE_DTYPES`` value.
        byteorder: "<" or ">".
        count: number of elements.
        offset: byte offset in ``buffer``.

    Returns:
        A flat read-only array (float32 for bfloat16 data, the only case that copies).
    """
    array = np.frombuffer(buffer, _raw_dtype(dtype, byteorder), count, offset=offset)
    if dtype == "bf16":
        array = (array.astype(np.uint32) << 16).view(np.float32)
    return array


class _StorageRecord:
    __slots__ = ("key", "dtype", "location", "numel", "view")


def _storage_records(records):
    """The persistent_load of a legacy stream's storage pickle: each ('storage', ...) id becomes a record."""
    def persistent_load(pid):
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            raise PickleFormatError(f"unexpected persistent id {pid!r:.200}")
        _, kind, key, location, numel, view = pid
        dtype = storage_dtype(kind)
        if not (isinstance(key, str) and isinstance(location, str) and is_int(numel) and numel >= 0):
            raise PickleFormatError("bad persistent id fields")
        if view is not None and not (isinstance(view, tuple) and len(view) == 3 and isinstance(view[0], str)
                                     and is_int(view[1]) and is_int(view[2]) and view[1] >= 0 and view[2] >= 0):
            raise PickleFormatError("bad view metadata")
        rec = _StorageRecord()
        rec.key, rec.dtype, rec.location, rec.numel, rec.view = key, dtype, location, numel, view
        if records.setdefault(key, rec).dtype != rec.dtype:
            raise PickleFormatError("one key with two storage types")
        return rec
    return persistent_load


# The small pickles inside a legacy torch.save storage stream: only storage-class markers.
STORAGE_STREAM_ALLOWED = AllowList({**storage_class_markers("torch"), **storage_class_markers("torch.cuda")})


def load_legacy_storage(blob):
    """``torch.storage._load_from_bytes``: parse a legacy (non-zip) torch.save stream holding one storage.

    Args:
        blob: the stream (bytes).

    Returns:
        The ``Storage`` (a zero-copy view of ``blob``).
    """
    if not isinstance(blob, (bytes, bytearray)):
        raise PickleFormatError(f"storage payload must be bytes, got {type(blob).__name__}")
    stream = io.BytesIO(blob)  # shares the bytes object's buffer: no copy
    where = "inside a tensor storage stream"

    def load_next(persistent_load=None):
        return load(stream, STORAGE_STREAM_ALLOWED, where, persistent_load)

    if load_next() != _LEGACY_MAGIC:
        raise PickleFormatError("storage stream: bad magic number (not a legacy torch.save stream)")
    if load_next() != _LEGACY_PROTOCOL:
        raise PickleFormatError("storage stream: unsupported legacy protocol version")
    sys_info = load_next()
    if not isinstance(sys_info, dict):
        raise PickleFormatError("storage stream: sys_info is not a dict")
    little = sys_info.get("little_endian", True)
    if not isinstance(little, bool):
        raise PickleFormatError("storage stream: sys_info.little_endian is not a bool")
    records = {}
    root = load_next(_storage_records(records))
    keys = load_next()
    if not isinstance(root, _StorageRecord):
        raise PickleFormatError("storage stream: the saved object is not a storage")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys) or set(keys) != set(records):
        raise PickleFormatError("storage stream: the key list does not match the storages")
    pos = stream.tell()
    arrays = {}
    for key in keys:
        rec = records[key]
        if pos + 8 > len(blob):
            raise PickleFormatError("storage stream truncated (element count)")
        count = int.from_bytes(blob[pos:pos + 8], "little" if little else "big", signed=True)
        pos += 8
        size = count * storage_itemsize(rec.dtype)
        if count < 0 or pos + size > len(blob):
            raise PickleFormatError("storage stream truncated (data)")
        arrays[key] = storage_array(blob, rec.dtype, "<" if little else ">", count, pos)
        pos += size
    if pos != len(blob):
        raise PickleFormatError("storage stream has trailing bytes")
    array = arrays[root.key]
    if root.numel != len(array):
        raise PickleFormatError("storage stream: element count differs from the persistent id")
    if root.view is not None:
        view_key, offset, size = root.view
        if offset + size > len(array):
            raise PickleFormatError("storage stream: storage view out of bounds")
        array = array[offset:offset + size]
    return Storage(array, root.location)


# --------------------------------------------------------------------------------------------------
# Tensors.


def rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                      metadata=None):
    """``torch._utils._rebuild_tensor_v2``: a bounds-checked view of a ``Storage`` as a ``Tensor``."""
    if not isinstance(storage, Storage):
        raise PickleFormatError(f"rebuild_tensor_v2: expected a storage, got {type(storage).__name__}")
    if not is_int(storage_offset) or storage_offset < 0:
        raise PickleFormatError("rebuild_tensor_v2: bad storage offset")
    size = int_tuple(size, "tensor size")
    stride = int_tuple(stride, "tensor stride")
    if len(size) != len(stride):
        raise PickleFormatError("rebuild_tensor_v2: size and stride lengths differ")
    flat = storage.array
    numel = math.prod(size)
    if numel == 0:
        return Tensor(np.zeros(size, flat.dtype), bool(requires_grad))
    last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= len(flat):
        raise PickleFormatError("rebuild_tensor_v2: tensor extends past the end of its storage")
    contiguous, expect = True, 1
    for n, s in zip(reversed(size), reversed(stride)):
        if n != 1 and s != expect:
            contiguous = False
        expect *= n
    if contiguous:
        array = flat[storage_offset:storage_offset + numel].reshape(size)
        if numel != len(flat):
            array = array.copy()  # do not keep a large storage alive for a small part of it
    else:
        item = flat.itemsize
        view = np.lib.stride_tricks.as_strided(flat[storage_offset:], shape=size,
                                               strides=[s * item for s in stride], writeable=False)
        array = np.ascontiguousarray(view)
    return Tensor(array, bool(requires_grad))


def _rebuild_parameter(data, requires_grad, backward_hooks):
    return Tensor(as_tensor(data, "_rebuild_parameter").array, bool(requires_grad), True)


def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    return _rebuild_parameter(data, requires_grad, backward_hooks)


def _rebuild_from_type_v2(func, new_type, args, state):
    if func not in (rebuild_tensor_v2, _rebuild_parameter, _rebuild_parameter_with_state):
        raise UnsafePickleError("_rebuild_from_type_v2 with a function other than a tensor rebuild")
    if not isinstance(new_type, Marker) or new_type.name not in _TENSOR_TYPES:
        raise PickleFormatError("_rebuild_from_type_v2: the tensor type is not torch.Tensor/Parameter")
    if type(args) is not tuple:
        raise PickleFormatError("_rebuild_from_type_v2: args is not a tuple")
    tensor = func(*args)
    if new_type.name == "torch.nn.parameter.Parameter":
        tensor.is_parameter = True
    return tensor


def _torch_size(dims=()):
    return int_tuple(dims, "torch.Size")


def _torch_device(kind, index=None):
    if not isinstance(kind, str) or not (index is None or is_int(index)):
        raise PickleFormatError("torch.device: bad arguments")
    return kind if index is None else f"{kind}:{index}"


TENSOR_GLOBALS = {
    "torch._utils._rebuild_tensor_v2": rebuild_tensor_v2,
    "torch._utils._rebuild_parameter": _rebuild_parameter,
    "torch._utils._rebuild_parameter_with_state": _rebuild_parameter_with_state,
    "torch._tensor._rebuild_from_type_v2": _rebuild_from_type_v2,
    "torch.storage._load_from_bytes": load_legacy_storage,
    "torch.Size": _torch_size,
    "torch.device": _torch_device,
    **{name: Marker(name) for name in _TENSOR_TYPES},
    **{f"torch.{t}": Marker(f"torch.{t}") for t in (
        "float32", "float", "float64", "double", "float16", "half", "bfloat16", "int64", "long", "int32", "int",
        "int16", "short", "int8", "uint8", "bool", "complex64", "complex128")},
}
