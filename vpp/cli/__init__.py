"""The ``vpp`` command line: one typer app, one module per command group.

Errors from the service's error tree are printed as one readable line (with the hint) and
exit with status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from vpp.cli import backtest, bid, db, demo, forecast, market, pipeline, serve, settle
from vpp.domain.errors import VppError

app = typer.Typer(
    name="vpp",
    help="parkvpp: virtual power plant aggregation and market bidding for industrial parks.",
    no_args_is_help=True,
    add_completion=False,
)
app.command("demo")(demo.demo)
app.command("serve")(serve.serve)
app.command("backtest")(backtest.backtest)
app.command("settle")(settle.settle)
app.add_typer(forecast.app, name="forecast")
app.add_typer(bid.app, name="bid")
app.add_typer(market.app, name="market")
app.add_typer(db.app, name="db")
app.add_typer(pipeline.app, name="pipeline")


def main() -> None:
    """Entry point of the ``vpp`` console script."""
    try:
        app()
    except VppError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)
