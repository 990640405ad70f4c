"""The operator's daily day-ahead pipeline: its stages, when each is due, and the approval rule.

For a delivery day D of a market, the pipeline walks through these stages, each recorded once:

``forecast`` -> ``bid`` -> ``approve`` -> ``submit`` -> ``awards`` -> ``dispatch`` -> ``settle``

When each is due comes from the market profile (gate closure, results time) and the operator's
:class:`PipelinePolicy` (``config/pipeline.yaml``): forecasts are issued at ``forecast_at``; bids
follow at once; the approval window runs until ``submit_by = gate closure - safety margin``;
awards are fetched from the results time on; the dispatch plan goes out as soon as awards are in;
the day is settled once it is over and metered (``settle_after_minutes`` past its end).

Everything here is pure: a stage's due time is a function of the delivery day, and
:func:`due_stages` tells a scheduler that woke up at any instant (on time, late after a restart,
or early) which stages it may run now and which deadlines were already missed. Nothing in this
module reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from vpp.domain.errors import NotFoundError, ProfileError
from vpp.domain.market import MarketProfile, MarketTime
from vpp.domain.validation import read_yaml_mapping, validate_model

Stage = Literal["forecast", "bid", "approve", "submit", "awards", "dispatch", "settle"]
STAGES: tuple[Stage, ...] = ("forecast", "bid", "approve", "submit", "awards", "dispatch", "settle")
"""The stages in the order they must complete."""


class AutoApprove(BaseModel):
    """When a bid set may be approved without an operator.

    A bid set is approved automatically when its total offered energy stays within
    ``max_volume_ratio`` times the reference bid's (the last bid set an operator approved for the
    same market). With no reference yet, ``without_reference`` decides.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    max_volume_ratio: Annotated[float, Field(gt=0)] = 1.2
    without_reference: Literal["approve", "wait"] = "wait"


