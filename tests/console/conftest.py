"""Browser-test harness: the app on a live port, Debian's chromium driven by Playwright (sync API).

Fixtures:

- ``make_app(folder, **api_settings) -> FastAPI`` (session): the API on a fresh SQLite file in
  ``folder``, with :data:`ADMIN_KEY` as the bootstrap admin key (``admin_key`` fixture).
- ``serve(app)`` (session): a context manager that runs ``app`` with uvicorn in a background
  thread on 127.0.0.1 and a free port, waits for ``/healthz``, yields the base URL
  (``http://127.0.0.1:PORT``) and shuts the server down on exit. Use it in a module-scoped
  fixture to share one server across a file.
- ``live_server(app=None, **api_settings) -> str`` (function): the same, for one test; without
  ``app`` it serves ``make_app(tmp_path, **api_settings)``.
- ``browser`` (session): chromium from ``$VPP_CHROMIUM`` or ``/usr/bin/chromium``, headless
  (``--no-sandbox`` as root). A missing executable FAILS the test, saying to run ``make test``
  (which installs Debian's chromium): browser tests never skip.
- ``locale`` (function): ``"en-US"``; ``@pytest.mark.parametrize("locale", ["zh-CN"])`` changes it.
- ``page`` (function): a page in a new context (1366x768, ``locale``). Every request to a host
  other than 127.0.0.1/localhost/[::1] is aborted. At teardown the test fails, listing them,
  if there was any console error, uncaught page error, failed request, response >= 400 not
  declared with ``page_watch.expect_status``, or request that tried to leave loopback.
- ``page_watch`` (function): what ``page`` records (:class:`PageWatch`); declare expected
  errors on it, or call ``page_watch.check()`` to fail early.
- ``shot(page, name, full_page=True) -> Path`` (function): a PNG of the page at
  ``test-results/<module>-<test name>/<NN>-<name>.png`` (NN counts the test's shots from 01;
  ``full_page=False`` keeps to the viewport).

Playwright is never asked to download a browser: ``make test`` installs Debian's.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Request,
    Response,
    Route,
    WebError,
    WebSocket,
    expect,
    sync_playwright,
)

from vpp.api.app import create_app
from vpp.api.config import ApiSettings
from vpp.api.conventions import configure_api
from vpp.settings import Settings

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "test-results"
CHROMIUM = os.environ.get("VPP_CHROMIUM", "/usr/bin/chromium")
ADMIN_KEY = "test-admin-key-" + "x" * 32
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
VIEWPORT = {"width": 1366, "height": 768}
STARTUP_TIMEOUT_S = 60.0
WAIT_MS = 60_000
"""How long an action or an ``expect`` waits for the page: a bound for a hang, not a timing
check (the defaults, 5 s for ``expect``, ran out when the other worker was seeding a database
on this 2-core machine)."""
expect.set_options(timeout=WAIT_MS)
Pattern = str | re.Pattern[str]


# --- the app on a live port ---------------------------------------------------------------


def build_app(folder: Path, **api_settings: Any) -> FastAPI:
    """The API on a fresh SQLite file in ``folder`` with :data:`ADMIN_KEY` (as tests/api builds it)."""
    app = create_app(Settings(database_url=f"sqlite:///{folder / 'console.sqlite'}"))
    configure_api(app, ApiSettings(admin_key=ADMIN_KEY, **api_settings))  # type: ignore[arg-type]
    return app


@contextmanager
def serve_app(app: FastAPI) -> Iterator[str]:
    """Run ``app`` on 127.0.0.1 and a free port in a thread; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn-{port}", daemon=True
    )
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(url, server, thread)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
        if thread.is_alive():  # pragma: no cover - a hung shutdown
            server.force_exit = True
            thread.join(timeout=5)


