"""Metric definitions, checked on numbers worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.metrics import coverage, mae, pinball, rmse, score, smape


def test_point_metrics() -> None:
    actual = np.array([1.0, 2.0, np.nan, 4.0])
    predicted = np.array([2.0, 2.0, 5.0, 2.0])
    assert mae(actual, predicted) == pytest.approx(1.0)
    assert rmse(actual, predicted) == pytest.approx(np.sqrt(5 / 3))
    assert smape(actual, predicted) == pytest.approx(100 * (2 / 3 + 0 + 4 / 6) / 3)
    assert smape(np.array([0.0]), np.array([0.0])) == 0.0


def test_pinball_and_coverage() -> None:
    actual = np.array([0.0, 10.0])
    assert pinball(actual, np.array([5.0, 5.0]), 0.9) == pytest.approx((0.1 * 5 + 0.9 * 5) / 2)
    assert coverage(actual, np.array([-1.0, 11.0]), np.array([1.0, 12.0])) == 0.5


def test_score_uses_the_baseline_for_rmae() -> None:
    frame = pd.DataFrame({0.1: [0.0, 0.0], 0.5: [1.0, 1.0], 0.9: [2.0, 2.0]})
    metrics = score(np.array([1.0, 3.0]), frame, baseline_mae=2.0)
    assert metrics["mae"] == 1.0
    assert metrics["rmae"] == 0.5
    assert metrics["coverage_80"] == 0.5
