"""Day-ahead forecasts of reserve capacity prices: ERCOT REGUP/REGDN/RRS and German FCR.

The bid optimiser needs tomorrow's capacity prices as well as energy prices. This benchmark
forecasts them day by day with the models of :mod:`forecasting` and scores them against the
naive forecasts, the daily one being what the backtester used to assume (yesterday's clearing
prices).

- **ERCOT** day-ahead ancillary-service clearing prices (MCPC) for REGUP, REGDN and RRS
  [USD/MW/h], hourly, Central time (``ancillary/ercot_dam_as_mcpc_2022_2025.csv.gz``). Test
  year 2024 by default, with 2022-2023 as history.
- **German FCR** settlement capacity price of the daily cooperation tender [EUR/MW/h], six
  4-hour products a day (``ancillary/regelleistung_fcr_results_2021.csv.gz``; only 2021 is in
  the data, so the test is its second half and the history its first).

Timing: capacity markets of day D clear on D-1 (ERCOT's day-ahead market, the FCR auction at
08:00), so D-1's prices were cleared on D-2 and are known when D's bids are prepared; the
forecast is issued at the start of D with every price before D known, and nothing of D.
No exogenous inputs: the energy prices of D clear together with (ERCOT) or after (FCR) the
capacity prices, so they are not known either.

Models: ``naive_daily`` (yesterday's prices, the persistence baseline), ``naive_weekly``,
``lgbm`` (LightGBM quantile regression on calendar features and lags known at issue time,
refit weekly), ``mstl`` (statsmodels MSTL). rMAE is against the weekly naive as everywhere in
:mod:`forecasting`; the ``vs daily`` column is MAE / MAE of ``naive_daily``.

Run: ``.venv/bin/python benchmarks/forecasting_capacity_prices.py [--smoke]``
(``--smoke``: 7 days of each series). Writes
``benchmarks/results/forecasting_capacity_prices.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from bidding_cooptimisation import de_fcr_prices, ercot_reserves
from forecasting_datasets import machine

from forecasting import backtest_day_ahead
from forecasting.gbm import GbmParams
from forecasting.metrics import mae, score

RESULTS = Path(__file__).resolve().parent / "results"
MODELS = ("naive_daily", "lgbm", "mstl")


@dataclass(frozen=True)
class Series:
    """One capacity price series to backtest."""

    name: str
    frame: pd.DataFrame  # hourly UTC rows, column ``price``
    tz: str
    holidays: str
    first: date
    last: date
    train_days: int
    unit: str


def ercot_series() -> list[Series]:
    """REGUP, REGDN and RRS on the hourly UTC grid, test year 2024."""
    reserves = ercot_reserves()
    grid = pd.date_range(reserves.index[0], reserves.index[-1], freq="60min")
    out = []
    for product in reserves.columns:
        frame = reserves[[product]].rename(columns={product: "price"}).reindex(grid)
        out.append(
            Series(
                f"ERCOT {product.upper()}",
                frame,
                "America/Chicago",
                "US",
                date(2024, 1, 1),
                date(2024, 12, 31),
                365,
                "USD/MW/h",
            )
        )
    return out


def fcr_series() -> Series:
    """German FCR 2021 on the hourly UTC grid, test half 2021-07-01..12-31."""
    quarter = de_fcr_prices()["fcr"]
    hourly = quarter.resample("60min").mean()
    return Series(
        "DE FCR",
        hourly.to_frame("price"),
        "Europe/Berlin",
        "DE",
        date(2021, 7, 1),
        date(2021, 12, 31),
        180,
        "EUR/MW/h",
    )


def run_series(series: Series, days: int | None) -> dict[str, object]:
    """Backtest one series; metrics per model on the hours every model forecast."""
    last = (
        series.last
        if days is None
        else min(series.last, series.first + pd.Timedelta(days=days - 1))
    )
    began = time.perf_counter()
    result = backtest_day_ahead(
        series.frame,
        "price",
        series.tz,
        series.first,
        last,
        issue_clock="00:00",
        issue_day_offset=0,
        models=MODELS,
        holidays_country=series.holidays,
        refit_days=7,
        gbm_params=GbmParams(train_days=series.train_days),
    )
    seconds = time.perf_counter() - began
    actual = result.actual.to_numpy(dtype=float)
    medians = {n: f[0.5].to_numpy(dtype=float) for n, f in result.forecasts.items()}
    rows = np.isfinite(actual)
    for median in medians.values():
        rows &= np.isfinite(median)
    # every model on the same hours (BacktestResult.metrics pairs each only with the baseline)
    weekly = mae(actual[rows], medians["naive_weekly"][rows])
    daily = mae(actual[rows], medians["naive_daily"][rows])
    models = {}
    for name, frame in result.forecasts.items():
        m = score(actual[rows], frame.loc[rows], weekly)
        m["vs_daily"] = m["mae"] / daily if daily > 0 else np.nan
        models[name] = m
    return {
        "unit": series.unit,
        "start": str(series.first),
        "end": str(last),
        "days": len(result.days),
        "hours_scored": int(rows.sum()),
        "mean_price": float(np.mean(actual[rows])),
        "failures": {k: len(v) for k, v in result.failures.items() if v},
        "seconds": round(seconds, 1),
        "models": models,
    }


def markdown(results: dict[str, dict[str, object]], info: dict[str, str], scope: str) -> str:
    """The result table."""
    lines = [
        "# Day-ahead reserve capacity price forecasts (ERCOT AS, German FCR)",
        "",
        f"Run {info['date_utc']} UTC on {info['machine']}, {info['nproc']} cores, "
        f"Python {info['python']}. Scope: {scope}.",
        "Issued at the start of D with every price before D known (D-1 cleared on D-2); "
        "LightGBM refit every 7 days on the window before its issue time (365 days for ERCOT, "
        "180 for FCR, whose data start in 2021). rMAE = MAE / MAE of `naive_weekly`; "
        "vs daily = MAE / MAE of `naive_daily` (yesterday's prices, what the backtester assumed "
        "before). Pinball is the mean over P10/P50/P90; cover is the share of hours inside "
        "P10-P90 (nominal 0.80). Scored on the hours every model forecast.",
        "",
        "| series | unit | days | mean price | model | MAE | RMSE | rMAE | vs daily | pinball "
        "| P10-P90 cover |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, res in results.items():
        models = res["models"]
        assert isinstance(models, dict)
        for model, m in models.items():
            lines.append(
                f"| {name} | {res['unit']} | {res['days']} | {res['mean_price']:.2f} | {model} "
                f"| {m['mae']:.3f} | {m['rmse']:.3f} | {m['rmae']:.3f} | {m['vs_daily']:.3f} "
                f"| {m['pinball']:.3f} | {m['coverage_80']:.3f} |"
            )
    lines += [
        "",
        "Run time (s): "
        + "; ".join(f"{name} {res['seconds']}" for name, res in results.items())
        + ".",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    """Run the benchmark and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=None, help="first N test days only")
    parser.add_argument("--smoke", action="store_true", help="7 days of each series")
    parser.add_argument("--out", type=Path, default=RESULTS / "forecasting_capacity_prices")
    args = parser.parse_args()
    days = 7 if args.smoke else args.days
    scope = "full test periods" if days is None else f"first {days} test days of each series"
    results: dict[str, dict[str, object]] = {}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for series in [*ercot_series(), fcr_series()]:
        results[series.name] = run_series(series, days)
        print(series.name, json.dumps(results[series.name]["models"], indent=1), flush=True)
        info = machine()
        payload = {"run": info, "scope": scope, "series": results}
        args.out.with_suffix(".json").write_text(json.dumps(payload, indent=2) + "\n")
        args.out.with_suffix(".md").write_text(markdown(results, info, scope))
    print(args.out.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
