"""Atomic outputs: a file or directory appears under its final name only once completely written."""

import contextlib
import os
import shutil


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)


@contextlib.contextmanager
def staged_path(target, directory=False):
    """Yields a temporary path beside `target`; renames it to `target` if the block ends without an error.

    On an error (or Ctrl-C) the temporary path is removed and `target` is untouched. A directory `target`
    must not exist (a rename cannot replace a non-empty directory); a file `target` is replaced.

    Args:
        target: the final path.
        directory: create the staging path as an empty directory (else the block creates a file there).
    """
    target = os.fspath(target)
    parent = os.path.dirname(os.path.abspath(target))
    os.makedirs(parent, exist_ok=True)
    staging = os.path.join(parent, f".{os.path.basename(target)}.{os.getpid()}.incomplete")
    _remove(staging)
    if directory:
        os.makedirs(staging)
    try:
        yield staging
        os.replace(staging, target)
    finally:
        _remove(staging)
