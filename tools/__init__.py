"""Maintainer scripts: benchmarks, fixture makers, reference checks (`python -m tools.<name>`)."""

import svgan_tf  # noqa: F401  (first: it imports TensorFlow without its C++ start-up lines)
