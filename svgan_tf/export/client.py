"""The client of the exported SavedModel in TensorFlow Serving (REST or gRPC): it renders videos.

The model is a SavedModel written by `python -m svgan_tf.export savedmodel` (signatures `serving_default`,
`frame_at_time`, `mapping`, `metadata`) and served by `tensorflow_model_server` (docs/deployment.md). The
client asks the server for the model's signature metadata (REST `GET /v1/models/NAME[/versions/V]/metadata`,
gRPC `PredictionService.GetModelMetadata`) and reads z_dim, c_dim, motion_z_dim and the frame size from
`serving_default`. It then calls the `metadata` signature once, with t = [0.0], over the same protocol: its
outputs (each constant repeated per element of t) give the token spacing d (`motion_z_distance`) and the
motion-token window length W. A served model without a `metadata` signature is not an svgan-tf export.

Each video is rendered in requests of `frames_per_request` frames at times t = i * time_step
(`serving_default`: z, motion_z, t -> uint8 frames), so the frames per request stay bounded. A frame at
time t needs the motion tokens 0 .. floor(t / d) + W - 1 of the video's token sequence
(`svgan_tf.tokens.prefix_length`, the `num_tokens` output of `metadata`) and the signature has no token
offset, so each request sends exactly that prefix: it grows by one token every d frames (1024 frames at
d = 16 with the reference sizes: 85 tokens of 512 floats).

Inputs: the content latent and motion tokens of each seed are `svgan_tf.latents` (NumPy): seed 3 is the
same video here as with `python -m svgan_tf.generate` and the LiteRT player, whatever the number of frames.

The pure functions (signature parsing, REST JSON bodies and responses, PredictRequest / PredictResponse)
are separate from the transports so that they can be tested without a model server. `render_videos` is
the whole job of `python -m svgan_tf.serve_client` (the program: its flags are the fields of `Options`).
"""

import dataclasses
import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy as np

from svgan_tf import cli, latents, tokens
from svgan_tf.data.video import open_writer
from svgan_tf.export.player import frame_to_uint8
from svgan_tf.interop import bounded

SERVING_SIGNATURE = "serving_default"
METADATA_SIGNATURE = "metadata"
DEFAULT_PORTS = {"rest": 8501, "grpc": 8500}
# Bounds on what a server may answer, so that a faulty or hostile one cannot exhaust memory: a REST answer of n
# numbers is at most this many bytes per number (a float32 in JSON, sign, digits and exponent, and a comma, is under
# 20) plus 1 MiB; a gRPC answer (binary tensors) at most 1 GiB, over 100 requests' worth of 1024x1024 frames.
MAX_JSON_BYTES_PER_VALUE = 32
GRPC_MAX_RESPONSE_BYTES = 1 << 30
# The `metadata` signature repeats its constants per element of t: one element gives them once.
METADATA_INPUTS = {"t": np.zeros([1], np.float32)}

# TensorFlow DataType enum names (as the metadata spells them) -> NumPy dtypes; the ones this model uses
# and the usual neighbours. Anything else is refused by name.
_DTYPES = {"DT_FLOAT": np.float32, "DT_DOUBLE": np.float64, "DT_HALF": np.float16, "DT_UINT8": np.uint8,
           "DT_INT8": np.int8, "DT_INT16": np.int16, "DT_INT32": np.int32, "DT_INT64": np.int64,
           "DT_BOOL": np.bool_}
_DTYPE_NUMBERS = {1: "DT_FLOAT", 2: "DT_DOUBLE", 3: "DT_INT32", 4: "DT_UINT8", 5: "DT_INT16", 6: "DT_INT8",
                  9: "DT_INT64", 10: "DT_BOOL", 19: "DT_HALF"}


class ServeClientError(cli.UserError):
    """A failure the user can act on (connection, server error, unexpected model); the message says what.

    A `cli.UserError`: a program reports it as one line, with exit status 2.
    """


# ---------------------------------------------------------------------------------------------------------
# Signature metadata (protocol independent).


@dataclasses.dataclass(frozen=True)
class SignatureTensor:
    """One input or output of a signature: `dtype` the TF enum name ("DT_FLOAT"), `shape` a tuple with
    None for unknown dimensions, or None for an unknown rank."""

    dtype: str
    shape: tuple

    @property
    def numpy_dtype(self):
        if self.dtype not in _DTYPES:
            raise ServeClientError(f"tensor type {self.dtype} is not supported by this client.")
        return np.dtype(_DTYPES[self.dtype])

    def describe(self):
        shape = "?" if self.shape is None else "[" + ", ".join("-1" if d is None else str(d) for d in self.shape) + "]"
        return f"{self.dtype} {shape}"


