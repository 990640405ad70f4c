"""RFC 9457 problem details: every error the API returns has this one shape.

The service's error tree (``vpp.domain.errors``) maps to a problem type and status in one place;
request validation errors list each bad field. Nothing else leaks: an unexpected exception
becomes a 500 problem without internals.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from vpp.api.errors import AuthenticationError, RateLimitedError
from vpp.domain.errors import InfeasibleProblemError, VppError

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("vpp.api")
PROBLEM_SCHEMA = {
    "type": "object",
    "title": "Problem",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "hint": {"type": "string"},
        "request_id": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
        "rejected": {"type": "array", "items": {"type": "object"}},
    },
}
PROBLEMS = {
    400: "Malformed request",
    401: "Missing, unknown, expired or revoked credential",
    403: "The credential's role or scopes do not allow this",
    404: "Not found (also another tenant's resource)",
    405: "Method not allowed",
    409: "Conflicts with the stored state",
    413: "Payload too large",
    415: "Unsupported content type",
    422: "Invalid request or rejected rows",
    429: "Rate limited; see Retry-After",
}
PROBLEM_RESPONSES: dict[int | str, dict[str, object]] = {
    status: {"description": text, "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}}}
    for status, text in PROBLEMS.items()
}
"""Every error response, documented once and attached to each router as problem+json."""


def problem(
    status: int,
    kind: str,
    title: str,
    detail: str,
    request: Request,
    headers: Mapping[str, str] | None = None,
    **extra: object,
) -> JSONResponse:
    """A problem+json response."""
    body = {
        "type": f"https://parkvpp.dev/problems/{kind}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": str(request.url.path),
        **extra,
    }
    request_id = getattr(request.state, "request_id", None)
    if request_id is not None:
        body["request_id"] = request_id
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install_problem_handlers(app: FastAPI) -> None:
    """Register the handlers that turn errors into problem details."""

    @app.exception_handler(VppError)
    async def _vpp_error(request: Request, exc: VppError) -> JSONResponse:
        extra: dict[str, object] = {}
        if exc.hint:
            extra["hint"] = exc.hint
        if isinstance(exc, InfeasibleProblemError):
            extra["reasons"] = exc.reasons
        extra.update(getattr(exc, "problem_fields", {}))
        headers: dict[str, str] = {}
        if isinstance(exc, AuthenticationError):
            headers["WWW-Authenticate"] = "Bearer"
        if isinstance(exc, RateLimitedError):
            headers["Retry-After"] = str(exc.retry_after_s)
        return problem(
            exc.status, exc.kind, type(exc).__name__, exc.message, request, headers, **extra
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        return problem(
            422,
            "invalid-request",
            "Invalid request",
            "the request has invalid fields",
            request,
            errors=errors,
        )

    @app.exception_handler(ValidationError)
    async def _invalid_model(request: Request, exc: ValidationError) -> JSONResponse:
        # A body validated inside a route (a CSV/JSON upload, a domain model built from input).
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        return problem(
            422,
            "invalid-request",
            "Invalid request",
            "the request has invalid fields",
            request,
            errors=errors[:100],
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(
            exc.status_code, "http-error", str(exc.detail), str(exc.detail), request, exc.headers
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return problem(
            500, "internal-error", "Internal error", "an unexpected error occurred", request
        )
