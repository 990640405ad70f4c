"""Arbitrage capture with our own price forecasts, beside the published ones on the same days.

Issue #4 benchmark (b): the reference battery of ``bidding_capture_epftoolbox.py`` (1 MW /
2 MWh, 85 % round trip, SoC 50 % at the start and at least 50 % at the end of each day, SoC
carried over) is bid day by day through the full pipeline on each forecast, cleared at the real
price, re-dispatched and settled; capture = revenue / perfect-foresight revenue of the same
pipeline on the same days. The moonshot is 90 % averaged over the five markets.

The forecasts come from ``forecasting_prices.py --save-forecasts DIR``: one ``<market>.csv.gz``
per market with the real price, our forecasts (``ours: lgbm``, ``ours: lear``,
``ours: lear+lgbm``; all issued at the start of D from data before it) and the published
LEAR-Ens and DNN-Ens forecasts of the same hours, so every row of a market covers the same days.

Run: ``.venv/bin/python benchmarks/bidding_capture_own.py --forecasts DIR [--jobs 2]``.
Writes ``benchmarks/results/bidding_capture_own.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
from bidding_capture_epftoolbox import (
    LP_TICK_MW,
    MARKETS,
    RESULTS,
    epf_profile,
    reference_battery,
)
from bidding_speed_flexmeasures import machine

from bidding.backtest import BacktestInputs, run_backtest

FORECASTS = ("DNN Ensemble", "LEAR Ensemble", "ours: lgbm", "ours: lear", "ours: lear+lgbm")
MOONSHOT = 0.90


def read_forecasts(path: Path) -> pd.DataFrame:
    """The saved hourly table, indexed by UTC interval start."""
    frame = pd.read_csv(path, index_col=0)
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame.index, utc=True))
    missing = [c for c in ("Real price", *FORECASTS) if c not in frame.columns]
    if missing:
        raise SystemExit(f"{path} lacks the columns {missing}; rerun forecasting_prices.py")
    return frame


def run_one(job: tuple[str, Path, str]) -> dict[str, object]:
    """Replay one market on one forecast column (``lp`` variant of the capture benchmark)."""
    market, path, column = job
    frame = read_forecasts(path)
    real = frame["Real price"].astype(float)
    began = time.perf_counter()
    result = run_backtest(
        BacktestInputs(
            profile=epf_profile(market, "lp"),
            assets=[reference_battery()],
            prices=real,
            start=real.index[0].date(),
            end=real.index[-1].date(),
            forecast=f"file:{path.name}:{column.replace(': ', '-')}",
            forecast_prices=frame[column].astype(float),
        )
    )
    result.pop("daily", None)
    result |= {"market_label": market, "forecast_name": column}
    result["seconds"] = time.perf_counter() - began
    return result


def markdown(report: dict[str, object]) -> str:
    info = report["machine"]
    runs = report["runs"]
    assert isinstance(info, dict) and isinstance(runs, list)
    lines = [
        "# Battery arbitrage capture with our own price forecasts (1 MW / 2 MWh, 85 % RTE)",
        "",
        f"Run {info['date_utc']} UTC on {info['cpu']}, {info['cores']} cores, Python "
        f"{info['python']}. Forecasts from `forecasting_prices.py --save-forecasts` "
        f"({report['source']}). Full pipeline (bid, clear at the real price, re-dispatch, "
        f"settle; SoC carried day to day), `lp` variant ({LP_TICK_MW:g} MW tick, no minimum "
        "bid). "
        "Every row of a market covers the same days; capture = revenue / perfect-foresight "
        "revenue of the same pipeline on those days.",
        "",
        "| market | days | forecast | revenue [EUR/MW] | perfect [EUR/MW] | capture "
        "| violations | cycles |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        lines.append(
            f"| {run['market_label']} | {run['days']} | {run['forecast_name']} | "
            f"{run['revenue']:.1f} | {run['perfect_foresight_revenue']:.1f} | "
            f"{100 * run['capture_ratio']:.1f} % | {run['violations']} | {run['cycles']:.1f} |"
        )
    means = pd.DataFrame(runs).groupby("forecast_name", sort=False)["capture_ratio"].mean()
    lines += [
        "",
        "Capture averaged over the markets (moonshot: "
        f"{100 * MOONSHOT:.0f} % with our own forecasts): "
        + "; ".join(f"{name} {100 * value:.1f} %" for name, value in means.items())
        + ".",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--forecasts", type=Path, required=True, help="saved forecast directory")
    parser.add_argument("--markets", nargs="+", default=list(MARKETS))
    parser.add_argument("--columns", nargs="+", default=list(FORECASTS))
    parser.add_argument("--jobs", type=int, default=1, help="runs in parallel processes")
    parser.add_argument("--out", type=Path, default=RESULTS / "bidding_capture_own")
    args = parser.parse_args()
    paths = {m: args.forecasts / f"{m}.csv.gz" for m in args.markets}
    absent = [str(p) for p in paths.values() if not p.exists()]
    if absent:
        raise SystemExit(
            f"no saved forecasts at {', '.join(absent)}: run forecasting_prices.py "
            f"--save-forecasts {args.forecasts} first"
        )
    jobs = [(m, paths[m], column) for m in args.markets for column in args.columns]
    runs = []
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for run in pool.map(run_one, jobs):
            runs.append(run)
            print(
                run["market_label"],
                run["forecast_name"],
                f"{run['capture_ratio']:.3f}",
                run["violations"],
                flush=True,
            )
    days = sorted({int(str(run["days"])) for run in runs})
    source = f"the first {'/'.join(map(str, days))} test days of each market"
    report = {"machine": machine(), "source": source, "runs": runs}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2, default=str))
    args.out.with_suffix(".md").write_text(markdown(report))
    print(args.out.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
