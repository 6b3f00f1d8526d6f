"""The one restricted unpickler: every pickle this project reads from outside is decoded here, as data only.

A pickle is a program: ``pickle.load`` imports whatever modules the file names and calls whatever it names with
arguments it chooses. The files we read come from elsewhere (the reference's training snapshots and the torch
storage streams inside them, the TorchScript archive of the FID Inception weights, the I3D weights checkpoint),
so each reader is an *allow-list configuration* of this one unpickler (``AllowList``: which global names exist for
that format and which safe constructor, inert placeholder or marker each stands for, plus name patterns that
become placeholder classes) and a ``persistent_load`` for the persistent ids of its format. The security model
below holds for every configuration; a configuration only narrows what a file may name.

Public interface
----------------
``load(file, allow_list, where, persistent_load=None)`` decodes one pickle; ``check_protocol(head)`` checks a
file's first two bytes; ``SAFE_GLOBALS`` holds the standard-library and NumPy constructors a configuration may
pick from; ``Inert`` / ``InertDict`` / ``placeholder`` / ``Marker`` are the inert stand-ins; ``numpy_value``
turns a NumPy stand-in into its array or dtype. Errors: ``UnsafePickleError`` (a name, opcode or value outside
the allow-list; nothing from the file has run) and ``PickleFormatError`` (empty, truncated, not a pickle, an
unexpected structure). Both are ``ValueError`` and ``pickle.UnpicklingError``.

Why nothing from the file can run
---------------------------------
``RestrictedUnpickler`` subclasses the standard library's *pure-Python* unpickler (``pickle._Unpickler``; the C
unpickler cannot be audited the same way, e.g. its EXT opcodes consult the process-wide ``copyreg`` extension
cache before ``find_class``). Going through the pickle virtual machine opcode by opcode, the only ways it can
call something are:

* ``GLOBAL`` / ``STACK_GLOBAL``: name lookup -> ``find_class``. Ours is a dictionary lookup in the
  configuration's allow-list (plus its narrow name patterns, which map to fresh inert placeholder classes). It
  never imports anything and never resolves dotted attribute paths. Any other name raises ``UnsafePickleError``
  naming it.
* ``EXT1/2/4`` (copyreg extension codes): refused outright (``UnsafePickleError``).
* ``PERSID`` / ``BINPERSID``: ``persistent_load``. Without one, every persistent id is refused; a format's own
  (the torch storage ids) checks that the id is a tuple of plain values of the expected shape and returns a
  record or a NumPy view of bytes the reader itself read; nothing from the file is called.
* ``REDUCE`` (``f(*args)``): ``f`` must be one of the objects that ``find_class`` returned in this load
  (checked by identity), and ``args`` a tuple. So only allow-listed callables are ever called.
* ``NEWOBJ`` / ``NEWOBJ_EX`` (``cls.__new__(cls, ...)``): ``cls`` must be a class returned by ``find_class`` and
  one of our placeholder classes or the harmless builtin containers (``_NEWOBJ_TYPES``).
* ``INST`` / ``OBJ`` (protocol 0/1 instantiation): refused (``PickleFormatError``).
* ``BYTEARRAY8``: replaced so the bytes are read (bounded by the data) before anything is allocated.
* ``BUILD`` (``__setstate__`` or ``__dict__`` update): only on our own placeholder objects, whose
  ``__setstate__`` stores the state in a slot (or, for the NumPy stand-ins, validates it and wraps raw bytes with
  ``np.frombuffer``). Anything else is refused.
* ``SETITEM(S)`` / ``APPEND(S)`` / ``ADDITEMS``: only on real ``dict`` / ``OrderedDict`` / ``defaultdict`` /
  ``list`` / ``set`` instances (or our ``InertDict``, which does not override ``__setitem__``), so no
  user-defined ``__setitem__``/``append``/``add`` is reachable. Hashing a key only calls the built-in hash of
  str/int/tuple/NumPy scalars, or the identity hash of our placeholders (they define no ``__hash__``/``__eq__``).

Every object on the pickle stack is therefore a built-in value (str, bytes, int, float, tuple, list, dict, set,
frozenset, bool, None, bytearray), an allow-listed callable or marker, or something an allow-listed callable
returned. What a configuration may allow-list, and why each kind is inert:

* Placeholder classes (subclasses of ``Inert``, or ``InertDict`` for dict-like classes): constructing one stores
  the arguments; ``__setstate__`` stores the state. They have no other behaviour: no ``__getattr__``,
  ``__setitem__``, ``__del__``, ``__hash__``, ``__eq__`` or ``__call__``; ``__slots__`` prevents attribute
  injection. Their name only decides how a reader interprets them, which is why name patterns are safe: an
  unexpected class becomes an inert record, never code.
* Markers (``Marker``): named values that are not callable (``typing.Any``, ``torch.float32``, storage classes).
* Format-specific safe constructors, documented by their readers (e.g. the tensor rebuilds of
  ``svgan_tf.interop.torch_tensors``): plain functions that check their arguments' types and bounds and build
  records or NumPy views.
* ``SAFE_GLOBALS``, the standard library and NumPy:
  * Built-in types ``dict, list, tuple, set, frozenset, int, float, complex, bool, str`` and
    ``collections.OrderedDict``: C-implemented value constructors. Called with pickle values they can only call
    built-in methods (iteration/``keys`` of dicts and lists; our placeholders have none of those dunders).
    ``builtins.bytes`` / ``bytearray`` map to wrappers without the ``bytes(n)`` form, whose size the file would
    choose.
  * ``collections.defaultdict`` -> a wrapper that builds a ``defaultdict`` only when the factory is None or one of
    the built-in types above (the factory would only run on a missing-key lookup, which no reader does anyway).
  * ``_codecs.encode`` (how protocol 2 spells bytes) -> ``str.encode('latin-1')`` only; any other codec is refused
    (a codec name lookup can import modules).
  * NumPy: ``numpy[._]core.multiarray._reconstruct`` and ``numpy.ndarray`` (a marker, not the class) -> an
    ``_NdarrayStub`` placeholder whose ``__setstate__`` validates (shape, dtype, raw bytes) and wraps them with
    ``np.frombuffer``; ``numpy.dtype`` -> a ``_DtypeStub`` placeholder accepting only plain numeric/bool/str
    descriptors (matched by a regular expression before ``np.dtype`` sees them; object dtypes raise
    ``UnsafePickleError``: object arrays would let the data carry arbitrary objects; structured and void dtypes
    are refused), with the state's byte order applied by us, so NumPy's own ``dtype.__setstate__`` and
    ``ndarray.__setstate__`` never see file data; ``numpy[._]core.multiarray.scalar`` and
    ``numpy[._]core.numeric._frombuffer`` -> ours, on top of the validated dtype.

After the pickle ends, readers only inspect the decoded objects (``isinstance``, plain ``dict``/``list`` access,
``str`` of keys); none of our classes has a metaclass or overridden ``__instancecheck__``, so this reads data and
calls nothing the file provided.

Other resources: readers hand ``load`` either bytes already in memory (``io.BytesIO``) or a reader that refuses a
read past the end of the file before reading, so a declared length cannot make us allocate more than the data
holds; numbers are parsed by Python's bounded ``int``.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import pickle
import re
import struct

import numpy as np

__all__ = ["AllowList", "Inert", "InertDict", "Marker", "PickleFormatError", "RestrictedUnpickler", "SAFE_GLOBALS",
           "UnsafePickleError", "check_protocol", "int_tuple", "is_int", "load", "numpy_value", "placeholder"]


class UnsafePickleError(ValueError, pickle.UnpicklingError):
    """The data names something outside the allow-list (nothing from it has been executed).

    Attributes:
        global_name: the refused name (``"posix.system"``), or None when an opcode or value was refused.
    """

    def __init__(self, message, global_name=None):
        super().__init__(message)
        self.global_name = global_name


class PickleFormatError(ValueError, pickle.UnpicklingError):
    """The data is not a readable pickle of its format: empty, truncated, not a pickle, or an unexpected structure."""


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


class InertDict(dict):
    """A placeholder for a dict subclass (e.g. ``EasyDict``): a plain dict plus the pickled state."""

    __slots__ = ("state",)
    _global = "?"

    def __setstate__(self, state):
        self.state = state


class Marker:
    """A named value that is not callable (``typing.Any``, ``torch.float32``, ``numpy.ndarray``, ...)."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"<marker {self.name}>"


