"""TF Serving contract of the exported SavedModel and its client (svgan_tf/export/client.py), without a model server.

No tensorflow_model_server runs here (none can be installed on this machine). What is tested instead:

* the SavedModel's signatures (names, dtypes, shapes, batch polymorphism) as the client reads them, and
  the `metadata(t)` signature the client calls for the token spacing d and window length W;
* `saved_model_cli show` / `run`, and the TF1 session loader that tensorflow_model_server also uses (every
  signature run through it, results equal to `tf.saved_model.load`'s);
* the REST JSON bodies / responses and the gRPC PredictRequest / PredictResponse the client builds;
* end to end through STAND-INS defined below: an `http.server` and a `grpc.server` on localhost that follow
  TF Serving's wire formats (REST paths and JSON, PredictionService protos) and answer by calling the
  SavedModel loaded with `tf.saved_model.load`. They are stand-ins for the wire formats, NOT TF Serving:
  they check the client and the formats, not the model server's loader, batching or threading.
"""

import concurrent.futures
import dataclasses
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import types

import grpc
import numpy as np
import pytest
import tensorflow as tf
import yaml
from google.protobuf import json_format, text_format
from PIL import Image
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import get_model_metadata_pb2, predict_pb2, prediction_service_pb2_grpc
from tensorflow_serving.config import model_server_config_pb2

from svgan_tf import latents, tokens
from svgan_tf.export import client
from svgan_tf.export.savedmodel import export_savedmodel
from tests.support import REPO, TINY_G, tiny_generator

MODEL = "sky"
D = TINY_G["motion_z_distance"]  # 4

# ---------------------------------------------------------------------------------------------------------
# The exported model.


class _SavedModelCli:
    """`saved_model_cli show --all` and `run --signature_def mapping` on the export, started in the background
    as soon as it exists (each imports TensorFlow: a few seconds that overlap the in-process tests)."""

    Z = [[0.5, -1.0, 0.25, 0.0, 1.0, 2.0, -3.0, 0.125], [1.0] * 8]

    def __init__(self, path, outdir):
        cli = [shutil.which("saved_model_cli")] if shutil.which("saved_model_cli") else [
            sys.executable, "-m", "tensorflow.python.tools.saved_model_cli"]
        self.outdir = outdir
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        commands = {
            "show": cli + ["show", "--dir", path, "--all"],
            "run": cli + ["run", "--dir", path, "--tag_set", "serve", "--signature_def", "mapping",
                          "--input_exprs", f"z={self.Z}", "--outdir", str(outdir)],
        }
        self.processes = {k: subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                              env=env) for k, c in commands.items()}
        self.results = {}

    def result(self, name):
        """(exit code, output) of one command, waiting for it."""
        if name not in self.results:
            output, _ = self.processes[name].communicate(timeout=300)
            self.results[name] = (self.processes[name].returncode, output)
        return self.results[name]

    def stop(self):
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.communicate()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    G = tiny_generator()
    base = tmp_path_factory.mktemp("models") / MODEL
    path = export_savedmodel(G, str(base), version=1)
    cli = _SavedModelCli(path, tmp_path_factory.mktemp("cli"))
    saved_model = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        saved_model.ParseFromString(f.read())
    signature_defs = saved_model.meta_graphs[0].signature_def
    signature_def_map = get_model_metadata_pb2.SignatureDefMap()
    for name, signature_def in signature_defs.items():
        signature_def_map.signature_def[name].CopyFrom(signature_def)
    yield types.SimpleNamespace(G=G, base=str(base), path=path, loaded=tf.saved_model.load(path),
                                signature_def_map=signature_def_map, cli=cli)
    cli.stop()


def _rest_metadata_json(signature_def_map, version=1, name=MODEL):
    """The REST metadata body as TF Serving writes it (model_spec + the SignatureDefMap printed with proto
    field names and default values, int64 sizes as strings)."""
    return {"model_spec": {"name": name, "signature_name": "", "version": str(version)},
            "metadata": {"signature_def": json_format.MessageToDict(
                signature_def_map, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)}}


@pytest.fixture(scope="module")
def signatures(exported):
    return client.parse_rest_metadata(_rest_metadata_json(exported.signature_def_map))[1]


def _direct(exported, signature, inputs):
    """The loaded SavedModel called directly (no server)."""
    outputs = exported.loaded.signatures[signature](**{k: tf.constant(v) for k, v in inputs.items()})
    return {k: v.numpy() for k, v in outputs.items()}