@dataclasses.dataclass(frozen=True)
class Signature:
    inputs: dict
    outputs: dict


def _tensor_spec(info):
    dtype = info.get("dtype", "DT_INVALID")
    if isinstance(dtype, int):  # use_integers_for_enums JSON
        dtype = _DTYPE_NUMBERS.get(dtype, f"DT_ENUM_{dtype}")
    shape_info = info.get("tensor_shape", {})
    if shape_info.get("unknown_rank", False):
        shape = None
    else:
        shape = tuple(None if int(d.get("size", 0)) < 0 else int(d.get("size", 0)) for d in shape_info.get("dim", []))
    return SignatureTensor(dtype, shape)


def parse_signature_def_map(signature_def_map):
    """`SignatureDefMap` in its JSON form (as in TF Serving's REST metadata) -> {name: Signature}.

    Args:
        signature_def_map: {"signature_def": {NAME: {"inputs": {..}, "outputs": {..}, "method_name": ..}}};
            tensor sizes may be JSON strings ("-1") or numbers. Internal entries such as
            `__saved_model_init_op` are skipped.

    Returns:
        {signature name: Signature}.
    """
    defs = signature_def_map.get("signature_def", {})
    signatures = {}
    for name, sig in defs.items():
        if name.startswith("__"):
            continue
        signatures[name] = Signature(
            inputs={key: _tensor_spec(info) for key, info in sig.get("inputs", {}).items()},
            outputs={key: _tensor_spec(info) for key, info in sig.get("outputs", {}).items()})
    return signatures


