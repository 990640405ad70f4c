"""Console sign-in: an API key exchanged for a short-lived session cookie, and CSRF tokens.

The key is checked exactly as the API checks it (:func:`vpp.api.deps.principal_from_key`) and
never kept: the cookie holds a signed bearer token of the key (the same JWT the API issues, so
revoking or rotating the key ends the session). The cookie is HttpOnly and SameSite=Strict;
every form and every htmx request also carries a CSRF token, an HMAC of the session token
under the service's signing secret, compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request

from vpp.api.deps import EngineDep, principal_from_key, principal_from_token
from vpp.api.errors import AuthenticationError, PermissionDeniedError
from vpp.api.security import Principal, issue_token
from vpp.console.i18n import Translate, pick_language, translator

COOKIE = "vpp_console"
SESSION_TTL_S = 30 * 60
"""How long a console session lasts [s]; signing in again starts a new one."""
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


class SignInRequired(Exception):
    """No valid session: the console answers with the sign-in page (the API is not involved)."""

    def __init__(self, reason: str | None = None) -> None:
        super().__init__(reason or "no session")
        self.reason = reason


class CsrfRefused(Exception):
    """A state-changing request without the session's CSRF token."""


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    """The signed-in caller of a console page, in the language they read."""

    principal: Principal
    language: str
    t: Translate
    csrf: str

    @property
    def role(self) -> str:
        return self.principal.role

    def can(self, scope: str) -> bool:
        return scope in self.principal.scopes

    def need(self, scope: str) -> None:
        """Refuse a page this role may not see (403, rendered by the console)."""
        if scope not in self.principal.scopes:
            raise PermissionDeniedError(
                f"a {self.role} session cannot open this page (it needs {scope})",
                hint="sign in with a key of a role that has it",
            )


def csrf_token(secret: str, session_token: str) -> str:
    """The CSRF token bound to one session."""
    return hmac.new(secret.encode(), b"csrf:" + session_token.encode(), hashlib.sha256).hexdigest()


def sign_in(request: Request, engine: EngineDep, presented: str) -> tuple[Principal, str]:
    """Check ``presented`` (an API key) and return its principal and a session token.

    Failures are counted against the client address like the API's, so guessing soon answers
    429.
    """
    limiter = request.app.state.rate_limiter
    client = request.client.host if request.client else "unknown"
    try:
        principal = principal_from_key(engine, presented.strip())
    except AuthenticationError:
        limiter.hit(f"failed-auth:{client}")
        raise
    limiter.hit(principal.key_id)
    token = issue_token(principal, request.app.state.jwt_secret, datetime.now(UTC), SESSION_TTL_S)
    return principal, token


def current_user(request: Request, engine: EngineDep) -> ConsoleUser:
    """The session's caller; without a valid session the sign-in page is shown."""
    token = request.cookies.get(COOKIE)
    if not token:
        raise SignInRequired()
    secret: str = request.app.state.jwt_secret
    try:
        principal = principal_from_token(engine, token, secret)
    except AuthenticationError as exc:
        raise SignInRequired(exc.message) from exc
    request.state.principal = principal
    request.app.state.rate_limiter.hit(principal.key_id)
    language = pick_language(request)
    return ConsoleUser(principal, language, translator(language), csrf_token(secret, token))


User = Annotated[ConsoleUser, Depends(current_user)]


async def check_csrf(request: Request) -> None:
    """Refuse a POST whose form field or header does not carry the session's CSRF token."""
    token = request.cookies.get(COOKIE, "")
    presented = request.headers.get(CSRF_HEADER)
    if presented is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        presented = value if isinstance(value, str) else None
    expected = csrf_token(request.app.state.jwt_secret, token)
    if not token or not presented or not hmac.compare_digest(presented, expected):
        raise CsrfRefused()


Csrf = Depends(check_csrf)
