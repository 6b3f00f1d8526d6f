"""Projection: the content code and, for a video, the motion-noise tokens with which a generator reconstructs a
target; the library of `python -m svgan_tf.project`.

* `InceptionDistance`: the perceptual distance used without the reference's LPIPS-VGG16 file. The FID
  Inception-v3 the project ships (`svgan_tf.metrics.inception`) is cut after `mixed_2` (the last 35x35 block at
  its native size); the images are bilinearly resized to `PERCEPTUAL_SIZE` (128: the units are convolutions, a
  smaller input keeps the optimisation cheap for 32-256 pixel frames) and the activations of `conv_2` (64
  channels), `conv_4` (192) and `mixed_2` (288) are compared as LPIPS compares VGG activations, without its
  learned per-channel weights: each position's feature vector is scaled to unit length, the squared difference
  summed over channels, averaged over positions, and the units averaged. 0 for equal images, at most 4.
* `project`: StyleGAN2's projector (Karras et al., CVPR 2020) extended to videos. The content code starts
  at `w_avg` (the reference's start), optimised with Adam under its learning-rate schedule (linear ramp-up over
  the first 5% of steps, cosine ramp-down over the last 25%) with Gaussian noise added to w (5% of the spread of
  w, fading quadratically to 0 at 75% of the steps), against `distance + pixel_weight * MSE` over all target
  frames at their times. For a video the motion-noise tokens under the frames (`Generator.token_window`) are
  optimised with it, starting from a seeded draw and kept near the unit-Gaussian shell by `motion_reg` times
  the squared deviation of each token's mean square from 1: the frames of one content differ only by their
  motion code, so a w-only fit of a moving target can only find the average frame; the tokens recover the
  motion (measured in docs/latent_tools.md).
* `load_target`: an image, a video file or a folder of frames, centre-cropped and resized to the generator.
* `psnr`: peak signal-to-noise ratio of frames in [-1, 1].

Everything is seeded: the initial tokens are the `svgan_tf.latents` stream of `motion_seed` and the w noise a
stateless draw from `seed`, so a projection is repeatable.
"""

import dataclasses
import math
import os

import keras
import numpy as np
import tensorflow as tf

from svgan_tf import atomic, latents
from svgan_tf.data import sources
from svgan_tf.data.convert import crop_resize, is_video_file
from svgan_tf.data.video import read_mp4
from svgan_tf.metrics import inception

PERCEPTUAL_SIZE = 128
PERCEPTUAL_UNITS = ("conv_2", "conv_4", "mixed_2")
W_AVG_SAMPLES = 10000  # z draws that estimate the spread of w (StyleGAN2's projector)


class InceptionDistance:
    """The perceptual distance of the module docstring, differentiable: `distance(a, b)` -> [N].

    Args:
        model: an `svgan_tf.metrics.inception.InceptionV3` (default: the shipped FID weights).
        size: side the images are resized to before the network.
    """

    def __init__(self, model=None, size=PERCEPTUAL_SIZE):
        self.model = inception.get_model() if model is None else model
        self.size = size

    def features(self, images):
        """The compared activations of images in [-1, 1] [N, H, W, 3]: a list of [N, h, w, c], unit-normalised."""
        # The generator's [-1, 1] as the uint8 scale the network was trained on, then the network's x / 128 - 1.
        x = (tf.cast(images, tf.float32) + 1.0) * (127.5 / 128.0) - 1.0
        x = tf.image.resize(x, [self.size, self.size], method="bilinear")
        stem, blocks = self.model.stem, self.model.blocks
        conv_2 = stem["conv_2"](stem["conv_1"](stem["conv"](x)))
        conv_4 = stem["conv_4"](stem["conv_3"](inception._max_pool_3x3(conv_2, 2)))
        mixed_2 = blocks["mixed_2"](blocks["mixed_1"](blocks["mixed"](inception._max_pool_3x3(conv_4, 2))))
        return [f * tf.math.rsqrt(tf.reduce_sum(tf.square(f), axis=-1, keepdims=True) + 1e-10)
                for f in (conv_2, conv_4, mixed_2)]

    def __call__(self, a, b):
        """Distance per image pair of [N, H, W, 3] images in [-1, 1]: float32 [N]."""
        units = [tf.reduce_mean(tf.reduce_sum(tf.square(fa - fb), axis=-1), axis=[1, 2])
                 for fa, fb in zip(self.features(a), self.features(b))]
        return tf.add_n(units) / len(units)


