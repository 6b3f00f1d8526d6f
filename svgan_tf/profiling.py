"""Model profiles: parameters, GFLOP and activation memory per frame of G and D; the library of
`python -m svgan_tf.profile`.

* Parameters are counted as the reference counts them (`sum(p.numel() for p in module.parameters())`): the
  trainable weights only; buffers (G's tracked `w_avg`, fixed resampling filters) are not parameters.
* FLOPs are TensorFlow's profiler count (`tf.compat.v1.profiler` with `float_operation()`, the statistics
  every op type registers: a multiply-add is 2 FLOPs, element-wise ops 1 per element) of the traced graph of
  one forward pass of batch 1: G renders one frame (content mapping, motion mapping and synthesis at t = 0),
  D judges one clip of its `num_frames` frames (per frame: that over num_frames). The per-op statistics are
  attributed to the network part and synthesis / discriminator block (resolution) whose name scope holds
  the op.
* Activation memory is the bytes of every floating-point tensor the same forward graph computes (constants,
  variable reads and ops that only alias their input, such as reshapes and identities, left out): what a
  training step keeps for the backward pass, an upper bound of the peak of an inference that frees
  tensors as it goes.
"""

import re

import numpy as np
import tensorflow as tf
from tensorflow.python.framework import ops as framework_ops

# Ops whose output is no new activation: inputs, constants, variable reads, views and control.
_NOT_ACTIVATIONS = {"Const", "Placeholder", "ReadVariableOp", "Identity", "IdentityN", "Reshape", "Squeeze",
                    "ExpandDims", "NoOp", "Assert", "Shape", "StridedSlice", "Unpack", "Pack"}
_BLOCK = re.compile(r"/b(\d+)(?:_\d+)?/")


def count_parameters(model):
    """Trainable parameters of a Keras model or layer (the reference's `parameters()` count)."""
    return int(sum(np.prod(v.shape) for v in model.trainable_weights))


def _op_flops(graph, op):
    try:
        value = framework_ops.get_stats_for_node_def(graph, op.node_def, "flops").value
    except ValueError:  # no statistics registered for the op type: the profiler counts it as 0 too
        return 0
    return int(value or 0)


def _op_bytes(op):
    if op.type in _NOT_ACTIVATIONS:
        return 0
    total = 0
    for tensor in op.outputs:
        if tensor.dtype.is_floating and tensor.shape.is_fully_defined():
            total += int(np.prod(tensor.shape)) * tensor.dtype.size
    return total


def graph_profile(concrete_function, part_of):
    """FLOPs and activation bytes of a traced function, per part.

    Args:
        concrete_function: a `tf.function`'s concrete function.
        part_of: op name -> the part (a string) it is counted under.

    Returns:
        {part: {"flops": int, "activation_bytes": int}} and, under "total", their sums (equal to
        `tf.compat.v1.profiler`'s `total_float_ops` for the flops).
    """
    graph = concrete_function.graph
    parts = {}
    for op in graph.get_operations():
        entry = parts.setdefault(part_of(op.name), {"flops": 0, "activation_bytes": 0})
        entry["flops"] += _op_flops(graph, op)
        entry["activation_bytes"] += _op_bytes(op)
    parts["total"] = {key: sum(p[key] for p in parts.values()) for key in ("flops", "activation_bytes")}
    return parts


def profiler_flops(concrete_function):
    """`tf.compat.v1.profiler`'s total float operations of a traced function (the reference figure's tool)."""
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return int(tf.compat.v1.profiler.profile(graph=concrete_function.graph, options=options).total_float_ops)


def _part(op_name, prefix, parts):
    """"<prefix>b<res>" for ops in a block scope, else the one of `parts` whose scope holds the op, else "other"
    (the glue between the networks: reshapes, repeats)."""
    block = _BLOCK.search(op_name)
    if block:
        return f"{prefix}b{block.group(1)}"
    scopes = op_name.split("/")
    part = re.sub(r"_\d+$", "", scopes[1]) if len(scopes) > 2 else None
    return part if part in parts else "other"


