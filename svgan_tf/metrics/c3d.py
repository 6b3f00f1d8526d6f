"""The UCF101-finetuned C3D of the video Inception Score (``isv2048_ucf``) in Keras 3, read from ``c3d_ucf101.pt``.

StyleGAN-V's ``isv2048_ucf`` scores 2048 generated 16-frame clips with a TorchScript port
(``https://www.dropbox.com/s/jxpu7avzdc9n97q/c3d_ucf101.pt``) of TGANv2's chainer ``C3DVersion1UCF101``
(pfnet-research/tgan2, ``tgan2/models/c3d/c3d_ucf101.py``), the C3D v1 of Tran et al. finetuned on UCF101
(``c3d_ucf101_finetune_whole_iter_20000``). ``c3d_probabilities(videos, path)`` gives its class probabilities;
``svgan_tf.metrics.scores.inception_score(probs, shuffle_seed=42)`` turns them into the score. The user supplies the
file; it is read as data (``svgan_tf.interop.torchscript``: nothing in it runs, torch is not needed).

What was confirmed, and what is assumed
---------------------------------------
Confirmed by reading TGANv2's ``c3d_ucf101.py`` (commit d83018c) and its ``evaluations/inception_score.py``:

* Layers: ``conv1a`` 64, pool 1x2x2; ``conv2a`` 128, pool 2x2x2; ``conv3a``/``conv3b`` 256, pool; ``conv4a``/
  ``conv4b`` 512, pool; ``conv5a``/``conv5b`` 512, pool 2x2x2; ``fc6`` 8192 -> 4096, ``fc7`` 4096 -> 4096, ``fc8``
  4096 -> 101. Every conv is 3x3x3, stride 1, padding 1, with bias, then ReLU; fc6 and fc7 are followed by ReLU;
  dropout (after pool5, fc6, fc7) is the identity at inference. The network returns fc8; the score's code applies
  the softmax.
* Pooling is chainer's ``max_pooling_nd(ksize)``: stride = ksize, no padding, ``cover_all=True``, padded with
  -inf. At pool5 the 7x7 map becomes 4x4 by a window that overhangs the *end* (rows/columns 6 and a pad): that is
  TF "SAME" pooling, used here for every pool (identical to "VALID" on the even sizes of pools 1-4). The
  "padding (0, 1, 1)" of other PyTorch C3D ports pads the *start* instead, which chooses other windows.
* fc6 flattens pool5's [C, T=1, 4, 4] output in channel-major (NCDHW) order: 8192 = 512 x 1 x 4 x 4, so a clip
  has exactly 16 frames.
* Preprocessing, inside the chainer model: the clip (x in [-1, 1], RGB) goes through a fixed 1x1x1 conv that
  reverses the channels to BGR and multiplies by 128; each frame is resized to 112x112 with chainer's
  ``resize_images`` (bilinear with the corners aligned: chainer 7 documents ``align_corners=True`` as the default
  it kept; TGANv2 pins chainer 6.0.0, assumed to behave the same); then a per-pixel bias
  ``128 - mean[:, :, 8:120, 8:120]`` is added, the mean clip being the ``mean`` array of TGANv2's ``mean2.npz``
  (BGR, 0..255 units, 16 frames; its 128x128 size is inferred from that crop, not seen). So the network sees
  ``128 (x + 1) - mean``: the BGR clip in 0..256 units minus the centre 112x112 of the mean clip. TGANv2 does *not*
  resize to 128x171 and crop 112x112 (the original C3D recipe): it resizes whole frames to 112x112.

Assumed (the ``.pt`` file itself was not available here):

* The port maps uint8 ``u`` to TGANv2's input range by ``x = u / 127.5 - 1``, so the network sees
  ``u * 256 / 255`` (BGR) minus the mean.
* Its tensors, in pickled order, are the 8 conv (weight [out, in, 3, 3, 3], bias [out]) pairs then the 3 linear
  (weight [out, in], bias [out]) pairs, as TGANv2 declares them, under any names; and a mean clip, if the file
  carries one as a tensor, has shape [3, 16, 112, 112] (already cropped) or [3, 16, 128, 128] (cropped here as
  TGANv2 does), optionally with a leading 1, holds the mean itself (not TGANv2's bias ``128 - mean``) in BGR
  0..255 units, and is subtracted. A file without such a tensor (e.g. one that keeps the mean in
  ``constants.pkl``, which is never read) gets no mean subtracted, with a warning: its probabilities would then
  not be the reference's.
* The channel widths, fc width and number of classes are read from the file (64..512, 4096, 101 for the UCF101
  model), every shape checked for consistency; any other tensor is an error naming it.

Precision: float32 (convolutions may run in TF32 on Ampere or newer GPUs; see ``svgan_tf.metrics.inception``); the
softmax is computed in float64.
"""

