"""Reference StyleGAN-V (official PyTorch code) <-> svgan_tf: constructor arguments and parameter names.

This is the one place that knows the reference's names and layouts. Every parameter or buffer of the
reference `state_dict` is either a variable of ours (listed by `reference_variables`) or a constant of
the architecture that we verify on load (the normalised [1,3,3,1] `resample_filter` buffers).

Layouts (reference = PyTorch, NCHW; ours = NHWC):

| kind    | reference          | ours                |
|---------|--------------------|---------------------|
| dense   | [out, in]          | [in, out]           |
| conv2d  | [out, in, kh, kw]  | [kh, kw, in, out]   |
| conv1d  | [out, in, k]       | [k, in, out]        |
| const   | [1, C, H, W]       | [H, W, C]           |
| row     | [1, n]             | [n]                 |
| same    | any                | same                |

Name correspondences (ours -> reference), for a generator G and a discriminator D:

* G.mapping.fc{i}, .embed, .w_avg            -> mapping.fc{i}, mapping.embed, mapping.w_avg
* G.motion_mapping.conv{0,1}                 -> synthesis.motion_encoder.conv.{0,1}
* G.motion_mapping.time_encoder.*            -> synthesis.motion_encoder.time_encoder.*
* G.synthesis.blocks[i] (b{res}).const       -> synthesis.b4.input.input.const
* G.synthesis.b{res}.{conv0,conv1,torgb}     -> synthesis.b{res}.{conv0,conv1,torgb} (+ .affine)
* D.blocks[i] (b{res}).{fromrgb,conv0,conv1,skip} -> b{res}.*
* D.epilogue.{conv,fc,out}                   -> b4.{conv,fc,out}
* D.mapping.{embed,fc{i}}                    -> mapping.*
* D.time_encoder.const_embed, .fourier_coefs -> time_encoder.const_embed.weight, time_encoder.time_encoder.fourier_coefs
"""

import inspect
import math
import os

import numpy as np

from svgan_tf import atomic
from svgan_tf.interop import bounded
from svgan_tf.networks.discriminator import Discriminator
from svgan_tf.networks.generator import Generator, channels_per_resolution
from svgan_tf.networks.layers import resample_filter_2d

_TO_REFERENCE = {
    "dense": lambda a: a.T,
    "conv2d": lambda a: a.transpose(3, 2, 0, 1),
    "conv1d": lambda a: a.transpose(2, 1, 0),
    "const": lambda a: a.transpose(2, 0, 1)[None],
    "row": lambda a: a[None],
    "same": lambda a: a,
}
_FROM_REFERENCE = {
    "dense": lambda a: a.T,
    "conv2d": lambda a: a.transpose(2, 3, 1, 0),
    "conv1d": lambda a: a.transpose(2, 1, 0),
    "const": lambda a: a[0].transpose(1, 2, 0),
    "row": lambda a: a[0],
    "same": lambda a: a,
}


def to_reference_layout(layout, array):
    """An array of one of our variables (a value, gradient or optimiser moment) in the reference's layout."""
    return _TO_REFERENCE[layout](np.asarray(array))


def from_reference_layout(layout, array):
    """The inverse of `to_reference_layout`."""
    return _FROM_REFERENCE[layout](np.asarray(array))


# --------------------------------------------------------------------------------------------------
# Constructor arguments.

def _require(condition, message):
    if not condition:
        raise NotImplementedError(message)


def _mapping_extras(mapping_kwargs):
    """The reference MappingNetwork options beyond num_layers, as `MappingNetwork` arguments."""
    _require(mapping_kwargs.get("activation", "lrelu") == "lrelu",
             f"mapping activation {mapping_kwargs.get('activation')!r}")
    known = ("lr_multiplier", "w_avg_beta", "embed_features", "layer_features")
    return {key: mapping_kwargs[key] for key in known if key in mapping_kwargs}


