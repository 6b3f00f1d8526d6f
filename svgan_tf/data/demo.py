"""The built-in synthetic dataset ("demo[:SEED]"): solid shapes moving, bouncing and rotating on plain backgrounds.

No files: every frame is rendered on demand (NumPy) as a pure function of (seed, video, frame), so that tests,
benchmarks and the demo configuration need no data.
"""

import numpy as np
import tensorflow as tf

from svgan_tf.data import sampling as sampling_lib
from svgan_tf.data import sources


def is_demo(path):
    """Whether a dataset path names the synthetic dataset ("demo" or "demo:SEED")."""
    return path == "demo" or path.startswith("demo:")


class DemoSource(sources.VideoSource):
    """Deterministic synthetic videos: one or two large solid discs and squares moving, bouncing and rotating
    over a plain dark background. Every frame is a pure function of (seed, video, frame).

    Few, large, solid shapes on a flat background keep the distribution learnable by the demo configuration in
    minutes on a CPU (with drifting striped backgrounds and three small shapes it learned only moving blobs).
    """

    def __init__(self, seed=0, resolution=32, num_videos=128, min_length=64, max_length=128,
                 sampling=sampling_lib.SamplingConfig()):
        """Builds the index (lengths are drawn per video from the seed).

        Args:
            seed: dataset seed (non-negative).
            resolution: frame size, >= 8.
            num_videos: number of videos.
            min_length: shortest video (frames).
            max_length: longest video (frames).
            sampling: SamplingConfig deciding which videos are too short.
        """
        if resolution < 8 or seed < 0 or not 1 <= min_length <= max_length:
            raise ValueError(f"demo: need resolution >= 8, seed >= 0, 1 <= min_length <= max_length; got "
                             f"resolution={resolution}, seed={seed}, lengths {min_length}..{max_length}")
        self._seed, self._resolution = seed, resolution
        self._min_length, self._max_length = min_length, max_length
        lengths = np.array([self._params(v)["length"] for v in range(num_videos)], np.int64)
        keep = sources.keep_long_videos(f"demo:{seed}", lengths, sampling)
        self._videos = np.flatnonzero(keep)
        self.index = sources.VideoIndex(
            description=f"demo:{seed}: {int(keep.sum())} synthetic videos of {min_length}..{max_length} frames "
                        f"at {resolution}x{resolution}",
            video_names=tuple(f"demo{v:05d}" for v in self._videos), lengths=lengths[keep],
            labels=np.zeros([int(keep.sum()), 0], np.float32), resolution=resolution,
            num_skipped=int(np.sum(~keep)))

    def _params(self, video):
        """Random description of one video; the length is drawn first so the index needs nothing else."""
        rng = np.random.default_rng([self._seed, int(video)])
        length = int(rng.integers(self._min_length, self._max_length + 1))
        num_shapes = int(rng.integers(1, 3))
        return dict(
            length=length,
            background=rng.uniform(0.0, 0.3, 3),
            is_disc=rng.random(num_shapes) < 0.5,
            # Saturated colours: each channel bright or off (never all off), far from the dark background.
            colors=np.where(_some_on(rng, num_shapes), rng.uniform(0.7, 1.0, [num_shapes, 3]), 0.1),
            sizes=rng.uniform(0.17, 0.25, num_shapes),
            starts=rng.uniform(0, 1, [num_shapes, 2]),
            velocities=rng.uniform(0.01, 0.03, [num_shapes, 1]) * _unit_vectors(rng, num_shapes),
            angles=rng.uniform(0, 2 * np.pi, num_shapes),
            spins=rng.uniform(0.03, 0.1, num_shapes) * rng.choice([-1, 1], num_shapes),
        )

    def render(self, video, frames):
        """uint8 [k, R, R, 3] frames of kept video `video` (NumPy)."""
        p = self._params(self._videos[video])
        t = np.asarray(frames, np.float64)[:, None, None]  # [k, 1, 1]
        coords = (np.arange(self._resolution) + 0.5) / self._resolution  # pixel centres in [0, 1]
        y, x = coords[:, None], coords[None, :]
        image = np.broadcast_to(p["background"], t.shape + (3,))  # [k, 1, 1, 3]
        for i in range(len(p["sizes"])):
            r = p["sizes"][i]
            centre = _bounce(p["starts"][i] * (1 - 2 * r) + r + p["velocities"][i] * t[..., None], r)
            angle = p["angles"][i] + p["spins"][i] * t
            dx, dy = x - centre[..., 0], y - centre[..., 1]
            u = dx * np.cos(angle) + dy * np.sin(angle)  # coordinates in the shape's rotating frame
            v = -dx * np.sin(angle) + dy * np.cos(angle)
            distance = np.hypot(u, v) - r if p["is_disc"][i] else np.maximum(abs(u), abs(v)) - 0.8 * r
            # Anti-aliased coverage; the darker half makes the rotation of discs visible.
            cover = np.clip(0.5 - distance * self._resolution, 0, 1)[..., None]
            shade = np.where(u > 0, 1.0, 0.55)[..., None]
            image = image * (1 - cover) + p["colors"][i] * shade * cover
        return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)

    def load_frames(self, video, frames):
        images = tf.numpy_function(self.render, [video, frames], tf.uint8, stateful=False)
        return tf.ensure_shape(images, [frames.shape[0], self._resolution, self._resolution, 3])


def _some_on(rng, n):
    """[n, 3] booleans, each row with at least one True: which colour channels of a shape are lit."""
    on = rng.random([n, 3]) < 0.5
    on[np.arange(n), rng.integers(0, 3, n)] = True
    return on


def _unit_vectors(rng, n):
    angles = rng.uniform(0, 2 * np.pi, n)
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _bounce(position, margin):
    """Reflects free motion into [margin, 1 - margin] (elastic bounces off the frame border)."""
    width = 1 - 2 * margin
    phase = np.mod(position - margin, 2 * width)
    return margin + np.where(phase < width, phase, 2 * width - phase)
