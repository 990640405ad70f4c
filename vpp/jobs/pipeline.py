"""The day-ahead pipeline of one park: each delivery day advanced stage by stage, durably.

:meth:`DayAheadPipeline.advance` is called by the scheduler (on the stage times and on every
tick) with the current instant. It reads which stages of the day are done from the database,
asks :func:`vpp.domain.pipeline.due_stages` what may run now, runs it, and records the stage in
the same transaction as its effects. So a scheduler restarted at any point (or killed in the
middle of a stage) picks up where the database says it stands:

* a stage whose transaction did not commit simply runs again;
* the submission carries the bid set id as its idempotency key, so a submission the exchange
  took before the crash is answered with the same receipt instead of being placed twice;
* setpoints wait in the outbox until their devices confirm them.

Every stage reads the park from the database (:class:`~vpp.domain.ports.ParkSource`) as it is
at that instant: what enterprises enrolled, operators verified and meters measured. The forecast
stage stores the forecasts it issued, the bid stage the problem it prepared and solved; later
stages, also after a restart, read them back instead of forecasting or solving again. The settle
stage measures delivery from the meters; only a replay (simulated exchange) simulates readings
that are missing, flags them ``simulated`` and never writes over a measured one.

Every attempt is a row in ``job_runs`` (status and timings, for the API); deadline risk, missed
gates and silent devices raise alerts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from adapters.exports.bid_files import write_bid_csv, write_bid_xml
from bidding import plan_dispatch
from vpp.db.engine import session_scope
from vpp.db.job_tables import AlertRow, JobRunRow, PipelineRunRow, PipelineStageRow
from vpp.db.repositories import (
    AuditRepository,
    AwardRepository,
    BidRepository,
    DispatchRepository,
    ForecastRepository,
    ParkRepository,
    PreparedRepository,
    StatementRepository,
    TelemetryRepository,
)
from vpp.db.tables import EnterpriseRow
from vpp.domain.bids import BidSet, DispatchPlan
from vpp.domain.errors import GateClosedError, NotFoundError, VppError
from vpp.domain.market import MarketProfile
from vpp.domain.park import Enterprise
from vpp.domain.park_data import ParkData
from vpp.domain.pipeline import (
    PipelinePolicy,
    PipelineTimes,
    Stage,
    auto_approval,
    due_stages,
    pipeline_times,
)
from vpp.domain.ports import DispatchChannel, MarketGateway, ParkSource
from vpp.jobs.alerts import Alerter
from vpp.jobs.outbox import RetryPolicy, confirmed_assets, drain, enqueue
from vpp.jobs.run_records import JOB, approve_run, finish_stage, stages_done
from vpp.services.day_ahead_cycle import (
    CycleResult,
    PreparedBids,
    assemble_cycle,
    issue_forecasts,
    optimise_bids,
    run_key,
    settle_delivery,
)
from vpp.services.forecast_park import ParkForecasts
from vpp.services.issue_statements import issue_or_correct
from vpp.services.settle_day import AGGREGATOR

log = logging.getLogger(__name__)
ADVANCE_LOCK = threading.Lock()
#: Days of series the bid stage reads with the park: it bids on the stored forecasts, so only
#: the portfolio, consents and outages matter (reading 120 days of meters took ~3 s at 500
#: assets).
BID_HISTORY_DAYS = 1
"""Held while any pipeline of this process advances: the scheduler's ticks and the API's
``advance`` never run stages at the same time (several instances: see the leadership issue)."""


class StageWaiting(Exception):
    """A stage cannot finish yet (awaiting approval or results); the next tick tries again."""


@dataclass(frozen=True)
class StageOutcome:
    """One attempt at one stage."""

    stage: Stage
    status: str  # succeeded | waiting | failed | missed | skipped
    message: str


@dataclass
class DayAheadPipeline:
    """Runs the day-ahead stages of park ``park_id`` (read from ``source``) in ``profile``'s
    market. ``simulated_meter`` (replays only) lets the settle stage simulate missing readings."""

    engine: Engine
    park_id: str
    source: ParkSource
    profile: MarketProfile
    policy: PipelinePolicy
    gateway: MarketGateway
    channel: DispatchChannel
    alerter: Alerter
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    export_dir: Path | None = None
    simulated_meter: bool = False
    forecaster: Callable[[ParkData, MarketProfile, date], ParkForecasts] = issue_forecasts
    optimiser: Callable[..., PreparedBids] = optimise_bids
    settled: dict[date, CycleResult] = field(default_factory=dict, repr=False)

    def run_id(self, day: date) -> str:
        """The id of ``day``'s run, also its bid set id and idempotency key."""
        return run_key(self.park_id, self.profile.market_id, day)

    def data(self, now: pd.Timestamp, history_days: int | None = None) -> ParkData:
        """The park as the database holds it at ``now`` (series: ``history_days`` back)."""
        return self.source.load(self.park_id, now, history_days=history_days)

    def times(self, day: date) -> PipelineTimes:
        """When each stage of ``day`` is due."""
        return pipeline_times(self.profile, self.policy, day)

    def done(self, day: date) -> dict[str, dict[str, Any]]:
        """The finished stages of ``day`` and their details."""
        with session_scope(self.engine) as session:
            return stages_done(session, self.run_id(day))

    def advance(self, day: date, now: datetime | pd.Timestamp) -> list[StageOutcome]:
        """Run every stage of ``day`` that is due at ``now``; deliver pending setpoints."""
        now = pd.Timestamp(now).tz_convert("UTC").floor("us")
        times = self.times(day)
        run_id = self.run_id(day)
        if not self._run_exists(day) and now >= times.gate_closure:
            return []  # a day never started before its gate closed has nothing to catch up
        if self._ensure_run(day, now) == "missed":
            return []  # a missed gate stays missed; nothing later can happen for this day
        outcomes: list[StageOutcome] = []
        while True:
            done = set(self.done(day))
            due = due_stages(times, done, now)
            if due.at_risk:
                self._alert_once(
                    "deadline_risk",
                    run_id,
                    f"bids for {day} are not submitted; the submission target is "
                    f"{times.submit_by.isoformat()} and the gate closes "
                    f"{times.gate_closure.isoformat()}",
                    now,
                )
            if due.missed:
                stage = due.missed[0]
                message = f"{stage} for {day} was not done before its deadline"
                self._alert_once("missed", run_id, message, now)
                self._set_status(run_id, "missed", now)
                outcomes.append(self._record(run_id, stage, "missed", message, now, 0.0))
                break
            if not due.runnable:
                break
            outcome = self._attempt(due.runnable[0], day, times, now)
            outcomes.append(outcome)
            if outcome.status != "succeeded":
                break
        if "dispatch" in self.done(day):
            result = drain(
                self.engine,
                self.channel,
                self.alerter,
                now=now.to_pydatetime(),
                retry=self.retry,
                run_id=run_id,
            )
            if result.sent:
                partial = " (partial dispatch)" if result.partial else ""
                message = (
                    f"sent {result.sent} assets: {len(result.confirmed)} confirmed, "
                    f"{len(result.retrying)} to retry, {len(result.failed)} failed{partial}"
                )
                outcomes.append(self._record(run_id, "dispatch", "delivered", message, now, 0.0))
        return outcomes

    # -- stages -------------------------------------------------------------------------------

    def _attempt(
        self, stage: Stage, day: date, times: PipelineTimes, now: pd.Timestamp
    ) -> StageOutcome:
        run_id = self.run_id(day)
        started = time.perf_counter()
        try:
            detail = getattr(self, f"_stage_{stage}")(day, times, now)
            status, message = "succeeded", str(detail.get("message", "done"))
        except StageWaiting as waiting:
            status, message = "waiting", str(waiting)
        except GateClosedError as exc:
            self._alert_once("missed", run_id, f"{stage} for {day}: {exc}", now)
            self._set_status(run_id, "missed", now)
            status, message = "missed", str(exc)
        except VppError as exc:
            log.error("%s %s failed: %s", run_id, stage, exc)
            status = "failed"
            message = f"{type(exc).__name__}: {exc}"  # str(exc) carries the hint
            self._alert_once("stage_failed", run_id, f"{stage} for {day} failed: {message}", now)
        elapsed = (time.perf_counter() - started) * 1000
        return self._record(run_id, stage, status, message, now, elapsed)

    def _finish(
        self, session: Session, day: date, stage: Stage, now: pd.Timestamp, **detail: Any
    ) -> None:
        """Record ``stage`` as done, in the caller's transaction."""
        finish_stage(session, self.run_id(day), stage, now, detail)

    def prepared(self, day: date) -> PreparedBids:
        """The day's forecasts, optimiser problem and bids, as the bid stage stored them."""
        with session_scope(self.engine) as session:
            prepared = PreparedRepository(session).load(self.run_id(day))
        if not isinstance(prepared, PreparedBids):
            raise NotFoundError(
                f"no prepared bids are stored for {self.run_id(day)}",
                hint="the bid stage has not run (or its record predates this version)",
            )
        return prepared

    def forecasts(self, day: date) -> ParkForecasts:
        """The forecasts the forecast stage issued for ``day``."""
        with session_scope(self.engine) as session:
            stored = ForecastRepository(session).load(self.run_id(day))
        return ParkForecasts.from_stored(day, stored)

    def _stage_forecast(self, day: date, times: PipelineTimes, now: pd.Timestamp) -> dict[str, Any]:
        forecasts = self.forecaster(self.data(now), self.profile, day)
        flags = {k: list(f.flags) for k, f in forecasts.all().items() if f.flags}
        with session_scope(self.engine) as session:
            ForecastRepository(session).save(self.run_id(day), forecasts.all())
            self._finish(
                session,
                day,
                "forecast",
                now,
                issue_time=forecasts.issue_time.isoformat(),
                flags=flags,
                count=len(forecasts.all()),
            )
        return {
            "message": f"{len(forecasts.all())} forecasts issued at "
            f"{forecasts.issue_time.isoformat()}"
        }

    def _stage_bid(self, day: date, times: PipelineTimes, now: pd.Timestamp) -> dict[str, Any]:
        # the bid reads the stored forecasts, not the history: the portfolio and outages will do
        data = self.data(now, history_days=BID_HISTORY_DAYS)
        prepared = self.optimiser(
            data, self.profile, self.forecasts(day), scenarios=self.policy.scenarios
        )
        bid_set = prepared.bid_set
        offered = offered_mwh(bid_set, self.profile)
        assets = [a.id for a in prepared.problem.assets]
        with session_scope(self.engine) as session:
            PreparedRepository(session).save(self.run_id(day), prepared)
            bids = BidRepository(session)
            bids.save(bid_set.model_copy(update={"status": "draft"}), at=now.to_pydatetime())
            bids.set_status(bid_set.id, "review", at=now.to_pydatetime())
            self._finish(
                session,
                day,
                "bid",
                now,
                bid_set_id=bid_set.id,
                offered_mwh=offered,
                assets=assets,
                excluded={
                    **data.portfolio.excluded(
                        self.profile.enabled_products("energy")[0].id,
                        prepared.forecasts.issue_time,
                    ),
                    **{
                        k: v
                        for k, v in data.out_of_service(*self._day_span(day)).items()
                        if k not in assets
                    },
                },
            )
        return {
            "message": f"bid set {bid_set.id} offers {offered:.1f} MWh from {len(assets)} "
            "assets; in review"
        }

    def _stage_approve(self, day: date, times: PipelineTimes, now: pd.Timestamp) -> dict[str, Any]:
        offered = float(self.done(day)["bid"]["offered_mwh"])
        reference = self.reference_offered_mwh()
        approved, reason = auto_approval(offered, reference, self.policy.auto_approve)
        if not approved:
            raise StageWaiting(reason)
        with session_scope(self.engine) as session:
            BidRepository(session).set_status(self.run_id(day), "approved", at=now.to_pydatetime())
            self._finish(
                session, day, "approve", now, by="auto", reason=reason, offered_mwh=offered
            )
        return {"message": f"approved automatically: {reason}"}

    def _stage_submit(self, day: date, times: PipelineTimes, now: pd.Timestamp) -> dict[str, Any]:
        run_id = self.run_id(day)
        with session_scope(self.engine) as session:
            bid_set = BidRepository(session).get(run_id)
        if not self.policy.submission_enabled:
            files = self._export(bid_set)
            with session_scope(self.engine) as session:
                BidRepository(session).set_status(run_id, "submitted", at=now.to_pydatetime())
                self._finish(session, day, "submit", now, manual=True, files=files)
            return {
                "message": "submission is off for this market; bids exported for manual upload: "
                + ", ".join(files)
            }
        if now >= times.gate_closure:
            raise GateClosedError(f"the gate for {day} closed at {times.gate_closure.isoformat()}")
        receipt = self.gateway.submit(bid_set, idempotency_key=run_id)
        with session_scope(self.engine) as session:
            BidRepository(session).set_status(run_id, "submitted", at=now.to_pydatetime())
            self._finish(session, day, "submit", now, receipt=receipt)
            run = session.get(PipelineRunRow, run_id)
            assert run is not None
            run.receipt = receipt
        return {"message": f"submitted, receipt {receipt}"}

    def _stage_awards(self, day: date, times: PipelineTimes, now: pd.Timestamp) -> dict[str, Any]:
        try:
            awards = list(self.gateway.awards(self.profile.market_id, day))
        except NotFoundError as exc:
            raise StageWaiting(f"results not yet published: {exc}") from exc
        run_id = self.run_id(day)
        with session_scope(self.engine) as session:
            AwardRepository(session).save(run_id, awards)
            BidRepository(session).set_status(run_id, "awarded", at=now.to_pydatetime())
            self._finish(session, day, "awards", now, count=len(awards))
        return {"message": f"{len(awards)} awards"}

    def _stage_dispatch(self, day: date, times: PipelineTimes, now: pd.Timestamp) -> dict[str, Any]:
        run_id = self.run_id(day)
        with session_scope(self.engine) as session:
            awards = AwardRepository(session).list_for_bid_set(run_id)
        plan = plan_dispatch(self.prepared(day).problem, awards)
        with session_scope(self.engine) as session:
            DispatchRepository(session).save(plan)
            queued = enqueue(session, run_id, plan, now.to_pydatetime())
            self._finish(session, day, "dispatch", now, assets=queued)
        return {"message": f"dispatch plan for {queued} assets queued in the outbox"}

    def cycle(self, day: date, now: pd.Timestamp) -> CycleResult:
        """The day's cycle from what is stored (prepared bids, awards, plan, meter readings),
        measured and settled at ``now``; writes nothing."""
        run_id = self.run_id(day)
        prepared = self.prepared(day)
        data = self.data(now)
        intervals = self.profile.day_intervals(day)
        step = pd.Timedelta(minutes=self.profile.interval_minutes)
        start, end = intervals[0], intervals[-1] + step
        with session_scope(self.engine) as session:
            awards = AwardRepository(session).list_for_bid_set(run_id)
            plan = self._plan(session, day, prepared)
            receipt = session.get(PipelineRunRow, run_id).receipt  # type: ignore[union-attr]
            telemetry = TelemetryRepository(session)
            measured = pd.DataFrame(
                {
                    a.spec.id: _measured(telemetry, a.spec.id, start, end, self.simulated_meter)
                    for a in data.portfolio.assets
                },
                index=intervals,
            )
        confirmed = confirmed_assets(self.engine, run_id)
        delivered = settle_delivery(
            data,
            self.profile,
            day,
            awards,
            plan,
            confirmed,
            measured,
            simulate_missing=self.simulated_meter,
        )
        bid_set = prepared.bid_set.model_copy(update={"status": "awarded"})
        return assemble_cycle(
            replace(prepared, bid_set=bid_set),
            self.profile,
            receipt or "",
            awards,
            plan,
            confirmed,
            delivered,
        )

    def _stage_settle(self, day: date, times: PipelineTimes, now: pd.Timestamp) -> dict[str, Any]:
        result = self.cycle(day, now)
        simulated = result.simulated_assets
        total = str(result.market.total)
        with session_scope(self.engine) as session:
            telemetry = TelemetryRepository(session)
            for asset_id in simulated:
                telemetry.insert_missing(
                    asset_id, result.delivered_mw[asset_id], quality="simulated"
                )
            _store_statements(session, self.park_id, result, now)
            self._finish(
                session,
                day,
                "settle",
                now,
                market_total=total,
                notes=result.notes,
                simulated_readings=simulated,
            )
        self.settled[day] = result
        note = f"; readings simulated for {len(simulated)} assets (replay)" if simulated else ""
        return {"message": f"settled: market total {total} {self.profile.currency}{note}"}

    def _day_span(self, day: date) -> tuple[datetime, datetime]:
        """The delivery day's ``[start, end)`` in UTC (23 or 25 hours on DST days)."""
        intervals = self.profile.day_intervals(day)
        step = pd.Timedelta(minutes=self.profile.interval_minutes)
        return intervals[0].to_pydatetime(), (intervals[-1] + step).to_pydatetime()

    def _plan(self, session: Session, day: date, prepared: PreparedBids) -> DispatchPlan:
        """The day's stored dispatch plan, cut to this park's assets (parks share a market)."""
        plan = DispatchRepository(session).get(self.profile.market_id, day)
        mine = {a.id for a in prepared.problem.assets}
        return plan.model_copy(
            update={"setpoints": [s for s in plan.setpoints if s.asset_id in mine]}
        )

    # -- operator actions -----------------------------------------------------------------------

    def approve(self, day: date, actor: str, now: datetime | pd.Timestamp) -> None:
        """An operator approves ``day``'s bid set at the pipeline's instant ``now`` (only while
        it is in review and before the gate closes); audited."""
        approve_run(self.engine, self.run_id(day), actor, self.times(day).gate_closure, now)

    def reference_offered_mwh(self) -> float | None:
        """Offered energy of the last bid set an operator approved in this market."""
        with session_scope(self.engine) as session:
            rows = session.exec(
                select(PipelineStageRow)
                .join(PipelineRunRow, col(PipelineRunRow.id) == col(PipelineStageRow.run_id))
                .where(
                    col(PipelineRunRow.market_id) == self.profile.market_id,
                    col(PipelineRunRow.park_id) == self.park_id,
                    col(PipelineStageRow.stage) == "approve",
                )
                .order_by(col(PipelineStageRow.finished_at).desc())
            ).all()
        for row in rows:
            if row.detail.get("operator"):
                return float(row.detail["offered_mwh"])
        return None

    # -- bookkeeping ----------------------------------------------------------------------------

    def _export(self, bid_set: BidSet) -> list[str]:
        folder = self.export_dir or Path("out/manual-bids")
        folder.mkdir(parents=True, exist_ok=True)
        stem = bid_set.id.replace(":", "_")
        csv = write_bid_csv(bid_set, folder / f"{stem}.csv", self.profile.timezone)
        xml = write_bid_xml(bid_set, folder / f"{stem}.xml", self.profile.timezone)
        return [str(csv), str(xml)]

    def _run_exists(self, day: date) -> bool:
        with session_scope(self.engine) as session:
            return session.get(PipelineRunRow, self.run_id(day)) is not None

    def _ensure_run(self, day: date, now: pd.Timestamp) -> str:
        """Create ``day``'s run row when missing; return its status."""
        with session_scope(self.engine) as session:
            run = session.get(PipelineRunRow, self.run_id(day))
            if run is not None:
                return run.status
            session.add(
                PipelineRunRow(
                    id=self.run_id(day),
                    park_id=self.park_id,
                    market_id=self.profile.market_id,
                    delivery_day=day,
                    status="planned",
                    created_at=now.to_pydatetime(),
                    updated_at=now.to_pydatetime(),
                )
            )
        return "planned"

    def _set_status(self, run_id: str, status: str, now: pd.Timestamp) -> None:
        with session_scope(self.engine) as session:
            run = session.get(PipelineRunRow, run_id)
            if run is not None:
                run.status = status
                run.updated_at = now.to_pydatetime()
                session.add(run)

    def _alert_once(self, kind: str, run_id: str, message: str, now: pd.Timestamp) -> None:
        with session_scope(self.engine) as session:
            seen = session.exec(
                select(AlertRow.id).where(
                    col(AlertRow.kind) == kind, col(AlertRow.run_id) == run_id
                )
            ).first()
        if seen is None:
            self.alerter.raise_alert(kind, message, run_id=run_id, at=now.to_pydatetime())

    def _record(
        self, run_id: str, stage: str, status: str, message: str, now: pd.Timestamp, ms: float
    ) -> StageOutcome:
        """A ``job_runs`` row for this attempt; repeated waits update their last row."""
        at = now.to_pydatetime()
        with session_scope(self.engine) as session:
            last = session.exec(
                select(JobRunRow)
                .where(col(JobRunRow.run_id) == run_id, col(JobRunRow.stage) == stage)
                .order_by(col(JobRunRow.id).desc())
            ).first()
            repeated = status == "waiting" and last is not None and last.status == "waiting"
            if repeated and last is not None:
                row = last
            else:
                row = JobRunRow(job=JOB, run_id=run_id, stage=stage, status=status, started_at=at)
            row.status, row.message = status, message
            row.finished_at, row.duration_ms = at, round(ms, 3)
            session.add(row)
        level = logging.DEBUG if repeated else logging.INFO
        log.log(level, "%s %s: %s (%s)", run_id, stage, status, message)
        return StageOutcome(stage, status, message)  # type: ignore[arg-type]