EXPECTED = {  # signature -> (inputs, outputs): name -> (dtype, shape) as the client expects them
    "serving_default": ({"z": (tf.float32, [None, 8]), "motion_z": (tf.float32, [None, None, 6]),
                         "t": (tf.float32, [None, None])}, {"frames": (tf.uint8, [None, None, 32, 32, 3])}),
    "frame_at_time": ({"w": (tf.float32, [None, 12]), "window": (tf.float32, [None, 6, 6]),
                       "t": (tf.float32, [None])}, {"frame": (tf.float32, [None, 32, 32, 3])}),
    "mapping": ({"z": (tf.float32, [None, 8])}, {"w": (tf.float32, [None, 12])}),
    "metadata": ({"t": (tf.float32, [None])}, {
        **{k: (tf.int32, [None]) for k in ("z_dim", "c_dim", "w_dim", "motion_z_dim", "motion_z_distance",
                                           "window_length", "max_num_frames", "img_resolution", "num_tokens")},
        "truncation_psi": (tf.float32, [None])}),
}


def _example_inputs(signature, batch, rng):
    if signature == "serving_default":
        return {"z": rng.standard_normal((batch, 8)), "motion_z": rng.standard_normal((batch, 9, 6)),
                "t": np.tile([[0.0, 5.5, 11.0]], (batch, 1))}
    if signature == "frame_at_time":
        return {"w": rng.standard_normal((batch, 12)), "window": rng.standard_normal((batch, 6, 6)),
                "t": np.linspace(0.0, 3.9, batch)}
    if signature == "metadata":
        return {"t": np.linspace(0.0, 30.5, batch)}
    return {"z": rng.standard_normal((batch, 8))}


@pytest.fixture(scope="module")
def info(exported, signatures):
    """What the client reads from the signatures and one `metadata` call (made here on the loaded model)."""
    return client.model_info(signatures, _direct(exported, "metadata", client.METADATA_INPUTS))


def test_signatures_match_what_the_client_expects(exported, signatures, info):
    loaded = exported.loaded
    assert set(loaded.signatures) == set(EXPECTED)
    rng = np.random.default_rng(0)
    for name, (inputs, outputs) in EXPECTED.items():
        function = loaded.signatures[name]
        specs = function.structured_input_signature[1]
        assert {k: (s.dtype, s.shape.as_list()) for k, s in specs.items()} == inputs, name
        assert {k: (s.dtype, s.shape.as_list()) for k, s in function.structured_outputs.items()} == outputs, name
        for batch in (1, 3):  # batch polymorphic
            result = _direct(exported, name, {k: np.asarray(v, np.float32)
                                              for k, v in _example_inputs(name, batch, rng).items()})
            for key, (dtype, shape) in outputs.items():
                expected_shape = [batch] + [3 if d is None else d for d in shape[1:]]
                assert result[key].dtype == dtype.as_numpy_dtype and list(result[key].shape) == expected_shape
    # ... and the client reads the sizes from the same signatures (served as REST metadata) and `metadata`.
    assert info == client.ModelInfo(z_dim=8, c_dim=0, motion_z_dim=6, height=32, width=32, motion_z_distance=D,
                                window_length=6)


def test_metadata_signature_gives_the_token_arithmetic(exported, signatures, info):
    """`metadata(t)`: the constants repeated per element of t, and num_tokens = floor(t / d) + W, which the
    client computes itself (`svgan_tf.tokens.prefix_length`) from the d and W of one call with t = [0.0]."""
    G = exported.G
    assert client.metadata_signature(signatures, MODEL) is signatures["metadata"]
    assert signatures["metadata"].inputs == {"t": client.SignatureTensor("DT_FLOAT", (None,))}
    assert client.METADATA_INPUTS["t"].tolist() == [0.0] and client.METADATA_INPUTS["t"].dtype == np.float32
    at_zero = {k: v.tolist() for k, v in _direct(exported, "metadata", client.METADATA_INPUTS).items()}
    assert at_zero == {"z_dim": [8], "c_dim": [0], "w_dim": [12], "motion_z_dim": [6], "motion_z_distance": [D],
                       "window_length": [6], "max_num_frames": [G.max_num_frames], "img_resolution": [32],
                       "truncation_psi": [1.0], "num_tokens": [6]}
    t = np.float32([0.0, 3.99, 4.0, 17.25, 63.0, 200.5])
    outputs = _direct(exported, "metadata", {"t": t})
    assert all(value.shape == (6,) for value in outputs.values())
    expected = [tokens.prefix_length(x, info.motion_z_distance, info.window_length) for x in t]
    assert outputs["num_tokens"].tolist() == expected == [6, 6, 7, 10, 21, 56]
    for x, n in zip(t, expected):
        start, length = G.token_window([0.0, x])
        assert n == start + length


