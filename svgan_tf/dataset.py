"""Builds StyleGAN-V datasets from videos or frame folders, and checks sources (`--check`).

    python -m svgan_tf.dataset --source=data/sky_frames --out=data/sky_256 --resolution=256
    python -m svgan_tf.dataset --source=rainbow_jelly.mp4 --out=data/jelly_256.zip --skip_frames=150 \
        --chunk_frames=512
    python -m svgan_tf.dataset --source=data/videos --out=data/videos_256 --format=folder --fps=25
    python -m svgan_tf.dataset --source=data/sky_frames --check --min_frames=128 --strict

Sources: a reference-layout folder or zip (`[top/]<video_dir>/<frames>`, with optional dataset.json labels),
one video file, or a directory of video files (.mp4, .avi, .webm, .mov, .mkv at its top level, decoded with
PyAV; the first video stream of each), or "demo[:SEED]" (the synthetic dataset).

Outputs (--format):
* `tfrecord` (the default, unless --out ends in .zip): shards + index.json (svgan_tf.data.tfrecord).
* `folder`: the reference layout OUT/<video>/<%06d.jpg or .png>, plus dataset.json (SG2-ADA format, one
  [frame path, label] pair per frame) when the source has labels.
* `zip`: the same layout below one top-level folder named after the zip (OUT.zip: <name>/<video>/<frame>),
  with explicit directory entries as `zip -r` writes them: the reference loader takes the first sorted
  entry as the root and every non-image entry as a video directory (issue #14).
All three open with svgan_tf.data.pipeline.open_source and give identical clips.

Per source video, in this order: the first --skip_frames source frames are dropped; --fps resamples the
rest; --max_frames keeps the first frames of the result (decoding stops there); every kept frame is centre-
cropped to a square and resized to --resolution with Lanczos (PIL; frames that already are --resolution
squares in PNG/JPEG are stored byte for byte, so the dataset decodes to exactly the source's pixels);
--chunk_frames splits the video into chunks named <video>_0000, <video>_0001, ... (a video of at most
--chunk_frames frames keeps its name); videos or chunks shorter than --min_frames are skipped (counted).

Frame-rate resampling (--fps=F, e.g. 25, 29.97 or 30000/1001): output frame j shows time j / F after the
first source frame and is the source frame whose presentation timestamp is nearest to that time (the
earlier one on a tie); the output covers the source's duration (last timestamp + last frame's duration),
so a video of D seconds gives ceil(D * F) frames. Lower rates drop frames, higher rates repeat them; no
frames are blended. Timestamps are exact (rational) PTS values, so resampling to the source's own constant
rate returns every frame once. Frame folders have no timestamps: give their rate with --source_fps.

The output is written under a hidden temporary name beside --out (.OUT.PID.incomplete) and renamed at the end,
so an interrupted or failed run never leaves a dataset that looks complete; an existing --out is replaced only
with --overwrite, after the new one is complete. Bad inputs fail with an error naming the file (exit status
2 from the command line).

--check reads the source without writing anything and prints: the number of videos and frames, the frame
size(s), the frame count distribution (min / median / max and a histogram with the thresholds that matter: 3
frames for the k = 3 training clips, 16 and 128 for FVD16 / FVD128, max_dist + 1 = 33 for the full span
distribution, 1024 = max_num_frames), the videos shorter than --min_frames (default in check mode: 33),
unreadable files, non-square frames, frames whose size differs from the rest of their video (mixed sizes) and
videos whose size differs from the rest of the dataset. It reads every source above and every output of this
program: a TFRecord directory (the default output) is checked shard by shard against its index.json (missing or
truncated shards, records whose checksums fail or that are not where the index puts them, frames of another
size than the index declares). By default it reads image headers and video packets (fast); --check_decode
decodes every frame. --fps, --source_fps, --skip_frames, --max_frames and --chunk_frames
are applied to the counts as a conversion would. It never fails on a bad input: it exits 0, or 1 with
--strict when a problem was found (notes, e.g. non-square video files that a conversion crops, do not count).

This module is the program (flags and exit statuses); svgan_tf.data.convert converts and svgan_tf.data.check checks.
"""

from absl import flags

from svgan_tf import cli
from svgan_tf.data import check, convert

flags.DEFINE_string("source", None, "Frame folder, .zip, video file, directory of video files or demo[:SEED].")
cli.define_out_flag("Output directory or .zip (must not exist unless --overwrite).", required=False)
flags.DEFINE_enum("format", "auto", convert.FORMATS, "Output: tfrecord shards, reference frame folder or reference "
                  "zip (auto: zip when --out ends in .zip, else tfrecord).")
flags.DEFINE_integer("resolution", 256, "Output frame size (square).")
flags.DEFINE_integer("chunk_frames", 0, "Split videos into chunks of this many frames (0: keep whole videos).")
flags.DEFINE_string("fps", None, "Resample videos to this frame rate (e.g. 25, 29.97, 30000/1001) by picking the "
                    "source frame with the nearest timestamp; default: keep every frame.")
flags.DEFINE_string("source_fps", None, "Frame rate of frame-folder (and demo) sources, needed by --fps.")
flags.DEFINE_integer("skip_frames", 0, "Drop this many source frames at the start of every video.")
flags.DEFINE_integer("max_frames", None, "Keep at most this many frames per source video (after --fps).")
flags.DEFINE_integer("max_videos", None, "Convert (or check) at most this many source videos.")
flags.DEFINE_integer("min_frames", None, f"Skip videos (or trailing chunks) with fewer frames (default 3); with "
                     f"--check, report videos shorter than this (default {check.CHECK_MIN_FRAMES} = max_dist + 1; "
                     "16 or 128 for FVD).")
flags.DEFINE_enum("image_format", "jpeg", ["jpeg", "png"], "Encoding of resized frames.")
flags.DEFINE_integer("jpeg_quality", 95, "JPEG quality (the reference scripts use 95).")
flags.DEFINE_integer("shard_mb", 256, "Start a new shard after this many MB (a video never spans shards).")
cli.define_overwrite_flag("Replace an existing --out.")
flags.DEFINE_bool("check", False, "Only report on --source (counts, short videos, unreadable or odd-sized frames); "
                  "writes nothing.")
flags.DEFINE_bool("check_decode", False, "With --check: decode every frame (slower; finds corrupt data that "
                  "headers do not show).")
flags.DEFINE_bool("strict", False, "With --check: exit with status 1 when a problem was found.")


def main(argv):
    del argv
    FLAGS = flags.FLAGS
    if not FLAGS.source:
        cli.fail("--source is required.")
    if FLAGS.check:
        report = check.check_dataset(FLAGS.source, FLAGS.min_frames, FLAGS.fps, FLAGS.source_fps, FLAGS.skip_frames,
                                     FLAGS.max_frames, FLAGS.chunk_frames, FLAGS.max_videos, FLAGS.check_decode)
        return 1 if FLAGS.strict and report["problems"] else 0
    if not FLAGS.out:
        cli.fail("--out is required (or pass --check).")
    convert.make_dataset(FLAGS.source, FLAGS.out, FLAGS.resolution, FLAGS.chunk_frames, FLAGS.max_videos,
                         3 if FLAGS.min_frames is None else FLAGS.min_frames, FLAGS.image_format, FLAGS.jpeg_quality,
                         FLAGS.shard_mb << 20, FLAGS.overwrite, out_format=FLAGS.format, fps=FLAGS.fps,
                         source_fps=FLAGS.source_fps, skip_frames=FLAGS.skip_frames, max_frames=FLAGS.max_frames)
    return 0


if __name__ == "__main__":
    cli.run(main)