from __future__ import annotations

import os
import warnings

import keras
import numpy as np
import tensorflow as tf

from svgan_tf.interop.torchscript import read_torchscript_tensors
from svgan_tf.interop.unpickle import PickleFormatError
from svgan_tf.metrics.detector_cache import FileCache
from svgan_tf.metrics.scores import softmax

__all__ = ["CLIP_LENGTH", "INPUT_SIZE", "C3D", "build_c3d", "preprocess", "c3d_probabilities"]

CLIP_LENGTH = 16
INPUT_SIZE = 112
_MEAN_CROP = 8  # TGANv2 takes mean[:, :, 8:120, 8:120] of its 128x128 mean clip
_CONVS = ("conv1a", "conv2a", "conv3a", "conv3b", "conv4a", "conv4b", "conv5a", "conv5b")
_FCS = ("fc6", "fc7", "fc8")
_STAGE_OF_CONV = (0, 1, 2, 2, 3, 3, 4, 4)  # index into C3D.widths
_POOL_AFTER = {"conv1a": (1, 2, 2), "conv2a": (2, 2, 2), "conv3b": (2, 2, 2), "conv4b": (2, 2, 2),
               "conv5b": (2, 2, 2)}
# pool5's output: [T, H, W] = [1, 4, 4] for a 16x112x112 clip.
_POOL5_POSITIONS = 1 * 4 * 4


class C3D(keras.Model):
    """C3D v1: [N, 16, 112, 112, 3] float32 (BGR, mean subtracted; see ``preprocess``) -> [N, classes] fc8 logits.

    Args:
        widths: output channels of the five conv stages (conv1a, conv2a, conv3a/b, conv4a/b, conv5a/b).
        fc_width: width of fc6 and fc7.
        num_classes: width of fc8.
        **kwargs: Keras model arguments (name).
    """

    def __init__(self, widths=(64, 128, 256, 512, 512), fc_width=4096, num_classes=101, **kwargs):
        super().__init__(dtype="float32", autocast=False, trainable=False, **kwargs)
        self.widths, self.fc_width, self.num_classes = tuple(int(w) for w in widths), int(fc_width), int(num_classes)
        if len(self.widths) != 5:
            raise ValueError(f"widths must name 5 conv stages, got {widths!r}")
        self.convs = {}
        in_channels = 3
        for name, stage in zip(_CONVS, _STAGE_OF_CONV):
            layer = keras.layers.Conv3D(self.widths[stage], 3, padding="same", activation="relu", name=name,
                                        dtype="float32", trainable=False)
            layer.build((None, None, None, None, in_channels))
            self.convs[name] = layer
            in_channels = self.widths[stage]
        self.fcs = {}
        fc_in = (in_channels * _POOL5_POSITIONS, self.fc_width, self.fc_width)
        fc_out = (self.fc_width, self.fc_width, self.num_classes)
        for name, n_in, n_out in zip(_FCS, fc_in, fc_out):
            layer = keras.layers.Dense(n_out, activation=None if name == "fc8" else "relu", name=name,
                                       dtype="float32", trainable=False)
            layer.build((None, n_in))
            self.fcs[name] = layer
        self.mean_clip = None  # [16, 112, 112, 3] float32 (BGR, 0..255) or None: set by build_c3d
        self.built = True

    def slots(self):
        """``[(slot name, torch-layout shape)]`` of the 22 tensors in the order TGANv2 declares them."""
        out = []
        for name, layer in self.convs.items():
            kernel = layer.kernel.shape  # [3, 3, 3, in, out]
            out += [(f"{name}.weight", (kernel[4], kernel[3], *kernel[:3])), (f"{name}.bias", (kernel[4],))]
        for name, layer in self.fcs.items():
            kernel = layer.kernel.shape  # [in, out]
            out += [(f"{name}.weight", (kernel[1], kernel[0])), (f"{name}.bias", (kernel[1],))]
        return out

    def set_torch_weights(self, arrays):
        """Loads the 22 torch-layout arrays in ``slots()`` order (shapes already checked by the caller).

        Args:
            arrays: conv weights [out, in, kt, kh, kw], linear weights [out, in], biases [out].
        """
        arrays = list(arrays)
        for layer in list(self.convs.values()) + list(self.fcs.values()):
            weight, bias = arrays.pop(0), arrays.pop(0)
            axes = (2, 3, 4, 1, 0) if weight.ndim == 5 else (1, 0)
            layer.kernel.assign(np.transpose(np.asarray(weight, np.float32), axes))
            layer.bias.assign(np.asarray(bias, np.float32))

    def call(self, x):
        for name, layer in self.convs.items():
            x = layer(x)
            if name in _POOL_AFTER:
                window = _POOL_AFTER[name]
                # chainer's cover_all pooling: a window overhanging the end (7 -> 4 at pool5), as TF "SAME".
                x = keras.ops.max_pool(x, window, strides=window, padding="same")
        if x.shape[1] is not None and tuple(x.shape[1:4]) != (1, 4, 4):
            raise ValueError(f"fc6 expects a [1, 4, 4] pool5 map (a 16x112x112 clip), got {tuple(x.shape[1:4])}")
        # fc6's weight was trained on chainer's NCDHW flattening: channels first.
        x = keras.ops.reshape(keras.ops.transpose(x, (0, 4, 1, 2, 3)), (-1, x.shape[-1] * _POOL5_POSITIONS))
        for layer in self.fcs.values():
            x = layer(x)
        return x


