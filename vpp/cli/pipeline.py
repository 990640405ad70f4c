"""``vpp pipeline``: look at and drive the day-ahead pipeline from a terminal.

``status`` shows each run's stages and outbox, ``approve`` records an operator's approval,
``advance`` runs whatever is due for one delivery day at a given instant, exactly as a scheduler
tick would (useful to catch up by hand, and for replays).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import ColumnElement
from sqlalchemy import inspect as sa_inspect
from sqlmodel import col, func, select

from vpp.cli.options import parse_instant
from vpp.db.engine import make_engine, session_scope
from vpp.db.job_tables import OutboxRow, PipelineRunRow, PipelineStageRow
from vpp.domain.errors import NotFoundError
from vpp.domain.market import load_market_profile
from vpp.domain.pipeline import STAGES
from vpp.domain.timegrid import zone
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
    from vpp.db.migrate import upgrade  # alembic and the pipeline stack: not for `status`
    from vpp.jobs.runtime import build_pipelines, device_channel

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
                raise NotFoundError(
                    f"no park {park!r} in the database" if park else "no park in the database",
                    hint="import one with `vpp park import PARK.yaml` or create it with "
                    "PUT /v1/parks/{park_id}",
                )
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
    park: Annotated[str | None, typer.Option(help="Only this park id.")] = None,
) -> None:
    """Each run's stages (finish times in the market's timezone), status and dispatch outbox."""
    settings = get_settings()
    chosen: list[ColumnElement[bool]] = []
    if day is not None:
        chosen.append(col(PipelineRunRow.delivery_day) == day.date())
    if park is not None:
        chosen.append(col(PipelineRunRow.park_id) == park)
    run_ids = select(PipelineRunRow.id).where(*chosen)
    engine = make_engine(settings.database_url)
    try:
        if not sa_inspect(engine).has_table(PipelineRunRow.__tablename__):
            raise NotFoundError(
                f"{engine.url.render_as_string(hide_password=True)} holds no pipeline yet",
                hint="run `vpp db upgrade` (or `vpp serve`), or point VPP_DATABASE_URL at the "
                "service's database",
            )
        with session_scope(engine) as session:
            runs = session.exec(
                select(PipelineRunRow)
                .where(*chosen)
                .order_by(col(PipelineRunRow.delivery_day), col(PipelineRunRow.id))
            ).all()
            stages = session.exec(
                select(PipelineStageRow).where(col(PipelineStageRow.run_id).in_(run_ids))
            ).all()
            outbox = session.exec(
                select(OutboxRow.run_id, OutboxRow.status, func.count())
                .where(col(OutboxRow.run_id).in_(run_ids))
                .group_by(col(OutboxRow.run_id), col(OutboxRow.status))
            ).all()
    finally:
        engine.dispose()
    zones = _market_zones({run.market_id for run in runs}, settings.config_dir)
    table = Table(title="Day-ahead pipeline runs")
    for column in ("run", "status", *STAGES, "outbox"):
        table.add_column(column)
    for run in runs:
        done = {s.stage: s.finished_at for s in stages if s.run_id == run.id}
        tz = zones[run.market_id]
        counts = {state: n for run_id, state, n in outbox if run_id == run.id}
        total = sum(counts.values())
        table.add_row(
            run.id,
            run.status,
            *[_local(done[s], tz) if s in done else "-" for s in STAGES],
            f"{counts.get('confirmed', 0)}/{total} confirmed, {counts.get('failed', 0)} failed"
            if total
            else "-",
        )
    Console().print(table)


def _market_zones(market_ids: set[str], config_dir: Path) -> dict[str, ZoneInfo]:
    """Each market's timezone, from its profile (read once per market)."""
    return {m: zone(load_market_profile(m, config_dir).timezone) for m in sorted(market_ids)}


def _local(instant: datetime, tz: ZoneInfo) -> str:
    """``instant`` as market-local month, day and clock time with the zone's abbreviation."""
    return instant.astimezone(tz).strftime("%m-%d %H:%M %Z")


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
    from vpp.jobs.runtime import build_pipelines  # the pipeline stack: not for `status`

    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        for pipeline in build_pipelines(settings, engine):
            if park in (None, pipeline.park_id):
                pipeline.approve(day.date(), by, _instant(at).to_pydatetime())
                typer.echo(f"{pipeline.run_id(day.date())}: approved by {by}")
    finally:
        engine.dispose()
