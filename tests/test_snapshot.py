"""svgan_tf.interop.snapshot: reading official training snapshots as data only.

Snapshots, hostile ones included, are written opcode by opcode (`tools.pickle_writer` names globals as plain
strings, so no module is imported to write them); a hostile one carries a payload that would create a marker file
if anything from it ran. The hostile-pickle suite every reader faces is tests/test_unpickle.py; here are the
snapshot's own places for a payload and its own allow-list entries.
"""

import collections
import io
import json
import pickle

import numpy as np
import pytest

from svgan_tf.interop.snapshot import SNAPSHOT_ALLOWED, read_snapshot, to_plain
from svgan_tf.interop.unpickle import PickleFormatError, UnsafePickleError, load
from tools.pickle_writer import (
    HOSTILE_PAYLOADS,
    Call,
    Global,
    New,
    PickleWriter,
    dumps,
    legacy_storage,
    module_state,
    parameter,
    persistent,
    tensor,
)


def omegaconf_tree():
    """root: model.generator (with interpolations), sampling, env; parents linked as OmegaConf pickles them."""
    def node(value):
        return New("omegaconf.nodes.AnyNode", {"_metadata": New("omegaconf.base.Metadata", {
            "ref_type": Global("typing.Any"), "object_type": None, "optional": True, "key": None, "flags": {}}),
            "_parent": None, "_val": value})

    def container(content, kind="dict"):
        cls = "omegaconf.dictconfig.DictConfig" if kind == "dict" else "omegaconf.listconfig.ListConfig"
        meta = New("omegaconf.base.ContainerMetadata", {
            "ref_type": Global("typing.Any"), "object_type": Global("builtins.dict" if kind == "dict" else
                                                                    "builtins.list"),
            "optional": True, "key": None, "flags": {}, "flags_root": False,
            "resolver_cache": Call("collections.defaultdict", Global("builtins.dict")),
            "key_type": Global("typing.Any"), "element_type": Global("typing.Any")})
        obj = New(cls, {"_metadata": meta, "_parent": None, "_content": content})
        for child in (content.values() if kind == "dict" else content):
            child.state["_parent"] = obj
        return obj

    generator = container({
        "w_dim": node(48), "sampling": node("${sampling}"), "rel": node("${.w_dim}"), "up": node("${..name}"),
        "motion": container({"motion_z_distance": node(16)}),
        "time_enc": container({"min_period_len": node("${model.generator.motion.motion_z_distance}")}),
        "via": node("${model.generator.sampling.max_dist}"), "env": node("${oc.env:HOME}"), "todo": node("???"),
        "broken": node("${nowhere.at_all}")})
    model = container({"generator": generator, "name": node("stylegan-v")})
    sampling = container({"num_frames_per_video": node(3), "max_dist": node(32),
                          "name": node("random${sampling.num_frames_per_video}_max${sampling.max_dist}"),
                          "total_dists": container([node(1), node(2)], "list")})
    container({"model": model, "sampling": sampling})
    return generator


EXPECTED_GENERATOR_CFG = {
    "w_dim": 48, "sampling": {"num_frames_per_video": 3, "max_dist": 32, "name": "random3_max32",
                              "total_dists": [1, 2]},
    "rel": 48, "up": "stylegan-v", "motion": {"motion_z_distance": 16}, "time_enc": {"min_period_len": 16},
    "via": 32, "env": "${oc.env:HOME}", "todo": "???", "broken": "${nowhere.at_all}"}

RNG = np.random.default_rng(0)
W0 = RNG.standard_normal((4, 3)).astype(np.float32)
B0 = RNG.standard_normal(4).astype(np.float32)
W1 = RNG.standard_normal((2, 4, 3)).astype(np.float32)
EMB = RNG.standard_normal((5, 2)).astype(np.float32)
FLAT = RNG.standard_normal(20).astype(np.float32)


