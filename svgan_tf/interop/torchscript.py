"""Read the tensors of a TorchScript (``torch.jit.save``) or zip ``torch.save`` archive as data, without torch.

Such an archive is a zip with ``<root>/data.pkl`` (the pickled module objects), raw tensor storages
``<root>/data/<key>`` and, for TorchScript, source text under ``<root>/code/``. ``read_torchscript_tensors`` decodes
``data.pkl`` with the restricted unpickler of ``svgan_tf.interop.unpickle`` (its docstring states the security
model) under ``TORCHSCRIPT_ALLOWED``, reads the storages with NumPy, and executes nothing from the file; the
``code/`` folder and ``constants.pkl`` are never read.

What ``data.pkl`` may name (``TORCHSCRIPT_ALLOWED``): ``torch._utils._rebuild_tensor_v2`` (the bounds-checked
NumPy view of ``svgan_tf.interop.torch_tensors``), ``collections.OrderedDict`` (the empty backward-hooks argument
of tensors), ``torch.jit._pickle.build_intlist`` (a List[int] attribute, checked to be ints), the storage classes
``torch.<Type>Storage`` (markers), and TorchScript module classes ``__torch__.<module path>.<Class>``, which become
inert placeholders holding their state. Its persistent ids are ``('storage', <storage class marker>, key,
location, numel)``: the storage is the stored (uncompressed) zip member ``<root>/data/<key>``, whose size must be
``numel`` elements.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
import zlib

from svgan_tf.interop import bounded
from svgan_tf.interop.torch_tensors import (
    Storage,
    Tensor,
    rebuild_tensor_v2,
    storage_array,
    storage_class_markers,
    storage_dtype,
    storage_itemsize,
)
from svgan_tf.interop.unpickle import SAFE_GLOBALS, AllowList, Inert, PickleFormatError, check_protocol, is_int, load

__all__ = ["TORCHSCRIPT_ALLOWED", "read_torchscript_code", "read_torchscript_tensors"]

_STORAGE_KEY = re.compile(r"^[A-Za-z0-9_]{1,64}$")
_MAX_PICKLE_BYTES = 64 << 20
_MAX_CODE_BYTES = 4 << 20
_SKIPPED_ATTRIBUTES = {"training", "_is_full_backward_hook"}


def _build_intlist(values):
    """``torch.jit._pickle.build_intlist``: a List[int] attribute (e.g. a padding), checked to be ints."""
    if not isinstance(values, list) or not all(is_int(v) for v in values):
        raise PickleFormatError(f"build_intlist: expected a list of ints, got {values!r:.100}")
    return list(values)


TORCHSCRIPT_ALLOWED = AllowList(
    names={
        "torch._utils._rebuild_tensor_v2": rebuild_tensor_v2,
        "collections.OrderedDict": SAFE_GLOBALS["collections.OrderedDict"],
        "torch.jit._pickle.build_intlist": _build_intlist,
        **storage_class_markers("torch"),
    },
    patterns=(re.compile(r"^__torch__(\.[A-Za-z_][A-Za-z0-9_]*)*\.[A-Za-z_][A-Za-z0-9_]*$"),))


def _archive_root(names, path):
    """The archive's top-level folder: the one holding ``data.pkl`` (``archive`` for torch.save, any name for
    torch.jit.save)."""
    roots = [n[:-len("/data.pkl")] for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
    if not roots:
        raise PickleFormatError(f"{path}: no <root>/data.pkl in the archive: not a TorchScript/torch.save zip")
    if len(roots) > 1:
        raise PickleFormatError(f"{path}: several data.pkl roots in the archive ({', '.join(roots[:4])})")
    return roots[0]


def read_torchscript_tensors(path):
    """Tensors and plain attributes of a TorchScript (``torch.jit.save``) or zip ``torch.save`` archive.

    Nothing from the archive is executed: see the module docstring.

    Args:
        path: the archive.

    Returns:
        ``(tensors, attributes)``: ``{"net.layers.conv.weight": np.ndarray, ...}`` (read-only float arrays, torch
        layout) and ``{"net.layers.conv.stride": 2, "net.layers.mixed_4.tower.conv_1.padding": [0, 3], ...}``
        (ints, floats, bools, strings and lists of them), keyed by the attribute path from the root object.

    Raises:
        UnsafePickleError: ``data.pkl`` names a global outside the allow-list (nothing has run).
        PickleFormatError: not a zip, no ``data.pkl``, a missing/compressed/truncated storage, or an unexpected
            structure. Both errors name the file.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with zipfile.ZipFile(path) as archive:
            obj = _load_archive(archive, path)
    except zipfile.BadZipFile as e:  # not a zip, or a damaged member (CRC / header)
        raise PickleFormatError(f"{path}: not a readable zip archive ({e})") from None
    except (zlib.error, EOFError) as e:
        raise PickleFormatError(f"{path}: damaged archive member ({type(e).__name__}: {e})") from None
    tensors, attributes = {}, {}
    try:
        _walk_module(obj, "", tensors, attributes, set(), 0)
    except PickleFormatError as e:
        raise PickleFormatError(f"{path}: {e}") from None
    return tensors, attributes


