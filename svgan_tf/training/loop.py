"""The training loop of StyleGAN-V (the program is `python -m svgan_tf.train`).

One readable loop (the StyleGAN2-ADA recipe, SPEC.md section 4), commented phase by phase:

1. Initialise: strategy (MirroredStrategy over the visible GPUs, the default strategy on a CPU,
   MultiWorkerMirroredStrategy when TF_CONFIG names several workers), dataset metadata, resolved config.
2. Networks and state, created inside the strategy scope: G, D, G_ema, both Adam optimisers (with the
   lazy-regularisation correction of lr and beta2), step counter, ADA probability; a checkpoint manager;
   resume.
3. Data: an index-based sparse-clip pipeline per input pipeline, restarted at the data position of the
   resumed step (clips consumed = step x batch), so a resumed run sees exactly the clips it would have.
4. Train: each step runs the phases of the phase table that are due (Gmain, Dmain, and every `r1_interval`
   steps Dreg: lazy R1 through the augmentation), the objective of each being a method of
   `svgan_tf.training.loss.StyleGANVLoss` and its random inputs explicit draws (`svgan_tf.training.draws`);
   then the EMA of G; every `ada_interval` steps ADA adjusts p. All of it on the device: the host reads
   statistics once per tick.
5. Maintenance per tick (`tick_kimg`): console line and TensorBoard scalars; per snapshot
   (`snapshot_kimg`): checkpoint, sample grid image and animated grid, G_ema in reference format.
   Before any of it the host reads whether a loss or weight has become non-finite (recorded on the device
   by every step): a diverged run stops with `Diverged` and writes nothing more.
6. Preemption: SIGTERM or SIGINT ends the run after the current step with a checkpoint of that step
   (`Preempted`); under MultiWorkerMirroredStrategy TensorFlow's `PreemptionCheckpointHandler` agrees on
   that step across the workers.

All randomness is stateless and keyed by (seed, step, phase, replica): together with the index-based data
this makes a resumed run continue exactly as if it had not stopped.
"""

import dataclasses
import functools
import json
import os
import shutil
import signal
import tempfile
import threading
import time

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from svgan_tf import atomic, cli
from svgan_tf.data import pipeline, video
from svgan_tf.data import sampling as sampling_lib
from svgan_tf.metrics import evaluation
from svgan_tf.networks.discriminator import Discriminator
from svgan_tf.networks.generator import Generator
from svgan_tf.networks.layers import lerp
from svgan_tf.training import augment, config, draws, optimizer, run_dir, summaries
from svgan_tf.training import loss as loss_lib


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
    ada_stats: tf.Variable  # sum of sign(D(real)) and count since the last ADA adjustment
    tick_stats: tf.Variable  # [len(TICK_STATS), 2]: sum and count of each statistic since the host last read it
    nonfinite_step: tf.Variable  # the first step whose losses or weights were not all finite; -1: none yet
    nonfinite_stats: tf.Variable  # that step's statistics: tick_stats rows, then (non-finite, all) weights per NETWORKS

    def checkpoint(self):
        """The training state as a checkpoint of the run (`run_dir.CHECKPOINT_KEYS`)."""
        return tf.train.Checkpoint(**{key: getattr(self, key) for key in run_dir.CHECKPOINT_KEYS})


# What the progress line and TensorBoard show: reference statistic names, averaged over a tick.
TICK_STATS = ("Loss/G/loss", "Loss/D/loss", "Loss/r1_penalty", "Loss/scores/fake", "Loss/scores/real",
              "Loss/signs/real")
# The networks whose weights every step checks for non-finite values.
NETWORKS = ("G", "D", "G_ema")


