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

Every request is bounded before any work is done for it (:class:`ServingLimits`): the message
size, the declared shape and element count of each input against the signature and the model's
batch limit, and the bytes and words of each caption are checked on the undecoded protobuf, so
a few-byte request declaring a huge tensor costs nothing. Model runs share ``max_workers``
slots between gRPC and REST; at most ``max_queue`` requests wait for one (more are answered
RESOURCE_EXHAUSTED), and none waits past its deadline (DEADLINE_EXCEEDED).
"""

from __future__ import annotations

import logging
import math
import posixpath
import re
import threading
import time
from concurrent import futures
from contextlib import contextmanager
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

from keras_t2i.serving.batching import Batcher, BatchingParameters
from keras_t2i.serving.batching import RequestError as _Abort
from keras_t2i.serving.layout import IMAGES_SIGNATURE, read_warmup, scan_versions
from keras_t2i.serving.limits import ServingLimits
from keras_t2i.serving.savedmodel import LocalModel, error_message

log = logging.getLogger("keras_t2i.serve")
DEFAULT_PORT = 8500
# Responses can be large (a batch of 256x256 images); requests are captions and seeds.
MAX_SEND_BYTES = 256 << 20
# A version that failed to load (e.g. still being copied in by hand) is tried again this often.
LOAD_RETRY_SECONDS = 30
# The batch limit of an export whose metadata names none (keras_t2i exports always do).
FALLBACK_MAX_BATCH = 64
_WORD = re.compile(r"\w+")


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
        if entry.name in models:
            raise ValueError(f"{path} configures model {entry.name!r} twice; model names must "
                             "be unique.")
        if entry.model_platform not in ("", "tensorflow"):
            raise ValueError(f"Model {entry.name!r} in {path}: platform "
                             f"{entry.model_platform!r} is not served (only 'tensorflow').")
        if not entry.base_path.startswith("/"):
            raise ValueError(f"Model {entry.name!r} in {path}: base_path {entry.base_path!r} "
                             "must be absolute (TF Serving rejects relative ones).")
        models[entry.name] = (_map_base_path(entry, path, base_path_map or {}),
                              _pinned_version(entry, path))
    return models


def _within(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


def _map_base_path(entry, path, base_path_map) -> str:
    """The config's base path, normalised, with the first matching mapped prefix replaced.

    A path that names a mapped folder but leaves it through ``..`` is refused, so a mapping
    keeps every model it rewrites inside its replacement folder.
    """
    base = posixpath.normpath(entry.base_path)
    for prefix, replacement in base_path_map.items():
        prefix = posixpath.normpath(prefix)
        if _within(entry.base_path, prefix) and not _within(base, prefix):
            raise ValueError(f"Model {entry.name!r} in {path}: base_path {entry.base_path!r} "
                             f"leaves the mapped folder {prefix} (through '..').")
        if _within(base, prefix):
            return str(Path(replacement) / base[len(prefix):].lstrip("/"))
    return base


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
    """One model name: its base path and the version being served.

    The served version follows the disk: the highest version directory (or the ``pinned``
    one) that loads, falling back to the next lower one while a newer one fails to load;
    none, and NOT_FOUND for requests, once every version directory is gone. A base path that
    cannot be read at all (missing, permissions) changes nothing, as in TF Serving, which
    guards against storage that is briefly unavailable.
    """

    def __init__(self, name, base_path, pinned=None):
        self.name = name
        self.base_path = Path(base_path)
        self.pinned = pinned
        # (LocalModel, its SignatureDefs) replaced as one object, so a request never pairs a
        # new version with the old one's signatures.
        self.state: tuple[LocalModel, dict] | None = None
        self._failed: dict[Path, float] = {}  # version dir -> time of its last failed load
        self._reported: set[str] = set()  # odd folder entries already logged once

    @property
    def current(self) -> LocalModel | None:
        state = self.state
        return None if state is None else state[0]

    def refresh(self) -> None:
        """Loads the version to serve if it is not the one served (see the class doc)."""
        try:
            if not self.base_path.is_dir():
                raise FileNotFoundError(f"{self.base_path} is not a directory")
            found, ignored, shadowed = scan_versions(self.base_path)
        except OSError as err:
            self._report_once(f"unreadable:{err}", "Cannot read the base path of %s (%s); "
                              "serving what was loaded before, if anything.", self.name, err)
            return
        self._reported = {r for r in self._reported if not r.startswith("unreadable:")}
        for entry in ignored:
            self._report_once(f"ignored:{entry}", "Ignoring %s in the base path of %s: not a "
                              "version directory (TF Serving's rule: an int64 name).",
                              entry, self.name)
        for entry in shadowed:
            self._report_once(f"shadowed:{entry}", "Duplicate version directories under %s: "
                              "%s is ignored (another name gives the same version).",
                              self.base_path, entry)
        if self.pinned is not None:
            found = {v: d for v, d in found.items() if v == self.pinned}
        current = self.current
        for version in sorted(found, reverse=True):
            directory = found[version]
            if current is not None and current.directory == directory:
                return  # the newest version that loads is the one served
            if time.monotonic() - self._failed.get(directory, -math.inf) < LOAD_RETRY_SECONDS:
                continue
            if self._load(version, directory):
                return
        if current is not None:
            self.state = None
            log.warning("Unloaded %s version %d: %s is gone and no other version loads.",
                        self.name, current.version, current.directory)

    def _load(self, version, directory) -> bool:
        try:
            model = LocalModel(directory)
            signature_defs = _signature_defs(model.directory)
            self._warm_up(model, signature_defs)
        except Exception as err:  # a broken export must not take the server down
            log.error("Could not load %s version %d from %s (retrying in %d s; serving the "
                      "newest version that loads meanwhile, if any): %s", self.name, version,
                      directory, LOAD_RETRY_SECONDS, err)
            self._failed[directory] = time.monotonic()
            return False
        self.state = (model, signature_defs)  # one atomic swap
        self._failed.pop(directory, None)
        log.info("Serving %s version %d from %s", self.name, version, model.directory)
        return True

    def _report_once(self, key, message, *args):
        if key not in self._reported:
            self._reported.add(key)
            log.warning(message, *args)

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
        """Refreshes every model; an error in one is logged and never stops the others or
        the polling."""
        for model in self.models.values():
            try:
                model.refresh()
            except Exception:
                log.exception("Version polling of %s failed; trying again in %.1f s",
                              model.name, self.poll_seconds)

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


def _tensor_inputs(signature_def, request, max_batch=None, limits=None):
    """Request tensors checked against the signature as tf tensors.

    Names, dtypes and the declared shapes are checked first, then (with ``limits``) the rows
    against ``max_batch`` and each string's bytes and words, all on the undecoded protobuf:
    only a tensor that passes is materialised.
    """
    expected, sent = set(signature_def.inputs), set(request.inputs)
    if expected != sent:
        raise _Abort(grpc.StatusCode.INVALID_ARGUMENT,
                     f"input size does not match signature: {len(sent)}!={len(expected)} "
                     f"len({{{','.join(sorted(sent))}}}) != len({{{','.join(sorted(expected))}}})."
                     f" Sent extra: {{{','.join(sorted(sent - expected))}}}. Missing but "
                     f"required: {{{','.join(sorted(expected - sent))}}}.")
    for alias, proto in request.inputs.items():
        _check_declared(alias, signature_def.inputs[alias], proto, max_batch, limits)
    inputs = {}
    for alias, proto in request.inputs.items():
        try:
            array = tf.make_ndarray(proto)
        except Exception:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT,
                         f"tensor parsing error: {alias}") from None
        inputs[alias] = tf.constant(array, dtype=signature_def.inputs[alias].dtype)
    return inputs


def _check_declared(alias, info, proto, max_batch, limits):
    """Raises an INVALID_ARGUMENT abort unless the TensorProto fits (nothing is decoded)."""
    def invalid(message):
        return _Abort(grpc.StatusCode.INVALID_ARGUMENT, f"input '{alias}' {message}")

    want = tf.dtypes.as_dtype(info.dtype)
    try:
        got = tf.dtypes.as_dtype(proto.dtype) if proto.dtype else None
    except TypeError:
        raise invalid(f"has an unknown dtype (enum value {proto.dtype}).") from None
    if got != want:
        raise invalid(f"must be {want.name}, got {got.name if got else 'no dtype'}.")
    if proto.tensor_shape.unknown_rank:
        raise invalid("must declare its shape (tensor_shape has unknown_rank).")
    shape = [d.size for d in proto.tensor_shape.dim]
    if not info.tensor_shape.unknown_rank:
        expected = [d.size for d in info.tensor_shape.dim]
        if len(shape) != len(expected):
            raise invalid(f"must have rank {len(expected)}, got shape {shape}.")
        for axis, (size, fixed) in enumerate(zip(shape, expected)):
            if fixed >= 0 and size != fixed:
                raise invalid(f"must have size {fixed} in dimension {axis}, got shape {shape}.")
    if any(size < 0 for size in shape):
        raise invalid(f"declares a negative dimension: shape {shape}.")
    if limits is None:
        return
    rows = shape[0] if shape else 1
    if rows > max_batch:
        raise invalid(f"has {rows} rows, over the batch limit of this model ({max_batch}); "
                      "split the request.")
    # The signature fixes every other dimension (every signature here does), which bounds the
    # elements; where it leaves one free, the elements themselves are held to the batch limit.
    free = info.tensor_shape.unknown_rank or any(d.size < 0 for d in info.tensor_shape.dim[1:])
    if free and math.prod(shape) > max_batch:
        raise invalid(f"declares {math.prod(shape)} elements, over the batch limit of this "
                      f"model ({max_batch}).")
    if want == tf.string:
        for index, value in enumerate(proto.string_val):
            if len(value) > limits.max_caption_bytes:
                raise invalid(f"element {index} is {len(value)} bytes; this server takes at "
                              f"most {limits.max_caption_bytes} (--max-caption-bytes).")
            words = len(_WORD.findall(value.decode("utf-8", "replace")))
            if words > limits.max_caption_words:
                raise invalid(f"element {index} has {words} words; this server takes at most "
                              f"{limits.max_caption_words} (--max-caption-words).")


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


class Admission:
    """``workers`` slots for model runs, shared by gRPC and REST, and at most ``queue``
    requests waiting for one, none past its deadline."""

    def __init__(self, workers: int, queue: int):
        self.workers, self.queue = int(workers), int(queue)
        self._slots = threading.BoundedSemaphore(self.workers)
        self._lock = threading.Lock()
        self._waiting = 0

    @contextmanager
    def slot(self, deadline: float):
        """Holds a slot for the ``with`` body; ``deadline`` is a ``time.monotonic()`` time."""
        if not self._slots.acquire(blocking=False):
            with self._lock:
                if self._waiting >= self.queue:
                    raise _Abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                 f"The server is busy ({self.workers} requests running, "
                                 f"{self._waiting} waiting): try again later.")
                self._waiting += 1
            try:
                acquired = self._slots.acquire(timeout=max(0.0, deadline - time.monotonic()))
            finally:
                with self._lock:
                    self._waiting -= 1
            if not acquired:
                raise _Abort(grpc.StatusCode.DEADLINE_EXCEEDED,
                             "Deadline exceeded while waiting for a free worker.")
        try:
            if time.monotonic() > deadline:
                raise _Abort(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline exceeded.")
            yield
        finally:
            self._slots.release()


class Service:
    """What every request handler shares: the models, the limits and the worker slots.

    Args:
        registry: ModelRegistry.
        limits: ServingLimits. Defaults to ``ServingLimits()``.
        batching: BatchingParameters, or None (the default) to run each request as sent.
            With batching, model runs are the batch threads' (``num_batch_threads`` at once)
            and requests wait in the batcher's queues rather than for a worker slot.
    """

    def __init__(self, registry: ModelRegistry, limits: ServingLimits | None = None,
                 batching: BatchingParameters | None = None):
        self.registry = registry
        self.limits = limits or ServingLimits()
        self.admission = Admission(self.limits.max_workers, self.limits.max_queue)
        self.batcher = None if batching is None else Batcher(batching)

    def stop(self):
        """Runs the batches still queued, then ends the batch threads."""
        if self.batcher is not None:
            self.batcher.stop()

    def deadline(self, client_seconds: float | None = None) -> float:
        """The monotonic time a request must finish by: the server's ``request_timeout`` or
        the client's own deadline (seconds from now), whichever comes first."""
        seconds = self.limits.request_timeout
        if client_seconds is not None:
            seconds = min(seconds, client_seconds)
        return time.monotonic() + seconds


