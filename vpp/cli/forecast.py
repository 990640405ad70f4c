"""``vpp forecast ...``: forecasting commands (rolling-origin backtests)."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Forecast load, PV, wind and prices; measure forecast accuracy.", no_args_is_help=True
)
