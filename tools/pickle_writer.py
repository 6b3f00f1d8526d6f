"""Writes pickles opcode by opcode, without torch: official StyleGAN-V snapshots, the legacy torch storage streams
inside them, TorchScript archives, and hostile payloads.

Globals are named by plain strings (`Global`) and never looked up, so writing a hostile pickle imports
nothing. Used by the restricted readers' tests (tests/test_unpickle.py, test_snapshot.py, test_torch_tensors.py,
test_torchscript.py), by the detectors' tests (test_inception.py, test_c3d.py: synthetic weight archives) and by
`tools/bench_import.py`, which writes a full-size snapshot.
"""

import io
import pickle
import struct
import zipfile

import numpy as np


class Global:
    """A global named by strings: written as a GLOBAL opcode, never looked up."""

    def __init__(self, dotted):
        self.module, self.name = dotted.rsplit(".", 1)

    def __call__(self, *args):  # pickle's writer insists that a REDUCE target is callable
        raise AssertionError("never called")


class Call:
    """func(*args), then BUILD with `state` when given."""

    def __init__(self, func, *args, state=None):
        self.func = Global(func) if isinstance(func, str) else func
        self.args, self.state = args, state


class New:
    """cls.__new__(cls, *args) (NEWOBJ), then BUILD with `state`."""

    def __init__(self, cls, state=None, args=()):
        self.cls = Global(cls) if isinstance(cls, str) else cls
        self.args, self.state = args, state


class Pid:
    def __init__(self, pid):
        self.pid = pid


class PickleWriter(pickle._Pickler):
    def persistent_id(self, obj):
        return obj.pid if isinstance(obj, Pid) else None

    def save(self, obj, save_persistent_id=True):
        if isinstance(obj, Global):
            self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
            return
        if isinstance(obj, (Call, New)):
            if id(obj) in self.memo:
                self.write(self.get(self.memo[id(obj)][0]))
                return
            if isinstance(obj, Call):
                self.save(obj.func)
                self.save(obj.args)
                self.write(pickle.REDUCE)
            else:
                self.save(obj.cls)
                self.save(obj.args)
                self.write(pickle.NEWOBJ)
            self.memoize(obj)
            if obj.state is not None:
                self.save(obj.state)
                self.write(pickle.BUILD)
            return
        super().save(obj, save_persistent_id)


def dumps(obj, protocol=4):
    buf = io.BytesIO()
    PickleWriter(buf, protocol=protocol).dump(obj)
    return buf.getvalue()


def legacy_storage(array, storage_class="torch.FloatStorage", pid=None, sys_info=None):
    """The byte string a torch storage pickles to: a legacy torch.save stream (protocol 2 pickles + raw data)."""
    array = np.ascontiguousarray(array).ravel()
    buf = io.BytesIO()
    for obj in (0x1950A86A20F9469CFC6C, 1001, sys_info or {"protocol_version": 1001, "little_endian": True,
                                                           "type_sizes": {"short": 2, "int": 4, "long": 4}},
                Pid(pid or ("storage", Global(storage_class), "0", "cpu", array.size, None)), ["0"]):
        PickleWriter(buf, protocol=2).dump(obj)
    buf.write(struct.pack("<q", array.size))
    buf.write(array.astype(array.dtype.newbyteorder("<")).tobytes())
    return buf.getvalue()