def parse_rest_metadata(body):
    """Reads the REST `GET .../metadata` response.

    Args:
        body: the response, parsed JSON (a dict).

    Returns:
        (served version or None, {signature name: Signature}).

    Raises:
        ServeClientError: an error response, or one without signature metadata.
    """
    if "error" in body:
        raise ServeClientError(f"model metadata: {body['error']}")
    try:
        signature_def_map = body["metadata"]["signature_def"]
    except (KeyError, TypeError):
        raise ServeClientError(f"model metadata response has no metadata.signature_def: {str(body)[:300]}") from None
    try:
        version = body.get("model_spec", {}).get("version")
        return (int(version) if version not in (None, "") else None), parse_signature_def_map(signature_def_map)
    except (AttributeError, TypeError, ValueError) as error:  # JSON of another form than TF Serving's
        raise ServeClientError(f"model metadata response is not TF Serving's ({error}): {str(body)[:300]}") from None


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What the client needs: the sizes of `serving_default` and the token arithmetic of `metadata`."""

    z_dim: int
    c_dim: int
    motion_z_dim: int
    height: int
    width: int
    motion_z_distance: int
    window_length: int


def _describe(signature):
    fmt = lambda specs: ", ".join(f"{k}: {v.describe()}" for k, v in sorted(specs.items()))  # noqa: E731
    return f"inputs ({fmt(signature.inputs)}) -> outputs ({fmt(signature.outputs)})"


def metadata_signature(signatures, model="model"):
    """The `metadata` signature, checked (input t [-1] float32; motion_z_distance and window_length outputs).

    Args:
        signatures: {name: Signature} of the served model.
        model: how error messages name the model.

    Returns:
        The `metadata` Signature.

    Raises:
        ServeClientError: when the model has none (not an svgan-tf export) or it has another form.
    """
    signature = signatures.get(METADATA_SIGNATURE)
    if signature is None:
        raise ServeClientError(f"{model} is not an svgan-tf export (no {METADATA_SIGNATURE} signature); its "
                               f"signatures: {', '.join(sorted(signatures)) or 'none'}.")
    if (signature.inputs != {"t": SignatureTensor("DT_FLOAT", (None,))}
            or not {"motion_z_distance", "window_length"} <= set(signature.outputs)):
        raise ServeClientError(f"signature '{METADATA_SIGNATURE}' of {model} is not the svgan-tf one: "
                               f"{_describe(signature)}; expected input t: DT_FLOAT [-1] and outputs "
                               "motion_z_distance, window_length, ...")
    return signature


def model_info(signatures, metadata, model="model"):
    """Checks the `serving_default` signature and reads the sizes.

    Args:
        signatures: {name: Signature} of the served model.
        metadata: the outputs of the `metadata` signature for `METADATA_INPUTS` ({name: array [1]}).
        model: how error messages name the model.

    Returns:
        A ModelInfo.

    Raises:
        ServeClientError: naming what is missing or different.
    """
    if SERVING_SIGNATURE not in signatures:
        raise ServeClientError(f"{model} has no signature '{SERVING_SIGNATURE}' (it has: "
                               f"{', '.join(sorted(signatures)) or 'none'}); is it an svgan_tf.export savedmodel "
                               "export?")
    sig = signatures[SERVING_SIGNATURE]
    wrong = f"signature '{SERVING_SIGNATURE}' of {model} is not an svgan-tf video signature: {_describe(sig)}"
    expected = {"z", "motion_z", "t"}
    if set(sig.inputs) not in (expected, expected | {"c"}) or set(sig.outputs) != {"frames"}:
        raise ServeClientError(f"{wrong}; expected inputs z, [c,] motion_z, t and output frames.")
    ranks = {"z": 2, "c": 2, "motion_z": 3, "t": 2}
    for key, spec in sig.inputs.items():
        if spec.dtype != "DT_FLOAT" or spec.shape is None or len(spec.shape) != ranks[key]:
            raise ServeClientError(f"{wrong}; input {key} should be DT_FLOAT of rank {ranks[key]}.")
    frames = sig.outputs["frames"]
    if frames.dtype != "DT_UINT8" or frames.shape is None or len(frames.shape) != 5 or frames.shape[-1] != 3:
        raise ServeClientError(f"{wrong}; output frames should be DT_UINT8 [-1, -1, H, W, 3].")
    z_dim, motion_z_dim = sig.inputs["z"].shape[1], sig.inputs["motion_z"].shape[2]
    c_dim = sig.inputs["c"].shape[1] if "c" in sig.inputs else 0
    if z_dim is None or motion_z_dim is None or c_dim is None:
        raise ServeClientError(f"{wrong}; z_dim, c_dim and motion_z_dim must be known.")
    try:
        d, W = (np.asarray(metadata.get(key, [])).item(0) for key in ("motion_z_distance", "window_length"))
    except IndexError:
        d = W = None
    if d is None or not (d > 0 and W >= 1):
        raise ServeClientError(f"the {METADATA_SIGNATURE} signature of {model} answered motion_z_distance {d} and "
                               f"window_length {W}; expected d > 0 and W >= 1.")
    return ModelInfo(z_dim=z_dim, c_dim=c_dim, motion_z_dim=motion_z_dim, height=frames.shape[2],
                     width=frames.shape[3], motion_z_distance=d, window_length=int(W))


def read_model_info(client, model="model"):
    """Asks the server for the signature metadata, then calls the `metadata` signature once.

    Args:
        client: a RestClient or GrpcClient.
        model: how error messages name the model.

    Returns:
        (served version, {name: Signature}, ModelInfo).
    """
    version, signatures = client.metadata()
    metadata = client.predict(METADATA_SIGNATURE, metadata_signature(signatures, model), METADATA_INPUTS)
    return version, signatures, model_info(signatures, metadata, model)


# ---------------------------------------------------------------------------------------------------------
# Inputs.


def draw_inputs(seed, z_dim, motion_z_dim, num_tokens):
    """The latents of video `seed` (`svgan_tf.latents`: the same video as `svgan_tf.generate` and the LiteRT
    player give for the seed).

    Args:
        seed: the video's seed.
        z_dim: content latent size.
        motion_z_dim: motion token size.
        num_tokens: how many motion tokens, from token 0.

    Returns:
        (z float32 [1, z_dim], motion_z float32 [1, num_tokens, motion_z_dim]).
    """
    return (latents.content_z(seed, z_dim)[None],
            latents.MotionTokenStream(seed, motion_z_dim).window(0, num_tokens)[None])


def _conditioning(info, class_idx):
    """c [1, c_dim] of a conditional model's class, or None for an unconditional one (checked)."""
    if info.c_dim:
        if class_idx is None or not 0 <= class_idx < info.c_dim:
            raise ServeClientError(f"the model is conditional on {info.c_dim} classes: pass --class_idx in "
                                   f"0..{info.c_dim - 1}.")
        return np.eye(info.c_dim, dtype=np.float32)[[class_idx]]
    if class_idx is not None:
        raise ServeClientError("--class_idx given but the model is not conditional.")
    return None


