"""Shared test set-up: two logical CPUs, the reference fixtures (TensorFlow is imported quietly by svgan_tf).

Without ../shared the reference-parity tests skip and the run ends with a loud banner; under CI=true (as
`.ci/run` sets it) a missing fixture fails the run instead.
"""

import pytest

import svgan_tf  # noqa: F401  (first: it imports TensorFlow without its C++ start-up lines)
from tests import support
from tests.support import OFFICIAL_SMALL, OFFICIAL_TRAIN_SMALL, REFERENCE_PICKLE


def pytest_configure(config):
    # Two logical CPU devices, so that tf.distribute.MirroredStrategy can be tested with 2 replicas. This must
    # happen before TensorFlow initialises its devices, hence before any test is collected.
    import tensorflow as tf

    tf.config.set_logical_device_configuration(tf.config.list_physical_devices("CPU")[0],
                                               [tf.config.LogicalDeviceConfiguration()] * 2)


_ABSENT = "REFERENCE FIXTURE ABSENT: "


def _fixture(path, what):
    """`path` if it exists; else a failure under CI=true, or a skip reported loudly at the end of the run."""
    if path.exists():
        return path
    support.absent(f"{_ABSENT}{path} not found; {what} NOT checked")


@pytest.fixture
def official_small():
    """Path of the golden network fixture."""
    return _fixture(OFFICIAL_SMALL, "reference parity")


@pytest.fixture
def official_train_small():
    """Path of the golden training-step fixture."""
    return _fixture(OFFICIAL_TRAIN_SMALL, "training parity")


@pytest.fixture
def reference_pickle():
    """Path of the official-format snapshot of official_small."""
    return _fixture(REFERENCE_PICKLE, "snapshot import")


def pytest_terminal_summary(terminalreporter):
    # From the reports, not from this process's state: with pytest-xdist the tests run in worker processes.
    missing = [str(report.longrepr).split(_ABSENT, 1)[1].split(" not found")[0]
               for reports in terminalreporter.stats.values() for report in reports
               if _ABSENT in str(getattr(report, "longrepr", "") or "")]
    if missing:
        terminalreporter.write_sep("!", "REFERENCE PARITY NOT CHECKED", red=True, bold=True)
        terminalreporter.write_line(f"../shared is absent ({missing[0]}): the tests that compare with the reference "
                                    "PyTorch implementation were skipped. Put the shared/ folder beside the "
                                    "repository.")
