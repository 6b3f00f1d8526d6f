"""Bounded reads of files from elsewhere: what a file declares is checked before memory is allocated.

Every size a file states about itself (a JSON document's length and nesting, a zip member's uncompressed size,
an image's dimensions, an `.npy` array's shape) is checked against what the file can hold and against the limits
below *before* anything of that size is allocated; a file outside them is a `ValueError` naming it, which the
programs report as one line (`svgan_tf.cli`). Pickles have their own bounded reader (`svgan_tf.interop.unpickle`).

The limits are far above any real input of this project (a 4096^2 frame, a few MB of labels or config) and far
below what would exhaust a machine's memory.
"""

import io
import json
import os
import zipfile

import numpy as np

MAX_JSON_BYTES = 64 << 20
MAX_MEMBER_BYTES = 256 << 20
# Decoded frames up to 2^27 pixels (11585^2, 384 MiB in RGB): larger ones are refused before they are decoded
# (below PIL's own decompression-bomb error, at twice its 89 M pixel warning).
MAX_IMAGE_PIXELS = 1 << 27


def parse_json(data, name):
    """Parses a JSON document of at most MAX_JSON_BYTES.

    Args:
        data: the document (bytes or str).
        name: the file, for messages.

    Raises:
        ValueError: too large, too deeply nested, or not JSON; the message names the file.
    """
    if len(data) > MAX_JSON_BYTES:
        raise ValueError(f"{name}: {len(data):,} bytes of JSON, more than the {MAX_JSON_BYTES:,} allowed.")
    try:
        return json.loads(data)
    except RecursionError:  # the parser's depth is Python's recursion limit: linear time, bounded stack
        raise ValueError(f"{name}: JSON nested too deeply.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{name}: not valid JSON ({error}).") from None


def read_json(path):
    """The JSON file `path`, its size checked before it is read (see `parse_json`)."""
    size = os.path.getsize(path)
    if size > MAX_JSON_BYTES:
        raise ValueError(f"{path}: {size:,} bytes of JSON, more than the {MAX_JSON_BYTES:,} allowed.")
    with open(path, "rb") as f:
        return parse_json(f.read(), path)


def read_member(archive, name, where, limit=MAX_MEMBER_BYTES):
    """The bytes of one zip member, its declared uncompressed size checked before it is inflated.

    zipfile stops inflating at the declared size (and checks the CRC), so the declaration bounds the read.

    Args:
        archive: an open `zipfile.ZipFile`.
        name: the member.
        where: the archive's path, for messages.
        limit: the largest uncompressed size accepted.

    Raises:
        ValueError: the member is larger than `limit`, or its data is corrupt.
    """
    info = archive.getinfo(name)
    if info.file_size > limit:
        raise ValueError(f"{where}/{name}: declares {info.file_size:,} bytes uncompressed, more than the "
                         f"{limit:,} allowed.")
    try:
        return archive.read(info)
    except (zipfile.BadZipFile, EOFError, NotImplementedError) as error:
        raise ValueError(f"{where}/{name}: corrupt zip member ({error}).") from None


def check_image_header(name, data):
    """(width, height) of an encoded image from its header, refused above MAX_IMAGE_PIXELS before decoding.

    Raises:
        ValueError: not an image file, or dimensions beyond the limit; the message names the file.
    """
    import PIL.Image

    try:
        with PIL.Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except PIL.Image.DecompressionBombError as error:
        raise ValueError(f"{name}: declares more than the {MAX_IMAGE_PIXELS:,} pixels allowed ({error})") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ValueError(f"{name}: unreadable image ({error}).") from None
    if width * height > MAX_IMAGE_PIXELS:
        raise ValueError(f"{name}: declares {width}x{height} pixels, more than the {MAX_IMAGE_PIXELS:,} allowed.")
    return width, height


def load_npz(path):
    """The arrays of an `.npz` file: each member's declared shape and dtype are checked before it is read.

    A member is accepted only with a plain numeric or bool dtype (no pickled objects) and a declared size that
    its stored bytes hold, so a header cannot make us allocate more than the file contains.

    Returns:
        dict name (without `.npy`) -> array.

    Raises:
        ValueError: not a zip of `.npy` members, a refused dtype, or a shape its data does not hold.
    """
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise ValueError(f"{path}: not an .npz file (not a zip archive).") from None
    arrays = {}
    with archive:
        for info in archive.infolist():
            where = f"{path}/{info.filename}"
            if not info.filename.endswith(".npy"):
                raise ValueError(f"{where}: not an .npy member.")
            if info.file_size > MAX_MEMBER_BYTES:
                raise ValueError(f"{where}: declares {info.file_size:,} bytes, more than the {MAX_MEMBER_BYTES:,} "
                                 "allowed.")
            with archive.open(info) as f:
                shape, fortran, dtype = _npy_header(f, where)
                if dtype.kind not in "biuf" or dtype.hasobject:
                    raise ValueError(f"{where}: dtype {dtype} refused (numbers only).")
                declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
                stored = info.file_size - f.tell()
                if declared > stored:
                    raise ValueError(f"{where}: declares shape {shape} ({declared:,} bytes) but holds {stored:,}.")
                try:
                    data = f.read(declared)
                except (zipfile.BadZipFile, EOFError) as error:
                    raise ValueError(f"{where}: corrupt ({error}).") from None
            arrays[info.filename[:-len(".npy")]] = np.frombuffer(data, dtype).reshape(
                shape, order="F" if fortran else "C")
    return arrays


_NPY_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def _npy_header(f, where):
    """(shape, fortran order, dtype) from an `.npy` header (versions 1 and 2; 3 only adds structured dtypes)."""
    try:
        version = np.lib.format.read_magic(f)
        if version not in _NPY_HEADER_READERS:
            raise ValueError(f"format version {version}")
        return _NPY_HEADER_READERS[version](f, max_header_size=10000)
    except (ValueError, SyntaxError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"{where}: not a readable .npy header ({error}).") from None
