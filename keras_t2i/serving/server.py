"""``keras-t2i serve``: a PredictionService / ModelService server for machines without TF
Serving.

It implements ``PredictionService.Predict``, ``PredictionService.GetModelMetadata`` and
``ModelService.GetModelStatus`` on the servicer classes generated in
``tensorflow_serving.apis``, with TF Serving's request semantics and status codes (read from
its ``predict_util.cc`` and ``get_model_metadata_impl.cc``): NOT_FOUND for an unknown model or
version, FAILED_PRECONDITION for an unknown signature, INVALID_ARGUMENT for bad inputs (with the
model's own message for captions it rejects), UNIMPLEMENTED for the other RPCs. Like TF
Serving's default policy it serves the highest version under each base path and loads a newly
exported one without a restart (the old one answers until the new one is ready). The REST
API (``rest.py``) runs the same request handlers.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from concurrent import futures
from pathlib import Path

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import text_format
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)
from tensorflow_serving.config import model_server_config_pb2

from keras_t2i.export import IMAGES_SIGNATURE, read_warmup, versions
from keras_t2i.serving.savedmodel import LocalModel, error_message

log = logging.getLogger("keras_t2i.serve")
DEFAULT_PORT = 8500
MAX_MESSAGE_BYTES = 256 << 20
# A version that failed to load (e.g. still being copied in by hand) is tried again this often.
LOAD_RETRY_SECONDS = 30


class _Abort(Exception):
    """A request error: the gRPC status code and the message sent back."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def parse_model_config(path, base_path_map=None) -> dict[str, tuple[str, int | None]]:
    """``{name: (base_path, pinned version or None)}`` of a TF Serving ``models.config``
    (ModelServerConfig text proto).

    Base paths must be absolute, as TF Serving requires. ``base_path_map`` (``{prefix:
    replacement}``) rewrites their start, so the production config written for the container
    (``/models/savedmodels/...``) also serves from a checkout (``{"/models": "."}``).
    """
    path = Path(path)
    config = model_server_config_pb2.ModelServerConfig()
    try:
        text_format.Parse(path.read_text(), config)
    except text_format.ParseError as err:
        raise ValueError(f"{path} is not a valid TF Serving model config: {err}") from None
    if not config.model_config_list.config:
        raise ValueError(f"{path} lists no models (model_config_list {{ config {{ ... }} }}).")
    models = {}
    for entry in config.model_config_list.config:
        if entry.model_platform not in ("", "tensorflow"):
            raise ValueError(f"Model {entry.name!r} in {path}: platform "
                             f"{entry.model_platform!r} is not served (only 'tensorflow').")
        if not entry.base_path.startswith("/"):
            raise ValueError(f"Model {entry.name!r} in {path}: base_path {entry.base_path!r} "
                             "must be absolute (TF Serving rejects relative ones).")
        base = entry.base_path
        for prefix, replacement in (base_path_map or {}).items():
            prefix = prefix.rstrip("/")
            if base == prefix or base.startswith(prefix + "/"):
                base = str(Path(replacement) / base[len(prefix):].lstrip("/"))
                break
        models[entry.name] = (base, _pinned_version(entry, path))
    return models


def _pinned_version(entry, path):
    """The one version a ``specific`` policy pins, None for the default (latest) policy."""
    policy = entry.model_version_policy
    kind = policy.WhichOneof("policy_choice")
    if kind is None or (kind == "latest" and policy.latest.num_versions <= 1):
        return None
    if kind == "specific" and len(policy.specific.versions) == 1:
        return int(policy.specific.versions[0])
    raise ValueError(f"Model {entry.name!r} in {path}: keras-t2i serve serves one version per "
                     f"model (the latest, or one pinned with specific {{ versions: N }}); "
                     f"this model_version_policy asks for more ({kind}).")