def test_tf1_session_loader_runs_every_signature(exported):
    """tensorflow_model_server loads SavedModels with the C++ session loader: restore op + init op, then feeds
    and fetches the SignatureDef's tensor names. This is the same path in Python."""
    rng = np.random.default_rng(1)
    inputs = {name: {k: np.asarray(v, np.float32) for k, v in _example_inputs(name, 2, rng).items()}
              for name in EXPECTED}
    with tf.Graph().as_default(), tf.compat.v1.Session() as session:
        meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], exported.path)
        results = {}
        for name, signature in meta_graph.signature_def.items():
            if name in EXPECTED:
                fetches = {k: info.name for k, info in signature.outputs.items()}
                results[name] = session.run(fetches, {signature.inputs[k].name: v for k, v in inputs[name].items()})
    assert set(results) == set(EXPECTED)
    for name, result in results.items():  # eager, outside the graph above
        direct = _direct(exported, name, inputs[name])
        assert set(result) == set(direct), name
        for key, value in direct.items():
            np.testing.assert_array_equal(result[key], value)


# ---------------------------------------------------------------------------------------------------------
# Pure functions of the client.


def test_metadata_rest_and_grpc_agree_and_bad_models_are_named(exported, signatures):
    response = get_model_metadata_pb2.GetModelMetadataResponse()
    response.model_spec.name = MODEL
    response.model_spec.version.value = 1
    response.metadata["signature_def"].Pack(exported.signature_def_map)
    version, grpc_signatures = client.parse_metadata_response(response)
    assert version == 1 and grpc_signatures == signatures
    assert set(signatures) == {"frame_at_time", "mapping", "metadata", "serving_default"}  # no __saved_model_init_op
    assert signatures["serving_default"].inputs["motion_z"] == client.SignatureTensor("DT_FLOAT", (None, None, 6))
    request = client.build_metadata_request(MODEL, 7)
    assert (request.model_spec.name, request.model_spec.version.value, list(request.metadata_field)) == (
        MODEL, 7, ["signature_def"])
    metadata = {"motion_z_distance": np.int32([D]), "window_length": np.int32([6])}
    with pytest.raises(client.ServeClientError, match="has no signature 'serving_default' .*frame_at_time, mapping"):
        client.model_info({k: v for k, v in signatures.items() if k != "serving_default"}, metadata)
    wrong = dict(signatures, serving_default=signatures["mapping"])
    with pytest.raises(client.ServeClientError, match="not an svgan-tf video signature: inputs \\(z: DT_FLOAT"):
        client.model_info(wrong, metadata)
    assert client.model_info({k: v for k, v in signatures.items() if k != "frame_at_time"}, metadata).window_length == 6
    for bad in ({"motion_z_distance": np.int32([0]), "window_length": np.int32([6])},
                {"motion_z_distance": np.int32([]), "window_length": np.int32([])}, {}):
        with pytest.raises(client.ServeClientError, match="the metadata signature of model answered motion_z_distance"):
            client.model_info(signatures, bad)
    conditional = dict(signatures, serving_default=client.Signature(
        inputs=dict(signatures["serving_default"].inputs, c=client.SignatureTensor("DT_FLOAT", (None, 5))),
        outputs=signatures["serving_default"].outputs))
    assert client.model_info(conditional, metadata).c_dim == 5
    with pytest.raises(client.ServeClientError, match=r"model 'old' is not an svgan-tf export \(no metadata "
                       r"signature\); its signatures: frame_at_time, mapping, serving_default"):
        client.metadata_signature({k: v for k, v in signatures.items() if k != "metadata"}, "model 'old'")
    input_free = dict(signatures, metadata=client.Signature(inputs={}, outputs=signatures["metadata"].outputs))
    with pytest.raises(client.ServeClientError, match=r"'metadata' of model is not the svgan-tf one: inputs \(\)"):
        client.metadata_signature(input_free)
    with pytest.raises(client.ServeClientError, match="model error"):
        client.parse_rest_metadata({"error": "model error"})


