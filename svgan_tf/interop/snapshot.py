"""Read the authors' StyleGAN-V training snapshots (``network-snapshot-XXXXXX.pkl``) as data only.

A snapshot is a pickle, and a StyleGAN-V snapshot even carries the full source text of its network modules, which
the official loader ``exec``-utes. This module never does any of that: the file is decoded by the restricted
unpickler of ``svgan_tf.interop.unpickle`` (its docstring states the security model) under ``SNAPSHOT_ALLOWED``,
and the torch tensors in it are rebuilt by ``svgan_tf.interop.torch_tensors``. No torch, no omegaconf and no
official code are needed (or imported).

Public interface
----------------
``read_snapshot(path, progress=None)`` returns ``{"G", "D", "G_ema": Network, "training_set_kwargs": dict,
"stats": dict or None}``; ``Network`` holds ``class_name``, ``init_args`` (list), ``init_kwargs`` (dict) and
``state_dict`` (``{"mapping.fc0.weight": np.ndarray, ...}``). ``to_plain(obj)`` turns the inert placeholder
objects (EasyDict, DictConfig, ListConfig, AnyNode, tensors, ...) into plain Python; it also resolves OmegaConf
``${a.b}`` / ``${.a}`` path interpolations (custom resolvers such as ``${oc.env:X}`` are left as text).
Errors (of ``svgan_tf.interop.unpickle``): ``UnsafePickleError`` (a name outside the allow-list; nothing from the
file has run) and ``PickleFormatError`` (empty, truncated, not a pickle, unexpected structure). Both name the file.

Tensor arrays are zero-copy, *read-only* NumPy views of the bytes read from the file whenever the tensor covers
its whole storage (always the case for module parameters and buffers). Peak memory is therefore about the file
size (every byte string of the pickle is alive until the pickle ends), and afterwards only what G, D and G_ema
use stays alive. Use ``np.array(a)`` for a writable copy.

What a snapshot may name (``SNAPSHOT_ALLOWED``)
-----------------------------------------------
* ``torch_utils.persistence._reconstruct_persistent_obj`` and ``src.torch_utils.persistence.
  _reconstruct_persistent_obj`` -> ``_reconstruct_persistent_obj`` (ours): checks ``meta`` is a dict with
  ``type == 'class'`` and keeps ``class_name`` and ``state``. ``module_src`` is dropped: never compiled,
  executed, imported or even inspected.
* The tensor and storage rebuilds, torch markers, ``torch.Size`` and ``torch.device`` of
  ``svgan_tf.interop.torch_tensors.TENSOR_GLOBALS``.
* Placeholder classes for module and object types: ``torch.nn.modules.*`` classes, ``torch.optim.*`` optimizers,
  ``training.*`` / ``src.training.*`` non-persistent official classes (e.g.
  ``training.layers.TemporalDifferenceEncoder``) by name pattern (``torch.nn.modules.<mod>.<Class>``,
  ``torch.optim.<mod>.<Class>``, ``[src.]training.<mod>.<Class>``); OmegaConf ``DictConfig``/``ListConfig``/value
  nodes/metadata, and ``EasyDict`` (a plain ``dict`` subclass).
* Markers ``typing.Any/Dict/List/Tuple``.
* Every standard-library and NumPy constructor of ``svgan_tf.interop.unpickle.SAFE_GLOBALS``. The fixture needs
  ``dict``, ``list``, ``int`` (OmegaConf metadata type markers) and ``OrderedDict`` (module dicts); protocol 2/3
  pickles spell sets as ``builtins.set([...])`` and bytes as ``_codecs.encode``; the ``vis`` entry holds NumPy
  arrays.

After the pickle ends, ``read_snapshot`` and ``to_plain`` only inspect the decoded objects.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys

import numpy as np

from svgan_tf.interop.torch_tensors import TENSOR_GLOBALS, Storage, Tensor, as_tensor
from svgan_tf.interop.unpickle import (
    SAFE_GLOBALS,
    AllowList,
    Inert,
    InertDict,
    Marker,
    PickleFormatError,
    check_protocol,
    load,
    numpy_value,
    placeholder,
)

__all__ = ["SNAPSHOT_ALLOWED", "Network", "read_snapshot", "to_plain"]


class _CallbackError(Exception):
    """Carries an exception raised by the caller's progress callback through the unpickler unchanged."""


