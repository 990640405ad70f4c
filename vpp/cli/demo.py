"""``vpp demo``: one full day-ahead cycle of the bundled sample park, on the embedded database.

Forecasts, optimised bids, clearing against the historical prices on a simulated exchange,
dispatch through the dispatch port (recorded, or to real devices when ``VPP_DEVICES`` names a
bindings file), settlement of the day; artefacts land in ``--out`` and the
run is stored in the service database (SQLite by default, PostgreSQL via VPP_DATABASE_URL).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from adapters.exports.day_files import write_day_artefacts
from adapters.market.simulated import SimulatedExchange
from vpp.cli.summary import print_summary
from vpp.db.cycles import record_cycle
from vpp.domain.market import load_market_profile
from vpp.jobs.runtime import device_channel
from vpp.services.day_ahead_cycle import run_day_ahead_cycle
from vpp.services.park_file import SAMPLE_PARK, load_park
from vpp.settings import get_settings


def demo(
    out: Annotated[Path, typer.Option(help="Folder for the artefacts.")] = Path("out/demo"),
    day: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="Delivery day (default: the park's demo day)."),
    ] = None,
    park: Annotated[Path, typer.Option(help="Park definition YAML.")] = SAMPLE_PARK,
    scenarios: Annotated[
        int,
        typer.Option(
            min=1, max=500, help="Price quantile levels the stochastic bid curves are built on."
        ),
    ] = 9,
) -> None:
    """Run one day-ahead cycle of the sample park and write bids, chart and statements."""
    console = Console()
    settings = get_settings()
    data = load_park(park)
    profile = load_market_profile(data.park.market_id, settings.config_dir)
    delivery = day.date() if day else data.definition.demo_day
    if delivery is None:
        raise typer.BadParameter("give --day; the park file names no demo_day")
    exchange = SimulatedExchange.from_park(data)
    steps = ["forecasting", "optimising bids", "submitting and clearing", "dispatching", "settling"]
    with (
        Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress,
        device_channel(settings) as channel,
    ):
        task = progress.add_task(f"{data.park.name}: {delivery}", total=len(steps) + 2)

        def step(name: str) -> None:
            progress.update(task, advance=1, description=f"{delivery}: {name}")

        result = run_day_ahead_cycle(
            data, profile, delivery, exchange, channel, scenarios=scenarios, step=step
        )
        step("storing in the database")
        stored = record_cycle(settings.database_url, data, result)
        step("writing artefacts")
        files = write_day_artefacts(out, data, result)
    print_summary(console, data, result, files, stored)
