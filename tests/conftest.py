"""Shared test set-up: quiet TensorFlow, the reference fixture location, and a loud note when it is absent."""

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


@pytest.fixture
def official_small():
    """Path of the golden reference fixture; skips (and is reported loudly at the end) when ../shared is absent."""
    if not (OFFICIAL_SMALL / "config.json").is_file():
        _MISSING.append(str(OFFICIAL_SMALL))
        pytest.skip(f"REFERENCE FIXTURE ABSENT: {OFFICIAL_SMALL} not found; reference parity NOT checked")
    return OFFICIAL_SMALL


@pytest.fixture
def official_train_small():
    """Path of the golden training-step fixture; skips loudly, as `official_small`, without ../shared."""
    if not (OFFICIAL_TRAIN_SMALL / "state_0.npz").is_file():
        _MISSING.append(str(OFFICIAL_TRAIN_SMALL))
        pytest.skip(f"REFERENCE FIXTURE ABSENT: {OFFICIAL_TRAIN_SMALL} not found; training parity NOT checked")
    return OFFICIAL_TRAIN_SMALL


@pytest.fixture
def reference_pickle():
    """Path of the official-format snapshot of official_small; skips loudly, as `official_small`, without ../shared."""
    if not REFERENCE_PICKLE.is_file():
        _MISSING.append(str(REFERENCE_PICKLE))
        pytest.skip(f"REFERENCE FIXTURE ABSENT: {REFERENCE_PICKLE} not found; snapshot import NOT checked")
    return REFERENCE_PICKLE


def pytest_terminal_summary(terminalreporter):
    if _MISSING:
        terminalreporter.write_sep("!", "REFERENCE PARITY NOT CHECKED", red=True, bold=True)
        terminalreporter.write_line(f"../shared is absent ({_MISSING[0]}): the tests that compare with the reference "
                                    "PyTorch implementation were skipped. Put the shared/ folder beside the repository.")
