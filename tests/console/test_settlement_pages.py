"""The settlement team's console pages without a browser: months with completeness, issuing an
incomplete month only with a named, reasoned override (audited as the API audits it), a
correction, reconciliation with the operator's file, downloads, roles, CSRF and Chinese.

The database is the sample park with its demo day advanced through approve, submit, awards,
dispatch and settle (as ``vpp demo`` does), so May 2021 has one settled day of 31.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import ADMIN, ADMIN_KEY, PARK
from tests.console.seed import REPO, Seeded, csrf_of, seeded_copy, sign_in
from vpp.api.app import create_app
from vpp.api.config import ApiSettings
from vpp.api.conventions import configure_api
from vpp.console import i18n
from vpp.db.engine import make_engine, session_scope
from vpp.db.repositories import AuditRepository
from vpp.db.repositories.settlement_stores import settlement_stores
from vpp.domain.market import load_market_profile
from vpp.jobs.runtime import build_pipeline
from vpp.services.park_month_inputs import load_park_month
from vpp.services.settle_month import award_amounts
from vpp.settings import Settings

MONTH = "2021-05"
_SETTLED: dict[str, Seeded] = {}


def settle_demo_day(seeded: Seeded) -> None:
    """Advance the seeded day in review through approval to settlement, as ``vpp demo`` does."""
    engine = make_engine(seeded.url)
    try:
        settings = Settings(database_url=seeded.url, config_dir=REPO / "config")
        pipeline = build_pipeline(settings, engine, seeded.park_id)
        times = pipeline.times(seeded.day)
        pipeline.approve(seeded.day, "seed", times.forecast_at)
        for at in (times.forecast_at, times.results_at, times.settle_at):
            failed = [o for o in pipeline.advance(seeded.day, at) if o.status == "failed"]
            assert not failed, failed
        assert "settle" in pipeline.done(seeded.day)
    finally:
        engine.dispose()


def settled_copy(folder: Path, base: Path) -> Seeded:
    """A fresh copy of a seeded database whose demo day is settled (settled once per process,
    under ``base``, from the seeded template the other console tests share)."""
    key = str(base)
    if key not in _SETTLED:
        settled = base / "settlement-template"
        settled.mkdir(parents=True, exist_ok=True)
        template = seeded_copy(settled, base / "console-template")
        settle_demo_day(template)
        _SETTLED[key] = template
    template = _SETTLED[key]
    source = Path(template.url.removeprefix("sqlite:///"))
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / "settled.sqlite"
    copy.write_bytes(source.read_bytes())
    return replace(template, url=f"sqlite:///{copy}")


@pytest.fixture
def seeded(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    return settled_copy(tmp_path, tmp_path_factory.getbasetemp())


@pytest.fixture
def client(seeded: Seeded) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=seeded.url, config_dir=REPO / "config"))
    configure_api(app, ApiSettings(admin_key=ADMIN_KEY))
    with TestClient(app) as test_client:
        yield test_client


def _month(seeded: Seeded) -> str:
    return f"/console/settlement/parks/{seeded.park_id}/months/{MONTH}"


def _issued(client: TestClient, seeded: Seeded) -> list[dict]:
    found = client.get(
        f"/v1/parks/{seeded.park_id}/statements", params={"month": MONTH}, headers=ADMIN
    )
    assert found.status_code == 200, found.text
    return found.json()


def _audit(seeded: Seeded) -> list:
    engine = make_engine(seeded.url)
    try:
        with session_scope(engine) as session:
            return AuditRepository(session).query(limit=10_000)
    finally:
        engine.dispose()


def _settlement(client: TestClient, seeded: Seeded) -> str:
    """Sign the settlement team in; the month page's CSRF token."""
    assert sign_in(client, seeded.keys["settlement"]).status_code == 303
    page = client.get(_month(seeded))
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


