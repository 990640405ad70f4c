"""LEAR (forecasting.lear): no look-ahead, recovery of a known process, output shape, errors."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Lasso, LassoLarsIC

from forecasting.lear import (
    _fit_hour,
    aic_lasso_path,
    backtest_lear,
    build_lear_design,
    forecast_lear,
)
from vpp.domain.errors import InvalidInputError

START = date(2024, 1, 1)
#: Small windows keep the tests fast (the benchmark uses 56/84/1092/1456 days).
WINDOWS = (28,)


def sparse_ar_prices(days: int = 90, seed: int = 7, noise: float = 1.0) -> pd.DataFrame:
    """Hourly prices [EUR/MWh] from a known sparse linear process, with two exogenous series.

    price(D, h) = 5 + 0.5 price(D-1, h) + 0.3 price(D-7, h) + 0.1 load(D, h) + noise,
    ``load`` [MW] independent hourly draws around 500 MW, ``wind`` [MW] pure noise (unused).
    Only 3 of the 247 LEAR inputs matter.
    """
    rng = np.random.default_rng(seed)
    load = 500 + rng.normal(0, 40, (days, 24))
    wind = rng.gamma(2.0, 100.0, (days, 24))
    price = np.zeros((days, 24))
    price[:7] = 300 + rng.normal(0, noise, (7, 24))
    for d in range(7, days):
        price[d] = (
            5 + 0.5 * price[d - 1] + 0.3 * price[d - 7] + 0.1 * load[d] + rng.normal(0, noise, 24)
        )
    index = pd.date_range(
        pd.Timestamp(START, tz="UTC"), periods=days * 24, freq="h", name="timestamp"
    )
    return pd.DataFrame(
        {"price": price.ravel(), "exog_1": load.ravel(), "exog_2": wind.ravel()}, index=index
    )


def test_forecast_ignores_everything_at_or_after_issue_time() -> None:
    frame = sparse_ar_prices()
    day = START + timedelta(days=60)
    start = pd.Timestamp(day, tz="UTC")
    base = forecast_lear(frame, day, windows=WINDOWS)

    perturbed = frame.copy()
    perturbed.loc[perturbed.index >= start, "price"] *= 3.0
    perturbed.loc[perturbed.index >= start + pd.Timedelta(days=1), ["exog_1", "exog_2"]] += 500.0
    np.testing.assert_array_equal(forecast_lear(perturbed, day, windows=WINDOWS), base)
    # Cut the frame right after D: still the same forecast.
    cut = perturbed.loc[perturbed.index < start + pd.Timedelta(days=1)]
    np.testing.assert_array_equal(forecast_lear(cut, day, windows=WINDOWS), base)
    # Sanity: what is known before D does move the forecast.
    earlier = frame.copy()
    earlier.loc[start - pd.Timedelta(hours=5), "price"] += 50.0
    assert not np.allclose(forecast_lear(earlier, day, windows=WINDOWS), base)


def test_backtest_matches_the_issue_time_forecast() -> None:
    frame = sparse_ar_prices()
    day = START + timedelta(days=70)
    backtest = backtest_lear(frame, day, day + timedelta(days=1), windows=(21, 28))
    alone = forecast_lear(frame, day, windows=(21, 28))
    np.testing.assert_allclose(backtest["lear"].loc[alone.index], alone, rtol=1e-10)
    assert list(backtest.columns) == ["lear_21", "lear_28", "lear"]
    np.testing.assert_allclose(
        backtest["lear"], backtest[["lear_21", "lear_28"]].mean(axis=1), rtol=1e-12
    )


def test_recovers_a_sparse_linear_ar_process() -> None:
    days = 90
    frame = sparse_ar_prices(days=days, noise=1.0)
    first, last = START + timedelta(days=days - 3), START + timedelta(days=days - 1)
    result = backtest_lear(frame, first, last, windows=(84,))
    actual = frame["price"].loc[result.index].to_numpy()
    weekly = frame["price"].shift(24 * 7).loc[result.index].to_numpy()
    lear_mae = np.mean(np.abs(result["lear"].to_numpy() - actual))
    naive_mae = np.mean(np.abs(weekly - actual))
    # Noise sigma 1 -> the true model's MAE is ~0.8 and the weekly naive's ~5; LEAR, with 77
    # sample days for 247 inputs and the asinh transform, lands close to the true model.
    assert lear_mae < 2.5
    assert lear_mae < 0.5 * naive_mae


def test_output_is_24_hours_of_the_target_day() -> None:
    frame = sparse_ar_prices(days=60)
    day = START + timedelta(days=59)
    forecast = forecast_lear(frame, day, windows=WINDOWS)
    expected = pd.date_range(pd.Timestamp(day, tz="UTC"), periods=24, freq="h")
    expected = expected.as_unit(frame.index.unit)
    assert isinstance(forecast, pd.Series)
    assert forecast.name == "lear"
    assert len(forecast) == 24
    pd.testing.assert_index_equal(forecast.index, expected, check_names=False)
    assert np.isfinite(forecast.to_numpy()).all()
    # Prices of D are not needed: exogenous rows of D alone suffice.
    no_prices = frame.copy()
    no_prices.loc[no_prices.index >= expected[0], "price"] = np.nan
    np.testing.assert_array_equal(forecast_lear(no_prices, day, windows=WINDOWS), forecast)


def test_windows_longer_than_the_history_are_left_out() -> None:
    frame = sparse_ar_prices(days=60)
    day = START + timedelta(days=50)
    both = forecast_lear(frame, day, windows=(28, 56))
    short = forecast_lear(frame, day, windows=(28,))
    np.testing.assert_array_equal(both, short)


def test_history_shorter_than_the_shortest_window_is_an_error() -> None:
    frame = sparse_ar_prices(days=40)
    with pytest.raises(InvalidInputError, match="shorter than the shortest"):
        forecast_lear(frame, START + timedelta(days=27), windows=WINDOWS)
    with pytest.raises(InvalidInputError, match="shorter than the shortest"):
        backtest_lear(frame, START + timedelta(days=20), START + timedelta(days=39))


def test_missing_exogenous_forecast_of_the_target_day_is_an_error() -> None:
    frame = sparse_ar_prices(days=60)
    day = START + timedelta(days=60)  # no rows of D at all
    with pytest.raises(InvalidInputError, match="missing"):
        forecast_lear(frame, day, windows=WINDOWS)


def test_design_has_the_lear_inputs() -> None:
    frame = sparse_ar_prices(days=20)
    design = build_lear_design(frame)
    assert design.features.shape == (20, 24 * 4 + 2 * 24 * 3 + 7)
    row = 10
    np.testing.assert_array_equal(design.features[row, :24], design.target[row - 1])
    np.testing.assert_array_equal(design.features[row, 72:96], design.target[row - 7])
    np.testing.assert_array_equal(design.features[row, 96:120], design.series[1, row])
    assert design.features[row, -7:].sum() == 1.0
    assert np.isnan(design.features[3, 72:96]).all()


def test_aic_choice_matches_lasso_lars_ic() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 30))
    y = x[:, 0] * 2.0 - x[:, 3] + rng.normal(0, 0.5, 200)
    xc, yc = x - x.mean(axis=0), y - y.mean()
    alphas, coefs, criterion, _ = aic_lasso_path(xc.T @ yc, xc.T @ xc, float(yc @ yc), 200, 500)
    reference = LassoLarsIC(criterion="aic", fit_intercept=False, noise_variance=np.var(yc))
    reference.fit(xc, yc)
    best = int(np.argmin(criterion))
    assert alphas[best] == pytest.approx(reference.alpha_)
    np.testing.assert_allclose(coefs[:, best], reference.coef_, atol=1e-10)


def test_penalty_is_chosen_on_unit_norm_columns_and_refit_unscaled() -> None:
    """The paper's recipe: ``LassoLarsIC(normalize=True)`` picks alpha, ``Lasso`` refits raw X."""
    rng = np.random.default_rng(2)
    scales = np.geomspace(0.1, 10.0, 30)  # inputs on very different scales, as LEAR's are
    x = rng.normal(size=(300, 30)) * scales
    y = 0.8 * x[:, 0] / scales[0] - 0.5 * x[:, 7] / scales[7] + 0.3 * x[:, 20] / scales[20]
    y = y + rng.normal(0, 0.4, 300)
    xc, yc = x - x.mean(axis=0), y - y.mean()
    norms = np.linalg.norm(xc, axis=0)
    chooser = LassoLarsIC(criterion="aic", fit_intercept=False, noise_variance=np.var(yc))
    chooser.fit(xc / norms, yc)
    reference = Lasso(alpha=chooser.alpha_, fit_intercept=False, tol=1e-12, max_iter=100_000)
    reference.fit(xc, yc)
    ols, *_ = np.linalg.lstsq(xc, yc, rcond=None)
    rss_floor = float(((yc - xc @ ols) ** 2).sum())
    ours = _fit_hour(xc, yc, xc.T @ xc, rss_floor)
    np.testing.assert_allclose(ours, reference.coef_, atol=1e-4)
    assert {0, 7, 20} <= set(np.flatnonzero(ours))


def test_fits_run_on_one_blas_thread_and_restore_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from threadpoolctl import threadpool_info

    import forecasting.lear as lear

    def blas_threads() -> set[int]:
        return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}

    before = blas_threads()
    seen: list[set[int]] = []
    real = lear.lear_window_forecast

    def recording(*args: object, **kwargs: object) -> np.ndarray:
        seen.append(blas_threads())
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(lear, "lear_window_forecast", recording)
    frame = sparse_ar_prices()
    day = START + timedelta(days=70)
    forecast_lear(frame, day, windows=WINDOWS)
    backtest_lear(frame, day, day, windows=WINDOWS)
    assert seen and all(threads == {lear.BLAS_THREADS} for threads in seen)
    assert blas_threads() == before
