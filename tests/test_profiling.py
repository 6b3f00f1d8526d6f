"""svgan_tf.profiling: FLOPs are TensorFlow's profiler count split by resolution, activation bytes the float
tensors a forward pass computes, parameters the trainable weights; flagfiles resolve to the training config."""

import numpy as np
import pytest
import tensorflow as tf

from svgan_tf import profiling
from tests.support import REPO, tiny_discriminator, tiny_generator


def test_graph_profile_of_a_known_graph():
    kernel = tf.constant(np.ones((3, 3, 2, 5), np.float32))

    def f(x):
        return tf.nn.relu(tf.nn.conv2d(x, kernel, 1, "SAME")) * 2.0

    concrete = tf.function(f).get_concrete_function(tf.TensorSpec([1, 8, 8, 2], tf.float32))
    parts = profiling.graph_profile(concrete, lambda name: "all")
    conv = 2 * 8 * 8 * 5 * 3 * 3 * 2  # a multiply-add per kernel tap and output: 2 FLOPs
    assert parts["all"]["flops"] == profiling.profiler_flops(concrete) >= conv
    assert parts["all"]["flops"] <= conv + 2 * 8 * 8 * 5  # plus at most relu and the product, per element
    assert parts["all"]["activation_bytes"] == 3 * 8 * 8 * 5 * 4  # conv, relu, product outputs (float32)
    assert parts["total"] == parts["all"]


def test_generator_profile():
    G = tiny_generator()
    profile = profiling.profile_generator(G)
    parameters, per_frame = profile["parameters"], profile["per_frame"]
    assert parameters["total"] == sum(int(np.prod(v.shape)) for v in G.trainable_weights)
    assert parameters["total"] == parameters["mapping"] + parameters["motion_mapping"] + parameters["synthesis"]
    assert parameters["synthesis"] == sum(parameters[f"synthesis/b{r}"] for r in G.synthesis.block_resolutions)
    assert G.mapping.w_avg is not None and not any(v is G.mapping.w_avg for v in G.trainable_weights)  # a buffer
    blocks = [per_frame[f"synthesis/b{r}"]["gflop"] for r in G.synthesis.block_resolutions]
    assert all(b > 0 for b in blocks) and blocks[-1] > blocks[0]
    assert per_frame["total"]["gflop"] == pytest.approx(sum(v["gflop"] for k, v in per_frame.items() if k != "total"),
                                                        abs=1e-5)
    assert per_frame["motion_mapping"]["gflop"] > 0 and per_frame["total"]["activation_mib"] > 0


def test_discriminator_profile_per_frame_is_per_clip_over_its_frames():
    D = tiny_discriminator()
    profile = profiling.profile_discriminator(D)
    assert profile["parameters"]["total"] == sum(int(np.prod(v.shape)) for v in D.trainable_weights)
    assert profile["parameters"]["total"] == sum(v for k, v in profile["parameters"].items() if k != "total")
    clip, frame = profile["per_clip"]["total"], profile["per_frame"]["total"]
    assert clip["gflop"] > 0
    assert frame["gflop"] == pytest.approx(clip["gflop"] / D.num_frames, abs=1e-6)
    assert set(profile["per_frame"]) >= {f"b{r}" for r in [*D.block_resolutions, 4]}


def test_config_from_flagfile(tmp_path):
    cfg = profiling.config_from_flagfile(REPO / "configs" / "demo.flags", 32)
    assert (cfg.resolution, cfg.z_dim, cfg.channel_base, cfg.motion_kernel_size) == (32, 64, 1024, 5)
    bad = tmp_path / "bad.flags"
    bad.write_text("# comment\n--z_dim=8\n--no_such_flag=1\n")
    with pytest.raises(ValueError, match="bad.flags:3"):
        profiling.config_from_flagfile(bad, 32)
    bad.write_text("--z_dim=eight\n")
    with pytest.raises(ValueError, match="bad.flags:1: 'eight'"):
        profiling.config_from_flagfile(bad, 32)
