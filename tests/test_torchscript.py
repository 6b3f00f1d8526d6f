"""svgan_tf.interop.torchscript: the restricted reader of TorchScript archives, on archives written here.

The archives are written opcode by opcode (`tools.pickle_writer`); a hostile one carries a payload that would
create a marker file if anything ran. The hostile-pickle suite every reader faces is tests/test_unpickle.py.
"""

import numpy as np
import pytest

from svgan_tf.interop.torchscript import read_torchscript_tensors
from svgan_tf.interop.unpickle import PickleFormatError, UnsafePickleError
from tools.pickle_writer import Call, Global, New, Pid, dumps, torchscript_archive


def _tensor(key, numel, shape, stride):
    pid = Pid(("storage", Global("torch.FloatStorage"), key, "cpu", numel))
    return Call("torch._utils._rebuild_tensor_v2", pid, 0, shape, stride, False, Call("collections.OrderedDict"))


def _archive(path, obj, storages=()):
    return torchscript_archive(path, dumps(obj, protocol=2), storages)


def _payload(marker):
    return f"open({str(marker)!r}, 'w').close()"


def test_reader_reads_a_small_archive(tmp_path):
    weight = np.arange(6, dtype=np.float32)
    root = New("__torch__.m.Wrap", {"training": True, "net": New("__torch__.m.Conv", {
        "weight": _tensor("0", 6, (3, 2), (1, 3)), "stride": 2,
        "padding": Call("torch.jit._pickle.build_intlist", [0, 3])})})
    path = _archive(tmp_path / "small.pt", root, [("0", weight.tobytes())])
    tensors, attributes = read_torchscript_tensors(path)
    np.testing.assert_array_equal(tensors["net.weight"], weight.reshape(2, 3).T)  # a strided (transposed) view
    assert attributes == {"net.stride": 2, "net.padding": [0, 3]}


@pytest.mark.parametrize("where", ["top", "module_state"])
def test_reader_refuses_a_non_allowed_global(tmp_path, where):
    marker = tmp_path / "ran"
    if where == "top":
        obj = Call("posix.system", f"touch {marker}")
        name = "posix.system"
    else:
        obj = New("__torch__.m.Conv", {"weight": Call("builtins.exec", _payload(marker))})
        name = "builtins.exec"
    path = _archive(tmp_path / "evil.pt", obj, [("0", b"\0" * 24)])
    with pytest.raises(UnsafePickleError, match="evil.pt") as info:
        read_torchscript_tensors(path)
    assert info.value.global_name == name
    assert not marker.exists()


def test_reader_never_imports_torchscript_class_names(tmp_path):
    """``__torch__.*`` names become inert placeholders: calling one only records the arguments."""
    marker = tmp_path / "ran"
    with pytest.raises(PickleFormatError, match="module object"):
        read_torchscript_tensors(_archive(tmp_path / "evil.pt", Call("__torch__.builtins.exec", _payload(marker))))
    assert not marker.exists()


def test_reader_refuses_a_zip_without_data_pkl(tmp_path):
    path = torchscript_archive(tmp_path / "nopkl.pt", None, [("0", b"\0" * 4)])
    with pytest.raises(PickleFormatError, match="data.pkl"):
        read_torchscript_tensors(path)


def test_reader_refuses_bad_storages_and_non_zips(tmp_path):
    conv = New("__torch__.m.Conv", {"weight": _tensor("0", 6, (6,), (1,))})
    with pytest.raises(PickleFormatError, match="has 20 bytes"):
        read_torchscript_tensors(_archive(tmp_path / "short.pt", conv, [("0", b"\0" * 20)]))
    with pytest.raises(PickleFormatError, match="missing"):
        read_torchscript_tensors(_archive(tmp_path / "nostorage.pt", conv))
    bad_key = New("__torch__.m.Conv", {"weight": _tensor("../0", 6, (6,), (1,))})
    with pytest.raises(PickleFormatError, match="storage id"):
        read_torchscript_tensors(_archive(tmp_path / "key.pt", bad_key, [("0", b"\0" * 24)]))
    not_zip = tmp_path / "plain.pt"
    not_zip.write_bytes(b"\x80\x02N.")
    with pytest.raises(PickleFormatError, match="not a readable zip"):
        read_torchscript_tensors(not_zip)


def test_code_is_returned_as_text_and_bounded(tmp_path):
    from svgan_tf.interop.torchscript import read_torchscript_code
    from svgan_tf.interop.unpickle import PickleFormatError

    text = "def forward(self, x):\n    return torch.upsample_bilinear2d(x, [224, 224], False, None)\n"
    path = torchscript_archive(tmp_path / "m.pt", dumps(None, protocol=2), code={"__torch__/m.py": text})
    assert read_torchscript_code(path) == {"__torch__/m.py": text}
    big = torchscript_archive(tmp_path / "big.pt", dumps(None, protocol=2), code={"__torch__/m.py": "#" * (5 << 20)})
    with pytest.raises(PickleFormatError, match="m.py: declares 5,242,880 bytes uncompressed, more than the 4,194,304"):
        read_torchscript_code(big)