def generator_kwargs(G_kwargs):
    """Our `Generator` arguments from the reference's `G_kwargs` (as in a fixture's config.json or a pickle)."""
    cfg = G_kwargs["cfg"]
    motion, time_enc = cfg["motion"], cfg["time_enc"]
    synthesis = G_kwargs.get("synthesis_kwargs", {})
    _require(not cfg.get("use_noise", False), "use_noise=True (per-pixel noise inputs) is not part of StyleGAN-V.")
    _require(cfg.get("input", {}).get("type", "temporal") == "temporal", f"cfg.input.type={cfg['input']['type']!r}")
    _require(motion.get("gen_strategy", "conv") == "conv", f"motion.gen_strategy={motion['gen_strategy']!r}")
    _require(motion.get("fourier", True), "motion.fourier=False (ablation without positional encoding)")
    _require(time_enc.get("cond_type", "concat_const") == "concat_const",
             f"time_enc.cond_type={time_enc['cond_type']!r}")
    _require(synthesis.get("architecture", "skip") == "skip",
             f"synthesis architecture {synthesis.get('architecture')!r}")
    c_dim, motion_c_dim = G_kwargs.get("c_dim", 0), cfg.get("c_dim", 0)
    _require(motion_c_dim in (0, c_dim), f"cfg.c_dim={motion_c_dim} with a generator c_dim={c_dim}")
    mapping = G_kwargs.get("mapping_kwargs", {})
    return dict(
        z_dim=cfg["z_dim"], c_dim=c_dim, w_dim=G_kwargs["w_dim"],
        img_resolution=G_kwargs["img_resolution"], img_channels=G_kwargs.get("img_channels", 3),
        mapping_layers=mapping.get("num_layers", 8), mapping_kwargs=_mapping_extras(mapping),
        motion_conditioning=motion_c_dim > 0,
        channel_base=synthesis.get("channel_base", 32768), channel_max=synthesis.get("channel_max", 512),
        num_fp16_res=synthesis.get("num_fp16_res", 0), conv_clamp=synthesis.get("conv_clamp"),
        motion_z_dim=motion["z_dim"], motion_v_dim=motion["v_dim"], motion_kernel_size=motion["kernel_size"],
        motion_z_distance=motion["motion_z_distance"], time_enc_dim=time_enc["dim"],
        min_period_len=time_enc["min_period_len"], max_period_len=time_enc["max_period_len"],
        max_num_frames=cfg["sampling"]["max_num_frames"])


def discriminator_kwargs(D_kwargs):
    """Our `Discriminator` arguments from the reference's `D_kwargs`."""
    cfg = D_kwargs["cfg"]
    sampling = cfg["sampling"]
    epilogue = D_kwargs.get("epilogue_kwargs", {})
    mapping = D_kwargs.get("mapping_kwargs", {})
    for where in (D_kwargs, D_kwargs.get("block_kwargs", {})):
        _require(where.get("architecture", "resnet") == "resnet",
                 f"discriminator architecture {where.get('architecture')!r} (only 'resnet' is supported)")
    _require(sampling.get("type", "random") == "random" or sampling["num_frames_per_video"] == 1,
             f"sampling.type={sampling.get('type')!r}")
    return dict(
        c_dim=D_kwargs.get("c_dim", 0), img_resolution=D_kwargs["img_resolution"],
        img_channels=D_kwargs.get("img_channels", 3), channel_base=D_kwargs.get("channel_base", 32768),
        channel_max=D_kwargs.get("channel_max", 512), num_fp16_res=D_kwargs.get("num_fp16_res", 0),
        conv_clamp=D_kwargs.get("conv_clamp"), num_frames=sampling["num_frames_per_video"],
        concat_res=cfg["concat_res"], num_frames_div_factor=cfg["num_frames_div_factor"],
        mbstd_group_size=epilogue.get("mbstd_group_size", 4), mbstd_num_channels=epilogue.get("mbstd_num_channels", 1),
        mapping_layers=mapping.get("num_layers", 8), mapping_kwargs=_mapping_extras(mapping),
        max_num_frames=sampling["max_num_frames"], skip_small_t_freqs=cfg.get("skip_small_t_freqs", 0),
        dummy_c=cfg.get("dummy_c", False), cmap_dim=D_kwargs.get("cmap_dim"))