@dataclasses.dataclass
class Network:
    """One network of a snapshot: its constructor arguments and its tensors."""

    class_name: str
    init_args: list
    init_kwargs: dict
    state_dict: dict


# --------------------------------------------------------------------------------------------------
# The allow-list.


class _PersistentObject(Inert):
    """What `persistence._reconstruct_persistent_obj(meta)` would rebuild: class name and state only."""

    __slots__ = ("class_name", "version")
    _global = "torch_utils.persistence._reconstruct_persistent_obj"

    def __repr__(self):
        return f"<persistent {self.class_name}>"


def _reconstruct_persistent_obj(meta):
    if not isinstance(meta, dict) or meta.get("type") != "class":
        raise PickleFormatError("persistent object: meta is not a dict with type 'class'")
    class_name, state = meta.get("class_name"), meta.get("state")
    if not isinstance(class_name, str) or not isinstance(state, dict):
        raise PickleFormatError("persistent object: class_name or state missing")
    obj = _PersistentObject()
    obj.class_name = class_name
    obj.version = meta.get("version")
    obj.state = state
    return obj  # meta["module_src"] is deliberately dropped


_EasyDict = placeholder("dnnlib.util.EasyDict", InertDict)  # the attribute access of the real class is not kept
_DictConfig = placeholder("omegaconf.dictconfig.DictConfig")
_ListConfig = placeholder("omegaconf.listconfig.ListConfig")
_ValueNode = placeholder("omegaconf.nodes.ValueNode")

SNAPSHOT_ALLOWED = AllowList(
    names={
        "torch_utils.persistence._reconstruct_persistent_obj": _reconstruct_persistent_obj,
        "src.torch_utils.persistence._reconstruct_persistent_obj": _reconstruct_persistent_obj,
        **TENSOR_GLOBALS,
        **{f"typing.{n}": Marker(f"typing.{n}") for n in ("Any", "Dict", "List", "Tuple")},
        **{name: _EasyDict for name in ("dnnlib.util.EasyDict", "src.dnnlib.util.EasyDict", "dnnlib.EasyDict",
                                        "src.dnnlib.EasyDict")},
        "omegaconf.dictconfig.DictConfig": _DictConfig,
        "omegaconf.listconfig.ListConfig": _ListConfig,
        **{f"omegaconf.nodes.{n}": placeholder(f"omegaconf.nodes.{n}", _ValueNode)
           for n in ("AnyNode", "StringNode", "IntegerNode", "FloatNode", "BooleanNode", "BytesNode", "PathNode")},
        "omegaconf.base.ContainerMetadata": placeholder("omegaconf.base.ContainerMetadata"),
        "omegaconf.base.Metadata": placeholder("omegaconf.base.Metadata"),
        **SAFE_GLOBALS,
    },
    patterns=(
        re.compile(r"^torch\.nn\.modules\.[a-z_][a-z0-9_]*\.[A-Z][A-Za-z0-9_]*$"),
        re.compile(r"^torch\.optim\.[a-z_][a-z0-9_]*\.[A-Z][A-Za-z0-9_]*$"),
        re.compile(r"^(src\.)?training\.[a-z_][a-z0-9_]*\.[A-Z][A-Za-z0-9_]*$"),
    ))


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

    def tell(self):
        return self.pos

    def read(self, n):
        if n < 0 or n > self.total - self.pos:
            raise EOFError(f"needs {n} bytes at byte {self.pos} but the file has {self.total} bytes")
        data = self._f.read(n)
        if len(data) != n:
            raise EOFError(f"the file ended at byte {self.pos + len(data)}")
        self._advance(n)
        return data

    def readline(self):
        line = self._f.readline()
        if not line.endswith(b"\n"):
            raise EOFError(f"the file ended at byte {self.pos + len(line)} inside a text line")
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
        raise PickleFormatError("structure nested too deeply (or an interpolation loop)") from None


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
    value = numpy_value(obj)
    if value is not obj:
        return value
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
    raise PickleFormatError(f"{where}: expected a torch module, got {type(node).__name__}")


