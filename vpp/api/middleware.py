"""One ASGI middleware for what every request shares: id, size bound, metrics and access log.

* ``X-Request-ID``: a well-formed id sent by the client is kept, otherwise one is made; it is
  echoed on the response, written in the access log line and bound for the audit entries the
  request records (:func:`vpp.db.repositories.audit.bind_request_id`).
* A body longer than ``max_body_bytes`` is refused with 413 before the route reads it (by its
  ``Content-Length``, or while streaming when there is none).
* Request count and latency per method, route template and status go to Prometheus metrics.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vpp.api.config import ApiSettings
from vpp.db.repositories.audit import REQUEST_ID_LENGTH, bind_request_id

REQUEST_ID = re.compile(rf"^[A-Za-z0-9._:-]{{1,{REQUEST_ID_LENGTH}}}$")
access_log = logging.getLogger("vpp.api.access")


class HttpMetrics:
    """The API's Prometheus collectors, in a registry of their own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "vpp_http_requests",
            "HTTP requests answered.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "vpp_http_request_duration_seconds",
            "Time to answer an HTTP request [s].",
            ["method", "route"],
            registry=self.registry,
        )
        self.telemetry_points = Counter(
            "vpp_telemetry_points_written", "Telemetry points upserted.", registry=self.registry
        )


class RequestContextMiddleware:
    """Request id, payload bound, metrics and a JSON access log line for every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        offered = headers.get("x-request-id", "")
        request_id = offered if REQUEST_ID.match(offered) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        settings: ApiSettings = scope["app"].state.api_settings
        limit = settings.max_body_bytes

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        received = 0

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, f"request body exceeds {limit} bytes")
            return message

        declared = headers.get("content-length", "")
        try:
            if declared.isdigit() and int(declared) > limit:
                await _too_large(scope, send_with_id, limit)
            else:
                with bind_request_id(request_id):
                    await self.app(scope, bounded_receive, send_with_id)
        finally:
            self._observe(scope, status, time.perf_counter() - started, request_id)

    def _observe(self, scope: Scope, status: int, seconds: float, request_id: str) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        method = scope.get("method", "")
        self.metrics.requests.labels(method, template, str(status)).inc()
        self.metrics.latency.labels(method, template).observe(seconds)
        principal = getattr(scope.get("state", {}).get("principal"), "actor", None)
        access_log.info(
            "request",
            extra={
                "request_id": request_id,
                "method": method,
                "path": scope.get("path"),
                "route": template,
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
                "actor": principal,
            },
        )


async def _too_large(scope: Scope, send: Send, limit: int) -> None:
    body: dict[str, Any] = {
        "type": "https://parkvpp.dev/problems/payload-too-large",
        "title": "PayloadTooLargeError",
        "status": 413,
        "detail": f"request body exceeds {limit} bytes",
        "instance": scope.get("path", ""),
    }
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
