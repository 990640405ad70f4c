"""Day-by-day bidding replay settled at realised prices.

For each delivery day D: a price forecast issued before gate closure (``bidding.forecasts``),
bids built by :func:`~bidding.solve_day_ahead`, cleared against D's realised prices, devices
re-dispatched to deliver the awards, the day settled per the profile, and the batteries' SoC
carried into D+1. A perfect-foresight chain runs beside it with its own SoC, through the same
clearing and settlement, as the yardstick. Violations are counted from the delivered plans by
re-deriving device physics, park limits and the profile's bid rules (``bidding.checks``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from bidding.checks import plan_violations, reserve_rules_of
from bidding.clearing import clear_day_ahead
from bidding.dispatch import redispatch
from bidding.forecasts import (
    check_reserve_forecast,
    error_quantile_scenarios,
    naive_forecast,
    own_scenarios,
    parse_forecast_option,
    reserve_price_forecast,
)
from bidding.problem import BidProblem, prepare
from bidding.settlement import settle_day
from bidding.solve import solve_day_ahead
from vpp.domain.assets import AssetSpec, BatterySpec
from vpp.domain.bids import check_bid_set
from vpp.domain.errors import InvalidInputError
from vpp.domain.market import MarketProfile


@dataclass
class BacktestInputs:
    """Everything a replay needs; prices are UTC series on the profile's interval grid."""

    profile: MarketProfile
    assets: Sequence[AssetSpec]
    prices: pd.Series  # realised day-ahead prices [currency/MWh]
    start: date
    end: date
    forecast: str = "naive"
    forecast_prices: pd.Series | None = None  # for file:CSV:COLUMN
    reserve_prices: pd.DataFrame | None = None  # realised capacity prices, columns = product ids
    reserve_forecast: str = "naive_daily"  # or a forecasting model name, e.g. lgbm
    scenarios: int = 1
    seed: int = 0
    # file forecasts: scenarios = the forecast plus its centred errors on up to this many
    # earlier days (known when D is bid); 0 bids the point forecast
    error_days: int = 0
    # > 0: those errors as this many comonotone quantile scenarios (error_quantile_scenarios)
    error_quantiles: int = 0
    deliverable_curves: bool = True  # see BidProblem.deliverable_curves
    import_limit_mw: float = np.inf
    export_limit_mw: float = np.inf
    base_load_mw: float = 0.0


@dataclass
class Chain:
    """One SoC-carrying sequence of days (the forecast chain or perfect foresight)."""

    soc: dict[str, float]
    lines: dict[str, float] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    discharged_mwh: float = 0.0
    deviation_mwh: float = 0.0
    daily: list[float] = field(default_factory=list)

    def add(self, lines: dict[str, float]) -> float:
        for key, value in lines.items():
            self.lines[key] = self.lines.get(key, 0.0) + value
        total = float(sum(lines.values()))
        self.daily.append(total)
        return total


def _reserve_arrays(
    frame: pd.DataFrame | None, intervals: pd.DatetimeIndex
) -> dict[str, np.ndarray]:
    if frame is None:
        return {}
    part = frame.reindex(intervals)
    return {c: part[c].to_numpy(dtype=float) for c in part.columns if part[c].notna().all()}


def _forecast(inputs: BacktestInputs, day: date, realised: np.ndarray) -> np.ndarray:
    kind, _, _ = parse_forecast_option(inputs.forecast)
    if kind == "perfect":
        return realised[None, :]
    known = inputs.prices[inputs.prices.index < inputs.profile.day_intervals(day)[0]]
    if kind == "naive":
        return naive_forecast(known, day, inputs.profile)[None, :]
    if kind == "file":
        assert inputs.forecast_prices is not None
        values = inputs.forecast_prices.reindex(inputs.profile.day_intervals(day)).to_numpy(float)
        if np.isnan(values).any():
            raise InvalidInputError(f"the forecast file has no values for {day}")
        published: np.ndarray = values[None, :]
        if inputs.error_days > 0:
            errors = _past_errors(inputs, day, len(values))
            if inputs.error_quantiles > 0 and len(errors) > 1:
                errors = error_quantile_scenarios(errors, inputs.error_quantiles)
            spread: np.ndarray = published + errors
            return spread
        return published
    seed = inputs.seed + day.toordinal()
    scenarios: np.ndarray = own_scenarios(known, day, inputs.profile, inputs.scenarios, seed)
    return scenarios


