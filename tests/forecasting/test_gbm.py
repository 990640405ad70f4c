"""LightGBM specifics: determinism, and one global model serving several meters."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import numpy as np
import pandas as pd

from forecasting.gbm import GbmParams, fit_gbm, predict_gbm
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