def video_requests(info, seed, times, frames_per_request, class_idx=None, w=None):
    """The inputs for one video, in frame order: `serving_default`'s, or `frame_at_time`'s for a given content w.

    Args:
        info: the ModelInfo of the served model.
        seed: the video's seed (its content unless `w` is given, and its motion).
        times: the frame times (float32 [n]).
        frames_per_request: frames per request (the last one may have fewer).
        class_idx: class of a conditional model.
        w: a content code [1, w_dim] (a projection's, `svgan_tf.latents.read_latents_file`) instead of the
            seed's content.

    Yields:
        One dict of NumPy arrays per request: z, motion_z (the token prefix its frames need), t [1, n][, c];
        with `w`: w, window (each frame's `window_length` tokens), t [n][, c], one row per frame.

    Raises:
        ServeClientError: frames_per_request < 1, or a class_idx the model does not take.
    """
    if frames_per_request < 1:
        raise ServeClientError(f"frames_per_request must be >= 1, got {frames_per_request}.")
    times = np.asarray(times, np.float32)
    c = _conditioning(info, class_idx)
    if w is None:
        z, motion_z = draw_inputs(seed, info.z_dim, info.motion_z_dim,
                                  tokens.prefix_length(times.max(), info.motion_z_distance, info.window_length))
    else:  # the content is given: only the windows of the seed's motion are drawn, as the frames reach them
        stream = latents.MotionTokenStream(seed, info.motion_z_dim)
    for start in range(0, len(times), frames_per_request):
        t = times[start:start + frames_per_request]
        if w is None:
            prefix = tokens.prefix_length(t.max(), info.motion_z_distance, info.window_length)
            inputs = {"z": z, "motion_z": motion_z[:, :prefix], "t": t[None]}
        else:
            starts = tokens.window_start(t, info.motion_z_distance)
            inputs = {"w": np.repeat(w, len(t), 0), "t": t,
                      "window": np.stack([stream.window(i, info.window_length) for i in starts])}
        if c is not None:
            inputs["c"] = np.repeat(c, 1 if w is None else len(t), 0)
        yield inputs


def check_inputs(signature_name, signature, arrays):
    """Inputs converted to the signature's dtypes; names, ranks and known sizes checked.

    Args:
        signature_name: the signature's name, for error messages.
        signature: its Signature.
        arrays: {input name: array-like}.

    Returns:
        {input name: NumPy array of the signature's dtype}.

    Raises:
        ServeClientError: missing or unexpected names, wrong rank or size.
    """
    missing, unexpected = set(signature.inputs) - set(arrays), set(arrays) - set(signature.inputs)
    if missing or unexpected:
        raise ServeClientError(f"signature '{signature_name}' takes inputs {', '.join(sorted(signature.inputs))}; "
                               f"missing: {', '.join(sorted(missing)) or 'none'}, unexpected: "
                               f"{', '.join(sorted(unexpected)) or 'none'}.")
    converted = {}
    for key, spec in signature.inputs.items():
        value = np.asarray(arrays[key])
        if spec.shape is not None and (value.ndim != len(spec.shape) or any(
                d is not None and d != n for d, n in zip(spec.shape, value.shape))):
            raise ServeClientError(f"input {key} of signature '{signature_name}' has shape {list(value.shape)}; "
                                   f"the signature says {spec.describe()}.")
        converted[key] = value.astype(spec.numpy_dtype, copy=False)
    return converted


def _check_outputs(signature_name, signature, arrays):
    missing = set(signature.outputs) - set(arrays)
    if missing:
        raise ServeClientError(f"response of signature '{signature_name}' lacks output(s) {', '.join(sorted(missing))} "
                               f"(it has: {', '.join(sorted(arrays)) or 'none'}).")
    checked = {}
    for key, spec in signature.outputs.items():
        value = arrays[key]
        if spec.shape is not None and (value.ndim != len(spec.shape) or any(
                d is not None and d != n for d, n in zip(spec.shape, value.shape))):
            raise ServeClientError(f"output {key} of signature '{signature_name}' has shape {list(value.shape)}; "
                                   f"the signature says {spec.describe()}.")
        checked[key] = value
    return checked


# ---------------------------------------------------------------------------------------------------------
# REST (JSON, columnar "inputs" format).