def placeholder(fullname, base=Inert):
    """A new placeholder class standing for the global ``fullname``.

    Args:
        fullname: the dotted name the pickle uses (kept as ``_global``).
        base: ``Inert`` or one of its subclasses, or ``InertDict``.

    Returns:
        The class (named after the last component of ``fullname``).
    """
    return type(fullname.rsplit(".", 1)[-1], (base,), {"__slots__": (), "_global": fullname,
                                                        "__module__": __name__})


def is_int(x):
    """Whether ``x`` is an int and not a bool."""
    return isinstance(x, int) and not isinstance(x, bool)


def int_tuple(x, what):
    """``x`` as a tuple of non-negative ints; PickleFormatError naming ``what`` otherwise."""
    if not isinstance(x, (tuple, list)) or not all(is_int(v) and v >= 0 for v in x):
        raise PickleFormatError(f"{what} must be a tuple of non-negative ints, got {x!r:.200}")
    return tuple(x)


# --------------------------------------------------------------------------------------------------
# Safe constructors: the standard library.

_BUILTIN_TYPES = {t.__name__: t for t in (dict, list, tuple, set, frozenset, int, float, complex, bool, str,
                                          bytes, bytearray)}
_NEWOBJ_TYPES = (dict, list, tuple, set, frozenset, int, float, complex, bool, str, collections.OrderedDict)
_LATIN1 = ("latin1", "latin-1", "iso-8859-1")


