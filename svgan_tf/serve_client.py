"""Renders videos with an svgan-tf generator running in TensorFlow Serving (REST or gRPC).

    python -m svgan_tf.serve_client --server=localhost --protocol=rest --model=sky --seeds=0-3 \
        --num_frames=128 --fps=25 --out='videos/sky-seed{seed:04d}.mp4'

The model is a SavedModel written by `python -m svgan_tf.export savedmodel` and served by
`tensorflow_model_server` (docs/deployment.md). The client reads the model's sizes and token arithmetic
from the server (its signature metadata and `metadata` signature), then renders each video in requests of
--frames_per_request frames at times t = i * --time_step, sending the motion tokens the frames need.
Seed 3 is the same video here as with `python -m svgan_tf.generate` and the LiteRT player, whatever
--num_frames. How: svgan_tf.export.client.

A server, model or output problem is one line on stderr, with exit status 2.
"""

import dataclasses

from absl import flags

from svgan_tf import cli
from svgan_tf.export import client

_DEFAULTS = client.Options()
flags.DEFINE_string("server", _DEFAULTS.server, "Model server: host or host:port (port 8501 for REST, 8500 for "
                    "gRPC by default).")
flags.DEFINE_enum("protocol", _DEFAULTS.protocol, list(client.DEFAULT_PORTS), "TF Serving API to call.")
flags.DEFINE_string("model", _DEFAULTS.model, "Model name on the server (MODEL_NAME / models.config name).")
flags.DEFINE_integer("version", _DEFAULTS.version, "Model version (default: the latest the server serves).")
flags.DEFINE_string("seeds", _DEFAULTS.seeds, "Seeds, one video each: e.g. 0,3,5-7.")
flags.DEFINE_string("latents", _DEFAULTS.latents, "A latents .npz of svgan_tf.project: its content (one w) in "
                    "every video, with the motion of each seed (rendered by the frame_at_time signature).")
flags.DEFINE_integer("num_frames", _DEFAULTS.num_frames, "Frames per video.")
cli.define_timing_flags(time_offset=False)
# Not cli.define_out_flag: that flag has no default, and this one has.
cli.define_out_flag("Output path (.mp4, .gif, or a directory for PNG frames); {seed} is replaced by the seed "
                    "(required for several seeds).", required=False, default=_DEFAULTS.out)
flags.DEFINE_integer("frames_per_request", _DEFAULTS.frames_per_request, "Frames rendered per request.")
flags.DEFINE_float("timeout", _DEFAULTS.timeout, "Seconds to wait for each call.")
cli.define_overwrite_flag()

FLAGS = flags.FLAGS


def main(argv):
    del argv  # cli.run refuses arguments that are not flags
    client.render_videos(client.Options(**{field.name: FLAGS[field.name].value
                                           for field in dataclasses.fields(client.Options)}))


if __name__ == "__main__":
    cli.run(main)
