"""Train StyleGAN-V: `python -m svgan_tf.train --flagfile=configs/sky.flags`.

One readable loop (the StyleGAN2-ADA recipe, SPEC.md section 4), commented phase by phase:

1. Initialise: strategy (MirroredStrategy over the visible GPUs, the default strategy on a CPU,
   MultiWorkerMirroredStrategy when TF_CONFIG names several workers), dataset metadata, resolved config.
2. Networks and state, created inside the strategy scope: G, D, G_ema, both Adam optimisers (with the
   lazy-regularisation correction of lr and beta2), step counter, ADA probability; a checkpoint manager;
   resume.
3. Data: an index-based sparse-clip pipeline per input pipeline, restarted at the data position of the
   resumed step (clips consumed = step x batch), so a resumed run sees exactly the clips it would have.
4. Train: each step runs Gmain, Dmain and, every `r1_interval` steps, Dreg (lazy R1 through the
   augmentation), then the EMA of G; every `ada_interval` steps ADA adjusts p.
5. Maintenance per tick (`tick_kimg`): console line and TensorBoard scalars; per snapshot
   (`snapshot_kimg`): checkpoint, sample grid image and animated grid, G_ema in reference format.

All randomness is stateless and keyed by (seed, step, phase, replica): together with the index-based data
this makes a resumed run continue exactly as if it had not stopped.
"""

import dataclasses
import json
import os
import shutil
import sys
import tempfile
import time

from absl import app, flags, logging
import keras
import numpy as np
import tensorflow as tf

from svgan_tf import augment, config, data, evaluate, losses, reference, summaries, video
from svgan_tf.discriminator import Discriminator
from svgan_tf.generator import Generator

FLAGS = flags.FLAGS

# Phases draw independent random streams.
_GMAIN, _DMAIN, _DREG = 1, 2, 3