def _wait_until_healthy(url: str, server: uvicorn.Server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    with httpx.Client(trust_env=False, timeout=5) as client:
        while time.monotonic() < deadline:
            if not thread.is_alive():
                raise RuntimeError(f"the test server at {url} stopped while starting (see the log)")
            if server.started:
                try:
                    if client.get(f"{url}/healthz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
            time.sleep(0.05)
    raise RuntimeError(f"the test server at {url} did not answer /healthz in {STARTUP_TIMEOUT_S} s")


@pytest.fixture(scope="session")
def admin_key() -> str:
    """The bootstrap admin key of apps built by ``make_app`` / ``live_server``."""
    return ADMIN_KEY


@pytest.fixture(scope="session")
def make_app() -> Callable[..., FastAPI]:
    """``make_app(folder, **api_settings)``: the API on a fresh SQLite file in ``folder``."""
    return build_app


@pytest.fixture(scope="session")
def serve() -> Callable[[FastAPI], AbstractContextManager[str]]:
    """``with serve(app) as base_url:`` runs ``app`` on a free loopback port."""
    return serve_app


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """``live_server(app=None, **api_settings) -> base URL``, stopped when the test ends."""
    with ExitStack() as stack:
        started: list[str] = []

        def start(app: FastAPI | None = None, **api_settings: Any) -> str:
            if app is None:
                folder = tmp_path / f"server-{len(started)}"
                folder.mkdir()
                app = build_app(folder, **api_settings)
            elif api_settings:
                configure_api(app, ApiSettings(admin_key=ADMIN_KEY, **api_settings))  # type: ignore[arg-type]
            started.append(stack.enter_context(serve_app(app)))
            return started[-1]

        yield start


# --- the browser ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless chromium from Debian's package (``$VPP_CHROMIUM`` overrides the path)."""
    executable = Path(CHROMIUM)
    if not (executable.is_file() and os.access(executable, os.X_OK)):
        pytest.fail(
            f"no chromium at {executable}: run `make test` (it installs Debian's chromium and "
            "fonts-wqy-microhei), or set VPP_CHROMIUM to a chromium executable",
            pytrace=False,
        )
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(executable), headless=True, args=args
        )
        yield launched
        launched.close()


class PageWatch:
    """What went wrong in a page's context: console errors, page errors, failed requests,
    unexpected HTTP errors and requests that tried to leave loopback (those are aborted)."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.left_loopback: list[str] = []
        self._expected_status: list[tuple[int, Pattern]] = []
        self._allowed_console: list[Pattern] = []
        self._allowed_failures: list[Pattern] = []
        self._excused_urls: set[tuple[int, str]] = set()

    def expect_status(self, status: int, url: Pattern = "") -> None:
        """Responses with ``status`` whose URL contains (str) or matches (pattern) ``url`` are
        expected, with the console error chromium logs for them."""
        self._expected_status.append((status, url))

    def allow_console_error(self, text: Pattern) -> None:
        """Console errors containing (str) or matching (pattern) ``text`` are expected."""
        self._allowed_console.append(text)

    def allow_failed_request(self, url: Pattern) -> None:
        """Failed requests (e.g. aborted by a navigation) to a matching URL are expected."""
        self._allowed_failures.append(url)

    def check(self) -> None:
        """Fail the test now if anything was recorded (and forget it)."""
        found = [*(f"request left loopback: {url}" for url in self.left_loopback), *self.problems]
        self.problems.clear()
        self.left_loopback.clear()
        if found:
            listed = "\n  ".join(found)
            pytest.fail(f"{len(found)} browser problem(s):\n  {listed}", pytrace=False)

    # event handlers

    def on_route(self, route: Route) -> None:
        url = route.request.url
        if is_loopback(url):
            route.continue_()
        else:
            self.left_loopback.append(f"{route.request.method} {url}")
            route.abort("blockedbyclient")

    def on_websocket(self, websocket: WebSocket) -> None:
        if not is_loopback(websocket.url):
            self.left_loopback.append(f"WebSocket {websocket.url}")

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        where = message.location.get("url", "")
        status = re.match(
            r"Failed to load resource: the server responded with a status of (\d+)", message.text
        )
        if status and (int(status.group(1)), where) in self._excused_urls:
            return
        if status and self._is_expected(int(status.group(1)), where):
            return
        if any(_matches(allowed, message.text) for allowed in self._allowed_console):
            return
        if "ERR_BLOCKED_BY_CLIENT" in message.text and self.left_loopback:
            return  # the blocked request is listed as leaving loopback
        self.problems.append(f"console error: {message.text} ({where or 'no location'})")

    def on_page_error(self, error: WebError) -> None:
        self.problems.append(f"page error: {error.error}")

    def on_request_failed(self, request: Request) -> None:
        if not is_loopback(request.url):
            return  # aborted by on_route, listed there
        if any(_matches(allowed, request.url) for allowed in self._allowed_failures):
            return
        self.problems.append(f"request failed: {request.method} {request.url}: {request.failure}")

    def on_response(self, response: Response) -> None:
        if response.status < 400:
            return
        if self._is_expected(response.status, response.url):
            self._excused_urls.add((response.status, response.url))
            return
        request = response.request
        self.problems.append(f"HTTP {response.status}: {request.method} {response.url}")

    def _is_expected(self, status: int, url: str) -> bool:
        return any(s == status and _matches(p, url) for s, p in self._expected_status)


def _matches(pattern: Pattern, text: str) -> bool:
    return pattern in text if isinstance(pattern, str) else pattern.search(text) is not None


def is_loopback(url: str) -> bool:
    """Whether ``url`` stays on this machine (data:, blob: and about: URLs do)."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https", "ws", "wss"}:
        return True
    return parts.hostname in LOOPBACK


@pytest.fixture
def locale() -> str:
    """The browser context's locale; parametrize ``locale`` to change it."""
    return "en-US"


@pytest.fixture
def page_watch() -> PageWatch:
    """The problems ``page`` records; declare expected ones on it."""
    return PageWatch()


@pytest.fixture
def page(browser: Browser, locale: str, page_watch: PageWatch) -> Iterator[Page]:
    """A page in a fresh 1366x768 context; the test fails at teardown on any recorded problem."""
    context: BrowserContext = browser.new_context(viewport=VIEWPORT, locale=locale)
    context.set_default_timeout(WAIT_MS)
    context.set_default_navigation_timeout(WAIT_MS)
    context.route("**/*", page_watch.on_route)
    context.on("console", page_watch.on_console)
    context.on("weberror", page_watch.on_page_error)
    context.on("requestfailed", page_watch.on_request_failed)
    context.on("response", page_watch.on_response)
    context.on("page", lambda opened: opened.on("websocket", page_watch.on_websocket))
    new_page = context.new_page()
    try:
        yield new_page
    finally:
        context.close()
    page_watch.check()


# --- screenshots ----------------------------------------------------------------------------


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Callable[..., Path]:
    """``shot(page, name, full_page=True)``: save a PNG under ``test-results/``, return its path."""
    module = Path(str(request.node.path)).stem
    folder = RESULTS / _safe(f"{module}-{request.node.name}")
    taken = 0

    def take(page: Page, name: str, *, full_page: bool = True) -> Path:
        nonlocal taken
        if taken == 0 and folder.is_dir():
            for old in folder.glob("*.png"):
                old.unlink()
        taken += 1
        path = folder / f"{taken:02d}-{_safe(name)}.png"
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "shot"