def psnr(a, b):
    """PSNR in dB of frames in [-1, 1] (peak-to-peak 2) per frame: [N, H, W, C] x2 -> float64 [N]."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    mse = np.mean(np.square(np.clip(a, -1, 1) - np.clip(b, -1, 1)), axis=tuple(range(1, a.ndim)))
    return 10.0 * np.log10(4.0 / np.maximum(mse, 1e-12))


def load_target(path, resolution, num_frames=None, frame_step=1):
    """The frames of an image, a video file or a folder of frames, as float32 [F, R, R, 3] in [-1, 1].

    Args:
        path: an image (.png / .jpg), a video file (.mp4, ...) or a directory of image files (sorted by name).
        resolution: the generator's resolution (every frame is centre-cropped to a square and resized).
        num_frames: frames to keep (None: all; an image is one frame).
        frame_step: keep every `frame_step`-th frame of a video or folder.

    Raises:
        ValueError: naming `path`, when it holds no frames or is of an unknown kind.
    """
    if os.path.isdir(path):
        names = sorted(n for n in os.listdir(path) if sources.is_image_file(n))
        if not names:
            raise ValueError(f"{path}: no image files ({'/'.join(sources.IMAGE_EXTENSIONS)}) found.")
        names = names[::frame_step][:num_frames]
        frames = [_read_image(os.path.join(path, n)) for n in names]
    elif is_video_file(path):
        frames = list(read_mp4(path)[::frame_step][:num_frames])
        if not frames:
            raise ValueError(f"{path}: the video has no frames.")
    elif sources.is_image_file(path):
        frames = [_read_image(path)]
    else:
        raise ValueError(f"{path}: not an image ({'/'.join(sources.IMAGE_EXTENSIONS)}), a video file or a folder of "
                         "frames.")
    frames = np.stack([crop_resize(f, resolution) for f in frames])
    return frames.astype(np.float32) / 127.5 - 1.0


def _read_image(path):
    import PIL.Image

    with PIL.Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def w_statistics(G, samples=W_AVG_SAMPLES, seed=0):
    """(w_avg [w_dim], w_std scalar): the tracked average and the RMS distance of mapped z draws from it.

    Args:
        G: the generator.
        samples: z draws.
        seed: their seed.
    """
    z = np.random.default_rng(seed).standard_normal((samples, G.z_dim)).astype(np.float32)
    c = None
    if G.c_dim:
        c = np.eye(G.c_dim, dtype=np.float32)[np.arange(samples) % G.c_dim]
    w = G.mapping(z, c)[:, 0].numpy()
    w_avg = np.asarray(G.mapping.w_avg) if G.mapping.w_avg is not None else w.mean(0)
    return w_avg.astype(np.float32), float(np.sqrt(np.mean(np.sum(np.square(w - w_avg), axis=1))))


@dataclasses.dataclass
class Projection:
    """The result of `project`.

    Attributes:
        ws: float32 [1, num_ws, w_dim] content code (the same w in every row unless `w_plus`).
        motion_z: float32 [1, L, motion_z_dim] motion-noise tokens 0 .. L-1 of the video.
        times: float32 [F] the target frames' times.
        frames: float32 [F, R, R, 3] the reconstruction.
        initial_frames: float32 [F, R, R, 3] the starting point (w_avg, the initial tokens): the baseline.
        losses: the loss of every step.
        w_plus: whether ws holds one code per layer.
    """

    ws: np.ndarray
    motion_z: np.ndarray
    times: np.ndarray
    frames: np.ndarray
    initial_frames: np.ndarray
    losses: list
    w_plus: bool


def learning_rate(step, num_steps, initial=0.1, rampdown=0.25, rampup=0.05):
    """StyleGAN2's projector schedule at `step` of `num_steps`."""
    t = step / num_steps
    ramp = min(1.0, (1.0 - t) / rampdown) * min(1.0, t / rampup)
    return initial * (0.5 - 0.5 * math.cos(ramp * math.pi))