# Bounds on the integer network arguments a file may declare (checked before a network is built): far above the
# published models (img_resolution 1024, 512 channels, 1024 frames), far below exhausting a machine's memory.
_GENERATOR_INT_LIMITS = dict(
    z_dim=1 << 14, c_dim=1 << 14, w_dim=1 << 14, img_channels=4, mapping_layers=64, channel_base=1 << 24,
    channel_max=1 << 14, num_fp16_res=16, motion_z_dim=1 << 14, motion_v_dim=1 << 14, motion_kernel_size=1 << 10,
    motion_z_distance=1 << 14, time_enc_dim=1 << 14, min_period_len=1 << 30, max_period_len=1 << 30,
    max_num_frames=1 << 30)
_DISCRIMINATOR_INT_LIMITS = dict(
    c_dim=1 << 14, img_channels=4, channel_base=1 << 24, channel_max=1 << 14, num_fp16_res=16, num_frames=1 << 10,
    concat_res=1 << 14, num_frames_div_factor=1 << 10, mbstd_group_size=1 << 14, mbstd_num_channels=1 << 10,
    mapping_layers=64, max_num_frames=1 << 30, time_embed_dim=1 << 14, skip_small_t_freqs=1 << 10)
_MAX_RESOLUTION = 1 << 14


def check_generator_kwargs(kwargs, source, stored_parameters):
    """Checks Generator arguments read from a file before a network is built from them.

    Each integer argument must lie within sane bounds, and the architecture must fit the weights the file
    stores: a Generator has at least one 3x3 convolution per resolution, so an architecture whose convolutions
    alone need more parameters than `stored_parameters` cannot be what the file holds, and is refused before
    its variables are allocated.

    Args:
        kwargs: the declared `Generator` arguments (missing ones take the Generator's defaults).
        source: the file, for messages.
        stored_parameters: the number of weight values the file holds.

    Raises:
        ValueError: naming `source` and the argument.
    """
    _check_network_kwargs(Generator, _GENERATOR_INT_LIMITS, kwargs, source, stored_parameters)


def check_discriminator_kwargs(kwargs, source, stored_parameters):
    """`check_generator_kwargs` for Discriminator arguments (it too has 3x3 convolutions at every resolution)."""
    _check_network_kwargs(Discriminator, _DISCRIMINATOR_INT_LIMITS, kwargs, source, stored_parameters)


def _check_network_kwargs(network, int_limits, kwargs, source, stored_parameters):
    name = network.__name__
    if not isinstance(kwargs, dict):
        raise ValueError(f"{source}: {name} arguments must be a JSON object, got {type(kwargs).__name__}.")
    defaults = {key: p.default for key, p in inspect.signature(network.__init__).parameters.items()}
    args = {**defaults, **kwargs}
    resolution = args["img_resolution"]
    if not (_is_int(resolution) and 4 <= resolution <= _MAX_RESOLUTION and resolution & (resolution - 1) == 0):
        raise ValueError(f"{source}: {name} img_resolution must be a power of two in [4, {_MAX_RESOLUTION}], "
                         f"got {resolution!r}.")
    for key, limit in int_limits.items():
        if not (_is_int(args[key]) and 0 <= args[key] <= limit):
            raise ValueError(f"{source}: {name} {key} must be an integer in [0, {limit}], got {args[key]!r}.")
    resolutions = [2 ** i for i in range(2, int(math.log2(resolution)) + 1)]
    channels = channels_per_resolution(resolutions, args["channel_base"], args["channel_max"])
    needed = sum(9 * c * c for c in channels.values())
    if needed > stored_parameters:
        raise ValueError(f"{source}: the declared {name} needs at least {needed:,} weights, but the file "
                         f"holds {stored_parameters:,}.")


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def check_npz_export(path):
    """Checks a `G_ema-reference-*.npz` and its `.json` of Generator arguments before a network is built.

    Raises:
        FileNotFoundError: either file is missing.
        ValueError: the arguments are out of bounds or do not fit the stored weights (see
            `check_generator_kwargs`), or the `.npz` declares more than it holds.
    """
    sidecar = path[:-len(".npz")] + ".json"
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file.")
    if not os.path.isfile(sidecar):
        raise FileNotFoundError(f"{path}: the Generator arguments {sidecar} are missing.")
    stored = sum(array.size for array in bounded.load_npz(path).values())
    check_generator_kwargs(bounded.read_json(sidecar), sidecar, stored)