def predict(service: Service, request, deadline: float) -> predict_pb2.PredictResponse:
    """PredictionService.Predict on a PredictRequest (gRPC and REST both end here)."""
    model, signature_defs = service.registry.resolve(request.model_spec)
    name = request.model_spec.signature_name or IMAGES_SIGNATURE
    signature_def = signature_defs.get(name)
    if signature_def is None or name not in model.signatures:
        raise _Abort(grpc.StatusCode.FAILED_PRECONDITION,
                     f'Serving signature key "{name}" not found.')
    max_batch = int(model.metadata.get("max_batch") or FALLBACK_MAX_BATCH)
    inputs = _tensor_inputs(signature_def, request, max_batch, service.limits)
    aliases = _output_aliases(signature_def, request)
    # A request of no rows runs alone, as it would unbatched (the model answers it).
    empty = any(t.shape.rank and t.shape[0] == 0 for t in inputs.values())
    if service.batcher is not None and not empty:
        outputs = _batched(service.batcher, model, name, inputs, aliases, deadline, max_batch)
    else:
        with service.admission.slot(deadline):
            outputs = _run_signature(model, name, inputs)
    response = predict_pb2.PredictResponse()
    response.model_spec.name = request.model_spec.name
    response.model_spec.version.value = model.version
    response.model_spec.signature_name = name
    for alias in aliases:
        response.outputs[alias].CopyFrom(tf.make_tensor_proto(np.asarray(outputs[alias])))
    return response


