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

Every failure is answered with a JSON ``{"error": …}`` body, the connection is never just
dropped: 411 without a ``Content-Length``, 413 for a body over ``max_request_bytes`` (refused
before it is read), 408 for a body that does not arrive within the request timeout, 503 when
``max_connections`` are open, 400 for anything malformed. Sockets time out after
``rest_timeout`` seconds of silence, and model runs take the same worker slots as gRPC.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import socket
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2, predict_pb2

from keras_t2i.serving.layout import IMAGES_SIGNATURE
from keras_t2i.serving.server import (
    Service,
    _Abort,
    _handle,
    model_metadata,
    model_status,
    predict,
)

log = logging.getLogger("keras_t2i.serve")

DEFAULT_REST_PORT = 8501
_PATH = re.compile(r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>[0-9]+))?"
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
        request.model_spec.version.value = version
    signature_name = body.get("signature_name", "")
    if not isinstance(signature_name, str):
        raise _Abort(grpc.StatusCode.INVALID_ARGUMENT,
                     f'"signature_name" must be a string, got {json.dumps(signature_name)[:80]}.')
    request.model_spec.signature_name = signature_name
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
        except (TypeError, ValueError, OverflowError) as err:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT,
                         f"Cannot read input {key!r}"
                         f"{f' as {dtype.name}' if dtype is not None else ''}: {err}") from None
        request.inputs[key].CopyFrom(proto)
    return request, rows


