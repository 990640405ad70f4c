"""API keys and bearer tokens: creation, public view (never the secret), token response."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Role = Literal["enterprise", "operator", "settlement", "admin"]


class ApiKeyCreate(BaseModel):
    """A key for one role; enterprise keys name their enterprise; operator and settlement keys
    may be limited to parks."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"role": "enterprise", "enterprise_id": "ent-a", "label": "EMS gateway"}]
        },
    )

    role: Role
    enterprise_id: str | None = Field(default=None, max_length=64)
    label: str = Field(min_length=1, max_length=200)
    scopes: list[str] | None = Field(
        default=None, description="A subset of the role's scopes; all of them when omitted."
    )
    expires_at: AwareDatetime | None = None
    park_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="Operator and settlement keys only: the parks the key reaches; every park "
        "when omitted.",
    )


class ApiKeyRotate(BaseModel):
    """How long the old key keeps working after rotation."""

    model_config = ConfigDict(extra="forbid")

    grace_s: int = Field(default=0, ge=0, le=7 * 86_400, description="Overlap [s].")


class ApiKeyPublic(BaseModel):
    """A key as listed: everything except its secret."""

    id: str
    role: Role
    enterprise_id: str | None
    scopes: list[str]
    label: str
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None
    replaced_by: str | None
    park_ids: list[str] | None = Field(
        default=None, description="The parks the key reaches; null: every park."
    )


class ApiKeyCreated(ApiKeyPublic):
    """A new key: ``key`` is shown this once and cannot be retrieved again."""

    key: str


class TokenResponse(BaseModel):
    """An OAuth2 bearer token (RFC 6749 section 5.1)."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    scope: str