def make_strategy():
    """MultiWorkerMirrored with several TF_CONFIG workers, Mirrored over GPUs, else the default strategy."""
    cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
    if len(cluster.get("worker", [])) > 1:
        return tf.distribute.MultiWorkerMirroredStrategy()
    if tf.config.list_logical_devices("GPU"):
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def _is_chief(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    return resolver is None or resolver.task_type in (None, "chief") or (
        resolver.task_type == "worker" and resolver.task_id == 0)


@dataclasses.dataclass
class Training:
    """Everything a step and a checkpoint need."""
    G: Generator
    D: Discriminator
    G_ema: Generator
    G_opt: keras.optimizers.Optimizer
    D_opt: keras.optimizers.Optimizer
    step: tf.Variable
    ada_p: tf.Variable
    ada_stats: tf.Variable  # sum of sign(D(real)) and count since the last adjustment

    def checkpoint(self):
        return tf.train.Checkpoint(G=self.G, D=self.D, G_ema=self.G_ema, G_opt=self.G_opt, D_opt=self.D_opt,
                                   step=self.step, ada_p=self.ada_p, ada_stats=self.ada_stats)


def build_training(cfg, strategy):
    """Networks, optimisers and counters, created inside `strategy.scope()` (Keras 3 requires both there)."""
    keras.utils.set_random_seed(cfg.seed)  # the initial weights are a function of the seed
    with strategy.scope():
        G = Generator(**cfg.generator_kwargs(), name="G")
        D = Discriminator(**cfg.discriminator_kwargs(), name="D")
        G_ema = Generator(**cfg.generator_kwargs(), name="G_ema")
        for e, g in zip(G_ema.weights, G.weights):
            e.assign(g)
        optimisers = []
        for model, interval in ((G, cfg.g_reg_interval), (D, cfg.r1_interval)):
            opt = keras.optimizers.Adam(**cfg.adam_kwargs(interval))
            if cfg.num_fp16_res > 0 and cfg.mixed_precision == "mixed_float16":
                opt = keras.optimizers.LossScaleOptimizer(opt)
            opt.build(model.trainable_variables)
            optimisers.append(opt)
        step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        ada_p = tf.Variable(cfg.aug_p if cfg.aug != "noaug" else 0.0, trainable=False, name="ada_p")
        ada_stats = tf.Variable([0.0, 0.0], trainable=False, name="ada_stats")
    return Training(G, D, G_ema, *optimisers, step, ada_p, ada_stats)


def _apply(opt, grads, variables):
    """One optimiser step on gradients of the loss (times the loss scale under float16).

    With float16 the LossScaleOptimizer unscales, skips steps whose gradients are not finite and lowers the
    scale; otherwise gradients are scrubbed of NaN/Inf as the reference does.
    """
    if not isinstance(opt, keras.optimizers.LossScaleOptimizer):
        grads = losses.scrub(grads)
    # R1 does not depend on every D parameter (e.g. the output bias): those get no update.
    pairs = [(g, v) for g, v in zip(grads, variables) if g is not None]
    opt.apply([g for g, _ in pairs], [v for _, v in pairs])


def make_step_functions(cfg, training, source, strategy):
    """The compiled training steps: (plain step, step with the lazy R1 phase)."""
    G, D, G_ema = training.G, training.D, training.G_ema
    sampling = cfg.sampling()
    pipe = augment.augment_pipe(cfg.augpipe) if cfg.aug != "noaug" else None
    num_tokens = G.num_motion_tokens(cfg.max_num_frames - 1)
    b, global_batch = cfg.batch_per_replica, float(cfg.batch)
    ema_beta = 0.5 ** (cfg.batch / (cfg.ema_kimg * 1000.0))
    loss_scaled = isinstance(training.G_opt, keras.optimizers.LossScaleOptimizer)

    def scaled(opt, loss):
        return opt.scale_loss(loss) if loss_scaled else loss

    def run_D(clips, t, c, seed):
        if pipe is not None:
            clips = pipe(clips, training.ada_p, seed)
        return D(clips, t, c=c if cfg.c_dim else None)

    def fakes(seed):
        s = tf.random.experimental.stateless_split(seed, 4)
        z = tf.random.stateless_normal([b, cfg.z_dim], seed=s[0])
        t, c = data.sample_fake_conditions(source.index, sampling, b, s[1])
        motion_z = tf.random.stateless_normal([b, num_tokens, cfg.motion_z_dim], seed=s[2])
        frames = G(z, t, motion_z, c=c if cfg.c_dim else None, training=True)
        return frames, t, c, s[3]

    def replica_step(batch, step, with_r1):
        replica = tf.cast(tf.distribute.get_replica_context().replica_id_in_sync_group, tf.int64)

        def seed(phase):
            return tf.stack([tf.constant(cfg.seed * 8 + phase, tf.int64), step * 4096 + replica])

        real = tf.cast(batch["frames"], tf.float32) / 127.5 - 1.0
        t_real, c_real = batch["t"], batch["c"]
        out = {}
        # Gmain: make D call the fakes real.
        with tf.GradientTape() as tape:
            fake, t_fake, c_fake, aug_seed = fakes(seed(_GMAIN))
            fake_logits = run_D(fake, t_fake, c_fake, aug_seed)
            loss = tf.reduce_sum(losses.generator_loss(fake_logits)) / global_batch
            target = scaled(training.G_opt, loss)
        _apply(training.G_opt, tape.gradient(target, G.trainable_variables), G.trainable_variables)
        out["loss_G"] = loss
        # Dmain: fakes (no gradient to G) scored low, reals high. As the reference, the fake and the real
        # pass each run forward then backward, in sequence, so only one pass's activations are alive.
        fake, t_fake, c_fake, aug_seed = fakes(seed(_DMAIN))
        fake = tf.stop_gradient(fake)
        with tf.GradientTape() as tape:
            fake_logits = run_D(fake, t_fake, c_fake, aug_seed)
            fake_loss = tf.reduce_sum(losses.discriminator_fake_loss(fake_logits)) / global_batch
            target = scaled(training.D_opt, fake_loss)
        fake_grads = tape.gradient(target, D.trainable_variables)
        with tf.control_dependencies([g for g in fake_grads if g is not None]):
            real_after_fakes = tf.identity(real)
        with tf.GradientTape() as tape:
            real_logits = run_D(real_after_fakes, t_real, c_real, tf.random.experimental.stateless_fold_in(aug_seed, 1))
            real_loss = tf.reduce_sum(losses.discriminator_real_loss(real_logits)) / global_batch
            target = scaled(training.D_opt, real_loss)
        real_grads = tape.gradient(target, D.trainable_variables)
        grads = [tf.convert_to_tensor(f) + tf.convert_to_tensor(r) for f, r in zip(fake_grads, real_grads)]
        _apply(training.D_opt, grads, D.trainable_variables)
        out.update(loss_D=fake_loss + real_loss, score_real=tf.reduce_sum(real_logits) / global_batch,
                   score_fake=tf.reduce_sum(fake_logits) / global_batch,
                   ada_sign=tf.reduce_sum(tf.sign(real_logits)))
        # Dreg: lazy R1 on the real clips, through the augmentation, scaled by the interval.
        if with_r1:
            with tf.GradientTape() as tape:
                with tf.GradientTape() as inner:
                    inner.watch(real)
                    logits = run_D(real, t_real, c_real, seed(_DREG))
                    total = tf.reduce_sum(logits)
                penalty = losses.r1_penalty(inner.gradient(total, real))
                loss = tf.reduce_sum(penalty) * (cfg.r1_gamma / 2 * cfg.r1_interval) / global_batch
                target = scaled(training.D_opt, loss)
            _apply(training.D_opt, tape.gradient(target, D.trainable_variables), D.trainable_variables)
            out["r1_penalty"] = tf.reduce_sum(penalty) / global_batch
        return out

    def make(with_r1):
        def step_fn(iterator):
            step = training.step.read_value()
            per_replica = strategy.run(replica_step, args=(next(iterator), step, with_r1))
            out = {k: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None) for k, v in per_replica.items()}
            # EMA of G: parameters lerped, buffers (w_avg, positional-encoding constants) copied.
            for e, g in zip(G_ema.trainable_weights, G.trainable_weights):
                e.assign(g + (e - g) * ema_beta)
            for e, g in zip(G_ema.non_trainable_weights, G.non_trainable_weights):
                e.assign(g)
            training.step.assign_add(1)
            return out
        return tf.function(step_fn, jit_compile=cfg.jit or None, autograph=False)

    return make(False), make(True)


