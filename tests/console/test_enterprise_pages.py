"""The enterprise's console pages without a browser: assets (enrol, change, outages), consents,
meter-data upload, earnings and statements; errors at their fields, CSRF, tenant isolation and
both languages.

Two databases: the sample park with its demo day in review (``tests/console/seed.py``) for
assets, consents and telemetry, and two parks with a settled February
(``tests/settlement/two_parks.py``) for earnings and statements.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import ADMIN, ADMIN_KEY
from tests.console.seed import REPO, Seeded, csrf_of, replay_clock, seeded_copy, sign_in
from tests.settlement.two_parks import seed_two_parks
from vpp.api.app import create_app
from vpp.api.config import ApiSettings
from vpp.api.conventions import configure_api
from vpp.console import i18n
from vpp.settings import Settings

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BATTERY_FORM = {
    "type": "battery",
    "spec.id": "steel-bess",
    "spec.name": "Melt shop battery",
    "spec.power_mw": "2",
    "spec.energy_mwh": "4",
    "spec.round_trip_efficiency": "0.9",
    "spec.soc_min": "0.1",
    "spec.soc_max": "0.9",
    "spec.soc_initial": "0.5",
    "site_id": "steel-main",
    "nominated_mw": "1.5",
}


def _app(url: str) -> TestClient:
    app = create_app(Settings(database_url=url, config_dir=REPO / "config"))
    configure_api(app, ApiSettings(admin_key=ADMIN_KEY))
    return TestClient(app)


@pytest.fixture
def seeded(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    return seeded_copy(tmp_path, tmp_path_factory.getbasetemp() / "console-template")


@pytest.fixture
def client(seeded: Seeded, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    replay_clock(monkeypatch, seeded.forecast_at + pd.Timedelta(hours=1))
    with _app(seeded.url) as test_client:
        yield test_client


@pytest.fixture
def settled(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """Two parks with February 2026 settled; console keys of enterprises a1 and b1."""
    url = f"sqlite:///{tmp_path / 'two-parks.sqlite'}"
    seed_two_parks(url)
    with _app(url) as test_client:
        for park in ("pa", "pb"):
            issued = test_client.post(
                f"/v1/parks/{park}/settlements", json={"month": "2026-02"}, headers=ADMIN
            )
            assert issued.status_code == 200, issued.text
        keys = {}
        for enterprise in ("a1", "b1"):
            body = {"role": "enterprise", "enterprise_id": enterprise, "label": enterprise}
            created = test_client.post("/v1/api-keys", json=body, headers=ADMIN)
            assert created.status_code == 201, created.text
            keys[enterprise] = created.json()["key"]
        yield test_client, keys


def _base(enterprise: str) -> str:
    return f"/console/enterprises/{enterprise}"


def _api_assets(client: TestClient, enterprise: str) -> dict[str, dict[str, object]]:
    listed = client.get(f"/v1/enterprises/{enterprise}/assets", headers=ADMIN)
    assert listed.status_code == 200, listed.text
    return {a["id"]: a for a in listed.json()["items"]}


def _signed_in(client: TestClient, key: str, page: str) -> str:
    """Sign in and open ``page``: its CSRF token."""
    assert sign_in(client, key).status_code == 303
    opened = client.get(page)
    assert opened.status_code == 200, opened.text
    return csrf_of(opened.text)


def _field(html: str, input_id: str) -> str:
    """The ``<div class="field">`` holding input ``input_id``."""
    found = re.search(
        rf'<div class="field">\s*<label for="{re.escape(input_id)}">.*?</div>', html, re.S
    )
    assert found, f"no field {input_id}"
    return found.group(0)


def _error_at(html: str, input_id: str) -> str:
    """The error shown at ``input_id`` (failing unless the input is marked invalid)."""
    field = _field(html, input_id)
    assert 'aria-invalid="true"' in field, field
    assert f'aria-describedby="{input_id}-error"' in field or f'{input_id}-error"' in field
    error = re.search(rf'<p class="field-error" id="{re.escape(input_id)}-error">(.*?)</p>', field)
    assert error, field
    return error.group(1)


# --- assets ---------------------------------------------------------------------------------


def test_an_enrolled_asset_appears_unverified_and_is_audited_as_the_api_does(
    client: TestClient, seeded: Seeded
) -> None:
    page = f"{_base('steel')}/assets"
    csrf = _signed_in(client, seeded.keys["steel"], page)
    enrolled = client.post(page, data={**BATTERY_FORM, "csrf_token": csrf}, follow_redirects=False)
    assert enrolled.status_code == 303, enrolled.text
    after = client.get(enrolled.headers["location"])
    assert "Asset steel-bess enrolled" in after.text
    row = re.search(r'<tr id="asset-steel-bess".*?</tr>', after.text, re.S)
    assert row, after.text
    assert (
        "v-unverified" in row.group(0) and "1.50" in row.group(0) and "steel-main" in row.group(0)
    )
    assert "2.00</span> MW" in row.group(0) and "4.00</span> MWh" in row.group(0)

    stored = _api_assets(client, "steel")["steel-bess"]
    assert stored["nominated_mw"] == 1.5 and stored["site_id"] == "steel-main"
    assert stored["spec"]["round_trip_efficiency"] == 0.9  # type: ignore[index]
    audit = client.get("/v1/audit", params={"entity": "asset"}, headers=ADMIN).json()["items"]
    entry = next(e for e in audit if e["entity_id"] == "steel-bess")
    assert entry["action"] == "asset.enrol" and entry["actor"].startswith("enterprise:")


@pytest.mark.parametrize(
    ("changes", "input_id", "says"),
    [
        ({"spec.power_mw": "-2"}, "f-spec-power_mw", "Must be more than 0."),
        ({"spec.energy_mwh": ""}, "f-spec-energy_mwh", "Required."),
        ({"spec.energy_mwh": "four"}, "f-spec-energy_mwh", "Enter a number."),
        ({"spec.soc_min": "0.95"}, "f-spec-soc_min", "must be below soc_max"),
        ({"spec.id": "bad id!"}, "f-spec-id", "Use letters, digits"),
        ({"nominated_mw": "3"}, "f-nominated_mw", "exceeds its physical flexibility"),
        ({"spec.id": "arc-furnace"}, "f-spec-id", "already enrolled"),
        ({"spec.availability": "08:00-25:00"}, "f-spec-availability", "not a clock time"),
    ],
)
def test_a_refused_asset_shows_the_error_at_its_field_keeps_the_input_and_stores_nothing(
    client: TestClient, seeded: Seeded, changes: dict[str, str], input_id: str, says: str
) -> None:
    page = f"{_base('steel')}/assets"
    csrf = _signed_in(client, seeded.keys["steel"], page)
    before = _api_assets(client, "steel")
    form = {**BATTERY_FORM, **changes, "csrf_token": csrf}
    refused = client.post(page, data=form)
    assert refused.status_code == 422, refused.text
    assert says in _error_at(refused.text, input_id)
    assert "Nothing was stored." in refused.text
    for name, typed in form.items():  # what the user typed is still there
        if name.startswith("spec.") and typed:
            assert f'name="{name}" value="{typed}"' in refused.text, name
    # only the refused field is marked
    assert refused.text.count('aria-invalid="true"') == 1
    assert _api_assets(client, "steel") == before


def test_an_ev_fleet_session_error_is_shown_on_its_row(client: TestClient, seeded: Seeded) -> None:
    page = f"{_base('depot')}/assets"
    csrf = _signed_in(client, seeded.keys["depot"], f"{page}?type=ev_fleet")
    form = {
        "csrf_token": csrf,
        "type": "ev_fleet",
        "spec.id": "depot-vans",
        "spec.chargers": "4",
        "spec.charger_power_mw": "0.05",
        "spec.sessions.0.arrival": "18:00",
        "spec.sessions.0.departure": "06:00",
        "spec.sessions.0.energy_mwh": "0.1",
        "spec.sessions.0.vehicles": "1",
        "spec.sessions.1.arrival": "12:00",
        "spec.sessions.1.departure": "13:00",
        "spec.sessions.1.vehicles": "2",
        "spec.sessions.2.arrival": "",  # the third row left as the page shows it
        "spec.sessions.2.vehicles": "",
        "nominated_mw": "0.1",
    }
    refused = client.post(page, data=form)
    assert refused.status_code == 422
    assert "Required." in _error_at(refused.text, "f-spec-sessions-1-energy_mwh")
    form["spec.sessions.1.energy_mwh"] = "0.04"
    assert client.post(page, data=form, follow_redirects=False).status_code == 303
    stored = _api_assets(client, "depot")["depot-vans"]["spec"]
    sessions = stored["sessions"]  # type: ignore[index]
    assert [(s["arrival"], s["vehicles"]) for s in sessions] == [("18:00", 1), ("12:00", 2)]


def test_a_form_without_the_csrf_token_is_refused_and_nothing_is_stored(
    client: TestClient, seeded: Seeded
) -> None:
    page = f"{_base('steel')}/assets"
    csrf = _signed_in(client, seeded.keys["steel"], page)
    refused = client.post(page, data=BATTERY_FORM)
    assert refused.status_code == 403 and "form expired" in refused.text
    forged = client.post(page, data={**BATTERY_FORM, "csrf_token": "0" * 64})
    assert forged.status_code == 403
    outage = {"start": "2021-06-01T08:00", "end": "2021-06-01T12:00", "reason": "x"}
    assert client.post(f"{page}/arc-furnace/outages", data=outage).status_code == 403
    consent = {"asset_ids": "arc-furnace", "contract_id": "c-steel", "agreed_by": "x"}
    assert client.post(f"{_base('steel')}/consents", data=consent).status_code == 403
    assert "steel-bess" not in _api_assets(client, "steel")
    assert client.post(page, data={**BATTERY_FORM, "csrf_token": csrf}).status_code == 200


def test_an_enterprise_cannot_open_or_change_another_enterprises_pages(
    client: TestClient, seeded: Seeded
) -> None:
    csrf = _signed_in(client, seeded.keys["steel"], f"{_base('steel')}/assets")
    for page in (
        "assets",
        "assets/bess-cellco",
        "consents",
        "telemetry",
        "earnings",
        "statements",
        "statements/cellco:de-lu:2021-05/export?format=pdf",
    ):
        for enterprise in ("cellco", "no-such-enterprise"):
            opened = client.get(f"{_base(enterprise)}/{page}")
            assert opened.status_code == 404, (enterprise, page)
            assert f"enterprise {enterprise} not found" in opened.text
    # its own asset pages do not reach another's asset either
    assert client.get(f"{_base('steel')}/assets/bess-cellco").status_code == 404
    form = {**BATTERY_FORM, "csrf_token": csrf, "site_id": ""}
    assert client.post(f"{_base('cellco')}/assets", data=form).status_code == 404
    assert "steel-bess" not in _api_assets(client, "cellco")


class _Form(HTMLParser):
    """The fields of the form posting to ``action`` as a browser would send them."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action, self.inside, self.select = action, False, None
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = a.get("action") == self.action and a.get("method") == "post"
        elif self.inside and tag == "input" and a.get("type") != "checkbox":
            self.fields[a["name"]] = a.get("value", "")
        elif self.inside and tag == "select":
            self.select = a["name"]
            self.fields.setdefault(a["name"], "")
        elif self.inside and tag == "option" and self.select and "selected" in a:
            self.fields[self.select] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None


