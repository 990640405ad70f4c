"""AGC K-value scoring and mileage pay against hand-computed commands."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vpp.domain.agc import KParams, hourly_mileage_pay, score_commands
from vpp.domain.errors import InvalidInputError
from vpp.domain.market import load_market_profile

RATED = 10.0  # MW; standard rate 10 MW/min, tolerance 0.2 MW, deadband 0.1 MW
PARAMS = KParams.from_profile(
    load_market_profile("cn-shandong").product("agc_fr").performance.params
)
INDEX = pd.date_range("2026-03-02T00:00:00Z", periods=240, freq="1s")


def test_profile_parameters_are_read() -> None:
    assert PARAMS.weights == (0.4, 0.3, 0.3) and PARAMS.k1_cap == 3 and PARAMS.k_pay_cap == 2
    assert PARAMS.std_response_s == 5 and PARAMS.accuracy_tol_pct == 2


def test_one_command_scored_by_hand() -> None:
    # Command at t=60 s from 0 to 5 MW. The unit starts moving at t=62 s (0.1 MW deadband crossed
    # at 62 s exactly), ramps linearly to 5 MW by t=92 s (5 MW in 30 s = 10 MW/min from 62 s), then
    # holds at 5.1 MW (error 0.1 MW).
    setpoint = pd.Series(np.where(np.arange(240) >= 60, 5.0, 0.0), index=INDEX)
    act = pd.Series(
        np.interp(np.arange(240), [0, 61, 92, 93, 239], [0, 0, 5.1, 5.1, 5.1]), index=INDEX
    )
    (score,) = score_commands(setpoint, act, RATED, PARAMS)
    assert score.start == INDEX[60] and score.mileage_mw == 5.0
    # Moves >= 0.1 MW at t=62 (5.1/31 MW per s x 1 s = 0.165 MW): response 2 s.
    assert score.response_s == 2.0
    # Within 0.2 MW of 5 from t=91 (4.935 MW): ramp 5.0 MW over 29 s -> 10.34 MW/min.
    assert score.rate_mw_per_min == pytest.approx(5.0 / 29 * 60)
    assert score.k1 == pytest.approx((5.0 / 29 * 60) / 10.0)
    assert score.k2 == pytest.approx(1 - 2 / 5)
    # Hold from t=91: one sample at 4.935 (error 0.0645), the rest at 5.1 (error 0.1).
    hold = np.interp(np.arange(91, 240), [0, 61, 92, 93, 239], [0, 0, 5.1, 5.1, 5.1])
    error = float(np.mean(np.abs(hold - 5.0)))
    assert score.error_mw == pytest.approx(error)
    assert score.k3 == pytest.approx(1 - error / 0.2)
    assert score.k == pytest.approx(0.4 * score.k1 + 0.3 * score.k2 + 0.3 * score.k3)


def test_unanswered_command_scores_zero_rate_and_response() -> None:
    setpoint = pd.Series(np.where(np.arange(240) >= 30, 4.0, 0.0), index=INDEX)
    act = pd.Series(0.0, index=INDEX)
    (score,) = score_commands(setpoint, act, RATED, PARAMS)
    assert score.k1 == 0 and score.k2 == 0 and score.k3 == 0  # error 4 MW >> tolerance
    assert score.k == 0


def test_rate_is_capped_and_product_formula() -> None:
    setpoint = pd.Series(np.where(np.arange(240) >= 10, 8.0, 0.0), index=INDEX)
    act = pd.Series(np.where(np.arange(240) >= 10, 8.0, 0.0), index=INDEX)  # instant step
    (score,) = score_commands(setpoint, act, RATED, PARAMS)
    assert score.k1 == 3.0 and score.k2 == 1.0 and score.k3 == 1.0
    product = KParams(formula="product")
    (scored,) = score_commands(setpoint, act, RATED, product)
    assert scored.k == 3.0


def test_hourly_pay_applies_entry_threshold_and_cap() -> None:
    setpoint = pd.Series(np.where(np.arange(240) >= 10, 8.0, 0.0), index=INDEX)
    scores = score_commands(setpoint, setpoint.copy(), RATED, PARAMS)  # K = 0.4*3 + 0.3 + 0.3 = 1.8
    hour = pd.Timestamp("2026-03-02T00:00Z")
    pay = hourly_mileage_pay(scores, pd.Series({hour: 10.0}), "Asia/Shanghai", PARAMS, m=1.0)
    assert pay.loc[hour, "k_mean"] == pytest.approx(1.8)
    assert pay.loc[hour, "pay"] == pytest.approx(8.0 * 10.0 * 1.8)
    slow = [s.__class__(**{**s.__dict__, "k": 0.2}) for s in scores]
    assert (
        hourly_mileage_pay(slow, pd.Series({hour: 10.0}), "Asia/Shanghai", PARAMS).loc[hour, "pay"]
        == 0.0
    )
    fast = [s.__class__(**{**s.__dict__, "k": 2.7}) for s in scores]
    assert (
        hourly_mileage_pay(fast, pd.Series({hour: 10.0}), "Asia/Shanghai", PARAMS).loc[
            hour, "k_pay"
        ]
        == 2.0
    )


def test_bad_inputs_are_named() -> None:
    setpoint = pd.Series(0.0, index=INDEX)
    with pytest.raises(InvalidInputError, match="rated power must be positive"):
        score_commands(setpoint, setpoint, 0.0, PARAMS)
    gappy = setpoint.copy()
    gappy.iloc[5] = np.nan
    with pytest.raises(InvalidInputError, match="actual output is missing at 2026-03-02T00:00:05"):
        score_commands(setpoint, gappy, RATED, PARAMS)
    with pytest.raises(InvalidInputError, match="no mileage price"):
        moved = pd.Series(np.where(np.arange(240) >= 10, 8.0, 0.0), index=INDEX)
        hourly_mileage_pay(
            score_commands(moved, moved, RATED, PARAMS),
            pd.Series(dtype=float),
            "Asia/Shanghai",
            PARAMS,
        )
