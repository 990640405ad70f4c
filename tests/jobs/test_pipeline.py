"""The day-ahead pipeline stage by stage: approval, submission, awards, outbox, settlement.

Instants are explicit (the pipeline never reads a clock), so each test walks the delivery day
2021-05-05 of the sample park through the times the DE-LU profile and the policy define.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from adapters.dispatch.recording import RecordingChannel
from adapters.market.simulated import SimulatedExchange
from tests.jobs.conftest import DAY, MakePipeline
from vpp.db.engine import session_scope
from vpp.db.job_tables import AlertRow, JobRunRow, OutboxRow
from vpp.db.repositories import BidRepository, StatementRepository
from vpp.domain.bids import BidSet, Setpoint
from vpp.domain.errors import ConflictError, GateClosedError

MINUTE = pd.Timedelta(minutes=1)


class CountingExchange(SimulatedExchange):
    """The simulated exchange, counting submit calls (a repeated key is answered, not placed)."""

    calls = 0

    def submit(self, bids: BidSet, idempotency_key: str) -> str:
        self.calls += 1
        return super().submit(bids, idempotency_key)


def _alerts(engine: Engine, kind: str) -> list[AlertRow]:
    with session_scope(engine) as session:
        return list(session.exec(select(AlertRow).where(col(AlertRow.kind) == kind)).all())


def _statuses(outcomes: Sequence[object]) -> list[tuple[str, str]]:
    return [(o.stage, o.status) for o in outcomes]  # type: ignore[attr-defined]


def test_nothing_runs_before_the_forecast_time(make_pipeline: MakePipeline) -> None:
    pipeline = make_pipeline()
    times = pipeline.times(DAY)
    assert pipeline.advance(DAY, times.forecast_at - MINUTE) == []
    assert pipeline.done(DAY) == {}


def test_a_day_runs_end_to_end_with_an_operator_approval(
    make_pipeline: MakePipeline, engine: Engine
) -> None:
    channel = RecordingChannel(refuse=["ev-depot"])
    pipeline = make_pipeline(channel=channel)
    times = pipeline.times(DAY)

    first = pipeline.advance(DAY, times.forecast_at)
    assert _statuses(first) == [
        ("forecast", "succeeded"),
        ("bid", "succeeded"),
        ("approve", "waiting"),
    ]
    assert "operator must approve" in first[-1].message
    # waiting again updates the same job-run row instead of piling up rows
    pipeline.advance(DAY, times.forecast_at + 5 * MINUTE)
    with session_scope(engine) as session:
        waits = session.exec(select(JobRunRow).where(col(JobRunRow.status) == "waiting")).all()
    assert len(waits) == 1

    pipeline.approve(DAY, "alice", (times.forecast_at + 10 * MINUTE).to_pydatetime())
    submitted = pipeline.advance(DAY, times.forecast_at + 11 * MINUTE)
    assert _statuses(submitted) == [("submit", "succeeded")]  # awards wait for the results time
    with session_scope(engine) as session:
        assert BidRepository(session).get(pipeline.run_id(DAY)).status == "submitted"

    dispatched = pipeline.advance(DAY, times.results_at)
    assert _statuses(dispatched)[:2] == [("awards", "succeeded"), ("dispatch", "succeeded")]
    assert "partial dispatch" in dispatched[-1].message
    sent_to = {s.asset_id for s in channel.sent}
    assert "bess-park" in sent_to and "ev-depot" in sent_to

    # the silent charger depot is retried with backoff, then given up and alerted
    for minutes in (1, 61, 181, 400):
        pipeline.advance(DAY, times.results_at + minutes * MINUTE)
    with session_scope(engine) as session:
        rows = {r.asset_id: r for r in session.exec(select(OutboxRow)).all()}
    assert rows["ev-depot"].status == "failed" and rows["ev-depot"].attempts == 3
    assert rows["bess-park"].status == "confirmed" and rows["bess-park"].attempts == 1
    (alert,) = _alerts(engine, "non_delivery")
    assert "ev-depot" in alert.message and "non-delivery" in alert.message

    settled = pipeline.advance(DAY, times.settle_at)
    assert _statuses(settled) == [("settle", "succeeded")]
    notes = pipeline.done(DAY)["settle"]["notes"]
    assert "ev-depot: no confirmation, recorded as non-delivery" in notes
    with session_scope(engine) as session:
        issued = StatementRepository(session).list_for_enterprise("cellco")
    assert issued and all(s.status == "issued" for s in issued)
    assert pipeline.advance(DAY, times.settle_at + 60 * MINUTE) == []


def test_auto_approval_follows_the_operator_reference(
    make_pipeline: MakePipeline, engine: Engine
) -> None:
    pipeline = make_pipeline(auto_approve={"enabled": True, "max_volume_ratio": 1.2})
    times = pipeline.times(DAY)
    pipeline.advance(DAY, times.forecast_at)
    offered = pipeline.done(DAY)["bid"]["offered_mwh"]
    assert pipeline.reference_offered_mwh() is None
    pipeline.approve(DAY, "alice", (times.forecast_at + MINUTE).to_pydatetime())
    assert pipeline.reference_offered_mwh() == pytest.approx(offered)

    # the next bid set offering the same volume passes; one far above it waits
    from vpp.domain.pipeline import auto_approval

    policy = pipeline.policy.auto_approve
    assert auto_approval(offered, offered, policy)[0]
    approved, reason = auto_approval(offered * 1.5, offered, policy)
    assert not approved and "1.50 x the reference" in reason


def test_auto_approval_without_reference_when_the_policy_allows(
    make_pipeline: MakePipeline,
) -> None:
    pipeline = make_pipeline(auto_approve={"enabled": True, "without_reference": "approve"})
    times = pipeline.times(DAY)
    outcomes = pipeline.advance(DAY, times.forecast_at)
    assert ("approve", "succeeded") in _statuses(outcomes)
    assert ("submit", "succeeded") in _statuses(outcomes)
    assert pipeline.done(DAY)["approve"]["by"] == "auto"


def test_a_missed_gate_is_alerted_once_and_never_submitted(
    make_pipeline: MakePipeline, engine: Engine, park: object
) -> None:
    exchange = CountingExchange(
        park.series[park.definition.prices.day_ahead]  # type: ignore[attr-defined]
    )
    pipeline = make_pipeline(gateway=exchange)
    times = pipeline.times(DAY)
    pipeline.advance(DAY, times.forecast_at)  # waits for an operator who never comes
    at_risk = pipeline.advance(DAY, times.alert_at)
    assert _statuses(at_risk) == [("approve", "waiting")]
    (risk,) = _alerts(engine, "deadline_risk")
    assert times.submit_by.isoformat() in risk.message

    assert _statuses(pipeline.advance(DAY, times.gate_closure)) == [("approve", "missed")]
    assert pipeline.advance(DAY, times.gate_closure + 5 * MINUTE) == []
    assert len(_alerts(engine, "missed")) == 1
    with pytest.raises((GateClosedError, ConflictError)):
        pipeline.approve(DAY, "late-bob", (times.gate_closure + MINUTE).to_pydatetime())
    assert exchange.calls == 0


def test_a_restarted_pipeline_catches_up_while_the_gate_is_open(
    make_pipeline: MakePipeline,
) -> None:
    exchange_calls = CountingExchange.calls
    before = make_pipeline(auto_approve={"enabled": True, "without_reference": "approve"})
    times = before.times(DAY)
    # the service was down at forecast time and comes back 3 h later, gate still open
    restarted = make_pipeline(auto_approve={"enabled": True, "without_reference": "approve"})
    late = times.submit_by - 10 * MINUTE
    outcomes = restarted.advance(DAY, late)
    assert _statuses(outcomes)[:4] == [
        ("forecast", "succeeded"),
        ("bid", "succeeded"),
        ("approve", "succeeded"),
        ("submit", "succeeded"),
    ]
    assert CountingExchange.calls == exchange_calls
    # a day that was never started before its gate closed is not started afterwards
    assert before.advance(DAY.replace(day=6), before.times(DAY.replace(day=6)).gate_closure) == []


def test_the_outbox_keeps_setpoints_across_a_restart(
    make_pipeline: MakePipeline, engine: Engine
) -> None:
    auto = {"enabled": True, "without_reference": "approve"}
    silent = RecordingChannel(
        refuse=[
            "bess-park",
            "wind-park",
            "bess-cellco",
            "pv-cellco",
            "drying-ovens",
            "arc-furnace",
            "dc-cooling",
            "ev-depot",
        ]
    )
    first = make_pipeline(auto_approve=auto, channel=silent)
    times = first.times(DAY)
    first.advance(DAY, times.forecast_at)
    first.advance(DAY, times.results_at)
    with session_scope(engine) as session:
        pending = session.exec(select(OutboxRow).where(col(OutboxRow.status) == "pending")).all()
    assert len(pending) == 8

    # the process dies; a new one with a working link drains what is pending once it is due
    working = RecordingChannel()
    second = make_pipeline(auto_approve=auto, channel=working)
    second.advance(DAY, times.results_at + 2 * MINUTE)
    assert {s.asset_id for s in working.sent} == {r.asset_id for r in pending}
    with session_scope(engine) as session:
        statuses = {r.status for r in session.exec(select(OutboxRow)).all()}
    assert statuses == {"confirmed"}
    sent_once = len(working.sent)
    second.advance(DAY, times.results_at + 30 * MINUTE)
    assert len(working.sent) == sent_once


def test_submission_switched_off_exports_files_for_manual_upload(
    make_pipeline: MakePipeline, policy: object, tmp_path: object
) -> None:
    manual = policy.model_copy(  # type: ignore[attr-defined]
        update={"submission_enabled": False}
    )
    pipeline = make_pipeline(
        policy=manual,
        auto_approve={"enabled": True, "without_reference": "approve"},
        export_dir=tmp_path,
    )
    outcomes = pipeline.advance(DAY, pipeline.times(DAY).forecast_at)
    submit = next(o for o in outcomes if o.stage == "submit")
    assert submit.status == "succeeded" and "manual upload" in submit.message
    files = pipeline.done(DAY)["submit"]["files"]
    assert [f.rsplit(".", 1)[1] for f in files] == ["csv", "xml"]


def test_setpoints_refused_as_invalid_fail_at_once(
    make_pipeline: MakePipeline, engine: Engine
) -> None:
    from vpp.domain.errors import InvalidInputError

    class Refusing:
        def send(self, setpoints: Sequence[Setpoint]) -> Sequence[str]:
            raise InvalidInputError("setpoint above the device rating")

    pipeline = make_pipeline(
        auto_approve={"enabled": True, "without_reference": "approve"}, channel=Refusing()
    )
    times = pipeline.times(DAY)
    pipeline.advance(DAY, times.forecast_at)
    pipeline.advance(DAY, times.results_at)
    with session_scope(engine) as session:
        rows = session.exec(select(OutboxRow)).all()
    assert {r.status for r in rows} == {"failed"}
    assert all("device rating" in (r.last_error or "") for r in rows)
    assert len(_alerts(engine, "non_delivery")) == len(rows)
