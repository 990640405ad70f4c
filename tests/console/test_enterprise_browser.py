"""An enterprise in a real browser (Debian's chromium): sign in, enrol an asset (refused once
with the error at its field, then fixed), record a consent, upload meter data with a progress
bar and read the result, open earnings and statements and download a statement; every page at
1366x768 without horizontal scrolling, in English and in Chinese.

Screenshots land in ``test-results/``; any console error, failed request or request leaving
loopback fails the test (``tests/console/conftest.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import Page, expect

from tests.console.conftest import ADMIN_KEY, PageWatch
from tests.console.seed import REPO, Seeded, seeded_copy
from tests.settlement.two_parks import seed_two_parks
from vpp.api.app import create_app
from vpp.api.config import ApiSettings
from vpp.api.conventions import configure_api
from vpp.settings import Settings

pytestmark = pytest.mark.slow
PAGES = ("assets", "consents", "telemetry", "earnings", "statements")


def _app(url: str) -> object:
    app = create_app(Settings(database_url=url, config_dir=REPO / "config"))
    configure_api(app, ApiSettings(admin_key=ADMIN_KEY))
    return app


@pytest.fixture
def seeded(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    return seeded_copy(tmp_path, tmp_path_factory.getbasetemp() / "console-template")


@pytest.fixture
def base_url(seeded: Seeded, live_server: Callable[..., str]) -> str:
    return live_server(_app(seeded.url))


def _no_horizontal_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1366, f"{page.url} scrolls sideways ({width} px wide)"


def _sign_in(page: Page, base_url: str, key: str) -> None:
    page.goto(f"{base_url}/console")
    expect(page.locator("#api_key")).to_be_focused()
    page.keyboard.type(key)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/console/login" not in url)


def _meter_file(rows: int, bad_row: int) -> bytes:
    """``rows`` quarter-hours of a 1 MW battery in May 2021, row ``bad_row`` (1-based) at 7.5 MW."""
    start = pd.Timestamp("2021-05-01T00:00:00Z")
    lines = ["timestamp,power_mw"]
    for k in range(rows):
        power = 7.5 if k + 1 == bad_row else round(0.8 * ((k % 8) - 3.5) / 3.5, 3)
        lines.append(f"{(start + pd.Timedelta(minutes=15 * k)).isoformat()},{power}")
    return ("\n".join(lines) + "\n").encode()


def test_an_enterprise_enrols_consents_uploads_and_reads_its_money(
    page: Page,
    base_url: str,
    seeded: Seeded,
    page_watch: PageWatch,
    shot: Callable[..., Path],
) -> None:
    base = f"{base_url}/console/enterprises/cellco"
    page_watch.expect_status(422, f"{base}/assets")
    _sign_in(page, base_url, seeded.keys["cellco"])
    expect(page).to_have_url(f"{base}/assets")
    expect(page.get_by_role("heading", name="Assets of Lorraine Cell Works")).to_be_visible()
    expect(page.locator("#asset-bess-cellco")).to_contain_text("passed")
    _no_horizontal_scroll(page)
    shot(page, "assets")

    # choose the asset type with the keyboard, then fill in its figures
    page.get_by_label("Asset type").select_option("curtailable_load")
    page.get_by_role("button", name="Choose").click()
    expect(page.get_by_role("heading", name="Curtailable load")).to_be_visible()
    page.get_by_label("Asset id").fill("cell-formation")
    page.get_by_label("Name", exact=True).fill("Formation racks")
    page.get_by_label("Largest reduction").fill("0.8")
    page.get_by_label("Longest curtailment").fill("60")
    page.get_by_label("Availability windows").fill("06:00-22:00")
    page.get_by_label("Nominated capacity").fill("1.2")  # more than it can curtail
    shot(page, "enrol-form")
    page.get_by_role("button", name="Enrol", exact=True).click()

    nominated = page.get_by_label("Nominated capacity")
    expect(nominated).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-nominated_mw-error")).to_contain_text(
        "exceeds its physical flexibility"
    )
    expect(page.get_by_label("Asset id")).to_have_value("cell-formation")  # kept
    expect(page.get_by_label("Largest reduction")).to_have_value("0.8")
    expect(page.locator("[aria-invalid='true']")).to_have_count(1)
    _no_horizontal_scroll(page)
    shot(page, "enrol-inline-error")

    nominated.fill("0.6")
    page.get_by_role("button", name="Enrol", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Asset cell-formation enrolled")
    row = page.locator("#asset-cell-formation")
    expect(row).to_contain_text("unverified")
    expect(row).to_contain_text("0.80 MW · 60 min")
    shot(page, "enrolled")

    # consent for the new asset in one product
    page.get_by_role("link", name="Consents").first.click()
    expect(page.get_by_role("heading", name="Record a consent")).to_be_visible()
    page.get_by_label("cell-formation").check()
    page.get_by_label("da_energy").check()
    page.get_by_label("Agreed by").fill("Anne Meyer, plant manager")
    page.get_by_label("Agreed at").fill("2021-05-03T09:30")
    page.get_by_role("button", name="Record consent").click()
    expect(page.get_by_role("status")).to_contain_text("Consent recorded.")
    product = page.locator("tr", has=page.locator("code", has_text="da_energy"))
    expect(product.first).to_contain_text("cell-formation")
    expect(page.locator("table").last).to_contain_text("2021-05-03 09:30")
    _no_horizontal_scroll(page)
    shot(page, "consent-recorded")

    # a meter-data file with one bad row: refused whole, then its valid rows written
    page.get_by_role("link", name="Telemetry").first.click()
    expect(page.locator("[data-chart='lines'] canvas").first).to_be_visible()  # pv readings
    shot(page, "telemetry")
    page.get_by_label("Asset", exact=True).select_option("bess-cellco")
    upload = {"name": "bess-may.csv", "mimeType": "text/csv", "buffer": _meter_file(2900, 17)}
    page.get_by_label("File").set_input_files(upload)
    page.get_by_role("button", name="Upload", exact=True).click()
    result = page.locator(".upload-result")
    expect(result).to_contain_text("1 of 2900 rows rejected; nothing was written")
    expect(result.locator("table.rejected tbody tr")).to_have_count(1)
    expect(result.locator("table.rejected tbody tr")).to_contain_text("17")
    progress = page.locator("form.upload progress")
    expect(progress).to_be_visible()
    assert progress.evaluate("bar => bar.value") == 100
    shot(page, "upload-refused")

    page.get_by_label("File").set_input_files(upload)
    page.get_by_label("Write the valid rows even if others are refused").check()
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(result).to_contain_text("2,899 of 2,900 rows written to bess-cellco.")
    readings = page.locator("#telemetry-live table").last
    expect(readings.locator("tr", has_text="bess-cellco")).to_contain_text("2021-05-31")
    expect(page.locator("[data-chart='lines'] canvas").first).to_be_visible()  # drawn again
    _no_horizontal_scroll(page)
    shot(page, "upload-written")

    page.get_by_role("link", name="Earnings").first.click()
    expect(page.get_by_text("No earnings yet: no statement has been issued.")).to_be_visible()
    shot(page, "earnings-empty")
    page.get_by_role("link", name="Statements").first.click()
    expect(page.get_by_text("No statements yet.")).to_be_visible()
    shot(page, "statements-empty")


@pytest.fixture
def settled_url(tmp_path: Path, live_server: Callable[..., str]) -> tuple[str, str]:
    """Two parks with February 2026 issued; the base URL and an enterprise key of ``a1``."""
    from fastapi.testclient import TestClient

    url = f"sqlite:///{tmp_path / 'two-parks.sqlite'}"
    seed_two_parks(url)
    app = _app(url)
    admin = {"X-API-Key": ADMIN_KEY}
    with TestClient(app) as client:  # type: ignore[arg-type]
        issued = client.post("/v1/parks/pa/settlements", json={"month": "2026-02"}, headers=admin)
        assert issued.status_code == 200, issued.text
        body = {"role": "enterprise", "enterprise_id": "a1", "label": "a1"}
        key = client.post("/v1/api-keys", json=body, headers=admin).json()["key"]
    return live_server(_app(url)), key


def test_an_enterprise_reads_its_earnings_and_downloads_a_statement(
    page: Page, settled_url: tuple[str, str], shot: Callable[..., Path], tmp_path: Path
) -> None:
    base_url, key = settled_url
    _sign_in(page, base_url, key)
    page.get_by_role("link", name="Earnings").click()
    expect(page.get_by_role("heading", name="Earnings per month")).to_be_visible()
    expect(page.locator("[data-chart='amounts'] canvas")).to_have_count(2)
    expect(page.locator("tr", has_text="2026-02").first).to_contain_text("2,240.00")
    _no_horizontal_scroll(page)
    shot(page, "earnings")

    page.get_by_role("link", name="Statements").click()
    expect(page.get_by_role("heading", name="Monthly statements")).to_be_visible()
    expect(page.get_by_text("2,240.00 CNY").first).to_be_visible()
    _no_horizontal_scroll(page)
    shot(page, "statements")
    with page.expect_download() as download:
        page.get_by_label("Statement a1:cn-shandong:2026-02 version 1 as PDF").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == "pa_2026-02_a1_v1.pdf" and saved.read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize("locale", ["zh-CN"])
def test_the_enterprise_pages_read_in_chinese_without_sideways_scrolling(
    page: Page, base_url: str, seeded: Seeded, shot: Callable[..., Path]
) -> None:
    _sign_in(page, base_url, seeded.keys["cellco"])
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    for name in PAGES:
        page.goto(f"{base_url}/console/enterprises/cellco/{name}")
        expect(page.locator("h1")).to_be_visible()
        _no_horizontal_scroll(page)
        shot(page, name)
    page.goto(f"{base_url}/console/enterprises/cellco/assets?type=ev_fleet")
    _no_horizontal_scroll(page)
    shot(page, "enrol-ev-fleet")