def _past_errors(inputs: BacktestInputs, day: date, n: int) -> np.ndarray:
    """(S, T) errors (realised - forecast) of the file forecast on up to ``error_days`` days
    before ``day`` (complete days only), centred so their mean is zero in every interval; a
    single zero row when there are none."""
    assert inputs.forecast_prices is not None
    rows = []
    for back in range(1, inputs.error_days + 1):
        earlier = inputs.profile.day_intervals(day - timedelta(days=back))
        if len(earlier) != n:  # a DST day: another number of intervals
            continue
        real = inputs.prices.reindex(earlier).to_numpy(dtype=float)
        fc = inputs.forecast_prices.reindex(earlier).to_numpy(dtype=float)
        if np.isfinite(real).all() and np.isfinite(fc).all():
            rows.append(real - fc)
    if not rows:
        return np.zeros((1, n))
    errors = np.asarray(rows)
    centred: np.ndarray = errors - errors.mean(axis=0)
    return centred


def replay_day(
    inputs: BacktestInputs,
    chain: Chain,
    day: date,
    price_scenarios: np.ndarray,
    reserve_forecast: dict[str, np.ndarray],
    reserve_realised: dict[str, np.ndarray],
) -> float:
    """Bid, clear, re-dispatch and settle one day on ``chain``; return its revenue [currency]."""
    profile = inputs.profile
    intervals = profile.day_intervals(day)
    realised = inputs.prices.reindex(intervals).to_numpy(dtype=float)
    problem = BidProblem(
        profile,
        list(inputs.assets),
        intervals,
        price_scenarios,
        base_load_mw=np.full(len(intervals), inputs.base_load_mw),
        reserve_prices={k: v for k, v in reserve_forecast.items() if k in reserve_realised},
        import_limit_mw=inputs.import_limit_mw,
        export_limit_mw=inputs.export_limit_mw,
        soc_initial=dict(chain.soc),
        deliverable_curves=inputs.deliverable_curves,
    )
    result = solve_day_ahead(problem)
    chain.violations += [f"{day}: {b}" for b in check_bid_set(result.bid_set, profile)]
    realised_reserve = {k: pd.Series(v, index=intervals) for k, v in reserve_realised.items()}
    awards = clear_day_ahead(
        result.bid_set, pd.Series(realised, index=intervals), realised_reserve, profile
    )
    outcome = redispatch(problem, awards)
    prep = prepare(problem)
    rules = {k: v for k, v in reserve_rules_of(prep).items()}
    rules.update(
        {k: reserve_rules_of(prep).get(k, (True, True, 0.0, 0.0)) for k in outcome.reserves_mw}
    )
    chain.violations += [
        f"{day}: {b}"
        for b in plan_violations(
            list(prep.assets),
            outcome.assets,
            prep.dt_h,
            rules,
            net_mw=outcome.delivered_mw,
            reserves_total=outcome.reserves_mw,
            import_limit_mw=inputs.import_limit_mw,
            export_limit_mw=inputs.export_limit_mw,
        )
    ]
    lines = settle_day(
        profile,
        realised,
        outcome.awarded_mw,
        outcome.delivered_mw,
        outcome.reserves_mw,
        reserve_realised,
        problem.agc_mileage_per_mw_h,
        problem.agc_k,
    )
    costs = 0.0
    frames = outcome.assets
    for asset in prep.assets:
        if isinstance(asset, BatterySpec):
            discharged = float(frames["discharge_mw"][asset.id].sum() * prep.dt_h)
            chain.discharged_mwh += discharged
            costs += discharged * asset.degradation_cost_per_mwh
            chain.soc[asset.id] = float(frames["soc_mwh"][asset.id].iloc[-1] / asset.energy_mwh)
    lines["operating_costs"] = -costs
    chain.deviation_mwh += float(
        np.abs(outcome.delivered_mw - outcome.awarded_mw).sum() * prep.dt_h
    )
    return chain.add(lines)


