"""Settlement park by park and enterprise by enterprise: two parks on one market, a tenant
without a contract, a tenant with a missing meter; every figure by hand (``two_parks``)."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest

from tests.settlement.conftest import MONTH, Seeder
from tests.settlement.test_settle_cli import run
from tests.settlement.two_parks import seed_two_parks
from vpp.db.engine import make_engine, session_scope
from vpp.db.repositories import AuditRepository, StatementRepository
from vpp.db.repositories.settlement_stores import settlement_stores
from vpp.domain.market import load_market_profile
from vpp.services.park_statements import park_statements
from vpp.services.settle_park_month import ParkMonth, settle_park_month

D = Decimal
PROFILE = load_market_profile("cn-shandong")


def settle(url: str, park_id: str, override_by: str | None = None) -> ParkMonth:
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            stores = settlement_stores(session)
            return settle_park_month(stores, park_id, MONTH, PROFILE, override_by=override_by)
    finally:
        engine.dispose()


@pytest.fixture
def two_parks(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'parks.sqlite'}"
    seed_two_parks(url)
    return url


def test_each_park_settles_on_its_own_and_a_contractless_tenant_is_skipped(
    two_parks: str,
) -> None:
    a = settle(two_parks, "pa")
    assert not a.refused and a.skipped == {}
    totals = {i.statement.enterprise_id: i.statement.total for i in a.issued}
    assert totals == {"a1": D("2240.00"), "aggregator": D("420.00")}
    assert a.settlement.market_total == D("2660.00") and a.reconciles
    assert {i.statement.id for i in a.issued} == {
        "a1:cn-shandong:2026-02",
        "aggregator:pa:cn-shandong:2026-02",
    }

    b = settle(two_parks, "pb")
    assert not b.refused
    assert b.skipped == {"b2": "no contract in force on 2026-02-01"}
    totals = {i.statement.enterprise_id: i.statement.total for i in b.issued}
    assert totals == {"b1": D("1120.00"), "aggregator": D("280.00")}
    assert b.settlement.held_back == {"b2": D("728.00")}  # 840 revenue, all of -112 penalties
    assert b.settlement.market_total == D("2128.00") and b.reconciles
    assert b.issued_total + b.held_back_total == b.settlement.market_total

    engine = make_engine(two_parks)
    with session_scope(engine) as session:
        stores = settlement_stores(session)
        listed = {p: [s.id for s in park_statements(stores, p, MONTH)] for p in ("pa", "pb")}
        audit = AuditRepository(session).list_for("park", "pb")
        b2 = StatementRepository(session).list_for_enterprise("b2")
        assert b2 and all(s.period_start == s.period_end for s in b2)  # day statements only
    engine.dispose()
    assert listed == {
        "pa": ["a1:cn-shandong:2026-02", "aggregator:pa:cn-shandong:2026-02"],
        "pb": ["b1:cn-shandong:2026-02", "aggregator:pb:cn-shandong:2026-02"],
    }
    assert [e.action for e in audit] == ["settlement.issue"]
    assert audit[0].after is not None and audit[0].after["skipped"] == b.skipped


def test_the_cli_settles_every_park_lists_the_skipped_and_names_files_by_park(
    two_parks: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    out = tmp_path / "statements"
    code, text = run(two_parks, monkeypatch, "--month", MONTH, "--export", str(out))
    assert code != 0, text  # something was skipped: say so in the exit status
    assert "market total: 2,660.00 CNY" in text and "market total: 2,128.00 CNY" in text
    assert "728.00 CNY held back" in text and text.count("reconciles to the cent") == 2
    assert "b2" in text and "no contract in force on 2026-02-01" in text
    assert "1 enterprise(s) were skipped" in text
    names = sorted(p.name for p in out.iterdir())
    assert [n for n in names if n.endswith(".csv")] == [
        "pa_2026-02_a1_v1.csv",
        "pa_2026-02_aggregator_v1.csv",
        "pa_2026-02_zero_carbon.csv",
        "pb_2026-02_aggregator_v1.csv",
        "pb_2026-02_b1_v1.csv",
        "pb_2026-02_zero_carbon.csv",
    ]
    with (out / "pb_2026-02_aggregator_v1.csv").open(encoding="utf-8-sig") as handle:
        assert list(csv.reader(handle))[-1][-1] == "280.00"
    code, text = run(two_parks, monkeypatch, "--month", MONTH, "--park", "pa")
    assert code == 0, text
    assert text.count("unchanged") == 2 and "pb" not in text
    code, text = run(two_parks, monkeypatch, "--month", MONTH, "--park", "nowhere")
    assert code != 0 and "park nowhere not found" in text


def test_market_wide_aggregator_days_cannot_be_split_between_two_parks(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'legacy.sqlite'}"
    seed_two_parks(url, legacy=True)
    a = settle(url, "pa")
    assert a.issued == [] and "no day statements for 2026-02-01" in a.refused
    assert any("park(s) pb trade on cn-shandong too" in p for p in a.refused)
    assert settle(url, "pb").reconciles  # the other park is not held up


def test_an_incomplete_tenant_is_skipped_then_issued_with_an_override(
    seed_month: Seeder, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = seed_month(skip_meter="bat-b")
    first = settle(url, "p")
    assert set(first.skipped) == {"b"} and "bat-b: 112 committed intervals" in first.skipped["b"]
    totals = {i.statement.enterprise_id: i.statement.total for i in first.issued}
    # a as in the complete month; b's revenue and the whole deviation are held back.
    assert totals == {"a": D("2240.00"), "aggregator": D("560.00")}
    assert first.settlement.held_back == {"b": D("980.00")} and first.reconciles
    code, text = run(url, monkeypatch, "--month", MONTH, "--override-incomplete", "--by", "Li Wei")
    assert code == 0, text
    assert "issued with 1 data gaps (override)" in text and "corrected" in text