class _HttpError(Exception):
    """A REST failure that has no gRPC status: the HTTP status and the message."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def _version(text):
    """The URL's version as an int64 (TF Serving's wording when it is not one)."""
    if text is None:
        return None
    value = int(text)
    if value >= 1 << 63:
        raise _Abort(grpc.StatusCode.INVALID_ARGUMENT,
                     f"Failed to convert version: {text} to numeric.")
    return value


class _Handler(BaseHTTPRequestHandler):
    service: Service  # set on the subclass built by build_rest_server
    # Answers always carry a status line and headers, even to a request line with no version
    # (which the base class would answer as HTTP/0.9: a bare body).
    default_request_version = "HTTP/1.0"

    def log_message(self, format, *args):  # noqa: A002  (one line per request comes from _handle)
        pass

    def send_error(self, code, message=None, explain=None):
        """The base class's own errors (bad request line, header too long, unsupported
        method) as JSON too."""
        self.close_connection = True
        try:
            self._request_read()
            self._reply(code, {"error": message or explain or HTTPStatus(code).phrase})
        except OSError:
            pass

    def _reply(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(int(status))
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _error(self, abort: _Abort):
        self._reply(_HTTP.get(abort.code, HTTPStatus.INTERNAL_SERVER_ERROR),
                    {"error": abort.message})

    def setup(self):
        super().setup()
        self._read = False
        self.server.reading(self.connection)

    def _request_read(self):
        """Marks the request as arrived (whole, or as far as it will be read); from then on
        only this handler writes to the connection. Raises if the server's reaper already
        answered it for taking too long."""
        if not self._read:
            self._read = True
            if not self.server.read_done(self.connection):
                raise ConnectionAbortedError("the request took longer than the REST timeout")

    def _guarded(self, handler):
        """Runs a request handler; whatever fails, the client gets a JSON error (unless it
        is gone)."""
        try:
            try:
                match = _PATH.match(self.path.split("?", 1)[0])
                if match is None:
                    raise _HttpError(HTTPStatus.NOT_FOUND,
                                     f"Malformed request: {self.command} {self.path[:200]}")
                handler(match, _version(match["version"]))
            except _Abort as abort:
                self._request_read()
                self._error(abort)
            except _HttpError as err:
                self._request_read()
                self.close_connection = True
                self._reply(err.status, {"error": err.message})
            except OSError:
                raise
            except Exception as err:
                log.exception("Unexpected error in REST %s %s", self.command, self.path[:200])
                self._request_read()
                self.close_connection = True
                self._reply(HTTPStatus.INTERNAL_SERVER_ERROR,
                            {"error": f"{type(err).__name__}: {err}"})
        except OSError:  # the client went away, or was cut off for being too slow
            self.close_connection = True

    def do_GET(self):  # noqa: N802
        self._guarded(self._get)

    def do_POST(self):  # noqa: N802
        self._guarded(self._post)

    def _get(self, match, version):
        self._request_read()
        if match["rest"] == ":predict":
            raise _HttpError(HTTPStatus.METHOD_NOT_ALLOWED, ":predict takes POST")
        if match["rest"] == "/metadata":
            request = get_model_metadata_pb2.GetModelMetadataRequest()
            request.metadata_field.append("signature_def")
            fn, what = model_metadata, "REST GetModelMetadata"
        else:
            request = get_model_status_pb2.GetModelStatusRequest()
            fn, what = model_status, "REST GetModelStatus"
        request.model_spec.name = match["name"]
        if version is not None:
            request.model_spec.version.value = version
        response, abort = _handle(what, fn, self.service, request)
        if abort is not None:
            raise abort
        if fn is model_status:
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

    def _read_body(self) -> bytes:
        """The request body, within the size limit."""
        limit = self.service.limits.max_request_bytes
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            raise _HttpError(HTTPStatus.LENGTH_REQUIRED,
                             "Chunked bodies are not accepted: send a Content-Length.")
        text = self.headers.get("Content-Length")
        if text is None:
            raise _HttpError(HTTPStatus.LENGTH_REQUIRED, "A POST needs a Content-Length.")
        if not re.fullmatch(r"[0-9]{1,19}", text.strip()):
            raise _HttpError(HTTPStatus.BAD_REQUEST, f"Invalid Content-Length: {text[:40]!r}.")
        length = int(text)
        if length > limit:
            raise _HttpError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                             f"The body is {length} bytes; this server takes at most {limit} "
                             "(--max-request-bytes).")
        body = bytearray()  # the server's reaper cuts off a body that arrives too slowly
        while len(body) < length:
            try:
                chunk = self.rfile.read1(min(1 << 16, length - len(body)))
            except TimeoutError:
                raise _HttpError(HTTPStatus.REQUEST_TIMEOUT,
                                 f"The body stopped arriving ({len(body)} of {length} bytes "
                                 f"after {self.timeout:g} s of silence).") from None
            if not chunk:
                raise _HttpError(HTTPStatus.BAD_REQUEST,
                                 f"The body ended after {len(body)} of {length} bytes.")
            body += chunk
        return bytes(body)

    def _post(self, match, version):
        deadline = self.service.deadline()
        if match["rest"] != ":predict":
            raise _HttpError(HTTPStatus.METHOD_NOT_ALLOWED, "POST goes to …:predict")
        body = self._read_body()
        self._request_read()
        try:
            parsed = json.loads(body or b"null")
        except RecursionError:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT,
                         "Invalid JSON body: nested too deeply.") from None
        except ValueError as err:  # JSONDecodeError, or bytes that are not UTF-8
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, f"Invalid JSON body: {err}") from None
        try:
            request, rows = _predict_request(self.service.registry, match["name"], version,
                                             parsed)
        except RecursionError:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT,
                         "An input is nested too deeply.") from None
        response, abort = _handle("REST Predict", predict, self.service, request, deadline)
        if abort is not None:
            raise abort
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


class _RestServer(ThreadingHTTPServer):
    """A thread per connection, at most ``max_connections`` of them (one more is answered
    503 and closed at once), and each must send its whole request within ``rest_timeout``
    seconds: a reaper thread answers 408 and closes those that take longer, so neither
    silent nor slowly dripping connections hold threads."""

    daemon_threads = True

    def __init__(self, address, handler, max_connections, rest_timeout):
        super().__init__(address, handler)
        self._connections = threading.BoundedSemaphore(max_connections)
        self.max_connections = max_connections
        self.rest_timeout = rest_timeout
        self._reading: dict = {}  # connection -> monotonic time its request must be read by
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        threading.Thread(target=self._reap, name="rest-reaper", daemon=True).start()

    def reading(self, connection):
        with self._lock:
            self._reading[connection] = time.monotonic() + self.rest_timeout

    def read_done(self, connection) -> bool:
        """False if the reaper closed the connection already."""
        with self._lock:
            return self._reading.pop(connection, None) is not None

    def _reap(self):
        while not self._stopped.wait(min(0.5, self.rest_timeout / 4)):
            now = time.monotonic()
            with self._lock:
                late = [c for c, until in self._reading.items() if until < now]
                for connection in late:
                    del self._reading[connection]
            for connection in late:
                _send_and_close(connection, HTTPStatus.REQUEST_TIMEOUT,
                                f"The request did not arrive whole within "
                                f"{self.rest_timeout:g} s (--rest-timeout).")

    def process_request(self, request, client_address):
        if not self._connections.acquire(blocking=False):
            _send_and_close(request, HTTPStatus.SERVICE_UNAVAILABLE,
                            f"Too many connections (at most {self.max_connections}): try "
                            "again later.")
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._lock:
                self._reading.pop(request, None)
            self._connections.release()

    def shutdown_request(self, request):
        """Ends the answer (FIN), then reads what the client still sends, briefly, before
        closing: a close with unread input resets the connection, which can destroy the
        answer (a 413, say) before the client reads it."""
        try:
            request.shutdown(socket.SHUT_WR)
            request.settimeout(0.5)
            drained, until = 0, time.monotonic() + 1.0
            while drained < 1 << 20 and time.monotonic() < until:
                chunk = request.recv(1 << 16)
                if not chunk:
                    break
                drained += len(chunk)
        except OSError:
            pass
        self.close_request(request)

    def server_close(self):
        self._stopped.set()
        super().server_close()


def _send_and_close(connection, status, message):
    """Answers a connection no handler is writing to, and shuts it (the handler, if any,
    then reads the end of its input and finishes)."""
    body = json.dumps({"error": message}).encode()
    head = (f"HTTP/1.0 {int(status)} {status.phrase}\r\nContent-Type: application/json\r\n"
            f"Connection: close\r\nContent-Length: {len(body)}\r\n\r\n")
    try:
        connection.settimeout(1.0)
        connection.sendall(head.encode() + body)
    except OSError:
        pass
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def build_rest_server(service: Service, host="127.0.0.1", port=DEFAULT_REST_PORT):
    """A REST server running in a daemon thread, and the port it bound (0 picks one)."""
    # The socket timeout is the backstop of the reaper (which answers 408 at rest_timeout),
    # and bounds how long a reply may wait for a client that does not read it.
    handler = type("RestHandler", (_Handler,), {"service": service,
                                                 "timeout": service.limits.rest_timeout + 5})
    server = _RestServer((host, port), handler, service.limits.max_connections,
                         service.limits.rest_timeout)
    threading.Thread(target=server.serve_forever, name="rest", daemon=True).start()
    return server, server.server_address[1]
