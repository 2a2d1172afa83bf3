"""Observability for the HTTP app: Prometheus metrics at `GET /metrics`, request ids, JSON logs.

One call wires it all (`install_observability(app)` in `create_app`); the lifespan then feeds the
model and collection facts it owns:

    obs = install_observability(app)
    ...                                  # in the lifespan, once the models and indexes exist
    obs.set_model_info(model_id=pipeline.model_id, embedding_dim=pipeline.embedding_dim, ...)
    obs.set_face_counts(lambda: {cid: len(index) for cid, index in registry.items()})

Stage timings come from `app.stage_timing.stage_timer` wherever the work happens; this module
opens a recorder per request and turns the records into histograms and a `Server-Timing` header.

Every app gets its own `CollectorRegistry`, so tests and several apps in one process never share
counters. With several uvicorn workers each worker answers `/metrics` for itself: scale with one
worker per container (docs/deploy.md) to keep series exact.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from typing import Any, TextIO

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.access import Public
from app.services.errors import Unauthorized
from app.stage_timing import recording

REQUEST_ID_HEADER = "X-Request-ID"
# A caller's id is echoed only when it is short and plain, so it can't inject into logs/headers.
_ACCEPTABLE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
UNMATCHED_ROUTE = "<unmatched>"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

_request_id: ContextVar[str | None] = ContextVar("facematch_request_id", default=None)
access_log = logging.getLogger("facematch.access")
log = logging.getLogger(__name__)

FaceCountSource = Callable[[], Mapping[str, int]]


def current_request_id() -> str | None:
    """The id of the request being served in this context (Rekognition's RequestId)."""
    return _request_id.get()


class _FaceCountCollector(Collector):
    """Reads faces per collection at scrape time from whatever the lifespan registered."""

    def __init__(self) -> None:
        self.source: FaceCountSource | None = None

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(
            "facematch_collection_faces",
            "Face templates searchable in each collection's index.",
            labels=["collection_id"],
        )
        if self.source is not None:
            try:
                counts = dict(self.source())
            except Exception:  # a scrape must never fail because the index is mid-rebuild
                log.exception("face count source failed")
                counts = {}
            for collection_id, count in sorted(counts.items()):
                family.add_metric([str(collection_id)], float(count))
        yield family


class Observability:
    """The metrics of one app, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "facematch_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "facematch_http_request_duration_seconds",
            "Time from request start to the end of the response body.",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_progress = Gauge(
            "facematch_http_requests_in_progress",
            "Requests being served now.",
            ["method"],
            registry=self.registry,
        )
        self.stages = Histogram(
            "facematch_stage_duration_seconds",
            "Time spent per pipeline stage (decode, detect, align, embed, search) per request.",
            ["stage", "route"],
            buckets=STAGE_BUCKETS,
            registry=self.registry,
        )
        self.model = Info(
            "facematch_model", "The face model this process serves.", registry=self.registry
        )
        self._faces = _FaceCountCollector()
        self.registry.register(self._faces)

    def set_model_info(self, **labels: object) -> None:
        """e.g. model_id, embedding_dim, default_threshold; values are shown as strings."""
        self.model.info({key: str(value) for key, value in labels.items()})

    def set_face_counts(self, source: FaceCountSource | None) -> None:
        """A cheap callable returning {collection_id: faces}; called on every scrape."""
        self._faces.source = source

    def render(self, accept: str = "") -> tuple[bytes, str]:
        """The exposition body and its content type, negotiated from the scraper's Accept header
        (plain text 0.0.4 when it sends none; OpenMetrics when asked)."""
        encoder, content_type = choose_encoder(accept)
        return encoder(self.registry), content_type


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED_ROUTE


def _server_timing(totals: Mapping[str, float]) -> bytes:
    parts = (f"{stage};dur={seconds * 1000:.1f}" for stage, seconds in totals.items())
    return ", ".join(parts).encode("latin-1")


class ObservabilityMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware): request id in and out, metrics, one access log line."""

    def __init__(self, app: ASGIApp, *, observability: Observability) -> None:
        self.app = app
        self.observability = observability

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        obs = self.observability
        method = scope["method"]
        incoming = dict(scope["headers"]).get(REQUEST_ID_HEADER.lower().encode("latin-1"))
        request_id = incoming.decode("latin-1") if incoming else ""
        if not _ACCEPTABLE_REQUEST_ID.fullmatch(request_id):
            request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        token = _request_id.set(request_id)
        status = 500  # what the client gets if the app raises before it starts a response
        start = time.perf_counter()
        obs.in_progress.labels(method).inc()

        with recording() as recorder:

            async def send_with_headers(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    headers = list(message.get("headers", []))
                    headers.append((b"x-request-id", request_id.encode("latin-1")))
                    totals = recorder.totals()
                    if totals:
                        headers.append((b"server-timing", _server_timing(totals)))
                    message = {**message, "headers": headers}
                await send(message)

            try:
                await self.app(scope, receive, send_with_headers)
            finally:
                elapsed = time.perf_counter() - start
                route = _route_template(scope)
                labels = (method, route, str(status))
                obs.in_progress.labels(method).dec()
                obs.requests.labels(*labels).inc()
                obs.latency.labels(*labels).observe(elapsed)
                for stage, seconds in recorder.records:
                    obs.stages.labels(stage, route).observe(seconds)
                access_log.info(
                    "%s %s %s",
                    method,
                    scope.get("path", ""),
                    status,
                    extra={
                        "method": method,
                        "path": scope.get("path", ""),
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                        "stages_ms": {k: round(v * 1000, 2) for k, v in recorder.totals().items()},
                        "client": (scope.get("client") or ("", 0))[0],
                    },
                )
                _request_id.reset(token)


# Attributes every LogRecord has; anything else was passed through `extra=` and is logged as is.
_RECORD_FIELDS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line, with the request id of the context that logged it."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = _request_id.get()
        if request_id:
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class _JsonHandler(logging.StreamHandler[TextIO]):
    """Marks the handler this module installed, so installing twice replaces instead of doubling."""


def configure_json_logging(level: str | int = "INFO") -> None:
    """Route the root logger (and so the app's loggers) to stderr as JSON lines."""
    JsonLogFormatter.converter = time.gmtime
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _JsonHandler)]:
        root.removeHandler(handler)
    handler = _JsonHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    root.addHandler(handler)
    root.setLevel(level)


