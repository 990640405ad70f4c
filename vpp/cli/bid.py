"""``vpp bid ...``: build and inspect day-ahead bids."""

from __future__ import annotations

import typer

app = typer.Typer(help="Build day-ahead energy bids and ancillary offers.", no_args_is_help=True)