class PipelinePolicy(BaseModel):
    """How the operator runs one market's day-ahead pipeline."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    forecast_at: MarketTime = Field(description="When forecasts are issued, in market time.")
    safety_margin_minutes: Annotated[int, Field(ge=0, le=720)] = 30
    alert_before_minutes: Annotated[int, Field(ge=0, le=720)] = 30
    auto_approve: AutoApprove = Field(default_factory=AutoApprove)
    submission_enabled: bool = True
    settle_after_minutes: Annotated[int, Field(ge=0)] = 120
    webhook_url: HttpUrl | None = None
    scenarios: Annotated[int, Field(ge=1, le=500)] = 9  # price quantile levels


@dataclass(frozen=True)
class PipelineTimes:
    """The instants (UTC) that govern delivery day ``day``."""

    day: date
    forecast_at: pd.Timestamp
    submit_by: pd.Timestamp
    alert_at: pd.Timestamp
    gate_closure: pd.Timestamp
    results_at: pd.Timestamp
    delivery_start: pd.Timestamp
    settle_at: pd.Timestamp

    def due(self, stage: Stage) -> pd.Timestamp:
        """The earliest instant ``stage`` may run."""
        match stage:
            case "forecast" | "bid" | "approve" | "submit":
                return self.forecast_at
            case "awards" | "dispatch":
                return self.results_at
            case "settle":
                return self.settle_at

    def deadline(self, stage: Stage) -> pd.Timestamp | None:
        """The instant after which ``stage`` is pointless (``None``: no deadline)."""
        if stage in ("forecast", "bid", "approve", "submit"):
            return self.gate_closure
        if stage == "dispatch":
            return self.delivery_start + pd.Timedelta(days=1)
        return None


def pipeline_times(profile: MarketProfile, policy: PipelinePolicy, day: date) -> PipelineTimes:
    """When each stage of delivery day ``day`` is due, from the profile and the policy."""
    closure = profile.gate_closure(day)
    submit_by = closure - pd.Timedelta(minutes=policy.safety_margin_minutes)
    forecast_at = policy.forecast_at.on(day, profile.timezone)
    if forecast_at >= submit_by:
        raise ProfileError(
            f"{profile.market_id}: forecast_at {forecast_at.isoformat()} is not before the "
            f"submission deadline {submit_by.isoformat()} (gate closure minus the safety margin)",
            hint="move pipeline.forecast_at earlier or shrink safety_margin_minutes",
        )
    results = profile.day_ahead.results_time
    results_at = results.on(day, profile.timezone) if results is not None else closure
    start = profile.day_intervals(day)[0]
    end = profile.day_intervals(day + timedelta(days=1))[0]
    return PipelineTimes(
        day=day,
        forecast_at=forecast_at,
        submit_by=submit_by,
        alert_at=submit_by - pd.Timedelta(minutes=policy.alert_before_minutes),
        gate_closure=closure,
        results_at=results_at,
        delivery_start=start,
        settle_at=end + pd.Timedelta(minutes=policy.settle_after_minutes),
    )


@dataclass(frozen=True)
class Due:
    """What a scheduler waking at ``now`` may do for one delivery day."""

    runnable: tuple[Stage, ...]
    missed: tuple[Stage, ...]
    at_risk: bool


def due_stages(times: PipelineTimes, done: set[str], now: pd.Timestamp) -> Due:
    """The stages of ``times.day`` that may run at ``now``, given the ``done`` ones.

    A stage runs only after every earlier stage is done, once its due time has come, and before
    its deadline: a run caught up after a restart still submits while the gate is open. The day
    is *at risk* from ``alert_at`` (before the submission target ``submit_by``) while its bids
    are not yet submitted.
    """
    runnable: list[Stage] = []
    missed: list[Stage] = []
    for stage in STAGES:
        if stage in done:
            continue
        deadline = times.deadline(stage)
        if deadline is not None and now >= deadline:
            missed.append(stage)
            break
        if now >= times.due(stage):
            runnable.append(stage)
        break  # stages are sequential: the first unfinished one decides
    at_risk = "submit" not in done and times.alert_at <= now
    return Due(tuple(runnable), tuple(missed), at_risk)


def auto_approval(
    offered_mwh: float, reference_mwh: float | None, policy: AutoApprove
) -> tuple[bool, str]:
    """Whether a bid set offering ``offered_mwh`` may be approved without an operator, and why."""
    if not policy.enabled:
        return False, "auto-approval is off for this market; an operator must approve"
    if reference_mwh is None or reference_mwh <= 0:
        if policy.without_reference == "approve":
            return True, "no reference bid yet; the policy approves without one"
        return False, "no operator-approved reference bid yet; an operator must approve"
    ratio = offered_mwh / reference_mwh
    if ratio <= policy.max_volume_ratio:
        return True, (
            f"offered {offered_mwh:.1f} MWh is {ratio:.2f} x the reference bid "
            f"(limit {policy.max_volume_ratio:.2f} x)"
        )
    return False, (
        f"offered {offered_mwh:.1f} MWh is {ratio:.2f} x the reference bid, above the "
        f"auto-approval limit of {policy.max_volume_ratio:.2f} x; an operator must approve"
    )


class PipelineConfig(BaseModel):
    """``config/pipeline.yaml``: a default policy and per-market overrides."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: dict[str, Any]
    markets: dict[str, dict[str, Any]] = Field(default_factory=dict)

    def policy(self, market_id: str, source: str = "pipeline.yaml") -> PipelinePolicy:
        """The policy of ``market_id``: its overrides merged onto the default."""
        merged = _merge(self.default, self.markets.get(market_id, {}))
        policy: PipelinePolicy = validate_model(
            PipelinePolicy, merged, f"{source} [{market_id}]", ProfileError
        )
        return policy


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_pipeline_policy(market_id: str, config_dir: Path) -> PipelinePolicy:
    """The pipeline policy of ``market_id`` from ``config_dir/pipeline.yaml``."""
    path = config_dir / "pipeline.yaml"
    if not path.is_file():
        raise NotFoundError(
            f"no pipeline policy file at {path}", hint="copy config/pipeline.yaml from the project"
        )
    data = read_yaml_mapping(path, ProfileError)
    config: PipelineConfig = validate_model(PipelineConfig, data, str(path), ProfileError)
    return config.policy(market_id, str(path))
