"""What the tests share: paths, tiny model configurations and the Keras layer/model harness.

Test files import helpers from here (and from tests/videos.py, tests/snapshot_writer.py), never from each other.
"""

import inspect

import keras
import numpy as np

from svgan_tf.networks.discriminator import Discriminator
from svgan_tf.networks.generator import Generator

# Tiny networks (CPU-fast, every architectural feature kept).
TINY_G = dict(z_dim=8, w_dim=12, img_resolution=32, channel_base=256, channel_max=16, num_fp16_res=0,
              conv_clamp=256, motion_z_dim=6, motion_v_dim=10, motion_kernel_size=3, motion_z_distance=4,
              time_enc_dim=5, min_period_len=4, max_period_len=64, max_num_frames=64)
TINY_D = dict(img_resolution=32, channel_base=256, channel_max=16, num_fp16_res=0, conv_clamp=256, num_frames=3,
              concat_res=8, max_num_frames=64, time_embed_dim=8, mbstd_group_size=2)


def tiny_generator(**overrides):
    """A Generator of `TINY_G` (with `overrides`)."""
    return Generator(**{**TINY_G, **overrides})


def tiny_discriminator(**overrides):
    """A Discriminator of `TINY_D` (with `overrides`)."""
    return Discriminator(**{**TINY_D, **overrides})


def check_layer_round_trip(layer, *inputs, **call_kwargs):
    """Keras serialisation (`get_config`, the registered class name) rebuilds the same layer, which computes the
    same output with the same weights.

    Args:
        layer: a built layer (or model) of the package.
        *inputs: positional call arguments.
        **call_kwargs: keyword call arguments.
    Returns:
        The clone.
    """
    expected = layer(*inputs, **call_kwargs)
    arguments = inspect.signature(type(layer).__init__).parameters
    missing = {name for name, p in arguments.items() if p.kind is p.POSITIONAL_OR_KEYWORD} - {"self"} \
        - set(layer.get_config())
    assert not missing, f"{type(layer).__name__}.get_config() lacks constructor arguments {sorted(missing)}"
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(clone) is type(layer) and clone.get_config() == layer.get_config()
    _assign_weights(clone, layer, *inputs, **call_kwargs)
    _assert_same_outputs(clone(*inputs, **call_kwargs), expected)
    return clone


def check_keras_file_round_trip(model, path, *inputs, **call_kwargs):
    """A `.keras` file (Keras' own format: config + weights) loads back as the same model with the same outputs.

    Args:
        model: a built model of the package.
        path: where to write the `.keras` file.
        *inputs: positional call arguments.
        **call_kwargs: keyword call arguments.
    """
    expected = model(*inputs, **call_kwargs)
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(model) and loaded.get_config() == model.get_config()
    _assert_same_outputs(loaded(*inputs, **call_kwargs), expected)


def _assign_weights(clone, layer, *inputs, **call_kwargs):
    if len(clone.weights) != len(layer.weights):  # weights created on the first call
        clone(*inputs, **call_kwargs)
    assert [w.path for w in clone.weights] == [w.path for w in layer.weights]
    for target, source in zip(clone.weights, layer.weights):
        target.assign(source)


def _assert_same_outputs(actual, expected):
    for a, e in zip(keras.tree.flatten(actual), keras.tree.flatten(expected)):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(e))


def projection_detector(batch):
    """A metric feature detector for tests: a fixed random projection of 4x4-pooled pixels (cheap, sees content).

    Args:
        batch: uint8 clips [N, ..., H, W, C].
    Returns:
        float features [N, 8].
    """
    batch = np.asarray(batch, np.float32) / 255.0
    flat = batch.reshape(len(batch), -1, 4, batch.shape[-1]).mean(axis=2).reshape(len(batch), -1)
    return flat @ np.random.default_rng(0).standard_normal((flat.shape[1], 8))


# `evaluate.default_detectors()` with the projection in place of I3D and Inception.
STUB_DETECTORS = {"fvd": ("stub", projection_detector), "fid": ("stub", lambda frames: projection_detector(frames[:, None]))}

