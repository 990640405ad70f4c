"""Settle one park's month and issue its statements, enterprise by enterprise.

The use case behind ``vpp settle`` and ``POST /v1/parks/{park_id}/settlements``. A park is
settled on its own: what another park stores, or lacks, never enters. Within the park:

* an enterprise without a contract in force at the month's start is listed with the reason and
  gets no statement; its revenue and its part of the penalties are held back, so the others'
  statements are exactly what they would be with it settled (a later run, once its contract is
  recorded, issues it and corrects the others only if their amounts change);
* an enterprise whose own data is incomplete (its meters, DR events, shared savings) is listed
  and skipped the same way, unless someone overrides;
* data the whole park depends on (a day without the aggregator's statement, AGC commands, a
  park-wide DR event) is the park's problem: nothing of the park is issued and the problems are
  listed, unless someone overrides.

Every issued run is written to the audit log (``settlement.issue`` on the park).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from vpp.domain.market import MarketProfile
from vpp.domain.settlement_ports import SettlementStores
from vpp.services.issue_statements import Issued, issue_month
from vpp.services.park_month_inputs import load_park_month
from vpp.services.settle_month import MonthSettlement, settle_month

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class ParkMonth:
    """What settling one park's month did."""

    park_id: str
    month: str
    settlement: MonthSettlement
    issued: list[Issued]
    """Each statement issued, corrected or left unchanged (empty when refused)."""
    refused: list[str]
    """Why nothing of the park was issued (the park's data problems); empty when issued."""
    override_by: str | None = None

    @property
    def skipped(self) -> dict[str, str]:
        """Enterprises without a statement this time, with the reason."""
        return self.settlement.skipped

    @property
    def issued_total(self) -> Decimal:
        """Sum of the issued statements [currency]."""
        return sum((i.statement.total for i in self.issued), ZERO)

    @property
    def held_back_total(self) -> Decimal:
        """What the skipped enterprises' statements would carry [currency]."""
        return sum(self.settlement.held_back.values(), ZERO)

    @property
    def reconciles(self) -> bool:
        """The issued statements sum to the market result less what is held back, to the
        cent (so with it, to the month's market total)."""
        w = self.settlement.waterfall
        return not self.refused and w.reconciles and self.issued_total == w.market_total


def settle_park_month(
    stores: SettlementStores,
    park_id: str,
    month: str,
    profile: MarketProfile,
    *,
    override_by: str | None = None,
    actor: str = "vpp settle",
    at: datetime | None = None,
) -> ParkMonth:
    """Settle ``month`` (``YYYY-MM``) of ``park_id`` and issue what can be issued.

    Parameters
    ----------
    stores : SettlementStores
        The ports, bound to one transaction.
    park_id : str
        The park.
    month : str
        ``YYYY-MM`` in the market's timezone.
    profile : MarketProfile
        The park's market profile.
    override_by : str, optional
        Who authorises issuing despite missing data; without it, incomplete enterprises are
        skipped and a park with incomplete data issues nothing.
    actor : str
        Who runs the settlement (audit log).
    at : datetime, optional
        Issue time, now when omitted.
    """
    now = at or datetime.now(UTC)
    inputs = load_park_month(stores, park_id, month, profile)
    result = settle_month(inputs, skip_incomplete=override_by is None)
    blocking = result.blocking_problems()
    if blocking and override_by is None:
        return ParkMonth(park_id, month, result, [], blocking)
    issued = issue_month(
        stores.statements, stores.audit, result, at=now, override_by=override_by, actor=actor
    )
    outcome = ParkMonth(park_id, month, result, issued, [], override_by)
    stores.audit.record(
        actor,
        "settlement.issue",
        "park",
        park_id,
        after={
            "month": month,
            "statements": [
                {
                    "id": i.statement.id,
                    "version": i.statement.version,
                    "action": i.action,
                    "total": str(i.statement.total),
                }
                for i in issued
            ],
            "skipped": dict(result.skipped),
            "held_back": {e: str(v) for e, v in result.held_back.items()},
            "override_by": override_by,
            "reconciles": outcome.reconciles,
        },
        at=now,
    )
    return outcome