def mini_snapshot(evil=None, where=None):
    """A snapshot in the official layout with a few hand-made tensors; `evil` is placed at `where`."""
    cfg = omegaconf_tree()
    shared = Call("torch.storage._load_from_bytes", legacy_storage(FLAT))
    fc0 = persistent("FullyConnectedLayer", module_state(
        params=[("weight", parameter(W0)), ("bias", parameter(B0))], weight_gain=np.float64(0.5)))
    seq = New("torch.nn.modules.container.Sequential", module_state(modules=[
        ("0", persistent("EqLRConv1d", module_state(params=[("weight", parameter(W1)), ("bias", None)])))]))
    g_state = module_state(
        modules=[("fc0", fc0), ("motion", seq), ("missing", None)],
        buffers=[("w_avg", tensor(B0 * 2)), ("scratch", tensor(B0)),
                 ("steps", tensor(np.arange(3, dtype=np.int64), "torch.LongStorage")),
                 ("view", tensor(FLAT, storage=shared, offset=2, size=(3, 2), stride=(1, 3))),
                 ("part", tensor(FLAT, storage=shared, offset=5, size=(2, 2), stride=(2, 1)))],
        non_persistent=["scratch"], _init_args=(), _init_kwargs=Call("src.dnnlib.util.EasyDict", {
            "c_dim": 0, "w_dim": 48, "mapping_kwargs": Call("src.dnnlib.util.EasyDict", {"num_layers": 2}),
            "cfg": cfg}), cfg=cfg)
    if where == "modules":
        g_state["_modules"].args[0].append(("evil", evil))
    elif where == "init_kwargs":
        g_state["_init_kwargs"].args[0]["evil"] = evil
    G = persistent("Generator", g_state)
    emb = New("torch.nn.modules.sparse.Embedding", module_state(params=[("weight", parameter(EMB))]))
    tde = New("training.layers.TemporalDifferenceEncoder", module_state(modules=[("const_embed", emb)]))
    D = persistent("Discriminator", module_state(modules=[("time_encoder", tde)], _init_args=(3,),
                                                 _init_kwargs={"c_dim": 0}))
    weight = fc0.args[0]["state"]["_parameters"].args[0][0][1]
    snapshot = {"training_set_kwargs": {"resolution": 64, "use_labels": False, "xflip": False, "cfg": cfg},
                "G": G, "D": D, "G_ema": G, "augment_pipe": None, "G_opt": None, "D_opt": None,
                "vis": {"labels": np.zeros((2, 0), np.float32), "frames_idx": np.arange(6).reshape(2, 3)},
                "stats": {"cur_nimg": 64, "cur_tick": np.int64(0)}}
    # Adam's state is keyed by the parameter objects themselves (tensors must be hashable).
    snapshot["G_opt"] = New("torch.optim.adam.Adam", {
        "defaults": {"lr": 0.002, "betas": (0.0, 0.99)}, "param_groups": [{"params": [weight]}],
        "state": {weight: {"step": tensor(np.float32(3.0)), "exp_avg": tensor(W0 * 0)}}})
    snapshot["D_opt"] = New("torch.optim.adam.Adam", {
        "defaults": {"lr": 0.002}, "param_groups": [], "state": Call("collections.defaultdict",
                                                                    Global("builtins.dict"))})
    if where == "top":
        return evil
    if where == "snapshot":
        snapshot["G"] = evil
    return snapshot


