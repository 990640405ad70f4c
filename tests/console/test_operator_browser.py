"""The operator in a real browser (Debian's chromium): sign in with the keyboard, look at the
park and its delivery day, approve the sample park's day before the gate, read alerts and
job runs; in English and in Chinese, at 1366x768 without horizontal scrolling.

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
from tests.console.seed import REPO, Seeded, replay_clock, seeded_copy
from vpp.api.app import create_app
from vpp.api.config import ApiSettings
from vpp.api.conventions import configure_api
from vpp.settings import Settings

pytestmark = pytest.mark.slow


@pytest.fixture
def seeded(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    return seeded_copy(tmp_path, tmp_path_factory.getbasetemp() / "console-template")


@pytest.fixture
def base_url(
    seeded: Seeded, live_server: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> str:
    replay_clock(monkeypatch, seeded.forecast_at + pd.Timedelta(hours=1))
    app = create_app(Settings(database_url=seeded.url, config_dir=REPO / "config"))
    configure_api(app, ApiSettings(admin_key=ADMIN_KEY))
    return live_server(app)


def _no_horizontal_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1366, f"{page.url} scrolls sideways ({width} px wide)"


def _charts_drawn(page: Page, *names: str) -> None:
    for name in names:
        expect(page.locator(f"[data-chart='{name}'] canvas").first).to_be_visible()


def _sign_in_with_the_keyboard(page: Page, base_url: str, key: str) -> None:
    page.goto(f"{base_url}/console")
    expect(page.locator("#api_key")).to_be_focused()  # autofocus: type at once
    page.keyboard.type(key)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/console/login" not in url)


def test_the_operator_approves_the_sample_day_before_the_gate(
    page: Page, base_url: str, seeded: Seeded, shot: Callable[..., Path]
) -> None:
    _sign_in_with_the_keyboard(page, base_url, seeded.keys["operator"])
    expect(page).to_have_url(f"{base_url}/console/parks")
    expect(page.get_by_role("heading", name="Parks", exact=True)).to_be_visible()
    _no_horizontal_scroll(page)
    shot(page, "parks")

    page.get_by_role("link", name="Haute Borne zero-carbon demo park").click()
    expect(page.get_by_role("heading", name="Portfolio envelope · 2021-05-05")).to_be_visible()
    _charts_drawn(page, "envelope")
    _no_horizontal_scroll(page)
    shot(page, "park-overview")

    page.get_by_role("link", name="Day view →").click()
    expect(page.get_by_role("heading", name="Bids await your approval")).to_be_visible()
    _charts_drawn(page, "price", "curves")
    countdown = page.locator(".countdown")
    expect(countdown).to_contain_text("h")  # the gate closes about three hours later
    first = countdown.inner_text()
    expect(countdown).not_to_have_text(first)  # it counts (waits, however busy the machine)
    # the interval slider is keyboard usable and redraws the curves
    slider = page.locator("#curve-interval")
    slider.focus()
    before = page.locator("#curve-interval-label").inner_text()
    page.keyboard.press("ArrowLeft")
    assert page.locator("#curve-interval-label").inner_text() != before
    _no_horizontal_scroll(page)
    shot(page, "day-in-review")

    page.get_by_label("Note (optional, recorded in the audit log)").fill("curves checked")
    page.get_by_role("button", name="Approve").click()
    expect(page.locator("p[role=status]")).to_contain_text("Approved.")
    expect(page.get_by_role("cell", name="curves checked", exact=False).first).to_be_visible()
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    shot(page, "day-approved")

    page.get_by_role("link", name="Alerts and jobs").click()
    expect(page.get_by_role("heading", name="Job runs")).to_be_visible()
    expect(page.get_by_text("curves checked").first).to_be_visible()
    _no_horizontal_scroll(page)
    shot(page, "alerts-and-jobs")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{base_url}/console/login")


@pytest.mark.parametrize("locale", ["zh-CN"])
def test_the_console_reads_in_chinese(
    page: Page, base_url: str, seeded: Seeded, shot: Callable[..., Path]
) -> None:
    _sign_in_with_the_keyboard(page, base_url, seeded.keys["operator"])
    expect(page.get_by_role("heading", name="园区", exact=True)).to_be_visible()
    page.goto(f"{base_url}/console/parks/{seeded.park_id}/days/{seeded.day}")
    expect(page.get_by_role("heading", name="报价待您批准")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    _charts_drawn(page, "price")
    _no_horizontal_scroll(page)
    shot(page, "day-zh")
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", name="Bids await your approval")).to_be_visible()


def test_the_operator_rejects_and_a_tenant_cannot_see_operator_pages(
    page: Page, base_url: str, seeded: Seeded, shot: Callable[..., Path], page_watch: PageWatch
) -> None:
    _sign_in_with_the_keyboard(page, base_url, seeded.keys["operator"])
    page.goto(f"{base_url}/console/parks/{seeded.park_id}/days/{seeded.day}")
    page.get_by_label("Reason (required, recorded in the audit log)").fill("forecast is stale")
    page.get_by_role("button", name="Reject").click()
    expect(page.locator("p[role=status]")).to_contain_text("bid again at the next scheduler tick")
    expect(page.get_by_role("button", name="Reject")).to_have_count(0)
    _charts_drawn(page, "price")
    shot(page, "day-rejected")

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{base_url}/console/login")  # and its scripts: the next goto aborts them
    _sign_in_with_the_keyboard(page, base_url, seeded.keys["cellco"])
    expect(page).to_have_url(f"{base_url}/console/enterprises/cellco/assets")
    page_watch.expect_status(403, "/console/parks")
    page.goto(f"{base_url}/console/parks/{seeded.park_id}/days/{seeded.day}")
    expect(page.get_by_role("alert")).to_contain_text("enterprise session cannot open this page")
    shot(page, "tenant-refused")
