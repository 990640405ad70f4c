"""OAuth 2.0 client credentials for the VTN: who may call it, and the JWT bearer tokens it issues.

OpenADR 3 secures the VTN with OAuth 2.0 client credentials; the spec leaves the authorisation
server to the deployment. This VTN is its own small authorisation server: clients (business
logic "BL" or "VEN") are configured at construction with an id and secret, ``/auth/token``
exchanges them for an HS256-signed JWT carrying the client id (``sub``) and role, and every
resource endpoint checks that token. Secrets are compared in constant time; the signing key is
random per VTN unless one is given, so tokens do not survive a restart of a VTN built without one.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import jwt

ISSUER = "parkvpp-vtn"
ALGORITHM = "HS256"


class Role(StrEnum):
    """The two kinds of OpenADR 3 client: business logic writes programs/events, VENs report."""

    BL = "BL"
    VEN = "VEN"


@dataclass(frozen=True)
class ClientCredential:
    """A client's secret and role, as configured on the VTN."""

    secret: str
    role: Role


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of a request."""

    client_id: str
    role: Role


class TokenError(Exception):
    """A bearer token is missing, malformed, expired or not signed by this VTN."""


class TokenIssuer:
    """Checks client credentials, issues JWTs and verifies them."""

    def __init__(
        self,
        clients: Mapping[str, ClientCredential],
        *,
        signing_key: str | None = None,
        ttl_s: int = 3600,
    ) -> None:
        if ttl_s <= 0:
            raise ValueError(f"token lifetime must be positive, got {ttl_s} s")
        self._clients = dict(clients)
        self._key = signing_key or secrets.token_urlsafe(32)
        self.ttl_s = ttl_s

    def authenticate(self, client_id: str, client_secret: str) -> Principal | None:
        """The principal for valid credentials; None for an unknown client or a wrong secret."""
        credential = self._clients.get(client_id)
        # Compare against a dummy for unknown ids too, so timing does not reveal which ids exist.
        expected = credential.secret if credential else secrets.token_urlsafe(16)
        if not secrets.compare_digest(expected.encode(), client_secret.encode()):
            return None
        return None if credential is None else Principal(client_id, credential.role)

    def role_of(self, client_id: str) -> Role | None:
        """The configured role of ``client_id``; None for an unknown client."""
        credential = self._clients.get(client_id)
        return None if credential is None else credential.role

    def issue(self, principal: Principal) -> str:
        """A signed JWT for ``principal`` valid for ``ttl_s`` seconds."""
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": principal.client_id,
            "role": principal.role.value,
            "iat": now,
            "exp": now + self.ttl_s,
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def verify(self, token: str) -> Principal:
        """The principal a token was issued to; raises :class:`TokenError` when it is not valid."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "iss"]},
            )
            role = Role(claims["role"])
        except (jwt.PyJWTError, KeyError, ValueError) as exc:
            raise TokenError(f"invalid bearer token: {exc}") from exc
        if claims["sub"] not in self._clients:
            raise TokenError("the token's client is no longer configured on this VTN")
        return Principal(str(claims["sub"]), role)