def write(tmp_path, data, name="snapshot.pkl"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


EXPECTED_G = {"fc0.weight": W0, "fc0.bias": B0, "motion.0.weight": W1, "w_avg": B0 * 2,
              "steps": np.arange(3, dtype=np.int64), "view": FLAT[2:8].reshape(2, 3).T,
              "part": FLAT[5:9].reshape(2, 2)}


# --------------------------------------------------------------------------------------------------
# The official-format fixture.


def test_fixture_tensors_and_kwargs(reference_pickle, official_small):
    snap = read_snapshot(reference_pickle)
    config = json.loads((official_small / "config.json").read_text())
    for key, npz in (("G", "params_G.npz"), ("G_ema", "params_G.npz"), ("D", "params_D.npz")):
        net = snap[key]
        with np.load(official_small / npz) as ref:
            assert list(net.state_dict) == list(ref.files)
            for name in ref.files:
                assert net.state_dict[name].dtype == ref[name].dtype, name
                np.testing.assert_array_equal(net.state_dict[name], ref[name], err_msg=name)
    assert (len(snap["G"].state_dict), len(snap["D"].state_dict)) == (85, 54)
    assert snap["G"].class_name == snap["G_ema"].class_name == "Generator"
    assert snap["D"].class_name == "Discriminator"
    assert snap["G"].init_args == [] and snap["D"].init_args == []
    assert snap["G"].init_kwargs == config["G_kwargs"]
    assert snap["D"].init_kwargs == config["D_kwargs"]
    assert json.loads(json.dumps(snap["G"].init_kwargs)) == snap["G"].init_kwargs  # plain Python only
    tsk = snap["training_set_kwargs"]
    assert {"resolution", "use_labels", "xflip"} <= set(tsk) and tsk["resolution"] == 64
    assert isinstance(tsk["cfg"], dict)
    assert snap["stats"] == {"cur_nimg": 64, "cur_tick": 0, "batch_idx": 1}


def test_fixture_progress(reference_pickle):
    calls = []
    read_snapshot(reference_pickle, progress=lambda done, total: calls.append((done, total)))
    total = reference_pickle.stat().st_size
    assert len(calls) >= 10
    assert calls[-1] == (total, total)
    assert all(t == total for _, t in calls)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


@pytest.mark.parametrize("fraction", [0.0005, 0.5, 0.9999])
def test_fixture_truncated(reference_pickle, tmp_path, fraction):
    data = reference_pickle.read_bytes()
    path = write(tmp_path, data[:int(len(data) * fraction)], "cut.pkl")
    with pytest.raises(PickleFormatError, match="truncated") as info:
        read_snapshot(path)
    assert str(path) in str(info.value)


# --------------------------------------------------------------------------------------------------
# Hand-made snapshots.


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_mini_snapshot(tmp_path, protocol):
    snap = read_snapshot(write(tmp_path, dumps(mini_snapshot(), protocol)))
    G = snap["G"]
    assert G.class_name == "Generator"
    assert list(G.state_dict) == ["w_avg", "steps", "view", "part", "fc0.weight", "fc0.bias", "motion.0.weight"]
    for name, want in EXPECTED_G.items():
        got = G.state_dict[name]
        assert got.dtype == want.dtype and got.shape == want.shape, name
        np.testing.assert_array_equal(got, want, err_msg=name)
        assert got.flags.c_contiguous
    assert snap["G_ema"].state_dict.keys() == G.state_dict.keys()
    assert G.init_kwargs == {"c_dim": 0, "w_dim": 48, "mapping_kwargs": {"num_layers": 2},
                             "cfg": EXPECTED_GENERATOR_CFG}
    D = snap["D"]
    assert D.class_name == "Discriminator" and D.init_args == [3] and D.init_kwargs == {"c_dim": 0}
    assert list(D.state_dict) == ["time_encoder.const_embed.weight"]
    np.testing.assert_array_equal(D.state_dict["time_encoder.const_embed.weight"], EMB)
    assert snap["training_set_kwargs"]["resolution"] == 64
    assert snap["training_set_kwargs"]["cfg"] == EXPECTED_GENERATOR_CFG
    assert snap["stats"] == {"cur_nimg": 64, "cur_tick": 0} and type(snap["stats"]["cur_tick"]) is int


def test_to_plain_placeholders():
    data = load(io.BytesIO(dumps(mini_snapshot())), SNAPSHOT_ALLOWED, "mini snapshot")
    vis = to_plain(data["vis"])
    np.testing.assert_array_equal(vis["frames_idx"], np.arange(6).reshape(2, 3))
    assert vis["labels"].shape == (2, 0)
    opt = to_plain(data["G_opt"])
    assert opt["__class__"] == "torch.optim.adam.Adam" and opt["defaults"]["betas"] == (0.0, 0.99)
    (state,) = data["G_opt"].state["state"].values()
    np.testing.assert_array_equal(to_plain(state["exp_avg"]), W0 * 0)
    assert to_plain(data["G"])["__class__"] == "Generator"
    assert to_plain(data["D_opt"])["state"] == {}
    assert to_plain(data["G"].state["_modules"]["fc0"])["weight_gain"] == 0.5
    assert to_plain(collections.OrderedDict(a=np.float32(1.5))) == {"a": 1.5}


# --------------------------------------------------------------------------------------------------
# Hostile files: nothing may run, and the refused name is reported.


def _assert_refused(tmp_path, data, name, marker):
    with pytest.raises(UnsafePickleError) as info:
        read_snapshot(write(tmp_path, data))
    assert info.value.global_name == name
    assert repr(name) in str(info.value) and "snapshot.pkl" in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize("name", sorted(HOSTILE_PAYLOADS))
@pytest.mark.parametrize("where", ["snapshot", "modules", "init_kwargs"])
def test_hostile_global_refused(tmp_path, name, where):
    marker = tmp_path / "marker"
    _assert_refused(tmp_path, dumps(mini_snapshot(HOSTILE_PAYLOADS[name](marker), where)), name, marker)


@pytest.mark.parametrize("name", ["posix.system", "builtins.exec", "subprocess.call"])
def test_hostile_global_in_tensor_position(tmp_path, name):
    marker = tmp_path / "marker"
    evil = HOSTILE_PAYLOADS[name](marker)
    as_storage = Call("torch._utils._rebuild_tensor_v2", evil, 0, (1,), (1,), False, Call("collections.OrderedDict"))
    _assert_refused(tmp_path, dumps(mini_snapshot(as_storage, "modules")), name, marker)
    # Inside the inner legacy storage stream: in its sys_info, as its storage class, or as its whole first pickle.
    streams = [legacy_storage(B0, sys_info={"little_endian": True, "x": evil}),
               legacy_storage(B0, storage_class=name)]
    first = io.BytesIO()
    PickleWriter(first, protocol=2).dump(evil)
    streams.append(first.getvalue() + legacy_storage(B0))
    for stream in streams:
        inner = tensor(B0, storage=Call("torch.storage._load_from_bytes", stream))
        _assert_refused(tmp_path, dumps(mini_snapshot(inner, "modules")), name, marker)


def test_hostile_module_src_is_not_run(tmp_path):
    marker = tmp_path / "marker"
    snap = mini_snapshot()
    snap["D"].args[0]["module_src"] = f"open({str(marker)!r}, 'w').close()"
    read_snapshot(write(tmp_path, dumps(snap)))
    assert not marker.exists()


def test_object_dtype_refused(tmp_path):
    snap = mini_snapshot()
    snap["vis"]["labels"] = np.array([1, "x", None], dtype=object)
    with pytest.raises(UnsafePickleError, match="object dtype"):
        read_snapshot(write(tmp_path, pickle.dumps({"vis": np.array([1, None], dtype=object)}, protocol=4)))
    with pytest.raises(UnsafePickleError, match="object dtype"):
        read_snapshot(write(tmp_path, dumps(snap)))


def test_snapshot_allow_list_routes_refused(tmp_path):
    # A defaultdict whose factory is not a built-in type.
    with pytest.raises(UnsafePickleError, match="defaultdict"):
        read_snapshot(write(tmp_path, dumps({"x": Call("collections.defaultdict",
                                                       Global("torch.storage._load_from_bytes"))})))
    # SETITEMS on a placeholder of a torch module class.
    setitems = (pickle.PROTO + b"\x04" + pickle.GLOBAL + b"torch.nn.modules.container\nSequential\n" +
                pickle.EMPTY_TUPLE + pickle.NEWOBJ + pickle.MARK + pickle.NONE + pickle.NONE + pickle.SETITEMS +
                pickle.STOP)
    with pytest.raises(PickleFormatError, match="SETITEM"):
        read_snapshot(write(tmp_path, setitems))


def test_progress_mini(tmp_path):
    path = write(tmp_path, dumps(mini_snapshot()))
    calls = []
    read_snapshot(path, progress=lambda done, total: calls.append((done, total)))
    total = path.stat().st_size
    assert calls[-1] == (total, total) and len(calls) > 1

    class Stop(Exception):
        pass

    def stop(done, total):
        raise Stop

    with pytest.raises(Stop):  # the caller's exception comes through unchanged
        read_snapshot(path, progress=stop)


# --------------------------------------------------------------------------------------------------
# Not snapshots.


def test_truncated_mini(tmp_path):
    data = dumps(mini_snapshot())
    for cut in (1, 2, 100, len(data) // 2, len(data) - 1):
        with pytest.raises(PickleFormatError, match="truncated"):
            read_snapshot(write(tmp_path, data[:cut]))


def test_not_a_pickle(tmp_path):
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    for name, data in (("x.png", png), ("x.txt", b"hello world\n"), ("empty.pkl", b""),
                       ("x.pt", b"PK\x03\x04" + b"\0" * 30)):
        with pytest.raises(PickleFormatError) as info:
            read_snapshot(write(tmp_path, data, name))
        assert name in str(info.value)


def test_not_a_snapshot(tmp_path):
    with pytest.raises(PickleFormatError, match="G, D, G_ema missing"):
        read_snapshot(write(tmp_path, pickle.dumps({"a": 1, "b": [1, 2]})))
    with pytest.raises(PickleFormatError, match="not a snapshot dict"):
        read_snapshot(write(tmp_path, pickle.dumps([1, 2, 3])))
    with pytest.raises(PickleFormatError, match="not a network"):
        read_snapshot(write(tmp_path, pickle.dumps({"G": 1, "D": 2, "G_ema": 3})))

