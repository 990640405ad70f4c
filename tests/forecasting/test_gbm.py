"""LightGBM specifics: determinism, one global model serving several meters, conformal bands."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import numpy as np
import pandas as pd

from forecasting.gbm import GbmParams, conformal_scales, fit_gbm, predict_gbm, train_boosters
from forecasting.history import build_known_history

TZ = "Asia/Shanghai"
DAY = date(2024, 2, 20)
ISSUE = pd.Timestamp("2024-02-19 08:00", tz=TZ)
LEVELS = (0.1, 0.5, 0.9)


def test_fits_are_deterministic(load_frame: pd.DataFrame) -> None:
    known = build_known_history(load_frame, "load_mw", DAY, TZ, ISSUE, (), 15)
    a = predict_gbm(fit_gbm([known], LEVELS), known)
    b = predict_gbm(fit_gbm([known], LEVELS), known)
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_one_global_model_serves_two_meters(make_load: Callable[..., pd.DataFrame]) -> None:
    small = make_load(seed=1)
    large = make_load(seed=2)
    large["load_mw"] *= 3.0
    histories = [
        build_known_history(frame, "load_mw", DAY, TZ, ISSUE, (), 15) for frame in (small, large)
    ]
    fitted = fit_gbm(histories, LEVELS, "CN", GbmParams(), series_ids=["small", "large"])
    small_fc = predict_gbm(fitted, histories[0], "small")
    large_fc = predict_gbm(fitted, histories[1], "large")
    assert "series_id" in fitted.columns
    assert large_fc[0.5].mean() > 2.0 * small_fc[0.5].mean()
    for frame, fc in ((small, small_fc), (large, large_fc)):
        actual = frame["load_mw"].reindex(fc.index)
        naive = frame["load_mw"].reindex(fc.index - pd.Timedelta(days=7)).to_numpy()
        assert np.mean(np.abs(fc[0.5] - actual)) < 1.2 * np.mean(np.abs(naive - actual))


def test_conformal_band_widens_the_tails_and_keeps_the_median(load_frame: pd.DataFrame) -> None:
    known = build_known_history(load_frame, "load_mw", DAY, TZ, ISSUE, (), 15)
    plain = fit_gbm([known], LEVELS)
    calibrated = fit_gbm([known], LEVELS, params=GbmParams(conformal_days=14))
    assert set(calibrated.band_scales) == {0.1, 0.9}
    assert calibrated.band_scales[0.1] <= 0.0 <= calibrated.band_scales[0.9]
    a, b = predict_gbm(plain, known), predict_gbm(calibrated, known)
    pd.testing.assert_series_equal(a[0.5], b[0.5])
    assert (b[0.1] <= a[0.1] + 1e-12).all() and (b[0.9] >= a[0.9] - 1e-12).all()
    assert (b[0.9] - b[0.1]).sum() > (a[0.9] - a[0.1]).sum()


def test_conformal_scales_restore_the_nominal_tails_on_held_out_rows() -> None:
    """Noise three times larger in the held-out rows: the scaled band covers 80 % there."""
    rng = np.random.default_rng(3)
    n_fit, n_held = 3000, 2000
    x = rng.uniform(0.0, 10.0, (n_fit + n_held, 1))
    sigma = np.r_[np.full(n_fit, 1.0), np.full(n_held, 3.0)]
    y = 2.0 * x[:, 0] + rng.normal(0.0, 1.0, n_fit + n_held) * sigma
    held = np.r_[np.zeros(n_fit, bool), np.ones(n_held, bool)]
    params = GbmParams()
    scales, floor = conformal_scales(x, y, held, ["x"], LEVELS, params)
    assert scales[0.1] < 0.0 < scales[0.9] and floor > 0.0
    tails = train_boosters(x[~held], y[~held], ["x"], (0.1, 0.9), params)
    low, high = tails[0.1].predict(x[held]), tails[0.9].predict(x[held])
    assert np.mean(y[held] < low) > 0.2  # the uncalibrated band misses far more than 10 %
    width = high - low + floor
    low, high = low + scales[0.1] * width, high + scales[0.9] * width
    assert abs(np.mean(y[held] < low) - 0.1) < 0.01
    assert abs(np.mean(y[held] > high) - 0.1) < 0.01
