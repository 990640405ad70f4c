"""Typed dependencies every route declares: database, caller, scopes, tenant, content type.

``tenant(scope)`` (``TenantRead``, ``TenantWrite`` ...) is the guard of every ``/v1/enterprises/{enterprise_id}/...`` route: an enterprise
credential only reaches its own enterprise, and any other id answers 404 exactly like an id
that does not exist. The repositories then filter by that enterprise id in SQL as well.
Likewise :func:`park_access` (and the ``park(scope)`` dependency) on ``/v1/parks/{park_id}/...``
routes: a key limited to parks answers 404 on any other park, and on the enterprises of other
parks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine

from vpp.api.config import ApiSettings
from vpp.api.errors import AuthenticationError, PermissionDeniedError, UnsupportedMediaTypeError
from vpp.api.security import (
    KEY_PREFIX,
    ROLE_SCOPES,
    Principal,
    hash_secret,
    read_token,
    secret_matches,
    split_key,
)
from vpp.db.engine import session_scope
from vpp.db.repositories.credentials import ApiKeyRepository
from vpp.db.tables import EnterpriseRow
from vpp.domain.errors import NotFoundError

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key.")
bearer = HTTPBearer(auto_error=False, description="A token from POST /v1/auth/token, or a key.")


def get_engine(request: Request) -> Engine:
    """The database engine built by the app factory."""
    engine: Engine = request.app.state.engine
    return engine


def get_api_settings(request: Request) -> ApiSettings:
    """The API settings built when the app was installed."""
    settings: ApiSettings = request.app.state.api_settings
    return settings


EngineDep = Annotated[Engine, Depends(get_engine)]
ApiSettingsDep = Annotated[ApiSettings, Depends(get_api_settings)]


def authenticate(
    request: Request,
    engine: EngineDep,
    settings: ApiSettingsDep,
    key: Annotated[str | None, Depends(api_key_header)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The caller behind ``X-API-Key`` or ``Authorization: Bearer``; rate-limited per key.

    Failed attempts are rate-limited per client address too, so guessing answers 429 soon.
    """
    presented = key or (credentials.credentials if credentials is not None else None)
    limiter = request.app.state.rate_limiter
    try:
        if not presented:
            raise AuthenticationError("no credential", hint="send X-API-Key or a bearer token")
        principal = _principal(engine, settings, presented, request.app.state.jwt_secret)
    except AuthenticationError:
        limiter.hit(f"failed-auth:{request.client.host if request.client else 'unknown'}")
        raise
    request.state.principal = principal
    limiter.hit(principal.key_id)
    return principal


def _principal(engine: Engine, settings: ApiSettings, presented: str, jwt_secret: str) -> Principal:
    admin = settings.admin_key
    if admin is not None and secret_matches(presented, hash_secret(admin.get_secret_value())):
        return Principal("bootstrap", "admin", None, frozenset(ROLE_SCOPES["admin"]), "bootstrap")
    if presented.startswith(KEY_PREFIX):
        return principal_from_key(engine, presented)
    return principal_from_token(engine, presented, jwt_secret)


def principal_from_key(engine: Engine, presented: str) -> Principal:
    key_id, secret = split_key(presented)
    with session_scope(engine) as session:
        record = ApiKeyRepository(session).find(key_id)
    if record is None or not secret_matches(secret, record.secret_sha256):
        raise AuthenticationError("unknown API key")
    if not record.usable_at(datetime.now(UTC)):
        raise AuthenticationError("API key revoked or expired", hint="ask an admin for a new key")
    return Principal(
        record.id,
        record.role,
        record.enterprise_id,
        frozenset(record.scopes),
        "api_key",
        _parks(record.park_ids),
    )


