"""Monthly settlement from the database: amounts by hand, completeness, versions, atomicity."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tests.settlement.conftest import MONTH, T0, Seeder, day_statements
from vpp.db.engine import make_engine, session_scope
from vpp.db.repositories import AuditRepository, StatementRepository
from vpp.db.repositories.settlement_stores import settlement_stores
from vpp.domain.errors import ConflictError
from vpp.domain.market import load_market_profile
from vpp.services.issue_statements import Issued, issue_month
from vpp.services.park_month_inputs import load_park_month
from vpp.services.settle_month import settle_month

D = Decimal
PROFILE = load_market_profile("cn-shandong")


def settle(url: str, **issue: object) -> list[Issued]:
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            stores = settlement_stores(session)
            result = settle_month(load_park_month(stores, "p", MONTH, PROFILE))
            return issue_month(stores.statements, stores.audit, result, **issue)  # type: ignore[arg-type]
    finally:
        engine.dispose()


def test_month_amounts_by_hand(seed_month: Seeder) -> None:
    url = seed_month()
    engine = make_engine(url)
    with session_scope(engine) as session:
        result = settle_month(load_park_month(settlement_stores(session), "p", MONTH, PROFILE))
    engine.dispose()
    assert result.complete, result.problems()
    w = result.waterfall
    assert w.enterprise_total("a") == D("2240.00")
    assert w.enterprise_total("b") == D("1000.00")
    assert w.aggregator_total == D("540.00")
    assert w.market_total == D("3780.00")
    assert w.reconciles
    # bat-b: 1 MW committed for 1 h a day, 0.5 MW delivered -> 28 MWh vs 14 MWh.
    totals = result.daily.groupby(level="enterprise_id").sum()
    assert totals.loc["b", "committed_mwh"] == pytest.approx(28.0)
    assert totals.loc["b", "delivered_mwh"] == pytest.approx(14.0)
    assert totals.loc["a", "shortfall_mwh"] == pytest.approx(0.0)


def test_issue_then_rerun_is_unchanged(seed_month: Seeder) -> None:
    url = seed_month()
    first = settle(url)
    assert [i.action for i in first] == ["issued"] * 3
    assert all(i.statement.status == "issued" for i in first)
    again = settle(url)
    assert [i.action for i in again] == ["unchanged"] * 3


def test_incomplete_month_is_refused_then_overridden_and_audited(seed_month: Seeder) -> None:
    url = seed_month(skip_day=date(2026, 2, 14), skip_meter="bat-b")
    with pytest.raises(ConflictError, match="--override-incomplete --by NAME"):
        settle(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        assert StatementRepository(session).list_for_enterprise("a")[-1].period_end.day == 28
        assert all(
            s.period_start == s.period_end
            for s in StatementRepository(session).list_for_enterprise("a")
        )
    issued = settle(url, override_by="Li Wei (finance)")
    assert all(i.action == "issued" for i in issued)
    notes = [x for x in issued[0].statement.lines if "Li Wei" in x.label]
    assert len(notes) == 1 and notes[0].amount == 0
    with session_scope(engine) as session:
        audit = AuditRepository(session).list_for("statement", issued[0].statement.id)
    engine.dispose()
    assert [e.action for e in audit] == ["settle.override_incomplete"]
    assert audit[0].actor == "Li Wei (finance)"
    assert "no day statements for 2026-02-14" in audit[0].after["problems"]  # type: ignore[index]


def test_changed_amounts_issue_a_correction_and_keep_both(seed_month: Seeder) -> None:
    url = seed_month(skip_day=date(2026, 2, 14))
    settle(url, override_by="ops")
    # The missing day arrives; the month is settled again.
    engine = make_engine(url)
    with session_scope(engine) as session:
        repo = StatementRepository(session)
        for s in day_statements(date(2026, 2, 14)):
            repo.save_draft(s)
            repo.issue(s.enterprise_id, s.id, at=T0)
    again = settle(url, override_by="ops")
    assert {i.action for i in again} == {"corrected"}
    with session_scope(engine) as session:
        versions = StatementRepository(session).versions("a", again[0].statement.id)
    engine.dispose()
    assert [(v.version, v.status) for v in versions] == [(1, "superseded"), (2, "issued")]
    assert versions[1].total - versions[0].total == D("80.00")  # one more day: 100 - 20 %


def test_interrupted_run_issues_nothing(
    seed_month: Seeder, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = seed_month()
    calls = {"n": 0}
    real_issue = StatementRepository.issue

    def failing_issue(self: StatementRepository, *args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real_issue(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(StatementRepository, "issue", failing_issue)
    with pytest.raises(KeyboardInterrupt):
        settle(url)
    monkeypatch.undo()
    engine = make_engine(url)
    with session_scope(engine) as session:
        monthly = [
            s
            for s in StatementRepository(session).list_for_enterprise("a")
            if s.period_start != s.period_end
        ]
    engine.dispose()
    assert monthly == []
