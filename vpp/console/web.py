"""What every console page shares: the router class, templates, errors, sign-in and language.

Pages are server-rendered Jinja2 templates; htmx swaps parts of them and ECharts draws the
charts from JSON embedded in the page (``<script type="application/json">``), so no script is
inline and the Content-Security-Policy allows scripts from the service only. Errors of the
service (:class:`vpp.domain.errors.VppError`) render as a page in the reader's language with
the hint that says what to do; a missing or expired session leads to the sign-in page.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

import pandas as pd
from fastapi import APIRouter, Form, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from vpp.api.deps import EngineDep
from vpp.api.errors import AuthenticationError
from vpp.console import i18n
from vpp.console.session import (
    COOKIE,
    CSRF_FIELD,
    SESSION_TTL_S,
    ConsoleUser,
    CsrfRefused,
    SignInRequired,
    check_csrf,
    current_user,
    sign_in,
)
from vpp.console.session import csrf_token as session_csrf
from vpp.domain.errors import NotFoundError, VppError

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
STATIC = "/console/static"
LOGIN_CSRF = "vpp_login_csrf"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; "
        "base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
HOMES = {
    "operator": "/console/parks",
    "admin": "/console/parks",
    "settlement": "/console/settlement",
}
"""Where each role lands after signing in (an enterprise lands on its own assets)."""


def home_of(user: ConsoleUser) -> str:
    """The first page of ``user``'s role."""
    if user.principal.enterprise_id is not None:
        return f"/console/enterprises/{quote(user.principal.enterprise_id)}/assets"
    return HOMES.get(user.role, "/console/parks")


def tenant_access(user: ConsoleUser, enterprise_id: str, scope: str) -> None:
    """The API's tenant rule for console pages: an enterprise session reaches only its own
    enterprise (any other id is 'not found', exactly like one that does not exist), and the
    session must hold ``scope``."""
    if user.principal.enterprise_id is not None and user.principal.enterprise_id != enterprise_id:
        raise NotFoundError(f"enterprise {enterprise_id} not found")
    user.need(scope)


def as_json(value: Any) -> Markup:
    """``value`` as JSON safe inside ``<script type="application/json">``."""
    text = json.dumps(value, ensure_ascii=False, default=str, allow_nan=False)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def local(at: datetime | pd.Timestamp | None, tz: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An instant in market time (``tz``), minutes precision."""
    if at is None:
        return "–"
    return pd.Timestamp(at).tz_convert(tz).strftime(fmt)


def number(value: float | None, digits: int = 2) -> str:
    """``value`` with thousands separators and ``digits`` decimals ('–' when missing)."""
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


RUN_STATUS = {
    "forecast": "forecast issued",
    "bid": "in review",
    "approve": "approved",
    "submit": "submitted",
    "awards": "awarded",
    "dispatch": "dispatched",
    "settle": "settled",
    "missed": "missed",
}
"""A pipeline run's status (the last stage it finished) as the operator reads it."""

templates.env.globals["RUN_STATUS"] = RUN_STATUS
templates.env.filters["as_json"] = as_json
templates.env.filters["local"] = local
templates.env.filters["number"] = number
templates.env.globals["STATIC"] = STATIC
templates.env.globals["LANGUAGES"] = i18n.LANGUAGES
templates.env.globals["CSRF_FIELD"] = CSRF_FIELD


def render(
    request: Request,
    user: ConsoleUser | None,
    name: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
) -> HTMLResponse:
    """Render template ``name`` for ``user`` with the security headers of every page."""
    language = user.language if user else i18n.pick_language(request)
    response = templates.TemplateResponse(
        request,
        name,
        {
            "user": user,
            "t": user.t if user else i18n.translator(language),
            "lang": language,
            "html_lang": "zh-CN" if language == "zh" else "en",
            "home": home_of(user) if user else "/console/login",
            "path": request.url.path,
            **(context or {}),
        },
        status_code=status,
        headers=SECURITY_HEADERS,
    )
    return response


ERROR_TITLES = {
    401: "Sign in",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    422: "Invalid input",
    423: "Too late",
    503: "Unavailable",
}


def error_page(request: Request, status: int, message: str, hint: str | None) -> HTMLResponse:
    """A page saying what went wrong and what to do, in the reader's language."""
    return render(
        request,
        None,
        "error.html",
        {
            "status": status,
            "title": ERROR_TITLES.get(status, "Something went wrong"),
            "message": message,
            "hint": hint,
            "back": _came_from(request) or "/console",
        },
        status=status,
    )


def _came_from(request: Request) -> str | None:
    """The console page the reader came from (the Referer, if it is one of ours)."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc and referer.netloc != request.url.netloc:
        return None
    target = referer.path + (f"?{referer.query}" if referer.query else "")
    return _safe_next(target) if target != request.url.path else None


def _sign_in_redirect(request: Request, reason: str | None) -> Response:
    target = "/console/login?next=" + quote(request.url.path)
    if reason:
        target += "&expired=1"
    if request.headers.get("HX-Request"):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


class ConsoleRoute(APIRoute):
    """A route whose errors render as console pages, not as problem+json."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except SignInRequired as exc:
                return _sign_in_redirect(request, exc.reason)
            except CsrfRefused:
                t = i18n.translator(i18n.pick_language(request))
                text = t("The form expired or came from another page; reload and try again.")
                return error_page(request, 403, text, None)
            except VppError as exc:
                return error_page(request, exc.status, exc.message, exc.hint)
            except RequestValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in exc.errors()
                )
                return error_page(request, 422, problems, None)

        return handler


