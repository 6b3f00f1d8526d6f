"""Tiny model configurations shared by the tests (CPU-fast, every architectural feature kept)."""

from svgan_tf.networks.discriminator import Discriminator
from svgan_tf.networks.generator import Generator
from svgan_tf.training.config import TrainConfig

TINY_G = dict(z_dim=8, w_dim=12, img_resolution=32, channel_base=256, channel_max=16, num_fp16_res=0,
              conv_clamp=256, motion_z_dim=6, motion_v_dim=10, motion_kernel_size=3, motion_z_distance=4,
              time_enc_dim=5, min_period_len=4, max_period_len=64, max_num_frames=64)
TINY_D = dict(img_resolution=32, channel_base=256, channel_max=16, num_fp16_res=0, conv_clamp=256, num_frames=3,
              concat_res=8, max_num_frames=64, time_embed_dim=8, mbstd_group_size=2)

# A tiny training run on the built-in synthetic videos: a step takes well under a second on a CPU.
TINY_TRAIN = TrainConfig(
    data="demo", batch=4, z_dim=16, w_dim=16, mapping_layers=1, channel_base=256, channel_max=16,
    motion_z_dim=8, motion_v_dim=8, motion_kernel_size=3, time_enc_dim=4, min_period_len=8, max_period_len=64,
    max_num_frames=64, num_fp16_res=0, d_mapping_layers=1, concat_res=8, r1_interval=2, ada_interval=2,
    aug_p=0.2, kimg=0.012 * 6, tick_kimg=0.012 * 2, snapshot_kimg=0.012 * 2, seed=3)  # 12 frames per step


def tiny_generator(**overrides):
    return Generator(**{**TINY_G, **overrides})


def tiny_discriminator(**overrides):
    return Discriminator(**{**TINY_D, **overrides})
