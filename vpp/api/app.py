"""The API app factory: settings in, a wired FastAPI app out (no work at import time)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from vpp import __version__
from vpp.api.conventions import install_conventions
from vpp.api.docs import install_docs
from vpp.api.problems import PROBLEM_RESPONSES, install_problem_handlers
from vpp.api.routes import (
    agreements,
    assets,
    auth,
    health,
    keys,
    market_data,
    markets,
    operations,
    park_days,
    parks,
    pipeline,
    portfolio,
    settlements,
    statements,
    telemetry,
)
from vpp.api.schemas.telemetry import TelemetryBatch
from vpp.console.routes import install_console
from vpp.db.engine import make_engine
from vpp.db.migrate import upgrade
from vpp.settings import Settings, get_settings


def document_request_bodies(app: FastAPI, models: tuple[type[BaseModel], ...]) -> None:
    """Put ``models`` into the OpenAPI document's components: routes that read their body
    themselves (to accept several media types) refer to them by ``$ref`` in ``openapi_extra``,
    which FastAPI does not resolve, and a reference to nothing breaks ReDoc and code
    generators."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            _, defs = models_json_schema(
                [(m, "validation") for m in models],
                ref_template="#/components/schemas/{model}",
            )
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for name, schema in defs.get("$defs", {}).items():
                schemas.setdefault(name, schema)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API for ``settings`` (read from the environment when omitted).

    The database schema is migrated to the latest revision when the app starts.
    """
    settings = settings or get_settings()
    engine = make_engine(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        upgrade(settings.database_url)
        yield
        app.state.rate_limiter.close()
        engine.dispose()

    app = FastAPI(
        title="parkvpp",
        version=__version__,
        summary="Virtual power plant aggregation and market bidding for industrial parks.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    install_problem_handlers(app)
    install_conventions(app)
    app.include_router(health.router)
    app.include_router(markets.router, responses=PROBLEM_RESPONSES)
    for module in (
        auth,
        keys,
        parks,
        assets,
        agreements,
        telemetry,
        market_data,
        statements,
        settlements,
        portfolio,
        pipeline,
        park_days,
        operations,
    ):
        app.include_router(module.router, responses=PROBLEM_RESPONSES)
    document_request_bodies(app, (TelemetryBatch,))
    install_docs(app)
    install_console(app)
    return app
