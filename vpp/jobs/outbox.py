"""The dispatch outbox: setpoints wait here until their device confirms them.

The dispatch stage writes one row per asset and delivery day, in the same transaction that
stores the plan, so a crash afterwards loses nothing: :func:`drain` runs on every scheduler tick
and sends whatever is still pending through the :class:`~vpp.domain.ports.DispatchChannel`.

An asset that does not confirm is retried with exponential backoff up to ``max_attempts``
times; then its row is marked ``failed``, an alert is raised, and settlement treats the asset as
not delivered (it is measured at its baseline). A setpoint a channel refuses as invalid fails at
once: retrying it cannot help.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from vpp.db.engine import session_scope
from vpp.db.job_tables import OutboxRow
from vpp.domain.bids import DispatchPlan, Setpoint
from vpp.domain.errors import InvalidInputError, VppError
from vpp.domain.ports import DispatchChannel
from vpp.jobs.alerts import Alerter

log = logging.getLogger(__name__)

PENDING, CONFIRMED, FAILED = "pending", "confirmed", "failed"


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries: ``max_attempts`` sends, waiting ``backoff_s * 2**(n-1)`` after the n-th."""

    max_attempts: int = 5
    backoff_s: float = 30.0
    max_backoff_s: float = 900.0

    def wait_after(self, attempts: int) -> timedelta:
        """How long to wait after the ``attempts``-th failed send."""
        return timedelta(seconds=min(self.backoff_s * 2 ** (attempts - 1), self.max_backoff_s))


@dataclass
class DrainResult:
    """What one pass over the outbox did."""

    sent: int = 0
    confirmed: list[str] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    @property
    def partial(self) -> bool:
        """Some assets confirmed and some did not."""
        return bool(self.confirmed) and bool(self.retrying or self.failed)


def enqueue(session: Session, run_id: str, plan: DispatchPlan, now: datetime) -> int:
    """Put each asset's setpoints of ``plan`` in the outbox (once per run and asset)."""
    by_asset: dict[str, list[Setpoint]] = {}
    for setpoint in plan.setpoints:
        by_asset.setdefault(setpoint.asset_id, []).append(setpoint)
    existing = set(
        session.exec(select(col(OutboxRow.asset_id)).where(col(OutboxRow.run_id) == run_id)).all()
    )
    rows = [
        OutboxRow(
            run_id=run_id,
            asset_id=asset_id,
            market_id=plan.market_id,
            delivery_day=plan.delivery_day,
            setpoints=[s.model_dump(mode="json") for s in setpoints],
            status=PENDING,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        for asset_id, setpoints in sorted(by_asset.items())
        if asset_id not in existing
    ]
    session.add_all(rows)
    return len(rows)


def drain(
    engine: Engine,
    channel: DispatchChannel,
    alerter: Alerter,
    *,
    now: datetime | None = None,
    retry: RetryPolicy | None = None,
    run_id: str | None = None,
) -> DrainResult:
    """Send every pending row that is due; record confirmations, retries and failures."""
    now = now or datetime.now(UTC)
    retry = retry or RetryPolicy()
    with session_scope(engine) as session:
        query = select(OutboxRow).where(
            col(OutboxRow.status) == PENDING, col(OutboxRow.next_attempt_at) <= now
        )
        if run_id is not None:
            query = query.where(col(OutboxRow.run_id) == run_id)
        rows = list(session.exec(query.order_by(col(OutboxRow.id))).all())
    result = DrainResult()
    if not rows:
        return result
    setpoints = [Setpoint.model_validate(s) for row in rows for s in row.setpoints]
    error: str | None = None
    refused = False
    try:
        confirmed = set(channel.send(setpoints))
    except InvalidInputError as exc:
        confirmed, error, refused = set(), f"refused: {exc}", True
    except VppError as exc:
        confirmed, error = set(), f"{type(exc).__name__}: {exc}"
    # a routing channel refuses per asset and still delivers the rest
    refusals: dict[str, str] = dict(getattr(channel, "refused", {}) or {})
    result.sent = len(rows)
    alerts: list[tuple[str, str]] = []
    with session_scope(engine) as session:
        for row in rows:
            row.attempts += 1
            row.updated_at = now
            if row.asset_id in confirmed:
                row.status, row.last_error = CONFIRMED, None
                result.confirmed.append(row.asset_id)
            elif refused or row.asset_id in refusals or row.attempts >= retry.max_attempts:
                row.status = FAILED
                row.last_error = (
                    f"refused: {refusals[row.asset_id]}" if row.asset_id in refusals else error
                ) or f"no confirmation after {row.attempts} attempts"
                result.failed.append(row.asset_id)
                alerts.append(
                    (
                        row.run_id,
                        f"{row.asset_id} did not take its setpoints for {row.delivery_day} "
                        f"({row.last_error}); recorded as non-delivery",
                    )
                )
            else:
                row.last_error = error or "no confirmation"
                row.next_attempt_at = now + retry.wait_after(row.attempts)
                result.retrying.append(row.asset_id)
            session.add(row)
    for failed_run, message in alerts:
        alerter.raise_alert("non_delivery", message, run_id=failed_run, at=now)
    if result.retrying:
        log.info("outbox: %d assets will be retried: %s", len(result.retrying), result.retrying)
    return result


def outbox_state(engine: Engine, run_id: str) -> dict[str, str]:
    """Each asset's outbox status for ``run_id``."""
    with session_scope(engine) as session:
        rows = session.exec(select(OutboxRow).where(col(OutboxRow.run_id) == run_id)).all()
    return {row.asset_id: row.status for row in rows}


def confirmed_assets(engine: Engine, run_id: str) -> list[str]:
    """The assets whose setpoints for ``run_id`` were confirmed."""
    return sorted(a for a, s in outbox_state(engine, run_id).items() if s == CONFIRMED)
