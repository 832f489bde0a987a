"""What one request may ask of ``keras-t2i serve`` (no TensorFlow import: the CLI reads the
defaults from here)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class ServingLimits:
    """What one request may ask of the server (``keras-t2i serve`` flags of the same names).

    Args:
        max_workers: int. Model runs at once, gRPC and REST together. Defaults to 8.
        max_queue: int. Requests waiting for a free worker; one more is answered
            RESOURCE_EXHAUSTED (REST 429). Defaults to 32.
        request_timeout: float. Seconds a request may wait and run, or less when the client's
            deadline is sooner; past it, DEADLINE_EXCEEDED (REST 504). A model run that has
            started is not interrupted (its inputs are bounded). Defaults to 30.
        max_request_bytes: int. Size of a gRPC message or REST body; larger ones are
            RESOURCE_EXHAUSTED (gRPC's own check) or 413. Defaults to 4 MiB.
        max_caption_bytes: int. UTF-8 bytes of one caption. Defaults to 1024.
        max_caption_words: int. Words of one caption (the model reads at most its
            ``max_words`` of them). Defaults to 128.
        rest_timeout: float. Seconds a REST client has to send its whole request, headers
            and body; a slower or silent connection is answered 408 and closed. Defaults
            to 10.
        max_connections: int. Open REST connections; one more is answered 503 and closed.
            Defaults to 256.
    """

    max_workers: int = 8
    max_queue: int = 32
    request_timeout: float = 30.0
    max_request_bytes: int = 4 << 20
    max_caption_bytes: int = 1024
    max_caption_words: int = 128
    rest_timeout: float = 10.0
    max_connections: int = 256

    def __post_init__(self):
        for field in ("max_workers", "max_request_bytes", "max_caption_bytes",
                      "max_caption_words", "max_connections"):
            if getattr(self, field) < 1:
                raise ValueError(f"{field} must be at least 1, got {getattr(self, field)}")
        if self.max_queue < 0:
            raise ValueError(f"max_queue must be at least 0, got {self.max_queue}")
        for field in ("request_timeout", "rest_timeout"):
            if not getattr(self, field) > 0:
                raise ValueError(f"{field} must be positive, got {getattr(self, field)}")