def _restore(cfg, training):
    """Resumes from `--resume` ('latest' in outdir, or a path); returns the restored checkpoint path or None.

    Every worker reads the chief's checkpoints (`OUTDIR/checkpoints`, on a shared file system across hosts).
    """
    if not cfg.resume:
        return None
    if cfg.resume == "latest":
        directory = os.path.join(cfg.outdir, "checkpoints")
        path = tf.train.latest_checkpoint(directory)
        if path is None:
            logging.info("--resume=latest: no checkpoint in %s yet, starting from scratch.", directory)
            return None
    else:
        path = tf.train.latest_checkpoint(cfg.resume) if os.path.isdir(cfg.resume) else cfg.resume
        if path is None or not tf.io.gfile.glob(path + ".index"):
            raise ValueError(f"--resume={cfg.resume}: no checkpoint found there.")
    training.checkpoint().read(path).assert_existing_objects_matched()
    return path


class _Snapshots:
    """Sample grids and reference-format exports for one run (chief only)."""

    def __init__(self, cfg, source, writer):
        self.cfg, self.writer = cfg, writer
        self.dir = os.path.join(cfg.outdir, "samples")
        os.makedirs(self.dir, exist_ok=True)
        n = 16 if cfg.resolution <= 128 else 9
        rng = np.random.default_rng(cfg.seed)
        self.z = rng.standard_normal((n, cfg.z_dim)).astype(np.float32)
        labels = source.index.labels
        self.c = labels[rng.integers(len(labels), size=n)] if cfg.c_dim else None
        self.t = np.tile(np.arange(16, dtype=np.float32), (n, 1))
        self.columns = int(np.ceil(np.sqrt(n)))

    def write(self, G_ema, step, kimg):
        motion_z = G_ema.sample_motion_z(len(self.z), G_ema.num_motion_tokens(15), seed=[self.cfg.seed, 7])
        videos = summaries.to_uint8(G_ema(self.z, self.t, motion_z, c=self.c, frames_per_batch=16)).numpy()
        image = video.frames_grid(videos[:, ::2])
        animation = video.video_grid(videos, self.columns)
        gif = video.encode_gif(animation)
        tag = f"{int(kimg):06d}"  # reference style (whole kimg; a later snapshot within the same kimg overwrites)
        video.save_png(os.path.join(self.dir, f"fakes{tag}.png"), image)
        with open(os.path.join(self.dir, f"fakes{tag}.gif"), "wb") as f:
            f.write(gif)
        with self.writer.as_default():
            tf.summary.image("samples/frames", image[None], step=step)
            summaries.write_gif_summary("samples/video", gif, animation.shape[1], animation.shape[2], step)
        export = os.path.join(self.cfg.outdir, f"G_ema-reference-{tag}.npz")
        reference.save_reference_npz(G_ema, export)
        with open(export[:-4] + ".json", "w") as f:
            json.dump(G_ema.get_config(), f, indent=1)