def console_router() -> APIRouter:
    """A router for console pages (left out of the OpenAPI document)."""
    return APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)


router = console_router()


def _safe_next(target: str | None) -> str | None:
    """Only a path of this console: never another host (open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/console/") or "\\" in target:
        return None
    return target


@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse)
def index(request: Request, engine: EngineDep) -> Response:
    """The signed-in user's home, else the sign-in page."""
    try:
        user = current_user(request, engine)
    except SignInRequired:
        return RedirectResponse("/console/login", status_code=303)
    return RedirectResponse(home_of(user), status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(
    request: Request, next: str | None = None, expired: int = 0, error: str | None = None
) -> Response:
    """The sign-in form."""
    token = secrets.token_urlsafe(24)
    t = i18n.translator(i18n.pick_language(request))
    response = render(
        request,
        None,
        "login.html",
        {
            "next": _safe_next(next) or "",
            "login_csrf": token,
            "notice": t("Your session has ended; sign in again.") if expired else None,
            "error": error,
            "minutes": SESSION_TTL_S // 60,
        },
        status=401 if error else 200,
    )
    response.set_cookie(
        LOGIN_CSRF,
        token,
        httponly=True,
        samesite="strict",
        path="/console/login",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    engine: EngineDep,
    api_key: Annotated[str, Form(max_length=400)],
    csrf_token: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    """Exchange an API key for a session cookie; a wrong key shows the form again."""
    expected = request.cookies.get(LOGIN_CSRF, "")
    if not expected or not secrets.compare_digest(expected, csrf_token):
        t = i18n.translator(i18n.pick_language(request))
        return login_page(
            request, next, 0, t("The form expired or came from another page; reload and try again.")
        )
    try:
        principal, token = sign_in(request, engine, api_key)
    except AuthenticationError as exc:
        t = i18n.translator(i18n.pick_language(request))
        return login_page(
            request, next, 0, t("That key was not accepted: {reason}").format(reason=exc.message)
        )
    language = i18n.pick_language(request)
    user = ConsoleUser(
        principal,
        language,
        i18n.translator(language),
        session_csrf(request.app.state.jwt_secret, token),
    )
    response = RedirectResponse(_safe_next(next) or home_of(user), status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        max_age=SESSION_TTL_S,
        httponly=True,
        samesite="strict",
        path="/console",
        secure=request.url.scheme == "https",
    )
    response.delete_cookie(LOGIN_CSRF, path="/console/login")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End the session (the cookie is dropped; the key itself stays valid)."""
    await check_csrf(request)
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(COOKIE, path="/console")
    return response


@router.get("/language/{language}")
def choose_language(request: Request, language: str, back: str | None = None) -> Response:
    """Remember the reader's language and go back to the page they were on."""
    if language not in i18n.LANGUAGES:
        language = i18n.DEFAULT
    response = RedirectResponse(_safe_next(back) or "/console", status_code=303)
    response.set_cookie(
        i18n.COOKIE, language, max_age=365 * 86400, samesite="strict", path="/console"
    )
    return response