def _override(token: str, by: str = "Anna Weber, head of finance", reason: str = "") -> dict:
    return {"csrf_token": token, "override_incomplete": "true", "by": by, "reason": reason}


def test_the_months_list_shows_completeness_status_and_totals(
    client: TestClient, seeded: Seeded
) -> None:
    landed = sign_in(client, seeded.keys["settlement"])
    assert landed.headers["location"] == "/console/settlement"
    page = client.get("/console/settlement")
    assert page.status_code == 200
    text = page.text
    assert "Haute Borne" in text and f'href="{_month(seeded)}"' in text
    assert "1 / 31" in text and "incomplete" in text  # one settled day of 31
    assert "1–4, 6–31" in text  # the missing days, named (the demo day is 5 May)
    assert ">open<" in text and "Draft total" in text and "[EUR]" in text
    assert "Europe/Berlin" in text
    # the month picker leads to any month
    picked = client.get(
        "/console/settlement/open",
        params={"park_id": seeded.park_id, "month": "2021-04"},
        follow_redirects=False,
    )
    assert picked.headers["location"].endswith("/months/2021-04")
    april = client.get(picked.headers["location"])
    assert april.status_code == 200 and "0 of 30 days settled" in april.text


def test_the_month_page_shows_lines_totals_and_the_override_form(
    client: TestClient, seeded: Seeded
) -> None:
    _settlement(client, seeded)
    text = client.get(_month(seeded)).text
    assert "1 of 31 days settled" in text
    assert "2021-05-01 – 2021-05-04" in text and "2021-05-06 – 2021-05-31" in text
    assert "Draft: recomputed from the stored data, not issued." in text
    for enterprise in ("cellco", "datacentre", "depot", "parkco", "steel", "aggregator"):
        assert f"{enterprise}:" in text  # a statement (draft) per enterprise and the aggregator
    assert "Market revenue energy" in text and "EUR" in text
    assert 'name="override_incomplete"' in text and 'name="by"' in text
    assert re.search(r'<textarea id="issue-reason" name="reason"[^>]*required', text)
    assert "Issue with override" in text


def test_an_incomplete_month_is_not_issued_without_an_override_who_and_why(
    client: TestClient, seeded: Seeded
) -> None:
    token = _settlement(client, seeded)
    url = f"{_month(seeded)}/issue"
    plain = client.post(url, data={"csrf_token": token})
    assert plain.status_code == 409
    assert "is incomplete; nothing was issued" in plain.text
    assert "no day statements for 2021-05-01" in plain.text
    no_reason = client.post(url, data=_override(token, reason="  "))
    assert no_reason.status_code == 422 and "An override needs a reason" in no_reason.text
    no_name = client.post(url, data=_override(token, by="", reason="month end"))
    assert no_name.status_code == 422 and "name of who authorises" in no_name.text
    assert _issued(client, seeded) == []
    assert not [e for e in _audit(seeded) if e.action.startswith("settle")]