def build_training(cfg, strategy, G=None, D=None):
    """Networks, optimisers and counters, created inside `strategy.scope()` (Keras 3 requires both there).

    `G` and `D` replace the networks built from `cfg` (e.g. reference networks; G_ema starts as a copy of G).
    """
    keras.utils.set_random_seed(cfg.seed)  # the initial weights are a function of the seed
    with strategy.scope():
        G = G or Generator(**cfg.generator_kwargs(), name="G")
        D = D or Discriminator(**cfg.discriminator_kwargs(), name="D")
        G_ema = Generator(**{**G.get_config(), "name": "G_ema"})
        for e, g in zip(G_ema.weights, G.weights):
            e.assign(g)
        loss_scale = cfg.num_fp16_res > 0 and cfg.mixed_precision == "mixed_float16"
        optimisers = []
        for model, interval, name in ((G, cfg.g_reg_interval, "G_opt"), (D, cfg.r1_interval, "D_opt")):
            opt = optimizer.make_optimizer(cfg.lr, cfg.betas, cfg.eps, interval, loss_scale=loss_scale)
            opt.build(model.trainable_variables)
            optimisers.append(opt)
        step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        ada_p = tf.Variable(cfg.aug_p if cfg.aug != "noaug" else 0.0, trainable=False, name="ada_p")
        ada_stats = tf.Variable([0.0, 0.0], trainable=False, name="ada_stats")
        tick_stats = tf.Variable(tf.zeros([len(TICK_STATS), 2]), trainable=False, name="tick_stats")
        nonfinite_step = tf.Variable(-1, dtype=tf.int64, trainable=False, name="nonfinite_step")
        nonfinite_stats = tf.Variable(tf.zeros([len(TICK_STATS) + len(NETWORKS), 2]), trainable=False,
                                      name="nonfinite_stats")
    return Training(G, D, G_ema, *optimisers, step, ada_p, ada_stats, tick_stats, nonfinite_step, nonfinite_stats)


@dataclasses.dataclass(frozen=True)
class Phase:
    """A row of the phase table: `StyleGANVLoss.<name>` runs when step % interval == 0 and its gradients,
    scaled by `gain`, step `opt` on `module` (attributes of `Training`)."""
    name: str
    module: str
    opt: str
    interval: int
    gain: int


def phase_table(r1_interval):
    """The reference's phases in execution order (StyleGAN2-ADA's training loop).

    Greg (path length) is absent: StyleGAN-V trains with pl_weight 0, so the reference's Greg phase has no
    gradient and no optimiser step; G's regularisation interval still scales G's optimiser (`build_training`).
    r1_interval 0 drops Dreg (no R1 at all).
    """
    phases = [Phase("Gmain", "G", "G_opt", 1, 1), Phase("Dmain", "D", "D_opt", 1, 1)]
    if r1_interval > 0:
        phases.append(Phase("Dreg", "D", "D_opt", r1_interval, r1_interval))
    return phases


def apply_gradients(opt, grads, variables):
    """One optimiser step on a phase's gradients (times the loss scale under float16).

    With float16 the LossScaleOptimizer unscales, skips steps whose gradients are not finite and lowers the
    scale; otherwise gradients are scrubbed of NaN/Inf as the reference does. Variables without a gradient
    (None) are left alone, moments and step included, as torch's Adam does.
    """
    if not isinstance(opt, keras.optimizers.LossScaleOptimizer):
        grads = loss_lib.scrub(grads)
    pairs = [(g, v) for g, v in zip(grads, variables) if g is not None]
    opt.apply([g for g, _ in pairs], [v for _, v in pairs])


def update_ema(G_ema, G, beta):
    """G_ema <- lerp(G, G_ema, beta) for parameters (torch.lerp's rounding); buffers (w_avg, positional-encoding
    constants) are copied."""
    for e, g in zip(G_ema.trainable_weights, G.trainable_weights):
        e.assign(lerp(g, e, beta))
    for e, g in zip(G_ema.non_trainable_weights, G.non_trainable_weights):
        e.assign(g)


@dataclasses.dataclass(frozen=True)
class Ada:
    """ADA settings of the step: adjust p every `interval` steps towards `target` by `speed`."""
    interval: int
    target: float
    speed: float