def principal_from_token(engine: Engine, token: str, secret: str) -> Principal:
    claimed = read_token(token, secret)
    with session_scope(engine) as session:
        record = ApiKeyRepository(session).find(claimed.key_id)
    if record is None or not record.usable_at(datetime.now(UTC)):
        raise AuthenticationError("the key behind this token is revoked or expired")
    parks = _parks(record.park_ids)
    if (
        record.role != claimed.role
        or record.enterprise_id != claimed.enterprise_id
        or parks != claimed.park_ids
    ):
        raise AuthenticationError("token claims do not match its key")
    return Principal(
        record.id,
        record.role,
        record.enterprise_id,
        claimed.scopes & set(record.scopes),
        "bearer",
        parks,
    )


def _parks(park_ids: tuple[str, ...] | None) -> frozenset[str] | None:
    return None if park_ids is None else frozenset(park_ids)


Caller = Annotated[Principal, Depends(authenticate)]


def require(scope: str) -> Callable[[Principal], Principal]:
    """A dependency admitting callers whose credential carries ``scope``."""

    def dependency(principal: Caller) -> Principal:
        if scope not in principal.scopes:
            raise PermissionDeniedError(
                f"{principal.role} credential lacks scope {scope}",
                hint="use a credential of a role that has it",
            )
        return principal

    return dependency


@dataclass(frozen=True, slots=True)
class TenantCall:
    """A caller admitted to one enterprise's resources."""

    principal: Principal
    enterprise_id: str


def tenant(scope: str) -> Callable[..., TenantCall]:
    """A dependency admitting ``scope`` holders to the enterprise named in the path."""
    check = require(scope)

    def dependency(
        enterprise_id: Annotated[str, Path(min_length=1, max_length=64)],
        principal: Caller,
        engine: EngineDep,
    ) -> TenantCall:
        if principal.enterprise_id is not None and principal.enterprise_id != enterprise_id:
            raise NotFoundError(f"enterprise {enterprise_id} not found")
        if principal.park_ids is not None:  # a key limited to parks: only their enterprises
            with session_scope(engine) as session:
                row = session.get(EnterpriseRow, enterprise_id)
                park_id = row.park_id if row is not None else None
            if park_id not in principal.park_ids:
                raise NotFoundError(f"enterprise {enterprise_id} not found")
        return TenantCall(check(principal), enterprise_id)

    return dependency


def park_access(principal: Principal, park_id: str) -> None:
    """Refuse a credential limited to other parks with 404, like a park that does not exist."""
    if principal.park_ids is not None and park_id not in principal.park_ids:
        raise NotFoundError(f"park {park_id} not found")


@dataclass(frozen=True, slots=True)
class ParkCall:
    """A caller admitted to one park's resources."""

    principal: Principal
    park_id: str


def park(scope: str) -> Callable[..., ParkCall]:
    """A dependency admitting ``scope`` holders to the park named in the path."""
    check = require(scope)

    def dependency(
        park_id: Annotated[str, Path(min_length=1, max_length=64)], principal: Caller
    ) -> ParkCall:
        park_access(principal, park_id)
        return ParkCall(check(principal), park_id)

    return dependency


TenantRead = Annotated[TenantCall, Depends(tenant("assets:read"))]
TenantWrite = Annotated[TenantCall, Depends(tenant("assets:write"))]
AgreementWrite = Annotated[TenantCall, Depends(tenant("agreements:write"))]
TelemetryWrite = Annotated[TenantCall, Depends(tenant("telemetry:write"))]
StatementRead = Annotated[TenantCall, Depends(tenant("statements:read"))]


def content_types(*allowed: str) -> Callable[[Request], None]:
    """A dependency refusing a body whose media type is not one of ``allowed`` (415)."""

    def dependency(request: Request) -> None:
        has_body = request.headers.get("content-length", "0") != "0" or (
            "transfer-encoding" in request.headers
        )
        if not has_body and "content-type" not in request.headers:
            return  # no body at all: the route's own validation decides if one was needed
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media not in allowed:
            raise UnsupportedMediaTypeError(
                f"content type {media or '(none)'} is not accepted here",
                hint=f"send one of: {', '.join(allowed)}",
            )

    return dependency


JSON_BODY = Depends(content_types("application/json"))
