"""``keras-t2i serve``: the gRPC and REST servers over one set of models, until SIGTERM."""

from __future__ import annotations

import logging
import signal
import threading

from keras_t2i.serving.limits import ServingLimits
from keras_t2i.serving.rest import build_rest_server
from keras_t2i.serving.server import DEFAULT_PORT, ModelRegistry, Service, build_server

log = logging.getLogger("keras_t2i.serve")


def serve(models: dict, host="127.0.0.1", port=DEFAULT_PORT, rest_port=8501,
          poll_seconds=1.0, limits: ServingLimits | None = None, grace_seconds=10.0,
          ready=None, batching=None):
    """Serves gRPC on ``port`` and REST on ``rest_port`` (0: no REST) until SIGTERM or SIGINT,
    then finishes the requests in flight (up to ``grace_seconds``) and returns. ``ready`` (a
    callable) gets the bound gRPC port once serving. ``batching`` (BatchingParameters)
    merges concurrent requests into batched runs (``batching.py``)."""
    registry = ModelRegistry(models, poll_seconds)
    service = Service(registry, limits, batching)
    server, bound = build_server(service, host, port)
    rest = None
    if rest_port:
        try:
            rest, rest_bound = build_rest_server(service, host, rest_port)
        except OSError as err:
            server.stop(None)
            raise OSError(f"Cannot bind the REST port {host}:{rest_port} ({err}); choose "
                          "another with --rest-port, or 0 for none.") from None
    registry.start_polling()
    for served in registry.models.values():
        if served.current is None:
            log.warning("No version of %s under %s yet; it will be served once exported.",
                        served.name, served.base_path)
    log.info("Serving %s on %s:%d (gRPC)%s%s", ", ".join(registry.models), host, bound,
             f" and {host}:{rest_bound} (REST)" if rest else "",
             "" if batching is None else f", batching {batching}")
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
        service.stop()
        registry.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("Stopped")