def build_generator(G_kwargs, **overrides):
    """A `Generator` with the reference's architecture (random weights); `overrides` replace our arguments."""
    return Generator(**{**generator_kwargs(G_kwargs), **overrides})


def build_discriminator(D_kwargs, **overrides):
    """A `Discriminator` with the reference's architecture (random weights)."""
    return Discriminator(**{**discriminator_kwargs(D_kwargs), **overrides})


# --------------------------------------------------------------------------------------------------
# Parameter names.

def _dense(prefix, layer):
    yield f"{prefix}.weight", layer.weight, "dense"
    if layer.bias is not None:
        yield f"{prefix}.bias", layer.bias, "same"


def _conv(prefix, layer, layout="conv2d"):
    yield f"{prefix}.weight", layer.weight, layout
    if layer.bias is not None:
        yield f"{prefix}.bias", layer.bias, "same"


def _mapping(prefix, mapping):
    if mapping.embed is not None:
        yield from _dense(f"{prefix}.embed", mapping.embed)
    for i, fc in enumerate(mapping.fcs):
        yield from _dense(f"{prefix}.fc{i}", fc)
    if mapping.w_avg is not None:
        yield f"{prefix}.w_avg", mapping.w_avg, "same"


def generator_variables(G):
    """(reference name, variable, layout) for every variable of a `Generator`."""
    yield from _mapping("mapping", G.mapping)
    motion = G.motion_mapping
    yield from _conv("synthesis.motion_encoder.conv.0", motion.conv0, "conv1d")
    yield from _conv("synthesis.motion_encoder.conv.1", motion.conv1, "conv1d")
    pe, pe_name = motion.time_encoder, "synthesis.motion_encoder.time_encoder"
    yield f"{pe_name}.freqs", pe.freqs, "row"
    yield f"{pe_name}.phase_scales", pe.phase_scales, "row"
    for name in ("periods_predictor", "phase_predictor", "aligners_predictor"):
        yield from _dense(f"{pe_name}.{name}", getattr(pe, name))
    for res, block in zip(G.synthesis.block_resolutions, G.synthesis.blocks):
        prefix = f"synthesis.b{res}"
        if block.conv0 is None:
            yield f"{prefix}.input.input.const", block.const, "const"
        for name in ("conv0", "conv1", "torgb"):
            layer = getattr(block, name)
            if layer is not None:
                yield from _conv(f"{prefix}.{name}", layer)
                yield from _dense(f"{prefix}.{name}.affine", layer.affine)


def discriminator_variables(D):
    """(reference name, variable, layout) for every variable of a `Discriminator`."""
    if D.time_encoder is not None:
        yield "time_encoder.const_embed.weight", D.time_encoder.const_embed, "same"
        yield "time_encoder.time_encoder.fourier_coefs", D.time_encoder.fourier_coefs, "row"
    for res, block in zip(D.block_resolutions, D.blocks):
        for name in ("fromrgb", "conv0", "conv1", "skip"):
            layer = getattr(block, name)
            if layer is not None:
                yield from _conv(f"b{res}.{name}", layer)
    if D.mapping is not None:
        yield from _mapping("mapping", D.mapping)
    yield from _conv("b4.conv", D.epilogue.conv)
    yield from _dense("b4.fc", D.epilogue.fc)
    yield from _dense("b4.out", D.epilogue.out)


