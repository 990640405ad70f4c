"""The backtest command end to end on a few days of a small canonical CSV."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from vpp.cli.backtest import backtest

FLEET = """\
assets:
  - id: bess-1
    type: battery
    power_mw: 1.0
    energy_mwh: 2.0
    round_trip_efficiency: 0.85
    soc_min: 0.05
    soc_max: 0.95
    soc_initial: 0.5
    degradation_cost_per_mwh: 0
"""


def write_prices(path: Path) -> None:
    stamps = pd.date_range(
        "2024-05-25", "2024-06-05", freq="1h", tz="Europe/Berlin", inclusive="left"
    )
    hours = np.arange(len(stamps))
    rng = np.random.default_rng(3)
    price = 70 + 35 * np.sin((hours % 24 - 9) / 24 * 2 * np.pi) + rng.normal(0, 6, len(stamps))
    frame = pd.DataFrame(
        {
            "timestamp": [s.isoformat() for s in stamps],
            "price_per_mwh": price.round(2),
            "fcst": (price + rng.normal(0, 5, len(stamps))).round(2),
        }
    )
    frame.to_csv(path, index=False)


def write_case(folder: Path) -> tuple[Path, Path, Path]:
    """The prices CSV and fleet YAML of the small case, and where its result goes."""
    prices = folder / "prices.csv"
    write_prices(prices)
    fleet = folder / "fleet.yaml"
    fleet.write_text(FLEET)
    return prices, fleet, folder / "result.json"


def cli_args(prices: Path, fleet: Path, start: str, end: str, forecast: str) -> list[str]:
    """``vpp backtest`` options for the small de-lu case (without ``--out``)."""
    return [
        *("--market", "de-lu", "--prices", str(prices), "--price-column", "price_per_mwh"),
        *("--fleet", str(fleet), "--start", start, "--end", end, "--forecast", forecast),
    ]


@pytest.fixture
def app() -> typer.Typer:
    cli = typer.Typer()
    cli.command()(backtest)
    return cli


@pytest.mark.parametrize("forecast", ["naive", "perfect", "file"])
def test_backtest_cli_writes_result_without_violations(
    tmp_path: Path, app: typer.Typer, forecast: str
) -> None:
    prices, fleet, out = write_case(tmp_path)
    option = f"file:{prices}:fcst" if forecast == "file" else forecast
    args = cli_args(prices, fleet, "2024-06-01", "2024-06-03", option)
    result = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    for key in (
        "days",
        "revenue",
        "perfect_foresight_revenue",
        "capture_ratio",
        "revenue_by_product",
        "violations",
        "cycles",
    ):
        assert key in report
    assert report["days"] == 3
    assert report["violations"] == 0, report["violation_details"]
    assert 0 < report["revenue"] <= report["perfect_foresight_revenue"] + 1e-6
    assert report["notes"]  # hourly prices spread onto quarter-hours is stated
    if forecast == "perfect":
        assert report["capture_ratio"] == pytest.approx(1.0)


def test_bid_build_writes_a_valid_bid_set(tmp_path: Path) -> None:
    from vpp.cli.bid import app as bid_app
    from vpp.domain.bids import BidSet, check_bid_set
    from vpp.domain.market import load_market_profile

    prices = tmp_path / "prices.csv"
    write_prices(prices)
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(FLEET)
    out = tmp_path / "bids.json"
    root = typer.Typer()
    root.add_typer(bid_app, name="bid")
    result = CliRunner().invoke(
        root,
        [
            "bid",
            "build",
            "--market",
            "de-lu",
            "--fleet",
            str(fleet),
            "--prices",
            str(prices),
            "--price-column",
            "price_per_mwh",
            "--day",
            "2024-06-03",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    bids = BidSet.model_validate_json(out.read_text())
    assert bids.curves and check_bid_set(bids, load_market_profile("de-lu")) == []


@pytest.mark.parametrize("reserve_forecast", ["naive_daily", "naive_weekly"])
def test_backtest_with_fcr_prices_holds_reserve_without_violations(
    tmp_path: Path, app: typer.Typer, reserve_forecast: str
) -> None:
    prices = tmp_path / "prices.csv"
    write_prices(prices)
    stamps = pd.date_range(
        "2024-05-25", "2024-06-05", freq="4h", tz="Europe/Berlin", inclusive="left"
    )
    ancillary = tmp_path / "fcr.csv"
    pd.DataFrame({"timestamp": [s.isoformat() for s in stamps], "fcr": 40.0}).to_csv(
        ancillary, index=False
    )
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(FLEET.replace("power_mw: 1.0", "power_mw: 2.0"))
    out = tmp_path / "result.json"
    result = CliRunner().invoke(
        app,
        ["--market", "de-lu", "--prices", str(prices), "--price-column", "price_per_mwh",
         "--fleet", str(fleet), "--start", "2024-06-02", "--end", "2024-06-03",
         "--forecast", "naive", "--ancillary", str(ancillary), "--out", str(out),
         "--reserve-forecast", reserve_forecast],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["reserve_forecast"] == reserve_forecast
    assert report["violations"] == 0, report["violation_details"]
    assert report["revenue_by_product"].get("fcr", 0.0) > 0


def fcr_history(days: int = 70, seed: int = 5) -> pd.DataFrame:
    """Hourly FCR capacity prices [EUR/MW/h] on the de-lu 15-min UTC grid: six 4-h products a
    day, a weekly rhythm plus noise."""
    local = pd.date_range("2024-04-01", periods=days * 6, freq="4h", tz="Europe/Berlin")
    rng = np.random.default_rng(seed)
    block = np.asarray(local.hour // 4)
    value = 12 + 3 * (block == 4) + 2 * (local.day_of_week >= 5) + rng.normal(0, 1, len(local))
    utc = local.tz_convert("UTC")
    grid = pd.date_range(utc[0], utc[-1] + pd.Timedelta(hours=4), freq="15min", inclusive="left")
    series = pd.Series(value, index=utc).reindex(grid).ffill()
    return series.to_frame("fcr")


@pytest.mark.parametrize("model", ["naive_daily", "naive_weekly", "lgbm"])
def test_reserve_price_forecast_uses_only_prices_before_the_day(model: str) -> None:
    from datetime import date

    from bidding.forecasts import reserve_price_forecast
    from vpp.domain.market import load_market_profile

    profile = load_market_profile("de-lu")
    history = fcr_history()
    day = date(2024, 6, 5)
    start = profile.day_intervals(day)[0]
    base = reserve_price_forecast(history, day, profile, model)["fcr"]
    assert base.shape == (96,) and np.isfinite(base).all()
    changed = history.copy()
    changed.loc[changed.index >= start, "fcr"] += 100.0  # D and after: unknown when D is bid
    np.testing.assert_array_equal(reserve_price_forecast(changed, day, profile, model)["fcr"], base)
    if model == "naive_daily":
        yesterday = history["fcr"].reindex(profile.day_intervals(date(2024, 6, 4))).to_numpy()
        np.testing.assert_array_equal(base, yesterday)
    else:  # the weekly rhythm is learnt: weekend evening blocks above weekday night ones
        assert abs(base.mean() - history["fcr"].mean()) < 3.0
    earlier = history.copy()
    earlier.loc[start - pd.Timedelta(hours=2), "fcr"] += 50.0  # known at issue time
    if model != "naive_weekly":  # the weekly naive looks at D-7 only
        assert not np.array_equal(reserve_price_forecast(earlier, day, profile, model)["fcr"], base)


def test_unknown_reserve_forecast_model_is_refused() -> None:
    from datetime import date

    from bidding.forecasts import reserve_price_forecast
    from vpp.domain.errors import InvalidInputError
    from vpp.domain.market import load_market_profile

    with pytest.raises(InvalidInputError, match="unknown forecast model"):
        reserve_price_forecast(fcr_history(), date(2024, 6, 5), load_market_profile("de-lu"), "x")


def test_unknown_reserve_forecast_fails_before_any_work(tmp_path: Path, app: typer.Typer) -> None:
    prices = tmp_path / "prices.csv"
    write_prices(prices)
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(FLEET)
    out = tmp_path / "result.json"
    result = CliRunner().invoke(
        app,
        ["--market", "de-lu", "--prices", str(prices), "--price-column", "price_per_mwh",
         "--fleet", str(fleet), "--start", "2024-06-02", "--end", "2024-06-03",
         "--reserve-forecast", "lgbmm", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code != 0
    assert "unknown reserve price forecast 'lgbmm'" in str(result.exception) + result.output
    assert not out.exists()


@pytest.mark.parametrize("forecast", ["file", "naive"])
def test_backtest_cli_bids_error_quantile_curves_on_file_forecasts_only(
    tmp_path: Path, app: typer.Typer, forecast: str
) -> None:
    prices, fleet, out = write_case(tmp_path)
    option = f"file:{prices}:fcst" if forecast == "file" else forecast
    args = cli_args(prices, fleet, "2024-06-02", "2024-06-03", option)
    args += ["--error-days", "7", "--error-quantiles", "5"]
    result = CliRunner().invoke(app, [*args, "--out", str(out)])
    if forecast == "naive":
        assert result.exit_code != 0
        assert "need a file forecast" in str(result.exception)
        assert not out.exists()
        return
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["days"] == 2
    assert report["violations"] == 0, report["violation_details"]
    assert 0 < report["revenue"] <= report["perfect_foresight_revenue"] + 1e-6
