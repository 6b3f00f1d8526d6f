"""Read the authors' StyleGAN-V training snapshots (``network-snapshot-XXXXXX.pkl``) as data only.

A snapshot is a pickle, and a pickle is a program: ``pickle.load`` imports whatever modules the file
names and calls whatever it names with arguments it chooses, and a StyleGAN-V snapshot even carries
the full source text of its network modules, which the official loader ``exec``-utes. This module
never does any of that. No torch, no omegaconf and no official code are needed (or imported).

Public interface
----------------
``read_snapshot(path, progress=None)`` returns ``{"G", "D", "G_ema": Network, "training_set_kwargs": dict,
"stats": dict or None}``; ``Network`` holds ``class_name``, ``init_args`` (list), ``init_kwargs`` (dict) and
``state_dict`` (``{"mapping.fc0.weight": np.ndarray, ...}``). ``to_plain(obj)`` turns the inert placeholder
objects (EasyDict, DictConfig, ListConfig, AnyNode, tensors, ...) into plain Python; it also resolves OmegaConf
``${a.b}`` / ``${.a}`` path interpolations (custom resolvers such as ``${oc.env:X}`` are left as text).
Errors: ``UnsafePickleError`` (a name outside the allow-list; nothing from the file has run) and
``SnapshotFormatError`` (empty, truncated, not a pickle, unexpected structure). Both name the file.

Tensor arrays are zero-copy, *read-only* NumPy views of the bytes read from the file whenever the tensor covers
its whole storage (always the case for module parameters and buffers); a tensor that is a part of a larger
storage is copied. Peak memory is therefore about the file size (every byte string of the pickle is alive until
the pickle ends), and afterwards only what G, D and G_ema use stays alive. Use ``np.array(a)`` for a writable copy.

Why nothing from the file can run
---------------------------------
The file is decoded by ``_SafeUnpickler``, a subclass of the standard library's *pure-Python* unpickler
(``pickle._Unpickler``; the C unpickler cannot be audited the same way, e.g. its EXT opcodes consult the
process-wide ``copyreg`` extension cache before ``find_class``). Going through the pickle virtual machine opcode
by opcode, the only ways it can call something are:

* ``GLOBAL`` / ``STACK_GLOBAL``: name lookup -> ``find_class``. Ours is a dictionary lookup in an explicit
  allow-list (plus three narrow name patterns that map to inert placeholders, below). It never imports
  anything and never resolves dotted attribute paths. Any other name raises ``UnsafePickleError`` naming it.
* ``EXT1/2/4`` (copyreg extension codes): refused outright (``UnsafePickleError``); no snapshot uses them.
* ``PERSID`` / ``BINPERSID``: ``persistent_load``. The outer pickle refuses every persistent id. The inner
  storage streams accept only the tuple ``('storage', <storage class marker>, key, location, numel, view)``
  of plain values, which is turned into a record; nothing is called.
* ``REDUCE`` (``f(*args)``): ``f`` must be one of the objects that ``find_class`` returned in this load
  (checked by identity), and ``args`` a tuple. So only allow-listed callables are ever called.
* ``NEWOBJ`` / ``NEWOBJ_EX`` (``cls.__new__(cls, ...)``): ``cls`` must be a class returned by ``find_class`` and
  one of our placeholder classes or the harmless builtin containers listed below.
* ``INST`` / ``OBJ`` (protocol 0/1 instantiation): refused (``SnapshotFormatError``); snapshots use
  protocol >= 2, and a file that does not start with a protocol 2+ header is rejected before unpickling.
* ``BYTEARRAY8``: replaced so the length is read (bounded by the file) before anything is allocated.
* ``BUILD`` (``__setstate__`` or ``__dict__`` update): only on our own placeholder objects, whose
  ``__setstate__`` stores the state in a slot and does nothing else. Anything else is refused.
* ``SETITEM(S)`` / ``APPEND(S)`` / ``ADDITEMS``: only on real ``dict`` / ``list`` / ``set`` instances (or our
  dict subclass, which does not override ``__setitem__``), so no user-defined ``__setitem__``/``append``/``add``
  is reachable. Hashing a key only calls the built-in hash of str/int/tuple/NumPy scalars, or the identity hash
  of our placeholders (they define no ``__hash__``/``__eq__``).

Every object on the pickle stack is therefore a built-in value (str, bytes, int, float, tuple, list, dict, set,
frozenset, bool, None, bytearray), an allow-listed callable or marker, or something an allow-listed callable
returned. The allow-listed callables, and why each is inert:

* ``torch_utils.persistence._reconstruct_persistent_obj`` and ``src.torch_utils.persistence.
  _reconstruct_persistent_obj`` -> ``_reconstruct_persistent_obj`` (ours): checks ``meta`` is a dict with
  ``type == 'class'`` and keeps ``class_name`` and ``state``. ``module_src`` is dropped: never compiled,
  executed, imported or even inspected.
* ``torch._utils._rebuild_tensor_v2`` / ``_rebuild_parameter`` / ``_rebuild_parameter_with_state`` and
  ``torch._tensor._rebuild_from_type_v2`` -> ours: bounds-checked NumPy views of a storage record
  (``_rebuild_from_type_v2`` only forwards to our own rebuild functions; the type argument must be a torch
  tensor marker; its ``state`` is ignored).
* ``torch.storage._load_from_bytes`` -> ``_load_legacy_storage`` (ours), a parser of the legacy ``torch.save``
  byte stream: five tiny pickles (magic number, protocol 1001, sys_info, the storage's persistent id, the
  key list) decoded by a second restricted unpickler whose only names are the storage-class markers
  (``torch.FloatStorage``, ...), then per key an int64 element count and the raw data, wrapped with
  ``np.frombuffer`` (no copy). Torch's own ``_load_from_bytes`` (a full ``torch.load``) is never involved.
* Placeholder classes (subclasses of ``Inert``) for module and object types: ``torch.nn.modules.*`` classes,
  ``torch.optim.*`` optimizers, ``training.*`` / ``src.training.*`` non-persistent official classes (e.g.
  ``training.layers.TemporalDifferenceEncoder``), OmegaConf ``DictConfig``/``ListConfig``/value nodes/metadata,
  and ``EasyDict`` (a plain ``dict`` subclass). Constructing one stores the arguments; ``__setstate__`` stores the
  state. They have no other behaviour: no ``__getattr__``, ``__setitem__``, ``__del__``, ``__hash__``, ``__eq__``
  or ``__call__``; ``__slots__`` prevents attribute injection. Their name only decides how ``to_plain`` reads them,
  which is why the name patterns (``torch.nn.modules.<mod>.<Class>``, ``torch.optim.<mod>.<Class>``,
  ``[src.]training.<mod>.<Class>``) are safe: an unexpected class becomes an inert record, never code.
* Built-in types ``dict, list, tuple, set, frozenset, int, float, complex, bool, str`` and
  ``collections.OrderedDict``: C-implemented value constructors. The fixture needs ``dict``, ``list``, ``int``
  (OmegaConf metadata type markers) and ``OrderedDict`` (module dicts); protocol 2/3 pickles spell sets as
  ``builtins.set([...])`` (``__builtin__`` in protocol 2), and the rest are further OmegaConf type markers. Called
  with pickle values they can only call built-in methods (iteration/``keys`` of dicts and lists; our placeholders
  have none of those dunders). ``builtins.bytes`` / ``bytearray`` map to wrappers without the ``bytes(n)`` form,
  whose size the file would choose.
* ``collections.defaultdict`` -> a wrapper that builds a ``defaultdict`` only when the factory is None or one of
  the built-in types above (the factory would only run on a missing-key lookup, which nothing here does anyway).
* ``_codecs.encode`` (how protocol 2 spells bytes) -> ``str.encode('latin-1')`` only; any other codec is refused
  (a codec name lookup can import modules).
* NumPy: ``numpy[._]core.multiarray._reconstruct`` and ``numpy.ndarray`` (a marker, not the class) -> an
  ``_NdarrayStub`` placeholder whose ``__setstate__`` validates (shape, dtype, raw bytes) and wraps them with
  ``np.frombuffer``; ``numpy.dtype`` -> a ``_DtypeStub`` placeholder accepting only plain numeric/bool/str dtypes
  (object dtypes raise ``UnsafePickleError``: object arrays would let the data carry arbitrary objects; structured
  and void dtypes are refused), with the state's byte order applied by us, so NumPy's own ``dtype.__setstate__``
  never sees file data; ``numpy[._]core.multiarray.scalar`` and ``numpy[._]core.numeric._frombuffer`` -> ours,
  on top of the validated dtype.
* Markers that are values, not callables: ``typing.Any/Dict/List/Tuple``, ``torch.Tensor``,
  ``torch.nn.parameter.Parameter``, torch dtypes (``torch.float32``, ...). ``torch.Size`` and ``torch.device`` ->
  functions returning a tuple of ints and a string.

After the pickle ends, ``read_snapshot`` and ``to_plain`` only inspect the decoded objects (``isinstance``,
plain ``dict``/``list`` access, ``str`` of keys); none of our classes has a metaclass or overridden
``__instancecheck__``, so this reads data and calls nothing the file provided.

Other resources: every read is bounded by the file's size (a declared length past the end is reported as
truncation before any allocation), so a hostile header cannot make us allocate more than the file; numbers are
parsed by Python's bounded ``int``.
"""