def num_parameters(model):
    """Parameters as the reference counts them (its `torch.nn.Parameter`s): our trainable variables; buffers such
    as `w_avg` are not counted."""
    return sum(int(np.prod(v.shape)) for v in model.trainable_weights)


def reference_variables(model):
    """(reference name, variable, layout) for a `Generator` or a `Discriminator`."""
    if isinstance(model, Generator):
        return list(generator_variables(model))
    if isinstance(model, Discriminator):
        return list(discriminator_variables(model))
    raise TypeError(f"Expected a Generator or a Discriminator, got {type(model).__name__}.")


def _constant_buffers(model):
    """Reference buffers that are constants of the architecture: name -> value."""
    names = set()
    if isinstance(model, Generator):
        for res, block in zip(model.synthesis.block_resolutions, model.synthesis.blocks):
            names.add(f"synthesis.b{res}.resample_filter")
            names.update(f"synthesis.b{res}.{n}.resample_filter" for n in ("conv0", "conv1") if getattr(block, n))
    else:
        for res, block in zip(model.block_resolutions, model.blocks):
            names.add(f"b{res}.resample_filter")
            names.update(f"b{res}.{n}.resample_filter" for n in ("fromrgb", "conv0", "conv1", "skip")
                         if getattr(block, n) is not None)
        names.add("b4.conv.resample_filter")
    return {name: resample_filter_2d() for name in names}


def load_reference_weights(model, params, source="reference parameters"):
    """Assigns reference-named arrays (a reference state_dict as numpy) to `model`'s variables.

    Every variable must be present with the right shape, every reference tensor must be used (or be a
    verified constant buffer); otherwise nothing is assigned and a ValueError names the problems.

    Args:
        model: a `Generator` or a `Discriminator`.
        params: mapping reference name -> array (e.g. `np.load("params_G.npz")`).
        source: a description of `params` for error messages (e.g. the file name).
    """
    params = {name: np.asarray(params[name]) for name in params}
    problems, assignments = [], []
    for name, variable, layout in reference_variables(model):
        expected_shape = _TO_REFERENCE[layout](np.zeros(variable.shape)).shape
        if name not in params:
            problems.append(f"missing {name} (expected shape {expected_shape})")
            continue
        value = params.pop(name)
        if value.shape != expected_shape:
            problems.append(f"{name}: shape {value.shape} does not match the model's {expected_shape}")
            continue
        assignments.append((variable, _FROM_REFERENCE[layout](value)))
    for name, expected in _constant_buffers(model).items():
        if name in params:
            value = params.pop(name)
            if value.shape != expected.shape or not np.allclose(value, expected, rtol=0, atol=1e-7):
                problems.append(f"{name}: constant buffer differs from the [1,3,3,1] filter this model uses")
    problems.extend(f"unexpected tensor {name} {tuple(params[name].shape)}" for name in sorted(params))
    if problems:
        raise ValueError(f"{source} do not fit this {type(model).__name__}:\n  " + "\n  ".join(problems))
    for variable, value in assignments:
        variable.assign(value.astype(np.float32))


def load_reference_npz(model, path):
    """Loads a reference-named `.npz` (e.g. a fixture's params_G.npz) into `model`."""
    load_reference_weights(model, bounded.load_npz(path), source=str(path))


def save_reference_npz(model, path):
    """Writes the model under reference names to `path` (.npz), atomically: a crash leaves no partial file."""
    with atomic.staged_path(path) as staging, open(staging, "wb") as f:
        np.savez(f, **reference_state_dict(model))
        f.flush()
        os.fsync(f.fileno())


def reference_state_dict(model):
    """The model's parameters and buffers as reference-named float32 arrays (the inverse of loading)."""
    state = {name: _TO_REFERENCE[layout](np.asarray(variable.numpy(), dtype=np.float32))
             for name, variable, layout in reference_variables(model)}
    state.update(_constant_buffers(model))
    return state