def offered_mwh(bids: BidSet, profile: MarketProfile) -> float:
    """Total energy offered or bid in the energy products of ``bids`` [MWh]."""
    hours = profile.interval_minutes / 60
    energy = {p.id for p in profile.products if p.kind == "energy"}
    return sum(
        s.quantity_mw * hours for c in bids.curves if c.product_id in energy for s in c.segments
    )


def _measured(
    telemetry: TelemetryRepository,
    asset_id: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    replay: bool,
) -> pd.Series:
    """An asset's readings on ``[start, end)``: a meter's, and in a replay also simulated ones
    stored earlier (so a settled replay reads back the same numbers)."""
    frame = telemetry.read_frame(asset_id, start.to_pydatetime(), end.to_pydatetime())
    keep = frame["quality"] != "simulated" if not replay else frame["quality"].notna()
    return frame.loc[keep, "power_mw"]


def _store_statements(
    session: Session, park_id: str, result: CycleResult, now: pd.Timestamp
) -> None:
    """Issue the day's statements; a changed amount on a re-run becomes a new version."""
    if session.get(EnterpriseRow, AGGREGATOR) is None:  # the aggregator's statement holder
        parks = ParkRepository(session)
        park = parks.get(park_id)
        aggregator = Enterprise(id=AGGREGATOR, name="Aggregator (VPP operator)", name_zh="聚合商")
        parks.save(park.model_copy(update={"enterprises": [*park.enterprises, aggregator]}))
    issue_or_correct(
        StatementRepository(session),
        AuditRepository(session),
        result.settlement.statements,
        at=now.to_pydatetime(),
        actor="day-ahead pipeline",
    )
