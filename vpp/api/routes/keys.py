"""API key administration: create (secret shown once), list, rotate and revoke.

Admins manage every key; any caller may rotate or revoke the key it authenticates with.
Operator and settlement keys may be limited to parks (``park_ids``); a rotated key keeps its
role, tenant, scopes and parks. Every change is written to the audit log without the secret.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Depends

from vpp.api.deps import JSON_BODY, Caller, EngineDep, require
from vpp.api.errors import PermissionDeniedError
from vpp.api.schemas.common import Cursor, Limit, Page
from vpp.api.schemas.keys import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic, ApiKeyRotate
from vpp.api.security import ROLE_SCOPES, Principal, generate_key
from vpp.db.engine import session_scope
from vpp.db.repositories import AuditRepository
from vpp.db.repositories.credentials import ApiKeyRecord, ApiKeyRepository
from vpp.domain.errors import InvalidInputError

router = APIRouter(prefix="/v1/api-keys", tags=["auth"])
Admin = Annotated[Principal, Depends(require("keys:admin"))]
PARK_LIMITED_ROLES = ("operator", "settlement")


def _public(record: ApiKeyRecord) -> ApiKeyPublic:
    found = asdict(record)
    found.pop("secret_sha256")
    found["scopes"] = list(record.scopes)
    found["park_ids"] = None if record.park_ids is None else list(record.park_ids)
    return ApiKeyPublic(**found)


def _new_record(body: ApiKeyCreate, by: Principal, now: datetime) -> tuple[ApiKeyRecord, str]:
    allowed = ROLE_SCOPES[body.role]
    scopes = tuple(body.scopes) if body.scopes is not None else allowed
    if unknown := sorted(set(scopes) - set(allowed)):
        raise InvalidInputError(f"role {body.role} cannot hold scopes {unknown}")
    if (body.role == "enterprise") != (body.enterprise_id is not None):
        raise InvalidInputError("enterprise keys, and only they, name an enterprise_id")
    if body.park_ids is not None and body.role not in PARK_LIMITED_ROLES:
        raise InvalidInputError(
            f"a {body.role} key cannot be limited to parks",
            hint=f"park_ids is for {' and '.join(PARK_LIMITED_ROLES)} keys",
        )
    key = generate_key()
    record = ApiKeyRecord(
        id=key.key_id,
        secret_sha256=key.secret_sha256,
        role=body.role,
        enterprise_id=body.enterprise_id,
        scopes=scopes,
        label=body.label,
        created_at=now,
        created_by=by.actor,
        expires_at=body.expires_at,
        park_ids=None if body.park_ids is None else tuple(sorted(set(body.park_ids))),
    )
    return record, key.token


@router.post("", status_code=201, summary="Create an API key", dependencies=[JSON_BODY])
def create_key(body: ApiKeyCreate, admin: Admin, engine: EngineDep) -> ApiKeyCreated:
    """A new key for ``role``; the response holds the key, which is never shown again."""
    record, token = _new_record(body, admin, datetime.now(UTC))
    with session_scope(engine) as session:
        ApiKeyRepository(session).add(record)
        AuditRepository(session).record(
            admin.actor, "api_key.create", "api_key", record.id, after=_public(record)
        )
    return ApiKeyCreated(**_public(record).model_dump(), key=token)


@router.get("", summary="List API keys")
def list_keys(
    admin: Admin, engine: EngineDep, limit: Limit = 100, cursor: Cursor = None
) -> Page[ApiKeyPublic]:
    """Keys ordered by id, without secrets."""
    with session_scope(engine) as session:
        found = ApiKeyRepository(session).list(after=cursor, limit=limit + 1)
    items = [_public(r) for r in found[:limit]]
    return Page(items=items, next_cursor=items[-1].id if len(found) > limit else None)


def _own_or_admin(caller: Principal, key_id: str) -> None:
    if caller.key_id != key_id and "keys:admin" not in caller.scopes:
        raise PermissionDeniedError("only admins manage other callers' keys")


@router.post(
    "/{key_id}/rotate", status_code=201, summary="Rotate an API key", dependencies=[JSON_BODY]
)
def rotate_key(
    key_id: str,
    caller: Caller,
    engine: EngineDep,
    body: Annotated[ApiKeyRotate | None, Body()] = None,
) -> ApiKeyCreated:
    """A new key with the same role and scopes; the old one works ``grace_s`` seconds more."""
    _own_or_admin(caller, key_id)
    now = datetime.now(UTC)
    grace = (body or ApiKeyRotate()).grace_s
    with session_scope(engine) as session:
        keys = ApiKeyRepository(session)
        old = keys.get(key_id)
        fresh = generate_key()
        record = replace(
            old,
            id=fresh.key_id,
            secret_sha256=fresh.secret_sha256,
            created_at=now,
            created_by=caller.actor,
            revoked_at=None,
            replaced_by=None,
        )
        keys.add(record)
        retired = keys.retire(
            key_id, replaced_by=record.id, expires_at=now + timedelta(seconds=grace)
        )
        AuditRepository(session).record(
            caller.actor,
            "api_key.rotate",
            "api_key",
            key_id,
            before=_public(old),
            after=_public(retired),
        )
    return ApiKeyCreated(**_public(record).model_dump(), key=fresh.token)


@router.delete("/{key_id}", summary="Revoke an API key")
def revoke_key(key_id: str, caller: Caller, engine: EngineDep) -> ApiKeyPublic:
    """The key and every token minted from it stop working now."""
    _own_or_admin(caller, key_id)
    with session_scope(engine) as session:
        keys = ApiKeyRepository(session)
        before = keys.get(key_id)
        after = keys.revoke(key_id, datetime.now(UTC))
        AuditRepository(session).record(
            caller.actor,
            "api_key.revoke",
            "api_key",
            key_id,
            before=_public(before),
            after=_public(after),
        )
    return _public(after)
