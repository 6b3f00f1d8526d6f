"""Every layer and network of the package through the shared harness: Keras serialisation and `.keras` files."""

import numpy as np
import pytest
import tensorflow as tf

from svgan_tf.metrics import i3d
from svgan_tf.networks import discriminator, generator, layers, motion
from tests import support

_RNG = np.random.default_rng(0)


def _normal(*shape):
    return tf.constant(_RNG.standard_normal(shape).astype(np.float32))


_TIMES = tf.constant([[0.0, 3.0, 7.5], [1.0, 2.0, 16.0]])
# (name, layer factory, positional inputs, keyword inputs): small instances of every layer class.
LAYERS = [
    ("DenseLayer", lambda: layers.DenseLayer(4, 3, activation="lrelu", lr_multiplier=0.1, bias_init=1.0),
     [_normal(2, 4)], {}),
    ("Conv2dLayer", lambda: layers.Conv2dLayer(3, 4, 3, activation="lrelu", down=2, conv_clamp=256),
     [_normal(2, 8, 8, 3)], {}),
    ("Conv1dLayer", lambda: layers.Conv1dLayer(3, 5, 3, activation="lrelu"), [_normal(2, 7, 3)], {}),
    ("AcyclicPositionalEncoding", lambda: motion.AcyclicPositionalEncoding(4, 3, 4, 64),
     [_normal(5), _normal(5), _normal(5), _normal(5), _normal(5, 4), _normal(5, 4)], {}),
    ("MotionMappingNetwork", lambda: motion.MotionMappingNetwork(6, 10, 0, 3, 4, 5, 4, 64),
     [_normal(2, 12, 6), _TIMES], {}),
    ("SynthesisLayer", lambda: generator.SynthesisLayer(4, 5, 6, up=2, conv_clamp=256),
     [_normal(2, 4, 4, 4), _normal(2, 6)], {}),
    ("ToRGBLayer", lambda: generator.ToRGBLayer(4, 3, 6), [_normal(2, 4, 4, 4), _normal(2, 6)], {}),
    ("SynthesisBlock", lambda: generator.SynthesisBlock(4, 5, 6, 8, 3),
     [_normal(2, 4, 4, 4), _normal(2, 4, 4, 3), _normal(2, 3, 6)], {}),
    ("DiscriminatorBlock", lambda: discriminator.DiscriminatorBlock(0, 4, 5), [_normal(2, 8, 8, 3)], {}),
    ("TimeDifferenceEncoder", lambda: discriminator.TimeDifferenceEncoder(3, max_num_frames=32, embed_dim=8),
     [tf.constant([[0.0, 3.0, 7.0], [1.0, 2.0, 16.0]])], {}),
    ("DiscriminatorEpilogue", lambda: discriminator.DiscriminatorEpilogue(4, 0, mbstd_group_size=2),
     [_normal(2, 4, 4, 4)], {}),
    ("Unit3D", lambda: i3d.Unit3D(3, 4, kernel_shape=(3, 3, 3), name="Conv3d_1a"), [_normal(1, 4, 8, 8, 3)], {}),
    ("InceptionModule", lambda: i3d.InceptionModule(4, [2, 2, 3, 2, 3, 2], name="Mixed_3b"),
     [_normal(1, 4, 8, 8, 4)], {}),
    ("InceptionI3d", lambda: i3d.InceptionI3d(num_classes=3), [_normal(1, 9, 224, 224, 3)], {}),  # its input size
]

TINY_G = dict(support.TINY_G, img_resolution=8)
TINY_D = dict(support.TINY_D, img_resolution=16, num_fp16_res=1)


def _conditional_generator():
    G = generator.Generator(**TINY_G, c_dim=2)
    G.mapping.w_avg.assign(np.full(G.w_dim, 0.3, np.float32))  # truncation has something to pull towards
    return G


# Networks (keras.Model): also through a `.keras` file.
MODELS = [
    ("MappingNetwork", lambda: generator.MappingNetwork(8, 0, 12, num_ws=3), [_normal(2, 8)], {}),
    ("SynthesisNetwork", lambda: generator.SynthesisNetwork(12, 8, 3, 10, channel_base=64, channel_max=8),
     [_normal(2, 4, 12), _normal(2, 10)], {}),
    ("Generator", lambda: _conditional_generator(), [_normal(2, 8), _TIMES, _normal(2, 12, 6)],
     dict(c=tf.one_hot([0, 1], 2), truncation_psi=0.7)),
    ("Discriminator", lambda: discriminator.Discriminator(**TINY_D, c_dim=2),
     [_normal(2, 3, 16, 16, 3), tf.constant([[0.0, 3.0, 7.0], [1.0, 2.0, 16.0]])], dict(c=tf.one_hot([0, 1], 2))),
]


@pytest.mark.parametrize("name, make, inputs, kwargs", LAYERS + MODELS, ids=[case[0] for case in LAYERS + MODELS])
def test_serialization_round_trip(name, make, inputs, kwargs):
    layer = make()
    assert type(layer).__name__ == name
    support.check_layer_round_trip(layer, *inputs, **kwargs)


@pytest.mark.parametrize("name, make, inputs, kwargs", MODELS, ids=[case[0] for case in MODELS])
def test_keras_file_round_trip(tmp_path, name, make, inputs, kwargs):
    support.check_keras_file_round_trip(make(), tmp_path / f"{name}.keras", *inputs, **kwargs)


def test_every_layer_class_is_covered():
    import keras

    covered = {case[0] for case in LAYERS + MODELS}
    for module in (layers, motion, generator, discriminator, i3d):
        for name, value in vars(module).items():
            defined_here = isinstance(value, type) and value.__module__ == module.__name__
            if defined_here and issubclass(value, keras.layers.Layer):
                assert name in covered, f"{module.__name__}.{name} is not in the serialization harness"
