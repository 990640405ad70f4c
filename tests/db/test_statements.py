"""Statements: exact money, immutable once issued, corrections as new versions."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.engine import Engine

from tests.db.conftest import T0
from vpp.db.engine import session_scope
from vpp.db.repositories import StatementRepository
from vpp.domain.bids import Statement, StatementLine
from vpp.domain.errors import ConflictError, InvalidInputError, NotFoundError

ISSUED = T0 + timedelta(days=31)


def statement(*amounts: str, enterprise_id: str = "ent-a") -> Statement:
    return Statement(
        id=f"st-{enterprise_id}-2026-02",
        enterprise_id=enterprise_id,
        market_id="cn-jiangsu",
        period_start=date(2026, 2, 1),
        period_end=date(2026, 2, 28),
        currency="CNY",
        lines=[
            StatementLine(
                label=f"line {k}",
                label_zh=f"第{k}项",
                product_id="energy" if k % 2 else None,
                quantity=12.5 * k if k % 2 else None,
                unit="MWh" if k % 2 else None,
                amount=Decimal(a),
            )
            for k, a in enumerate(amounts)
        ],
    )


AMOUNTS = ("0.10", "0.20", "-1234.57", "9999999999999999.99", "-0.01")


def test_draft_round_trip_keeps_money_exact(seeded: Engine) -> None:
    draft = statement(*AMOUNTS)
    with session_scope(seeded) as session:
        StatementRepository(session).save_draft(draft)
    with session_scope(seeded) as session:
        loaded = StatementRepository(session).get("ent-a", draft.id)
    assert loaded == draft
    assert [line.amount for line in loaded.lines] == [Decimal(a) for a in AMOUNTS]
    assert loaded.total == Decimal("9999999999998765.71")
    assert all(isinstance(line.amount, Decimal) for line in loaded.lines)


def test_issue_freezes_and_correction_supersedes(seeded: Engine) -> None:
    with session_scope(seeded) as session:
        repo = StatementRepository(session)
        repo.save_draft(statement("100.00", "20.05"))
        repo.save_draft(statement("100.00", "20.50"))  # drafts may change
        issued = repo.issue("ent-a", "st-ent-a-2026-02", at=ISSUED)
    assert (issued.status, issued.version, issued.issued_at) == ("issued", 1, ISSUED)
    assert issued.total == Decimal("120.50")

    with pytest.raises(ConflictError, match="immutable"), session_scope(seeded) as session:
        StatementRepository(session).save_draft(statement("1.00"))
    with pytest.raises(ConflictError, match="already issued"), session_scope(seeded) as session:
        StatementRepository(session).issue("ent-a", "st-ent-a-2026-02", at=ISSUED)

    fixed_at = ISSUED + timedelta(days=2)
    with session_scope(seeded) as session:
        corrected = StatementRepository(session).correct(
            statement("100.00", "20.50", "-3.33"), at=fixed_at
        )
    assert (corrected.version, corrected.status, corrected.issued_at) == (2, "issued", fixed_at)

    with session_scope(seeded) as session:
        repo = StatementRepository(session)
        first, second = repo.versions("ent-a", "st-ent-a-2026-02")
        assert (first.status, first.issued_at, first.total) == (
            "superseded",
            ISSUED,
            Decimal("120.50"),
        )
        assert (second.status, second.total) == ("issued", Decimal("117.17"))
        assert repo.get("ent-a", "st-ent-a-2026-02") == second
        assert repo.get("ent-a", "st-ent-a-2026-02", version=1) == first
        assert repo.list_for_enterprise("ent-a") == [second]
        assert repo.list_for_enterprise("ent-a", include_superseded=True) == [first, second]


def test_only_the_owner_reads_a_statement(seeded: Engine) -> None:
    with session_scope(seeded) as session:
        StatementRepository(session).save_draft(statement("5.00"))
    with session_scope(seeded) as session:
        repo = StatementRepository(session)
        for call in (
            lambda: repo.get("ent-b", "st-ent-a-2026-02"),
            lambda: repo.get("ent-b", "st-ent-a-2026-02", version=1),
            lambda: repo.versions("ent-b", "st-ent-a-2026-02"),
            lambda: repo.issue("ent-b", "st-ent-a-2026-02", at=ISSUED),
        ):
            with pytest.raises(NotFoundError):
                call()
        assert repo.list_for_enterprise("ent-b") == []


def test_invalid_saves(seeded: Engine) -> None:
    with session_scope(seeded) as session:
        repo = StatementRepository(session)
        with pytest.raises(InvalidInputError, match="takes drafts"):
            repo.save_draft(statement("1.00").model_copy(update={"status": "issued"}))
        with pytest.raises(InvalidInputError, match="version 1"):
            repo.save_draft(statement("1.00").model_copy(update={"version": 3}))
        with pytest.raises(NotFoundError, match="ent-x"):
            repo.save_draft(statement("1.00", enterprise_id="ent-x"))
        with pytest.raises(NotFoundError):
            repo.correct(statement("1.00"), at=ISSUED)
    with (
        pytest.raises(InvalidInputError, match="more than 2 decimals"),
        session_scope(seeded) as session,
    ):
        StatementRepository(session).save_draft(statement("1.005"))
    with session_scope(seeded) as session:
        repo = StatementRepository(session)
        repo.save_draft(statement("1.00"))
        with pytest.raises(ConflictError, match="not issued"):
            repo.correct(statement("2.00"), at=ISSUED)