def _bytes_like(kind):
    """`builtins.bytes` / `builtins.bytearray` without the `bytes(n)` form (an allocation the file would choose)."""
    def build(source=b"", encoding=None, errors="strict"):
        if isinstance(source, str) and encoding in _LATIN1:
            return kind(source.encode("latin-1"))
        if isinstance(source, (bytes, bytearray, list)) and encoding is None:
            return kind(source)
        raise PickleFormatError(f"builtins.{kind.__name__}: unsupported arguments")
    return build


def _defaultdict(default_factory=None, *args):
    if default_factory is not None and default_factory not in _BUILTIN_TYPES.values():
        raise UnsafePickleError("collections.defaultdict with a factory that is not a built-in type",
                                "collections.defaultdict")
    if args:
        raise PickleFormatError("collections.defaultdict: unexpected arguments")
    return collections.defaultdict(default_factory)


def _codecs_encode(text, encoding="utf-8", errors="strict"):
    if not isinstance(text, str) or encoding not in _LATIN1:
        raise UnsafePickleError(f"_codecs.encode with codec {encoding!r:.40}: only latin-1 (protocol 2 bytes) "
                                "is allowed", "_codecs.encode")
    return text.encode("latin-1")


# --------------------------------------------------------------------------------------------------
# Safe constructors: NumPy.

_DTYPE_DESCR = re.compile(r"^(b1|[iu][1248]|f[248]|c(8|16)|[US][0-9]{1,9})$")


class _DtypeStub(Inert):
    __slots__ = ("descr", "dtype")
    _global = "numpy.dtype"

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) not in (8, 9):
            raise PickleFormatError("numpy dtype: unexpected state")
        byteorder, subarray, names, fields, elsize = state[1:6]
        if (subarray, names, fields) != (None, None, None) or (len(state) == 9 and state[8] is not None):
            raise PickleFormatError("numpy dtype: structured/sub-array/metadata dtypes are not supported")
        if byteorder not in ("<", ">", "|", "="):
            raise PickleFormatError("numpy dtype: bad byte order")
        dtype = np.dtype(self.descr)  # a descriptor _np_dtype matched against _DTYPE_DESCR
        if byteorder in "<>" and dtype.itemsize > 1:
            dtype = dtype.newbyteorder(byteorder)
        if is_int(elsize) and elsize not in (-1, dtype.itemsize):
            raise PickleFormatError("numpy dtype: element size does not match")
        self.dtype = dtype


def _np_dtype(descr, align=False, copy=False):
    if not isinstance(descr, str):
        raise PickleFormatError("numpy dtype: descriptor is not a string")
    if descr.startswith("O"):
        raise UnsafePickleError("numpy object dtype refused: object arrays let the data carry arbitrary objects",
                                "numpy.dtype('O')")
    if not _DTYPE_DESCR.match(descr):
        raise PickleFormatError(f"numpy dtype {descr!r:.40} is not supported (plain numeric/bool/str only)")
    stub = _DtypeStub()
    stub.descr = descr
    stub.dtype = None
    return stub


def _resolved_dtype(stub):
    if not isinstance(stub, _DtypeStub) or getattr(stub, "dtype", None) is None:
        raise PickleFormatError("numpy: expected a dtype")
    return stub.dtype


class _NdarrayStub(Inert):
    __slots__ = ("array",)
    _global = "numpy.ndarray"

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise PickleFormatError("numpy array: unexpected state")
        shape, dtype, fortran, raw = state[-4:]
        shape = int_tuple(shape, "numpy array shape")
        dtype = _resolved_dtype(dtype)
        if not isinstance(raw, (bytes, bytearray)):
            raise PickleFormatError("numpy array: data is not bytes")
        count = math.prod(shape)
        if len(raw) != count * dtype.itemsize:
            raise PickleFormatError("numpy array: data size does not match the shape")
        self.array = np.frombuffer(raw, dtype, count).reshape(shape, order="F" if fortran else "C")


