"""Detector networks built once per weights file, shared by every metric of a process.

A file's identity is its real path, modification time and size, so that weights replaced in place are read
again; building is serialised per cache (two threads asking for one file build it once).
"""

import os
import threading


class FileCache:
    """Objects built from weights files, one per (file identity, extra key).

    Args:
        what: the kind of file, for the error when one is missing (e.g. "C3D weights file").
    """

    def __init__(self, what="weights file"):
        self.what = what
        self._items = {}
        self._lock = threading.Lock()

    def get(self, path, build, *key):
        """The object `build(path)` made for this file and `key`, building it on first use.

        Args:
            path: the weights file.
            build: path -> object.
            *key: what else distinguishes objects of one file (e.g. a preprocessing mode).

        Raises:
            FileNotFoundError: naming the path.
        """
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: no such {self.what}")
        stat = os.stat(path)
        identity = (os.path.realpath(path), stat.st_mtime_ns, stat.st_size, *key)
        with self._lock:
            if identity not in self._items:
                self._items[identity] = build(path)
            return self._items[identity]