def install_observability(
    app: FastAPI, *, json_logs: bool = True, log_level: str | int = "INFO"
) -> Observability:
    """Add the middleware and `GET /metrics` to `app`; returns the app's Observability (also at
    `app.state.observability`). Call once, in `create_app`, before the app starts."""
    observability = Observability()
    app.state.observability = observability
    app.add_middleware(ObservabilityMiddleware, observability=observability)
    if json_logs:
        configure_json_logging(log_level)

    async def metrics(request: Request) -> Response:
        # An app built without Settings (install_observability on its own) has no token to ask.
        settings = getattr(request.app.state, "settings", None)
        token = settings.metrics_token if settings is not None else None
        if token is not None:
            # The page names every tenant's collection ids: with a token set, scrapers present
            # it as a bearer token (Prometheus `authorization` / `bearer_token`).
            presented = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(presented.encode(), token.get_secret_value().encode()):
                raise Unauthorized("send the metrics token as `Authorization: Bearer <token>`")
        obs: Observability = request.app.state.observability
        body, content_type = obs.render(request.headers.get("accept", ""))
        return Response(body, headers={"content-type": content_type})

    app.add_api_route(
        "/metrics",
        metrics,
        methods=["GET"],
        operation_id="metrics-get",
        dependencies=[Public],  # scraped without a key; deploy docs keep it off public networks
        tags=["operations"],
        summary="Prometheus metrics",
        description="Request counts and latencies by route and status, per-stage timings, faces "
        "per collection and model info, in the Prometheus text format. Not under /v1: no API key. "
        "With `FACEMATCH_METRICS_TOKEN` set it needs `Authorization: Bearer <token>`; otherwise "
        "keep it off the public network (it lists collection ids).",
        response_class=Response,
        responses={
            200: {
                "description": "Prometheus text exposition format 0.0.4.",
                "content": {
                    "text/plain": {
                        "schema": {"type": "string"},
                        "example": 'facematch_http_requests_total{method="GET",'
                        'route="/healthz",status="200"} 3.0\n',
                    }
                },
            }
        },
    )
    return observability
