"""Shared test set-up: quiet TensorFlow, two logical CPUs, the reference fixtures.

Without ../shared the reference-parity tests skip and the run ends with a loud banner; under CI=true (as
`.ci/run` sets it) a missing fixture fails the run instead.
"""

import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

# Two logical CPU devices, so that tf.distribute.MirroredStrategy can be tested with 2 replicas. This must
# happen before TensorFlow initialises its devices, hence here, at collection time.
tf.config.set_logical_device_configuration(tf.config.list_physical_devices("CPU")[0],
                                           [tf.config.LogicalDeviceConfiguration()] * 2)

REPO = pathlib.Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
OFFICIAL_SMALL = SHARED / "fixtures" / "official_small"
OFFICIAL_TRAIN_SMALL = SHARED / "fixtures" / "official_train_small"
REFERENCE_PICKLE = SHARED / "fixtures" / "reference_pickle" / "network-snapshot-000000.pkl"
_MISSING = []


def _fixture(path, what):
    """`path` if it exists; else a failure under CI=true, or a skip reported loudly at the end of the run."""
    if path.exists():
        return path
    message = f"REFERENCE FIXTURE ABSENT: {path} not found; {what} NOT checked"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: the reference fixtures are required)")
    _MISSING.append(str(path))
    pytest.skip(message)


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
    if _MISSING:
        terminalreporter.write_sep("!", "REFERENCE PARITY NOT CHECKED", red=True, bold=True)
        terminalreporter.write_line(f"../shared is absent ({_MISSING[0]}): the tests that compare with the reference "
                                    "PyTorch implementation were skipped. Put the shared/ folder beside the repository.")
