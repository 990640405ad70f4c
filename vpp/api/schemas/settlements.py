"""A park's monthly settlement as the settlement team drives it: issue a month, read the result.

Money is exact decimal text in the market currency.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vpp.api.schemas.statements import StatementSummaryPublic
from vpp.domain.bids import Statement
from vpp.services.settle_park_month import ParkMonth

MONTH_PATTERN = r"^(19|2\d)\d{2}-(0[1-9]|1[0-2])$"
"""YYYY-MM from 1900-01 to 2999-12."""


class SettlementIssue(BaseModel):
    """Settle one month of the park and issue its statements."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"month": "2026-02"},
                {"month": "2026-02", "override_incomplete": True, "by": "Wang Fang, finance"},
            ]
        },
    )

    month: str = Field(pattern=MONTH_PATTERN, description="YYYY-MM in the market's timezone.")
    override_incomplete: bool = Field(
        default=False,
        description="Issue even though data is missing (the statements and the audit log "
        "say so); needs `by`. Enterprises without a contract are never issued.",
    )
    by: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Who authorises issuing despite missing data.",
    )

    @model_validator(mode="after")
    def _override_names_who(self) -> SettlementIssue:
        if self.override_incomplete and not (self.by and self.by.strip()):
            raise ValueError("override_incomplete needs by: who authorises issuing")
        return self


class IssuedStatementPublic(BaseModel):
    """What the run did to one monthly statement."""

    id: str
    enterprise_id: str
    version: int
    action: Literal["issued", "corrected", "unchanged"]
    currency: str
    total: Decimal = Field(description="Sum of the lines [currency], exact.")


class SkippedEnterprise(BaseModel):
    """An enterprise left without a statement this time."""

    enterprise_id: str
    reason: str
    held_back: Decimal = Field(
        description="Its market revenue and share of penalties, on nobody's statement until it "
        "is settled [currency], exact."
    )


class SettlementOutcome(BaseModel):
    """The month of one park: statements issued, enterprises skipped, and the totals."""

    park_id: str
    month: str
    market_id: str
    currency: str
    statements: list[IssuedStatementPublic]
    skipped: list[SkippedEnterprise]
    market_total: Decimal = Field(description="The month's market result [currency], exact.")
    issued_total: Decimal = Field(description="Sum of the statements [currency], exact.")
    held_back_total: Decimal = Field(description="Held back for skipped enterprises, exact.")
    aggregator_total: Decimal = Field(description="The aggregator's statement [currency].")
    reconciles: bool = Field(
        description="The statements sum to the market total less what is held back, to the cent."
    )
    override_by: str | None
    data_gaps: list[str] = Field(description="Missing data the statements were issued despite.")

    @classmethod
    def of(cls, outcome: ParkMonth) -> SettlementOutcome:
        """The public view of a settled park month."""
        result = outcome.settlement
        inputs = result.inputs
        return cls(
            park_id=outcome.park_id,
            month=outcome.month,
            market_id=inputs.market_id,
            currency=inputs.currency,
            statements=[
                IssuedStatementPublic(
                    id=i.statement.id,
                    enterprise_id=i.statement.enterprise_id,
                    version=i.statement.version,
                    action=i.action,
                    currency=i.statement.currency,
                    total=i.statement.total,
                )
                for i in outcome.issued
            ],
            skipped=[
                SkippedEnterprise(enterprise_id=e, reason=why, held_back=result.held_back[e])
                for e, why in outcome.skipped.items()
            ],
            market_total=result.market_total,
            issued_total=outcome.issued_total,
            held_back_total=outcome.held_back_total,
            aggregator_total=result.waterfall.aggregator_total,
            reconciles=outcome.reconciles,
            override_by=outcome.override_by,
            data_gaps=result.blocking_problems() if outcome.override_by else [],
        )


class ParkStatementPublic(StatementSummaryPublic):
    """One monthly statement of the park (latest version), without its lines."""

    enterprise_id: str

    @classmethod
    def of_statement(cls, statement: Statement) -> ParkStatementPublic:
        """The public view of a loaded statement."""
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
        )