def split_server(server, protocol):
    """Reads --server.

    Args:
        server: "host", "host:port" or "http://host:port".
        protocol: "rest" or "grpc": the port when `server` has none (`DEFAULT_PORTS`).

    Returns:
        (host, port).
    """
    text = server.strip()
    if "://" in text:
        text = urllib.parse.urlsplit(text).netloc
    text = text.rstrip("/")
    host, sep, port = text.rpartition(":")
    if not sep or "]" in port:
        host, port = text, DEFAULT_PORTS[protocol]
    try:
        port = int(port)
    except ValueError:
        raise ServeClientError(f"--server: cannot read a port from {server!r}.") from None
    if not host:
        raise ServeClientError(f"--server: no host in {server!r}.")
    return host, port


def rest_url(host, port, model, version=None, verb=None):
    """A REST URL of TF Serving.

    Args:
        host, port: the server.
        model: model name.
        version: model version (None: the latest).
        verb: None, "metadata" or "predict".

    Returns:
        `http://HOST:PORT/v1/models/MODEL[/versions/V]`, then `/metadata` or `:predict` for the verb.
    """
    url = f"http://{host}:{port}/v1/models/{urllib.parse.quote(model, safe='')}"
    if version is not None:
        url += f"/versions/{int(version)}"
    if verb == "metadata":
        url += "/metadata"
    elif verb is not None:
        url += f":{verb}"
    return url


def build_rest_body(signature_name, signature, arrays):
    """The JSON body (a dict) of a REST predict request in the columnar "inputs" format.

    Floats are written with Python's shortest round-trip repr of the float32 value, so the server parses
    back exactly the same float32 numbers.

    Args:
        signature_name: the signature to call.
        signature: its Signature.
        arrays: {input name: array-like} (checked by `check_inputs`).

    Returns:
        {"signature_name": ..., "inputs": {name: nested lists}}.
    """
    arrays = check_inputs(signature_name, signature, arrays)
    return {"signature_name": signature_name, "inputs": {key: value.tolist() for key, value in arrays.items()}}


def parse_rest_predict_response(body, signature_name, signature):
    """A REST predict response (dict) -> {output name: NumPy array of the signature's dtype}.

    Columnar responses name their outputs (`{"outputs": {NAME: value}}`), except that TF Serving omits
    the name when the signature has exactly one output (`{"outputs": value}`); both are accepted.

    Args:
        body: the response, parsed JSON.
        signature_name: the signature called.
        signature: its Signature.

    Returns:
        {output name: NumPy array}.

    Raises:
        ServeClientError: an error response, or outputs that do not fit the signature.
    """
    if "error" in body:
        raise ServeClientError(f"server error: {body['error']}")
    if "outputs" not in body:
        raise ServeClientError(f"predict response has no 'outputs' (keys: {', '.join(sorted(body))}).")
    outputs = body["outputs"]
    if not isinstance(outputs, dict):
        if len(signature.outputs) != 1:
            raise ServeClientError(f"predict response has one unnamed output; signature '{signature_name}' has "
                                   f"{len(signature.outputs)}.")
        outputs = {next(iter(signature.outputs)): outputs}
    arrays = {}
    for key, value in outputs.items():
        spec = signature.outputs.get(key)
        try:
            arrays[key] = np.asarray(value, dtype=spec.numpy_dtype if spec else None)
        except (TypeError, ValueError, OverflowError) as error:
            raise ServeClientError(f"output {key} of the predict response is not a {spec.describe()} tensor: "
                                   f"{error}") from None
    return _check_outputs(signature_name, signature, arrays)


def _model_text(model, version):
    return f"model '{model}'" + ("" if version is None else f" version {version}")


