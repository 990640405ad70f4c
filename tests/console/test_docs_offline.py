"""The API docs (/docs Swagger UI, /redoc ReDoc) render from the service's own files, offline.

In chromium, every request of both pages stays on loopback (the ``page`` fixture aborts and
reports any other); without a browser, their HTML names no URL of another host; and without
the vendored files they answer 503 saying to run ``make``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from vpp.api import docs

URL = re.compile(r"""(?:https?:)?//[^\s"'<>)]+""")


@pytest.fixture(scope="module")
def base_url(
    make_app: Callable[..., FastAPI],
    serve: Callable[[FastAPI], AbstractContextManager[str]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    with serve(make_app(tmp_path_factory.mktemp("docs"))) as url:
        yield url


def test_swagger_ui_renders_from_loopback_only(
    page: Page, base_url: str, shot: Callable[..., Path]
) -> None:
    page.goto(f"{base_url}/docs")
    operations = page.locator(".opblock")
    expect(operations.first).to_be_visible()
    assert operations.count() > 10
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("parkvpp")
    page.wait_for_load_state("networkidle")
    shot(page, "swagger-ui")


def test_redoc_renders_from_loopback_only(
    page: Page, page_watch: Any, base_url: str, shot: Callable[..., Path]
) -> None:
    # ReDoc 2.x's sidebar footer always asks cdn.redoc.ly for its logo; the docs' CSP refuses it
    # before any request is made, and chromium logs the refusal.
    page_watch.allow_console_error(
        re.compile(r"cdn\.redoc\.ly/redoc/logo-mini\.svg.*Content Security")
    )
    page.goto(f"{base_url}/redoc")
    expect(page.locator("h1").first).to_contain_text("parkvpp")
    operation = page.locator("h2").filter(has_text="Liveness")
    expect(operation.first).to_be_visible()
    page.wait_for_load_state("networkidle")
    shot(page, "redoc", full_page=False)  # the whole page is ~60,000 px tall


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/docs/oauth2-redirect"])
def test_docs_html_names_no_other_host(base_url: str, path: str) -> None:
    with httpx.Client(trust_env=False) as client:
        answer = client.get(base_url + path)
    assert answer.status_code == 200
    foreign = [u for u in URL.findall(answer.text) if urlsplit(u).hostname != "127.0.0.1"]
    assert foreign == []
    assert "/console/static/vendor/" in answer.text or path.endswith("redirect")


def test_docs_pages_may_load_from_the_service_only(base_url: str) -> None:
    with httpx.Client(trust_env=False, base_url=base_url) as client:
        for path in ("/docs", "/redoc"):
            policy = client.get(path).headers["content-security-policy"]
            assert "default-src 'self'" in policy
            assert "http" not in policy
        assert '"validatorUrl": null' in client.get("/docs").text


def test_vendored_files_are_served(base_url: str) -> None:
    with httpx.Client(trust_env=False, base_url=base_url) as client:
        for name in (*docs.SWAGGER_FILES, *docs.REDOC_FILES):
            answer = client.get(f"{docs.VENDOR_URL}/{name}")
            assert answer.status_code == 200, name
            assert len(answer.content) > 100_000, name


def test_missing_vendor_files_answer_503_saying_to_run_make(
    make_app: Callable[..., FastAPI], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(docs, "VENDOR_DIR", tmp_path / "absent")
    with TestClient(make_app(tmp_path)) as client:
        for path in ("/docs", "/redoc"):
            answer = client.get(path)
            assert answer.status_code == 503
            assert answer.headers["content-type"].startswith("text/plain")
            assert "run `make`" in answer.text.lower()