def test_rest_body_and_response(signatures, exported):
    signature = signatures["serving_default"]
    rng = np.random.default_rng(2)
    arrays = {"z": rng.standard_normal((2, 8)), "motion_z": rng.standard_normal((2, 7, 6)).astype(np.float32),
              "t": np.array([[0.0, 0.1, 4.7], [1.0, 2.0, 3.0]])}
    body = json.loads(json.dumps(client.build_rest_body("serving_default", signature, arrays)))  # over the wire
    assert set(body) == {"signature_name", "inputs"} and body["signature_name"] == "serving_default"
    assert set(body["inputs"]) == {"z", "motion_z", "t"}
    for key, value in arrays.items():  # float32 values arrive exactly
        np.testing.assert_array_equal(np.asarray(body["inputs"][key], np.float32), value.astype(np.float32))
    with pytest.raises(client.ServeClientError, match="missing: t, unexpected: times"):
        client.build_rest_body("serving_default", signature, dict(z=arrays["z"], motion_z=arrays["motion_z"], times=1))
    with pytest.raises(client.ServeClientError,
                       match=r"input z .* shape \[2, 5\]; the signature says DT_FLOAT \[-1, 8\]"):
        client.build_rest_body("serving_default", signature, dict(arrays, z=np.zeros((2, 5))))
    # Responses: TF Serving leaves out the output name when there is one output; named form accepted too.
    frames = rng.integers(0, 256, (1, 2, 32, 32, 3)).astype(np.uint8)
    for response in ({"outputs": frames.tolist()}, {"outputs": {"frames": frames.tolist()}}):
        parsed = client.parse_rest_predict_response(json.loads(json.dumps(response)), "serving_default", signature)
        assert parsed["frames"].dtype == np.uint8
        np.testing.assert_array_equal(parsed["frames"], frames)
    with pytest.raises(client.ServeClientError, match="server error: Servable not found"):
        client.parse_rest_predict_response({"error": "Servable not found"}, "serving_default", signature)
    with pytest.raises(client.ServeClientError, match=r"output frames .* shape \[1, 2, 16, 16, 3\]"):
        client.parse_rest_predict_response({"outputs": frames[:, :, :16, :16].tolist()}, "serving_default", signature)
    assert client.rest_url("h", 8501, MODEL) == "http://h:8501/v1/models/sky"
    assert client.rest_url("h", 8501, MODEL, 3, "predict") == "http://h:8501/v1/models/sky/versions/3:predict"
    assert client.rest_url("h", 8501, MODEL, None, "metadata") == "http://h:8501/v1/models/sky/metadata"
    assert client.split_server("example.org", "rest") == ("example.org", 8501)
    assert client.split_server("http://example.org:9000/", "rest") == ("example.org", 9000)
    assert client.split_server("10.0.0.2", "grpc") == ("10.0.0.2", 8500)


def test_predict_request_and_response(signatures):
    signature = signatures["frame_at_time"]
    rng = np.random.default_rng(3)
    arrays = {"w": rng.standard_normal((2, 12)), "window": rng.standard_normal((2, 6, 6)), "t": [0.5, 9.0]}
    request = client.build_predict_request(MODEL, 2, "frame_at_time", signature, arrays)
    assert (request.model_spec.name, request.model_spec.version.value, request.model_spec.signature_name) == (
        MODEL, 2, "frame_at_time")
    assert set(request.inputs) == {"w", "window", "t"}
    for key, value in arrays.items():
        assert request.inputs[key].dtype == tf.float32.as_datatype_enum
        assert [d.size for d in request.inputs[key].tensor_shape.dim] == list(np.shape(value))
        np.testing.assert_array_equal(tf.make_ndarray(request.inputs[key]), np.asarray(value, np.float32))
    latest = client.build_predict_request(MODEL, None, "frame_at_time", signature, arrays)
    assert not latest.model_spec.HasField("version")
    with pytest.raises(client.ServeClientError, match="input window .* shape \\[2, 5, 6\\]"):
        client.build_predict_request(MODEL, None, "frame_at_time", signature, dict(arrays, window=np.zeros((2, 5, 6))))
    frame = rng.standard_normal((2, 32, 32, 3)).astype(np.float32)
    response = predict_pb2.PredictResponse()
    response.outputs["frame"].CopyFrom(tf.make_tensor_proto(frame))
    np.testing.assert_array_equal(client.parse_predict_response(response, "frame_at_time", signature)["frame"], frame)
    response.outputs["frame"].CopyFrom(tf.make_tensor_proto(frame.astype(np.float64)))
    with pytest.raises(client.ServeClientError, match="output frame: the server sent float64"):
        client.parse_predict_response(response, "frame_at_time", signature)


def test_token_arithmetic_and_inputs(exported, info):
    G = exported.G
    for t_max in (0.0, 3.99, 4.0, 17.25, 63.0, 200.5):
        start, length = G.token_window([0.0, t_max])
        assert tokens.prefix_length(t_max, D, info.window_length) == start + length <= G.num_motion_tokens(t_max)
    z, motion_z = client.draw_inputs(5, 8, 6, 30)
    z_short, motion_z_short = client.draw_inputs(5, 8, 6, 10)
    np.testing.assert_array_equal(z, z_short)
    np.testing.assert_array_equal(motion_z[:, :10], motion_z_short)  # prefix-stable
    assert z.dtype == motion_z.dtype == np.float32 and motion_z.shape == (1, 30, 6)
    times = tokens.frame_times(0, 7, 0.0, 1.5)
    np.testing.assert_array_equal(times, np.float32([0, 1.5, 3, 4.5, 6, 7.5, 9]))
    requests = list(client.video_requests(info, 5, times, 3))
    assert [r["t"].tolist() for r in requests] == [[[0, 1.5, 3]], [[4.5, 6, 7.5]], [[9]]]
    assert [r["motion_z"].shape[1] for r in requests] == [6, 7, 8]  # floor(max t / 4) + 6
    with pytest.raises(client.ServeClientError, match="not conditional"):
        next(client.video_requests(info, 5, times, 3, class_idx=1))
    for bad in ("", "x", "3-1", "-2"):  # refused before any connection (`svgan_tf.latents.parse_seeds`)
        with pytest.raises(ValueError, match="--seeds"):
            client.render_videos(client.Options(seeds=bad))
    assert client.output_path("v/seed{seed:04d}.mp4", 3, 2) == "v/seed0003.mp4"
    assert client.output_path("v/one.mp4", 3, 1) == "v/one.mp4"
    with pytest.raises(client.ServeClientError, match="no {seed} field"):
        client.output_path("v/one.mp4", 3, 2)


