"""Service settings, read from ``VPP_*`` environment variables once at start-up.

The composition roots (the API app factory, the CLI, the demo) call :func:`get_settings` and pass
the values on as parameters; nothing below them reads the environment, and importing this module
builds nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"
"""The checkout's ``config/`` folder (market profiles, defaults)."""

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class Settings(BaseSettings):
    """Everything the service takes from its environment.

    ``database_url`` is an SQLAlchemy URL: the default is a SQLite file ``parkvpp.sqlite`` in the
    current working directory; set ``VPP_DATABASE_URL=postgresql+psycopg://user@host/db`` for
    PostgreSQL.
    """

    model_config = SettingsConfigDict(env_prefix="VPP_", extra="ignore", frozen=True)

    database_url: str = Field(
        default="sqlite:///./parkvpp.sqlite",
        description="SQLAlchemy database URL (sqlite:///... or postgresql+psycopg://...).",
    )
    config_dir: Path = Field(
        default=REPO_CONFIG_DIR, description="Folder holding markets/*.yaml and defaults."
    )
    log_level: LogLevel = Field(default="INFO", description="Root logging level.")
    parks: list[Path] = Field(
        default_factory=list,
        description="Park definition files the scheduler runs (default: the bundled sample park).",
    )
    exchange_url: str | None = Field(
        default=None,
        description="HTTP API of the exchange; unset: a simulated exchange on historical prices.",
    )
    exchange_participant: str = Field(default="parkvpp", description="Our id at the exchange.")
    exchange_secret: SecretStr | None = Field(
        default=None, description="HMAC secret shared with the exchange."
    )
    alert_webhook_url: str | None = Field(
        default=None, description="Where alerts are POSTed as JSON (besides the log)."
    )
    devices: Path | None = Field(
        default=None,
        description="Device bindings YAML (which protocol reaches each asset); unset: recorded.",
    )
    tick_seconds: float = Field(
        default=60.0, gt=0, description="How often the scheduler advances the pipelines [s]."
    )


def get_settings() -> Settings:
    """Read the settings from the ``VPP_*`` environment variables."""
    return Settings()