class TrainStep:
    """The compiled training step: the phases due at a step, the EMA of G, the statistics and ADA, on the device.

    One graph per combination of due phases, traced once. Nothing is read back to the
    host: per-step statistics accumulate in `training.tick_stats`, which the loop reads once per tick.

    Args:
        training: the `Training` state.
        loss: a `StyleGANVLoss` on training.G / training.D.
        sampler: (phase name, step tensor, replica id) -> `draws.Draws`.
        strategy: the tf.distribute strategy `training` lives in.
        phases: the phase table (`phase_table`).
        ema_beta: G_ema's decay per step.
        ada: `Ada` settings, or None (no adaptive augmentation).
        jit: XLA-compile the step.
    """

    def __init__(self, training, loss, sampler, strategy, phases, ema_beta, ada=None, jit=False):
        self.training, self.loss, self.sampler, self.strategy = training, loss, sampler, strategy
        self.phases, self.ema_beta, self.ada, self.jit = phases, ema_beta, ada, jit
        self._graphs = {}

    def due(self, step):
        """Names of the phases due at `step`."""
        return tuple(p.name for p in self.phases if step % p.interval == 0)

    def __call__(self, iterator, step):
        """Runs training step `step` (a Python int equal to `training.step`) on the next batch of `iterator`."""
        names = self.due(step)
        if names not in self._graphs:
            self._graphs[names] = tf.function(functools.partial(self._step, names), jit_compile=self.jit or None,
                                              autograph=False)
        self._graphs[names](iterator)

    def _replica_step(self, batch, step, names):
        training = self.training
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        real = loss_lib.real_clips(batch)
        sums = {}
        for phase in self.phases:
            if phase.name not in names:
                continue
            opt, module = getattr(training, phase.opt), getattr(training, phase.module)
            scale = opt.scale_loss if isinstance(opt, keras.optimizers.LossScaleOptimizer) else (lambda x: x)
            grads, report = getattr(self.loss, phase.name)(self.sampler(phase.name, step, replica), real,
                                                           phase.gain, scale)
            apply_gradients(opt, grads, module.trainable_variables)
            for name, value in report.items():
                if name in TICK_STATS:
                    value = tf.cast(value, tf.float32)
                    total, count = sums.get(name, (0.0, 0.0))
                    sums[name] = (total + tf.reduce_sum(value), count + tf.cast(tf.size(value), tf.float32))
        return tf.stack([tf.stack(sums.get(name, (0.0, 0.0))) for name in TICK_STATS])

    def _step(self, names, iterator):
        training = self.training
        step = training.step.read_value()
        per_replica = self.strategy.run(self._replica_step, args=(next(iterator), step, names))
        sums = self.strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)
        training.tick_stats.assign_add(sums)
        update_ema(training.G_ema, training.G, self.ema_beta)
        if self.ada is not None:
            training.ada_stats.assign_add(sums[TICK_STATS.index("Loss/signs/real")])
            tf.cond((step + 1) % self.ada.interval == 0, self._adjust_ada, tf.no_op)
        self._record_nonfinite(step + 1, sums)
        training.step.assign_add(1)

    def _record_nonfinite(self, step, sums):
        """Keeps the statistics of the first step after which a loss or a weight is not finite (on the device).

        `step` counts steps done with this one, as progress lines and checkpoints do.
        """
        training = self.training
        weights = tf.stack([_nonfinite_count(getattr(training, name).weights) for name in NETWORKS])
        healthy = tf.logical_and(tf.reduce_all(tf.math.is_finite(sums)), tf.reduce_all(weights[:, 0] == 0))

        def record():
            training.nonfinite_step.assign(step)
            training.nonfinite_stats.assign(tf.concat([sums, weights], axis=0))
            return tf.no_op()

        tf.cond(tf.logical_or(healthy, training.nonfinite_step >= 0), tf.no_op, record)

    def _adjust_ada(self):
        sign_sum, count = tf.unstack(self.training.ada_stats.read_value())
        self.training.ada_p.assign(augment.ada_adjust(self.training.ada_p, sign_sum / tf.maximum(count, 1.0),
                                                      self.ada.target, self.ada.speed))
        self.training.ada_stats.assign(tf.zeros([2]))
        return tf.no_op()


