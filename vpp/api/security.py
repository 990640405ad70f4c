"""Credentials: roles and their scopes, API keys, and signed bearer tokens.

An API key reads ``vpp_<id>.<secret>``: the id is public and names the stored row, the secret
(256 random bits) is shown once and kept only as its SHA-256, compared in constant time. A
bearer token is an HS256 JWT minted from a key (OAuth2 client-credentials style); it names the
key, so revoking or rotating the key also ends its tokens. A key limited to parks carries them
into its tokens (claim ``parks``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import jwt

from vpp.api.errors import AuthenticationError

Role = Literal["enterprise", "operator", "settlement", "admin"]
KEY_PREFIX = "vpp_"
ISSUER = "parkvpp"
AUDIENCE = "parkvpp-api"

READ = ("assets:read", "agreements:read", "telemetry:read", "statements:read")
SETTLE = ("settlements:read", "settlements:issue")
"""A park's monthly statements: list and download them, issue a month."""
ROLE_SCOPES: dict[str, tuple[str, ...]] = {
    "enterprise": (
        *READ,
        "assets:write",
        "agreements:write",
        "telemetry:write",
        "consumption:write",
    ),
    "operator": (
        *READ,
        "assets:verify",
        "assets:write",
        "parks:read",
        "parks:write",
        "portfolio:read",
        "audit:read",
        "pipeline:read",
        "bids:approve",
        "market_data:read",
        "market_data:write",
        "consumption:write",
    ),
    "settlement": (
        *READ,
        "parks:read",
        "portfolio:read",
        "audit:read",
        "pipeline:read",
        "market_data:read",
        *SETTLE,
    ),
    "admin": (
        *READ,
        "assets:verify",
        "assets:write",
        "agreements:write",
        "telemetry:write",
        "parks:read",
        "parks:write",
        "portfolio:read",
        "audit:read",
        "keys:admin",
        "pipeline:read",
        "bids:approve",
        *SETTLE,
        "market_data:read",
        "market_data:write",
        "consumption:write",
    ),
}
"""What each role may do; a key or token carries a subset of its role's scopes."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key behind the credential, its role, tenant, scopes and parks."""

    key_id: str
    role: str
    enterprise_id: str | None
    scopes: frozenset[str]
    via: Literal["api_key", "bearer", "bootstrap"]
    park_ids: frozenset[str] | None = None
    """The parks a park-limited key reaches; None: every park."""

    @property
    def actor(self) -> str:
        """How the audit log names this caller."""
        return f"{self.role}:{self.key_id}"


@dataclass(frozen=True, slots=True)
class NewKey:
    """A freshly generated key: ``token`` is shown once, ``secret_sha256`` is stored."""

    key_id: str
    token: str
    secret_sha256: str


def generate_key() -> NewKey:
    """A new random key."""
    key_id = f"k{secrets.token_hex(8)}"
    secret = secrets.token_urlsafe(32)
    return NewKey(key_id, f"{KEY_PREFIX}{key_id}.{secret}", hash_secret(secret))


def hash_secret(secret: str) -> str:
    """SHA-256 of a key secret, hex (the secret is high-entropy, so no slow hash is needed)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def split_key(token: str) -> tuple[str, str]:
    """``(key_id, secret)`` of an API key; a malformed key raises :class:`AuthenticationError`."""
    body = token.removeprefix(KEY_PREFIX)
    key_id, dot, secret = body.partition(".")
    if not token.startswith(KEY_PREFIX) or not dot or not key_id or not secret:
        raise AuthenticationError("malformed API key", hint="keys look like vpp_<id>.<secret>")
    return key_id, secret


def secret_matches(secret: str, stored_sha256: str) -> bool:
    """Constant-time comparison of a presented secret with the stored hash."""
    return hmac.compare_digest(hash_secret(secret), stored_sha256)


def issue_token(principal: Principal, secret: str, now: datetime, ttl_s: int) -> str:
    """A signed bearer token for ``principal``, valid ``ttl_s`` seconds from ``now``."""
    claims: dict[str, object] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": principal.key_id,
        "role": principal.role,
        "ent": principal.enterprise_id,
        "scope": " ".join(sorted(principal.scopes)),
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl_s)).timestamp()),
        "jti": secrets.token_hex(8),
    }
    if principal.park_ids is not None:
        claims["parks"] = sorted(principal.park_ids)
    return jwt.encode(claims, secret, algorithm="HS256")


def read_token(token: str, secret: str) -> Principal:
    """The principal a bearer token names; a bad, tampered or expired token is refused."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "aud", "iss"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthenticationError("bearer token expired", hint="request a new token") from exc
    except jwt.InvalidTokenError as exc:
        raise AuthenticationError(f"invalid bearer token: {exc}") from exc
    parks = claims.get("parks")
    if parks is not None and not isinstance(parks, list):
        raise AuthenticationError("invalid bearer token: parks is not a list")
    return Principal(
        key_id=str(claims["sub"]),
        role=str(claims.get("role", "")),
        enterprise_id=claims.get("ent"),
        scopes=frozenset(str(claims.get("scope", "")).split()),
        via="bearer",
        park_ids=None if parks is None else frozenset(str(p) for p in parks),
    )
