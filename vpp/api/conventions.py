"""Wire the API's cross-cutting conventions into an app: settings, auth state, middleware, logs.

Called once from the app factory. :func:`configure_api` can be called again (tests do) to swap
the API settings: the signing secret and rate limiter are rebuilt from them. With ``VPP_REDIS_URL`` set the
limiter is shared through Redis, and building the app fails when Redis does not answer.
"""

from __future__ import annotations

import secrets

from fastapi import FastAPI

from vpp.api.config import ApiSettings
from vpp.api.logs import install_json_logging
from vpp.api.middleware import HttpMetrics, RequestContextMiddleware
from vpp.api.ratelimit import Limiter, build_limiter


def install_conventions(app: FastAPI, api_settings: ApiSettings | None = None) -> None:
    """Register middleware, metrics and JSON logging; read API settings from the environment."""
    metrics = HttpMetrics()
    app.state.metrics = metrics
    configure_api(app, api_settings or ApiSettings())
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    install_json_logging(app.state.settings.log_level)


def configure_api(app: FastAPI, api_settings: ApiSettings) -> None:
    """Apply ``api_settings``: bootstrap key, token secret, rate limiter, payload bounds."""
    app.state.api_settings = api_settings
    secret = api_settings.jwt_secret
    app.state.jwt_secret = secret.get_secret_value() if secret else secrets.token_urlsafe(48)
    previous: Limiter | None = getattr(app.state, "rate_limiter", None)
    app.state.rate_limiter = build_limiter(
        api_settings.rate_limit_per_minute, api_settings.redis_url, api_settings.rate_limit_prefix
    )
    if previous is not None:
        previous.close()