def _np_reconstruct(subtype, shape, typecode):
    if not (isinstance(subtype, Marker) and subtype.name == "numpy.ndarray"):
        raise PickleFormatError("numpy _reconstruct: only numpy.ndarray is supported")
    return _NdarrayStub()


def _np_scalar(dtype, data=None):
    dtype = _resolved_dtype(dtype)
    if not isinstance(data, (bytes, bytearray)) or len(data) != dtype.itemsize:
        raise PickleFormatError("numpy scalar: data does not match the dtype")
    return np.frombuffer(data, dtype, 1)[0]


def _np_frombuffer(buf, dtype, shape, order):
    dtype = _resolved_dtype(dtype)
    shape = int_tuple(shape, "numpy array shape")
    if not isinstance(buf, (bytes, bytearray)) or len(buf) != math.prod(shape) * dtype.itemsize:
        raise PickleFormatError("numpy _frombuffer: data does not match the shape")
    return np.frombuffer(buf, dtype).reshape(shape, order="F" if order == "F" else "C")


def numpy_value(obj):
    """The value a NumPy stand-in decoded to; any other object unchanged.

    Args:
        obj: a decoded object.

    Returns:
        The read-only ``np.ndarray`` of an array stand-in (None if the pickle never gave it its state), the
        ``np.dtype`` of a dtype stand-in, or ``obj`` itself.
    """
    if isinstance(obj, _NdarrayStub):
        return getattr(obj, "array", None)
    if isinstance(obj, _DtypeStub):
        return obj.dtype
    return obj