def _nonfinite_count(weights):
    """float32 [2]: how many values of the floating-point `weights` are not finite, and how many there are."""
    weights = [w for w in weights if tf.as_dtype(w.dtype).is_floating]
    bad = tf.add_n([tf.reduce_sum(tf.cast(tf.logical_not(tf.math.is_finite(w)), tf.float32)) for w in weights])
    return tf.stack([bad, float(sum(int(np.prod(w.shape)) for w in weights))])


def make_train_step(cfg, training, source, strategy, sampler=None):
    """The training step of a resolved config: loss, keyed sampler, phase table, EMA and ADA settings.

    `sampler` replaces the keyed sampler of `source` (the reference check replays recorded draws).
    """
    pipe = augment.augment_pipe(cfg.augpipe) if cfg.aug != "noaug" else None
    loss = loss_lib.StyleGANVLoss(
        training.G, training.D, cfg.r1_gamma, cfg.batch, conditional=cfg.c_dim > 0,
        augment=None if pipe is None else (lambda clips, seed: pipe(clips, training.ada_p, seed)))
    sampler = sampler or draws.KeyedSampler(cfg.seed, source.index, cfg.sampling(), cfg.batch_per_replica,
                                            cfg.z_dim, training.G.num_motion_tokens(cfg.max_num_frames - 1),
                                            cfg.motion_z_dim)
    ada = Ada(cfg.ada_interval, cfg.ada_target, cfg.batch * cfg.ada_interval / (cfg.ada_kimg * 1000)) \
        if cfg.aug == "ada" else None
    return TrainStep(training, loss, sampler, strategy, phase_table(cfg.r1_interval), ema_beta(cfg.batch, cfg.ema_kimg),
                     ada=ada, jit=cfg.jit)


def ema_beta(batch, ema_kimg):
    """G_ema's decay per step: half-life `ema_kimg` thousand clips (the reference counts clips here, frames in kimg)."""
    return 0.5 ** (batch / (ema_kimg * 1000.0))


def _resume_checkpoint(cfg):
    """The checkpoint `--resume` names ('latest' in outdir, or a path), or None to start from scratch.

    Every worker reads the chief's checkpoints (in outdir, on a shared file system across hosts).
    """
    if not cfg.resume:
        return None
    if cfg.resume == "latest":
        path = run_dir.latest_checkpoint(cfg.outdir)
        if path is None:
            logging.info("--resume=latest: no checkpoint in %s yet, starting from scratch.",
                         run_dir.checkpoints_dir(cfg.outdir))
        return path
    path = tf.train.latest_checkpoint(cfg.resume) if os.path.isdir(cfg.resume) else cfg.resume
    if path is None or not tf.io.gfile.glob(path + ".index"):
        raise ValueError(f"--resume={cfg.resume}: no checkpoint found there.")
    return path


def changed_flags(cfg, checkpoint):
    """The flags of `cfg` whose values differ from those of the run that wrote `checkpoint` (but --resume and
    --outdir, which say where the run continues).

    Returns:
        [(flag, value in that run, value now)], empty when the checkpoint has no run config beside it.
    """
    run = os.path.dirname(os.path.dirname(checkpoint))
    if not run_dir.is_run(run):
        return []
    before = run_dir.read_config(run)
    return [(f"--{field.name}", getattr(before, field.name), getattr(cfg, field.name))
            for field in dataclasses.fields(cfg)
            if field.name not in ("resume", "outdir") and getattr(before, field.name) != getattr(cfg, field.name)]