def train(cfg, strategy=None, max_steps=None):
    """Runs (or resumes) a training run; returns the `Training` state. `max_steps` stops early (tests)."""
    # 1. Initialise.
    strategy = strategy or make_strategy()
    if cfg.jit and not tf.config.list_logical_devices("GPU"):
        raise ValueError("--jit needs a GPU: XLA in this training loop is unsupported on CPU (MirroredStrategy "
                         "fails with a cross-device resource error) and slower than graph mode there.")
    sampling = cfg.sampling()
    source = data.open_source(cfg.data, sampling=sampling, use_labels=cfg.cond)
    cfg = cfg.resolve(source.index.resolution, source.index.c_dim, strategy.num_replicas_in_sync)
    chief = _is_chief(strategy)
    logging.info("Dataset: %s (%d videos too short for the sampling were skipped)", source.index.description,
                 source.index.num_skipped)
    logging.info("Training configuration:\n  %s", "\n  ".join(cfg.summary()))
    os.makedirs(cfg.outdir, exist_ok=True)
    if chief:
        with open(os.path.join(cfg.outdir, "config.json"), "w") as f:
            json.dump(dataclasses.asdict(cfg), f, indent=1)

    # 2. Networks and state; checkpoints; resume.
    training = build_training(cfg, strategy)
    ckpt_dir = os.path.join(cfg.outdir, "checkpoints")
    if not chief:  # other workers write their (identical) shards to a scratch directory
        ckpt_dir = tempfile.mkdtemp(prefix="svgan_ckpt_")
    manager = tf.train.CheckpointManager(training.checkpoint(), ckpt_dir, max_to_keep=cfg.keep_checkpoints)
    restored = _restore(cfg, training)
    start_step = int(training.step.numpy())
    logging.info("%s at step %d.", f"Resumed from {restored}" if restored else "Starting", start_step)

    # 3. Data, restarted at the resumed data position.
    dataset = strategy.distribute_datasets_from_function(
        lambda ctx: data.real_clip_dataset(source, sampling, ctx.get_per_replica_batch_size(cfg.batch), cfg.seed,
                                           start_index=start_step * cfg.batch, input_context=ctx))
    iterator = iter(dataset)
    plain_step, r1_step = make_step_functions(cfg, training, source, strategy)

    # 4. Train, 5. with maintenance per tick and per snapshot.
    frames_per_step = cfg.batch * cfg.num_frames
    total_steps = config.kimg_to_steps(cfg.kimg, cfg.batch, cfg.num_frames)
    if max_steps is not None:
        total_steps = min(total_steps, start_step + max_steps)
    tick_steps = config.kimg_to_steps(cfg.tick_kimg, cfg.batch, cfg.num_frames)
    snapshot_steps = config.kimg_to_steps(cfg.snapshot_kimg, cfg.batch, cfg.num_frames)
    metrics_steps = (config.kimg_to_steps(cfg.metrics_every_kimg, cfg.batch, cfg.num_frames)
                     if cfg.metrics_every_kimg > 0 else snapshot_steps)
    metrics = evaluate.resolve_protocols(cfg.metrics, cfg.metrics_num_fake or None) if cfg.metrics else []
    ada_step = cfg.batch * cfg.ada_interval / (cfg.ada_kimg * 1000)
    writer = tf.summary.create_file_writer(os.path.join(cfg.outdir, "tensorboard")) if chief else None
    snapshots = _Snapshots(cfg, source, writer) if chief else None
    if chief and start_step == 0:
        snapshots.write(training.G_ema, 0, 0)
    tick = {"start": time.time(), "steps": 0, "sums": {}}
    run_start = time.time()
    step = start_step
    while step < total_steps:
        with_r1 = cfg.r1_interval > 0 and step % cfg.r1_interval == 0
        out = {k: float(v) for k, v in (r1_step if with_r1 else plain_step)(iterator).items()}
        step += 1
        if cfg.aug == "ada":
            training.ada_stats.assign_add([out.pop("ada_sign"), float(cfg.batch)])
            if step % cfg.ada_interval == 0:
                sign_sum, count = training.ada_stats.numpy()
                rt = sign_sum / max(count, 1.0)
                training.ada_p.assign(max(0.0, float(training.ada_p.numpy()) + np.sign(rt - cfg.ada_target) * ada_step))
                training.ada_stats.assign([0.0, 0.0])
        else:
            out.pop("ada_sign")
        for k, v in out.items():
            total, n = tick["sums"].get(k, (0.0, 0))
            tick["sums"][k] = (total + v, n + 1)
        tick["steps"] += 1
        done = step >= total_steps
        if step % tick_steps == 0 or done:
            _end_tick(cfg, training, tick, step, total_steps, frames_per_step, run_start, writer)
            tick = {"start": time.time(), "steps": 0, "sums": {}}
        if step % snapshot_steps == 0 or done:
            path = manager.save(checkpoint_number=step)
            if chief:
                snapshots.write(training.G_ema, step, step * frames_per_step / 1000)
                logging.info("Snapshot: %s", path)
        if chief and metrics and (step % metrics_steps == 0 or done):
            _write_metrics(cfg, training.G_ema, metrics, step, step * frames_per_step / 1000, writer)
    if writer:
        writer.flush()
    if not chief:
        shutil.rmtree(ckpt_dir, ignore_errors=True)  # this worker's scratch copies of the chief's checkpoints
    return training