SAFE_GLOBALS = {
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


# --------------------------------------------------------------------------------------------------
# The allow-list and the unpickler.


@dataclasses.dataclass(frozen=True)
class AllowList:
    """The globals one format's pickles may name.

    Attributes:
        names: {"module.name": what it stands for}: a safe constructor, a placeholder class or a ``Marker``.
        patterns: regular expressions of further names, each of which stands for a placeholder class of its own
            (made on first use in each load).
    """

    names: dict
    patterns: tuple = ()


_MODULE_ALIASES = {"__builtin__": "builtins", "copy_reg": "copyreg"}


def _refuse_opcode(what, exc=PickleFormatError):
    def load(self):
        raise exc(f"pickle opcode {what} is not allowed")
    return load


class RestrictedUnpickler(pickle._Unpickler):
    """Pure-Python unpickler with find_class replaced by an allow-list and every call site checked.

    Args:
        file: the data (``read``, ``readline``); every read must be bounded by the data's size.
        allow_list: the format's ``AllowList``.
        persistent_load: ``f(pid) -> object`` for the format's persistent ids; None refuses them all.
    """

    def __init__(self, file, allow_list, persistent_load=None):
        super().__init__(file)
        self._allow_list = allow_list
        self._persistent_load = persistent_load
        self._callables = {}  # id -> object, for everything find_class returned
        self._placeholders = {}

    def find_class(self, module, name):
        if not isinstance(module, str) or not isinstance(name, str):
            raise PickleFormatError("global name is not a string")
        fullname = f"{_MODULE_ALIASES.get(module, module)}.{name}"
        obj = self._allow_list.names.get(fullname)
        if obj is None and any(p.match(fullname) for p in self._allow_list.patterns):
            obj = self._placeholders.get(fullname)
            if obj is None:
                obj = self._placeholders[fullname] = placeholder(fullname)
        if obj is None:
            raise UnsafePickleError(f"refusing global {fullname!r:.200}: not on the allow-list of inert names; "
                                    "nothing from the file was executed", fullname)
        self._callables[id(obj)] = obj
        return obj

    def persistent_load(self, pid):
        if self._persistent_load is None:
            raise UnsafePickleError("refusing a persistent id: this format does not use them", "persistent_load")
        return self._persistent_load(pid)

    def _load_reduce(self):
        args = self.stack.pop()
        func = self.stack[-1]
        if self._callables.get(id(func)) is not func:
            raise UnsafePickleError(f"REDUCE of an object that is not an allow-listed callable "
                                    f"({type(func).__name__})")
        if type(args) is not tuple:
            raise PickleFormatError("REDUCE arguments are not a tuple")
        self.stack[-1] = func(*args)

    def _check_class(self, cls):
        if not isinstance(cls, type) or self._callables.get(id(cls)) is not cls or not (
                issubclass(cls, (Inert, InertDict)) or cls in _NEWOBJ_TYPES):
            raise UnsafePickleError(f"NEWOBJ of an object that is not an allow-listed class ({cls!r:.100})")

    def _load_newobj(self):
        args = self.stack.pop()
        cls = self.stack.pop()
        self._check_class(cls)
        if type(args) is not tuple:
            raise PickleFormatError("NEWOBJ arguments are not a tuple")
        self.append(cls.__new__(cls, *args))

    def _load_newobj_ex(self):
        kwargs = self.stack.pop()
        args = self.stack.pop()
        cls = self.stack.pop()
        self._check_class(cls)
        if type(args) is not tuple or type(kwargs) is not dict:
            raise PickleFormatError("NEWOBJ_EX arguments are not a tuple and a dict")
        self.append(cls.__new__(cls, *args, **kwargs))

    def _load_build(self):
        state = self.stack.pop()
        inst = self.stack[-1]
        if not isinstance(inst, (Inert, InertDict)):
            raise PickleFormatError(f"BUILD on a {type(inst).__name__} is not allowed")
        inst.__setstate__(state)

    def _load_append(self):
        value = self.stack.pop()
        if type(self.stack[-1]) is not list:
            raise PickleFormatError("APPEND to something that is not a list")
        self.stack[-1].append(value)

    def _load_appends(self):
        items = self.pop_mark()
        if type(self.stack[-1]) is not list:
            raise PickleFormatError("APPENDS to something that is not a list")
        self.stack[-1].extend(items)

    def _check_dict(self):
        target = self.stack[-1]
        if not (type(target) in (dict, collections.OrderedDict, collections.defaultdict)
                or isinstance(target, InertDict)):
            raise PickleFormatError(f"SETITEM on a {type(target).__name__} is not allowed")
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
            raise PickleFormatError("ADDITEMS to something that is not a set")
        self.stack[-1].update(items)

    def _load_bytearray8(self):
        (size,) = struct.unpack("<Q", self.read(8))
        data = self.read(size)  # bounded by the data, unlike pickle's bytearray(size) before the read
        if len(data) != size:
            raise EOFError(f"BYTEARRAY8 declares {size} bytes but the data ends after {len(data)}")
        self.append(bytearray(data))

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
    for _name in ("EXT1", "EXT2", "EXT4"):
        dispatch[getattr(pickle, _name)[0]] = _refuse_opcode(f"{_name} (copyreg extension code)", UnsafePickleError)
    del _name


def check_protocol(head):
    """Raises PickleFormatError unless ``head`` (a file's first two bytes) opens a pickle of protocol 2 or newer.

    Args:
        head: the first two bytes (fewer if the file is shorter).
    """
    if not head:
        raise PickleFormatError("empty (0 bytes), not a pickle")
    if head == pickle.PROTO:
        raise PickleFormatError("truncated after 1 byte")
    if head[:1] != pickle.PROTO or len(head) < 2 or not 2 <= head[1] <= pickle.HIGHEST_PROTOCOL:
        raise PickleFormatError("not a pickle of protocol 2 or newer")


def load(file, allow_list, where, persistent_load=None):
    """Decodes one pickle from ``file`` under ``allow_list``, executing nothing from it.

    Args:
        file: the data, positioned at the pickle (``read``, ``readline``, ``tell``); reads must be bounded by the
            data's size (``io.BytesIO``, or a reader that refuses a read past the end of the file).
        allow_list: the format's ``AllowList``.
        where: what the data is, for messages (a path, or ``"<path>: data.pkl"``).
        persistent_load: ``f(pid) -> object`` for the format's persistent ids; None refuses them all.

    Returns:
        The decoded object.

    Raises:
        UnsafePickleError: a name, opcode or value outside the allow-list (nothing has run).
        PickleFormatError: a truncated or corrupt pickle, or an unexpected structure.
        Both name ``where`` and the byte offset reached.
    """
    try:
        return RestrictedUnpickler(file, allow_list, persistent_load).load()
    except UnsafePickleError as e:
        raise UnsafePickleError(f"{where}: {e} (near byte {file.tell()})", e.global_name) from None
    except PickleFormatError as e:
        raise PickleFormatError(f"{where}: {e} (near byte {file.tell()})") from None
    except (EOFError, pickle.UnpicklingError) as e:
        raise PickleFormatError(f"{where}: truncated or corrupt pickle near byte {file.tell()} "
                                f"({type(e).__name__}: {e})") from None
    except RecursionError:
        raise PickleFormatError(f"{where}: structure nested too deeply") from None
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError, struct.error) as e:
        raise PickleFormatError(f"{where}: unexpected structure ({type(e).__name__}: {e})") from None
