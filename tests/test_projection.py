"""svgan_tf.projection: projecting a generator's own frames recovers them, a video's motion is recovered only
when the tokens are optimised, the perceptual distance is a distance, and latents files round-trip."""

import keras
import numpy as np
import PIL.Image
import pytest
import tensorflow as tf

from svgan_tf import latents, projection
from svgan_tf.metrics.inception import InceptionV3
from tests.support import tiny_generator, write_bar_video


def _pixels_only(a, b):
    return tf.zeros([tf.shape(a)[0]])


@pytest.fixture(scope="module")
def G():
    keras.utils.set_random_seed(1)  # the untrained generator's weights, fixed: the margins below are measured on them
    return tiny_generator()


def _video(G, seed, times):
    start, length = G.token_window(times[None])
    motion_z = latents.MotionTokenStream(seed, G.motion_z_dim).window(0, start + length)[None]
    return G(latents.content_z(seed, G.z_dim)[None], times[None], motion_z).numpy()[0]


def test_projecting_a_generated_frame_recovers_it(G):
    target = _video(G, 5, np.zeros(1, np.float32))
    result = projection.project(G, target, num_steps=60, distance=_pixels_only, motion_seed=5)
    start, end = projection.psnr(result.initial_frames, target)[0], projection.psnr(result.frames, target)[0]
    assert end > start + 15, (start, end)  # measured: 37.3 dB
    assert result.motion_z.shape == (1, G.token_window(np.zeros((1, 1)))[1], G.motion_z_dim)
    np.testing.assert_array_equal(result.motion_z[0], latents.MotionTokenStream(5, G.motion_z_dim).window(
        0, len(result.motion_z[0])))  # an image target leaves the motion at its seeded draw
    assert result.losses[-1] < result.losses[0]


def test_video_projection_recovers_the_motion_only_with_the_tokens(G):
    times = np.arange(4, dtype=np.float32) * 3
    target = _video(G, 5, times)
    joint = projection.project(G, target, times, num_steps=60, distance=_pixels_only, motion_seed=1)
    w_only = projection.project(G, target, times, num_steps=60, optimize_motion=False, distance=_pixels_only,
                                motion_seed=1)
    joint_psnr, w_only_psnr = projection.psnr(joint.frames, target), projection.psnr(w_only.frames, target)
    assert joint_psnr.mean() > w_only_psnr.mean() + 3, (joint_psnr, w_only_psnr)  # measured: 23.6 vs 16.5 dB
    assert not np.array_equal(joint.motion_z, w_only.motion_z)


def test_projection_is_seeded_and_w_plus_has_a_code_per_layer(G):
    target = _video(G, 2, np.zeros(1, np.float32))
    a, b = (projection.project(G, target, num_steps=3, w_plus=True, distance=_pixels_only, seed=4) for _ in range(2))
    np.testing.assert_array_equal(a.ws, b.ws)
    assert a.ws.shape == (1, G.num_ws, G.w_dim) and not np.allclose(a.ws[:, 0], a.ws[:, -1])


def _random_inception():
    model = InceptionV3()
    rng = np.random.default_rng(0)
    for layer in model.units().values():
        fan_in = np.prod(layer.kernel.shape[:-1])
        layer.kernel.assign(rng.standard_normal(layer.kernel.shape).astype(np.float32) * np.sqrt(2.0 / fan_in))
    return model


def test_inception_distance_is_a_distance():
    distance = projection.InceptionDistance(_random_inception(), size=80)
    rng = np.random.default_rng(1)
    a = rng.uniform(-1, 1, (2, 16, 16, 3)).astype(np.float32)
    near = np.clip(a + 0.05 * rng.standard_normal(a.shape), -1, 1).astype(np.float32)
    far = rng.uniform(-1, 1, a.shape).astype(np.float32)
    np.testing.assert_allclose(distance(a, a).numpy(), 0.0, atol=1e-6)
    d_near, d_far = distance(a, near).numpy(), distance(a, far).numpy()
    assert np.all(d_near > 0) and np.all(d_far > d_near) and np.all(d_far <= 4)
    np.testing.assert_allclose(distance(far, a).numpy(), d_far, rtol=1e-5)
    x = tf.Variable(far)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(distance(x, a))
    assert float(tf.reduce_sum(tf.abs(tape.gradient(loss, x)))) > 0


def test_psnr():
    a = np.zeros((2, 4, 4, 3), np.float32)
    b = a.copy()
    b[1] += 0.2  # MSE 0.04 on a peak-to-peak range of 2: 10 log10(4 / 0.04) = 20 dB
    np.testing.assert_allclose(projection.psnr(a, b), [10 * np.log10(4 / 1e-12), 20.0], atol=1e-9)  # MSE floor 1e-12


def test_learning_rate_schedule():
    rates = [projection.learning_rate(i, 100) for i in range(100)]
    assert rates[0] == 0 and max(rates) == pytest.approx(0.1) and rates[-1] < 0.01
    assert rates.index(max(rates)) < 10


def test_load_target_image_folder_and_video(tmp_path):
    image = np.zeros((20, 30, 3), np.uint8)
    image[:, 5:25] = 255  # the centre 20x20 square is white
    PIL.Image.fromarray(image).save(tmp_path / "a.png")
    np.testing.assert_allclose(projection.load_target(str(tmp_path / "a.png"), 8), 1.0)
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(5):
        PIL.Image.fromarray(np.full((8, 8, 3), 50 * i, np.uint8)).save(folder / f"{i:03d}.png")
    frames = projection.load_target(str(folder), 8, num_frames=2, frame_step=2)
    np.testing.assert_allclose(frames[:, 0, 0, 0], [-1.0, 100 / 127.5 - 1])
    write_bar_video(tmp_path / "v.mp4", 6)
    assert projection.load_target(str(tmp_path / "v.mp4"), 16, num_frames=4).shape == (4, 16, 16, 3)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="notes.txt"):
        projection.load_target(str(tmp_path / "notes.txt"), 8)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no image files"):
        projection.load_target(str(tmp_path / "empty"), 8)


def test_latents_round_trip_and_checks(G, tmp_path):
    target = _video(G, 1, np.zeros(1, np.float32))
    result = projection.project(G, target, num_steps=2, distance=_pixels_only)
    path = str(tmp_path / "latents.npz")
    projection.save_latents(path, result, motion_seed=0)
    ws, motion_z = projection.load_latents(path, G)
    np.testing.assert_array_equal(ws, result.ws)
    np.testing.assert_array_equal(motion_z, result.motion_z)
    np.testing.assert_array_equal(np.load(path)["w"], result.ws[:, 0])
    with pytest.raises(FileExistsError):
        projection.save_latents(path, result, motion_seed=0)
    with pytest.raises(ValueError, match="ws has shape"):
        projection.load_latents(path, tiny_generator(w_dim=10))
    np.savez(tmp_path / "other.npz", x=np.zeros(2))
    with pytest.raises(ValueError, match="other.npz: no 'ws'"):
        projection.load_latents(str(tmp_path / "other.npz"), G)