def _mean_clip(array, name, path):
    """A [3, 16, S, S] / [1, 3, 16, S, S] mean tensor as [16, 112, 112, 3] float32, or None if not that shape."""
    shape = tuple(array.shape)
    if shape[:1] == (1,) and len(shape) == 5:
        shape, array = shape[1:], array[0]
    if len(shape) != 4 or shape[:2] != (3, CLIP_LENGTH) or shape[2:] not in ((112, 112), (128, 128)):
        return None
    if shape[2] == 128:
        array = array[:, :, _MEAN_CROP:_MEAN_CROP + INPUT_SIZE, _MEAN_CROP:_MEAN_CROP + INPUT_SIZE]
    mean = np.transpose(np.asarray(array, np.float32), (1, 2, 3, 0))
    if not np.isfinite(mean).all():
        raise PickleFormatError(f"{path}: mean clip {name} holds non-finite values")
    return np.ascontiguousarray(mean)


def _architecture(weights, path):
    """(widths, fc_width, num_classes) read from the 22 tensors' shapes (checked against each other later)."""
    def rows(i):
        shape = weights[i][1].shape
        return int(shape[0]) if len(shape) else -1

    widths = tuple(rows(2 * _CONVS.index(name)) for name in ("conv1a", "conv2a", "conv3a", "conv4a", "conv5a"))
    fc6, fc8 = 2 * len(_CONVS), 2 * len(_CONVS) + 4
    if min(widths) < 1 or rows(fc6) < 1 or rows(fc8) < 1:
        raise PickleFormatError(f"{path}: the tensors in conv1a..fc8 order do not have C3D's shapes "
                                f"({', '.join(f'{n} {tuple(a.shape)}' for n, a in weights[:4])}, ...)")
    return widths, rows(fc6), rows(fc8)


def build_c3d(path):
    """A ``C3D`` with the weights of a ``c3d_ucf101.pt`` TorchScript archive (read as data), checked tensor by tensor.

    The tensors are taken in pickled order as the 8 conv weight/bias pairs then fc6, fc7, fc8; a tensor shaped like
    a mean clip, anywhere, becomes ``model.mean_clip`` (see the module docstring for what is assumed).

    Args:
        path: the archive.

    Returns:
        The ``C3D`` model, its ``mean_clip`` set (or None, with a warning).

    Raises:
        FileNotFoundError: no such file.
        PickleFormatError: not a TorchScript archive, a tensor of the wrong shape, a missing or extra tensor, or two
            mean clips; the message names the file and the tensor.
    """
    path = os.fspath(path)
    tensors, _ = read_torchscript_tensors(path)
    weights, mean, mean_name = [], None, None
    for name, array in tensors.items():
        clip = _mean_clip(array, name, path)
        if clip is None:
            weights.append((name, array))
        elif mean is not None:
            raise PickleFormatError(f"{path}: two mean-clip tensors, {mean_name} and {name}")
        else:
            mean, mean_name = clip, name
    expected_count = 2 * (len(_CONVS) + len(_FCS))
    if len(weights) < expected_count:
        names = [f"{n}.{p}" for n in _CONVS + _FCS for p in ("weight", "bias")]
        raise PickleFormatError(f"{path}: {len(weights)} weight tensors; C3D needs {expected_count} (8 conv "
                                f"weight/bias pairs, then fc6, fc7, fc8): {', '.join(names[len(weights):])} missing")
    if len(weights) > expected_count:
        name, array = weights[expected_count]
        raise PickleFormatError(f"{path}: unexpected tensor {name} {tuple(array.shape)} after the "
                                f"{expected_count} C3D weights (8 conv weight/bias pairs, then fc6, fc7, fc8)")
    widths, fc_width, num_classes = _architecture(weights, path)
    model = C3D(widths, fc_width, num_classes, name="c3d_ucf101")
    for index, ((name, array), (slot, shape)) in enumerate(zip(weights, model.slots())):
        if tuple(array.shape) != tuple(shape):
            raise PickleFormatError(f"{path}: tensor {name} (#{index} in pickled order, read as {slot}) has shape "
                                    f"{tuple(array.shape)}; expected {tuple(shape)}")
        if not np.issubdtype(array.dtype, np.floating):
            raise PickleFormatError(f"{path}: tensor {name} ({slot}) has dtype {array.dtype}, not floating point")
    model.set_torch_weights(array for _, array in weights)
    model.mean_clip = mean
    if mean is None:
        warnings.warn(f"{path} holds no mean-clip tensor ([3, 16, 112, 112]): no mean is subtracted, so the C3D "
                      "probabilities will differ from TGANv2's / StyleGAN-V's", stacklevel=2)
    return model