class RestClient:
    """TF Serving's REST API: metadata and predict (columnar JSON)."""

    def __init__(self, host, port, model, version=None, timeout=600.0):
        self.host, self.port, self.model, self.version, self.timeout = host, port, model, version, timeout

    @property
    def target(self):
        return f"{_model_text(self.model, self.version)} at http://{self.host}:{self.port}"

    def _call(self, url, body=None, max_bytes=bounded.MAX_JSON_BYTES):
        """The JSON object a GET (or, with `body`, a POST) of `url` answers, read bounded: at most `max_bytes`."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method="GET" if data is None else "POST",
                                         headers={"Content-Type": "application/json"} if data else {})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = response.read(max_bytes + 1)
        except urllib.error.HTTPError as error:
            text = error.read().decode("utf-8", "replace")
            try:
                message = str(json.loads(text).get("error", text))
            except (ValueError, AttributeError):
                message = text
            raise ServeClientError(f"HTTP {error.code} from {url}: {message.strip()}") from None
        except urllib.error.URLError as error:
            reason = error.reason
            if isinstance(reason, ConnectionRefusedError):
                raise ServeClientError(f"cannot connect to http://{self.host}:{self.port}: connection refused "
                                       "(is tensorflow_model_server running with --rest_api_port="
                                       f"{self.port}?)") from None
            raise ServeClientError(f"cannot reach {url}: {reason}") from None
        except (socket.timeout, TimeoutError):
            raise ServeClientError(f"{url}: no answer within {self.timeout:g} s.") from None
        except ConnectionError as error:
            raise ServeClientError(f"{url}: connection failed: {error}") from None
        if len(payload) > max_bytes:
            raise ServeClientError(f"{url} answered more than the {max_bytes:,} bytes its request can need.")
        try:
            answer = bounded.parse_json(payload, url)
        except ValueError as error:
            raise ServeClientError(f"{error} Start of the answer: {payload[:200]!r}") from None
        if not isinstance(answer, dict):
            raise ServeClientError(f"{url} did not answer a JSON object: {payload[:200]!r}")
        return answer

    def metadata(self):
        """(served version, {name: Signature})."""
        return parse_rest_metadata(self._call(rest_url(self.host, self.port, self.model, self.version, "metadata")))

    def predict(self, signature_name, signature, arrays, max_values=None):
        """The outputs of `signature_name` for `arrays`; an answer longer than `max_values` numbers can be (at
        `MAX_JSON_BYTES_PER_VALUE` each) is refused unread (None: `bounded.MAX_JSON_BYTES`)."""
        body = build_rest_body(signature_name, signature, arrays)
        limit = bounded.MAX_JSON_BYTES if max_values is None else MAX_JSON_BYTES_PER_VALUE * max_values + (1 << 20)
        response = self._call(rest_url(self.host, self.port, self.model, self.version, "predict"), body, limit)
        return parse_rest_predict_response(response, signature_name, signature)

    def close(self):
        pass


# ---------------------------------------------------------------------------------------------------------
# gRPC (tensorflow_serving.apis).


def build_metadata_request(model, version=None):
    """GetModelMetadataRequest for the signature defs of a model.

    Args:
        model: model name.
        version: model version (None: the latest).

    Returns:
        The request.
    """
    from tensorflow_serving.apis import get_model_metadata_pb2

    request = get_model_metadata_pb2.GetModelMetadataRequest()
    request.model_spec.name = model
    if version is not None:
        request.model_spec.version.value = int(version)
    request.metadata_field.append("signature_def")
    return request


def parse_metadata_response(response):
    """Reads a GetModelMetadataResponse.

    Args:
        response: the response.

    Returns:
        (served version or None, {signature name: Signature}).
    """
    from google.protobuf import json_format
    from tensorflow_serving.apis import get_model_metadata_pb2

    if "signature_def" not in response.metadata:
        raise ServeClientError("GetModelMetadata response has no signature_def metadata.")
    signature_def_map = get_model_metadata_pb2.SignatureDefMap()
    if not response.metadata["signature_def"].Unpack(signature_def_map):
        raise ServeClientError("GetModelMetadata: signature_def metadata is not a SignatureDefMap.")
    version = response.model_spec.version.value if response.model_spec.HasField("version") else None
    as_json = json_format.MessageToDict(signature_def_map, preserving_proto_field_name=True)
    return version, parse_signature_def_map(as_json)


def build_predict_request(model, version, signature_name, signature, arrays):
    """A PredictRequest: model_spec (name, version), signature_name and inputs as TensorProtos.

    Args:
        model: model name.
        version: model version (None: the latest).
        signature_name: the signature to call.
        signature: its Signature.
        arrays: {input name: array-like} (checked by `check_inputs`).

    Returns:
        The request.
    """
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    arrays = check_inputs(signature_name, signature, arrays)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    if version is not None:
        request.model_spec.version.value = int(version)
    request.model_spec.signature_name = signature_name
    for key, value in arrays.items():
        request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
    return request


def parse_predict_response(response, signature_name, signature):
    """Reads a PredictResponse, checked against the signature.

    Args:
        response: the response.
        signature_name: the signature called.
        signature: its Signature.

    Returns:
        {output name: NumPy array}.
    """
    import tensorflow as tf

    arrays = {}
    for key, proto in response.outputs.items():
        arrays[key] = tf.make_ndarray(proto)
        spec = signature.outputs.get(key)
        if spec is not None and arrays[key].dtype != spec.numpy_dtype:
            raise ServeClientError(f"output {key}: the server sent {arrays[key].dtype}, the signature says "
                                   f"{spec.describe()}.")
    return _check_outputs(signature_name, signature, arrays)


class GrpcClient:
    """TF Serving's gRPC PredictionService: GetModelMetadata and Predict."""

    def __init__(self, host, port, model, version=None, timeout=600.0):
        import grpc
        from tensorflow_serving.apis import prediction_service_pb2_grpc

        self.host, self.port, self.model, self.version, self.timeout = host, port, model, version, timeout
        # Frames easily exceed gRPC's default 4 MB message limit (16 frames of 256x256x3 are 3 MB);
        # tensorflow_model_server itself accepts messages up to 2 GB.
        self._channel = grpc.insecure_channel(f"{host}:{port}", options=[
            ("grpc.max_receive_message_length", GRPC_MAX_RESPONSE_BYTES), ("grpc.max_send_message_length", -1)])
        self._stub = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)

    @property
    def target(self):
        return f"{_model_text(self.model, self.version)} at {self.host}:{self.port} (gRPC)"

    def _call(self, method, request):
        import grpc

        try:
            return method(request, timeout=self.timeout)
        except grpc.RpcError as error:
            code, details = error.code(), (error.details() or "").strip()
            if code == grpc.StatusCode.UNAVAILABLE:
                raise ServeClientError(f"cannot connect to {self.host}:{self.port} over gRPC ({details}; is "
                                       f"tensorflow_model_server running with --port={self.port}?)") from None
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise ServeClientError(f"{self.host}:{self.port}: no answer within {self.timeout:g} s.") from None
            raise ServeClientError(f"gRPC {code.name} from {self.host}:{self.port}: {details}") from None

    def metadata(self):
        return parse_metadata_response(self._call(self._stub.GetModelMetadata,
                                                  build_metadata_request(self.model, self.version)))

    def predict(self, signature_name, signature, arrays, max_values=None):
        """The outputs of `signature_name` for `arrays` (answers are bounded by the channel's limit)."""
        del max_values  # binary tensors: GRPC_MAX_RESPONSE_BYTES bounds every answer
        request = build_predict_request(self.model, self.version, signature_name, signature, arrays)
        return parse_predict_response(self._call(self._stub.Predict, request), signature_name, signature)

    def close(self):
        self._channel.close()


