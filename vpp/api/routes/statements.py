"""An enterprise's statements (every version, with status) and its monthly earnings.

Read-only: statements are drafted, issued and corrected by the settlement run. The tenant guard
admits an enterprise credential to its own enterprise only (any other id answers 404); the
settlement, operator and admin roles read any enterprise's.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlmodel import Session

from vpp.api.deps import EngineDep, StatementRead
from vpp.api.schemas.statements import (
    Earnings,
    EarningsMonth,
    StatementPublic,
    StatementSummaryPublic,
)
from vpp.db.engine import session_scope
from vpp.db.repositories import StatementRepository
from vpp.db.tables import EnterpriseRow
from vpp.domain.errors import InvalidInputError, NotFoundError

router = APIRouter(prefix="/v1/enterprises/{enterprise_id}", tags=["statements"])
StatementIdPath = Annotated[str, Path(min_length=1, max_length=64)]
MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"
MAX_MONTHS = 120
Month = Annotated[str, Query(pattern=MONTH, description="YYYY-MM.", examples=["2026-03"])]


@router.get("/statements", summary="List statements, every version")
def list_statements(call: StatementRead, engine: EngineDep) -> list[StatementSummaryPublic]:
    """Every version of every statement with its status, newest first (latest period first;
    within a statement the highest version first)."""
    with session_scope(engine) as session:
        _require_enterprise(session, call.enterprise_id)
        summaries = StatementRepository(session).summaries(call.enterprise_id)
    return [StatementSummaryPublic.of(s) for s in summaries]


@router.get("/statements/{statement_id}", summary="One statement with its lines")
def get_statement(
    statement_id: StatementIdPath,
    call: StatementRead,
    engine: EngineDep,
    version: Annotated[
        int | None, Query(ge=1, le=10_000, description="An older version; latest if omitted.")
    ] = None,
) -> StatementPublic:
    """The latest version of the statement (or ``version``), with its lines."""
    with session_scope(engine) as session:
        repository = StatementRepository(session)
        versions = [s.version for s in repository.versions(call.enterprise_id, statement_id)]
        statement = (
            repository.get(call.enterprise_id, statement_id, version)
            if version is None or version in versions
            else None
        )
    if statement is None:
        raise NotFoundError(
            f"statement {statement_id} has no version {version}",
            hint=f"versions: {', '.join(map(str, versions))}",
        )
    return StatementPublic.with_lines(statement, versions)


@router.get("/earnings", summary="Monthly earnings from issued statements")
def earnings(
    call: StatementRead,
    engine: EngineDep,
    from_month: Annotated[str, Query(alias="from", pattern=MONTH, description="YYYY-MM.")],
    to_month: Annotated[str, Query(alias="to", pattern=MONTH, description="YYYY-MM, included.")],
) -> Earnings:
    """Per month of ``[from, to]``: the sum of the totals of the issued statements whose period
    starts in that month, per currency. Drafts and superseded versions do not count; a
    corrected statement counts with its issued (latest) version."""
    months = _months(_month_start(from_month), _month_start(to_month))
    with session_scope(engine) as session:
        _require_enterprise(session, call.enterprise_id)
        issued = StatementRepository(session).summaries(
            call.enterprise_id,
            status="issued",
            period_from=months[0],
            period_before=_next_month(months[-1]),
        )
    by_month: dict[date, list[tuple[str, str, Decimal]]] = {m: [] for m in months}
    for s in issued:
        by_month[s.period_start.replace(day=1)].append((s.id, s.currency, s.total))
    overall: dict[str, Decimal] = {}
    rows = []
    for month, entries in by_month.items():
        totals: dict[str, Decimal] = {}
        for _, currency, total in entries:
            totals[currency] = totals.get(currency, Decimal("0")) + total
            overall[currency] = overall.get(currency, Decimal("0")) + total
        rows.append(
            EarningsMonth(
                month=month.strftime("%Y-%m"),
                totals=totals,
                statements=sorted(statement_id for statement_id, _, _ in entries),
            )
        )
    return Earnings(
        enterprise_id=call.enterprise_id,
        from_month=from_month,
        to_month=to_month,
        months=rows,
        totals=overall,
    )


def _require_enterprise(session: Session, enterprise_id: str) -> None:
    if session.get(EnterpriseRow, enterprise_id) is None:
        raise NotFoundError(f"enterprise {enterprise_id} not found")


def _month_start(text: str) -> date:
    try:
        return date(int(text[:4]), int(text[5:7]), 1)
    except ValueError as exc:  # year 0000
        raise InvalidInputError(f"{text} is not a month", hint="use YYYY-MM") from exc


def _next_month(month: date) -> date:
    if month.year == date.max.year and month.month == 12:
        raise InvalidInputError("months after 9999-12 are not supported")
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _months(first: date, last: date) -> list[date]:
    if last < first:
        raise InvalidInputError(f"to ({last:%Y-%m}) is before from ({first:%Y-%m})")
    months = [first]
    while months[-1] < last:
        months.append(_next_month(months[-1]))
        if len(months) > MAX_MONTHS:
            raise InvalidInputError(f"at most {MAX_MONTHS} months per query")
    return months
