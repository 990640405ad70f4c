"""RFC 9457 problem details: every error the API returns has this one shape.

The service's error tree (``vpp.domain.errors``) maps to a problem type and status in one place;
request validation errors list each bad field. Nothing else leaks: an unexpected exception
becomes a 500 problem without internals.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from vpp.domain.errors import InfeasibleProblemError, VppError

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("vpp.api")


def problem(
    status: int, kind: str, title: str, detail: str, request: Request, **extra: object
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
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def install_problem_handlers(app: FastAPI) -> None:
    """Register the handlers that turn errors into problem details."""

    @app.exception_handler(VppError)
    async def _vpp_error(request: Request, exc: VppError) -> JSONResponse:
        extra: dict[str, object] = {}
        if exc.hint:
            extra["hint"] = exc.hint
        if isinstance(exc, InfeasibleProblemError):
            extra["reasons"] = exc.reasons
        return problem(exc.status, exc.kind, type(exc).__name__, exc.message, request, **extra)

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

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, "http-error", str(exc.detail), str(exc.detail), request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return problem(
            500, "internal-error", "Internal error", "an unexpected error occurred", request
        )
