"""python -m svgan_tf.project --checkpoint=runs/sky --target=photo.png --out=projected

Embeds a real image or video into a generator (`svgan_tf.projection`): finds the content code w (one for all
layers, or one per layer with `--w_plus`) starting from w_avg and, for a video target (a video file or a folder
of frames), the motion-noise tokens under its frames, so that the generator reconstructs it. The loss is the
Inception perceptual distance of `svgan_tf.projection` (FID Inception-v3 features, shipped with the project),
or with `--vgg16=PATH` the reference's LPIPS-VGG16 (`svgan_tf.metrics.lpips_vgg16`), plus `--pixel_weight`
times the pixel MSE; nothing is downloaded.

Outputs in `--out`:

* `latents.npz`: `ws` [1, num_ws, w_dim], `w` [1, w_dim] (without `--w_plus`), `motion_z` [1, L, motion_z_dim]
  (tokens 0 .. L-1 of the video), `times` [F], `motion_seed`. `svgan_tf.generate --latents=latents.npz` renders
  the projected content (with the motion of `--seeds`); `svgan_tf.edit --latents=latents.npz` edits it; the
  exported models render it too, with the motion of their seed: `svgan_tf.serve_client --latents=...` (TF
  Serving, through `frame_at_time`) and `svgan_tf.play --latents=...` (LiteRT). They take one w for every
  layer, so not a `--w_plus` projection. Any other frame-at-time client takes the tensors explicitly: `w`
  for `frame_at_time`'s w, and `motion_z[:, s:s + window_length]` with s = floor(t / motion_z_distance) for
  its window at time t (the projected video's own motion).
* `reconstruction.png`: the target frames (top row) beside their reconstruction (bottom row).
* `animation.<ext>` (`--animation_format`): the projected content with the fresh motion of `--motion_seed`
  (for an image target, the motion it was projected with: its first frame is the reconstruction), the
  paper's "animate a real photo".
* `metrics.json`: per-frame PSNR (dB) and perceptual distance of the reconstruction and of the start (w_avg,
  initial tokens), and the settings.

Video targets: `--num_frames` frames, every `--frame_step`-th, placed at times 0, `--time_step`, ...;
`--motion=fixed` fits w only (a baseline: a fixed motion cannot follow the target's).
"""

import os
import sys

import numpy as np
from absl import flags

from svgan_tf import atomic, cli, generation, projection
from svgan_tf.data import video
from svgan_tf.training import summaries

cli.define_checkpoint_flag()
flags.DEFINE_string("target", None, "Image (.png/.jpg), video file, or folder of frames to project.", required=True)
cli.define_out_flag("Output directory (latents.npz, reconstruction.png, animation.<ext>, metrics.json).")
flags.DEFINE_integer("num_steps", 300, "Optimisation steps.")
flags.DEFINE_bool("w_plus", False, "Optimise one code per synthesis layer (W+) instead of one w.")
flags.DEFINE_enum("motion", "auto", ["auto", "optimize", "fixed"], "Motion tokens: optimised with w (auto: for "
                  "video targets) or fixed at the draw of --motion_seed.")
flags.DEFINE_integer("num_frames", 16, "Video targets: frames to project.")
flags.DEFINE_integer("frame_step", 1, "Video targets: use every frame_step-th frame.")
flags.DEFINE_float("time_step", 1.0, "Video targets: generator time between consecutive projected frames.")
flags.DEFINE_integer("seed", 0, "Seed of the optimisation noise.")
flags.DEFINE_integer("motion_seed", 0, "Seed of the initial (and, for the animation, fresh) motion tokens.")
flags.DEFINE_string("vgg16", None, "The reference's LPIPS-VGG16 file (StyleGAN2-ADA's vgg16.pt, read as data): its "
                    "LPIPS replaces the Inception distance.")
flags.DEFINE_float("pixel_weight", 1.0, "Weight of the pixel MSE beside the perceptual distance.")
flags.DEFINE_float("lr", 0.1, "Peak learning rate.")
flags.DEFINE_integer("animation_frames", 32, "Frames of the animation (0: none).")
flags.DEFINE_enum("animation_format", "gif", ["gif", "mp4", "frames"], "Format of the animation.")
flags.DEFINE_float("fps", 25.0, "Frames per second of the animation.")
cli.define_overwrite_flag()

FLAGS = flags.FLAGS
OUTPUTS = ("latents.npz", "reconstruction.png", "metrics.json")