def make_client(protocol, server, model, version=None, timeout=600.0):
    """The client of one protocol (nothing is sent yet).

    Args:
        protocol: "rest" or "grpc".
        server: --server ("host", "host:port" or "http://host:port").
        model: model name.
        version: model version (None: the latest).
        timeout: seconds to wait for each call.

    Returns:
        A RestClient or GrpcClient; `close()` it when done.
    """
    host, port = split_server(server, protocol)
    if protocol == "rest":
        return RestClient(host, port, model, version, timeout)
    if protocol == "grpc":
        return GrpcClient(host, port, model, version, timeout)
    raise ServeClientError(f"unknown protocol {protocol!r} (rest or grpc).")


# ---------------------------------------------------------------------------------------------------------
# Rendering.


FRAME_SIGNATURE = "frame_at_time"


def content_w_size(signatures, model="model"):
    """The w size of the `frame_at_time` signature, which renders a given content (`--latents`).

    Raises:
        ServeClientError: the model has no such signature, or another form of it.
    """
    signature = signatures.get(FRAME_SIGNATURE)
    w = signature and signature.inputs.get("w")
    if (w is None or w.dtype != "DT_FLOAT" or w.shape is None or len(w.shape) != 2 or w.shape[1] is None
            or set(signature.outputs) != {"frame"}):
        raise ServeClientError(f"{model} has no svgan-tf '{FRAME_SIGNATURE}' signature (w, [c,] window, t -> frame), "
                               "which --latents needs.")
    return w.shape[1]