class ServedModel:
    """One model name: its base path and the version being served (the highest one, or the
    ``pinned`` one once it exists)."""

    def __init__(self, name, base_path, pinned=None):
        self.name = name
        self.base_path = Path(base_path)
        self.pinned = pinned
        # (LocalModel, its SignatureDefs) replaced as one object, so a request never pairs a
        # new version with the old one's signatures.
        self.state: tuple[LocalModel, dict] | None = None
        self._failed: dict[int, float] = {}  # version -> time of its last failed load

    @property
    def current(self) -> LocalModel | None:
        state = self.state
        return None if state is None else state[0]

    def refresh(self) -> None:
        """Loads the version to serve if it is not the one served."""
        found = versions(self.base_path)
        if self.pinned is not None:
            found = [v for v in found if v == self.pinned]
        if not found:
            return
        latest = found[-1]
        if self.current is not None and self.current.version == latest:
            return
        if time.monotonic() - self._failed.get(latest, -LOAD_RETRY_SECONDS) < LOAD_RETRY_SECONDS:
            return
        try:
            model = LocalModel(self.base_path, latest)
            signature_defs = _signature_defs(model.directory)
            self._warm_up(model, signature_defs)
        except Exception as err:  # a broken export must not take the server down
            log.error("Could not load %s version %d from %s (retrying in %d s; still "
                      "serving the previous version if any): %s", self.name, latest,
                      self.base_path, LOAD_RETRY_SECONDS, err)
            self._failed[latest] = time.monotonic()
            return
        self.state = (model, signature_defs)  # one atomic swap
        log.info("Serving %s version %d from %s", self.name, latest, model.directory)


    def _warm_up(self, model, signature_defs):
        """Replays the version's warm-up requests (as TF Serving does) before serving it."""
        requests = read_warmup(model.directory)
        for request in requests:
            name = request.model_spec.signature_name or IMAGES_SIGNATURE
            if name not in signature_defs:
                raise ValueError(f"warm-up request for unknown signature {name!r}")
            model.signatures[name](**_tensor_inputs(signature_defs[name], request))
        if requests:
            log.info("Warmed up %s version %d with %d request(s)", self.name, model.version,
                     len(requests))


def _signature_defs(directory) -> dict:
    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString((Path(directory) / "saved_model.pb").read_bytes())
    return dict(saved.meta_graphs[0].signature_def)


class ModelRegistry:
    """The served models, refreshed from disk every ``poll_seconds`` by a daemon thread."""

    def __init__(self, models: dict, poll_seconds: float = 1.0):
        """``models``: ``{name: base_path}`` or ``{name: (base_path, pinned version)}``."""
        if not models:
            raise ValueError("No model to serve: give a base path or a model config.")
        self.models = {}
        for name, value in models.items():
            base, pinned = value if isinstance(value, tuple) else (value, None)
            self.models[name] = ServedModel(name, base, pinned)
        self.poll_seconds = float(poll_seconds)
        self._stop = threading.Event()
        self._thread = None
        self.refresh()

    def refresh(self):
        for model in self.models.values():
            model.refresh()

    def start_polling(self):
        def loop():
            while not self._stop.wait(self.poll_seconds):
                self.refresh()

        self._thread = threading.Thread(target=loop, name="version-poll", daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def resolve(self, spec) -> tuple[LocalModel, dict]:
        """The loaded version a ModelSpec asks for and its SignatureDefs, or an abort as TF
        Serving words it."""
        served = self.models.get(spec.name)
        which = (f"Specific({spec.name}, {spec.version.value})" if spec.HasField("version")
                 else f"Latest({spec.name})")
        if spec.WhichOneof("version_choice") == "version_label":
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT,
                         f"Unrecognized servable version label: {spec.version_label}")
        state = None if served is None else served.state
        if state is None or (spec.HasField("version") and spec.version.value != state[0].version):
            raise _Abort(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: {which}")
        return state


def _tensor_inputs(signature_def, request):
    """Request tensors checked against the signature (names, dtypes, ranks) as tf tensors."""
    expected, sent = set(signature_def.inputs), set(request.inputs)
    if expected != sent:
        raise _Abort(grpc.StatusCode.INVALID_ARGUMENT,
                     f"input size does not match signature: {len(sent)}!={len(expected)} "
                     f"len({{{','.join(sorted(sent))}}}) != len({{{','.join(sorted(expected))}}})."
                     f" Sent extra: {{{','.join(sorted(sent - expected))}}}. Missing but "
                     f"required: {{{','.join(sorted(expected - sent))}}}.")
    inputs = {}
    for alias, proto in request.inputs.items():
        info = signature_def.inputs[alias]
        want = tf.dtypes.as_dtype(info.dtype)
        got = tf.dtypes.as_dtype(proto.dtype) if proto.dtype else None
        if got != want:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT,
                         f"input '{alias}' must be {want.name}, got "
                         f"{got.name if got else 'no dtype'}.")
        try:
            array = tf.make_ndarray(proto)
        except Exception:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT,
                         f"tensor parsing error: {alias}") from None
        rank = len(info.tensor_shape.dim)
        if not info.tensor_shape.unknown_rank and array.ndim != rank:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT,
                         f"input '{alias}' must have rank {rank}, got shape {list(array.shape)}.")
        inputs[alias] = tf.constant(array, dtype=want)
    return inputs


