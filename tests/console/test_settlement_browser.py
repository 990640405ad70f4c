"""The settlement team in a real browser (Debian's chromium): sign in with the keyboard, open May
2021 of the sample park (one settled day of 31), issue it with a named and reasoned override,
download statements as PDF and XLSX, reconcile with the operator's file; in English and in
Chinese, at 1366x768 without horizontal scrolling.

Screenshots land in ``test-results/``; any console error, failed request or request leaving
loopback fails the test (``tests/console/conftest.py``).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.console.conftest import ADMIN_KEY
from tests.console.seed import REPO, Seeded
from tests.console.test_settlement_pages import MONTH, operator_csv, settled_copy
from vpp.api.app import create_app
from vpp.api.config import ApiSettings
from vpp.api.conventions import configure_api
from vpp.settings import Settings

pytestmark = pytest.mark.slow


@pytest.fixture
def seeded(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    return settled_copy(tmp_path, tmp_path_factory.getbasetemp())


@pytest.fixture
def base_url(seeded: Seeded, live_server: Callable[..., str]) -> str:
    app = create_app(Settings(database_url=seeded.url, config_dir=REPO / "config"))
    configure_api(app, ApiSettings(admin_key=ADMIN_KEY))
    return live_server(app)


def _no_horizontal_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1366, f"{page.url} scrolls sideways ({width} px wide)"


def _sign_in_with_the_keyboard(page: Page, base_url: str, key: str) -> None:
    page.goto(f"{base_url}/console")
    expect(page.locator("#api_key")).to_be_focused()
    page.keyboard.type(key)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/console/login" not in url)


def _download(page: Page, row: str, fmt: str, folder: Path) -> Path:
    link = page.get_by_role("row", name=re.compile(row)).get_by_role("link", name=fmt.upper())
    with page.expect_download() as started:
        link.click()
    download = started.value
    assert download.failure() is None
    name = download.suggested_filename
    assert name.endswith(f".{fmt}") and row in name, name
    path = folder / name
    download.save_as(path)
    return path


def test_the_settlement_team_issues_a_month_with_an_override_and_downloads_it(
    page: Page, base_url: str, seeded: Seeded, shot: Callable[..., Path], tmp_path: Path
) -> None:
    _sign_in_with_the_keyboard(page, base_url, seeded.keys["settlement"])
    expect(page).to_have_url(f"{base_url}/console/settlement")
    expect(page.get_by_role("heading", name="Monthly settlement")).to_be_visible()
    row = page.get_by_role("row", name=re.compile(MONTH))
    expect(row).to_contain_text("1 / 31")
    expect(row).to_contain_text("open")
    _no_horizontal_scroll(page)
    shot(page, "months")

    row.get_by_role("link", name=MONTH).click()
    expect(
        page.get_by_role("heading", name=re.compile(f"Monthly settlement {MONTH}"))
    ).to_be_visible()
    expect(page.get_by_text("1 of 31 days settled")).to_be_visible()
    expect(page.get_by_text("Draft: recomputed from the stored data, not issued.")).to_be_visible()
    _no_horizontal_scroll(page)
    shot(page, "month-open")

    # the override form with the keyboard only: tick, name, reason, submit
    page.get_by_label("I authorise issuing although data is missing").focus()
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    page.keyboard.type("Anna Weber, head of finance")
    page.keyboard.press("Tab")
    page.keyboard.type("only the demo day is replayed")
    shot(page, "override-filled")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Issue with override")).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"\?issued=6"), timeout=60_000)  # settles the month again
    expect(page.get_by_role("status").first).to_contain_text("Issued 6 statement(s).")
    expect(page.get_by_role("heading", level=1)).to_contain_text("issued v1")
    expect(page.get_by_role("heading", name="Correct month")).to_be_visible()
    history = page.get_by_role("table").filter(has_text="only the demo day is replayed")
    expect(history).to_contain_text("Anna Weber, head of finance")
    _no_horizontal_scroll(page)
    shot(page, "month-issued")

    pdf = _download(page, "cellco", "pdf", tmp_path)
    assert pdf.read_bytes().startswith(b"%PDF")
    xlsx = _download(page, "cellco", "xlsx", tmp_path)
    assert zipfile.ZipFile(xlsx).namelist()
    aggregator = _download(page, "aggregator", "pdf", tmp_path)
    assert aggregator.read_bytes().startswith(b"%PDF")
    shot(page, "downloaded")


def test_the_operator_file_is_reconciled_in_place(
    page: Page, base_url: str, seeded: Seeded, shot: Callable[..., Path]
) -> None:
    _sign_in_with_the_keyboard(page, base_url, seeded.keys["settlement"])
    page.goto(f"{base_url}/console/settlement/parks/{seeded.park_id}/months/{MONTH}")
    content = operator_csv(seeded, change=-12.5)
    rows = content.decode().count("\n") - 1
    page.get_by_label(re.compile("Operator file")).set_input_files(
        files=[{"name": "operator.csv", "mimeType": "text/csv", "buffer": content}]
    )
    page.get_by_role("button", name="Reconcile").click()
    result = page.locator("#reconciliation")
    match = f"{rows - 1} of {rows} day/product rows match to the cent."
    expect(result).to_contain_text(match, timeout=30_000)
    expect(result).to_contain_text("Rows that differ (1)")
    expect(page.locator("form progress")).to_have_attribute("value", "100")
    assert page.url.endswith(f"/months/{MONTH}")  # htmx: the page stays
    _no_horizontal_scroll(page)
    shot(page, "reconciled")


@pytest.mark.parametrize("locale", ["zh-CN"])
def test_the_settlement_pages_read_in_chinese(
    page: Page, base_url: str, seeded: Seeded, shot: Callable[..., Path]
) -> None:
    _sign_in_with_the_keyboard(page, base_url, seeded.keys["settlement"])
    expect(page.get_by_role("heading", name="月度结算")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    _no_horizontal_scroll(page)
    shot(page, "months-zh")
    page.get_by_role("link", name=MONTH).click()
    expect(page.get_by_role("heading", name="数据完整性")).to_be_visible()
    expect(page.get_by_role("button", name="强制出具")).to_be_visible()
    _no_horizontal_scroll(page)
    shot(page, "month-zh")