def _restore(cfg, training, state, checkpoint, changes):
    """Restores `checkpoint` into `state`, the checkpoint of `training` that the run saves with; the optimisers
    keep the learning rate of `cfg`, not the checkpoint's.

    `restore` (not `read`) on the saving checkpoint itself: a checkpoint written by `CheckpointManager.save` also
    holds its save counter, which only that object has; reading it into another leaves the counter unrestored
    and TensorFlow warns about it when that object is deleted.

    Raises:
        ValueError: the checkpoint does not fit the networks of `cfg`, naming the flags that changed.
    """
    try:
        state.restore(checkpoint).assert_existing_objects_matched()
    except (ValueError, AssertionError, tf.errors.OpError) as error:
        # The refusal below says why; TensorFlow would also warn once per value of the checkpoint that the failed
        # restore left unused (when those objects are deleted, after this line), burying it.
        cli.leave_out_log_lines(tf.get_logger(), "could not be found in the restored object",
                                "being deleted with unrestored values")
        changed = ", ".join(f"{flag}={now} (the run has {before})" for flag, before, now in changes)
        reason = f"these flags changed: {changed}" if changed else str(error).splitlines()[0]
        raise ValueError(f"--resume={cfg.resume}: checkpoint {checkpoint} does not fit the networks of this "
                         f"configuration; {reason}.") from None
    for opt in (training.G_opt, training.D_opt):
        # The update uses the constructor's rate (the flag); the restored variable only feeds the LR summaries.
        inner = getattr(opt, "inner_optimizer", opt)
        inner.learning_rate.assign(inner.get_config()["learning_rate"])


class _Snapshots:
    """Sample grids and reference-format exports for one run (chief only)."""

    def __init__(self, cfg, source, writer):
        self.cfg, self.writer = cfg, writer
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
        video.save_png(run_dir.sample_grid_path(self.cfg.outdir, kimg, "png"), image)
        atomic.write_bytes(run_dir.sample_grid_path(self.cfg.outdir, kimg, "gif"), gif)
        with self.writer.as_default():
            tf.summary.image("samples/frames", image[None], step=step)
            summaries.write_gif_summary("samples/video", gif, animation.shape[1], animation.shape[2], step)
        run_dir.write_reference_generator(run_dir.reference_export_path(self.cfg.outdir, kimg), G_ema)


class Preempted(Exception):
    """Training stopped on a termination signal, after writing a checkpoint of the step it had reached.

    `str()` is the line for the user. Attributes: `step` (steps done, all in the checkpoint), `checkpoint`
    (its prefix in the run directory), `exit_code` (128 + the signal number: what a shell reports for a
    process that the signal ended, non-zero so that no scheduler takes the run for finished).
    """

    def __init__(self, signal_name, exit_code, step, checkpoint):
        super().__init__(f"stopped by {signal_name} after step {step}: checkpoint {checkpoint} written and "
                         "TensorBoard flushed; continue with --resume=latest.")
        self.step, self.checkpoint, self.exit_code = step, checkpoint, exit_code


class Diverged(cli.UserError):
    """A loss or weight of the run became non-finite; nothing was written after the last good checkpoint.

    A user error (exit status 2 in a program): resuming as configured would repeat the divergence, since
    every draw is keyed by the step.
    """


