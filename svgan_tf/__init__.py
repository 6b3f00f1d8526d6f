"""svgan-tf: StyleGAN-V (Skorokhodov, Tulyakov, Elhoseiny, CVPR 2022) in TensorFlow 2 / Keras 3.

The public API, imported on first use (`svgan_tf.Generator`, ...): the networks, the training configuration
and loop, run directories, video generation, export and evaluation; see `__all__`. Sub-packages:
`networks`, `training`, `data`, `metrics`, `export`, `interop`; the programs (`python -m svgan_tf.<name>`,
console scripts `svgan-<name>`) are listed in `svgan_tf.cli`.

Importing the package first imports TensorFlow with its C++ start-up lines (oneDNN, CUDA probing) silenced;
set `SVGAN_TF_VERBOSE=1`, or `TF_CPP_MIN_LOG_LEVEL` yourself, to see them.
"""

import importlib

from svgan_tf import cli

cli.import_tensorflow_quietly()

# Public name -> the module that defines it.
_API = {
    "Generator": "svgan_tf.networks.generator",
    "Discriminator": "svgan_tf.networks.discriminator",
    "TrainConfig": "svgan_tf.training.config",
    "train": "svgan_tf.training.loop",
    "load_generator": "svgan_tf.training.run_dir",
    "content_z": "svgan_tf.latents",
    "MotionTokenStream": "svgan_tf.latents",
    "generate_video": "svgan_tf.generation",
    "export_savedmodel": "svgan_tf.export.savedmodel",
    "export_tflite": "svgan_tf.export.tflite",
    "export_onnx": "svgan_tf.export.onnx",
    "evaluate": "svgan_tf.metrics.evaluation",
    "frechet_distance": "svgan_tf.metrics.frechet",
    "import_snapshot": "svgan_tf.interop.importer",
}
__all__ = sorted(_API)


def __getattr__(name):
    if name not in _API:
        raise AttributeError(f"module 'svgan_tf' has no attribute {name!r}")
    return getattr(importlib.import_module(_API[name]), name)


def __dir__():
    return sorted(set(globals()) | set(__all__))
