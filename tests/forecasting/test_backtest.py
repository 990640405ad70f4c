"""Rolling-origin backtests: the report contract, and LightGBM beating the weekly naive on real load."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from forecasting import backtest_day_ahead
from forecasting.gbm import GbmCache, GbmParams, fit_gbm, predict_gbm
from forecasting.history import build_known_history
from forecasting.report import write_report_png
from vpp.domain.errors import ForecastUnavailableError, InvalidInputError

TZ = "Asia/Shanghai"


def test_report_has_the_contract_fields(load_frame: pd.DataFrame) -> None:
    result = backtest_day_ahead(
        load_frame,
        "load_mw",
        TZ,
        "2024-02-12",
        "2024-02-14",
        models=["naive_epf"],
        holidays_country="CN",
        progress=False,
    )
    report = result.report()
    assert report["target"] == "load_mw"
    assert report["interval_minutes"] == 15
    assert report["days"] == 3
    assert list(report["models"]) == ["naive_weekly", "naive_epf"]
    for metrics in report["models"].values():
        assert {"mae", "rmse", "smape", "rmae", "pinball", "coverage_80"} <= set(metrics)
    assert report["models"]["naive_weekly"]["rmae"] == 1.0
    assert len(result.actual) == 3 * 96
    assert result.forecasts["naive_epf"].index.equals(result.actual.index)


def test_days_without_a_forecast_are_reported_not_hidden(load_frame: pd.DataFrame) -> None:
    result = backtest_day_ahead(
        load_frame.iloc[: 96 * 30],
        "load_mw",
        TZ,
        "2024-01-01",
        "2024-01-02",
        models=["naive_daily"],
        progress=False,
    )
    assert len(result.failures["naive_weekly"]) == 1
    assert "2024-01-01" in result.failures["naive_weekly"][0]
    report = result.report()
    assert report["models"]["naive_weekly"]["failed_days"] == 1
    assert report["models"]["naive_weekly"]["flags"] == {"fallback:profile": 1}
    assert result.forecasts["naive_daily"].iloc[:96].isna().all().all()


def test_a_cached_model_is_never_used_before_its_issue_time(load_frame: pd.DataFrame) -> None:
    later = build_known_history(
        load_frame,
        "load_mw",
        date(2024, 2, 20),
        TZ,
        pd.Timestamp("2024-02-19 08:00", tz=TZ),
        (),
        15,
    )
    earlier = later.rewind(date(2024, 2, 18))
    fitted = fit_gbm([later], (0.1, 0.5, 0.9), params=GbmParams(num_boost_round=5))
    with pytest.raises(ForecastUnavailableError, match="trained after"):
        predict_gbm(fitted, earlier)
    cache = GbmCache(refit_days=7, params=GbmParams(num_boost_round=5))
    cache.fitted = fitted
    cache.forecast(earlier, (0.1, 0.5, 0.9), None)
    assert cache.fitted is not fitted
    assert cache.fitted.issue_time == earlier.issue_time


def test_price_style_issue_at_the_start_of_the_day(load_frame: pd.DataFrame) -> None:
    result = backtest_day_ahead(
        load_frame,
        "load_mw",
        TZ,
        "2024-02-12",
        "2024-02-12",
        issue_clock="00:00",
        issue_day_offset=0,
        models=["naive_daily"],
        progress=False,
    )
    yesterday = load_frame["load_mw"].loc["2024-02-10 16:00":"2024-02-11 15:45"].to_numpy()
    np.testing.assert_allclose(result.forecasts["naive_daily"][0.5].to_numpy(), yesterday)


@pytest.mark.parametrize(
    ("start", "end", "models", "message"),
    [
        ("2024-02-12", "2024-02-10", ["lgbm"], "before start day"),
        ("2024-02-30", "2024-03-01", ["lgbm"], "not a date"),
        ("2024-02-12", "2024-02-12", ["arima"], "unknown forecast model"),
    ],
)
def test_bad_backtest_requests(
    load_frame: pd.DataFrame, start: str, end: str, models: list[str], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        backtest_day_ahead(load_frame, "load_mw", TZ, start, end, models=models, progress=False)


@pytest.mark.shared_data
def test_lgbm_beats_weekly_naive_on_the_steel_plant(
    steel_load: pd.DataFrame, tmp_path: pytest.TempPathFactory
) -> None:
    result = backtest_day_ahead(
        steel_load,
        "load_kw",
        "Asia/Seoul",
        date(2018, 11, 5),
        date(2018, 11, 18),
        models=["lgbm"],
        holidays_country="KR",
        refit_days=14,
        gbm_params=GbmParams(train_days=150),
        progress=False,
    )
    metrics = result.metrics()
    assert metrics["lgbm"]["mae"] < 0.85 * metrics["naive_weekly"]["mae"]
    assert 0.5 < metrics["lgbm"]["coverage_80"] < 0.95
    png = write_report_png(result, tmp_path / "steel.png")  # type: ignore[operator]
    assert png.stat().st_size > 10_000
