"""Liveness and readiness: /healthz answers while the process runs, /readyz checks the database.

/healthz names the worker process (``worker_pid``) that answered, so an operator (and the
multi-worker test) can tell which of several uvicorn workers served a request.
"""

from __future__ import annotations

import os
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from vpp import __version__

router = APIRouter(tags=["operations"])


def get_engine(request: Request) -> Engine:
    """The database engine built by the app factory."""
    engine: Engine = request.app.state.engine
    return engine


@router.get("/healthz", summary="Liveness")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok", "version": __version__, "worker_pid": str(os.getpid())}


@router.get("/readyz", summary="Readiness (database reachable)")
def readyz(engine: Annotated[Engine, Depends(get_engine)]) -> JSONResponse:
    """Ready when the database answers a trivial query."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return JSONResponse(
            {"status": "unavailable", "database": type(exc).__name__}, status_code=503
        )
    return JSONResponse({"status": "ready", "database": engine.dialect.name})
