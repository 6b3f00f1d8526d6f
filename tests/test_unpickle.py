"""svgan_tf.interop.unpickle: the one restricted unpickler, and the hostile-pickle suite every reader faces.

Every case runs against each allow-list configuration through its public reader: the outer snapshot pickle
(`read_snapshot`), the legacy torch storage stream inside a snapshot (the hostile pickle is the stream's first
pickle), the TorchScript archive (`data.pkl`) and the I3D weights checkpoint. Hostile pickles are written opcode by
opcode (`tools.pickle_writer`); their payloads would create a marker file if anything from them ran.
"""

import dataclasses
import pickle
import struct

import numpy as np
import pytest

from svgan_tf.interop.snapshot import read_snapshot
from svgan_tf.interop.torchscript import read_torchscript_tensors
from svgan_tf.interop.unpickle import PickleFormatError, UnsafePickleError, check_protocol
from svgan_tf.metrics import i3d
from tools.pickle_writer import HOSTILE_PAYLOADS, Call, New, Pid, dumps, legacy_storage, torchscript_archive


def _read_snapshot(path, data):
    path.write_bytes(data)
    read_snapshot(path)


def _read_storage_stream(path, data):
    stream = data + legacy_storage(np.zeros(2, np.float32))
    path.write_bytes(dumps(Call("torch.storage._load_from_bytes", stream)))
    read_snapshot(path)


def _read_torchscript(path, data):
    read_torchscript_tensors(torchscript_archive(path, data))


def _read_i3d_weights(path, data):
    path.write_bytes(data)
    i3d.load_weights(path)


@dataclasses.dataclass(frozen=True)
class Reader:
    read: object  # read(path, pickle bytes): writes the pickle in the reader's container at path and reads it
    numpy: bool  # whether the configuration allows NumPy arrays
    not_a_class: str  # an allow-listed global that is not a class (NEWOBJ target)
    foreign_pid_error: type  # what a persistent id outside the format raises


READERS = {
    "snapshot": Reader(_read_snapshot, True, "torch.storage._load_from_bytes", UnsafePickleError),
    "storage_stream": Reader(_read_storage_stream, False, "torch.FloatStorage", UnsafePickleError),
    "torchscript": Reader(_read_torchscript, False, "torch.FloatStorage", PickleFormatError),
    "i3d_weights": Reader(_read_i3d_weights, True, "numpy.ndarray", UnsafePickleError),
}
FILE = "hostile.pkl"


@pytest.fixture(params=sorted(READERS))
def reader(request):
    return READERS[request.param]


def _raises(reader, tmp_path, data, error, match=None):
    """Reads `data` with `reader`; the error must be `error`, match `match` and name the file."""
    with pytest.raises(error, match=match) as info:
        reader.read(tmp_path / FILE, data)
    assert FILE in str(info.value)
    return info.value


def test_payload_is_live(tmp_path):
    """Control: a plain pickle.loads of the same bytes does run the payload (so the refusals below matter)."""
    marker = tmp_path / "marker"
    pickle.loads(dumps(HOSTILE_PAYLOADS["builtins.exec"](marker)))
    assert marker.exists()


@pytest.mark.parametrize("name", sorted(HOSTILE_PAYLOADS))
def test_hostile_global_refused(reader, tmp_path, name):
    marker = tmp_path / "marker"
    error = _raises(reader, tmp_path, dumps(HOSTILE_PAYLOADS[name](marker)), UnsafePickleError)
    assert error.global_name == name and repr(name) in str(error)
    assert not marker.exists()


def test_extension_code_refused(reader, tmp_path):
    # copyreg extension code (EXT1 1): refused even when the process registers one.
    _raises(reader, tmp_path, pickle.PROTO + b"\x04" + pickle.EXT1 + b"\x01" + pickle.STOP, UnsafePickleError,
            "EXT1")


def test_reduce_of_a_non_allow_listed_object_refused(reader, tmp_path):
    bad_reduce = pickle.PROTO + b"\x04" + pickle.EMPTY_DICT + pickle.EMPTY_TUPLE + pickle.REDUCE + pickle.STOP
    _raises(reader, tmp_path, bad_reduce, UnsafePickleError, "REDUCE")


def test_newobj_of_a_non_class_refused(reader, tmp_path):
    _raises(reader, tmp_path, dumps({"x": New(reader.not_a_class)}), UnsafePickleError, "NEWOBJ")


def test_protocol_0_instantiation_refused(reader, tmp_path):
    marker = tmp_path / "marker"
    inst = (pickle.PROTO + b"\x02" + pickle.MARK + pickle.STRING + f"'touch {marker}'\n".encode() + pickle.INST +
            b"posix\nsystem\n" + pickle.STOP)
    _raises(reader, tmp_path, inst, PickleFormatError, "INST")
    assert not marker.exists()


@pytest.mark.parametrize("target, opcode, match", [
    (pickle.EMPTY_LIST, pickle.EMPTY_DICT + pickle.BUILD, "BUILD"),
    (pickle.EMPTY_LIST, pickle.MARK + pickle.NONE + pickle.NONE + pickle.SETITEMS, "SETITEM"),
    (pickle.EMPTY_TUPLE, pickle.NONE + pickle.NONE + pickle.SETITEM, "SETITEM"),
    (pickle.EMPTY_DICT, pickle.NONE + pickle.APPEND, "APPEND"),
    (pickle.EMPTY_DICT, pickle.MARK + pickle.NONE + pickle.APPENDS, "APPENDS"),
    (pickle.EMPTY_LIST, pickle.MARK + pickle.NONE + pickle.ADDITEMS, "ADDITEMS"),
])
def test_mutation_of_the_wrong_type_refused(reader, tmp_path, target, opcode, match):
    _raises(reader, tmp_path, pickle.PROTO + b"\x04" + target + opcode + pickle.STOP, PickleFormatError, match)


def test_foreign_persistent_id_refused(reader, tmp_path):
    _raises(reader, tmp_path, dumps({"G": Pid(("storage", 1))}), reader.foreign_pid_error, "persistent id")


def test_object_dtype_refused(reader, tmp_path):
    error = _raises(reader, tmp_path, pickle.dumps({"a": np.array([1, None], dtype=object)}, protocol=4),
                    UnsafePickleError)
    if reader.numpy:
        assert "object dtype" in str(error)
    else:
        assert error.global_name.startswith("numpy.")


@pytest.mark.parametrize("opcode, proto", [(pickle.BINBYTES8, 4), (pickle.BYTEARRAY8, 5)])
def test_huge_declared_length_is_truncation(reader, tmp_path, opcode, proto):
    """A length far past the end of the data is reported as truncation, without allocating it."""
    huge = pickle.PROTO + bytes([proto]) + opcode + struct.pack("<Q", 1 << 60) + b"x"
    _raises(reader, tmp_path, huge, PickleFormatError, "truncated")


def test_check_protocol():
    check_protocol(pickle.PROTO + b"\x02")
    for head, match in ((b"", "empty"), (pickle.PROTO, "truncated"), (b"PK", "protocol 2"),
                        (pickle.PROTO + b"\x01", "protocol 2"), (b"(d", "protocol 2")):
        with pytest.raises(PickleFormatError, match=match):
            check_protocol(head)