def test_an_asset_is_changed_through_the_patch_route_and_its_verification_resets(
    client: TestClient, seeded: Seeded
) -> None:
    page = f"{_base('steel')}/assets/arc-furnace"
    _signed_in(client, seeded.keys["steel"], page)
    shown = client.get(page).text
    assert 'name="spec.max_curtail_mw" value="4"' in shown
    assert 'name="spec.rebound_fraction" value="0.3"' in shown
    form = _Form(page)
    form.feed(shown)

    too_much = {**form.fields, "spec.max_curtail_mw": "3", "nominated_mw": "3.5"}
    refused = client.post(page, data=too_much)
    assert refused.status_code == 422
    assert "exceeds its physical flexibility" in _error_at(refused.text, "f-nominated_mw")
    assert 'name="spec.max_curtail_mw" value="3"' in refused.text  # as typed
    assert _api_assets(client, "steel")["arc-furnace"]["verification"] == "passed"

    changed = {**too_much, "spec.max_duration_min": "90", "nominated_mw": "2.5"}
    saved = client.post(page, data=changed, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    assert "Changes saved." in client.get(saved.headers["location"]).text
    stored = _api_assets(client, "steel")["arc-furnace"]
    assert stored["nominated_mw"] == 2.5 and stored["verification"] == "unverified"
    spec = stored["spec"]
    assert spec["max_curtail_mw"] == 3 and spec["max_duration_min"] == 90  # type: ignore[index]
    assert spec["rebound_fraction"] == 0.3 and spec["notice_min"] == 60  # type: ignore[index]


def test_every_sample_asset_saved_unchanged_stays_the_same(
    client: TestClient, seeded: Seeded
) -> None:
    """The edit form shows every figure exactly (an unchanged save changes nothing)."""
    _signed_in(client, seeded.keys["operator"], "/console/parks")
    for enterprise in seeded.enterprises:
        for asset_id, before in _api_assets(client, enterprise).items():
            page = f"{_base(enterprise)}/assets/{asset_id}"
            form = _Form(page)
            form.feed(client.get(page).text)
            assert "spec.id" not in form.fields and form.fields["csrf_token"]
            saved = client.post(page, data=form.fields, follow_redirects=False)
            assert saved.status_code == 303, (asset_id, saved.text)
            after = _api_assets(client, enterprise)[asset_id]
            assert after["spec"] == before["spec"], asset_id
            assert after["nominated_mw"] == before["nominated_mw"], asset_id
            assert after["verification"] == before["verification"] == "passed", asset_id
            assert "Nothing changed." in client.get(saved.headers["location"]).text
    audit = client.get("/v1/audit", params={"entity": "asset"}, headers=ADMIN).json()["items"]
    assert [e for e in audit if e["action"] == "asset.update"] == []  # nothing was changed


def test_an_outage_is_declared_in_market_time(client: TestClient, seeded: Seeded) -> None:
    page = f"{_base('steel')}/assets/arc-furnace"
    csrf = _signed_in(client, seeded.keys["steel"], page)
    assert "No outages declared." in client.get(page).text
    backwards = {
        "csrf_token": csrf,
        "start": "2021-06-01T12:00",
        "end": "2021-06-01T08:00",
        "reason": "furnace relining",
    }
    refused = client.post(f"{page}/outages", data=backwards)
    assert refused.status_code == 422
    assert "after the start" in _error_at(refused.text, "o-end")
    assert 'value="furnace relining"' in refused.text
    empty = client.post(f"{page}/outages", data={**backwards, "start": "", "reason": ""})
    assert "Enter a date and time." in _error_at(empty.text, "o-start")
    assert "Required." in _error_at(empty.text, "o-reason")

    declared = client.post(
        f"{page}/outages",
        data={**backwards, "start": "2021-06-01T08:00", "end": "2021-06-01T12:00"},
        follow_redirects=False,
    )
    assert declared.status_code == 303
    shown = client.get(declared.headers["location"]).text
    assert "Outage declared." in shown and "2021-06-01 08:00" in shown
    outages = client.get("/v1/enterprises/steel/assets/arc-furnace/outages", headers=ADMIN).json()
    assert [(o["start"], o["reason"]) for o in outages] == [
        ("2021-06-01T06:00:00Z", "furnace relining")  # 08:00 Europe/Berlin (CEST)
    ]


# --- consents -------------------------------------------------------------------------------


def test_a_consent_is_recorded_for_assets_and_products_and_can_be_revoked(
    client: TestClient, seeded: Seeded
) -> None:
    page = f"{_base('cellco')}/consents"
    csrf = _signed_in(client, seeded.keys["cellco"], page)
    shown = client.get(page).text
    assert "c-cellco" in shown and "Consents per product" in shown
    before = client.get("/v1/enterprises/cellco/consents", headers=ADMIN).json()["items"]

    form = {
        "csrf_token": csrf,
        "contract_id": "c-cellco",
        "agreed_by": "",
        "agreed_at": "2021-05-01T09:00",
    }
    refused = client.post(page, data=form)
    assert refused.status_code == 422
    assert "Choose at least one." in refused.text and 'id="c-assets-error"' in refused.text
    assert "Required." in _error_at(refused.text, "c-agreed-by")
    assert client.get("/v1/enterprises/cellco/consents", headers=ADMIN).json()["items"] == before

    recorded = client.post(
        page,
        data={
            **form,
            "agreed_by": "Marie Dubois, plant manager",
            "asset_ids": ["bess-cellco", "drying-ovens"],
            "products": ["fcr"],
        },
        follow_redirects=False,
    )
    assert recorded.status_code == 303, recorded.text
    after = client.get(recorded.headers["location"]).text
    assert "Consent recorded." in after and "Marie Dubois, plant manager" in after
    assert "2021-05-01 09:00" in after  # market time
    consents = client.get("/v1/enterprises/cellco/consents", headers=ADMIN).json()["items"]
    new = consents[-1]
    assert new["asset_ids"] == ["bess-cellco", "drying-ovens"] and new["products"] == ["fcr"]
    assert new["agreed_at"] == "2021-05-01T07:00:00Z" and new["terms_version"] == "1"
    fcr = re.search(r"<code>fcr</code>.*?</tr>", after, re.S)
    assert fcr and "drying-ovens" in fcr.group(0)

    revoked = client.post(
        f"{page}/{new['id']}/revoke", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert revoked.status_code == 303
    assert "Consent revoked." in client.get(revoked.headers["location"]).text
    again = client.get("/v1/enterprises/cellco/consents", headers=ADMIN).json()["items"]
    assert again[-1]["revoked_at"] is not None


# --- telemetry ------------------------------------------------------------------------------

GOOD_AND_BAD = (
    "timestamp,power_mw\n"
    "2021-05-04T10:00:00Z,0.5\n"
    "2021-05-04T10:15:00Z,7.5\n"  # above the 1 MW battery's limit
    "2021-05-04T10:30:00Z,-0.4\n"
)


def _readings(client: TestClient, asset: str) -> list[dict[str, object]]:
    got = client.get(
        f"/v1/enterprises/cellco/assets/{asset}/telemetry",
        params={"start": "2021-05-04T00:00:00Z", "end": "2021-05-05T00:00:00Z"},
        headers=ADMIN,
    )
    assert got.status_code == 200, got.text
    return list(got.json())


def test_an_upload_with_a_bad_row_writes_nothing_and_lists_the_row_like_the_api(
    client: TestClient, seeded: Seeded
) -> None:
    page = f"{_base('cellco')}/telemetry"
    csrf = _signed_in(client, seeded.keys["cellco"], page)
    shown = client.get(page).text
    assert 'hx-encoding="multipart/form-data"' in shown and "<progress" in shown
    assert "pv-cellco" in shown and 'data-chart="lines"' in shown  # its stored readings

    form = {"csrf_token": csrf, "asset_id": "bess-cellco"}
    files = {"file": ("meter.csv", GOOD_AND_BAD.encode(), "text/csv")}
    refused = client.post(page, data=form, files=files)
    assert refused.status_code == 422
    assert "1 of 3 rows rejected; nothing was written" in refused.text
    rows = re.findall(r'<tr><td class="num">(\d+)</td><td><code>(\w+)</code></td>', refused.text)
    assert rows == [("2", "power_mw")]
    assert _readings(client, "bess-cellco") == []

    skipped = client.post(page, data={**form, "on_error": "skip"}, files=files)
    assert skipped.status_code == 200
    assert "2 of 3 rows written to bess-cellco." in skipped.text
    assert re.findall(r'<td class="num">(\d+)</td><td><code>power_mw</code>', skipped.text) == ["2"]
    assert [p["power_mw"] for p in _readings(client, "bess-cellco")] == [0.5, -0.4]

    # htmx swaps the result in: 200 whatever the outcome, only the live part of the page
    partial = client.post(page, data=form, files=files, headers={"HX-Request": "true"})
    assert partial.status_code == 200 and "<html" not in partial.text
    assert "nothing was written" in partial.text and "Latest readings" in partial.text


def test_a_json_upload_goes_through_the_same_route(client: TestClient, seeded: Seeded) -> None:
    page = f"{_base('cellco')}/telemetry"
    csrf = _signed_in(client, seeded.keys["cellco"], page)
    body = b'{"points": [{"ts": "2021-05-04T11:00:00+02:00", "power_mw": 0.25}]}'
    files = {"file": ("meter.json", body, "application/json")}
    done = client.post(page, data={"csrf_token": csrf, "asset_id": "bess-cellco"}, files=files)
    assert done.status_code == 200 and "1 of 1 rows written" in done.text
    assert [p["ts"] for p in _readings(client, "bess-cellco")] == ["2021-05-04T09:00:00+00:00"]
    assert "2021-05-04 11:00" in done.text  # the latest reading, in market time

    files = {"file": ("meter.csv", b"when,power\n1,2\n", "text/csv")}
    header = client.post(page, data={"csrf_token": csrf, "asset_id": "bess-cellco"}, files=files)
    assert header.status_code == 422 and "is not accepted" in header.text
    files = {"file": ("meter.txt", b"x", "text/plain")}
    other = client.post(page, data={"csrf_token": csrf, "asset_id": "bess-cellco"}, files=files)
    assert other.status_code == 422 and "Upload a .csv or .json file." in other.text
    files = {"file": ("meter.csv", GOOD_AND_BAD.encode(), "text/csv")}
    theirs = client.post(page, data={"csrf_token": csrf, "asset_id": "arc-furnace"}, files=files)
    assert theirs.status_code == 404 and "arc-furnace" in theirs.text
    assert client.post(page, data={"asset_id": "bess-cellco"}, files=files).status_code == 403


# --- earnings and statements ----------------------------------------------------------------


def test_statements_list_and_download_through_the_console(
    settled: tuple[TestClient, dict[str, str]],
) -> None:
    client, keys = settled
    page = f"{_base('a1')}/statements"
    _signed_in(client, keys["a1"], page)
    shown = client.get(page).text
    assert "a1:cn-shandong:2026-02" in shown and "2,240.00 CNY" in shown
    assert "Day statements (28)" in shown
    url = f"{_base('a1')}/statements/a1%3Acn-shandong%3A2026-02/export"
    assert f'href="{url}?format=pdf&amp;version=1"' in shown
    for fmt, media, magic in (
        ("csv", "text/csv", b"\xef\xbb\xbf"),
        ("xlsx", XLSX, b"PK"),
        ("pdf", "application/pdf", b"%PDF"),
    ):
        got = client.get(url, params={"format": fmt, "version": 1})
        assert got.status_code == 200, got.text
        assert got.headers["content-type"].split(";")[0] == media
        assert got.headers["content-disposition"] == (
            f'attachment; filename="pa_2026-02_a1_v1.{fmt}"'
        )
        assert got.content.startswith(magic)
    assert "2240.00" in client.get(url, params={"format": "csv"}).content.decode("utf-8-sig")
    assert client.get(url, params={"version": 7}).status_code == 404

    # another enterprise's statement answers as if it did not exist, whichever path names it
    b1 = "b1%3Acn-shandong%3A2026-02"
    assert client.get(f"{_base('b1')}/statements/{b1}/export").status_code == 404
    assert client.get(f"{_base('a1')}/statements/{b1}/export").status_code == 404
    assert client.get(f"{_base('b1')}/statements").status_code == 404
    other = TestClient(client.app)
    _signed_in(other, keys["b1"], f"{_base('b1')}/statements")
    assert other.get(url).status_code == 404
    assert other.get(f"{_base('b1')}/statements/{b1}/export").status_code == 200


def test_earnings_show_issued_statements_per_month_and_per_day_in_their_currency(
    settled: tuple[TestClient, dict[str, str]],
) -> None:
    client, keys = settled
    page = f"{_base('a1')}/earnings"
    _signed_in(client, keys["a1"], page)
    shown = client.get(page).text
    assert 'data-chart="amounts"' in shown
    chart = re.search(r'<script type="application/json" id="earnings-months">(.*?)</script>', shown)
    assert chart
    assert '"2026-02"' in chart.group(1) and "Monthly statements [CNY]" in chart.group(1)
    feb = re.search(r">2026-02</a></td>.*?</tr>", shown, re.S)
    assert feb and feb.group(0).count("2,240.00") == 2  # monthly and the days, side by side
    days = re.search(r'<script type="application/json" id="earnings-days">(.*?)</script>', shown)
    assert days and days.group(1).count('"2026-02-') == 28 and "80.0" in days.group(1)
    empty = client.get(page, params={"from": "2025-01", "to": "2025-03", "month": "2025-02"})
    assert "No earnings yet" in empty.text and "No day statements in 2025-02." in empty.text


def test_empty_states(client: TestClient, seeded: Seeded) -> None:
    _signed_in(client, seeded.keys["steel"], f"{_base('steel')}/assets")
    assert "No statements yet." in client.get(f"{_base('steel')}/statements").text
    assert "No earnings yet" in client.get(f"{_base('steel')}/earnings").text
    assert "No readings yet." in client.get(f"{_base('steel')}/telemetry").text
    assert "No outages declared." in client.get(f"{_base('steel')}/assets/arc-furnace").text


def test_an_operator_opens_an_enterprises_pages_with_their_tabs(
    client: TestClient, seeded: Seeded
) -> None:
    _signed_in(client, seeded.keys["operator"], "/console/parks")
    for page in ("assets", "consents", "telemetry", "earnings", "statements"):
        opened = client.get(f"{_base('steel')}/{page}")
        assert opened.status_code == 200, page
        assert 'nav class="tabs"' in opened.text
    settlement = TestClient(client.app)
    csrf = _signed_in(settlement, seeded.keys["settlement"], f"{_base('steel')}/statements")
    refused = settlement.post(f"{_base('steel')}/assets", data={**BATTERY_FORM, "csrf_token": csrf})
    assert refused.status_code == 403 and "needs assets:write" in refused.text
    assert "steel-bess" not in _api_assets(client, "steel")


def test_every_enterprise_page_reads_in_chinese(client: TestClient, seeded: Seeded) -> None:
    csrf = _signed_in(client, seeded.keys["cellco"], f"{_base('cellco')}/assets")
    client.get("/console/language/zh")
    i18n.MISSING.clear()
    base = _base("cellco")
    pages = [
        f"{base}/assets?type={t}"
        for t in (
            "battery",
            "pv",
            "wind",
            "curtailable_load",
            "shiftable_load",
            "thermal",
            "ev_fleet",
            "backup_generator",
        )
    ]
    pages += [f"{base}/assets/{a}" for a in ("bess-cellco", "pv-cellco", "drying-ovens")]
    pages += [f"{base}/{p}" for p in ("consents", "telemetry", "earnings", "statements")]
    for page in pages:
        opened = client.get(page)
        assert opened.status_code == 200, page
        assert 'lang="zh-CN"' in opened.text
    refused = client.post(
        f"{base}/assets", data={**BATTERY_FORM, "spec.power_mw": "x", "csrf_token": csrf}
    )
    assert "请输入数字。" in refused.text
    client.post(f"{base}/consents", data={"csrf_token": csrf, "contract_id": "c-cellco"})
    files = {"file": ("meter.csv", GOOD_AND_BAD.encode(), "text/csv")}
    client.post(
        f"{base}/telemetry", data={"csrf_token": csrf, "asset_id": "bess-cellco"}, files=files
    )
    assert not i18n.MISSING, f"texts without a Chinese translation: {sorted(i18n.MISSING)}"