class _StopRequest:
    """SIGTERM and SIGINT while training: recorded, so that the loop stops after the current step.

    A context manager; handlers are installed only in the main thread (Python's rule). After the first
    signal the previous handlers are back, so that a second one acts at once (an impatient Ctrl-C, a
    scheduler signalling again): checkpoints are atomic, so that loses at most the one being written.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self):
        self.signal_number = None
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = {number: signal.signal(number, self._handle) for number in self.SIGNALS}
        return self

    def __exit__(self, *exc_info):
        self._restore()

    def _handle(self, signal_number, frame):
        del frame
        self.signal_number = signal_number
        self._restore()

    def _restore(self):
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous = {}

    @property
    def requested(self):
        """Whether this process has received a stop signal."""
        return self.signal_number is not None


def _preemption_handler(strategy, stop, save, exit_fn, scratch_dir):
    """TensorFlow's `PreemptionCheckpointHandler` under MultiWorkerMirroredStrategy; None for other strategies.

    It watches `stop` (this worker's signals), agrees with every worker on the step after which to stop,
    there calls `save` on each, then `exit_fn`. The handler restores its checkpoint when created, so it is
    given one of its own in `scratch_dir` (holding only its step counter): the run's own resume stays the
    only restore, and `save` writes the run's checkpoint.
    """
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return None
    termination = tf.distribute.experimental.TerminationConfig(
        termination_watcher_fn=lambda: stop.requested, exit_fn=exit_fn, save_fn=save)
    with strategy.scope():
        return tf.distribute.experimental.PreemptionCheckpointHandler(
            strategy.cluster_resolver, tf.train.Checkpoint(), scratch_dir, termination)


def train(cfg, strategy=None, max_steps=None):
    """Runs (or resumes) a training run.

    Args:
        cfg: the `TrainConfig` (resolved here against the dataset and the strategy).
        strategy: a tf.distribute strategy (default: `make_strategy()`).
        max_steps: stop after this many steps (tests).

    Returns:
        The `Training` state.

    Raises:
        Preempted: after SIGTERM or SIGINT, once the step reached is checkpointed.
        Diverged: a loss or weight became non-finite (named with its step in the message).
        ValueError: naming the flag, for an invalid configuration.
    """
    # 1. Initialise.
    strategy = strategy or make_strategy()
    if cfg.jit and not tf.config.list_logical_devices("GPU"):
        raise ValueError("--jit needs a GPU: XLA in this training loop is unsupported on CPU (MirroredStrategy "
                         "fails with a cross-device resource error) and slower than graph mode there.")
    sampling = cfg.sampling()
    source = pipeline.open_source(cfg.data, sampling=sampling, use_labels=cfg.cond)
    cfg = cfg.resolve(source.index.resolution, source.index.c_dim, strategy.num_replicas_in_sync)
    chief = _is_chief(strategy)
    logging.info("Dataset: %s (%d videos too short for the sampling were skipped)", source.index.description,
                 source.index.num_skipped)
    logging.info("Training configuration:\n  %s", "\n  ".join(cfg.summary()))
    checkpoint = _resume_checkpoint(cfg)
    scratch = tempfile.mkdtemp(prefix="svgan_train_")  # other workers' copies of checkpoints, the handler's own
    writer = tf.summary.create_file_writer(run_dir.tensorboard_dir(cfg.outdir)) if chief else None
    try:
        with _StopRequest() as stop:
            return _train(cfg, strategy, source, sampling, chief, writer, stop, scratch, max_steps, checkpoint)
    finally:
        if writer:
            writer.flush()
        shutil.rmtree(scratch, ignore_errors=True)


def _train(cfg, strategy, source, sampling, chief, writer, stop, scratch, max_steps, checkpoint):
    """`train` from its resolved config on: the phases 2 to 6 of the module docstring."""
    # 2. Networks and state; checkpoints; resume.
    training = build_training(cfg, strategy)
    ckpt_dir = run_dir.checkpoints_dir(cfg.outdir) if chief else os.path.join(scratch, "checkpoints")
    manager = tf.train.CheckpointManager(training.checkpoint(), ckpt_dir, max_to_keep=cfg.keep_checkpoints)
    changes = changed_flags(cfg, checkpoint) if checkpoint else []
    if checkpoint:
        _restore(cfg, training, manager.checkpoint, checkpoint, changes)
    if chief:
        run_dir.write_config(cfg.outdir, cfg)  # after the restore: a resume that does not fit leaves the run as it was
    start_step = int(training.step.numpy())
    if checkpoint:
        logging.info("Resumed %s: step %d, %s kimg.", checkpoint, start_step,
                     f"{start_step * cfg.batch * cfg.num_frames / 1000:g}")
    else:
        logging.info("Starting at step 0.")
    for flag, before, now in changes:
        logging.warning("%s=%s applies from step %d on (the run had %s until then).", flag, now, start_step, before)

    # 3. Data, restarted at the resumed data position.
    dataset = strategy.distribute_datasets_from_function(
        lambda ctx: pipeline.real_clip_dataset(source, sampling, ctx.get_per_replica_batch_size(cfg.batch), cfg.seed,
                                               start_index=start_step * cfg.batch, input_context=ctx))
    iterator = iter(dataset)
    train_step = make_train_step(cfg, training, source, strategy)

    # 4. Train, 5. with maintenance per tick and per snapshot, 6. until done or preempted.
    frames_per_step = cfg.batch * cfg.num_frames
    total_steps = config.kimg_to_steps(cfg.kimg, cfg.batch, cfg.num_frames)
    if max_steps is not None:
        total_steps = min(total_steps, start_step + max_steps)
    tick_steps = config.kimg_to_steps(cfg.tick_kimg, cfg.batch, cfg.num_frames)
    snapshot_steps = config.kimg_to_steps(cfg.snapshot_kimg, cfg.batch, cfg.num_frames)
    metrics_steps = (config.kimg_to_steps(cfg.metrics_every_kimg, cfg.batch, cfg.num_frames)
                     if cfg.metrics_every_kimg > 0 else snapshot_steps)
    metrics = evaluation.resolve_protocols(cfg.metrics, cfg.metrics_num_fake or None) if cfg.metrics else []
    snapshots = _Snapshots(cfg, source, writer) if chief else None
    if chief and start_step == 0:
        snapshots.write(training.G_ema, 0, 0)
    tick = {"start": time.time(), "steps": 0}
    run_start = time.time()
    saved = {"step": start_step if checkpoint and checkpoint == manager.latest_checkpoint else None}

    def checkpoint(step):
        if saved["step"] != step:
            manager.save(checkpoint_number=step)
            saved["step"] = step
        return run_dir.checkpoint_prefix(cfg.outdir, step)

    def save_preempted():
        step = int(training.step.numpy())
        _raise_if_diverged(training, manager)
        if tick["steps"]:
            _end_tick(cfg, training, tick, step, total_steps, frames_per_step, run_start, writer)
        checkpoint(step)

    def exit_preempted():
        number = stop.signal_number or signal.SIGTERM  # a worker stopped for a peer's preemption
        name = signal.Signals(number).name if stop.requested else "a peer worker's termination signal"
        step = int(training.step.numpy())
        raise Preempted(name, 128 + number, step, run_dir.checkpoint_prefix(cfg.outdir, step))

    handler = _preemption_handler(strategy, stop, save_preempted, exit_preempted, os.path.join(scratch, "handler"))
    step = start_step
    while step < total_steps:
        if handler:
            handler.run(train_step, iterator, step)
        elif stop.requested:
            save_preempted()
            exit_preempted()
        else:
            train_step(iterator, step)
        step += 1
        tick["steps"] += 1
        done = step >= total_steps
        due_tick = step % tick_steps == 0 or done
        due_snapshot = step % snapshot_steps == 0 or done
        due_metrics = chief and metrics and (step % metrics_steps == 0 or done)
        if due_tick or due_snapshot or due_metrics:
            _raise_if_diverged(training, manager)
        if due_tick:
            _end_tick(cfg, training, tick, step, total_steps, frames_per_step, run_start, writer)
            tick.update(start=time.time(), steps=0)
        if due_snapshot:
            path = checkpoint(step)
            if chief:
                snapshots.write(training.G_ema, step, step * frames_per_step / 1000)
                logging.info("Snapshot: %s", path)
        if due_metrics:
            _write_metrics(cfg, training.G_ema, metrics, step, step * frames_per_step / 1000, writer)
    return training


def _raise_if_diverged(training, manager):
    """Raises `Diverged` if a step has made a loss or weight non-finite: one host read of the device's record."""
    step = int(training.nonfinite_step.numpy())
    if step < 0:
        return
    stats = training.nonfinite_stats.numpy()
    losses = [f"{name} = {total / count}" for name, (total, count) in zip(TICK_STATS, stats)
              if count > 0 and not np.isfinite(total)]
    weights = [f"{bad:.0f} of {count:.0f} weights of {name}"
               for name, (bad, count) in zip(NETWORKS, stats[len(TICK_STATS):]) if bad > 0]
    last = manager.latest_checkpoint
    raise Diverged(f"training diverged at step {step}: non-finite {', '.join(losses + weights)}. Nothing was "
                   f"written after it; the last good checkpoint, {last or 'none'}, stays the latest (lower --lr, "
                   "or check the data).")


def _write_metrics(cfg, G_ema, metrics, step, kimg, writer):
    """Metrics of G_ema (chief only): log line, TensorBoard `Metrics/<name>`, the run's metrics log."""
    start = time.time()
    source = pipeline.open_source(cfg.data, resolution=cfg.resolution, use_labels=cfg.cond,
                                  sampling=sampling_lib.SamplingConfig(num_frames=1, mirror=False))
    # The run's own mirror setting: the reference's metrics see the training set's x-flips where they apply.
    results = evaluation.evaluate(G_ema, source, metrics, seed=cfg.seed, mirror=cfg.mirror,
                                  cache_dir=run_dir.metric_cache_dir(cfg.outdir), progress=False)
    evaluation.write_results(results, run_dir.metrics_path(cfg.outdir),
                             dict(kimg=round(kimg, 3), step=step, mirror=cfg.mirror,
                                  scaled_down=bool(cfg.metrics_num_fake)))
    with writer.as_default():
        for name, result in results.items():
            tf.summary.scalar(f"Metrics/{name}", result.value, step=step)
    logging.info("Metrics at %.1f kimg (%s): %s", kimg, summaries.format_duration(time.time() - start),
                 ", ".join(f"{k} {v.value:.2f}" for k, v in results.items()))


def _end_tick(cfg, training, tick, step, total_steps, frames_per_step, run_start, writer):
    """Console progress line and TensorBoard scalars for the steps since the last tick.

    The one host read of the device's statistics per tick; they are reset for the next one.
    """
    sums = training.tick_stats.numpy()
    training.tick_stats.assign(tf.zeros_like(training.tick_stats))
    means = {name: total / count for name, (total, count) in zip(TICK_STATS, sums) if count > 0}
    elapsed = time.time() - tick["start"]
    kimg = step * frames_per_step / 1000
    sec_per_kimg = elapsed / max(tick["steps"] * frames_per_step / 1000, 1e-9)
    clips_per_s = tick["steps"] * cfg.batch / max(elapsed, 1e-9)
    eta = (total_steps - step) * frames_per_step / 1000 * sec_per_kimg
    p = float(training.ada_p.numpy())
    r1 = f"{means['Loss/r1_penalty']:.4f}" if "Loss/r1_penalty" in means else "-"
    print(f"kimg {summaries.format_kimg(kimg, total_steps * frames_per_step / 1000)}  step {step:7d}  "
          f"s/kimg {sec_per_kimg:7.2f}  clips/s {clips_per_s:6.1f}  ETA {summaries.format_duration(eta):>9}  "
          f"G {means['Loss/G/loss']:.3f}  D {means['Loss/D/loss']:.3f}  R1 {r1}  p {p:.3f}  "
          f"elapsed {summaries.format_duration(time.time() - run_start)}", flush=True)
    if writer is None:
        return
    with writer.as_default():
        for name, value in means.items():
            tf.summary.scalar(name, value, step=step)
        tf.summary.scalar("ADA/p", p, step=step)
        for name, opt in (("G", training.G_opt), ("D", training.D_opt)):
            tf.summary.scalar(f"LR/{name}", float(keras.ops.convert_to_numpy(opt.learning_rate)), step=step)
        tf.summary.scalar("Progress/kimg", kimg, step=step)
        tf.summary.scalar("Timing/sec_per_kimg", sec_per_kimg, step=step)
        tf.summary.scalar("Timing/clips_per_s", clips_per_s, step=step)
        tf.summary.scalar("Resources/replicas", cfg.num_replicas, step=step)
    writer.flush()
