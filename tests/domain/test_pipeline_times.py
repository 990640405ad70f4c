"""When each pipeline stage is due: from the profile and the policy, across DST, and late."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from vpp.domain.errors import ProfileError
from vpp.domain.market import MarketTime, load_market_profile
from vpp.domain.pipeline import (
    AutoApprove,
    PipelineConfig,
    PipelinePolicy,
    auto_approval,
    due_stages,
    pipeline_times,
)

POLICY = PipelinePolicy(forecast_at=MarketTime(day_offset=-1, time="08:00"))


@pytest.mark.parametrize(
    ("day", "gate_utc"),
    [
        (date(2021, 3, 28), "2021-03-27T11:00Z"),  # D-1 is still CET
        (date(2021, 3, 29), "2021-03-28T10:00Z"),  # D-1 is the first CEST day
        (date(2021, 10, 31), "2021-10-30T10:00Z"),
        (date(2021, 11, 1), "2021-10-31T11:00Z"),
    ],
)
def test_gate_and_submission_target_follow_the_market_clock_across_dst(
    day: date, gate_utc: str
) -> None:
    times = pipeline_times(load_market_profile("de-lu"), POLICY, day)
    assert times.gate_closure == pd.Timestamp(gate_utc)
    assert times.submit_by == times.gate_closure - pd.Timedelta(minutes=30)
    assert times.alert_at == times.submit_by - pd.Timedelta(minutes=30)
    assert times.forecast_at == times.gate_closure - pd.Timedelta(hours=4)


def test_a_forecast_after_the_submission_deadline_is_refused() -> None:
    late = POLICY.model_copy(update={"forecast_at": MarketTime(day_offset=-1, time="11:45")})
    with pytest.raises(ProfileError, match="forecast_at"):
        pipeline_times(load_market_profile("de-lu"), late, date(2021, 5, 5))


def test_stages_run_in_order_and_the_chain_misses_at_gate_closure() -> None:
    times = pipeline_times(
        load_market_profile("cn-shandong"),
        POLICY.model_copy(update={"forecast_at": MarketTime(day_offset=-1, time="07:00")}),
        date(2025, 6, 10),
    )
    assert due_stages(times, set(), times.forecast_at - pd.Timedelta(seconds=1)).runnable == ()
    assert due_stages(times, set(), times.forecast_at).runnable == ("forecast",)
    assert due_stages(times, {"forecast", "bid"}, times.forecast_at).runnable == ("approve",)
    # a restart between the submission target and the gate still catches up, flagged at risk
    late = due_stages(times, {"forecast", "bid", "approve"}, times.submit_by)
    assert late.runnable == ("submit",) and late.at_risk
    closed = due_stages(times, {"forecast", "bid", "approve"}, times.gate_closure)
    assert closed.missed == ("submit",) and closed.runnable == ()
    submitted = {"forecast", "bid", "approve", "submit"}
    assert due_stages(times, submitted, times.gate_closure).runnable == ()
    assert due_stages(times, submitted, times.results_at).runnable == ("awards",)
    everything_but_settle = submitted | {"awards", "dispatch"}
    assert due_stages(times, everything_but_settle, times.results_at).runnable == ()
    assert due_stages(times, everything_but_settle, times.settle_at).runnable == ("settle",)


def test_auto_approval_compares_with_the_reference_bid() -> None:
    policy = AutoApprove(enabled=True, max_volume_ratio=1.2)
    assert auto_approval(100.0, 90.0, policy)[0]
    approved, reason = auto_approval(130.0, 100.0, policy)
    assert not approved and "1.30 x" in reason and "operator must approve" in reason
    assert not auto_approval(10.0, None, policy)[0]
    assert auto_approval(10.0, None, policy.model_copy(update={"without_reference": "approve"}))[0]
    assert not auto_approval(1.0, 1.0, AutoApprove(enabled=False))[0]


def test_market_overrides_merge_onto_the_default_policy() -> None:
    config = PipelineConfig(
        default={
            "forecast_at": {"day_offset": -1, "time": "08:00"},
            "auto_approve": {"enabled": True},
        },
        markets={"cn-shandong": {"auto_approve": {"max_volume_ratio": 1.1}}},
    )
    policy = config.policy("cn-shandong")
    assert policy.auto_approve.enabled and policy.auto_approve.max_volume_ratio == 1.1
    with pytest.raises(ProfileError, match="safety_margin_minutes"):
        PipelineConfig(
            default={
                "forecast_at": {"day_offset": -1, "time": "08:00"},
                "safety_margin_minutes": -5,
            }
        ).policy("de-lu")
