"""Day-ahead price forecasting on the epftoolbox benchmark, side by side with LEAR-Ens and DNN-Ens.

For each market (NP, PJM, BE, FR, DE) the two-year test period of Lago et al. (2021) is
forecast day by day with our rolling-origin backtest, using the same data: hourly prices and the
two day-ahead exogenous forecasts of each dataset. In the same run, the published LEAR-Ens and
DNN-Ens forecasts (epftoolbox ``forecasts_2020`` files, which reproduce the paper) are scored
on the very same test days, so MAE, sMAPE and rMAE (vs the weekly naive) compare like for like.

Ours: LightGBM (``lgbm``, refit daily by default), our own LEAR-Ens (``lear``: :mod:`forecasting.lear`,
the four-window LASSO ensemble of the paper, recalibrated every day) and the simple average of
the two (``lear+lgbm``: equal weights fixed a priori, nothing tuned on the test days).

Timing: prices of all of D-1 are known when D is forecast (cleared the day before), so the
issue time is the start of D and lags of one day are allowed; the exogenous columns are
day-ahead forecasts, usable for D. The datasets are in local time with DST already removed
(24 hours a day), so the day grid is read as UTC.

Run: ``.venv/bin/python benchmarks/forecasting_prices.py [--market NP ...] [--days N] [--smoke]
[--jobs 2]`` (``--jobs`` runs markets in parallel processes).
Writes ``benchmarks/results/forecasting_prices.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from forecasting_datasets import SHARED, machine

from forecasting import backtest_day_ahead
from forecasting.gbm import GbmParams
from forecasting.lear import LEAR_WINDOWS, backtest_lear
from forecasting.metrics import mae, rmse, smape

RESULTS = Path(__file__).resolve().parent / "results"
DATA = SHARED / "data" / "prices"
ANCHORS = SHARED / "anchors" / "epftoolbox" / "forecasts_2020"
MARKETS = {"NP": "NO", "PJM": "US", "BE": "BE", "FR": "FR", "DE": "DE"}
ANCHOR_MODELS = ("LEAR Ensemble", "DNN Ensemble")
#: Published rMAE over the full two-year test periods (LEAR-Ens, DNN-Ens), for reference:
#: reference/performance-anchors.md §2.1 (DE DNN-Ens: paper 0.377, files 0.374-0.438).
FULL_PERIOD_RMAE = {
    "NP": (0.420, 0.403),
    "PJM": (0.476, 0.439),
    "BE": (0.604, 0.573),
    "FR": (0.543, 0.533),
    "DE": (0.395, 0.377),
}
#: LightGBM training window for prices [d] (epftoolbox LEAR uses 56 to 1456 days).
PRICE_TRAIN_DAYS = 728
#: Weight of our LEAR-Ens in the ``lear+lgbm`` average, fixed a priori (not tuned).
LEAR_WEIGHT = 0.5


def read_epf(market: str) -> pd.DataFrame:
    """An epftoolbox dataset as a canonical frame: ``price``, ``exog_1``, ``exog_2``.

    The upstream column names differ per market (and carry leading spaces); the order is
    always price, then two day-ahead forecasts. Timestamps are local without DST, read as UTC.
    """
    raw = pd.read_csv(DATA / f"epftoolbox_{market}.csv.gz", index_col=0, parse_dates=True)
    frame = pd.DataFrame(raw.to_numpy(dtype=float), columns=["price", "exog_1", "exog_2"])
    frame.index = pd.DatetimeIndex(raw.index).tz_localize("UTC").rename("timestamp")
    return frame


def read_anchor(market: str) -> pd.DataFrame:
    """Published forecasts of the test period (``Real price``, ``LEAR Ensemble`` ...)."""
    raw = pd.read_csv(
        ANCHORS / f"Forecasts_{market}_DNN_LEAR_ensembles.csv.gz", index_col=0, parse_dates=True
    )
    raw.index = pd.DatetimeIndex(raw.index).tz_localize("UTC").rename("timestamp")
    return raw


def run_market(
    market: str, days: int | None, refit_days: int, save: Path | None = None
) -> dict[str, object]:
    """Backtest one market and score ours and the anchors on the same test intervals.

    With ``save`` set, the hourly forecasts (ours and the published ones) and the real price
    are written to ``save/<market>.csv.gz`` for the capture benchmark's own-forecast run.
    """
    frame, anchor = read_epf(market), read_anchor(market)
    first = anchor.index[0].date()
    last = anchor.index[-1].date() if days is None else first + timedelta(days=days - 1)
    began = time.perf_counter()
    result = backtest_day_ahead(
        frame,
        "price",
        "UTC",
        first,
        last,
        issue_clock="00:00",
        issue_day_offset=0,
        models=["lgbm"],
        exog=("exog_1", "exog_2"),
        holidays_country=MARKETS[market],
        refit_days=refit_days,
        gbm_params=GbmParams(train_days=PRICE_TRAIN_DAYS),
    )
    seconds = time.perf_counter() - began
    began = time.perf_counter()
    lear = backtest_lear(frame, first, last, price="price", exog=("exog_1", "exog_2"))
    lear_seconds = time.perf_counter() - began
    lear = lear.reindex(result.actual.index)
    if lear.isna().any().any():
        raise SystemExit(f"{market}: LEAR left test hours without a forecast")
    actual = result.actual.to_numpy(dtype=float)
    published = anchor.reindex(result.actual.index)
    if not np.allclose(published["Real price"].to_numpy(), actual, atol=0.01, equal_nan=True):
        raise SystemExit(f"{market}: dataset and anchor prices differ on the test days")
    naive = result.forecasts["naive_weekly"][0.5].to_numpy(dtype=float)
    naive_mae = mae(actual, naive)
    rows: dict[str, dict[str, float]] = {}
    candidates = {name: published[name].to_numpy(dtype=float) for name in ANCHOR_MODELS}
    candidates |= {f"ours: {n}": f[0.5].to_numpy(dtype=float) for n, f in result.forecasts.items()}
    ours_lear = lear["lear"].to_numpy(dtype=float)
    candidates["ours: lear"] = ours_lear
    candidates["ours: lear+lgbm"] = (
        LEAR_WEIGHT * ours_lear + (1 - LEAR_WEIGHT) * candidates["ours: lgbm"]
    )
    windows = {f"lear_{w}": lear[f"lear_{w}"].to_numpy(dtype=float) for w in LEAR_WINDOWS}
    if save is not None:
        table = pd.DataFrame(candidates, index=result.actual.index)
        for level in (0.1, 0.9):
            table[f"ours: lgbm P{round(100 * level)}"] = result.forecasts["lgbm"][level]
        table.insert(0, "Real price", actual)
        save.mkdir(parents=True, exist_ok=True)
        table.to_csv(save / f"{market}.csv.gz", float_format="%.4f")
    for name, forecast in candidates.items():
        rows[name] = {
            "mae": mae(actual, forecast),
            "smape": smape(actual, forecast),
            "rmae": mae(actual, forecast) / naive_mae,
            "rmse": rmse(actual, forecast),
        }
    ours = result.metrics()["lgbm"]
    rows["ours: lgbm"] |= {"pinball": ours["pinball"], "coverage_80": ours["coverage_80"]}
    return {
        "start": first.isoformat(),
        "end": last.isoformat(),
        "days": len(result.days),
        "seconds": round(seconds, 1),
        "lear_seconds": round(lear_seconds, 1),
        "models": rows,
        "lear_windows_rmae": {
            name: mae(actual, forecast) / naive_mae for name, forecast in windows.items()
        },
    }


def _run_market(
    job: tuple[str, int | None, int, Path | None],
) -> tuple[str, dict[str, object]]:
    return job[0], run_market(*job)


def _windows_text(res: dict[str, object]) -> str:
    windows = res.get("lear_windows_rmae", {})
    assert isinstance(windows, dict)
    return ", ".join(f"{name} {value:.3f}" for name, value in windows.items())


def _markdown(
    results: dict[str, dict[str, object]], info: dict[str, str], note: str, refit_days: int
) -> str:
    refit = "daily" if refit_days == 1 else f"every {refit_days} days"
    lines = [
        "# Day-ahead price forecasts vs epftoolbox LEAR-Ens / DNN-Ens (Lago et al. 2021)",
        "",
        f"Run {info['date_utc']} UTC on {info['machine']}, {info['nproc']} cores, "
        f"Python {info['python']}. {note}",
        "Same test days for every row; rMAE = MAE / MAE of the weekly naive on those days; "
        "sMAPE = mean 2|y-f|/(|y|+|f|) in %. Published forecasts: epftoolbox `forecasts_2020` "
        "(reproduce the paper; see reference/performance-anchors.md §2.1).",
        "Ours, all issued at the start of D with all of D-1 known: `lgbm` = LightGBM quantile "
        f"regression (P50 scored), trained on the {PRICE_TRAIN_DAYS} days before its issue "
        f"time, refit {refit}; `lear` = our own implementation of LEAR-Ens (forecasting/lear.py: "
        "one LASSO model per hour on prices of D-1, D-2, D-3, D-7, both exogenous forecasts of "
        "D, D-1, D-7 and day-of-week dummies; median/MAD + asinh transform; penalty by AIC on "
        "the LARS path over columns scaled to unit norm, with the noise variance fixed at the "
        "target's variance, as `LassoLarsIC(normalize=True)` did in the scikit-learn releases "
        "the paper used, Lasso refit on the unscaled columns at that penalty; mean of the "
        "56/84/1092/1456-day windows); `lear+lgbm` = "
        f"{LEAR_WEIGHT:g} x lear + {1 - LEAR_WEIGHT:g} x lgbm P50, weights fixed a priori "
        "(not tuned on any test day).",
        "Recalibration: our `lear` is re-estimated every day on the data before D (prices to "
        "the end of D-1, exogenous forecasts to the end of D), like the published LEAR-Ens and "
        "DNN-Ens; our `lgbm` is refit "
        + (
            "daily too."
            if refit_days == 1
            else f"only every {refit_days} days, so `lgbm` and `lear+lgbm` use models up to "
            f"{refit_days - 1} days older than the published ones."
        )
        + " `lear` is our own code (no epftoolbox code), so it need not match the published "
        "LEAR-Ens number for number.",
        "",
        "| market | days | model | MAE | sMAPE [%] | rMAE | RMSE |",
        "|---|---|---|---|---|---|---|",
    ]
    for market, res in results.items():
        models = res["models"]
        assert isinstance(models, dict)
        for name, m in models.items():
            lines.append(
                f"| {market} | {res['days']} | {name} | {m['mae']:.3f} | {m['smape']:.2f} "
                f"| {m['rmae']:.3f} | {m['rmse']:.3f} |"
            )
    lines += [
        "",
        "rMAE of our single LEAR windows (their mean is `ours: lear`): "
        + "; ".join(f"{market} {_windows_text(res)}" for market, res in results.items())
        + ".",
        "",
        "Run (UTC) of each market: "
        + "; ".join(
            f"{market} {res.get('run_utc', info['date_utc'])}" for market, res in results.items()
        )
        + ".",
        "",
        "Run time (s, lgbm backtest / lear backtest): "
        + "; ".join(
            f"{market} {res['seconds']} / {res['lear_seconds']}" for market, res in results.items()
        )
        + ".",
        "",
        "For reference, the published rMAE over each market's full two-year test period "
        "(performance-anchors §2.1): "
        + "; ".join(
            f"{m} LEAR-Ens {a:.3f}, DNN-Ens {b:.3f}" for m, (a, b) in FULL_PERIOD_RMAE.items()
        )
        + ". Compare ours with the rows above, which use the same days.",
        "",
    ]
    return "\n".join(lines)


def _kept_markets(path: Path, scope: str, rerun: list[str]) -> dict[str, dict[str, object]]:
    """Markets of an earlier result file that this run does not repeat (for ``--merge``)."""
    if not path.exists():
        sys.exit(f"--merge: {path} does not exist; run without --merge first")
    old = json.loads(path.read_text())
    if old.get("scope") != scope:
        sys.exit(
            f"--merge: {path} covers {old.get('scope')!r}, this run {scope!r}; "
            "merge only runs over the same days (use the same --days)"
        )
    kept: dict[str, dict[str, object]] = {}
    for market, res in old["markets"].items():
        if market not in rerun:
            res.setdefault("run_utc", old["run"]["date_utc"])
            kept[market] = res
    return kept


def main() -> None:
    """Run the benchmark and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--market", action="append", choices=sorted(MARKETS), default=None)
    parser.add_argument("--days", type=int, default=None, help="first N test days only")
    parser.add_argument(
        "--refit-days", type=int, default=1, help="lgbm refit period [d]; 1 = daily, as the paper"
    )
    parser.add_argument("--smoke", action="store_true", help="NP, 14 days")
    parser.add_argument("--jobs", type=int, default=1, help="markets run in parallel")
    parser.add_argument("--note", default="", help="extra sentence for the markdown header")
    parser.add_argument("--out", type=Path, default=RESULTS / "forecasting_prices")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the markets of the existing --out JSON that this run does not repeat "
        "(same scope only); each market keeps the date of the run that produced it",
    )
    parser.add_argument(
        "--save-forecasts",
        type=Path,
        default=None,
        help="directory for the hourly forecasts, one <market>.csv.gz each",
    )
    args = parser.parse_args()
    markets = ["NP"] if args.smoke else (args.market or list(MARKETS))
    days = 14 if args.smoke else args.days
    jobs = [(market, days, args.refit_days, args.save_forecasts) for market in markets]
    scope = "full two-year test periods" if days is None else f"first {days} test days only"
    results = _kept_markets(args.out.with_suffix(".json"), scope, markets) if args.merge else {}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for market, res in pool.map(_run_market, jobs):
            info = machine()
            res["run_utc"] = info["date_utc"]
            results[market] = res
            print(market, json.dumps(res["models"], indent=1), flush=True)
            # Written after every market, so a cut-short run keeps what it finished.
            note = f"Scope: {scope}, markets {', '.join(results)}. {args.note}".rstrip()
            payload = {"run": info, "scope": scope, "markets": results}
            args.out.with_suffix(".json").write_text(json.dumps(payload, indent=2) + "\n")
            args.out.with_suffix(".md").write_text(_markdown(results, info, note, args.refit_days))
    print(args.out.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