def preprocess(videos, mean_clip=None):
    """uint8 RGB clips -> the network's input: TGANv2's 112x112 bilinear resize, BGR, 0..256 units, mean removed.

    Args:
        videos: uint8 tensor [N, 16, H, W, 3] (RGB, 0..255).
        mean_clip: [16, 112, 112, 3] float32 BGR mean in 0..255 units, or None (nothing subtracted).

    Returns:
        float32 tensor [N, 16, 112, 112, 3].
    """
    shape = tf.shape(videos)
    frames = tf.reshape(tf.cast(videos, tf.float32), tf.concat([[-1], shape[2:]], axis=0))
    # chainer's resize_images: bilinear with the corner pixels aligned.
    frames = tf.raw_ops.ResizeBilinear(images=frames, size=tf.constant([INPUT_SIZE, INPUT_SIZE], tf.int32),
                                       align_corners=True, half_pixel_centers=False)
    clips = tf.reshape(frames, [-1, CLIP_LENGTH, INPUT_SIZE, INPUT_SIZE, 3])
    # TGANv2's 128 (x + 1) with x = u / 127.5 - 1, channels reversed to BGR as its fixed 1x1x1 "pre" conv does.
    clips = clips[..., ::-1] * (256.0 / 255.0)
    if mean_clip is not None:
        clips = clips - tf.constant(mean_clip, tf.float32)
    return clips


_MODELS = FileCache("C3D weights file (StyleGAN-V's c3d_ucf101.pt)")


def _cached(path):
    """The model of ``path`` and its traced logits function, built on first use."""
    def build(path):
        model = build_c3d(path)

        @tf.function(input_signature=[tf.TensorSpec([None, CLIP_LENGTH, None, None, 3], tf.uint8)])
        def logits(videos):
            return model(preprocess(videos, model.mean_clip))
        return model, logits

    return _MODELS.get(path, build)


def c3d_probabilities(videos, path, batch_size=8):
    """UCF101 class probabilities of 16-frame clips, as StyleGAN-V's ``isv2048_ucf`` detector gives them.

    Args:
        videos: uint8 array or tensor [N, 16, H, W, 3] (RGB, 0..255; any H, W: resized to 112x112 inside).
        path: the user's ``c3d_ucf101.pt`` (the model is built once per file and cached).
        batch_size: clips per network call.

    Returns:
        float64 np.ndarray [N, num_classes] (101 for the UCF101 model) whose rows sum to 1.

    Raises:
        TypeError: the clips are not uint8.
        ValueError: not [N, 16, H, W, 3], or a non-positive batch size.
        FileNotFoundError: no such weights file.
    """
    dtype = videos.dtype.name if isinstance(videos, tf.Tensor) else np.asarray(videos).dtype.name
    if dtype != "uint8":
        raise TypeError(f"videos must be uint8, got {dtype}")
    array = videos if isinstance(videos, tf.Tensor) else np.asarray(videos)
    if len(array.shape) != 5 or array.shape[1] != CLIP_LENGTH or array.shape[-1] != 3:
        raise ValueError(f"videos must be [N, {CLIP_LENGTH}, H, W, 3] (16-frame RGB clips), got {tuple(array.shape)}")
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    model, fn = _cached(path)
    n = int(array.shape[0])
    if n == 0:
        return np.zeros((0, model.num_classes), np.float64)
    logits = [fn(tf.convert_to_tensor(array[start:start + int(batch_size)])).numpy()
              for start in range(0, n, int(batch_size))]
    return softmax(np.concatenate(logits, axis=0))