def _output_aliases(signature_def, request):
    if not request.output_filter:
        return list(signature_def.outputs)
    seen = []
    for alias in request.output_filter:
        if alias not in signature_def.outputs:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT,
                         f"output tensor alias not found in signature: {alias} Outputs expected "
                         f"to be in the set {{{','.join(sorted(signature_def.outputs))}}}.")
        if alias in seen:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT,
                         f"duplicate output tensor alias: {alias}")
        seen.append(alias)
    return seen


def _model_error(err: tf.errors.OpError) -> _Abort:
    """A TensorFlow error of the model run as a gRPC status (TF codes are gRPC codes)."""
    code = {c.value[0]: c for c in grpc.StatusCode}.get(err.error_code, grpc.StatusCode.INTERNAL)
    return _Abort(code, error_message(err))


def predict(registry: ModelRegistry, request) -> predict_pb2.PredictResponse:
    """PredictionService.Predict on a PredictRequest (gRPC and REST both end here)."""
    model, signature_defs = registry.resolve(request.model_spec)
    name = request.model_spec.signature_name or IMAGES_SIGNATURE
    signature_def = signature_defs.get(name)
    if signature_def is None or name not in model.signatures:
        raise _Abort(grpc.StatusCode.FAILED_PRECONDITION,
                     f'Serving signature key "{name}" not found.')
    inputs = _tensor_inputs(signature_def, request)
    aliases = _output_aliases(signature_def, request)
    try:
        outputs = model.signatures[name](**inputs)
    except tf.errors.OpError as err:
        raise _model_error(err) from None
    response = predict_pb2.PredictResponse()
    response.model_spec.name = request.model_spec.name
    response.model_spec.version.value = model.version
    response.model_spec.signature_name = name
    for alias in aliases:
        response.outputs[alias].CopyFrom(tf.make_tensor_proto(np.asarray(outputs[alias])))
    return response


def model_metadata(registry: ModelRegistry, request):
    """PredictionService.GetModelMetadata (only ``signature_def``, as TF Serving)."""
    model, signature_defs = registry.resolve(request.model_spec)
    if not request.metadata_field:
        raise _Abort(grpc.StatusCode.INVALID_ARGUMENT,
                     "GetModelMetadataRequest must specify at least one metadata_field")
    for field in request.metadata_field:
        if field != "signature_def":
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT,
                         f"Metadata field {field} is not supported")
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    for key, value in signature_defs.items():
        signature_map.signature_def[key].CopyFrom(value)
    response = get_model_metadata_pb2.GetModelMetadataResponse()
    response.model_spec.name = request.model_spec.name
    response.model_spec.version.value = model.version
    response.metadata["signature_def"].Pack(signature_map)
    return response