# ---------------------------------------------------------------------------------------------------------
# Stand-ins for TF Serving's wire formats (NOT TF Serving): they answer from the tf.saved_model.load'ed model.


class _Failure(Exception):
    """A request error: (HTTP status, gRPC code, message) as TF Serving maps NotFound / InvalidArgument."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.http, self.grpc = {"not_found": (404, grpc.StatusCode.NOT_FOUND),
                                "invalid": (400, grpc.StatusCode.INVALID_ARGUMENT)}[kind]


class StandInModel:
    """Model name + version -> the loaded SavedModel and its SignatureDefs, with TF Serving's error texts.
    Model `old` is the same SavedModel without its `metadata` signature (not an svgan-tf export)."""

    def __init__(self, exported):
        self.exported = exported
        old = get_model_metadata_pb2.SignatureDefMap()
        old.CopyFrom(exported.signature_def_map)
        del old.signature_def["metadata"]
        self.signature_def_maps = {MODEL: exported.signature_def_map, "old": old}

    def resolve(self, name, version):
        if name not in self.signature_def_maps or version not in (None, 1):
            spec = f"Latest({name})" if version is None else f"Specific({name}, {version})"
            raise _Failure("not_found", f"Servable not found for request: {spec}")
        return 1

    def signature_def(self, model, signature_name):
        name, signature_defs = signature_name or "serving_default", self.signature_def_maps[model].signature_def
        if name.startswith("__") or name not in signature_defs:
            raise _Failure("invalid", f'Serving signature name: "{name}" not found in signature def')
        return name, signature_defs[name]

    def predict(self, model, signature_name, inputs):
        """inputs: name -> NumPy array already of the signature's dtype. Returns name -> NumPy array."""
        name, signature_def = self.signature_def(model, signature_name)
        missing, extra = set(signature_def.inputs) - set(inputs), set(inputs) - set(signature_def.inputs)
        if missing or extra:
            raise _Failure("invalid", f"input size does not match signature: {len(inputs)}!="
                                      f"{len(signature_def.inputs)} len({{{', '.join(sorted(inputs))}}}) != "
                                      f"len({{{', '.join(sorted(signature_def.inputs))}}}). Sent extra: "
                                      f"{{{', '.join(sorted(extra))}}}. Missing but required: "
                                      f"{{{', '.join(sorted(missing))}}}.")
        try:
            outputs = self.exported.loaded.signatures[name](**{k: tf.constant(v) for k, v in inputs.items()})
        except (tf.errors.OpError, ValueError, TypeError) as error:
            raise _Failure("invalid", getattr(error, "message", str(error))) from None
        return {k: v.numpy() for k, v in outputs.items()}


def _http_handler(model):
    get_path = re.compile(r"/v1/models/([^/:]+)(?:/versions/(\d+))?(/metadata)?")
    post_path = re.compile(r"/v1/models/([^/:]+)(?:/versions/(\d+))?:(predict|classify|regress)")

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _send(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _answer(self, compute):
            try:
                self._send(200, compute())
            except _Failure as failure:
                self._send(failure.http, {"error": str(failure)})

        def do_GET(self):
            match = get_path.fullmatch(self.path)
            if not match:
                return self._send(404, {"error": f"Malformed request: GET {self.path}"})
            name, version, metadata = match.group(1), match.group(2), match.group(3)

            def compute():
                served = model.resolve(name, None if version is None else int(version))
                if metadata:
                    return _rest_metadata_json(model.signature_def_maps[name], served, name)
                return {"model_version_status": [{"version": str(served), "state": "AVAILABLE",
                                                  "status": {"error_code": "OK", "error_message": ""}}]}
            self._answer(compute)

        def do_POST(self):
            match = post_path.fullmatch(self.path)
            if not match or match.group(3) != "predict":
                return self._send(404, {"error": f"Malformed request: POST {self.path}"})
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))

            def compute():
                model.resolve(match.group(1), None if match.group(2) is None else int(match.group(2)))
                if "inputs" not in body or not isinstance(body["inputs"], dict):
                    raise _Failure("invalid", "this stand-in implements only the columnar format with named inputs")
                name, signature_def = model.signature_def(match.group(1), body.get("signature_name", ""))
                if not signature_def.inputs:  # as TF Serving's JSON request parser (json_tensor.cc)
                    raise _Failure("invalid", f"Failed to get input map for signature: {name}")
                inputs = {}
                for key, value in body["inputs"].items():  # parsed with the SignatureDef's dtype, as TF Serving
                    info = signature_def.inputs.get(key)
                    dtype = tf.dtypes.as_dtype(info.dtype).as_numpy_dtype if info is not None else np.float32
                    inputs[key] = np.asarray(value, dtype)
                outputs = model.predict(match.group(1), name, inputs)
                if len(outputs) == 1:  # TF Serving omits the name of a single output
                    return {"outputs": next(iter(outputs.values())).tolist()}
                return {"outputs": {k: v.tolist() for k, v in outputs.items()}}
            self._answer(compute)

    return Handler


class StandInPredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    """PredictionService.Predict and GetModelMetadata over the loaded SavedModel (a stand-in, not TF Serving)."""

    def __init__(self, model):
        self.model = model

    def _version(self, model_spec):
        return model_spec.version.value if model_spec.HasField("version") else None

    def GetModelMetadata(self, request, context):
        try:
            version = self.model.resolve(request.model_spec.name, self._version(request.model_spec))
        except _Failure as failure:
            context.abort(failure.grpc, str(failure))
        if list(request.metadata_field) != ["signature_def"]:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "Metadata field signature_def is the only one supported")
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = version
        response.metadata["signature_def"].Pack(self.model.signature_def_maps[request.model_spec.name])
        return response

    def Predict(self, request, context):
        try:
            version = self.model.resolve(request.model_spec.name, self._version(request.model_spec))
            name, signature_def = self.model.signature_def(request.model_spec.name, request.model_spec.signature_name)
            inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
            for key, value in inputs.items():
                info = signature_def.inputs.get(key)
                if info is not None and tf.dtypes.as_dtype(info.dtype).as_numpy_dtype != value.dtype:
                    raise _Failure("invalid", f"Expects arg {key} to be {tf.dtypes.as_dtype(info.dtype).name} but "
                                              f"{tf.dtypes.as_dtype(value.dtype).name} is provided")
            outputs = self.model.predict(request.model_spec.name, name, inputs)
        except _Failure as failure:
            context.abort(failure.grpc, str(failure))
        response = predict_pb2.PredictResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = version
        response.model_spec.signature_name = name
        for key, value in outputs.items():
            response.outputs[key].CopyFrom(tf.make_tensor_proto(value))
        return response


@pytest.fixture(scope="module")
def stand_ins(exported):
    model = StandInModel(exported)
    http_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _http_handler(model))
    thread = threading.Thread(target=http_server.serve_forever, daemon=True)
    thread.start()
    grpc_server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=2))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(StandInPredictionService(model), grpc_server)
    grpc_port = grpc_server.add_insecure_port("127.0.0.1:0")
    grpc_server.start()
    yield {"rest": f"127.0.0.1:{http_server.server_address[1]}", "grpc": f"127.0.0.1:{grpc_port}"}
    grpc_server.stop(0)
    http_server.shutdown()
    http_server.server_close()


def _read_frames(directory):
    names = sorted(os.listdir(directory))
    return np.stack([np.asarray(Image.open(os.path.join(directory, name)).convert("RGB")) for name in names])


@pytest.mark.parametrize("protocol,version", [("rest", 1), ("grpc", None)])
def test_client_renders_through_stand_in_server(exported, info, stand_ins, tmp_path, protocol, version):
    # Over both protocols the client calls the metadata signature for d (4 here) and W.
    options = client.Options(server=stand_ins[protocol], protocol=protocol, model=MODEL, version=version,
                             seeds="1,2", num_frames=7, time_step=1.5, frames_per_request=3,
                             out=str(tmp_path / "seed{seed}"), fps=10)
    log = []
    paths = client.render_videos(options, log=log.append)
    assert paths == [str(tmp_path / "seed1"), str(tmp_path / "seed2")]
    assert "serving version 1" in log[0] and "frames 32x32" in log[0]
    assert f"motion tokens every {D} frames, window 6 tokens" in log[0]
    assert "seed 2: 7 frames in 3 requests" in log[2]
    times = tokens.frame_times(0, 7, 0.0, 1.5)
    for seed, path in zip((1, 2), paths):
        written = _read_frames(path)  # PNG: lossless
        direct = np.concatenate([_direct(exported, "serving_default", inputs)["frames"][0]
                                 for inputs in client.video_requests(info, seed, times, 3)])
        assert written.shape == (7, 32, 32, 3)
        np.testing.assert_array_equal(written, direct)
        # One call with the whole token sequence gives the same frames: the prefixes are enough.
        z, motion_z = client.draw_inputs(seed, 8, 6, exported.G.num_motion_tokens(times.max()))
        whole = _direct(exported, "serving_default", {"z": z, "motion_z": motion_z, "t": times[None]})["frames"][0]
        assert np.abs(whole.astype(int) - written.astype(int)).max() <= 1
    assert not np.array_equal(_read_frames(paths[0]), _read_frames(paths[1]))


