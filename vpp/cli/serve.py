"""``vpp serve``: the HTTP API (OpenAPI at /openapi.json, docs at /docs) and the scheduler.

The scheduler runs in this process, beside the API workers, so several workers never schedule
the same job twice. ``--replay-from`` runs the pipelines on a replayed clock (a past instant,
optionally sped up), which is how the bundled sample park's 2021 days can be scheduled today.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from typing import Annotated

import typer
import uvicorn

from vpp.api.config import ApiSettings
from vpp.api.ratelimit import connect_redis
from vpp.cli.options import parse_instant
from vpp.db.engine import make_engine
from vpp.db.migrate import upgrade
from vpp.db.park_source import DatabaseParkSource
from vpp.jobs.runtime import build_pipeline, device_channel, import_configured_parks
from vpp.jobs.scheduler import ReplayClock, start_scheduler
from vpp.settings import get_settings

log = logging.getLogger(__name__)


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (use 1 with SQLite).")] = 1,
    scheduler: Annotated[
        bool, typer.Option(help="Run the day-ahead scheduler beside the API.")
    ] = True,
    replay_from: Annotated[
        str | None,
        typer.Option(
            help="Run the pipelines from this past instant (ISO 8601 with offset), e.g. "
            "2021-05-04T07:30+02:00 for the sample park."
        ),
    ] = None,
    speed: Annotated[
        float, typer.Option(min=0.001, help="Replay speed, x real time (with --replay-from).")
    ] = 1.0,
) -> None:
    """Serve the API and run the scheduler; the database is migrated at start-up.

    With ``VPP_REDIS_URL`` set, the workers share their rate-limit buckets in that Redis; the
    command stops at once, before any worker starts, when Redis does not answer.
    """
    settings = get_settings()
    check_rate_limit_store(ApiSettings())
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    # one line per tick is noise; failures and misfires still show at WARNING
    logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
    # Migrate once here, before the workers start: each worker's app also migrates at start-up,
    # and on a fresh database several workers doing so at once race on creating the tables.
    upgrade(settings.database_url)
    with ExitStack() as stack:
        if scheduler:
            engine = make_engine(settings.database_url)
            stack.callback(engine.dispose)
            channel = stack.enter_context(device_channel(settings))
            clock = (
                ReplayClock(parse_instant(replay_from, "--replay-from"), speed)
                if replay_from
                else None
            )
            for report in import_configured_parks(settings, engine):
                typer.echo(f"imported park {report.park_id} (stored data kept)")
            source = DatabaseParkSource(engine, settings.config_dir)
            running = start_scheduler(
                engine,
                clock=clock,
                tick_seconds=settings.tick_seconds,
                live=clock is None,
                parks=source.park_ids,
                build=lambda park_id: build_pipeline(
                    settings, engine, park_id, channel=channel, source=source
                ),
            )
            stack.callback(running.shutdown, wait=False)
            mode = f"replay from {replay_from} at {speed:g}x" if clock else "live"
            typer.echo(f"scheduler running ({mode})")
        uvicorn.run("vpp.api.app:create_app", factory=True, host=host, port=port, workers=workers)


def check_rate_limit_store(api_settings: ApiSettings) -> None:
    """Raise :class:`RateLimitStoreError` (printed by the CLI) when Redis does not answer."""
    if api_settings.redis_url is not None:
        connect_redis(api_settings.redis_url).close()
