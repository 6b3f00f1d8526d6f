"""LPIPS with VGG16 (Zhang et al., CVPR 2018) from StyleGAN2-ADA's `vgg16.pt`, read as data: the projection loss
of the reference's `project.py`, for `python -m svgan_tf.project --vgg16=PATH`.

The file is a TorchScript archive; it is read with `svgan_tf.interop.torchscript` (the restricted unpickler,
nothing executed, no torch). Its tensors, as a public port of the same file names them (`layers.conv1` ..
`layers.conv13` weight [out, in, 3, 3] and bias [out]; the classifier `layers.fc1` .. `fc3`, unused here;
`lpips0` .. `lpips4`, the learned per-channel weights [channels] of LPIPS' linear layers), under whatever
prefix comes before `layers.conv1.weight`. The network: VGG16's 13 3x3 convolutions (padding 1) with ReLU, in
blocks of 2, 2, 3, 3, 3 separated by 2x2 max pools; the outputs of the five blocks (before their pool) are
compared. The distance of images x, y: per block, each position's feature vector divided by its length (+
1e-10), the squared difference weighted by `lpips<k>` and summed over channels, averaged over positions; the
five blocks summed. Input scaling: pixels / 255, then ImageNet's per-channel mean (0.485, 0.456, 0.406) and
standard deviation (0.229, 0.224, 0.225), as that port feeds the file's weights. The channel widths come from
the file (a test archive may be narrower). Assumed, not verified against the file itself (not available
here): the tensor names and the input scaling, both from that port; StyleGAN2-ADA's projector feeds the file
0-255 images, resized down to 256x256 when larger, which `LpipsVgg16` leaves to its caller.
"""

import numpy as np
import tensorflow as tf

from svgan_tf.interop.torchscript import read_torchscript_tensors
from svgan_tf.interop.unpickle import PickleFormatError

BLOCKS = (2, 2, 3, 3, 3)  # convolutions per block, a 2x2 max pool between blocks
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_FIRST = "layers.conv1.weight"


def read_vgg16(path):
    """The weights of a `vgg16.pt`: ([(kernel HWIO, bias)] x 13, [lpips weights [channels]] x 5), checked.

    Raises:
        PickleFormatError: naming the file, for a missing tensor or a shape that does not chain.
    """
    tensors, _ = read_torchscript_tensors(path)
    prefixes = [name[:-len(_FIRST)] for name in tensors if name.endswith(_FIRST)]
    if len(prefixes) != 1:
        raise PickleFormatError(f"{path}: not an LPIPS VGG16 archive (no single '{_FIRST}' tensor).")
    prefix = prefixes[0]

    def get(name, ndim):
        array = tensors.get(prefix + name)
        if array is None:
            raise PickleFormatError(f"{path}: tensor {prefix + name} missing.")
        if array.ndim != ndim:
            raise PickleFormatError(f"{path}: {prefix + name} has shape {array.shape}.")
        return np.asarray(array, np.float32)

    convs, channels = [], 3
    for i in range(1, sum(BLOCKS) + 1):
        weight, bias = get(f"layers.conv{i}.weight", 4), get(f"layers.conv{i}.bias", 1)
        if weight.shape[1:] != (channels, 3, 3) or bias.shape != (weight.shape[0],):
            raise PickleFormatError(f"{path}: layers.conv{i} has weight {weight.shape} / bias {bias.shape}; "
                                    f"expected [out, {channels}, 3, 3] / [out].")
        convs.append((weight.transpose(2, 3, 1, 0), bias))
        channels = weight.shape[0]
    lins = []
    for k, conv in enumerate(np.cumsum(BLOCKS) - 1):
        array = tensors.get(f"{prefix}lpips{k}")  # [channels], or a 1x1 conv's [1, channels, 1, 1]
        width = convs[conv][0].shape[-1]
        if array is None or array.size != width:
            raise PickleFormatError(f"{path}: lpips{k} is {'missing' if array is None else array.shape}; block "
                                    f"{k + 1} has {width} channels.")
        lins.append(np.asarray(array, np.float32).reshape(-1))
    return convs, lins


class LpipsVgg16:
    """LPIPS-VGG16 distance of images in [-1, 1], differentiable: `distance(a, b)` -> [N].

    Args:
        path: the reference's `vgg16.pt`.
    """

    def __init__(self, path):
        convs, lins = read_vgg16(path)
        self.convs = [(tf.constant(w), tf.constant(b)) for w, b in convs]
        self.lins = [tf.constant(lin) for lin in lins]

    def features(self, images):
        """The five block outputs of images in [-1, 1] [N, H, W, 3], unit-normalised per position."""
        x = (tf.cast(images, tf.float32) + 1.0) / 2.0  # pixels / 255
        x = (x - tf.constant(IMAGENET_MEAN)) / tf.constant(IMAGENET_STD)
        out, index = [], 0
        for block, count in enumerate(BLOCKS):
            if block:
                x = tf.nn.max_pool2d(x, 2, 2, "VALID")
            for _ in range(count):
                weight, bias = self.convs[index]
                x = tf.nn.relu(tf.nn.conv2d(x, weight, 1, "SAME") + bias)
                index += 1
            out.append(x / (tf.norm(x, axis=-1, keepdims=True) + 1e-10))
        return out

    def __call__(self, a, b):
        """LPIPS per image pair: float32 [N]."""
        return tf.add_n([tf.reduce_mean(tf.reduce_sum(lin * tf.square(fa - fb), axis=-1), axis=[1, 2])
                         for lin, fa, fb in zip(self.lins, self.features(a), self.features(b))])