def _run_signature(model, name, inputs) -> dict:
    try:
        return model.signatures[name](**inputs)
    except tf.errors.OpError as err:
        raise _model_error(err) from None


def _batched(batcher, model, name, inputs, aliases, deadline, max_batch) -> dict:
    """The request's outputs from a batched run (TF Serving's checks on the inputs first)."""
    rows = {alias: int(t.shape[0]) if t.shape.rank else None for alias, t in inputs.items()}
    if None in rows.values():
        raise _Abort(grpc.StatusCode.INVALID_ARGUMENT,
                     "Batching Run() input tensors must have at least one dimension")
    if len(set(rows.values())) > 1:
        raise _Abort(grpc.StatusCode.INVALID_ARGUMENT,
                     "Batching Run() input tensors must have equal 0th-dimension size "
                     f"(got {rows})")
    dtypes = {alias: t.dtype for alias, t in inputs.items()}

    def run(merged):
        outputs = _run_signature(model, name, {alias: tf.constant(value, dtype=dtypes[alias])
                                               for alias, value in merged.items()})
        return {alias: np.asarray(outputs[alias]) for alias in aliases}

    key = (str(model.directory), name, tuple(aliases))
    return batcher.submit(key, run, {alias: t.numpy() for alias, t in inputs.items()},
                          next(iter(rows.values())), deadline, max_rows=max_batch)