def model_status(registry: ModelRegistry, request):
    """ModelService.GetModelStatus: the served version, AVAILABLE."""
    model, _ = registry.resolve(request.model_spec)
    response = get_model_status_pb2.GetModelStatusResponse()
    status = response.model_version_status.add()
    status.version = model.version
    status.state = get_model_status_pb2.ModelVersionStatus.AVAILABLE
    return response


def _handle(what, fn, registry, request):
    """Runs one request; returns (response, None) or (None, _Abort), logging one line."""
    start = time.perf_counter()
    response, abort = None, None
    try:
        response = fn(registry, request)
    except _Abort as err:
        abort = err
    except Exception as err:  # never let one request take the server down
        log.exception("Unexpected error in %s", what)
        abort = _Abort(grpc.StatusCode.INTERNAL, f"{type(err).__name__}: {err}")
    spec = request.model_spec
    log.info("%s model=%s signature=%s %s %.1f ms%s", what, spec.name,
             getattr(spec, "signature_name", "") or "-", abort.code.name if abort else "OK",
             1000 * (time.perf_counter() - start), f" ({abort.message})" if abort else "")
    return response, abort


def _grpc_method(what, fn):
    def method(self, request, context):
        response, abort = _handle(what, fn, self.registry, request)
        if abort is not None:
            context.abort(abort.code, abort.message)
        return response

    method.__name__ = what
    return method


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Predict and GetModelMetadata; Classify, Regress and MultiInference stay UNIMPLEMENTED."""

    def __init__(self, registry: ModelRegistry):
        self.registry = registry

    Predict = _grpc_method("Predict", predict)
    GetModelMetadata = _grpc_method("GetModelMetadata", model_metadata)


class ModelServicer(model_service_pb2_grpc.ModelServiceServicer):
    """GetModelStatus; HandleReloadConfigRequest stays UNIMPLEMENTED (versions are polled)."""

    def __init__(self, registry: ModelRegistry):
        self.registry = registry

    GetModelStatus = _grpc_method("GetModelStatus", model_status)


def build_server(registry: ModelRegistry, host="127.0.0.1", port=DEFAULT_PORT,
                 max_workers=8):
    """A started gRPC server and the port it bound (``port=0`` picks a free one)."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="predict"),
        options=[("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                 ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)])
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        PredictionServicer(registry), server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelServicer(registry), server)
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"Cannot bind {host}:{port} (in use, or not an address of this machine).")
    server.start()
    return server, bound


def serve(models: dict, host="127.0.0.1", port=DEFAULT_PORT, rest_port=8501,
          poll_seconds=1.0, max_workers=8, grace_seconds=10.0, ready=None):
    """Serves gRPC on ``port`` and REST on ``rest_port`` (0: no REST) until SIGTERM or SIGINT,
    then finishes the requests in flight (up to ``grace_seconds``) and returns. ``ready`` (a
    callable) gets the bound gRPC port once serving."""
    from keras_t2i.serving.rest import build_rest_server

    registry = ModelRegistry(models, poll_seconds)
    server, bound = build_server(registry, host, port, max_workers)
    rest = None
    if rest_port:
        try:
            rest, rest_bound = build_rest_server(registry, host, rest_port)
        except OSError as err:
            server.stop(None)
            raise OSError(f"Cannot bind the REST port {host}:{rest_port} ({err}); choose "
                          "another with --rest-port, or 0 for none.") from None
    registry.start_polling()
    for served in registry.models.values():
        if served.current is None:
            log.warning("No version of %s under %s yet; it will be served once exported.",
                        served.name, served.base_path)
    log.info("Serving %s on %s:%d (gRPC)%s", ", ".join(registry.models), host, bound,
             f" and {host}:{rest_bound} (REST)" if rest else "")
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        if ready is not None:
            ready(bound)
        stop.wait()
        log.info("Shutting down: finishing requests in flight")
        if rest is not None:
            rest.shutdown()
        server.stop(grace_seconds).wait()
    finally:
        registry.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("Stopped")
