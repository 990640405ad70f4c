"""Pictures and files of a backtest, for people: forecast vs actual and error by hour of day.

Uses matplotlib's object API (no pyplot state, no display needed), so it runs in tests, on
servers and in the CLI alike.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from forecasting.backtest import BacktestResult

#: Days shown in the forecast-vs-actual panel (the last ones of the backtest).
PLOT_DAYS = 3


def best_model(result: BacktestResult) -> str:
    """The model with the lowest MAE (the baseline when no model has a finite MAE)."""
    scores = {n: m["mae"] for n, m in result.metrics().items() if np.isfinite(m["mae"])}
    return min(scores, key=lambda n: scores[n]) if scores else next(iter(result.forecasts))


def write_report_png(result: BacktestResult, path: str | Path, days: int = PLOT_DAYS) -> Path:
    """Draw the backtest summary PNG.

    Parameters
    ----------
    result : BacktestResult
        A finished backtest.
    path : str or Path
        PNG file to write.
    days : int
        How many of the last test days to show in the upper panel.

    Returns
    -------
    Path
        The written file. Upper panel: actual, each model's P50 and the P10-P90 band of the
        best model over the last ``days`` days (local time). Lower panel: MAE [target unit]
        by local hour of day per model.
    """
    out = Path(path)
    figure = Figure(figsize=(11, 7.5), layout="constrained")
    top, bottom = figure.subplots(2, 1)
    shown = set(result.days[-days:])
    local = result.actual.index.tz_convert(result.tz)
    mask = np.array([t.date() in shown for t in local])
    times = local[mask].tz_localize(None)
    best = best_model(result)
    band = result.forecasts[best]
    if {0.1, 0.9} <= set(band.columns):
        top.fill_between(
            times,
            band[0.1].to_numpy()[mask],
            band[0.9].to_numpy()[mask],
            alpha=0.25,
            label=f"{best} P10-P90",
        )
    top.plot(times, result.actual.to_numpy()[mask], color="black", linewidth=1.4, label="actual")
    for name, frame in result.forecasts.items():
        top.plot(times, frame[0.5].to_numpy()[mask], linewidth=1.0, label=f"{name} P50")
    top.set_title(
        f"{result.target}: day-ahead forecasts, issued {result.issue_clock} "
        f"the day before ({result.tz})"
    )
    top.set_ylabel(result.target)
    top.legend(fontsize=8, ncols=3)
    for name, series in result.mae_by_hour().items():
        bottom.plot(series.index, series.to_numpy(), marker="o", markersize=3, label=name)
    bottom.set_xlabel(f"hour of day ({result.tz})")
    bottom.set_ylabel(f"MAE [{result.target}]")
    bottom.set_title(f"MAE by hour over {len(result.days)} days")
    bottom.legend(fontsize=8)
    figure.savefig(out, dpi=90)
    return out


def write_report_json(result: BacktestResult, path: str | Path) -> Path:
    """Write :meth:`BacktestResult.report` as indented JSON and return the path."""
    out = Path(path)
    out.write_text(json.dumps(result.report(), indent=2) + "\n", encoding="utf-8")
    return out