def _write_metrics(cfg, G_ema, metrics, step, kimg, writer):
    """Metrics of G_ema (chief only): log line, TensorBoard `Metrics/<name>`, OUTDIR/metrics.jsonl."""
    start = time.time()
    source = data.open_source(cfg.data, resolution=cfg.resolution, use_labels=cfg.cond,
                              sampling=data.SamplingConfig(num_frames=1, mirror=False))
    results = evaluate.evaluate(G_ema, source, metrics, seed=cfg.seed, cache_dir=os.path.join(cfg.outdir, "metric-cache"),
                                progress=False)
    evaluate.write_results(results, os.path.join(cfg.outdir, "metrics.jsonl"),
                           dict(kimg=round(kimg, 3), step=step, scaled_down=bool(cfg.metrics_num_fake)))
    with writer.as_default():
        for name, value in results.items():
            tf.summary.scalar(f"Metrics/{name}", value, step=step)
    logging.info("Metrics at %.1f kimg (%s): %s", kimg, summaries.format_duration(time.time() - start),
                 ", ".join(f"{k} {v:.2f}" for k, v in results.items()))


def _end_tick(cfg, training, tick, step, total_steps, frames_per_step, run_start, writer):
    """Console progress line and TensorBoard scalars for the steps since the last tick."""
    elapsed = time.time() - tick["start"]
    kimg = step * frames_per_step / 1000
    sec_per_kimg = elapsed / max(tick["steps"] * frames_per_step / 1000, 1e-9)
    clips_per_s = tick["steps"] * cfg.batch / max(elapsed, 1e-9)
    eta = (total_steps - step) * frames_per_step / 1000 * sec_per_kimg
    means = {k: total / n for k, (total, n) in tick["sums"].items()}
    p = float(training.ada_p.numpy())
    r1 = f"{means['r1_penalty']:.4f}" if "r1_penalty" in means else "-"
    print(f"kimg {kimg:9.1f}/{total_steps * frames_per_step / 1000:.0f}  step {step:7d}  "
          f"s/kimg {sec_per_kimg:7.2f}  clips/s {clips_per_s:6.1f}  ETA {summaries.format_duration(eta):>9}  "
          f"G {means['loss_G']:.3f}  D {means['loss_D']:.3f}  R1 {r1}  p {p:.3f}  "
          f"elapsed {summaries.format_duration(time.time() - run_start)}", flush=True)
    if writer is None:
        return
    lr = {"G": training.G_opt.learning_rate, "D": training.D_opt.learning_rate}
    with writer.as_default():
        for name, tag in (("loss_G", "Loss/G"), ("loss_D", "Loss/D"), ("r1_penalty", "Loss/R1_penalty"),
                          ("score_real", "Scores/real"), ("score_fake", "Scores/fake")):
            if name in means:
                tf.summary.scalar(tag, means[name], step=step)
        tf.summary.scalar("ADA/p", p, step=step)
        for name, value in lr.items():
            tf.summary.scalar(f"LR/{name}", float(keras.ops.convert_to_numpy(value)), step=step)
        tf.summary.scalar("Progress/kimg", kimg, step=step)
        tf.summary.scalar("Timing/sec_per_kimg", sec_per_kimg, step=step)
        tf.summary.scalar("Timing/clips_per_s", clips_per_s, step=step)
        tf.summary.scalar("Resources/replicas", cfg.num_replicas, step=step)
    writer.flush()


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    try:
        cfg = config.from_flags()
        train(cfg)
    except ValueError as error:
        print(f"svgan_tf.train: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    config.define_flags()
    app.run(main)