def model_metadata(service: Service, request, deadline=None):
    """PredictionService.GetModelMetadata (only ``signature_def``, as TF Serving)."""
    model, signature_defs = service.registry.resolve(request.model_spec)
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


def model_status(service: Service, request, deadline=None):
    """ModelService.GetModelStatus: the served version, AVAILABLE."""
    model, _ = service.registry.resolve(request.model_spec)
    response = get_model_status_pb2.GetModelStatusResponse()
    status = response.model_version_status.add()
    status.version = model.version
    status.state = get_model_status_pb2.ModelVersionStatus.AVAILABLE
    return response


def _handle(what, fn, service: Service, request, deadline=None):
    """Runs one request; returns (response, None) or (None, _Abort), logging one line."""
    start = time.perf_counter()
    response, abort = None, None
    try:
        response = fn(service, request, service.deadline() if deadline is None else deadline)
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
        deadline = self.service.deadline(context.time_remaining())
        response, abort = _handle(what, fn, self.service, request, deadline)
        if abort is not None:
            context.abort(abort.code, abort.message)
        return response

    method.__name__ = what
    return method


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Predict and GetModelMetadata; Classify, Regress and MultiInference stay UNIMPLEMENTED."""

    def __init__(self, service: Service):
        self.service = service

    Predict = _grpc_method("Predict", predict)
    GetModelMetadata = _grpc_method("GetModelMetadata", model_metadata)


class ModelServicer(model_service_pb2_grpc.ModelServiceServicer):
    """GetModelStatus; HandleReloadConfigRequest stays UNIMPLEMENTED (versions are polled)."""

    def __init__(self, service: Service):
        self.service = service

    GetModelStatus = _grpc_method("GetModelStatus", model_status)


def build_server(service: Service, host="127.0.0.1", port=DEFAULT_PORT):
    """A started gRPC server and the port it bound (``port=0`` picks a free one).

    Its threads are the service's workers plus its queue, and gRPC itself answers
    RESOURCE_EXHAUSTED beyond that many calls at once or for a message over
    ``max_request_bytes``.
    """
    limits = service.limits
    threads = limits.max_workers + limits.max_queue
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="predict"),
        maximum_concurrent_rpcs=threads,
        options=[("grpc.max_send_message_length", MAX_SEND_BYTES),
                 ("grpc.max_receive_message_length", limits.max_request_bytes)])
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        PredictionServicer(service), server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelServicer(service), server)
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"Cannot bind {host}:{port} (in use, or not an address of this machine).")
    server.start()
    return server, bound