from __future__ import annotations

import collections
import dataclasses
import io
import math
import os
import pickle
import re
import struct
import sys

import numpy as np

__all__ = ["Network", "SnapshotFormatError", "UnsafePickleError", "read_snapshot", "to_plain"]


class UnsafePickleError(ValueError):
    """The file names something outside the allow-list (nothing from the file has been executed)."""

    def __init__(self, message, global_name=None):
        super().__init__(message)
        self.global_name = global_name


class SnapshotFormatError(ValueError):
    """The file is not a readable snapshot: empty, truncated, not a pickle, or an unexpected structure."""


class _Truncated(EOFError):
    pass


class _CallbackError(Exception):
    """Carries an exception raised by the caller's progress callback through the unpickler unchanged."""


@dataclasses.dataclass
class Network:
    class_name: str
    init_args: list
    init_kwargs: dict
    state_dict: dict


# --------------------------------------------------------------------------------------------------
# Placeholders and markers.


class Inert:
    """A placeholder object: keeps the constructor arguments and the pickled state, nothing else."""

    __slots__ = ("args", "kwargs", "state")
    _global = "?"

    def __new__(cls, *args, **kwargs):
        self = object.__new__(cls)
        self.args = args
        self.kwargs = kwargs
        self.state = None
        return self

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        self.state = state

    def __repr__(self):
        return f"<inert {self._global}>"


class _EasyDictPlaceholder(dict):
    """`dnnlib.util.EasyDict`: a plain dict (the attribute access of the real class is not reproduced)."""

    __slots__ = ("state",)
    _global = "dnnlib.util.EasyDict"

    def __setstate__(self, state):
        self.state = state


class _DictConfig(Inert):
    __slots__ = ()
    _global = "omegaconf.dictconfig.DictConfig"


class _ListConfig(Inert):
    __slots__ = ()
    _global = "omegaconf.listconfig.ListConfig"


class _ValueNode(Inert):
    __slots__ = ()
    _global = "omegaconf.nodes.ValueNode"


