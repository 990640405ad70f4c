"""Column types: UTC-aware timestamps and exact decimals on both databases; an audit trail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests.db.conftest import T0
from vpp.db.engine import session_scope
from vpp.db.repositories import (
    AuditRepository,
    ConsentRepository,
    ContractRepository,
    StatementRepository,
)
from vpp.db.tables import AssetRow, ContractRow
from vpp.db.types import ExactNumeric, to_decimal
from vpp.domain.bids import Statement, StatementLine
from vpp.domain.errors import InvalidInputError
from vpp.domain.park import ConsentRecord

SHANGHAI = timezone(timedelta(hours=8))


def _is_utc(value: datetime | None) -> bool:
    return value is not None and value.tzinfo is UTC


def test_timestamps_come_back_utc_aware(seeded: Engine) -> None:
    agreed = datetime(2026, 3, 1, 9, 30, tzinfo=SHANGHAI)
    consent = ConsentRecord(
        enterprise_id="ent-a",
        asset_ids=["a-bat-1"],
        agreed_by="Li Wei",
        agreed_at=agreed,
        contract_id="c-a-1",
        terms_version="1",
    )
    with session_scope(seeded) as session:
        consent_id = ConsentRepository(session).add(consent)
        StatementRepository(session).save_draft(_statement())
        StatementRepository(session).issue("ent-a", "st-1", at=agreed)
    with session_scope(seeded) as session:
        loaded = ConsentRepository(session).get("ent-a", consent_id)
        issued = StatementRepository(session).get("ent-a", "st-1")
        contract = ContractRepository(session).get("ent-a", "c-a-1")
        created = session.get(AssetRow, "a-bat-1")
    assert loaded.agreed_at == agreed and _is_utc(loaded.agreed_at)
    assert loaded.agreed_at.hour == 1  # 09:30 +08:00 is 01:30 UTC
    assert _is_utc(issued.issued_at) and issued.issued_at == agreed
    assert _is_utc(contract.valid_from) and contract.valid_from == T0
    assert created is not None and _is_utc(created.created_at) and created.created_at == T0


def test_naive_timestamps_are_refused(seeded: Engine) -> None:
    naive = datetime(2026, 3, 1, 12)  # noqa: DTZ001 - the point of the test
    with pytest.raises(InvalidInputError, match="naive timestamp"), seeded.connect() as connection:
        table = ContractRow.__table__  # type: ignore[attr-defined]
        connection.execute(sa.select(table.c.id).where(table.c.valid_from < naive))


@pytest.mark.parametrize(
    "amount",
    ["0.01", "-0.01", "0.30", "1234567890123456.78", "-9999999999999999.99", "0"],
)
def test_money_round_trips_exactly(engine: Engine, amount: str) -> None:
    table = sa.Table("money_probe", sa.MetaData(), sa.Column("amount", ExactNumeric(18, 2)))
    with engine.begin() as connection:
        table.create(connection)
        try:
            connection.execute(table.insert(), [{"amount": Decimal(amount)}])
            stored = connection.execute(sa.select(table.c.amount)).scalar_one()
        finally:
            table.drop(connection)
    assert stored == Decimal(amount) and isinstance(stored, Decimal)
    assert stored.as_tuple().exponent == -2


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (0.1, "is a float"),
        (Decimal("0.001"), "more than 2 decimals"),
        (Decimal("10000000000000000.00"), "does not fit"),
        ("ten", "not a decimal"),
    ],
)
def test_money_that_cannot_be_stored_exactly_is_refused(value: object, match: str) -> None:
    column = ExactNumeric(18, 2)
    with pytest.raises(InvalidInputError, match=match):
        column.process_bind_param(value, sa.create_engine("sqlite://").dialect)


def test_float_rates_are_rounded_explicitly() -> None:
    assert to_decimal(0.1 + 0.2, 6) == Decimal("0.300000")
    assert to_decimal(412.37, 6) == Decimal("412.370000")


def test_audit_trail_records_before_and_after(seeded: Engine) -> None:
    draft = _statement()
    with session_scope(seeded) as session:
        repo = AuditRepository(session)
        repo.record("ops@park", "create", "statement", "st-1", after=draft, at=T0)
        repo.record(
            "ops@park",
            "issue",
            "statement",
            "st-1",
            before={"status": "draft"},
            after={"status": "issued"},
            at=T0 + timedelta(hours=1),
        )
    with session_scope(seeded) as session:
        entries = AuditRepository(session).list_for("statement", "st-1")
    assert [e.action for e in entries] == ["create", "issue"]
    assert entries[0].before is None
    assert Statement.model_validate(entries[0].after) == draft
    assert entries[1].before == {"status": "draft"} and _is_utc(entries[1].at)


def _statement() -> Statement:
    return Statement(
        id="st-1",
        enterprise_id="ent-a",
        market_id="cn-jiangsu",
        period_start=T0.date(),
        period_end=T0.date(),
        currency="CNY",
        lines=[StatementLine(label="energy", amount=Decimal("10.10"))],
    )