def tensor(array, storage_class="torch.FloatStorage", storage=None, offset=0, size=None, stride=None):
    """A tensor over its own storage holding `array` (C order, as torch saves parameters), or, with `storage`,
    `size` and `stride`, a view of another tensor's storage."""
    array = np.ascontiguousarray(array)  # the storage is written in C order: the strides must be too
    if size is None:
        size = array.shape
        stride = tuple(s // array.itemsize for s in array.strides)
    storage = storage or Call("torch.storage._load_from_bytes", legacy_storage(array, storage_class))
    return Call("torch._utils._rebuild_tensor_v2", storage, offset, tuple(size), tuple(stride), False,
                Call("collections.OrderedDict"))


def parameter(array):
    return Call("torch._utils._rebuild_parameter", tensor(array), True, Call("collections.OrderedDict"))


def module_state(params=(), buffers=(), modules=(), non_persistent=(), **attrs):
    return {"training": False, "_parameters": Call("collections.OrderedDict", list(params)),
            "_buffers": Call("collections.OrderedDict", list(buffers)), "_non_persistent_buffers_set":
            set(non_persistent), "_modules": Call("collections.OrderedDict", list(modules)), **attrs}


def persistent(class_name, state, module_src="raise SystemExit('module source executed')"):
    return Call("src.torch_utils.persistence._reconstruct_persistent_obj",
                {"type": "class", "version": 6, "module_src": module_src, "class_name": class_name, "state": state})


def network(class_name, state_dict, init_kwargs, parameters=()):
    """A persistent network object whose module tree holds the flat `state_dict` ({"a.b.weight": array}).

    Every dotted prefix becomes a submodule; the names in `parameters` are stored as parameters, the rest
    as buffers.

    Returns:
        (the persistent object, {name: parameter object}: what an optimiser state is keyed by).
    """
    root = {"tensors": [], "modules": {}}
    for name, array in state_dict.items():
        *path, leaf = name.split(".")
        node = root
        for part in path:
            node = node["modules"].setdefault(part, {"tensors": [], "modules": {}})
        node["tensors"].append((name, leaf, array))
    handles = {}

    def build(node):
        params, buffers = [], []
        for name, leaf, array in node["tensors"]:
            if name in parameters:
                handles[name] = parameter(array)
                params.append((leaf, handles[name]))
            else:
                buffers.append((leaf, tensor(array)))
        modules = [(part, persistent(part, build(child))) for part, child in node["modules"].items()]
        return module_state(params=params, buffers=buffers, modules=modules)

    state = build(root)
    state.update(_init_args=(), _init_kwargs=init_kwargs)
    return persistent(class_name, state), handles


def torchscript_archive(path, data_pkl, storages=(), root="model", code=None):
    """Writes a TorchScript-layout zip: `<root>/data.pkl` (the bytes `data_pkl`; left out if None), the raw
    `storages` ((key, bytes) pairs) as `<root>/data/<key>`, and TorchScript source text under `<root>/code/`:
    `code` ({path under code/: text}), by default one file that must never be executed."""
    code = {"__torch__/m.py": "raise SystemExit('never read')\n"} if code is None else code
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        if data_pkl is not None:
            z.writestr(f"{root}/data.pkl", data_pkl)
        for name, text in code.items():
            z.writestr(f"{root}/code/{name}", text)
        for key, raw in storages:
            z.writestr(f"{root}/data/{key}", raw)
        z.writestr(f"{root}/version", b"3\n")
    return path


_STORAGE_CLASSES = {np.dtype(np.float32): "torch.FloatStorage", np.dtype(np.float64): "torch.DoubleStorage",
                    np.dtype(np.int64): "torch.LongStorage"}


def torchscript_module_archive(path, tensors, attributes=None, root="model", code=None):
    """Writes a TorchScript archive whose module tree holds the flat `tensors` ({"a.b.weight": array}) and
    `attributes` ({"a.b.stride": 2, "a.b.padding": [0, 1]}), laid out as torch.jit.save does: every dotted prefix
    a `__torch__` module object, every tensor a `_rebuild_tensor_v2` over a persistent storage id whose bytes are
    `<root>/data/<key>` (keys "0", "1", ... in the order given). The pickled order of each module's entries is the
    order in which they first appear in `tensors`, then `attributes`."""
    tree, storages = {}, []
    for name, value in list(tensors.items()) + list((attributes or {}).items()):
        *parents, leaf = name.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        if isinstance(value, np.ndarray):
            array = np.ascontiguousarray(value)
            key = str(len(storages))
            storages.append((key, array.astype(array.dtype.newbyteorder("<")).tobytes()))
            pid = Pid(("storage", Global(_STORAGE_CLASSES[array.dtype]), key, "cpu", array.size))
            strides = tuple(s // array.itemsize for s in array.strides)
            node[leaf] = Call("torch._utils._rebuild_tensor_v2", pid, 0, array.shape, strides, False,
                              Call("collections.OrderedDict"))
        elif isinstance(value, list):
            node[leaf] = Call("torch.jit._pickle.build_intlist", value)
        else:
            node[leaf] = value

    def module(node, class_name):
        return New(f"__torch__.{class_name}", {key: module(child, f"{class_name}.{key}") if isinstance(child, dict)
                                              else child for key, child in node.items()})

    return torchscript_archive(path, dumps(module(tree, "Root"), protocol=2), storages, root=root, code=code)


# Hostile payloads: {the global a reader must refuse: marker path -> the pickled object that would create the marker
# file (or otherwise run code) if a reader called what it names}.
HOSTILE_PAYLOADS = {
    "posix.system": lambda marker: Call("posix.system", f"touch {marker}"),
    "os.system": lambda marker: Call("os.system", f"touch {marker}"),
    "builtins.exec": lambda marker: Call("builtins.exec", f"open({str(marker)!r}, 'w').close()"),
    "builtins.eval": lambda marker: Call("builtins.eval", f"open({str(marker)!r}, 'w').close()"),
    "subprocess.call": lambda marker: Call("subprocess.call", ["touch", str(marker)]),
    "builtins.getattr": lambda marker: Call(Call("builtins.getattr", Global("os.path"), "join"), "a"),
    "importlib.import_module": lambda marker: Call("importlib.import_module", "this"),
    "pickle.loads": lambda marker: Call("pickle.loads", b"."),
    "functools.partial": lambda marker: Call("functools.partial", Global("os.system")),
    "builtins.__import__": lambda marker: Call("builtins.__import__", "antigravity"),
    "copyreg._reconstructor": lambda marker: Call("copyreg._reconstructor", Global("os._wrap_close"),
                                                  Global("builtins.object"), None),
    "torch.load": lambda marker: Call("torch.load", "x.pt"),
    "numpy.load": lambda marker: Call("numpy.load", "x.npy"),
    "src.training.networks.Generator.__init__": lambda marker: Global("src.training.networks.Generator.__init__"),
}
