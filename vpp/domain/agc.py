"""Chinese AGC frequency-regulation performance: the K value, mileage and mileage pay.

Provincial FR rules (Hunan 2025 as the reference; see the cn-shandong profile's ``agc_fr``
product) pay ``M x sum(mileage) x clearing price x K`` per hour, where for each AGC command j

- K1 (rate) = measured ramp rate / standard rate (storage: 100 % of rated power per minute),
  capped at ``k1_cap``;
- K2 (response) = 1 - T / T0, T the delay until the unit moves, T0 the standard response time;
- K3 (accuracy) = 1 - E / E0, E the mean absolute error while holding the target, E0 =
  ``accuracy_tol_pct`` % of rated power;

and K combines them as a weighted sum (0.4/0.3/0.3) or a product, per the profile. The hourly K
is the mean over the hour's commands; below ``k_entry_min`` nothing is paid, and the K used in
pay is capped at ``k_pay_cap``. Sub-indices are clipped to [0, cap] so a slow unit scores 0, not
a negative number. Everything here is a pure function of metered series.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from vpp.domain.errors import InvalidInputError


@dataclass(frozen=True)
class KParams:
    """Scoring parameters, normally the ``performance.params`` of an ``agc_fr`` product."""

    weights: tuple[float, float, float] = (0.4, 0.3, 0.3)
    formula: str = "weighted_sum"
    k1_cap: float = 3.0
    k_pay_cap: float = 2.0
    k_entry_min: float = 0.3
    std_rate_pct_per_min: float = 100.0
    std_response_s: float = 5.0
    accuracy_tol_pct: float = 2.0
    deadband_pct: float = 1.0

    @classmethod
    def from_profile(cls, params: Mapping[str, Any]) -> KParams:
        """Read the profile's ``performance.params`` (unknown keys are ignored)."""
        weights = tuple(float(w) for w in params.get("weights", (0.4, 0.3, 0.3)))
        if len(weights) != 3:
            raise InvalidInputError(f"AGC K weights must be three numbers, got {weights}")
        return cls(
            weights=(weights[0], weights[1], weights[2]),
            formula=str(params.get("formula", "weighted_sum")),
            k1_cap=float(params.get("k1_cap", 3.0)),
            k_pay_cap=float(params.get("k_pay_cap", 2.0)),
            k_entry_min=float(params.get("k_entry_min", 0.3)),
            std_rate_pct_per_min=float(params.get("storage_std_rate_pct_per_min", 100.0)),
            std_response_s=float(params.get("storage_std_response_s", 5.0)),
            accuracy_tol_pct=float(params.get("accuracy_tol_pct", 2.0)),
        )


@dataclass(frozen=True)
class CommandScore:
    """Performance on one AGC command."""

    start: pd.Timestamp
    mileage_mw: float
    response_s: float
    rate_mw_per_min: float
    error_mw: float
    k1: float
    k2: float
    k3: float
    k: float


def score_commands(
    setpoint_mw: pd.Series, actual_mw: pd.Series, rated_mw: float, params: KParams
) -> list[CommandScore]:
    """Score every AGC command in ``setpoint_mw`` against the unit's metered ``actual_mw``.

    Parameters
    ----------
    setpoint_mw : pandas.Series
        AGC setpoint on a regular, tz-aware time index (e.g. 1 s) [MW]; a change is a command.
    actual_mw : pandas.Series
        Metered output on the same index [MW].
    rated_mw : float
        Rated power of the unit [MW].
    params : KParams
        Scoring rules.

    Returns
    -------
    list of CommandScore
        One per command; a command the unit never answered scores K1 = K2 = 0.
    """
    if rated_mw <= 0:
        raise InvalidInputError(f"rated power must be positive, got {rated_mw}")
    if not setpoint_mw.index.equals(actual_mw.index):
        raise InvalidInputError("setpoint and actual series must share one time index")
    if actual_mw.isna().any():
        first = actual_mw.index[actual_mw.isna()][0]
        raise InvalidInputError(
            f"actual output is missing at {first.isoformat()}", hint="score only complete traces"
        )
    times = (setpoint_mw.index - setpoint_mw.index[0]).total_seconds().to_numpy()
    sp, act = setpoint_mw.to_numpy(float), actual_mw.to_numpy(float)
    changes = np.flatnonzero(np.diff(sp) != 0) + 1
    bounds = [*changes.tolist(), len(sp)]
    deadband = params.deadband_pct / 100 * rated_mw
    tolerance = params.accuracy_tol_pct / 100 * rated_mw
    std_rate = params.std_rate_pct_per_min / 100 * rated_mw
    scores = []
    for j, stop in zip(changes, bounds[1:], strict=True):
        target, start_power = sp[j], act[j - 1]
        step = target - sp[j - 1]
        moved = np.flatnonzero(np.sign(step) * (act[j:stop] - start_power) >= deadband)
        reached = np.flatnonzero(np.abs(act[j:stop] - target) <= tolerance)
        if moved.size == 0 or reached.size == 0:
            k1 = k2 = 0.0
            response = float(times[stop - 1] - times[j])
            rate, error = 0.0, float(np.mean(np.abs(act[j:stop] - target)))
        else:
            response = float(times[j + moved[0]] - times[j])
            ramp_s = max(float(times[j + reached[0]] - times[j + moved[0]]), 1e-9)
            rate = abs(target - start_power) / ramp_s * 60
            hold = act[j + reached[0] : stop]
            error = float(np.mean(np.abs(hold - target)))
            k1 = min(rate / std_rate, params.k1_cap)
            k2 = max(0.0, 1 - response / params.std_response_s)
        k3 = max(0.0, 1 - error / tolerance)
        if params.formula == "product":
            k = k1 * k2 * k3
        else:
            w1, w2, w3 = params.weights
            k = w1 * k1 + w2 * k2 + w3 * k3
        scores.append(
            CommandScore(setpoint_mw.index[j], abs(step), response, rate, error, k1, k2, k3, k)
        )
    return scores


def hourly_mileage_pay(
    scores: list[CommandScore],
    price_per_mw: pd.Series,
    tz: str,
    params: KParams,
    m: float = 1.0,
) -> pd.DataFrame:
    """Per market hour: mileage [MW], mean K, K used in pay, and pay [currency].

    ``price_per_mw`` is the hourly mileage clearing price [currency/MW] indexed by the hour's UTC
    start. Pay = ``m`` x mileage x price x min(K, ``k_pay_cap``), and nothing in hours whose mean K
    is below ``k_entry_min``.
    """
    columns = ["mileage_mw", "k_mean", "k_pay", "price", "pay"]
    if not scores:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(
        {
            "start": [s.start for s in scores],
            "mileage": [s.mileage_mw for s in scores],
            "k": [s.k for s in scores],
        }
    )
    frame["hour"] = frame["start"].dt.tz_convert(tz).dt.floor("h").dt.tz_convert("UTC")
    hourly = frame.groupby("hour").agg(mileage_mw=("mileage", "sum"), k_mean=("k", "mean"))
    hourly["price"] = price_per_mw.reindex(hourly.index)
    if hourly["price"].isna().any():
        missing = hourly.index[hourly["price"].isna()][0]
        raise InvalidInputError(f"no mileage price for the hour starting {missing.isoformat()}")
    hourly["k_pay"] = hourly["k_mean"].clip(upper=params.k_pay_cap)
    eligible = hourly["k_mean"] >= params.k_entry_min
    hourly["pay"] = np.where(
        eligible, m * hourly["mileage_mw"] * hourly["price"] * hourly["k_pay"], 0.0
    )
    return hourly[columns]