def test_an_override_with_a_reason_issues_the_month_and_is_audited(
    client: TestClient, seeded: Seeded
) -> None:
    token = _settlement(client, seeded)
    reason = "only the demo day is replayed; the customer needs a statement"
    done = client.post(
        f"{_month(seeded)}/issue", data=_override(token, reason=reason), follow_redirects=False
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"].endswith(f"{MONTH}?issued=6&corrected=0&unchanged=0")
    issued = _issued(client, seeded)
    assert len(issued) == 6 and {s["version"] for s in issued} == {1}
    assert {s["status"] for s in issued} == {"issued"}

    entries = _audit(seeded)
    issue = [e for e in entries if e.action == "settlement.issue"]
    assert len(issue) == 1 and issue[0].entity_id == seeded.park_id
    assert issue[0].after["override_by"] == "Anna Weber, head of finance"
    assert issue[0].actor.startswith("settlement:")
    overrides = [e for e in entries if e.action == "settle.override_incomplete"]
    assert len(overrides) == 6 and {e.actor for e in overrides} == {"Anna Weber, head of finance"}
    why = [e for e in entries if e.action == "settlement.reason"]
    assert len(why) == 1 and why[0].after["reason"] == reason
    assert why[0].after["action"] == "issue" and why[0].after["month"] == MONTH

    page = client.get(done.headers["location"])
    assert "Issued 6 statement(s)." in page.text and "issued v1" in page.text
    assert "Correct month" in page.text and reason in page.text  # the history
    assert "override by Anna Weber" in page.text  # the statements' note line


def test_a_correction_needs_a_reason_and_issues_a_new_version_only_when_amounts_change(
    client: TestClient, seeded: Seeded
) -> None:
    token = _settlement(client, seeded)
    url = f"{_month(seeded)}/issue"
    client.post(url, data=_override(token, reason="first issue"))
    again = client.post(url, data={"csrf_token": token})
    assert again.status_code == 422 and "A correction needs a reason" in again.text
    unsaid = client.post(url, data=_override(token, reason=""))
    assert unsaid.status_code == 422 and "An override needs a reason" in unsaid.text
    same = client.post(url, data=_override(token, reason="re-run"), follow_redirects=False)
    assert same.headers["location"].endswith("issued=0&corrected=0&unchanged=6")
    # a different authoriser changes each statement's override line: a new version each
    other = _override(token, by="Jonas Brandt, CFO", reason="authorised by the CFO instead")
    corrected = client.post(url, data=other, follow_redirects=False)
    assert corrected.headers["location"].endswith("issued=0&corrected=6&unchanged=0")
    assert {s["version"] for s in _issued(client, seeded)} == {2}
    page = client.get(corrected.headers["location"])
    assert "issued v2" in page.text and "Earlier versions" in page.text
    assert "version=1" in page.text  # the superseded version stays downloadable
    link = f"/console/settlement/parks/{seeded.park_id}/statements/{quote(f'steel:de-lu:{MONTH}')}"
    first = client.get(f"{link}/export", params={"format": "csv", "version": 1})
    assert first.status_code == 200 and "_v1" in first.headers["content-disposition"]
    assert "Anna Weber" in first.content.decode("utf-8-sig")
    latest = client.get(f"{link}/export", params={"format": "csv"})
    assert "_v2" in latest.headers["content-disposition"]
    assert "Jonas Brandt" in latest.content.decode("utf-8-sig")
    reasons = [e.after for e in _audit(seeded) if e.action == "settlement.reason"]
    assert [r["action"] for r in reasons] == ["issue", "correct", "correct"]


def test_each_issued_statement_downloads_as_pdf_xlsx_and_csv(
    client: TestClient, seeded: Seeded
) -> None:
    token = _settlement(client, seeded)
    client.post(f"{_month(seeded)}/issue", data=_override(token, reason="month end"))
    page = client.get(_month(seeded)).text
    statement = f"cellco:de-lu:{MONTH}"
    link = f"/console/settlement/parks/{seeded.park_id}/statements/{quote(statement)}/export"
    assert f"{link}?format=pdf" in page
    pdf = client.get(link, params={"format": "pdf"})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert 'attachment; filename="' in pdf.headers["content-disposition"]
    assert "cellco" in pdf.headers["content-disposition"]
    xlsx = client.get(link, params={"format": "xlsx"})
    assert xlsx.headers["content-type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert zipfile.ZipFile(io.BytesIO(xlsx.content)).namelist()
    csv = client.get(link, params={"format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    assert "Market revenue energy" in csv.content.decode("utf-8-sig")
    assert csv.headers["x-content-type-options"] == "nosniff"
    aggregator = quote(f"aggregator:{seeded.park_id}:de-lu:{MONTH}")
    agg = client.get(
        f"/console/settlement/parks/{seeded.park_id}/statements/{aggregator}/export",
        params={"format": "pdf"},
    )
    assert agg.status_code == 200 and agg.content.startswith(b"%PDF")
    missing = client.get(link, params={"format": "pdf", "version": 7})
    assert missing.status_code == 404 and "not found" in missing.text.lower()


def test_enterprise_and_operator_sessions_cannot_open_settlement_pages(
    client: TestClient, seeded: Seeded
) -> None:
    link = f"/console/settlement/parks/{seeded.park_id}/statements/cellco%3Ade-lu%3A{MONTH}/export"
    for role in ("cellco", "operator"):
        other = TestClient(client.app)
        sign_in(other, seeded.keys[role])
        for path in ("/console/settlement", _month(seeded), link):
            refused = other.get(path)
            assert refused.status_code == 403, (role, path)
            assert "cannot open this page (it needs settlements:read)" in refused.text
    # a signed-out visitor is sent to sign in
    anonymous = TestClient(client.app)
    away = anonymous.get(_month(seeded), follow_redirects=False)
    assert away.status_code == 303 and away.headers["location"].startswith("/console/login")
    assert _issued(client, seeded) == []


def test_operator_session_cannot_issue_even_with_its_own_csrf_token(
    client: TestClient, seeded: Seeded
) -> None:
    sign_in(client, seeded.keys["operator"])
    token = csrf_of(client.get(f"/console/parks/{seeded.park_id}").text)
    refused = client.post(f"{_month(seeded)}/issue", data=_override(token, reason="try"))
    assert refused.status_code == 403 and "settlements:issue" in refused.text
    assert _issued(client, seeded) == []


def test_a_post_without_the_csrf_token_is_refused(client: TestClient, seeded: Seeded) -> None:
    _settlement(client, seeded)
    url = f"{_month(seeded)}/issue"
    for form in (_override(""), {**_override("0" * 64), "reason": "why"}):
        refused = client.post(url, data={**form, "reason": "month end"})
        assert refused.status_code == 403
        assert "The form expired or came from another page" in refused.text
    upload = client.post(
        f"{_month(seeded)}/reconcile",
        files={"file": ("op.csv", b"day,product_id,amount\n", "text/csv")},
    )
    assert upload.status_code == 403
    assert _issued(client, seeded) == []


def test_a_park_limited_key_reaches_no_other_park(client: TestClient, seeded: Seeded) -> None:
    assert client.put("/v1/parks/suzhou-1", json=PARK, headers=ADMIN).status_code == 200
    body = {"role": "settlement", "label": "other park", "park_ids": ["suzhou-1"]}
    key = client.post("/v1/api-keys", json=body, headers=ADMIN).json()["key"]
    sign_in(client, key)
    listed = client.get("/console/settlement")
    assert listed.status_code == 200 and "Haute Borne" not in listed.text
    assert "Suzhou Zero-Carbon Park" in listed.text and "[CNY]" not in listed.text
    assert "No delivery days yet for this park." in listed.text and "Asia/Shanghai" in listed.text
    assert client.get(_month(seeded)).status_code == 404
    link = f"/console/settlement/parks/{seeded.park_id}/statements/cellco%3Ade-lu%3A{MONTH}/export"
    assert client.get(link).status_code == 404
    assert client.get(f"/console/settlement/parks/suzhou-1/months/{MONTH}").status_code == 200


def operator_csv(seeded: Seeded, change: float = 0.0) -> bytes:
    """Our award amounts of the month as the operator's CSV, the first row off by ``change``."""
    engine = make_engine(seeded.url)
    try:
        with session_scope(engine) as session:
            stores = settlement_stores(session)
            profile = load_market_profile("de-lu", REPO / "config")
            ours = award_amounts(load_park_month(stores, seeded.park_id, MONTH, profile))
    finally:
        engine.dispose()
    lines = ["day,product_id,amount"]
    for k, row in enumerate(ours.itertuples(index=False)):
        amount = float(row.amount) + (change if k == 0 else 0.0)
        lines.append(f"{row.day},{row.product_id},{amount:.2f}")
    return ("\n".join(lines) + "\n").encode()


def test_reconciliation_shows_matched_and_mismatched_rows(
    client: TestClient, seeded: Seeded
) -> None:
    token = _settlement(client, seeded)
    url = f"{_month(seeded)}/reconcile"
    data = operator_csv(seeded, change=-12.5)
    rows = data.decode().count("\n") - 1
    hx = {"HX-Request": "true", "X-CSRF-Token": token}
    shown = client.post(url, files={"file": ("operator.csv", data, "text/csv")}, headers=hx)
    assert shown.status_code == 200
    assert "<html" not in shown.text  # htmx gets the result alone
    assert f"{rows - 1} of {rows} day/product rows match to the cent." in shown.text
    assert "Rows that differ (1)" in shown.text and "12.50" in shown.text
    assert "operator.csv" in shown.text

    # a plain form post gets the month page with the result
    same = operator_csv(seeded)
    page = client.post(
        url, data={"csrf_token": token}, files={"file": ("operator.csv", same, "text/csv")}
    )
    assert page.status_code == 200 and "<html" in page.text
    assert f"{rows} of {rows} day/product rows match" in page.text
    assert "Every row matches." in page.text


def test_a_bad_operator_file_says_what_is_wrong(client: TestClient, seeded: Seeded) -> None:
    token = _settlement(client, seeded)
    url = f"{_month(seeded)}/reconcile"
    hx = {"HX-Request": "true", "X-CSRF-Token": token}
    for content, says in (
        (b"", "The file is empty."),
        (b"date,product,value\n2021-05-05,energy,1\n", "lack column(s)"),
        (b"day,product_id,amount\n2021-05-05,energy,lots\n", "cannot be read"),
        (b"day,product_id,amount\nnot a day,energy,1\n", "cannot be read"),
        (b"\xff\xfe\x00garbage", "not a readable CSV"),
    ):
        answer = client.post(url, files={"file": ("x.csv", content, "text/csv")}, headers=hx)
        assert answer.status_code == 200 and says in answer.text, (content, answer.text)
        assert 'role="alert"' in answer.text
    plain = client.post(url, data={"csrf_token": token}, files={"file": ("x.csv", b"", "text/csv")})
    assert plain.status_code == 422 and "The file is empty." in plain.text


def test_every_settlement_page_is_translated_into_chinese(
    client: TestClient, seeded: Seeded
) -> None:
    token = _settlement(client, seeded)
    client.cookies.set("vpp_lang", "zh", path="/console")
    i18n.MISSING.clear()
    pages = [client.get("/console/settlement"), client.get(_month(seeded))]
    pages.append(client.post(f"{_month(seeded)}/issue", data={"csrf_token": token}))
    pages.append(client.post(f"{_month(seeded)}/issue", data=_override(token)))
    client.post(f"{_month(seeded)}/issue", data=_override(token, reason="月末"))
    pages.append(client.get(f"{_month(seeded)}?issued=6&corrected=1&unchanged=1"))
    hx = {"HX-Request": "true", "X-CSRF-Token": token}
    for content in (operator_csv(seeded, change=1.0), b""):
        pages.append(
            client.post(
                f"{_month(seeded)}/reconcile",
                files={"file": ("x.csv", content, "text/csv")},
                headers=hx,
            )
        )
    for page in pages:
        assert 'lang="zh-CN"' in page.text or "<html" not in page.text
    assert "月度结算" in pages[0].text and "数据完整性" in pages[1].text
    assert "未出具任何结算单" in pages[2].text and "强制出具需填写理由" in pages[3].text
    assert "已出具 v1" in pages[4].text and "与市场运营机构对账" in pages[4].text
    assert "精确到分一致" in pages[5].text and "文件为空" in pages[6].text
    assert not i18n.MISSING, sorted(i18n.MISSING)
