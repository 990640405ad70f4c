"""OAuth2 token endpoint (client-credentials style): exchange an API key for a bearer JWT."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request

from vpp.api.deps import ApiSettingsDep, EngineDep, content_types
from vpp.api.errors import AuthenticationError
from vpp.api.schemas.keys import TokenResponse
from vpp.api.security import KEY_PREFIX, Principal, issue_token, secret_matches, split_key
from vpp.db.engine import session_scope
from vpp.db.repositories.credentials import ApiKeyRepository
from vpp.domain.errors import InvalidInputError

router = APIRouter(prefix="/v1/auth", tags=["auth"])
FORM = "application/x-www-form-urlencoded"
FORM_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            FORM: {
                "schema": {
                    "type": "object",
                    "required": ["grant_type", "client_secret"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["client_credentials"]},
                        "client_secret": {"type": "string", "description": "An API key."},
                        "scope": {"type": "string", "description": "Space-separated subset."},
                    },
                }
            }
        },
    }
}


@router.post(
    "/token",
    summary="Get a bearer token",
    dependencies=[Depends(content_types(FORM))],
    openapi_extra=FORM_SCHEMA,
)
async def token(request: Request, engine: EngineDep, settings: ApiSettingsDep) -> TokenResponse:
    """A short-lived JWT carrying the key's role, tenant, parks and (a subset of) its scopes."""
    client = request.client.host if request.client else "unknown"
    request.app.state.rate_limiter.hit(f"token:{client}")
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
    if form.get("grant_type") != "client_credentials":
        raise InvalidInputError("grant_type must be client_credentials")
    presented = form.get("client_secret", "")
    if not presented.startswith(KEY_PREFIX):
        raise AuthenticationError("client_secret must be an API key (vpp_<id>.<secret>)")
    key_id, secret = split_key(presented)
    with session_scope(engine) as session:
        record = ApiKeyRepository(session).find(key_id)
    now = datetime.now(UTC)
    if record is None or not secret_matches(secret, record.secret_sha256):
        raise AuthenticationError("unknown API key")
    if not record.usable_at(now):
        raise AuthenticationError("API key revoked or expired")
    wanted = set(form["scope"].split()) if form.get("scope") else set(record.scopes)
    if extra := sorted(wanted - set(record.scopes)):
        raise InvalidInputError(f"the key does not hold scopes {extra}")
    parks = None if record.park_ids is None else frozenset(record.park_ids)
    principal = Principal(
        record.id, record.role, record.enterprise_id, frozenset(wanted), "bearer", parks
    )
    signed = issue_token(principal, request.app.state.jwt_secret, now, settings.token_ttl_s)
    return TokenResponse(
        access_token=signed, expires_in=settings.token_ttl_s, scope=" ".join(sorted(wanted))
    )