def profile_generator(G):
    """G's profile: parameters per part and per synthesis block; GFLOP and activation MiB per frame.

    Returns:
        {"parameters": {part: count, ..., "total"}, "per_frame": {part: {"gflop", "activation_mib"}, ...}}.
    """
    parameters = {"mapping": count_parameters(G.mapping), "motion_mapping": count_parameters(G.motion_mapping),
                  "synthesis": count_parameters(G.synthesis)}
    parameters.update({f"synthesis/b{block.resolution}": count_parameters(block) for block in G.synthesis.blocks})
    parameters["total"] = count_parameters(G)
    return {"parameters": parameters, "per_frame": _per_unit(
        graph_profile(frame_function(G), lambda name: _part(name, "synthesis/", parameters)), 1)}


def frame_function(G):
    """G traced for one frame (batch 1, one time, its motion-token window; a label for conditional models)."""
    c = [tf.TensorSpec([1, G.c_dim], tf.float32)] if G.c_dim else []

    def frame(z, t, motion_z, *c):
        return G(z, t, motion_z, c=c[0] if c else None)

    return tf.function(frame).get_concrete_function(
        tf.TensorSpec([1, G.z_dim], tf.float32), tf.TensorSpec([1, 1], tf.float32),
        tf.TensorSpec([1, G.window_length, G.motion_z_dim], tf.float32), *c)


def profile_discriminator(D):
    """D's profile: parameters per part and per block; GFLOP and activation MiB per clip and per frame.

    Returns:
        {"parameters": {...}, "per_clip": {part: {"gflop", "activation_mib"}}, "per_frame": the same / num_frames}.
    """
    parameters = {f"b{res}": count_parameters(block) for res, block in zip(D.block_resolutions, D.blocks)}
    parameters["b4"] = count_parameters(D.epilogue)  # the epilogue works at 4x4
    for name in ("mapping", "time_encoder"):
        if getattr(D, name) is not None:
            parameters[name] = count_parameters(getattr(D, name))
    parameters["total"] = count_parameters(D)
    k, r = D.num_frames, D.img_resolution
    c = [tf.TensorSpec([1, D.c_dim], tf.float32)] if D.c_dim else []

    def clip(frames, t, *c):
        return D(frames, t, c=c[0] if c else None)

    concrete = tf.function(clip).get_concrete_function(
        tf.TensorSpec([1, k, r, r, D.img_channels], tf.float32), tf.TensorSpec([1, k], tf.float32), *c)
    parts = graph_profile(concrete, lambda name: _part(name, "", parameters))
    return {"parameters": parameters, "per_clip": _per_unit(parts, 1), "per_frame": _per_unit(parts, k)}


def _per_unit(parts, divisor):
    """{part: {"gflop", "activation_mib"}} divided by `divisor`, rounded for reading."""
    return {name: {"gflop": round(p["flops"] / divisor / 1e9, 6),
                   "activation_mib": round(p["activation_bytes"] / divisor / 2 ** 20, 4)}
            for name, p in sorted(parts.items(), key=lambda item: _order(item[0]))}


def _order(name):
    """Blocks by resolution after the other parts; the total last."""
    block = re.search(r"b(\d+)", name)
    return (name == "total", block is not None, int(block.group(1)) if block else 0, name)


def config_from_flagfile(path, resolution, c_dim=0):
    """The resolved `TrainConfig` of a training flagfile (`configs/*.flags`) at a dataset resolution.

    Args:
        path: a flagfile of `svgan_tf.train` (`--name=value` lines, `#` comments).
        resolution: the dataset resolution (a run takes it from its data).
        c_dim: the label width of a conditional dataset.

    Raises:
        ValueError: naming the file and line, for a line that is no training flag.
    """
    import dataclasses

    from svgan_tf.training.config import TrainConfig

    fields = {f.name: f for f in dataclasses.fields(TrainConfig) if "help" in f.metadata}
    values = {}
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, _, text = line.removeprefix("--").partition("=")
            if not line.startswith("--") or name not in fields:
                raise ValueError(f"{path}:{number}: {line!r} is not a training flag.")
            values[name] = _flag_value(fields[name].default, text, f"{path}:{number}")
    return TrainConfig(**values).resolve(resolution, c_dim=c_dim)


def _flag_value(default, text, where):
    """A flag's text as the type of its default."""
    try:
        if isinstance(default, bool):
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError
            return text.lower() in ("true", "1")
        if isinstance(default, tuple):
            cast = type(default[0]) if default else str
            return tuple(cast(v) for v in text.split(",") if v)
        return type(default)(text) if default is not None else text
    except ValueError:
        raise ValueError(f"{where}: {text!r} is not a value of this flag.") from None