def test_client_renders_a_latents_files_content_with_each_seeds_motion(exported, info, stand_ins, tmp_path):
    # The content of seed 1 given as a latents file: the frame_at_time path must give seed 1's frames.
    G, times = exported.G, tokens.frame_times(0, 5, 0.0, 1.5)
    w = G.mapping(latents.content_z(1, G.z_dim)[None]).numpy()[:, :1]
    np.savez(tmp_path / "latents.npz", ws=np.repeat(w, G.num_ws, 1))
    options = client.Options(server=stand_ins["rest"], protocol="rest", model=MODEL, seeds="1", num_frames=5,
                             time_step=1.5, frames_per_request=2, out=str(tmp_path / "seed{seed}"),
                             latents=str(tmp_path / "latents.npz"))
    [path] = client.render_videos(options, log=lambda line: None)
    direct = np.concatenate([_direct(exported, "serving_default", inputs)["frames"][0]
                             for inputs in client.video_requests(info, 1, times, 5)])
    assert np.abs(_read_frames(path).astype(int) - direct.astype(int)).max() <= 1
    # A per-layer (W+) content does not fit the one w of frame_at_time: refused before any request.
    plus = np.repeat(w, G.num_ws, 1) + np.arange(G.num_ws, dtype=np.float32)[None, :, None]
    np.savez(tmp_path / "plus.npz", ws=plus)
    options = dataclasses.replace(options, latents=str(tmp_path / "plus.npz"), out=str(tmp_path / "plus{seed}"))
    with pytest.raises(client.ServeClientError, match=r"^--latents: .*plus\.npz: a per-layer \(W\+\) content"):
        client.render_videos(options, log=lambda line: None)
    assert not (tmp_path / "plus1").exists()


def test_command_line_program_writes_mp4(exported, info, stand_ins, tmp_path):
    """The program, `python -m svgan_tf.serve_client`, as a user runs it (here, beside the stand-in servers; its
    command line without a server: tests/test_serve_client.py)."""
    out = tmp_path / "clip-{seed}.mp4"
    result = subprocess.run(
        [sys.executable, "-m", "svgan_tf.serve_client", "--protocol=rest", f"--server={stand_ins['rest']}",
         f"--model={MODEL}", "--seeds=3", "--num_frames=6", "--frames_per_request=4", f"--out={out}"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "seed 3: 6 frames in 2 requests" in result.stdout
    from svgan_tf.data.video import read_mp4
    video = read_mp4(tmp_path / "clip-3.mp4")
    times = tokens.frame_times(0, 6)
    direct = np.concatenate([_direct(exported, "serving_default", inputs)["frames"][0]
                             for inputs in client.video_requests(info, 3, times, 4)])
    assert video.shape == direct.shape == (6, 32, 32, 3)
    assert np.abs(video.astype(int) - direct.astype(int)).mean() < 10  # H.264 at crf 18 is lossy


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("protocol", ["rest", "grpc"])
def test_client_errors_are_clear(stand_ins, tmp_path, monkeypatch, protocol):
    base = client.Options(server=stand_ins[protocol], protocol=protocol, model=MODEL, num_frames=4,
                          frames_per_request=4, out=str(tmp_path / "seed{seed}"), timeout=20)
    refused = {"rest": "connection refused .*--rest_api_port", "grpc": "cannot connect .*over gRPC"}[protocol]
    with pytest.raises(client.ServeClientError, match=refused):
        client.render_videos(dataclasses.replace(base, server=f"127.0.0.1:{_free_port()}", timeout=5),
                             log=lambda *_: None)
    not_found = {"rest": "HTTP 404 from .*/v1/models/nope/metadata: Servable not found for request: Latest\\(nope\\)",
                 "grpc": "gRPC NOT_FOUND from .*: Servable not found for request: Latest\\(nope\\)"}[protocol]
    with pytest.raises(client.ServeClientError, match=not_found):
        client.render_videos(dataclasses.replace(base, model="nope"), log=lambda *_: None)
    with pytest.raises(client.ServeClientError, match="Specific\\(sky, 9\\)"):
        client.render_videos(dataclasses.replace(base, version=9), log=lambda *_: None)
    with pytest.raises(client.ServeClientError,
                       match=r"model 'old' is not an svgan-tf export \(no metadata signature\)"):
        client.render_videos(dataclasses.replace(base, model="old"), log=lambda *_: None)
    # A server error in the middle of a video: the server's own message comes through, and the video is not
    # left half-written. With only W = 6 tokens per request (a client bug, simulated) the first request
    # (t <= 3) has enough, the second (t <= 7 needs floor(7 / 4) + 6 = 7) is refused.
    with monkeypatch.context() as patch:
        patch.setattr(tokens, "prefix_length", lambda max_t, d, W: W)
        with pytest.raises(client.ServeClientError, match="Too few motion tokens"):
            client.render_videos(dataclasses.replace(base, num_frames=10), log=lambda *_: None)
    assert not os.path.exists(tmp_path / "seed0")  # nothing half-written under the final name
    with pytest.raises(client.ServeClientError, match="not conditional"):
        client.render_videos(dataclasses.replace(base, class_idx=0), log=lambda *_: None)


# ---------------------------------------------------------------------------------------------------------
# Deployment files.

SERVING = REPO / "deploy"


_HOSTILE_ANSWERS = {
    "deep": (b"[" * 100000 + b"]" * 100000, r"metadata: JSON nested too deeply\."),
    "number": (b"42", r"metadata did not answer a JSON object: b'42'"),
    "wrong-types": (json.dumps({"model_spec": {"version": "x"}, "metadata": {"signature_def": {}}}).encode(),
                    r"^model metadata response is not TF Serving's \(invalid literal for int"),
    "list-of-signatures": (json.dumps({"metadata": {"signature_def": {"signature_def": [1]}}}).encode(),
                           r"^model metadata response is not TF Serving's \('list' object has no attribute"),
    "endless": (None, r"metadata answered more than the 67,108,864 bytes its request can need\.$"),
}


@pytest.mark.parametrize("case", sorted(_HOSTILE_ANSWERS))
def test_a_hostile_server_is_one_error_and_bounded(tmp_path, case):
    # A server that answers anything: the client reads at most what its request can need, parses it bounded,
    # and reports one error naming the call; nothing is written.
    body, message = _HOSTILE_ANSWERS[case]

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)) if body else str(1 << 40))
            self.end_headers()
            try:
                if body:
                    self.wfile.write(body)
                while body is None:  # endless: until the client hangs up
                    self.wfile.write(b" " * (1 << 20))
            except OSError:
                pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        options = client.Options(server=f"127.0.0.1:{server.server_address[1]}", out=str(tmp_path / "v{seed}.mp4"))
        with pytest.raises(client.ServeClientError, match=message):
            client.render_videos(options, log=lambda line: None)
    finally:
        server.shutdown()
        server.server_close()
    assert os.listdir(tmp_path) == []


