"""``vpp backtest``: replay day-ahead bidding day by day, settled at realised prices.

Reads canonical CSVs only (timestamps with a UTC offset). Price history coarser than the
market's interval is spread onto it (an hourly price holds for each of its quarter-hours) and the
result says so.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bidding.backtest import BacktestInputs, run_backtest
from bidding.forecasts import parse_forecast_option
from vpp.domain.errors import InvalidInputError
from vpp.domain.fleet import load_fleet
from vpp.domain.market import load_market_profile
from vpp.domain.series import read_series_csv
from vpp.domain.timegrid import infer_interval_minutes, to_grid


def _column(path: Path, column: str, minutes: int, notes: list[str]) -> pd.Series:
    frame = read_series_csv(path)
    if column not in frame.columns:
        raise InvalidInputError(
            f"{path}: no column {column!r}", hint=f"columns: {', '.join(frame.columns)}"
        )
    source = infer_interval_minutes(frame.index, str(path))
    if source != minutes:
        notes.append(
            f"{path.name}:{column} has {source}-min values; put on the market's {minutes}-min grid "
            + (
                "(each interval takes the value of the period it lies in)"
                if source > minutes
                else "(mean)"
            )
        )
    return to_grid(frame[column], minutes)


def backtest(
    market: Annotated[str, typer.Option(help="Market profile id or YAML path.")],
    prices: Annotated[Path, typer.Option(help="Canonical CSV of realised day-ahead prices.")],
    price_column: Annotated[str, typer.Option(help="Price column (currency/MWh).")],
    fleet: Annotated[Path, typer.Option(help="Fleet YAML (assets:).")],
    start: Annotated[str, typer.Option(help="First delivery day, YYYY-MM-DD (market time).")],
    end: Annotated[str, typer.Option(help="Last delivery day, YYYY-MM-DD.")],
    out: Annotated[Path, typer.Option(help="Where to write RESULT.json.")],
    forecast: Annotated[
        str, typer.Option(help="own | perfect | naive | file:CSV:COLUMN")
    ] = "naive",
    ancillary: Annotated[
        Path | None,
        typer.Option(help="Canonical CSV of reserve capacity prices, one column per product id."),
    ] = None,
    reserve_forecast: Annotated[
        str,
        typer.Option(
            help="Capacity price forecast: naive_daily (the previous day's prices) or a "
            "forecasting model (lgbm, naive_weekly, mstl, ...)."
        ),
    ] = "naive_daily",
    scenarios: Annotated[int, typer.Option(help="Price scenarios for --forecast own.")] = 1,
    error_days: Annotated[
        int,
        typer.Option(
            min=0,
            help="File forecasts: bid price-quantity curves on scenarios made of the forecast "
            "plus its centred errors on this many earlier days (0: bid the point forecast).",
        ),
    ] = 0,
    error_quantiles: Annotated[
        int,
        typer.Option(
            min=0,
            help="With --error-days: turn those errors into this many comonotone quantile "
            "scenarios (9 is a good start); 0 uses each past day as a scenario.",
        ),
    ] = 0,
    deliverable_curves: Annotated[
        bool,
        typer.Option(
            help="With several scenarios: keep every hour-by-hour mix of the curves' positions "
            "deliverable by the batteries (no imbalance whatever clears)."
        ),
    ] = True,
    import_limit_mw: Annotated[float, typer.Option(help="Park import limit (MW).")] = float("inf"),
    export_limit_mw: Annotated[float, typer.Option(help="Park export limit (MW).")] = float("inf"),
) -> None:
    """Replay day-ahead bidding from START to END and write RESULT.json."""
    profile = load_market_profile(market)
    assets = load_fleet(fleet).assets
    minutes = profile.interval_minutes
    notes: list[str] = []
    realised = _column(prices, price_column, minutes, notes)
    kind, path, column = parse_forecast_option(forecast)
    published = (
        _column(Path(path), column, minutes, notes) if kind == "file" and path and column else None
    )
    reserve = None
    if ancillary is not None:
        frame = read_series_csv(ancillary)
        products = {p.id for p in profile.enabled_products()}
        unknown = [c for c in frame.columns if c not in products]
        if unknown:
            raise InvalidInputError(
                f"{ancillary}: columns {unknown} are not products of {profile.market_id}",
                hint=f"name columns after product ids: {', '.join(sorted(products))}",
            )
        reserve = pd.DataFrame({c: _column(ancillary, c, minutes, notes) for c in frame.columns})
    inputs = BacktestInputs(
        profile=profile,
        assets=assets,
        prices=realised,
        start=date.fromisoformat(start),
        end=date.fromisoformat(end),
        forecast=forecast,
        forecast_prices=published,
        reserve_prices=reserve,
        reserve_forecast=reserve_forecast,
        scenarios=scenarios,
        error_days=error_days,
        error_quantiles=error_quantiles,
        deliverable_curves=deliverable_curves,
        import_limit_mw=import_limit_mw,
        export_limit_mw=export_limit_mw,
    )
    total = (inputs.end - inputs.start).days + 1
    console = Console(stderr=True)
    with Progress(
        TextColumn("backtest {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(profile.market_id, total=max(total, 0))
        result = run_backtest(
            inputs, progress=lambda day: progress.update(task, advance=1, description=str(day))
        )
    result["notes"] = notes
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str))
    ratio = result["capture_ratio"]
    console.print(
        f"{result['days']} days: revenue {result['revenue']:.2f} {profile.currency}, perfect "
        f"foresight {result['perfect_foresight_revenue']:.2f}, capture "
        f"{'n/a' if ratio is None else f'{ratio:.1%}'}, violations {result['violations']} -> {out}"
    )
