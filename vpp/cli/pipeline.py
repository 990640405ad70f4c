"""``vpp pipeline``: look at and drive the day-ahead pipeline from a terminal.

``status`` shows each run's stages and outbox, ``approve`` records an operator's approval,
``advance`` runs whatever is due for one delivery day at a given instant, exactly as a scheduler
tick would (useful to catch up by hand, and for replays).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table
from sqlmodel import col, select

from vpp.cli.options import parse_instant
from vpp.db.engine import make_engine, session_scope
from vpp.db.job_tables import OutboxRow, PipelineRunRow, PipelineStageRow
from vpp.db.migrate import upgrade
from vpp.domain.errors import NotFoundError
from vpp.domain.pipeline import STAGES
from vpp.jobs.runtime import build_pipelines, device_channel
from vpp.settings import get_settings

app = typer.Typer(help="The scheduled day-ahead pipeline.", no_args_is_help=True)
DayOption = Annotated[
    datetime, typer.Option(formats=["%Y-%m-%d"], help="Delivery day (market-local date).")
]


def _instant(text: str | None) -> pd.Timestamp:
    """``--at``, or now."""
    if text is None:
        return pd.Timestamp.now(tz="UTC").floor("us")
    return parse_instant(text, "--at")


@app.command()
def advance(
    day: DayOption,
    at: Annotated[
        str | None, typer.Option(help="The instant to act at (ISO 8601 with offset; default now).")
    ] = None,
    park: Annotated[str | None, typer.Option(help="Only this park id.")] = None,
) -> None:
    """Run every stage of DAY that is due at AT, then deliver pending setpoints."""
    settings = get_settings()
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    now = _instant(at)
    console = Console()
    try:
        with device_channel(settings) as channel:
            pipelines = [
                p
                for p in build_pipelines(settings, engine, channel=channel)
                if park in (None, p.park_id)
            ]
            if not pipelines:
                raise NotFoundError(f"no configured park {park!r}", hint="check VPP_PARKS")
            for pipeline in pipelines:
                for outcome in pipeline.advance(day.date(), now):
                    console.print(
                        f"{pipeline.run_id(day.date())} [bold]{outcome.stage}[/]: "
                        f"{outcome.status} - {outcome.message}",
                        highlight=False,
                    )
    finally:
        engine.dispose()


@app.command()
def status(
    day: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Only this delivery day.")
    ] = None,
) -> None:
    """Each run's stages, status and dispatch outbox."""
    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            query = select(PipelineRunRow).order_by(col(PipelineRunRow.delivery_day))
            if day is not None:
                query = query.where(col(PipelineRunRow.delivery_day) == day.date())
            runs = session.exec(query).all()
            stages = session.exec(select(PipelineStageRow)).all()
            outbox = session.exec(select(OutboxRow)).all()
    finally:
        engine.dispose()
    table = Table(title="Day-ahead pipeline runs")
    for column in ("run", "status", *STAGES, "outbox"):
        table.add_column(column)
    for run in runs:
        done = {s.stage: s.finished_at for s in stages if s.run_id == run.id}
        rows = [o for o in outbox if o.run_id == run.id]
        confirmed = sum(o.status == "confirmed" for o in rows)
        failed = sum(o.status == "failed" for o in rows)
        table.add_row(
            run.id,
            run.status,
            *[done[s].strftime("%m-%d %H:%M") if s in done else "-" for s in STAGES],
            f"{confirmed}/{len(rows)} confirmed, {failed} failed" if rows else "-",
        )
    Console().print(table)


@app.command()
def approve(
    day: DayOption,
    by: Annotated[str, typer.Option(help="Who approves (recorded).")],
    park: Annotated[str | None, typer.Option(help="Only this park id.")] = None,
    at: Annotated[
        str | None, typer.Option(help="The instant of approval (replays; default now).")
    ] = None,
) -> None:
    """Approve DAY's bid set waiting in review (refused once the gate has closed)."""
    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        for pipeline in build_pipelines(settings, engine):
            if park in (None, pipeline.park_id):
                pipeline.approve(day.date(), by, _instant(at).to_pydatetime())
                typer.echo(f"{pipeline.run_id(day.date())}: approved by {by}")
    finally:
        engine.dispose()
