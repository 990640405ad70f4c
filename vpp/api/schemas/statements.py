"""Statements and earnings as an enterprise sees them; money is exact decimal text."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from vpp.db.repositories.statements import StatementSummary
from vpp.domain.bids import Statement

Status = Literal["draft", "issued", "superseded"]


class StatementSummaryPublic(BaseModel):
    """One version of a statement, without its lines."""

    id: str
    version: int
    status: Status
    market_id: str
    period_start: date
    period_end: date
    issued_at: datetime | None
    currency: str
    total: Decimal = Field(description="Sum of the lines [currency], exact.")

    @classmethod
    def of(cls, summary: StatementSummary) -> StatementSummaryPublic:
        """The public view of a stored version."""
        return cls(
            id=summary.id,
            version=summary.version,
            status=summary.status,
            market_id=summary.market_id,
            period_start=summary.period_start,
            period_end=summary.period_end,
            issued_at=summary.issued_at,
            currency=summary.currency,
            total=summary.total,
        )


class StatementLinePublic(BaseModel):
    """One line of a statement."""

    label: str
    label_zh: str | None
    product_id: str | None
    quantity: float | None
    unit: str | None
    amount: Decimal = Field(description="[currency], exact.")


class StatementPublic(StatementSummaryPublic):
    """One version of a statement with its lines, and the versions that exist."""

    enterprise_id: str
    lines: list[StatementLinePublic]
    versions: list[int] = Field(description="Every stored version of this statement, ascending.")

    @classmethod
    def with_lines(cls, statement: Statement, versions: list[int]) -> StatementPublic:
        """The public view of a loaded statement version."""
        return cls(
            id=statement.id,
            version=statement.version,
            status=statement.status,
            enterprise_id=statement.enterprise_id,
            market_id=statement.market_id,
            period_start=statement.period_start,
            period_end=statement.period_end,
            issued_at=statement.issued_at,
            currency=statement.currency,
            total=statement.total,
            lines=[StatementLinePublic(**line.model_dump()) for line in statement.lines],
            versions=versions,
        )


class EarningsMonth(BaseModel):
    """Issued statements whose period starts in one month."""

    month: str = Field(description="YYYY-MM.", examples=["2026-03"])
    totals: dict[str, Decimal] = Field(
        description="Sum of the issued statements' totals per currency, exact; empty if none."
    )
    statements: list[str] = Field(description="Ids of the statements counted.")


class Earnings(BaseModel):
    """Monthly earnings of an enterprise from its issued statements."""

    enterprise_id: str
    from_month: str = Field(description="First month, YYYY-MM.")
    to_month: str = Field(description="Last month (included), YYYY-MM.")
    months: list[EarningsMonth] = Field(description="Every month of the range, oldest first.")
    totals: dict[str, Decimal] = Field(description="Sum over the range per currency, exact.")