def _check_error_scenarios(inputs: BacktestInputs, kind: str) -> None:
    """Refuse error-scenario settings that cannot apply, before any day is replayed."""
    if inputs.error_days < 0 or inputs.error_quantiles < 0:
        raise InvalidInputError(
            f"error days ({inputs.error_days}) and error quantiles ({inputs.error_quantiles}) "
            "cannot be negative"
        )
    if (inputs.error_days or inputs.error_quantiles) and kind != "file":
        raise InvalidInputError(
            f"error scenarios need a file forecast, not {inputs.forecast!r}",
            hint="use --forecast file:CSV:COLUMN, or drop --error-days/--error-quantiles",
        )
    if inputs.error_quantiles and not inputs.error_days:
        raise InvalidInputError(
            "error quantiles are taken from past errors: give --error-days too",
            hint="e.g. --error-days 91 --error-quantiles 9",
        )


def run_backtest(
    inputs: BacktestInputs, progress: Callable[[date], None] | None = None
) -> dict[str, object]:
    """Replay ``inputs.start`` .. ``inputs.end`` and return the RESULT.json content.

    Returns
    -------
    dict
        ``days``, ``revenue`` and ``perfect_foresight_revenue`` [currency], ``capture_ratio``,
        ``revenue_by_product``, ``violations`` (count; must be 0) with ``violation_details``,
        ``cycles`` (equivalent full cycles), ``deviation_mwh``, per-day figures and notes.
    """
    if inputs.end < inputs.start:
        raise InvalidInputError(f"end {inputs.end} is before start {inputs.start}")
    kind, _, _ = parse_forecast_option(inputs.forecast)
    check_reserve_forecast(inputs.reserve_forecast)
    _check_error_scenarios(inputs, kind)
    soc0 = {a.id: a.soc_initial for a in inputs.assets if isinstance(a, BatterySpec)}
    chain, perfect = Chain(dict(soc0)), Chain(dict(soc0))
    days: list[date] = []
    day = inputs.start
    while day <= inputs.end:
        intervals = inputs.profile.day_intervals(day)
        realised = inputs.prices.reindex(intervals).to_numpy(dtype=float)
        if np.isnan(realised).any():
            raise InvalidInputError(f"realised prices for {day} are incomplete in the price file")
        reserve_realised = _reserve_arrays(inputs.reserve_prices, intervals)
        reserve_forecast = (
            reserve_realised
            if inputs.forecast == "perfect"
            else reserve_price_forecast(
                inputs.reserve_prices, day, inputs.profile, inputs.reserve_forecast
            )
        )
        replay_day(
            inputs, chain, day, _forecast(inputs, day, realised), reserve_forecast, reserve_realised
        )
        if inputs.forecast == "perfect":
            perfect = chain
        else:
            replay_day(inputs, perfect, day, realised[None, :], reserve_realised, reserve_realised)
        days.append(day)
        if progress is not None:
            progress(day)
        day += timedelta(days=1)
    energy = sum(a.energy_mwh for a in inputs.assets if isinstance(a, BatterySpec))
    revenue = float(sum(chain.daily))
    best = float(sum(perfect.daily))
    return {
        "market": inputs.profile.market_id,
        "currency": inputs.profile.currency,
        "forecast": inputs.forecast,
        "reserve_forecast": None if inputs.reserve_prices is None else inputs.reserve_forecast,
        "start": inputs.start.isoformat(),
        "end": inputs.end.isoformat(),
        "days": len(days),
        "revenue": revenue,
        "perfect_foresight_revenue": best,
        "capture_ratio": revenue / best if best > 0 else None,
        "revenue_by_product": chain.lines,
        "violations": len(chain.violations) + len(perfect.violations) * (perfect is not chain),
        "violation_details": (
            chain.violations + (perfect.violations if perfect is not chain else [])
        )[:50],
        "cycles": chain.discharged_mwh / energy if energy else 0.0,
        "perfect_foresight_cycles": perfect.discharged_mwh / energy if energy else 0.0,
        "discharged_mwh": chain.discharged_mwh,
        "deviation_mwh": chain.deviation_mwh,
        "daily": [
            {"day": d.isoformat(), "revenue": r, "perfect_foresight_revenue": p}
            for d, r, p in zip(days, chain.daily, perfect.daily, strict=True)
        ],
        "soc_end": chain.soc,
    }