def test_models_config_parses_as_model_server_config():
    config = text_format.Parse((SERVING / "models.config").read_text(), model_server_config_pb2.ModelServerConfig())
    (model,) = config.model_config_list.config
    assert (model.name, model.base_path, model.model_platform) == (MODEL, "/models/sky", "tensorflow")
    assert model.model_version_policy.WhichOneof("policy_choice") == "specific"
    assert list(model.model_version_policy.specific.versions) == [1]
    assert dict(model.version_labels) == {"stable": 1}


def test_kubernetes_manifest():
    documents = [d for d in yaml.safe_load_all((SERVING / "k8s.yaml").read_text()) if d]
    kinds = {d["kind"]: d for d in documents}
    assert set(kinds) == {"Deployment", "Service"}
    pod = kinds["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"].startswith("tensorflow/serving:")
    assert "--model_config_file=/models/config/models.config" in container["args"]
    assert {p["containerPort"] for p in container["ports"]} == {8500, 8501}
    assert container["livenessProbe"]["httpGet"]["path"] == "/v1/models/sky"
    assert container["startupProbe"]["httpGet"]["path"] == "/v1/models/sky"
    assert container["readinessProbe"]["httpGet"]["path"] == "/v1/models/sky/metadata"
    assert {"requests", "limits"} <= set(container["resources"])
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts == {"models": "/models/sky", "config": "/models/config"}
    labels = kinds["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert kinds["Deployment"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = kinds["Service"]["spec"]
    assert service["selector"].items() <= labels.items()
    assert {p["port"] for p in service["ports"]} == {8500, 8501}


def test_deployment_doc_commands():
    doc = (REPO / "docs" / "deployment.md").read_text()
    assert ("docker run -p 8500:8500 -p 8501:8501 --mount type=bind,source=$(pwd)/models/sky,target=/models/sky "
            "-e MODEL_NAME=sky -t tensorflow/serving") in doc
    for protocol in ("rest", "grpc"):
        assert f"python -m svgan_tf.serve_client --protocol={protocol}" in doc
    assert "was not run on this machine" in doc


# saved_model_cli: last in the file, so that its background processes overlap the tests above.


def test_saved_model_cli_show_lists_the_signatures(exported):
    code, output = exported.cli.result("show")
    assert code == 0, output
    for name in EXPECTED:
        assert f"signature_def['{name}']" in output
    assert "inputs['motion_z'] tensor_info:" in output and "dtype: DT_UINT8" in output


def test_saved_model_cli_runs_mapping(exported):
    code, output = exported.cli.result("run")
    assert code == 0, output
    w = np.load(exported.cli.outdir / "w.npy")
    z = np.array(exported.cli.Z, np.float32)
    np.testing.assert_allclose(w, _direct(exported, "mapping", {"z": z})["w"], atol=1e-6)
