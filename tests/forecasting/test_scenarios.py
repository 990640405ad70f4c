"""sample_scenarios and quantile_paths: shape, marginals that match the quantiles, correlation."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from forecasting import quantile_paths, sample_scenarios
from forecasting.scenarios import ar1_correlation, default_rho
from vpp.domain.errors import InvalidInputError
from vpp.domain.forecast import Forecast


def _forecast(intervals: int = 96) -> Forecast:
    index = pd.date_range("2024-03-01", periods=intervals, freq="15min", tz="UTC")
    median = 10 + 3 * np.sin(np.arange(intervals) / 10)
    frame = pd.DataFrame({0.1: median - 2.0, 0.5: median, 0.9: median + 3.0}, index=index)
    return Forecast("load_mw", pd.Timestamp("2024-02-29", tz="UTC"), frame, "test")


def test_shape_and_determinism() -> None:
    fc = _forecast()
    a = sample_scenarios(fc, 50, seed=1)
    assert a.shape == (50, 96)
    np.testing.assert_array_equal(a, sample_scenarios(fc, 50, seed=1))
    assert not np.array_equal(a, sample_scenarios(fc, 50, seed=2))


def test_marginals_match_the_quantiles() -> None:
    fc = _forecast()
    draws = sample_scenarios(fc, 4000, seed=0)
    below_p10 = (draws < fc.quantile(0.1).to_numpy()).mean()
    below_p50 = (draws < fc.median.to_numpy()).mean()
    below_p90 = (draws < fc.quantile(0.9).to_numpy()).mean()
    assert below_p10 == pytest.approx(0.1, abs=0.02)
    assert below_p50 == pytest.approx(0.5, abs=0.02)
    assert below_p90 == pytest.approx(0.9, abs=0.02)


def test_adjacent_intervals_are_correlated() -> None:
    draws = sample_scenarios(_forecast(), 2000, seed=0)
    errors = draws - np.median(draws, axis=0)
    lag_one = np.corrcoef(errors[:, 40], errors[:, 41])[0, 1]
    far = np.corrcoef(errors[:, 0], errors[:, 90])[0, 1]
    assert lag_one > 0.8
    assert abs(far) < 0.1
    assert ar1_correlation(errors) == pytest.approx(default_rho(15), abs=0.03)


def test_given_correlation_is_used() -> None:
    draws = sample_scenarios(_forecast(), 2000, seed=0, rho=0.0)
    errors = draws - np.median(draws, axis=0)
    assert abs(np.corrcoef(errors[:, 40], errors[:, 41])[0, 1]) < 0.1


@pytest.mark.parametrize(("n", "rho"), [(0, None), (10, 1.0), (10, -0.2)])
def test_bad_arguments_are_refused(n: int, rho: float | None) -> None:
    with pytest.raises(InvalidInputError):
        sample_scenarios(_forecast(), n, seed=0, rho=rho)


def test_quantile_paths_hit_the_forecast_levels_and_are_comonotone() -> None:
    fc = _forecast()
    # levels (k + 0.5) / 5 = 0.1, 0.3, 0.5, 0.7, 0.9: three of them are the forecast's own
    paths = quantile_paths(fc, 5)
    assert paths.shape == (5, 96)
    np.testing.assert_allclose(paths[0], fc.quantile(0.1).to_numpy())
    np.testing.assert_allclose(paths[2], fc.median.to_numpy())
    np.testing.assert_allclose(paths[4], fc.quantile(0.9).to_numpy())
    assert np.all(np.diff(paths, axis=0) > 0)  # one ranking in every interval
    # between levels: linear in normal-score space (P70 lies z(0.7) / z(0.9) of the way to P90)
    share = NormalDist().inv_cdf(0.7) / NormalDist().inv_cdf(0.9)
    np.testing.assert_allclose(paths[3] - paths[2], share * 3.0)
    with pytest.raises(InvalidInputError):
        quantile_paths(fc, 0)
