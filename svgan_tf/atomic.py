"""Atomic outputs: every file or directory the project writes appears under its final name only once complete.

The rules, for every writer (run files, exports, reference-format weights, metric caches, videos):

* an output is built under a staging name beside its target, `.NAME.<pid>.partial`: the same directory, so
  the final rename is atomic (same file system); hidden and process-specific, so a leftover of a killed
  process is never mistaken for an output;
* it is renamed to the target only when it is complete; on an error (or Ctrl-C) the staging path is
  removed and the target is left as it was, so a crash never leaves a partial or corrupted output;
* an existing target is replaced only when the writer allows it (`overwrite`: the default, for outputs
  rewritten in place such as a run's config and samples; SavedModel versions, ONNX directories, imported
  runs and videos without --overwrite pass False), and then only by a complete output: an old output that
  a rename cannot replace (a directory, or anything in the way of a directory) is moved aside, the new one
  renamed in, then the old one removed;
* a log (`append_lines`) is only ever appended to, each call's lines in one write.

`staged_path` is the context manager for a block that writes a file or a directory; `Staging` the same for
writers that stay open across calls (the streaming video writers); `write_bytes`, `write_text`,
`write_json` write a whole file at once.
"""

import contextlib
import errno
import json
import os
import shutil


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)


def _refuse_existing(target):
    if os.path.lexists(target):
        raise FileExistsError(f"{target} exists (pass overwrite=True / --overwrite to replace it).")


def refuse_inside(target, source, what="--out"):
    """Refuses an output that is its own input or lies inside it (a conversion would read what it writes).

    Args:
        target: the output path.
        source: the input file or directory.
        what: how the user named the output, for the message.

    Raises:
        ValueError: `target` is `source` or below it (symbolic links resolved).
    """
    target, source = os.path.realpath(target), os.path.realpath(source)
    if target == source or target.startswith(source.rstrip(os.sep) + os.sep):
        raise ValueError(f"{what} {target} is inside its own source {source}; write it elsewhere.")


class Staging:
    """A staging path beside `target`, published as `target` or discarded.

    Args:
        target: the final path.
        directory: create the staging path as an empty directory (else the writer creates a file or a
            directory there).
        overwrite: replace an existing `target` on `publish`; False refuses it now and again on `publish`.

    Raises:
        FileExistsError: `target` exists and `overwrite` is False.
    """

    def __init__(self, target, directory=False, overwrite=True):
        self.target = os.path.abspath(os.fspath(target).rstrip(os.sep) or os.sep)
        self.overwrite = overwrite
        if not overwrite:
            _refuse_existing(self.target)
        parent = os.path.dirname(self.target)
        if os.path.lexists(parent) and not os.path.isdir(parent):  # makedirs would say "File exists"
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), parent)
        # The parents this creates, deepest first: a discarded output leaves no empty folders behind.
        self._created_parents = []
        missing = parent
        while not os.path.lexists(missing):
            self._created_parents.append(missing)
            missing = os.path.dirname(missing)
        os.makedirs(parent, exist_ok=True)
        self._published = False
        self.path = os.path.join(parent, f".{os.path.basename(self.target)}.{os.getpid()}.partial")
        _remove(self.path)
        if directory:
            os.makedirs(self.path)

    def publish(self):
        """Renames the staging path to the target (replacing an existing one if allowed)."""
        if not self.overwrite:
            _refuse_existing(self.target)
        target_is_dir = os.path.isdir(self.target) and not os.path.islink(self.target)
        if os.path.lexists(self.target) and (target_is_dir or os.path.isdir(self.path)):
            # os.replace only replaces a file by a file (or a directory by an empty one): move the old output
            # aside first, so that the target name holds a complete output (old, then new), and put it back if
            # the new one cannot take its place.
            old = self.path + ".old"
            _remove(old)
            os.replace(self.target, old)
            try:
                os.replace(self.path, self.target)
            except BaseException:
                os.replace(old, self.target)
                raise
            _remove(old)
        else:
            os.replace(self.path, self.target)
        self._published = True

    def discard(self):
        """Removes the staging path (nothing once published) and, unpublished, the parent folders it created; the
        target is left as it is."""
        _remove(self.path)
        if not self._published:
            for folder in self._created_parents:
                try:
                    os.rmdir(folder)
                except OSError:  # no longer empty: something else writes there now
                    break


@contextlib.contextmanager
def staged_path(target, directory=False, overwrite=True):
    """Yields a staging path beside `target`; renames it to `target` if the block ends without an error.

    On an error (or Ctrl-C) the staging path is removed and `target` is untouched.

    Args:
        target: the final path.
        directory: create the staging path as an empty directory (else the block creates a file there).
        overwrite: replace an existing `target` (a directory is moved aside, then removed); False raises
            FileExistsError, before the block runs and again before the rename.
    """
    staging = Staging(target, directory, overwrite)
    try:
        yield staging.path
        staging.publish()
    except OSError as error:
        if error.filename is None and error.errno is not None:  # a failed write (full disk): name its output
            raise type(error)(error.errno, error.strerror, staging.target) from error
        raise
    finally:
        staging.discard()


def write_bytes(path, data, overwrite=True):
    """Writes `data` (bytes) to the file `path` atomically.

    Args:
        path: the file.
        data: its whole content.
        overwrite: replace an existing file (False: FileExistsError).
    """
    with staged_path(path, overwrite=overwrite) as staging, open(staging, "wb") as f:
        f.write(data)


def write_text(path, text, overwrite=True):
    """Writes `text` (UTF-8) to the file `path` atomically; see `write_bytes`."""
    write_bytes(path, text.encode("utf-8"), overwrite)


def write_json(path, value, overwrite=True):
    """Writes `value` as indented JSON to the file `path` atomically; see `write_bytes`."""
    write_text(path, json.dumps(value, indent=1) + "\n", overwrite)


def append_lines(path, lines):
    """Appends whole lines to the log file `path` (created with its directory if missing).

    A log is appended, not rewritten, so that several writers (a training run and `svgan_tf.evaluate`) lose
    none of each other's lines; the lines of one call go out in one write to the end of the file, so
    concurrent writers do not interleave them, and a crash can at worst cut the last line short.

    Args:
        path: the log file.
        lines: strings without their newline.
    """
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "a") as f:
        f.write("".join(line + "\n" for line in lines))
