"""Interactive API docs from the service itself: Swagger UI at ``/docs``, ReDoc at ``/redoc``.

FastAPI's own pages load Swagger UI and ReDoc from a CDN (and ReDoc its fonts from Google); these
load the copies that ``make console-assets`` vendors into ``vpp/console/static/vendor/`` (pinned
in ``console-assets/package-lock.json``), served under ``/console/static/vendor/`` by the
``console-static`` mount, which the web console shares. The favicon is a data URL and Swagger
UI's validator badge is off, and a Content-Security-Policy lets the pages load from the service
only, so a page of the docs asks nothing of any other host.

When the vendored files are missing (a checkout where ``make`` has not run), ``/docs`` and
``/redoc`` answer 503 with a line saying so, rather than a blank page.
"""

from __future__ import annotations

import base64
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.routing import Mount

STATIC_DIR = Path(__file__).resolve().parents[1] / "console" / "static"
"""``vpp/console/static``: the console's static files; ``vendor/`` holds the npm packages' files."""
VENDOR_DIR = STATIC_DIR / "vendor"
STATIC_URL = "/console/static"
STATIC_MOUNT = "console-static"
"""Name of the StaticFiles mount at :data:`STATIC_URL` (``request.url_for(STATIC_MOUNT, path=...)``)."""
VENDOR_URL = f"{STATIC_URL}/vendor"

SWAGGER_FILES = ("swagger-ui-bundle.js", "swagger-ui.css")
REDOC_FILES = ("redoc.standalone.js",)
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
FAVICON_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    '<rect width="16" height="16" rx="3" fill="#166534"/>'
    '<path d="M9 2 4 9h3l-1 5 5-7H8z" fill="#fde047"/></svg>'
)
FAVICON = "data:image/svg+xml;base64," + base64.b64encode(FAVICON_SVG.encode()).decode()
"""A lightning bolt on green, inline: the docs pages name no URL of another host."""
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'self'"
)
"""The docs pages may load from the service only. FastAPI's Swagger page is an inline script;
ReDoc's search runs in a blob: worker. ReDoc 2.x's sidebar footer always asks for its logo at
cdn.redoc.ly: this refuses it (the browser logs that once, and the footer shows text only)."""


def install_docs(app: FastAPI) -> None:
    """Serve Swagger UI at ``/docs`` and ReDoc at ``/redoc`` from the vendored files.

    Call on an app built with ``docs_url=None, redoc_url=None``. Mounts ``vpp/console/static`` at
    ``/console/static`` (name ``console-static``) unless a mount of that name or path exists.
    Does nothing when the app has no OpenAPI document (``openapi_url=None``).
    """
    mount_console_static(app)
    openapi_url = app.openapi_url
    if openapi_url is None:
        return

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> Response:
        missing = _missing(SWAGGER_FILES)
        if missing:
            return _unavailable("Swagger UI", missing)
        root = _root_path(request)
        page = get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{VENDOR_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{VENDOR_URL}/swagger-ui.css",
            swagger_favicon_url=FAVICON,
            oauth2_redirect_url=root + OAUTH2_REDIRECT_URL,
            init_oauth=app.swagger_ui_init_oauth,
            # no validator badge: Swagger UI would load it from validator.swagger.io
            swagger_ui_parameters={"validatorUrl": None, **(app.swagger_ui_parameters or {})},
        )
        return _guarded(page)

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return _guarded(get_swagger_ui_oauth2_redirect_html())

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> Response:
        missing = _missing(REDOC_FILES)
        if missing:
            return _unavailable("ReDoc", missing)
        root = _root_path(request)
        page = get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{VENDOR_URL}/redoc.standalone.js",
            redoc_favicon_url=FAVICON,
            with_google_fonts=False,
        )
        return _guarded(page)


def mount_console_static(app: FastAPI) -> None:
    """Mount ``vpp/console/static`` at ``/console/static`` as ``console-static``, once."""
    for route in app.routes:
        if isinstance(route, Mount) and (route.name == STATIC_MOUNT or route.path == STATIC_URL):
            return
    # check_dir=False: the app builds even where the folder is absent (then only its requests fail).
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR, check_dir=False), name=STATIC_MOUNT)


def _guarded(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = DOCS_CSP
    return page


def _missing(names: tuple[str, ...]) -> list[str]:
    return [name for name in names if not (VENDOR_DIR / name).is_file()]


def _unavailable(what: str, missing: list[str]) -> PlainTextResponse:
    return PlainTextResponse(
        f"{what} is not available: {', '.join(missing)} missing from vpp/console/static/vendor/.\n"
        "Run `make` in the checkout (`make console-assets`, also run by `make demo`, "
        "`make test` and `make serve`) to vendor the browser files, then reload.\n",
        status_code=503,
    )


def _root_path(request: Request) -> str:
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/")
