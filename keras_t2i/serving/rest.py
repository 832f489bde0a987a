"""TF Serving's REST API on top of the gRPC handlers of ``server.py`` (api_rest.md):

- ``GET  /v1/models/NAME[/versions/V]``            model status
- ``GET  /v1/models/NAME[/versions/V]/metadata``   signature definitions
- ``POST /v1/models/NAME[/versions/V]:predict``    ``{"signature_name": …, "inputs": {…}}``
  (columnar, answered with ``"outputs"``) or ``{"instances": [{…}, …]}`` (rows, answered with
  ``"predictions"``)

A request is turned into the same protobuf the gRPC API takes and runs through the same code,
so validation and messages are identical. Errors come back as ``{"error": message}`` with TF
Serving's HTTP status for the gRPC code. Binary strings are ``{"b64": …}`` both ways; as an
extension, an output string that is not UTF-8 (the PNG files of ``generate_png``) is returned
base64-encoded that way too, where TF Serving would only do so for outputs named ``*_bytes``.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2, predict_pb2

from keras_t2i.export import IMAGES_SIGNATURE
from keras_t2i.serving.server import (
    ModelRegistry,
    _Abort,
    _handle,
    model_metadata,
    model_status,
    predict,
)

DEFAULT_REST_PORT = 8501
_PATH = re.compile(r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+))?"
                   r"(?P<rest>/metadata|:predict)?$")
# TF Serving's mapping of gRPC codes to HTTP statuses (util/net_http/.../status_util).
_HTTP = {
    grpc.StatusCode.INVALID_ARGUMENT: HTTPStatus.BAD_REQUEST,
    grpc.StatusCode.FAILED_PRECONDITION: HTTPStatus.BAD_REQUEST,
    grpc.StatusCode.OUT_OF_RANGE: HTTPStatus.BAD_REQUEST,
    grpc.StatusCode.NOT_FOUND: HTTPStatus.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS: HTTPStatus.CONFLICT,
    grpc.StatusCode.PERMISSION_DENIED: HTTPStatus.FORBIDDEN,
    grpc.StatusCode.UNAUTHENTICATED: HTTPStatus.UNAUTHORIZED,
    grpc.StatusCode.RESOURCE_EXHAUSTED: HTTPStatus.TOO_MANY_REQUESTS,
    grpc.StatusCode.UNIMPLEMENTED: HTTPStatus.NOT_IMPLEMENTED,
    grpc.StatusCode.UNAVAILABLE: HTTPStatus.SERVICE_UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED: HTTPStatus.GATEWAY_TIMEOUT,
}


def _decode(value):
    """JSON values to numpy-friendly ones: ``{"b64": …}`` becomes bytes."""
    if isinstance(value, dict):
        if set(value) != {"b64"}:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT,
                         f"objects in inputs must be {{\"b64\": …}}, got keys {sorted(value)}")
        return base64.b64decode(value["b64"])
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _encode(array: np.ndarray):
    if array.dtype == object:
        def text(item):
            try:
                return item.decode("utf-8")
            except UnicodeDecodeError:
                return {"b64": base64.b64encode(item).decode("ascii")}

        return np.vectorize(text, otypes=[object])(array).tolist() if array.size else []
    return array.tolist()


def _predict_request(registry, name, version, body):
    """The PredictRequest of a REST body, and whether it used the row ("instances") form.

    JSON values become tensors of the dtypes the signature declares, as TF Serving does.
    """
    if not isinstance(body, dict):
        raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "The request body must be a JSON object.")
    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    if version is not None:
        request.model_spec.version.value = int(version)
    request.model_spec.signature_name = body.get("signature_name", "")
    if ("inputs" in body) == ("instances" in body):
        raise _Abort(grpc.StatusCode.INVALID_ARGUMENT,
                     'Give exactly one of "inputs" (columnar) or "instances" (rows).')
    rows = "instances" in body
    if rows:
        instances = body["instances"]
        if not isinstance(instances, list) or not all(isinstance(i, dict) for i in instances):
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT,
                         '"instances" must be a list of objects, one per row, e.g. '
                         '[{"captions": "a red circle", "seeds": 0}].')
        keys = dict.fromkeys(k for i in instances for k in i)  # in first-seen order
        columns = {k: [i.get(k) for i in instances] for k in keys}
    else:
        columns = body["inputs"]
        if not isinstance(columns, dict):
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, '"inputs" must be an object.')
    _, signature_defs = registry.resolve(request.model_spec)
    signature = signature_defs.get(request.model_spec.signature_name or IMAGES_SIGNATURE)
    for key, values in columns.items():
        info = signature.inputs.get(key) if signature is not None else None
        dtype = tf.dtypes.as_dtype(info.dtype) if info is not None else None
        try:
            proto = tf.make_tensor_proto(_decode(values), dtype=dtype)
        except (TypeError, ValueError) as err:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT,
                         f"Cannot read input {key!r}"
                         f"{f' as {dtype.name}' if dtype is not None else ''}: {err}") from None
        request.inputs[key].CopyFrom(proto)
    return request, rows


class _Handler(BaseHTTPRequestHandler):
    registry: ModelRegistry  # set on the subclass built by build_rest_server

    def log_message(self, format, *args):  # noqa: A002  (one line per request comes from _handle)
        pass

    def _reply(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(int(status))
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, abort: _Abort):
        self._reply(_HTTP.get(abort.code, HTTPStatus.INTERNAL_SERVER_ERROR),
                    {"error": abort.message})

    def _route(self):
        match = _PATH.match(self.path.split("?", 1)[0])
        if match is None:
            self._reply(HTTPStatus.NOT_FOUND, {"error": f"Malformed request: {self.command} "
                                                        f"{self.path}"})
            return None
        return match

    def do_GET(self):  # noqa: N802
        match = self._route()
        if match is None:
            return
        if match["rest"] == ":predict":
            self._reply(HTTPStatus.METHOD_NOT_ALLOWED, {"error": ":predict takes POST"})
            return
        if match["rest"] == "/metadata":
            request = get_model_metadata_pb2.GetModelMetadataRequest()
            request.metadata_field.append("signature_def")
            fn, what = model_metadata, "REST GetModelMetadata"
        else:
            request = get_model_status_pb2.GetModelStatusRequest()
            fn, what = model_status, "REST GetModelStatus"
        request.model_spec.name = match["name"]
        if match["version"] is not None:
            request.model_spec.version.value = int(match["version"])
        response, abort = _handle(what, fn, self.registry, request)
        if abort is not None:
            self._error(abort)
        elif fn is model_status:
            self._reply(HTTPStatus.OK, {"model_version_status": [
                {"version": str(s.version),
                 "state": get_model_status_pb2.ModelVersionStatus.State.Name(s.state),
                 "status": {"error_code": "OK", "error_message": ""}}
                for s in response.model_version_status]})
        else:
            signature_map = get_model_metadata_pb2.SignatureDefMap()
            response.metadata["signature_def"].Unpack(signature_map)
            self._reply(HTTPStatus.OK, {
                "model_spec": {"name": response.model_spec.name, "signature_name": "",
                               "version": str(response.model_spec.version.value)},
                "metadata": {"signature_def": json_format.MessageToDict(signature_map)}})

    def do_POST(self):  # noqa: N802
        match = self._route()
        if match is None:
            return
        if match["rest"] != ":predict":
            self._reply(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "POST goes to …:predict"})
            return
        try:
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"null")
            request, rows = _predict_request(self.registry, match["name"],
                                             match["version"], body)
        except json.JSONDecodeError as err:
            self._error(_Abort(grpc.StatusCode.INVALID_ARGUMENT, f"Invalid JSON body: {err}"))
            return
        except _Abort as abort:
            self._error(abort)
            return
        response, abort = _handle("REST Predict", predict, self.registry, request)
        if abort is not None:
            self._error(abort)
            return
        outputs = {k: _encode(tf.make_ndarray(v)) for k, v in response.outputs.items()}
        if rows:
            count = len(next(iter(outputs.values())))
            predictions = ([next(iter(outputs.values()))[i] for i in range(count)]
                           if len(outputs) == 1
                           else [{k: v[i] for k, v in outputs.items()} for i in range(count)])
            self._reply(HTTPStatus.OK, {"predictions": predictions})
        else:
            self._reply(HTTPStatus.OK, {"outputs": next(iter(outputs.values()))
                                        if len(outputs) == 1 else outputs})


def build_rest_server(registry: ModelRegistry, host="127.0.0.1", port=DEFAULT_REST_PORT):
    """A REST server running in a daemon thread, and the port it bound (0 picks one)."""
    handler = type("RestHandler", (_Handler,), {"registry": registry})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="rest", daemon=True).start()
    return server, server.server_address[1]
