"""Generator: shapes, truncation, w_avg tracking, mixed precision, serialisation round trips."""

import numpy as np
import pytest
import tensorflow as tf

from svgan_tf.networks.generator import INFERENCE_PRECISIONS, inference_overrides
from tests.support import TINY_G, tiny_generator


def _inputs(G, batch=2, frames=3, seed=0):
    z = tf.random.stateless_normal([batch, G.z_dim], seed=[seed, 1])
    t = tf.constant(np.linspace(0.0, 40.0, batch * frames, dtype=np.float32).reshape(batch, frames))
    motion_z = G.sample_motion_z(batch, G.num_motion_tokens(40.0), seed=[seed, 2])
    return z, t, motion_z


def test_shapes_and_num_ws():
    G = tiny_generator()
    z, t, motion_z = _inputs(G)
    assert G.num_ws == 8  # 2 * log2(32) - 2
    frames = G(z, t, motion_z)
    assert frames.shape == (2, 3, 32, 32, 3) and frames.dtype == tf.float32
    assert G.mapping(z).shape == (2, 8, 12)


def test_fused_and_unfused_generators_agree():
    G = tiny_generator()
    z, t, motion_z = _inputs(G)
    np.testing.assert_allclose(G(z, t, motion_z, fused_modconv=True).numpy(),
                               G(z, t, motion_z, fused_modconv=False).numpy(), atol=1e-4)


def test_truncation_and_cutoff():
    G = tiny_generator()
    G.mapping.w_avg.assign(np.arange(G.w_dim, dtype=np.float32))
    z, _, _ = _inputs(G)
    ws = G.mapping(z).numpy()
    np.testing.assert_allclose(G.mapping(z, truncation_psi=0.0).numpy(),
                               np.broadcast_to(np.arange(G.w_dim, dtype=np.float32), ws.shape))
    cut = G.mapping(z, truncation_psi=0.5, truncation_cutoff=2).numpy()
    np.testing.assert_allclose(cut[:, :2], 0.5 * ws[:, :2] + 0.5 * np.arange(G.w_dim), rtol=1e-6)
    np.testing.assert_array_equal(cut[:, 2:], ws[:, 2:])


def test_w_avg_tracks_only_in_training():
    G = tiny_generator()
    z, _, _ = _inputs(G)
    G.mapping(z, training=False)
    np.testing.assert_array_equal(G.mapping.w_avg.numpy(), 0.0)
    w = G.mapping(z)[:, 0].numpy()
    G.mapping(z, training=True)
    np.testing.assert_allclose(G.mapping.w_avg.numpy(), w.mean(axis=0) * (1 - 0.995), rtol=1e-5, atol=1e-7)


def test_class_conditional_generator():
    G = tiny_generator(c_dim=4)
    z, t, motion_z = _inputs(G)
    c = tf.one_hot([1, 3], 4)
    a = G(z, t, motion_z, c=c).numpy()
    b = G(z, t, motion_z, c=tf.one_hot([2, 3], 4)).numpy()
    assert not np.allclose(a[0], b[0]) and np.allclose(a[1], b[1])
    assert G.motion_mapping.conv0.in_channels == TINY_G["motion_z_dim"] + 4


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_top_resolutions(policy):
    G32 = tiny_generator()
    G16 = tiny_generator(num_fp16_res=2, mixed_precision=policy)
    assert [b.compute_dtype for b in G16.synthesis.blocks] == ["float32", "float32", policy[6:], policy[6:]]
    assert all(v.dtype == "float32" for v in G16.weights)
    for a, b in zip(G16.weights, G32.weights):
        b.assign(a)
    z, t, motion_z = _inputs(G32)
    low = G16(z, t, motion_z).numpy()
    ref = G32(z, t, motion_z).numpy()
    assert low.dtype == np.float32 and np.all(np.isfinite(low))
    # Reduced precision in the two top blocks only: close to float32, but not identical.
    assert 0 < np.abs(low - ref).mean() < 0.05 * np.abs(ref).mean()


def test_inference_precisions():
    # bfloat16: every block above 4x4 (the mixed policies' floor); float16: the reference's top 4 resolutions.
    dtypes = {p: [b.compute_dtype for b in tiny_generator(**inference_overrides(p, 32)).synthesis.blocks]
              for p in INFERENCE_PRECISIONS}
    assert dtypes == {"float32": ["float32"] * 4, "bfloat16": ["float32"] + ["bfloat16"] * 3,
                      "float16": ["float32"] + ["float16"] * 3}
    with pytest.raises(ValueError, match="--precision: unknown precision 'int8'"):
        inference_overrides("int8", 32)


def test_checkpoint_round_trip(tmp_path):
    G = tiny_generator()
    z, t, motion_z = _inputs(G)
    expected = G(z, t, motion_z).numpy()
    prefix = tf.train.Checkpoint(G=G).write(str(tmp_path / "ckpt"))
    other = tiny_generator()
    assert not np.array_equal(other(z, t, motion_z).numpy(), expected)
    tf.train.Checkpoint(G=other).read(prefix).assert_consumed()
    np.testing.assert_array_equal(other(z, t, motion_z).numpy(), expected)


def test_invalid_sizes_are_rejected():
    with pytest.raises(ValueError, match="power of two"):
        tiny_generator(img_resolution=48)
    with pytest.raises(ValueError, match="precision"):
        tiny_generator(motion_precision="float16")
