"""Settings of the HTTP API itself, read from ``VPP_*`` variables when the app is built.

They sit beside :class:`vpp.settings.Settings` (database, config folder) and are built by
:func:`vpp.api.conventions.install_conventions` from the app factory, never at import time.
Tests replace ``app.state.api_settings`` before the first request.
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_SECRET_CHARS = 32


class ApiSettings(BaseSettings):
    """Bootstrap credential, token signing, rate limits and payload bounds."""

    model_config = SettingsConfigDict(env_prefix="VPP_", extra="ignore", frozen=True)

    admin_key: SecretStr | None = Field(
        default=None,
        description="Bootstrap admin key (>= 32 characters); use it to create the first keys.",
    )
    jwt_secret: SecretStr | None = Field(
        default=None,
        description="HS256 signing secret (>= 32 characters); random per process when unset.",
    )
    token_ttl_s: int = Field(default=900, ge=60, le=86_400, description="Bearer token life [s].")
    rate_limit_per_minute: int = Field(
        default=600, ge=1, description="Requests per minute per credential (token bucket)."
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis URL (redis://host:6379/0) of a rate-limit store shared by all workers;"
        " unset: each worker limits on its own.",
    )
    rate_limit_prefix: str = Field(
        default="vpp:ratelimit:",
        min_length=1,
        max_length=64,
        description="Prefix of the Redis keys holding the buckets.",
    )
    max_body_bytes: int = Field(
        default=2_000_000, ge=1_024, description="Largest request body accepted [bytes]."
    )
    max_telemetry_rows: int = Field(
        default=20_000, ge=1, description="Largest telemetry batch accepted [rows]."
    )

    @field_validator("admin_key", "jwt_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_SECRET_CHARS:
            raise ValueError(f"must be at least {MIN_SECRET_CHARS} characters")
        return value
