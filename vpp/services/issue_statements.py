"""Issue a settled month's statements: new ones issued, changed ones corrected, the rest left.

Statements are immutable once issued: a monthly statement whose amounts changed since the last
run is issued again as the next version (the old one superseded, both kept), an identical one
is left alone. A month whose park data, or the data of an enterprise about to be issued, is
incomplete is refused unless someone overrides; the override is written on every statement
and into the audit log. The caller runs this inside the transaction that loaded the month, so
an interrupted run leaves nothing half-issued.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from vpp.domain.bids import Statement
from vpp.domain.errors import ConflictError, NotFoundError
from vpp.domain.settlement import to_money
from vpp.domain.settlement_ports import AuditLog, StatementStore
from vpp.services.settle_month import MonthSettlement, with_override_note


@dataclass(frozen=True)
class Issued:
    """What happened to one monthly statement."""

    statement: Statement
    action: Literal["issued", "corrected", "unchanged"]


def issue_month(
    statements: StatementStore,
    audit: AuditLog,
    settlement: MonthSettlement,
    *,
    at: datetime | None = None,
    override_by: str | None = None,
    actor: str = "vpp settle",
) -> list[Issued]:
    """Issue (or correct) the month's statements; refuse incomplete data without override.

    Parameters
    ----------
    statements, audit : StatementStore, AuditLog
        Where statements and audit entries go (one transaction).
    settlement : MonthSettlement
        The settled month; its skipped enterprises have no statement to issue.
    at : datetime, optional
        Issue time (now when omitted).
    override_by : str, optional
        Who authorises issuing despite missing data.
    actor : str
        Who runs the settlement, for the audit entries of corrections.

    Raises
    ------
    ConflictError
        Data the issued statements depend on is missing and nobody overrode.
    """
    now = at or datetime.now(UTC)
    problems = settlement.blocking_problems()
    drafts = settlement.statements
    if problems and not override_by:
        raise ConflictError(
            f"{settlement.inputs.month} is incomplete: {'; '.join(problems[:5])}"
            + (f" and {len(problems) - 5} more" if len(problems) > 5 else ""),
            hint="import the missing data and run again, or pass --override-incomplete --by NAME",
        )
    if problems and override_by:
        drafts = [with_override_note(s, override_by, problems) for s in drafts]
    out = issue_or_correct(statements, audit, drafts, at=now, actor=override_by or actor)
    for draft in drafts if problems and override_by else []:
        if override_by:
            audit.record(
                override_by,
                "settle.override_incomplete",
                "statement",
                draft.id,
                after={
                    "month": settlement.inputs.month,
                    "problems": problems[:100],
                    "problem_count": len(problems),
                },
                at=now,
            )
    return out


def issue_or_correct(
    statements: StatementStore,
    audit: AuditLog,
    drafts: list[Statement],
    *,
    at: datetime,
    actor: str,
) -> list[Issued]:
    """Issue each draft; a stored statement whose amounts changed gets a corrected version
    (audited), one whose amounts did not is left as it is. Day and month statements alike."""
    out: list[Issued] = []
    for draft in drafts:
        try:
            stored = statements.get(draft.enterprise_id, draft.id)
        except NotFoundError:
            statements.save_draft(draft)
            out.append(Issued(statements.issue(draft.enterprise_id, draft.id, at=at), "issued"))
            continue
        if _amounts(stored) == _amounts(draft):
            out.append(Issued(stored, "unchanged"))
            continue
        corrected = statements.correct(
            draft.model_copy(update={"version": stored.version + 1}), at=at
        )
        audit.record(
            actor,
            "statement.correct",
            "statement",
            draft.id,
            before={"version": stored.version, "total": str(stored.total)},
            after={"version": corrected.version, "total": str(corrected.total)},
            at=at,
        )
        out.append(Issued(corrected, "corrected"))
    return out


def _amounts(statement: Statement) -> list[tuple[str, object]]:
    return [(x.label, to_money(x.amount)) for x in statement.lines]