def _plan():
    """The validated flags -> output paths; touches no file."""
    if not os.path.exists(FLAGS.target):
        raise cli.UserError(f"--target: {FLAGS.target} does not exist.")
    if FLAGS.vgg16 is not None and not os.path.isfile(FLAGS.vgg16):
        raise cli.UserError(f"--vgg16: {FLAGS.vgg16} is not a file.")
    for flag, value in (("--num_steps", FLAGS.num_steps), ("--num_frames", FLAGS.num_frames),
                        ("--frame_step", FLAGS.frame_step)):
        if value < 1:
            raise cli.UserError(f"{flag}: must be >= 1, got {value}.")
    if FLAGS.animation_frames < 0:
        raise cli.UserError(f"--animation_frames: must be >= 0, got {FLAGS.animation_frames}.")
    cli.check_timing(0.0, FLAGS.time_step)
    if os.path.exists(FLAGS.out) and not os.path.isdir(FLAGS.out):
        raise cli.UserError(f"--out: {FLAGS.out} exists and is not a directory.")
    names = list(OUTPUTS)
    if FLAGS.animation_frames:
        names.append("animation" + generation.EXTENSIONS[FLAGS.animation_format])
    paths = {name: os.path.join(FLAGS.out, name) for name in names}
    existing = [p for p in paths.values() if os.path.lexists(p)]
    if existing and not FLAGS.overwrite:
        raise cli.UserError(f"--out: {existing[0]} exists; pass --overwrite to replace, or choose another --out.")
    return paths


def _lpips(path):
    from svgan_tf.interop.unpickle import PickleFormatError, UnsafePickleError
    from svgan_tf.metrics.lpips_vgg16 import LpipsVgg16

    try:
        return LpipsVgg16(path)
    except (PickleFormatError, UnsafePickleError) as error:
        raise cli.UserError(f"--vgg16: {error}") from None


def _summary(frames, target, distance):
    return {"psnr": [round(float(v), 3) for v in projection.psnr(frames, target)],
            "distance": [round(float(v), 4) for v in distance(frames, target).numpy()]}


def main(argv):
    del argv
    paths = _plan()
    G = cli.load_generator(FLAGS.checkpoint)
    if G.c_dim:
        raise cli.UserError(f"--checkpoint: {FLAGS.checkpoint} is a conditional model; projection takes unconditional "
                            "ones.")
    try:
        target = projection.load_target(FLAGS.target, G.img_resolution, FLAGS.num_frames, FLAGS.frame_step)
    except ValueError as error:
        raise cli.UserError(f"--target: {error}") from None
    times = np.arange(len(target), dtype=np.float32) * np.float32(FLAGS.time_step)
    optimize_motion = {"auto": None, "optimize": True, "fixed": False}[FLAGS.motion]
    distance = projection.InceptionDistance() if FLAGS.vgg16 is None else _lpips(FLAGS.vgg16)
    print(f"{FLAGS.target}: {len(target)} frame(s) at {G.img_resolution}x{G.img_resolution}, {FLAGS.num_steps} steps",
          file=sys.stderr)
    bar = summaries.Progress(FLAGS.num_steps, label="projecting: ", unit="steps")
    result = projection.project(G, target, times, num_steps=FLAGS.num_steps, w_plus=FLAGS.w_plus,
                                optimize_motion=optimize_motion, seed=FLAGS.seed, motion_seed=FLAGS.motion_seed,
                                initial_lr=FLAGS.lr, pixel_weight=FLAGS.pixel_weight, distance=distance,
                                progress=lambda step, loss: bar.update(1))
    bar.close()
    os.makedirs(FLAGS.out, exist_ok=True)
    projection.save_latents(paths["latents.npz"], result, FLAGS.motion_seed, overwrite=FLAGS.overwrite)
    pair = summaries.to_uint8(np.stack([target, result.frames])).numpy()
    video.save_png(paths["reconstruction.png"], video.frames_grid(pair))  # absent unless --overwrite: _plan
    metrics = {"reconstruction": _summary(result.frames, target, distance),
               "start_w_avg": _summary(result.initial_frames, target, distance)}
    for entry in metrics.values():
        entry["mean_psnr"] = round(float(np.mean(entry["psnr"])), 3)
        entry["mean_distance"] = round(float(np.mean(entry["distance"])), 4)
    metrics.update(target=FLAGS.target, times=result.times.tolist(), num_steps=FLAGS.num_steps, w_plus=FLAGS.w_plus,
                   motion_optimized=bool(len(target) > 1 if optimize_motion is None else optimize_motion),
                   seed=FLAGS.seed, motion_seed=FLAGS.motion_seed, pixel_weight=FLAGS.pixel_weight,
                   distance="lpips-vgg16" if FLAGS.vgg16 else "inception",
                   final_loss=result.losses[-1])
    atomic.write_json(paths["metrics.json"], metrics, overwrite=FLAGS.overwrite)
    end, start = metrics["reconstruction"], metrics["start_w_avg"]
    print(f"PSNR {end['mean_psnr']:.2f} dB, distance {end['mean_distance']:.4f} (start at w_avg: "
          f"{start['mean_psnr']:.2f} dB, {start['mean_distance']:.4f})", file=sys.stderr)
    if FLAGS.animation_frames:
        path = paths["animation" + generation.EXTENSIONS[FLAGS.animation_format]]
        generation.generate_video(G, path, [0], [FLAGS.motion_seed], num_frames=FLAGS.animation_frames,
                                  fps=FLAGS.fps, overwrite=FLAGS.overwrite, progress=False, ws=result.ws)
    for path in paths.values():
        print(path)


if __name__ == "__main__":
    cli.run(main)