def _read_member(archive, name, path, limit):
    """A member's bytes, its declared size checked before it is inflated (`svgan_tf.interop.bounded`)."""
    try:
        return bounded.read_member(archive, name, path, limit)
    except ValueError as error:
        raise PickleFormatError(str(error)) from None


def read_torchscript_code(path):
    """The TorchScript source text of an archive, as text to read (e.g. which resize a detector's forward calls).

    The text is data: it is decoded and returned, never compiled or executed. Members are bounded in size (4 MiB
    each and in all) so a hostile archive cannot make this allocate beyond that.

    Args:
        path: the archive.

    Returns:
        ``{path under <root>/code/: text}`` of its ``.py`` members (empty for a ``torch.save`` archive).

    Raises:
        PickleFormatError: not a zip archive, or a code member that is not UTF-8 text or is too large.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")
    code, total = {}, 0
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            prefix = _archive_root(names, path) + "/code/"
            for info in archive.infolist():
                if not (info.filename.startswith(prefix) and info.filename.endswith(".py")):
                    continue
                raw = _read_member(archive, info.filename, path, _MAX_CODE_BYTES - total)
                total += len(raw)
                try:
                    code[info.filename[len(prefix):]] = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise PickleFormatError(f"{path}: {info.filename} is not UTF-8 text") from None
    except zipfile.BadZipFile as e:
        raise PickleFormatError(f"{path}: not a readable zip archive ({e})") from None
    except (zlib.error, EOFError) as e:
        raise PickleFormatError(f"{path}: damaged archive member ({type(e).__name__}: {e})") from None
    return code


def _load_archive(archive, path):
    """The root object of ``data.pkl``, its storages read from the zip members (see ``read_torchscript_tensors``)."""
    names = archive.namelist()
    root = _archive_root(names, path)
    order = "<"
    if f"{root}/byteorder" in names:
        marker = archive.read(f"{root}/byteorder")
        if marker not in (b"little", b"big"):
            raise PickleFormatError(f"{path}: unknown byteorder record {marker!r:.20}")
        order = "<" if marker == b"little" else ">"
    storages = {}

    def load_storage(pid):
        if not (type(pid) is tuple and len(pid) == 5 and pid[0] == "storage"):
            raise PickleFormatError(f"unexpected persistent id {pid!r:.200} (expected a 5-field storage id)")
        _, kind, key, location, numel = pid
        dtype = storage_dtype(kind)
        if not (isinstance(key, str) and _STORAGE_KEY.match(key) and isinstance(location, str)
                and is_int(numel) and numel >= 0):
            raise PickleFormatError(f"bad storage id fields {pid!r:.200}")
        if key in storages:
            storage, known = storages[key]
            if known != dtype:
                raise PickleFormatError(f"storage {key} used with two dtypes")
            return storage
        name = f"{root}/data/{key}"
        try:
            info = archive.getinfo(name)
        except KeyError:
            raise PickleFormatError(f"storage member {name} is missing") from None
        if info.compress_type != zipfile.ZIP_STORED:
            raise PickleFormatError(f"storage member {name} is compressed (torch stores them uncompressed)")
        itemsize = storage_itemsize(dtype)
        if info.file_size != numel * itemsize:
            raise PickleFormatError(f"storage member {name} has {info.file_size} bytes, the id says "
                                    f"{numel} x {itemsize}")
        raw = archive.read(name)  # stored: bounded by the archive's size; the CRC is checked
        storage = Storage(storage_array(raw, dtype, order, numel), location)
        storages[key] = (storage, dtype)
        return storage

    blob = _read_member(archive, f"{root}/data.pkl", path, _MAX_PICKLE_BYTES)
    try:
        check_protocol(blob[:2])
    except PickleFormatError as e:
        raise PickleFormatError(f"{path}: data.pkl: {e}") from None
    return load(io.BytesIO(blob), TORCHSCRIPT_ALLOWED, f"{path}: data.pkl", load_storage)


def _walk_module(node, prefix, tensors, attributes, active, depth):
    if not isinstance(node, Inert) or not isinstance(node.state, dict):
        raise PickleFormatError(f"{prefix.rstrip('.') or 'root'}: expected a TorchScript module object")
    if id(node) in active or depth > 64:
        raise PickleFormatError(f"{prefix.rstrip('.')}: module tree has a cycle or is nested too deeply")
    active.add(id(node))
    for key, value in node.state.items():
        if not isinstance(key, str):
            raise PickleFormatError(f"{prefix}: attribute name {key!r:.50} is not a string")
        name = prefix + key
        if key in _SKIPPED_ATTRIBUTES:
            continue
        if isinstance(value, Tensor):
            tensors[name] = value.array
        elif isinstance(value, Inert):
            _walk_module(value, name + ".", tensors, attributes, active, depth + 1)
        elif value is None or isinstance(value, (bool, int, float, str)) or (
                isinstance(value, list) and all(isinstance(v, (bool, int, float, str)) for v in value)):
            attributes[name] = value
        else:
            raise PickleFormatError(f"{name}: unexpected attribute of type {type(value).__name__}")
    active.discard(id(node))
