"""Render a video from a frame-at-time `.tflite` file alone, without TensorFlow.

    python -m svgan_tf.play --model sky.tflite --out video.mp4 --seed 3 --seconds 10 --fps 25

The file is written by `python -m svgan_tf.export tflite`; the player needs only NumPy and the LiteRT
interpreter (`ai_edge_litert`). Frame i is at time t = time_offset + i * time_step (frame units of the
training data: 0.5 renders two frames per training frame, slow motion); seed 3 is the same video as with
`python -m svgan_tf.generate`. The loop, which is also the reference for an on-device integration (README
"On device"), is svgan_tf.export.player. Memory is constant however long the video.
"""

import sys
import time

from absl import flags

from svgan_tf import cli
from svgan_tf.data.video import open_writer
from svgan_tf.export.player import FramePlayer

flags.DEFINE_string("model", None, "Frame-at-time .tflite file.", required=True)
cli.define_out_flag("Output video (.mp4, .gif, or a folder for PNG frames).")
flags.DEFINE_integer("seed", 0, "Content and motion seed (only the motion with --latents).")
flags.DEFINE_string("latents", None, "A latents .npz of svgan_tf.project: its content (one w) with the motion of "
                    "--seed.")
flags.DEFINE_integer("num_frames", None, "Frames to render (or --seconds).")
flags.DEFINE_float("seconds", None, "Duration at --fps when --num_frames is not given (default 4).")
cli.define_timing_flags()
flags.DEFINE_integer("threads", 2, "Interpreter threads.", lower_bound=1)

FLAGS = flags.FLAGS


def main(argv):
    del argv  # cli.run refuses arguments that are not flags
    # Flags first: a mistake is reported before the model is loaded.
    num_frames = cli.video_frames(FLAGS.num_frames, FLAGS.seconds, FLAGS.fps, default_seconds=4.0)
    cli.check_timing(FLAGS.time_offset, FLAGS.time_step)
    player = FramePlayer(FLAGS.model, FLAGS.seed, FLAGS.class_idx, FLAGS.threads, FLAGS.latents)
    start = time.perf_counter()
    with open_writer(FLAGS.out, FLAGS.fps) as writer:
        for i, frame in enumerate(player.frames(num_frames, FLAGS.time_offset, FLAGS.time_step)):
            writer.write(frame[None])
            print(f"\r{i + 1}/{num_frames} frames, {(i + 1) / (time.perf_counter() - start):.2f} frames/s",
                  end="", file=sys.stderr)
    print(f"\n{FLAGS.out}: {num_frames} frames of {player.meta['img_resolution']}^2", file=sys.stderr)


if __name__ == "__main__":
    cli.run(main)
