"""Training configuration: absl flags -> one frozen `TrainConfig`.

The library is usable without flags: build a `TrainConfig` directly (every field has the reference
default) and call `resolve()` to fill the values the reference derives automatically ("auto" settings of
StyleGAN2-ADA's `cfg=auto`, SPEC.md section 1.4) from the resolution, the batch and the replica count.

Flags are defined here, once, so that `svgan_tf.train` and any tool share them. Flagfiles live in
`configs/*.flags`; each begins with the command that runs it.
"""

import dataclasses
import json
import math
import os
from typing import Optional, Tuple

from absl import flags

from svgan_tf.metrics import protocols


def _flag(default, help, choices=None):
    """A TrainConfig field that is also a command-line flag of the same name, default and help."""
    return dataclasses.field(default=default, metadata={"help": help, "choices": choices})


_DISTS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Every training hyper-parameter, with the reference defaults (SPEC.md sections 1, 4, 5).

    Each field with a help text is also a flag. Fields at -1 are derived by `resolve()` ("auto").
    """
    # Data and sampling.
    data: Optional[str] = _flag(None, "Dataset: a reference-layout folder or .zip, a TFRecord directory made "
                                "by svgan_tf/dataset.py, or 'demo' (built-in synthetic videos).")
    cond: bool = _flag(False, "Train a class-conditional model from the dataset's labels.")
    mirror: bool = _flag(True, "Double the dataset with horizontally flipped copies of whole videos.")
    num_frames: int = _flag(3, "Frames per clip k (sparse training).")
    max_dist: int = _flag(32, "Largest span between a clip's first and last frame.")
    max_num_frames: int = _flag(1024, "Training window: longer videos contribute a random window this long.")
    total_dists: Tuple[int, ...] = _flag(_DISTS, "Allowed spans (uniform over those within [k - 1, max_dist]).")
    # Generator and discriminator.
    z_dim: int = _flag(512, "Content latent width.")
    w_dim: int = _flag(512, "Intermediate latent width.")
    mapping_layers: int = _flag(2, "Layers of the content mapping network.")
    channel_base: int = _flag(-1, "Channels(res) = min(channel_base // res, channel_max); -1: 16384 below "
                              "512x512, else 32768 (reference auto).")
    channel_max: int = _flag(512, "Maximum channels of G and D.")
    motion_z_dim: int = _flag(512, "Width of the motion-noise tokens.")
    motion_v_dim: int = _flag(512, "Width of the motion vectors.")
    motion_kernel_size: int = _flag(11, "Kernel size of the motion conv1d layers.")
    time_enc_dim: int = _flag(256, "Frequencies of the acyclic positional encoding.")
    min_period_len: int = _flag(16, "Shortest period (frames); also the motion token spacing (16 FFS, 256 Sky).")
    max_period_len: int = _flag(1024, "Longest period (frames).")
    num_fp16_res: int = _flag(4, "Top resolutions of G and D in mixed precision (0: float32 everywhere).")
    mixed_precision: str = _flag("mixed_float16", "Keras dtype policy of the mixed-precision resolutions.",
                                 choices=["mixed_float16", "mixed_bfloat16"])
    conv_clamp: float = _flag(256.0, "Activation clamp of G and D convolutions (negative: off).")
    mbstd_group_size: int = _flag(-1, "Minibatch-std group size; -1: min(per-replica batch, 4).")
    d_mapping_layers: int = _flag(2, "Layers of the discriminator's conditioning network.")
    concat_res: int = _flag(16, "Resolution at which D concatenates the frames' features.")
    # Optimisation.
    batch: int = _flag(64, "Global batch in videos (clips); k frames each.")
    lr: float = _flag(-1.0, "Adam learning rate of G and D; -1: 0.0025, or 0.002 at 1024x1024 (reference auto).")
    betas: Tuple[float, ...] = _flag((0.0, 0.99), "Adam beta1, beta2 (before lazy-regularisation scaling).")
    eps: float = _flag(1e-8, "Adam epsilon.")
    r1_gamma: float = _flag(-1.0, "R1 weight; -1: 0.0002 * resolution^2 / batch (reference auto).")
    r1_interval: int = _flag(16, "Lazy R1: a regularisation step every this many D steps (0: never).")
    g_reg_interval: int = _flag(4, "G's lazy-regularisation interval (only scales G's lr and beta2, as the "
                                "reference, which has no G regulariser).")
    ema_kimg: float = _flag(-1.0, "EMA half-life of G_ema in thousands of videos; -1: batch * 10 / 32.")
    aug: str = _flag("ada", "Discriminator augmentation.", choices=["ada", "noaug", "fixed"])
    augpipe: str = _flag("bgc", "Augmentation pipeline.")
    aug_p: float = _flag(0.0, "Initial (ada) or fixed (fixed) augmentation probability.")
    ada_target: float = _flag(0.6, "ADA target of E[sign(D(real))].")
    ada_kimg: float = _flag(100.0, "ADA speed: p can go 0 -> 1 in this many thousand videos.")
    ada_interval: int = _flag(4, "Steps between ADA adjustments.")
    # Run length, logging, checkpoints.
    metrics: Tuple[str, ...] = _flag((), "Metrics computed on G_ema during training (e.g. fvd2048_16f,fid50k_full; "
                                     "see svgan_tf.evaluate); empty: none.")
    metrics_every_kimg: float = _flag(0.0, "Compute --metrics every this many kimg (0: at every snapshot).")
    metrics_num_fake: int = _flag(0, "Generated clips (frames for FID) per metric during training; 0: the "
                                     "protocol's (2048 / 50k). Smaller values are quick but not comparable.")
    kimg: float = _flag(25000.0, "Training length in thousands of frames (clips x k).")
    tick_kimg: float = _flag(5.0, "Progress line and TensorBoard scalars every this many kimg.")
    snapshot_kimg: float = _flag(1000.0, "Checkpoint, sample grid and reference-format G_ema every this many kimg.")
    outdir: str = _flag("runs/train", "Output directory (checkpoints, TensorBoard, samples).")
    resume: str = _flag("", "'latest' (newest checkpoint in --outdir), a checkpoint path, or empty.")
    seed: int = _flag(0, "Seed of every random draw (weights, data, latents, augmentation).")
    jit: bool = _flag(False, "XLA-compile the training step (GPUs only).")
    keep_checkpoints: int = _flag(5, "Checkpoints kept in --outdir.")
    # Set by resolve(): dataset resolution, label width and replica count.
    resolution: int = -1
    c_dim: int = 0
    num_replicas: int = 1

    def resolve(self, resolution, c_dim=0, num_replicas=1):
        """The config with every automatic value filled in, validated.

        Raises:
            ValueError: one line listing every invalid value, each naming its flag (non-finite floats,
                values out of range, a batch the replicas or the minibatch-std groups cannot split).
        """
        errors = []
        nonfinite = [f.name for f in dataclasses.fields(self) if not _finite(getattr(self, f.name))]
        errors += [f"--{name} must be finite, got {getattr(self, name)}" for name in nonfinite]

        def require(name, valid, requirement):
            value = getattr(self, name)
            if name not in nonfinite and not valid(value):
                errors.append(f"--{name} must be {requirement}, got {value}")

        for name, (valid, requirement) in _RANGES.items():
            require(name, valid, requirement)
        if self.aug == "ada":
            require("ada_interval", lambda v: v >= 1, ">= 1 with --aug=ada")
        require("max_period_len", lambda v: v >= self.min_period_len, f">= --min_period_len={self.min_period_len}")
        if resolution < 8 or resolution & (resolution - 1):
            errors.append(f"dataset resolution {resolution} is not a power of two >= 8")
        if self.batch > 0 and self.batch % num_replicas:
            errors.append(f"--batch={self.batch} is not divisible by the {num_replicas} replicas")
        elif self.batch > 0 and _positive_or_auto(self.mbstd_group_size):
            per_replica = self.batch // num_replicas
            group = min(self.mbstd_group_size if self.mbstd_group_size > 0 else 4, per_replica)
            if per_replica % group:
                errors.append(
                    f"--mbstd_group_size={self.mbstd_group_size} (a group of {group}) does not divide the "
                    f"{per_replica} clips per replica of --batch={self.batch}: D's minibatch-std groups must split "
                    "each replica's batch evenly (as in the reference); change --batch or --mbstd_group_size")
        if self.max_dist < self.num_frames - 1:
            errors.append(f"--max_dist={self.max_dist} is shorter than num_frames - 1 = {self.num_frames - 1}")
        if not any(self.num_frames - 1 <= d <= self.max_dist for d in self.total_dists):
            errors.append("--total_dists has no span within [num_frames - 1, max_dist]")
        require("betas", lambda v: len(v) == 2 and all(0.0 <= b < 1.0 for b in v), "two values in [0, 1)")
        if self.cond and c_dim == 0:
            errors.append("--cond needs a dataset with labels (dataset.json), but this one has none")
        if not 8 <= self.concat_res < max(resolution, 9):
            errors.append(f"--concat_res={self.concat_res} must be a discriminator resolution in "
                          f"[8, {resolution // 2}]")
        for name in self.metrics:
            protocol = protocols.PROTOCOLS.get(name)
            if protocol is None:
                errors.append(f"--metrics: unknown metric {name!r} (known: {', '.join(protocols.PROTOCOLS)})")
            elif protocol.detector in ("inception_probabilities", "c3d"):
                errors.append(f"--metrics: {name} needs a detector file that is not shipped (StyleGAN2-ADA's Inception "
                              "with its classifier, or the reference's C3D): compute it after training with "
                              "svgan-evaluate --inception=PATH / --c3d=PATH")
        if errors:
            raise ValueError("invalid training configuration: " + "; ".join(errors) + ".")
        batch_per_replica = self.batch // num_replicas
        return dataclasses.replace(
            self, resolution=resolution, c_dim=c_dim if self.cond else 0, num_replicas=num_replicas,
            channel_base=self.channel_base if self.channel_base > 0 else (32768 if resolution >= 512 else 16384),
            lr=self.lr if self.lr > 0 else (0.002 if resolution >= 1024 else 0.0025),
            r1_gamma=self.r1_gamma if self.r1_gamma >= 0 else 0.0002 * resolution ** 2 / self.batch,
            ema_kimg=self.ema_kimg if self.ema_kimg > 0 else self.batch * 10 / 32,
            mbstd_group_size=self.mbstd_group_size if self.mbstd_group_size > 0 else min(batch_per_replica, 4))

    @property
    def batch_per_replica(self):
        return self.batch // self.num_replicas

    @property
    def conv_clamp_or_none(self):
        return None if self.conv_clamp is None or self.conv_clamp < 0 else self.conv_clamp

    def sampling(self):
        """The sparse frame sampling of this run (`svgan_tf.data.sampling.SamplingConfig`)."""
        from svgan_tf.data import sampling as sampling_lib
        return sampling_lib.SamplingConfig(num_frames=self.num_frames, max_num_frames=self.max_num_frames,
                                           max_dist=self.max_dist, total_dists=self.total_dists, mirror=self.mirror)

    def generator_kwargs(self):
        """`svgan_tf.networks.generator.Generator` arguments."""
        return dict(
            z_dim=self.z_dim, c_dim=self.c_dim, w_dim=self.w_dim, img_resolution=self.resolution,
            mapping_layers=self.mapping_layers, channel_base=self.channel_base, channel_max=self.channel_max,
            num_fp16_res=self.num_fp16_res, conv_clamp=self.conv_clamp_or_none, motion_z_dim=self.motion_z_dim,
            motion_v_dim=self.motion_v_dim, motion_kernel_size=self.motion_kernel_size,
            motion_z_distance=self.min_period_len, time_enc_dim=self.time_enc_dim,
            min_period_len=self.min_period_len, max_period_len=self.max_period_len,
            max_num_frames=self.max_num_frames, mixed_precision=self.mixed_precision)

    def discriminator_kwargs(self):
        """`svgan_tf.networks.discriminator.Discriminator` arguments."""
        return dict(
            c_dim=self.c_dim, img_resolution=self.resolution, channel_base=self.channel_base,
            channel_max=self.channel_max, num_fp16_res=self.num_fp16_res, conv_clamp=self.conv_clamp_or_none,
            num_frames=self.num_frames, concat_res=self.concat_res, mbstd_group_size=self.mbstd_group_size,
            mapping_layers=self.d_mapping_layers, max_num_frames=self.max_num_frames,
            mixed_precision=self.mixed_precision)

    def summary(self):
        """Human-readable lines of every value, for the start-up log."""
        return [f"{field.name:<18} {getattr(self, field.name)}" for field in dataclasses.fields(self)]

    def to_json(self):
        """Every field as a JSON object (text); `from_json` reads it back as an equal config."""
        return json.dumps(dataclasses.asdict(self), indent=1)

    @classmethod
    def from_json(cls, text):
        """The config written by `to_json`; fields it lacks keep their defaults.

        Args:
            text: a JSON object of field values.

        Returns:
            The `TrainConfig`, its tuple fields tuples again (JSON has only lists).

        Raises:
            ValueError: the text is not a JSON object, or names a field TrainConfig does not have.
        """
        values = json.loads(text)
        if not isinstance(values, dict):
            raise ValueError(f"a training config is a JSON object, got {type(values).__name__}.")
        unknown = sorted(set(values) - {field.name for field in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"unknown training config fields: {', '.join(unknown)}.")
        return cls(**{name: _tuples(value) for name, value in values.items()})


def _finite(value):
    """Whether every float of a field value (a number or a tuple of them) is finite."""
    values = value if isinstance(value, tuple) else (value,)
    return all(math.isfinite(v) for v in values if isinstance(v, float))


def _positive(value):
    return value > 0


def _positive_or_auto(value):
    return value > 0 or value == -1


# Valid values of the fields `resolve` checks one by one, with the requirement its error states.
_RANGES = {
    **{name: (_positive, "positive") for name in (
        "batch", "num_frames", "max_num_frames", "z_dim", "w_dim", "mapping_layers", "channel_max", "motion_z_dim",
        "motion_v_dim", "motion_kernel_size", "time_enc_dim", "min_period_len", "d_mapping_layers", "eps", "ada_kimg",
        "kimg", "tick_kimg", "snapshot_kimg", "keep_checkpoints")},
    **{name: (_positive_or_auto, "positive, or -1 (auto)") for name in (
        "channel_base", "mbstd_group_size", "lr", "ema_kimg")},
    "r1_gamma": (lambda v: v >= 0 or v == -1, ">= 0, or -1 (auto)"),
    **{name: (lambda v: v >= 0, ">= 0") for name in (
        "num_fp16_res", "r1_interval", "g_reg_interval", "ada_interval", "metrics_every_kimg", "metrics_num_fake")},
    **{name: (lambda v: 0.0 <= v <= 1.0, "in [0, 1]") for name in ("aug_p", "ada_target")},
}


def _tuples(value):
    """`value` with its JSON lists made tuples again, at any depth."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def define_flags():
    """One flag per TrainConfig field that has a help text, with the field's default.

    Called by the training programs (not on import: other programs of the project define their own flags,
    e.g. --num_frames of `svgan_tf.generate`). Idempotent.
    """
    if "data" in flags.FLAGS:
        return
    for field in dataclasses.fields(TrainConfig):
        help_text, choices = field.metadata.get("help"), field.metadata.get("choices")
        if help_text is None:
            continue
        default = field.default
        if choices:
            flags.DEFINE_enum(field.name, default, choices, help_text)
        elif isinstance(default, bool):
            flags.DEFINE_bool(field.name, default, help_text)
        elif isinstance(default, tuple):
            flags.DEFINE_list(field.name, [str(v) for v in default], help_text)
        elif isinstance(default, int):
            flags.DEFINE_integer(field.name, default, help_text)
        elif isinstance(default, float):
            flags.DEFINE_float(field.name, default, help_text)
        else:
            flags.DEFINE_string(field.name, default, help_text)


FLAGS = flags.FLAGS


def from_flags():
    """A `TrainConfig` from the parsed absl flags (not resolved); raises ValueError naming a bad flag."""
    if not FLAGS.data:
        raise ValueError("--data is required: a dataset path, or 'demo' for the built-in synthetic videos.")
    if FLAGS.data != "demo" and not FLAGS.data.startswith("demo:") and not os.path.exists(FLAGS.data):
        raise ValueError(f"--data={FLAGS.data}: no such file or directory.")
    values = {}
    for field in dataclasses.fields(TrainConfig):
        if "help" not in field.metadata:
            continue
        value = getattr(FLAGS, field.name)
        if isinstance(field.default, tuple):
            cast = type(field.default[0]) if field.default else str
            try:
                value = tuple(cast(v) for v in value)
            except ValueError:
                raise ValueError(f"--{field.name} must be a list of numbers, got {','.join(value)}") from None
        values[field.name] = value
    return TrainConfig(**values)


def kimg_to_steps(kimg, batch, num_frames):
    """Training steps covering `kimg` thousand frames (kimg counts frames: batch clips x k frames per step)."""
    return max(1, math.ceil(kimg * 1000 / (batch * num_frames) - 1e-9))  # tolerate float rounding of kimg
