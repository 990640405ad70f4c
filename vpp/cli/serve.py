"""``vpp serve``: run the HTTP API (OpenAPI at /openapi.json, docs at /docs)."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (use 1 with SQLite).")] = 1,
) -> None:
    """Serve the API; the database named by VPP_DATABASE_URL is migrated at start-up."""
    uvicorn.run("vpp.api.app:create_app", factory=True, host=host, port=port, workers=workers)