def _collect_state_dict(node, prefix, out, active):
    if id(node) in active:
        raise PickleFormatError(f"{prefix or 'network'}: the module tree has a cycle")
    active.add(id(node))
    state = _module_state(node, prefix.rstrip(".") or "network")
    skip = state.get("_non_persistent_buffers_set") or set()
    if not isinstance(skip, (set, frozenset, list, tuple)):
        raise PickleFormatError(f"{prefix}_non_persistent_buffers_set is not a set")
    for group in ("_parameters", "_buffers"):
        entries = state.get(group) or {}
        if not isinstance(entries, dict):
            raise PickleFormatError(f"{prefix}{group} is not a dict")
        for name, tensor in entries.items():
            if tensor is None or (group == "_buffers" and name in skip):
                continue
            out[prefix + str(name)] = as_tensor(tensor, prefix + str(name)).array
    children = state.get("_modules") or {}
    if not isinstance(children, dict):
        raise PickleFormatError(f"{prefix}_modules is not a dict")
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
        raise PickleFormatError(f"snapshot[{key!r}] is not a network (got {type(obj).__name__})")
    state = _module_state(obj, key)
    state_dict = {}
    _collect_state_dict(obj, "", state_dict, set())
    init_args = to_plain(state.get("_init_args", ()))
    init_kwargs = to_plain(state.get("_init_kwargs", {}))
    if not isinstance(init_args, (list, tuple)) or not isinstance(init_kwargs, dict):
        raise PickleFormatError(f"snapshot[{key!r}]: _init_args/_init_kwargs are not a tuple and a dict")
    return Network(class_name, list(init_args), init_kwargs, state_dict)


def _check_header(f, path):
    head = f.read(2)
    f.seek(0)
    try:
        check_protocol(head)
    except PickleFormatError as e:
        hint = " (a zip archive: torch.save files are not training snapshots)" if head == b"PK" else ""
        raise PickleFormatError(f"{path}: {e}{hint}; not a training snapshot") from None


def read_snapshot(path, progress=None):
    """Read a StyleGAN-V / StyleGAN2-ADA training snapshot without executing anything from it.

    Args:
        path: the ``network-snapshot-*.pkl`` file.
        progress: if given, called as progress(bytes_read, total_bytes) about every 1% (at most every 16 MiB) and
            once at the end with (total, total); an exception it raises comes through unchanged.

    Returns:
        {"G", "D", "G_ema": Network, "training_set_kwargs": plain dict (or None), "stats": plain dict or None}.

    Raises:
        UnsafePickleError: the file names something outside ``SNAPSHOT_ALLOWED`` (nothing has run).
        PickleFormatError: empty, truncated, not a pickle, or not a training snapshot.
    """
    path = os.fspath(path)
    total = os.path.getsize(path)
    with open(path, "rb") as f:
        _check_header(f, path)
        try:
            data = load(_CountingReader(f, total, progress), SNAPSHOT_ALLOWED, path)
        except _CallbackError as e:
            raise e.__cause__
    try:
        if not isinstance(data, dict):
            raise PickleFormatError(f"the pickle holds a {type(data).__name__}, not a snapshot dict")
        missing = [k for k in ("G", "D", "G_ema") if k not in data]
        if missing:
            raise PickleFormatError(f"not a training snapshot: key(s) {', '.join(missing)} missing "
                                    f"(keys: {', '.join(map(str, list(data)[:20]))})")
        out = {key: _network(data[key], key) for key in ("G", "D", "G_ema")}
        out["training_set_kwargs"] = to_plain(data.get("training_set_kwargs"))
        out["stats"] = to_plain(data.get("stats"))
    except PickleFormatError as e:
        raise PickleFormatError(f"{path}: {e}") from None
    except RecursionError:
        raise PickleFormatError(f"{path}: module tree nested too deeply") from None
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as e:
        raise PickleFormatError(f"{path}: unexpected structure ({type(e).__name__}: {e})") from None
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
