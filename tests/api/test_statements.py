"""Tenant statements and earnings: own statements only, every version, exact monthly sums."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from fastapi.testclient import TestClient

from tests.api.conftest import World
from vpp.db.engine import session_scope
from vpp.db.repositories import StatementRepository
from vpp.domain.bids import Statement, StatementLine

ISSUED = datetime(2026, 4, 3, 9, 0, tzinfo=UTC)


def statement(
    statement_id: str, enterprise_id: str, month: int, *amounts: str, currency: str = "CNY"
) -> Statement:
    return Statement(
        id=statement_id,
        enterprise_id=enterprise_id,
        market_id="cn-shandong",
        period_start=date(2026, month, 1),
        period_end=date(2026, month, 28),
        currency=currency,
        lines=[
            StatementLine(
                label=f"line {k}",
                label_zh=f"第{k}项",
                product_id="spot_energy",
                quantity=1.5 * k,
                unit="MWh",
                amount=Decimal(a),
            )
            for k, a in enumerate(amounts)
        ],
    )


def seed_statements(client: TestClient) -> None:
    """ent-a: Feb (issued, then corrected to v2), Mar (two issued), Apr draft; ent-b: Feb."""
    engine = client.app.state.engine  # type: ignore[attr-defined]
    with session_scope(engine) as session:
        repo = StatementRepository(session)
        for draft in (
            statement("st-a-2026-02", "ent-a", 2, "0.10", "0.20", "1234.56"),
            statement("st-a-2026-03", "ent-a", 3, "100.01", "-0.02"),
            statement("st-a-2026-03-usd", "ent-a", 3, "19.99", currency="USD"),
            statement("st-a-2026-03-fix", "ent-a", 3, "0.07", "0.03"),
            statement("st-a-2026-04", "ent-a", 4, "55.55"),
            statement("st-b-2026-02", "ent-b", 2, "999.99"),
        ):
            repo.save_draft(draft)
        for statement_id in (
            "st-a-2026-02",
            "st-a-2026-03",
            "st-a-2026-03-usd",
            "st-a-2026-03-fix",
        ):
            repo.issue("ent-a", statement_id, at=ISSUED)
        repo.issue("ent-b", "st-b-2026-02", at=ISSUED)
        corrected = statement("st-a-2026-02", "ent-a", 2, "0.10", "0.20", "1234.57", "-0.01")
        repo.correct(corrected, at=ISSUED.replace(day=10))


def test_a_tenant_lists_only_its_own_statements_newest_first(
    client: TestClient, world: World
) -> None:
    seed_statements(client)
    answer = client.get("/v1/enterprises/ent-a/statements", headers=world.ent_a)
    assert answer.status_code == 200, answer.text
    listed = [(s["id"], s["version"], s["status"]) for s in answer.json()]
    assert listed == [
        ("st-a-2026-04", 1, "draft"),
        ("st-a-2026-03", 1, "issued"),
        ("st-a-2026-03-fix", 1, "issued"),
        ("st-a-2026-03-usd", 1, "issued"),
        ("st-a-2026-02", 2, "issued"),
        ("st-a-2026-02", 1, "superseded"),
    ]
    assert answer.json()[-2]["total"] == "1234.86" and answer.json()[-1]["total"] == "1234.86"
    for path in (
        "/v1/enterprises/ent-b/statements",
        "/v1/enterprises/ent-b/statements/st-b-2026-02",
        "/v1/enterprises/ent-a/statements/st-b-2026-02",
        "/v1/enterprises/ent-b/earnings?from=2026-01&to=2026-12",
    ):
        hidden = client.get(path, headers=world.ent_a)
        assert hidden.status_code == 404, (path, hidden.text)
        assert hidden.headers["content-type"] == "application/problem+json"
    own_b = client.get("/v1/enterprises/ent-b/statements", headers=world.ent_b).json()
    assert [s["id"] for s in own_b] == ["st-b-2026-02"]


def test_latest_and_older_versions_with_lines(client: TestClient, world: World) -> None:
    seed_statements(client)
    base = "/v1/enterprises/ent-a/statements/st-a-2026-02"
    latest = client.get(base, headers=world.ent_a).json()
    assert (latest["version"], latest["status"], latest["versions"]) == (2, "issued", [1, 2])
    assert [line["amount"] for line in latest["lines"]] == ["0.10", "0.20", "1234.57", "-0.01"]
    assert latest["lines"][1]["label_zh"] == "第1项" and latest["total"] == "1234.86"
    assert latest["issued_at"] == "2026-04-10T09:00:00Z"
    first = client.get(base, params={"version": 1}, headers=world.ent_a).json()
    assert (first["version"], first["status"]) == (1, "superseded")
    assert [line["amount"] for line in first["lines"]] == ["0.10", "0.20", "1234.56"]
    missing = client.get(base, params={"version": 3}, headers=world.ent_a)
    assert missing.status_code == 404 and "1, 2" in missing.json()["hint"]
    unknown = client.get("/v1/enterprises/ent-a/statements/nope", headers=world.ent_a)
    assert unknown.status_code == 404


def test_earnings_sum_the_issued_statements_to_the_cent(client: TestClient, world: World) -> None:
    seed_statements(client)
    answer = client.get(
        "/v1/enterprises/ent-a/earnings",
        params={"from": "2026-01", "to": "2026-05"},
        headers=world.ent_a,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    months = {m["month"]: m for m in body["months"]}
    assert list(months) == ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05"]
    assert months["2026-01"]["totals"] == {} and months["2026-04"]["totals"] == {}  # draft only
    assert months["2026-02"] == {
        "month": "2026-02",
        "totals": {"CNY": "1234.86"},  # the corrected v2, not v1
        "statements": ["st-a-2026-02"],
    }
    assert months["2026-03"]["totals"] == {"CNY": "100.09", "USD": "19.99"}
    assert months["2026-03"]["statements"] == [
        "st-a-2026-03",
        "st-a-2026-03-fix",
        "st-a-2026-03-usd",
    ]
    # the same sums as the issued statements' own totals, exactly
    listed = client.get("/v1/enterprises/ent-a/statements", headers=world.ent_a).json()
    cny = sum(
        (Decimal(s["total"]) for s in listed if s["status"] == "issued" and s["currency"] == "CNY"),
        Decimal("0"),
    )
    assert Decimal(body["totals"]["CNY"]) == cny == Decimal("1334.95")
    assert body["totals"] == {"CNY": "1334.95", "USD": "19.99"}
    narrow = client.get(
        "/v1/enterprises/ent-a/earnings",
        params={"from": "2026-03", "to": "2026-03"},
        headers=world.ent_a,
    ).json()
    assert narrow["totals"] == {"CNY": "100.09", "USD": "19.99"}
    for bad in (
        {"from": "2026-13", "to": "2026-12"},
        {"from": "2026-05", "to": "2026-01"},
        {"from": "2026-01"},
    ):
        refused = client.get("/v1/enterprises/ent-a/earnings", params=bad, headers=world.ent_a)
        assert refused.status_code == 422, (bad, refused.text)


def test_settlement_reads_any_enterprise(client: TestClient, world: World) -> None:
    seed_statements(client)
    for enterprise in ("ent-a", "ent-b"):
        listed = client.get(f"/v1/enterprises/{enterprise}/statements", headers=world.settlement)
        assert listed.status_code == 200 and listed.json()
    one = client.get("/v1/enterprises/ent-b/statements/st-b-2026-02", headers=world.settlement)
    assert one.status_code == 200 and one.json()["total"] == "999.99"
    earned = client.get(
        "/v1/enterprises/ent-b/earnings",
        params={"from": "2026-02", "to": "2026-02"},
        headers=world.settlement,
    )
    assert earned.json()["totals"] == {"CNY": "999.99"}
    assert (
        client.get("/v1/enterprises/ent-x/statements", headers=world.settlement).status_code == 404
    )
    assert client.get("/v1/enterprises/ent-b/statements", headers=world.operator).status_code == 200
