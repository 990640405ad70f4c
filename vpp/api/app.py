"""The API app factory: settings in, a wired FastAPI app out (no work at import time)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

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
from vpp.console.routes import install_console
from vpp.db.engine import make_engine
from vpp.db.migrate import upgrade
from vpp.settings import Settings, get_settings


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
    install_docs(app)
    install_console(app)
    return app