def project(G, target, times=None, num_steps=300, w_plus=False, optimize_motion=None, seed=0, motion_seed=0,
            initial_lr=0.1, noise_factor=0.05, noise_ramp=0.75, pixel_weight=1.0, motion_reg=0.1, distance=None,
            c=None, progress=None):
    """Projects target frames into the generator (see the module docstring).

    Args:
        G: the generator (float32).
        target: float32 [F, R, R, 3] in [-1, 1].
        times: float32 [F] frame times (default 0, 1, ..., F - 1).
        num_steps: optimisation steps.
        w_plus: one code per synthesis layer (W+) instead of one w for all.
        optimize_motion: optimise the motion tokens (default: for targets of more than one frame).
        seed: seed of the w noise.
        motion_seed: seed of the initial motion tokens (`svgan_tf.latents.MotionTokenStream`).
        initial_lr: peak Adam learning rate.
        noise_factor: w noise at step 0, relative to the spread of w.
        noise_ramp: fraction of the steps over which the noise fades.
        pixel_weight: weight of the pixel MSE (images in [-1, 1]).
        motion_reg: weight of the token prior.
        distance: the perceptual distance (default `InceptionDistance()`); any callable (a, b) -> [N].
        c: [1, c_dim] class label of a conditional model.
        progress: called with (step, loss) after each step.

    Returns:
        A `Projection`.
    """
    target = tf.constant(np.asarray(target, np.float32))
    num_frames = int(target.shape[0])
    times = np.arange(num_frames, dtype=np.float32) if times is None else np.asarray(times, np.float32)
    if times.shape != (num_frames,):
        raise ValueError(f"times must be [{num_frames}], got {times.shape}.")
    if optimize_motion is None:
        optimize_motion = num_frames > 1
    distance = InceptionDistance() if distance is None else distance
    w_avg, w_std = w_statistics(G)
    start, length = G.token_window(times[None])
    initial = latents.MotionTokenStream(motion_seed, G.motion_z_dim).window(0, start + length)[None]
    num_codes = G.num_ws if w_plus else 1
    w_var = keras.Variable(np.tile(w_avg[None, None], [1, num_codes, 1]), name="w")
    z_var = keras.Variable(initial, name="motion_z", trainable=optimize_motion)
    variables = [w_var, z_var] if optimize_motion else [w_var]
    optimizer = keras.optimizers.Adam(learning_rate=initial_lr, beta_1=0.9, beta_2=0.999)
    optimizer.build(variables)
    t = tf.constant(times[None])

    def render(ws, motion_z):
        ws = tf.broadcast_to(ws, [1, G.num_ws, G.w_dim])
        return G.synthesize(ws, t, motion_z, c=c)[0]

    initial_frames = render(w_var, z_var).numpy()

    def loss_of(frames, motion_z):
        loss = tf.reduce_mean(distance(frames, target)) + pixel_weight * tf.reduce_mean(tf.square(frames - target))
        if optimize_motion:
            loss += motion_reg * tf.reduce_mean(tf.square(tf.reduce_mean(tf.square(motion_z), axis=-1) - 1.0))
        return loss

    @tf.function
    def step(noise_scale, key):
        noise = tf.random.stateless_normal(w_var.shape, seed=key) * noise_scale
        with tf.GradientTape() as tape:
            loss = loss_of(render(w_var + noise, z_var), z_var)
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    losses = []
    for i in range(num_steps):
        optimizer.learning_rate.assign(learning_rate(i, num_steps, initial_lr))
        noise_scale = w_std * noise_factor * max(0.0, 1.0 - i / (noise_ramp * num_steps)) ** 2
        losses.append(float(step(tf.constant(noise_scale, tf.float32), tf.constant([seed, i], tf.int64))))
        if progress is not None:
            progress(i + 1, losses[-1])
    ws = np.broadcast_to(w_var.numpy(), [1, G.num_ws, G.w_dim]).copy()
    motion_z = z_var.numpy()
    frames = render(ws, motion_z).numpy()
    return Projection(ws=ws, motion_z=motion_z, times=times, frames=frames, initial_frames=initial_frames,
                      losses=losses, w_plus=w_plus)


def save_latents(path, projection, motion_seed, overwrite=False):
    """Writes a projection's latents as `.npz` (atomically): `ws` [1, num_ws, w_dim], `w` [1, w_dim] (when one
    code serves every layer: what an exported frame model's `frame_at_time` takes), `motion_z` [1, L,
    motion_z_dim], `times` [F], `motion_seed` (the seed the tokens were drawn from).
    """
    arrays = dict(ws=projection.ws, motion_z=projection.motion_z, times=projection.times,
                  motion_seed=np.int64(motion_seed))
    if not projection.w_plus:
        arrays["w"] = projection.ws[:, 0]
    with atomic.staged_path(path, overwrite=overwrite) as staging, open(staging, "wb") as f:
        np.savez(f, **arrays)


def load_latents(path, G):
    """The `ws` [1, num_ws, w_dim] and `motion_z` [1, L, motion_z_dim] (None when absent) of a latents `.npz`,
    checked against the generator (`svgan_tf.latents.read_latents_file`).

    Raises:
        ValueError: naming `path`, when it is not such a file or does not fit `G`.
    """
    return latents.read_latents_file(path, G.w_dim, G.motion_z_dim, G.num_ws)
