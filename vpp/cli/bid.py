"""``vpp bid ...``: build and inspect day-ahead bids."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from bidding import BidProblem, solve_day_ahead
from bidding.forecasts import naive_forecast, parse_forecast_option
from vpp.domain.errors import InvalidInputError
from vpp.domain.fleet import load_fleet
from vpp.domain.market import load_market_profile
from vpp.domain.series import read_series_csv
from vpp.domain.timegrid import to_grid

app = typer.Typer(help="Build day-ahead energy bids and ancillary offers.", no_args_is_help=True)


@app.command("build")
def build(
    market: Annotated[str, typer.Option(help="Market profile id or YAML path.")],
    fleet: Annotated[Path, typer.Option(help="Fleet YAML (assets:).")],
    prices: Annotated[Path, typer.Option(help="Canonical CSV of day-ahead prices.")],
    price_column: Annotated[str, typer.Option(help="Price column (currency/MWh).")],
    day: Annotated[str, typer.Option(help="Delivery day YYYY-MM-DD (market time).")],
    out: Annotated[Path, typer.Option(help="Where to write the bid set JSON.")],
    forecast: Annotated[
        str, typer.Option(help="naive | perfect | file:CSV:COLUMN (prices of the day)")
    ] = "naive",
    import_limit_mw: Annotated[float, typer.Option(help="Park import limit (MW).")] = float("inf"),
    export_limit_mw: Annotated[float, typer.Option(help="Park export limit (MW).")] = float("inf"),
) -> None:
    """Optimise one day's bids for a fleet and write the profile-checked bid set."""
    profile = load_market_profile(market)
    assets = load_fleet(fleet).assets
    delivery = date.fromisoformat(day)
    intervals = profile.day_intervals(delivery)
    kind, path, column = parse_forecast_option(forecast)
    minutes = profile.interval_minutes
    if kind == "own":
        raise InvalidInputError("vpp bid build takes naive, perfect or file:CSV:COLUMN")
    if kind == "file" and path and column:
        series = to_grid(read_series_csv(path)[column], minutes)
        expected = series.reindex(intervals).to_numpy(dtype=float)
    else:
        history = to_grid(read_series_csv(prices)[price_column], minutes)
        if kind == "perfect":
            expected = history.reindex(intervals).to_numpy(dtype=float)
        else:
            known = history[history.index < intervals[0]]
            expected = naive_forecast(known, delivery, profile)
    if np.isnan(expected).any():
        raise InvalidInputError(f"no complete price forecast for {delivery}")
    result = solve_day_ahead(
        BidProblem(
            profile,
            assets,
            intervals,
            expected[None, :],
            import_limit_mw=import_limit_mw,
            export_limit_mw=export_limit_mw,
        )
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(result.bid_set.model_dump_json(indent=2))
    schedule = out.with_suffix(".schedule.csv")
    result.schedule.to_csv(schedule)
    console = Console()
    table = Table(title=f"{profile.market_id} bids for {delivery}")
    for name in ("curves", "expected revenue", "binding"):
        table.add_column(name)
    table.add_row(
        str(len(result.bid_set.curves)),
        f"{result.expected_revenue:.2f} {profile.currency}",
        "\n".join(result.binding[:5]) or "-",
    )
    console.print(table)
    console.print(f"bid set -> {out}; schedule -> {schedule}")
