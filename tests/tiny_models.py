"""Tiny model configurations shared by the tests (CPU-fast, every architectural feature kept)."""

from svgan_tf.networks.discriminator import Discriminator
from svgan_tf.networks.generator import Generator

TINY_G = dict(z_dim=8, w_dim=12, img_resolution=32, channel_base=256, channel_max=16, num_fp16_res=0,
              conv_clamp=256, motion_z_dim=6, motion_v_dim=10, motion_kernel_size=3, motion_z_distance=4,
              time_enc_dim=5, min_period_len=4, max_period_len=64, max_num_frames=64)
TINY_D = dict(img_resolution=32, channel_base=256, channel_max=16, num_fp16_res=0, conv_clamp=256, num_frames=3,
              concat_res=8, max_num_frames=64, time_embed_dim=8, mbstd_group_size=2)


def tiny_generator(**overrides):
    return Generator(**{**TINY_G, **overrides})


def tiny_discriminator(**overrides):
    return Discriminator(**{**TINY_D, **overrides})