class Marker:
    """A named value that is not callable (``typing.Any``, ``torch.float32``, ``numpy.ndarray``, ...)."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"<marker {self.name}>"


class _PersistentObject(Inert):
    """What `persistence._reconstruct_persistent_obj(meta)` would rebuild: class name and state only."""

    __slots__ = ("class_name", "version")
    _global = "torch_utils.persistence._reconstruct_persistent_obj"

    def __repr__(self):
        return f"<persistent {self.class_name}>"


class Storage:
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


def placeholder(fullname, base=Inert):
    return type(fullname.rsplit(".", 1)[-1], (base,), {"__slots__": (), "_global": fullname,
                                                        "__module__": __name__})


# --------------------------------------------------------------------------------------------------
# Tensors and storages.

STORAGE_DTYPES = {
    "FloatStorage": "f4", "DoubleStorage": "f8", "HalfStorage": "f2", "BFloat16Storage": "bf16",
    "LongStorage": "i8", "IntStorage": "i4", "ShortStorage": "i2", "CharStorage": "i1",
    "ByteStorage": "u1", "BoolStorage": "?", "ComplexFloatStorage": "c8", "ComplexDoubleStorage": "c16",
}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001


def is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def _int_tuple(x, what, allow_negative=False):
    if not isinstance(x, (tuple, list)) or not all(is_int(v) and (allow_negative or v >= 0) for v in x):
        raise SnapshotFormatError(f"{what} must be a tuple of non-negative ints, got {x!r:.200}")
    return tuple(x)


def _load_legacy_storage(blob):
    """`torch.storage._load_from_bytes`: parse a legacy (non-zip) torch.save stream holding one storage."""
    if not isinstance(blob, (bytes, bytearray)):
        raise SnapshotFormatError(f"storage payload must be bytes, got {type(blob).__name__}")
    stream = io.BytesIO(blob)  # shares the bytes object's buffer: no copy

    def load(records=None):
        try:
            return _InnerUnpickler(stream, records).load()
        except UnsafePickleError as e:
            raise UnsafePickleError(f"inside a tensor storage stream: {e}", e.global_name) from None
        except (EOFError, pickle.UnpicklingError) as e:
            raise SnapshotFormatError(f"storage stream truncated or corrupt ({e})") from None

    if load() != _LEGACY_MAGIC:
        raise SnapshotFormatError("storage stream: bad magic number (not a legacy torch.save stream)")
    if load() != _LEGACY_PROTOCOL:
        raise SnapshotFormatError("storage stream: unsupported legacy protocol version")
    sys_info = load()
    if not isinstance(sys_info, dict):
        raise SnapshotFormatError("storage stream: sys_info is not a dict")
    little = sys_info.get("little_endian", True)
    if not isinstance(little, bool):
        raise SnapshotFormatError("storage stream: sys_info.little_endian is not a bool")
    records = {}
    root = load(records)
    keys = load()
    if not isinstance(root, _StorageRecord):
        raise SnapshotFormatError("storage stream: the saved object is not a storage")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys) or set(keys) != set(records):
        raise SnapshotFormatError("storage stream: the key list does not match the storages")
    order = "<" if little else ">"
    pos = stream.tell()
    arrays = {}
    for key in keys:
        rec = records[key]
        if pos + 8 > len(blob):
            raise SnapshotFormatError("storage stream truncated (element count)")
        count = int.from_bytes(blob[pos:pos + 8], "little" if little else "big", signed=True)
        pos += 8
        bf16 = rec.dtype == "bf16"
        dtype = np.dtype(order + ("u2" if bf16 else rec.dtype))
        if count < 0 or pos + count * dtype.itemsize > len(blob):
            raise SnapshotFormatError("storage stream truncated (data)")
        array = np.frombuffer(blob, dtype, count, offset=pos)
        pos += count * dtype.itemsize
        if bf16:
            array = (array.astype(np.uint32) << 16).view(np.float32)
        arrays[key] = array
    if pos != len(blob):
        raise SnapshotFormatError("storage stream has trailing bytes")
    array = arrays[root.key]
    if root.numel != len(array):
        raise SnapshotFormatError("storage stream: element count differs from the persistent id")
    if root.view is not None:
        view_key, offset, size = root.view
        if offset + size > len(array):
            raise SnapshotFormatError("storage stream: storage view out of bounds")
        array = array[offset:offset + size]
    return Storage(array, root.location)


def _as_tensor(data, what):
    if not isinstance(data, Tensor):
        raise SnapshotFormatError(f"{what}: expected a tensor, got {type(data).__name__}")
    return data


def rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    if not isinstance(storage, Storage):
        raise SnapshotFormatError(f"rebuild_tensor_v2: expected a storage, got {type(storage).__name__}")
    if not is_int(storage_offset) or storage_offset < 0:
        raise SnapshotFormatError("rebuild_tensor_v2: bad storage offset")
    size = _int_tuple(size, "tensor size")
    stride = _int_tuple(stride, "tensor stride")
    if len(size) != len(stride):
        raise SnapshotFormatError("rebuild_tensor_v2: size and stride lengths differ")
    flat = storage.array
    numel = math.prod(size)
    if numel == 0:
        return Tensor(np.zeros(size, flat.dtype), bool(requires_grad))
    last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= len(flat):
        raise SnapshotFormatError("rebuild_tensor_v2: tensor extends past the end of its storage")
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
    return Tensor(_as_tensor(data, "_rebuild_parameter").array, bool(requires_grad), True)


def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    return _rebuild_parameter(data, requires_grad, backward_hooks)


_TENSOR_TYPES = {"torch.Tensor", "torch._tensor.Tensor", "torch.nn.parameter.Parameter"}


def _rebuild_from_type_v2(func, new_type, args, state):
    if func not in (rebuild_tensor_v2, _rebuild_parameter, _rebuild_parameter_with_state):
        raise UnsafePickleError("_rebuild_from_type_v2 with a function other than a tensor rebuild")
    if not isinstance(new_type, Marker) or new_type.name not in _TENSOR_TYPES:
        raise SnapshotFormatError("_rebuild_from_type_v2: the tensor type is not torch.Tensor/Parameter")
    if type(args) is not tuple:
        raise SnapshotFormatError("_rebuild_from_type_v2: args is not a tuple")
    tensor = func(*args)
    if new_type.name == "torch.nn.parameter.Parameter":
        tensor.is_parameter = True
    return tensor


def _torch_size(dims=()):
    return _int_tuple(dims, "torch.Size")


def _torch_device(kind, index=None):
    if not isinstance(kind, str) or not (index is None or is_int(index)):
        raise SnapshotFormatError("torch.device: bad arguments")
    return kind if index is None else f"{kind}:{index}"


def _reconstruct_persistent_obj(meta):
    if not isinstance(meta, dict) or meta.get("type") != "class":
        raise SnapshotFormatError("persistent object: meta is not a dict with type 'class'")
    class_name, state = meta.get("class_name"), meta.get("state")
    if not isinstance(class_name, str) or not isinstance(state, dict):
        raise SnapshotFormatError("persistent object: class_name or state missing")
    obj = _PersistentObject()
    obj.class_name = class_name
    obj.version = meta.get("version")
    obj.state = state
    return obj  # meta["module_src"] is deliberately dropped


# --------------------------------------------------------------------------------------------------
# NumPy.

_DTYPE_DESCR = re.compile(r"^(b1|[iu][1248]|f[248]|c(8|16)|[US][0-9]{1,9})$")


class _DtypeStub(Inert):
    __slots__ = ("descr", "dtype")
    _global = "numpy.dtype"

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) not in (8, 9):
            raise SnapshotFormatError("numpy dtype: unexpected state")
        byteorder, subarray, names, fields, elsize = state[1:6]
        if (subarray, names, fields) != (None, None, None) or (len(state) == 9 and state[8] is not None):
            raise SnapshotFormatError("numpy dtype: structured/sub-array/metadata dtypes are not supported")
        if byteorder not in ("<", ">", "|", "="):
            raise SnapshotFormatError("numpy dtype: bad byte order")
        dtype = np.dtype(self.descr)
        if byteorder in "<>" and dtype.itemsize > 1:
            dtype = dtype.newbyteorder(byteorder)
        if is_int(elsize) and elsize not in (-1, dtype.itemsize):
            raise SnapshotFormatError("numpy dtype: element size does not match")
        self.dtype = dtype


def _np_dtype(descr, align=False, copy=False):
    if not isinstance(descr, str):
        raise SnapshotFormatError("numpy dtype: descriptor is not a string")
    if descr.startswith("O"):
        raise UnsafePickleError("numpy object dtype refused: object arrays let the data carry arbitrary objects",
                                "numpy.dtype('O')")
    if not _DTYPE_DESCR.match(descr):
        raise SnapshotFormatError(f"numpy dtype {descr!r:.40} is not supported (plain numeric/bool/str only)")
    stub = _DtypeStub()
    stub.descr = descr
    stub.dtype = None
    return stub


def _resolved_dtype(stub):
    if not isinstance(stub, _DtypeStub) or getattr(stub, "dtype", None) is None:
        raise SnapshotFormatError("numpy: expected a dtype")
    return stub.dtype


class _NdarrayStub(Inert):
    __slots__ = ("array",)
    _global = "numpy.ndarray"

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise SnapshotFormatError("numpy array: unexpected state")
        shape, dtype, fortran, raw = state[-4:]
        shape = _int_tuple(shape, "numpy array shape")
        dtype = _resolved_dtype(dtype)
        if not isinstance(raw, (bytes, bytearray)):
            raise SnapshotFormatError("numpy array: data is not bytes")
        count = math.prod(shape)
        if len(raw) != count * dtype.itemsize:
            raise SnapshotFormatError("numpy array: data size does not match the shape")
        self.array = np.frombuffer(raw, dtype, count).reshape(shape, order="F" if fortran else "C")


def _np_reconstruct(subtype, shape, typecode):
    if not (isinstance(subtype, Marker) and subtype.name == "numpy.ndarray"):
        raise SnapshotFormatError("numpy _reconstruct: only numpy.ndarray is supported")
    return _NdarrayStub()


def _np_scalar(dtype, data=None):
    dtype = _resolved_dtype(dtype)
    if not isinstance(data, (bytes, bytearray)) or len(data) != dtype.itemsize:
        raise SnapshotFormatError("numpy scalar: data does not match the dtype")
    return np.frombuffer(data, dtype, 1)[0]


def _np_frombuffer(buf, dtype, shape, order):
    dtype = _resolved_dtype(dtype)
    shape = _int_tuple(shape, "numpy array shape")
    if not isinstance(buf, (bytes, bytearray)) or len(buf) != math.prod(shape) * dtype.itemsize:
        raise SnapshotFormatError("numpy _frombuffer: data does not match the shape")
    return np.frombuffer(buf, dtype).reshape(shape, order="F" if order == "F" else "C")


# --------------------------------------------------------------------------------------------------
# Standard library.

_BUILTIN_TYPES = {t.__name__: t for t in (dict, list, tuple, set, frozenset, int, float, complex, bool, str,
                                          bytes, bytearray)}
_NEWOBJ_TYPES = (dict, list, tuple, set, frozenset, int, float, complex, bool, str, collections.OrderedDict)


def _bytes_like(kind):
    """`builtins.bytes` / `builtins.bytearray` without the `bytes(n)` form (an allocation the file would choose)."""
    def build(source=b"", encoding=None, errors="strict"):
        if isinstance(source, str) and encoding in ("latin1", "latin-1", "iso-8859-1"):
            return kind(source.encode("latin-1"))
        if isinstance(source, (bytes, bytearray, list)) and encoding is None:
            return kind(source)
        raise SnapshotFormatError(f"builtins.{kind.__name__}: unsupported arguments")
    return build


def _defaultdict(default_factory=None, *args):
    if default_factory is not None and default_factory not in _BUILTIN_TYPES.values():
        raise UnsafePickleError("collections.defaultdict with a factory that is not a built-in type",
                                "collections.defaultdict")
    if args:
        raise SnapshotFormatError("collections.defaultdict: unexpected arguments")
    return collections.defaultdict(default_factory)


def _codecs_encode(text, encoding="utf-8", errors="strict"):
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1", "iso-8859-1"):
        raise UnsafePickleError(f"_codecs.encode with codec {encoding!r:.40}: only latin-1 (protocol 2 bytes) "
                                "is allowed", "_codecs.encode")
    return text.encode("latin-1")


# --------------------------------------------------------------------------------------------------
# The allow-list.

_OMEGACONF = {
    "omegaconf.dictconfig.DictConfig": _DictConfig,
    "omegaconf.listconfig.ListConfig": _ListConfig,
    **{f"omegaconf.nodes.{n}": placeholder(f"omegaconf.nodes.{n}", _ValueNode)
       for n in ("AnyNode", "StringNode", "IntegerNode", "FloatNode", "BooleanNode", "BytesNode", "PathNode")},
    "omegaconf.base.ContainerMetadata": placeholder("omegaconf.base.ContainerMetadata"),
    "omegaconf.base.Metadata": placeholder("omegaconf.base.Metadata"),
}

_ALLOWED = {
    "torch_utils.persistence._reconstruct_persistent_obj": _reconstruct_persistent_obj,
    "src.torch_utils.persistence._reconstruct_persistent_obj": _reconstruct_persistent_obj,
    "torch._utils._rebuild_tensor_v2": rebuild_tensor_v2,
    "torch._utils._rebuild_parameter": _rebuild_parameter,
    "torch._utils._rebuild_parameter_with_state": _rebuild_parameter_with_state,
    "torch._tensor._rebuild_from_type_v2": _rebuild_from_type_v2,
    "torch.storage._load_from_bytes": _load_legacy_storage,
    "torch.Size": _torch_size,
    "torch.device": _torch_device,
    **{name: Marker(name) for name in _TENSOR_TYPES},
    **{f"torch.{t}": Marker(f"torch.{t}") for t in (
        "float32", "float", "float64", "double", "float16", "half", "bfloat16", "int64", "long", "int32", "int",
        "int16", "short", "int8", "uint8", "bool", "complex64", "complex128")},
    **{f"typing.{n}": Marker(f"typing.{n}") for n in ("Any", "Dict", "List", "Tuple")},
    "dnnlib.util.EasyDict": _EasyDictPlaceholder,
    "src.dnnlib.util.EasyDict": _EasyDictPlaceholder,
    "dnnlib.EasyDict": _EasyDictPlaceholder,
    "src.dnnlib.EasyDict": _EasyDictPlaceholder,
    **_OMEGACONF,
    **{f"builtins.{n}": t for n, t in _BUILTIN_TYPES.items()},
    "builtins.bytes": _bytes_like(bytes),
    "builtins.bytearray": _bytes_like(bytearray),
    "collections.OrderedDict": collections.OrderedDict,
    "collections.defaultdict": _defaultdict,
    "_codecs.encode": _codecs_encode,
    "numpy.ndarray": Marker("numpy.ndarray"),
    "numpy.dtype": _np_dtype,
    **{f"numpy.{core}.multiarray._reconstruct": _np_reconstruct for core in ("core", "_core")},
    **{f"numpy.{core}.multiarray.scalar": _np_scalar for core in ("core", "_core")},
    **{f"numpy.{core}.numeric._frombuffer": _np_frombuffer for core in ("core", "_core")},
}

# Classes that become inert placeholders by name pattern (module regex, class-name regex).
_PLACEHOLDER_PATTERNS = (
    re.compile(r"^torch\.nn\.modules\.[a-z_][a-z0-9_]*\.[A-Z][A-Za-z0-9_]*$"),
    re.compile(r"^torch\.optim\.[a-z_][a-z0-9_]*\.[A-Z][A-Za-z0-9_]*$"),
    re.compile(r"^(src\.)?training\.[a-z_][a-z0-9_]*\.[A-Z][A-Za-z0-9_]*$"),
)
_MODULE_ALIASES = {"__builtin__": "builtins", "copy_reg": "copyreg"}

_INNER_ALLOWED = {f"{mod}.{name}": Marker(f"torch.{name}")
                  for name in STORAGE_DTYPES for mod in ("torch", "torch.cuda")}


# --------------------------------------------------------------------------------------------------
# The restricted unpicklers.


def _refuse_opcode(what, exc=SnapshotFormatError):
    def load(self):
        raise exc(f"pickle opcode {what} is not allowed in a snapshot")
    return load


class RestrictedUnpickler(pickle._Unpickler):
    """Pure-Python unpickler with find_class replaced by an allow-list and every call site checked."""

    def __init__(self, file):
        super().__init__(file)
        self._callables = {}  # id -> object, for everything find_class returned

    def _allowed(self, fullname):
        raise NotImplementedError

    def find_class(self, module, name):
        if not isinstance(module, str) or not isinstance(name, str):
            raise SnapshotFormatError("global name is not a string")
        module = _MODULE_ALIASES.get(module, module)
        fullname = f"{module}.{name}"
        obj = self._allowed(fullname)
        if obj is None:
            raise UnsafePickleError(f"refusing global {fullname!r:.200}: not on the allow-list of inert names; "
                                    "nothing from the file was executed", fullname)
        self._callables[id(obj)] = obj
        return obj

    def persistent_load(self, pid):
        raise UnsafePickleError("refusing a persistent id: snapshots do not use them", "persistent_load")

    def _load_reduce(self):
        args = self.stack.pop()
        func = self.stack[-1]
        if self._callables.get(id(func)) is not func:
            raise UnsafePickleError(f"REDUCE of an object that is not an allow-listed callable "
                                    f"({type(func).__name__})")
        if type(args) is not tuple:
            raise SnapshotFormatError("REDUCE arguments are not a tuple")
        self.stack[-1] = func(*args)

    def _check_class(self, cls):
        if not isinstance(cls, type) or self._callables.get(id(cls)) is not cls or not (
                issubclass(cls, (Inert, _EasyDictPlaceholder)) or cls in _NEWOBJ_TYPES):
            raise UnsafePickleError(f"NEWOBJ of an object that is not an allow-listed class ({cls!r:.100})")

    def _load_newobj(self):
        args = self.stack.pop()
        cls = self.stack.pop()
        self._check_class(cls)
        if type(args) is not tuple:
            raise SnapshotFormatError("NEWOBJ arguments are not a tuple")
        self.append(cls.__new__(cls, *args))

    def _load_newobj_ex(self):
        kwargs = self.stack.pop()
        args = self.stack.pop()
        cls = self.stack.pop()
        self._check_class(cls)
        if type(args) is not tuple or type(kwargs) is not dict:
            raise SnapshotFormatError("NEWOBJ_EX arguments are not a tuple and a dict")
        self.append(cls.__new__(cls, *args, **kwargs))

    def _load_build(self):
        state = self.stack.pop()
        inst = self.stack[-1]
        if not isinstance(inst, (Inert, _EasyDictPlaceholder)):
            raise SnapshotFormatError(f"BUILD on a {type(inst).__name__} is not allowed")
        inst.__setstate__(state)

    def _load_append(self):
        value = self.stack.pop()
        if type(self.stack[-1]) is not list:
            raise SnapshotFormatError("APPEND to something that is not a list")
        self.stack[-1].append(value)

    def _load_appends(self):
        items = self.pop_mark()
        if type(self.stack[-1]) is not list:
            raise SnapshotFormatError("APPENDS to something that is not a list")
        self.stack[-1].extend(items)

    def _check_dict(self):
        target = self.stack[-1]
        if not (type(target) in (dict, collections.OrderedDict, collections.defaultdict)
                or type(target) is _EasyDictPlaceholder):
            raise SnapshotFormatError(f"SETITEM on a {type(target).__name__} is not allowed")
        return target

    def _load_setitem(self):
        value = self.stack.pop()
        key = self.stack.pop()
        self._check_dict()[key] = value

    def _load_setitems(self):
        items = self.pop_mark()
        target = self._check_dict()
        for i in range(0, len(items) - 1, 2):
            target[items[i]] = items[i + 1]

    def _load_additems(self):
        items = self.pop_mark()
        if type(self.stack[-1]) is not set:
            raise SnapshotFormatError("ADDITEMS to something that is not a set")
        self.stack[-1].update(items)

    def _load_bytearray8(self):
        (size,) = struct.unpack("<Q", self.read(8))
        self.append(bytearray(self.read(size)))  # bounded read first, unlike pickle's bytearray(size)

    dispatch = dict(pickle._Unpickler.dispatch)
    dispatch[pickle.BYTEARRAY8[0]] = _load_bytearray8
    dispatch[pickle.REDUCE[0]] = _load_reduce
    dispatch[pickle.NEWOBJ[0]] = _load_newobj
    dispatch[pickle.NEWOBJ_EX[0]] = _load_newobj_ex
    dispatch[pickle.BUILD[0]] = _load_build
    dispatch[pickle.APPEND[0]] = _load_append
    dispatch[pickle.APPENDS[0]] = _load_appends
    dispatch[pickle.SETITEM[0]] = _load_setitem
    dispatch[pickle.SETITEMS[0]] = _load_setitems
    dispatch[pickle.ADDITEMS[0]] = _load_additems
    dispatch[pickle.INST[0]] = _refuse_opcode("INST (protocol 0 instance)")
    dispatch[pickle.OBJ[0]] = _refuse_opcode("OBJ (protocol 1 instance)")
    for _op in (pickle.EXT1, pickle.EXT2, pickle.EXT4):
        dispatch[_op[0]] = _refuse_opcode("EXT (copyreg extension code)", UnsafePickleError)
    del _op


class _SafeUnpickler(RestrictedUnpickler):
    """The outer snapshot pickle."""

    def __init__(self, file):
        super().__init__(file)
        self._dynamic = {}

    def _allowed(self, fullname):
        obj = _ALLOWED.get(fullname)
        if obj is None and any(p.match(fullname) for p in _PLACEHOLDER_PATTERNS):
            obj = self._dynamic.get(fullname)
            if obj is None:
                obj = self._dynamic[fullname] = placeholder(fullname)
        return obj


class _StorageRecord:
    __slots__ = ("key", "dtype", "location", "numel", "view")


class _InnerUnpickler(RestrictedUnpickler):
    """The small pickles inside a legacy torch.save storage stream: only storage-class markers and the
    ('storage', ...) persistent id."""

    def __init__(self, file, records=None):
        super().__init__(file)
        self._records = records

    def _allowed(self, fullname):
        return _INNER_ALLOWED.get(fullname)

    def persistent_load(self, pid):
        if self._records is None:
            raise UnsafePickleError("refusing a persistent id outside the storage pickle", "persistent_load")
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            raise SnapshotFormatError(f"storage stream: unexpected persistent id {pid!r:.200}")
        _, kind, key, location, numel, view = pid
        if not (isinstance(kind, Marker) and kind.name.startswith("torch.")
                and kind.name[6:] in STORAGE_DTYPES):
            raise SnapshotFormatError("storage stream: unknown storage class")
        if not (isinstance(key, str) and isinstance(location, str) and is_int(numel) and numel >= 0):
            raise SnapshotFormatError("storage stream: bad persistent id fields")
        if view is not None and not (isinstance(view, tuple) and len(view) == 3 and isinstance(view[0], str)
                                     and is_int(view[1]) and is_int(view[2]) and view[1] >= 0 and view[2] >= 0):
            raise SnapshotFormatError("storage stream: bad view metadata")
        rec = _StorageRecord()
        rec.key, rec.dtype, rec.location, rec.numel, rec.view = (
            key, STORAGE_DTYPES[kind.name[6:]], location, numel, view)
        if self._records.setdefault(key, rec).dtype != rec.dtype:
            raise SnapshotFormatError("storage stream: one key with two storage types")
        return rec


# --------------------------------------------------------------------------------------------------
# File access with progress and bounded reads.


class _CountingReader:
    def __init__(self, f, total, progress):
        self._f = f
        self.pos = 0
        self.total = total
        self._progress = progress
        self._step = max(1, min(total // 100, 16 << 20))
        self._next = self._step

    def _advance(self, n):
        self.pos += n
        if self._progress is not None and self.pos >= self._next:
            self._next = self.pos + self._step
            try:
                self._progress(self.pos, self.total)
            except Exception as e:
                raise _CallbackError() from e

    def read(self, n):
        if n < 0 or n > self.total - self.pos:
            raise _Truncated(f"needs {n} bytes at offset {self.pos} but the file has {self.total} bytes")
        data = self._f.read(n)
        if len(data) != n:
            raise _Truncated(f"file ended at offset {self.pos + len(data)}")
        self._advance(n)
        return data

    def readline(self):
        line = self._f.readline()
        if not line.endswith(b"\n"):
            raise _Truncated(f"file ended at offset {self.pos + len(line)} inside a text line")
        self._advance(len(line))
        return line


# --------------------------------------------------------------------------------------------------
# Plain Python, and OmegaConf interpolations.

_INTERP = re.compile(r"\$\{(\.*[A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]+)*)\}")
_MAX_DEPTH = 64


def _oc_state(node):
    return node.state if isinstance(node, Inert) and isinstance(node.state, dict) else {}


def _oc_parent(node):
    parent = _oc_state(node).get("_parent")
    return parent if isinstance(parent, (_DictConfig, _ListConfig)) else None


def _oc_child(container, key):
    content = _oc_state(container).get("_content")
    if isinstance(content, dict):
        if key in content:
            return True, content[key]
        for k, v in content.items():
            if str(k) == key:
                return True, v
    elif isinstance(content, list) and key.lstrip("-").isdigit() and -len(content) <= int(key) < len(content):
        return True, content[int(key)]
    return False, None


def _oc_select(path, container, depth):
    """The node a `${path}` in `container` points to: (True, node, node's container) or (False, ...)."""
    dots = len(path) - len(path.lstrip("."))
    start = container
    if dots == 0:
        for _ in range(1000):
            parent = _oc_parent(start)
            if parent is None:
                break
            start = parent
    else:
        for _ in range(dots - 1):
            start = _oc_parent(start)
            if start is None:
                return False, None, None
    cur, holder = start, None
    for key in path[dots:].split("."):
        cur, holder = _oc_deref(cur, holder, depth)
        if not isinstance(cur, (_DictConfig, _ListConfig)):
            return False, None, None
        found, child = _oc_child(cur, key)
        if not found:
            return False, None, None
        cur, holder = child, cur
    cur, holder = _oc_deref(cur, holder, depth)
    return True, cur, holder


def _oc_deref(node, holder, depth):
    """Follow whole-value interpolations (`x: ${a.b}`) to the node they name."""
    for _ in range(_MAX_DEPTH - depth):
        raw = _oc_state(node).get("_val") if isinstance(node, _ValueNode) else node
        if isinstance(node, (_DictConfig, _ListConfig)) and isinstance(_oc_state(node).get("_content"), str):
            raw, holder = _oc_state(node)["_content"], _oc_parent(node) or holder
        if not isinstance(raw, str):
            return node, holder
        m = _INTERP.fullmatch(raw)
        if not m or holder is None:
            return node, holder
        found, target, target_holder = _oc_select(m.group(1), holder, depth + 1)
        if not found:
            return node, holder
        node, holder = target, target_holder
    return node, holder


def _oc_value(node, holder, memo, depth):
    """Plain value of a container child: a nested container, a value node, or a raw value."""
    if depth >= _MAX_DEPTH:
        raise RecursionError
    if isinstance(node, _ValueNode):
        raw = _oc_state(node).get("_val")
        holder = _oc_parent(node) or holder
    elif isinstance(node, (_DictConfig, _ListConfig)):
        content = _oc_state(node).get("_content")
        if not isinstance(content, str):
            return _plain(node, memo, depth + 1)
        raw, holder = content, _oc_parent(node) or holder
    else:
        raw = node
    if not isinstance(raw, str) or "${" not in raw or holder is None:
        return _plain(raw, memo, depth + 1)
    m = _INTERP.fullmatch(raw)
    if m:
        found, target, target_holder = _oc_select(m.group(1), holder, depth + 1)
        return _oc_value(target, target_holder, memo, depth + 1) if found else raw
    parts, ok = [], True

    def substitute(match):
        nonlocal ok
        found, target, target_holder = _oc_select(match.group(1), holder, depth + 1)
        value = _oc_value(target, target_holder, memo, depth + 1) if found else None
        if not found or isinstance(value, (dict, list)) or (isinstance(value, str) and "${" in value):
            ok = False
            return match.group(0)
        parts.append(value)
        return str(value)

    text = _INTERP.sub(substitute, raw)
    return text if ok else raw


def to_plain(obj):
    """Plain Python from the objects `read_snapshot` decodes.

    EasyDict/OrderedDict/defaultdict -> dict, DictConfig -> dict, ListConfig -> list, OmegaConf value nodes ->
    their value (path interpolations such as ``${model.w_dim}``, ``${.x}`` and ``a${b.c}`` resolved against the
    config's root; anything else, e.g. custom resolvers or ``???``, kept as the original string), tensors and
    NumPy arrays -> np.ndarray, NumPy scalars -> Python scalars, dtypes -> np.dtype, typing/torch markers -> their
    name, a persistent network or other placeholder -> ``{"__class__": name, **plain state}``.
    """
    try:
        return _plain(obj, {}, 0)
    except RecursionError:
        raise SnapshotFormatError("structure nested too deeply (or an interpolation loop)") from None


def _plain(obj, memo, depth):
    if depth > 200:
        raise RecursionError
    if obj is None or isinstance(obj, (bool, int, float, complex, str, bytes)) and not isinstance(obj, np.generic):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj
    if isinstance(obj, Tensor):
        return obj.array
    if isinstance(obj, Storage):
        return obj.array
    if isinstance(obj, Marker):
        return obj.name
    if isinstance(obj, np.dtype):
        return obj
    if isinstance(obj, _DtypeStub):
        return obj.dtype
    if isinstance(obj, _NdarrayStub):
        return getattr(obj, "array", None)
    key = id(obj)
    if key in memo:
        if memo[key] is _IN_PROGRESS:
            return "<recursive reference>"
        return memo[key]
    memo[key] = _IN_PROGRESS
    if isinstance(obj, _DictConfig):
        content = _oc_state(obj).get("_content")
        if isinstance(content, dict):
            out = {_plain_key(k): _oc_value(v, obj, memo, depth + 1) for k, v in content.items()}
        else:
            out = _oc_value(obj, _oc_parent(obj), memo, depth + 1) if isinstance(content, str) else content
    elif isinstance(obj, _ListConfig):
        content = _oc_state(obj).get("_content")
        if isinstance(content, list):
            out = [_oc_value(v, obj, memo, depth + 1) for v in content]
        else:
            out = _oc_value(obj, _oc_parent(obj), memo, depth + 1) if isinstance(content, str) else content
    elif isinstance(obj, _ValueNode):
        out = _oc_value(obj, _oc_parent(obj), memo, depth + 1)
    elif isinstance(obj, dict):
        out = {_plain_key(k): _plain(v, memo, depth + 1) for k, v in obj.items()}
    elif isinstance(obj, list):
        out = [_plain(v, memo, depth + 1) for v in obj]
    elif isinstance(obj, tuple):
        out = tuple(_plain(v, memo, depth + 1) for v in obj)
    elif isinstance(obj, (set, frozenset)):
        out = type(obj)(_plain_key(v) for v in obj)
    elif isinstance(obj, bytearray):
        out = bytes(obj)
    elif isinstance(obj, _PersistentObject):
        out = {"__class__": obj.class_name, **_plain(obj.state, memo, depth + 1)}
    elif isinstance(obj, Inert):
        out = {"__class__": obj._global}
        if isinstance(obj.state, dict):
            out.update(_plain(obj.state, memo, depth + 1))
        elif obj.state is not None:
            out["__state__"] = _plain(obj.state, memo, depth + 1)
        if obj.args:
            out["__args__"] = _plain(obj.args, memo, depth + 1)
    else:
        out = obj
    memo[key] = out
    return out


_IN_PROGRESS = object()


def _plain_key(k):
    if isinstance(k, np.generic):
        return k.item()
    if isinstance(k, Marker):
        return k.name
    return k


# --------------------------------------------------------------------------------------------------
# Snapshot reading.


def _module_state(node, where):
    if isinstance(node, Inert) and isinstance(node.state, dict):
        return node.state
    raise SnapshotFormatError(f"{where}: expected a torch module, got {type(node).__name__}")


def _collect_state_dict(node, prefix, out, active):
    if id(node) in active:
        raise SnapshotFormatError(f"{prefix or 'network'}: the module tree has a cycle")
    active.add(id(node))
    state = _module_state(node, prefix.rstrip(".") or "network")
    skip = state.get("_non_persistent_buffers_set") or set()
    if not isinstance(skip, (set, frozenset, list, tuple)):
        raise SnapshotFormatError(f"{prefix}_non_persistent_buffers_set is not a set")
    for group in ("_parameters", "_buffers"):
        entries = state.get(group) or {}
        if not isinstance(entries, dict):
            raise SnapshotFormatError(f"{prefix}{group} is not a dict")
        for name, tensor in entries.items():
            if tensor is None or (group == "_buffers" and name in skip):
                continue
            out[prefix + str(name)] = _as_tensor(tensor, prefix + str(name)).array
    children = state.get("_modules") or {}
    if not isinstance(children, dict):
        raise SnapshotFormatError(f"{prefix}_modules is not a dict")
    for name, child in children.items():
        if child is not None:
            _collect_state_dict(child, f"{prefix}{name}.", out, active)
    active.discard(id(node))


def _network(obj, key):
    if isinstance(obj, _PersistentObject):
        class_name = obj.class_name
    elif isinstance(obj, Inert):
        class_name = obj._global.rsplit(".", 1)[-1]
    else:
        raise SnapshotFormatError(f"snapshot[{key!r}] is not a network (got {type(obj).__name__})")
    state = _module_state(obj, key)
    state_dict = {}
    _collect_state_dict(obj, "", state_dict, set())
    init_args = to_plain(state.get("_init_args", ()))
    init_kwargs = to_plain(state.get("_init_kwargs", {}))
    if not isinstance(init_args, (list, tuple)) or not isinstance(init_kwargs, dict):
        raise SnapshotFormatError(f"snapshot[{key!r}]: _init_args/_init_kwargs are not a tuple and a dict")
    return Network(class_name, list(init_args), init_kwargs, state_dict)


def _check_header(f, path):
    head = f.read(2)
    f.seek(0)
    if not head:
        raise SnapshotFormatError(f"{path}: empty file (0 bytes), not a snapshot (truncated?)")
    if head == pickle.PROTO:
        raise SnapshotFormatError(f"{path}: truncated after 1 byte")
    if head[:1] != pickle.PROTO or len(head) < 2 or not 2 <= head[1] <= pickle.HIGHEST_PROTOCOL:
        hint = " (a zip archive: torch.save files are not training snapshots)" if head == b"PK" else ""
        raise SnapshotFormatError(f"{path}: not a pickle of protocol 2 or newer{hint}; not a training snapshot")


def read_snapshot(path, progress=None):
    """Read a StyleGAN-V / StyleGAN2-ADA training snapshot without executing anything from it.

    Returns {"G", "D", "G_ema": Network, "training_set_kwargs": plain dict (or None), "stats": plain dict or None}.
    `progress`, if given, is called as progress(bytes_read, total_bytes) about every 1% (at most every 16 MiB)
    and once at the end with (total, total).
    """
    path = os.fspath(path)
    total = os.path.getsize(path)
    with open(path, "rb") as f:
        _check_header(f, path)
        reader = _CountingReader(f, total, progress)
        try:
            data = _SafeUnpickler(reader).load()
        except _CallbackError as e:
            raise e.__cause__
        except UnsafePickleError as e:
            raise UnsafePickleError(f"{path}: {e} (near byte {reader.pos})", e.global_name) from None
        except SnapshotFormatError as e:
            raise SnapshotFormatError(f"{path}: {e} (near byte {reader.pos})") from None
        except _Truncated as e:
            raise SnapshotFormatError(f"{path}: truncated file ({total} bytes): {e}") from None
        except (EOFError, pickle.UnpicklingError) as e:
            raise SnapshotFormatError(f"{path}: truncated or corrupt pickle near byte {reader.pos} of {total} "
                                      f"({type(e).__name__}: {e})") from None
        except RecursionError:
            raise SnapshotFormatError(f"{path}: structure nested too deeply") from None
        except (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError, struct.error) as e:
            raise SnapshotFormatError(f"{path}: unexpected structure ({type(e).__name__}: {e})") from None
    try:
        if not isinstance(data, dict):
            raise SnapshotFormatError(f"the pickle holds a {type(data).__name__}, not a snapshot dict")
        missing = [k for k in ("G", "D", "G_ema") if k not in data]
        if missing:
            raise SnapshotFormatError(f"not a training snapshot: key(s) {', '.join(missing)} missing "
                                      f"(keys: {', '.join(map(str, list(data)[:20]))})")
        out = {key: _network(data[key], key) for key in ("G", "D", "G_ema")}
        out["training_set_kwargs"] = to_plain(data.get("training_set_kwargs"))
        out["stats"] = to_plain(data.get("stats"))
    except SnapshotFormatError as e:
        raise SnapshotFormatError(f"{path}: {e}") from None
    except RecursionError:
        raise SnapshotFormatError(f"{path}: module tree nested too deeply") from None
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as e:
        raise SnapshotFormatError(f"{path}: unexpected structure ({type(e).__name__}: {e})") from None
    if progress is not None:
        progress(total, total)
    return out


if __name__ == "__main__":  # pragma: no cover - manual inspection
    snap = read_snapshot(sys.argv[1])
    for k in ("G", "D", "G_ema"):
        net = snap[k]
        print(k, net.class_name, len(net.state_dict), "tensors",
              sum(a.size for a in net.state_dict.values()), "values")
    print("training_set_kwargs", snap["training_set_kwargs"])
    print("stats", snap["stats"])
