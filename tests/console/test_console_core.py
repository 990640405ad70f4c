"""The console without a browser: sign-in, sessions, CSRF, roles, park limits, the operator's
day and its approval or rejection, both languages.

The database is the sample park with its demo day in review (``tests/console/seed.py``); the
pipeline clock replays an hour after the forecast time, so the gate is open.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from tests.api.conftest import ADMIN, ADMIN_KEY
from tests.console.seed import REPO, Seeded, csrf_of, replay_clock, seeded_copy, sign_in
from vpp.api.app import create_app
from vpp.api.config import ApiSettings
from vpp.api.conventions import configure_api
from vpp.console import i18n
from vpp.db.engine import make_engine, session_scope
from vpp.db.job_tables import PipelineStageRow
from vpp.settings import Settings


@pytest.fixture
def seeded(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    return seeded_copy(tmp_path, tmp_path_factory.getbasetemp() / "console-template")


@pytest.fixture
def client(seeded: Seeded, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    replay_clock(monkeypatch, seeded.forecast_at + pd.Timedelta(hours=1))
    app = create_app(Settings(database_url=seeded.url, config_dir=REPO / "config"))
    configure_api(app, ApiSettings(admin_key=ADMIN_KEY))
    with TestClient(app) as test_client:
        yield test_client


def _day(seeded: Seeded) -> str:
    return f"/console/parks/{seeded.park_id}/days/{seeded.day}"


def test_signing_in_sets_a_strict_httponly_session_and_lands_on_the_role_home(
    client: TestClient, seeded: Seeded
) -> None:
    assert (
        client.get("/console/parks", follow_redirects=False)
        .headers["location"]
        .startswith("/console/login")
    )
    signed = sign_in(client, seeded.keys["operator"])
    assert signed.status_code == 303 and signed.headers["location"] == "/console/parks"
    cookie = signed.headers["set-cookie"]
    assert "vpp_console=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Max-Age=1800" in cookie
    page = client.get("/console/parks")
    assert page.status_code == 200 and "Haute Borne" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]

    enterprise = TestClient(client.app)
    landed = sign_in(enterprise, seeded.keys["cellco"])
    assert landed.headers["location"] == "/console/enterprises/cellco/assets"
    settlement = TestClient(client.app)
    assert sign_in(settlement, seeded.keys["settlement"]).headers["location"] == (
        "/console/settlement"
    )


def test_a_wrong_key_or_a_forged_form_is_refused_and_says_why(
    client: TestClient, seeded: Seeded
) -> None:
    wrong = sign_in(client, "vpp_knope.notasecret")
    assert wrong.status_code == 401 and "unknown API key" in wrong.text
    assert "vpp_console" not in wrong.headers.get("set-cookie", "")
    forged = client.post(
        "/console/login",
        data={"api_key": seeded.keys["operator"], "csrf_token": "guess", "next": ""},
        follow_redirects=False,
    )
    assert forged.status_code == 401 and "vpp_console" not in forged.headers.get("set-cookie", "")
    # the next parameter never leads to another host
    away = sign_in(client, seeded.keys["operator"], "https://evil.example/console/x")
    assert away.headers["location"] == "/console/parks"


def test_each_role_sees_only_its_pages(client: TestClient, seeded: Seeded) -> None:
    sign_in(client, seeded.keys["cellco"])
    for path in ("/console/parks", _day(seeded), "/console/alerts"):
        refused = client.get(path)
        assert refused.status_code == 403, path
        assert "enterprise session cannot open this page" in refused.text
    settlement = TestClient(client.app)
    sign_in(settlement, seeded.keys["settlement"])
    assert settlement.get(_day(seeded)).status_code == 200  # reads the pipeline
    day = settlement.get(_day(seeded))
    assert "Approve</button>" not in day.text  # but may not approve
    form = {"csrf_token": csrf_of(day.text), "reason": "mine"}
    assert settlement.post(f"{_day(seeded)}/approve", data=form).status_code == 403


def test_a_park_limited_key_reaches_no_other_park(client: TestClient, seeded: Seeded) -> None:
    other = {
        "id": "another-park",
        "name": "Another park",
        "market_id": "de-lu",
        "import_limit_mw": 5.0,
        "export_limit_mw": 5.0,
        "enterprises": [],
    }
    assert client.put("/v1/parks/another-park", json=other, headers=ADMIN).status_code == 200
    body = {"role": "operator", "label": "other park", "park_ids": ["another-park"]}
    created = client.post("/v1/api-keys", json=body, headers=ADMIN)
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    sign_in(client, key)
    assert seeded.park_id not in client.get("/console/parks").text
    assert client.get(f"/console/parks/{seeded.park_id}").status_code == 404
    assert client.get(_day(seeded)).status_code == 404


def test_the_operator_approves_the_day_before_the_gate_and_it_is_audited(
    client: TestClient, seeded: Seeded
) -> None:
    sign_in(client, seeded.keys["operator"])
    day = client.get(_day(seeded))
    assert day.status_code == 200
    assert "Bids await your approval" in day.text and "132.5 MWh" in day.text
    assert 'data-chart="price"' in day.text and 'id="c-curves"' in day.text

    no_csrf = client.post(f"{_day(seeded)}/approve", data={"reason": "ok"})
    assert no_csrf.status_code == 403 and "form expired" in no_csrf.text
    approved = client.post(
        f"{_day(seeded)}/approve",
        data={"csrf_token": csrf_of(day.text), "reason": "checked the curves"},
        follow_redirects=False,
    )
    assert approved.status_code == 303
    after = client.get(approved.headers["location"])
    assert "Approved." in after.text and "checked the curves" in after.text
    audit = client.get("/v1/audit", headers=ADMIN).json()["items"]
    entry = next(e for e in audit if e["action"] == "bids.approve")
    assert entry["actor"].startswith("operator:") and entry["after"]["reason"] == (
        "checked the curves"
    )
    again = client.post(
        f"{_day(seeded)}/approve", data={"csrf_token": csrf_of(day.text), "reason": ""}
    )
    assert again.status_code == 409 and "nothing to approve" in again.text


def test_the_operator_rejects_with_a_reason_and_the_bid_stage_is_undone(
    client: TestClient, seeded: Seeded
) -> None:
    sign_in(client, seeded.keys["operator"])
    token = csrf_of(client.get(_day(seeded)).text)
    empty = client.post(f"{_day(seeded)}/reject", data={"csrf_token": token, "reason": " "})
    assert empty.status_code == 422 and "needs a reason" in empty.text
    rejected = client.post(
        f"{_day(seeded)}/reject",
        data={"csrf_token": token, "reason": "price forecast looks stale"},
    )
    assert rejected.status_code == 200 and "bid again at the next scheduler tick" in rejected.text
    engine = make_engine(seeded.url)
    with session_scope(engine) as session:
        stages = {s.stage for s in session.exec(select(PipelineStageRow)).all()}
    engine.dispose()
    assert stages == {"forecast"}
    assert "price forecast looks stale" in client.get("/console/alerts").text


def test_the_gate_closed_refuses_approval(
    client: TestClient, seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    sign_in(client, seeded.keys["operator"])
    token = csrf_of(client.get(_day(seeded)).text)
    replay_clock(monkeypatch, seeded.gate_closure + pd.Timedelta(minutes=1))
    late = client.post(f"{_day(seeded)}/approve", data={"csrf_token": token, "reason": ""})
    assert late.status_code == 409 and "too late" in late.text
    assert "The gate has closed" in client.get(_day(seeded)).text or "Approve</button>" not in (
        client.get(_day(seeded)).text
    )


def test_a_revoked_key_ends_its_session(client: TestClient, seeded: Seeded) -> None:
    sign_in(client, seeded.keys["operator"])
    assert client.get("/console/parks").status_code == 200
    key_id = seeded.keys["operator"].removeprefix("vpp_").split(".")[0]
    assert client.delete(f"/v1/api-keys/{key_id}", headers=ADMIN).status_code in (200, 204)
    ended = client.get("/console/parks", follow_redirects=False)
    assert ended.status_code == 303 and "expired=1" in ended.headers["location"]


def test_signing_out_ends_the_session(client: TestClient, seeded: Seeded) -> None:
    sign_in(client, seeded.keys["operator"])
    token = csrf_of(client.get("/console/parks").text)
    out = client.post("/console/logout", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/console/parks", follow_redirects=False).status_code == 303


def test_every_operator_page_reads_in_chinese(client: TestClient, seeded: Seeded) -> None:
    sign_in(client, seeded.keys["operator"])
    client.get("/console/language/zh")
    i18n.MISSING.clear()
    for path in (
        "/console/parks",
        f"/console/parks/{seeded.park_id}",
        _day(seeded),
        "/console/alerts",
        "/console/login",
        "/console/parks/nope",
    ):
        page = client.get(path)
        assert page.status_code in (200, 404), path
        assert 'lang="zh-CN"' in page.text
    assert not i18n.MISSING, f"texts without a Chinese translation: {sorted(i18n.MISSING)}"
    assert "报价待您批准" in client.get(_day(seeded)).text


def test_a_session_older_than_its_life_is_refused(client: TestClient, seeded: Seeded) -> None:
    from vpp.api.security import Principal, issue_token

    key_id = seeded.keys["operator"].removeprefix("vpp_").split(".")[0]
    principal = Principal(key_id, "operator", None, frozenset({"parks:read"}), "bearer")
    stale = issue_token(
        principal, client.app.state.jwt_secret, datetime(2020, 1, 1, tzinfo=UTC), 1800
    )
    client.cookies.set("vpp_console", stale, path="/console")
    refused = client.get("/console/parks", follow_redirects=False)
    assert refused.status_code == 303 and "/console/login" in refused.headers["location"]


def test_an_error_page_leads_back_to_the_page_the_reader_came_from(
    client: TestClient, seeded: Seeded
) -> None:
    sign_in(client, seeded.keys["cellco"])
    came_from = "/console/enterprises/cellco/assets"
    refused = client.get("/console/alerts", headers={"Referer": f"http://testserver{came_from}"})
    assert refused.status_code == 403 and f'href="{came_from}"' in refused.text
    elsewhere = client.get("/console/alerts", headers={"Referer": "https://evil.example/x"})
    assert 'href="/console">' in elsewhere.text