def render_video(client, signatures, info, seed, times, frames_per_request, class_idx=None, w=None):
    """Renders one video through the server (`video_requests`).

    Args:
        client: a RestClient or GrpcClient.
        signatures: {name: Signature} of the served model.
        info: its ModelInfo.
        seed: the video's seed.
        times: the frame times (float32 [n]).
        frames_per_request: frames per request.
        class_idx: class of a conditional model.
        w: a content code [1, w_dim] instead of the seed's (rendered by `frame_at_time`).

    Yields:
        The frames of each request, uint8 [frames, H, W, 3].
    """
    name = SERVING_SIGNATURE if w is None else FRAME_SIGNATURE
    for inputs in video_requests(info, seed, times, frames_per_request, class_idx, w):
        outputs = client.predict(name, signatures[name], inputs, max_values=inputs["t"].size * info.height
                                 * info.width * 3)
        frames = outputs["frames"] if w is None else frame_to_uint8(outputs["frame"])[None]
        if frames.shape[:2] != (1, inputs["t"].size):
            raise ServeClientError(f"the server returned frames of shape {list(frames.shape)} for 1 video of "
                                   f"{inputs['t'].size} frames.")
        yield frames[0]


def output_path(pattern, seed, num_seeds):
    """--out for one seed.

    Args:
        pattern: --out, with a {seed} field (required for several seeds).
        seed: the seed.
        num_seeds: how many seeds are rendered.

    Returns:
        The pattern formatted with the seed.
    """
    if "{seed" not in pattern:
        if num_seeds > 1:
            raise ServeClientError(f"--out {pattern!r} has no {{seed}} field but {num_seeds} seeds are rendered "
                                   "(e.g. --out='videos/seed{seed:04d}.mp4').")
        return pattern
    try:
        return pattern.format(seed=seed)
    except (KeyError, IndexError, ValueError) as error:
        raise ServeClientError(f"--out {pattern!r}: cannot format it with seed={seed}: {error}") from None


@dataclasses.dataclass(frozen=True)
class Options:
    """What to render, and from which server: the flags of `python -m svgan_tf.serve_client`, which says
    what each means."""

    server: str = "localhost"
    protocol: str = "rest"
    model: str = "sky"
    version: int = None
    seeds: str = "0"
    num_frames: int = 16
    fps: float = 25.0
    time_step: float = 1.0
    out: str = "videos/seed{seed:04d}.mp4"
    frames_per_request: int = 8
    class_idx: int = None
    timeout: float = 600.0
    overwrite: bool = False
    latents: str = None


def render_videos(options, log=print):
    """Renders one video per seed through the server.

    Args:
        options: an `Options`.
        log: called with one line of progress per video (and one about the model first).

    Returns:
        The paths written, one per seed.

    Raises:
        ValueError: --seeds is not a list of seeds (`svgan_tf.latents.parse_seeds`).
        ServeClientError: anything else the user can act on (flags, server, model, output).
    """
    seeds = latents.parse_seeds(options.seeds)
    if options.num_frames < 1 or not options.time_step > 0:
        raise ServeClientError(f"need --num_frames >= 1 and --time_step > 0, got {options.num_frames} and "
                               f"{options.time_step}.")
    times = tokens.frame_times(0, options.num_frames, 0.0, options.time_step)
    paths = [output_path(options.out, seed, len(seeds)) for seed in seeds]
    client = make_client(options.protocol, options.server, options.model, options.version, options.timeout)
    try:
        model = f"model '{options.model}'"
        served_version, signatures, info = read_model_info(client, model)
        w = None
        if options.latents is not None:
            try:
                w, _ = latents.read_latents_file(options.latents, content_w_size(signatures, model),
                                                 info.motion_z_dim)
            except (OSError, ValueError) as error:
                raise ServeClientError(f"--latents: {error}") from None
        log(f"{client.target}: serving version {served_version}, z_dim {info.z_dim}, c_dim {info.c_dim}, "
            f"motion_z_dim {info.motion_z_dim}, frames {info.height}x{info.width}; motion tokens every "
            f"{info.motion_z_distance} frames, window {info.window_length} tokens")
        for seed, path in zip(seeds, paths):
            start = time.perf_counter()
            requests = 0
            try:
                with open_writer(path, options.fps, overwrite=options.overwrite) as writer:
                    for frames in render_video(client, signatures, info, seed, times, options.frames_per_request,
                                               options.class_idx, w):
                        writer.write(frames)
                        requests += 1
            except (OSError, ValueError, RuntimeError) as error:  # writer problems (exists, suffix, codec)
                raise ServeClientError(f"{path}: {error}") from None
            log(f"seed {seed}: {len(times)} frames in {requests} requests, {time.perf_counter() - start:.1f} s "
                f"-> {path}")
    finally:
        client.close()
    return paths
