"""APScheduler wiring: the pipelines run on a background scheduler whose jobs live in the database.

Jobs are stored in the service database (``apscheduler_jobs``, created by the migrations) by
APScheduler's SQLAlchemy job store, so a restarted service knows its schedule and runs a job it
missed while down (``misfire_grace_time``, coalesced to one run). Every job calls :func:`tick`,
which advances each pipeline's yesterday, today and tomorrow at the current instant; because the
pipeline itself decides from the database what is due, a tick that comes late, twice, or after a
crash does the right thing.

Jobs per park: a cron job at the forecast time, at the submission alert time and at the
results time (market-local, so DST is the market's), plus one interval tick that catches up,
drains the dispatch outbox and settles finished days. The parks are the database's: every tick
builds pipelines for parks created since (through the API or ``vpp park import``) and adds
their cron jobs, and drops the jobs of parks that are gone.

Replays run the same pipeline on a :class:`ReplayClock` (a past instant moving at ``speed`` x
real time), with only the interval tick, since cron triggers follow the wall clock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import pandas as pd
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import Engine

from vpp.domain.assets import clock_minutes
from vpp.domain.ports import Clock, SystemClock
from vpp.domain.timegrid import zone
from vpp.jobs.pipeline import ADVANCE_LOCK, DayAheadPipeline

log = logging.getLogger(__name__)


class _SkippedTickFilter(logging.Filter):
    """Drops APScheduler's notice that a tick was skipped because the previous one still runs.

    A tick that forecasts and optimises outlasts the tick interval; skipping is the intent.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances" not in record.getMessage()


_RUNTIMES: dict[str, Runtime] = {}
"""Pipelines by runtime name: stored jobs carry only the name, never live objects."""


class ReplayClock:
    """A clock that starts at ``start`` and runs ``speed`` times faster than the wall clock."""

    def __init__(self, start: pd.Timestamp, speed: float = 1.0) -> None:
        self.start = start.tz_convert("UTC")
        self.speed = speed
        self._wall0 = time.monotonic()

    def now(self) -> pd.Timestamp:
        """The replayed instant."""
        elapsed = pd.Timedelta(seconds=(time.monotonic() - self._wall0) * self.speed)
        return (self.start + elapsed).floor("us")


@dataclass
class Runtime:
    """The live objects the stored jobs act on.

    ``parks`` lists the park ids to run (the database's, on every tick) and ``build`` makes the
    pipeline of one; pipelines are kept per park id. ``pipelines`` seeds them (tests).
    """

    pipelines: Sequence[DayAheadPipeline] = ()
    clock: Clock = field(default_factory=SystemClock)
    lock: threading.Lock = field(default_factory=lambda: ADVANCE_LOCK)
    parks: Callable[[], list[str]] | None = None
    build: Callable[[str], DayAheadPipeline] | None = None
    on_change: Callable[[Sequence[DayAheadPipeline]], None] | None = None
    _by_park: dict[str, DayAheadPipeline] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_park = {p.park_id: p for p in self.pipelines}

    def current(self) -> list[DayAheadPipeline]:
        """The pipelines of the parks that exist now (new parks get one, gone ones lose it)."""
        if self.parks is None or self.build is None:
            return list(self._by_park.values())
        wanted = self.parks()
        changed = set(wanted) != set(self._by_park)
        for park_id in wanted:
            if park_id not in self._by_park:
                try:
                    self._by_park[park_id] = self.build(park_id)
                except Exception:  # a broken park must not stop the others
                    log.exception("cannot build the pipeline of park %s", park_id)
        for park_id in set(self._by_park) - set(wanted):
            del self._by_park[park_id]
        if changed and self.on_change is not None:
            self.on_change(list(self._by_park.values()))
        return list(self._by_park.values())

    def tick(self) -> int:
        """Advance yesterday, today and tomorrow of every pipeline; return the stages attempted."""
        attempted = 0
        with self.lock:  # cron and interval jobs may fire together; stages run one at a time
            now = self.clock.now()
            for pipeline in self.current():
                today = now.tz_convert(zone(pipeline.profile.timezone)).date()
                for day in (today - timedelta(days=1), today, today + timedelta(days=1)):
                    try:
                        attempted += len(pipeline.advance(day, now))
                    except Exception:  # one park's failure must not stop the others
                        log.exception("pipeline %s failed", pipeline.run_id(day))
        return attempted


def pipeline_clock(runtime_name: str = "default") -> Clock:
    """The clock this process's scheduler runs on (a replay's clock), else the wall clock."""
    runtime = _RUNTIMES.get(runtime_name)
    return runtime.clock if runtime is not None else SystemClock()


def tick(runtime_name: str) -> int:
    """The stored jobs' entry point."""
    runtime = _RUNTIMES.get(runtime_name)
    if runtime is None:
        log.warning("no runtime %r in this process; skipping the tick", runtime_name)
        return 0
    return runtime.tick()


def start_scheduler(
    engine: Engine,
    pipelines: Sequence[DayAheadPipeline] = (),
    *,
    clock: Clock | None = None,
    tick_seconds: float = 60.0,
    live: bool = True,
    name: str = "default",
    parks: Callable[[], list[str]] | None = None,
    build: Callable[[str], DayAheadPipeline] | None = None,
) -> BackgroundScheduler:
    """Start a scheduler running ``pipelines`` (or, with ``parks`` and ``build``, one pipeline
    per park those name, refreshed every tick) with its jobs stored through ``engine``.

    Jobs stored by an earlier run under ``name`` that this configuration no longer has (another
    park, replay instead of live) are removed; the others are replaced by the current ones.
    """
    aps_log = logging.getLogger("apscheduler.scheduler")
    if not any(isinstance(f, _SkippedTickFilter) for f in aps_log.filters):
        aps_log.addFilter(_SkippedTickFilter())
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename="apscheduler_jobs")},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
        timezone="UTC",
    )
    scheduler.start(paused=True)

    def sync(current: Sequence[DayAheadPipeline], *, first: bool = False) -> None:
        sync_jobs(scheduler, name, current, tick_seconds=tick_seconds, live=live, first=first)

    runtime = Runtime(pipelines, clock or SystemClock(), parks=parks, build=build, on_change=sync)
    _RUNTIMES[name] = runtime
    sync(runtime.current(), first=True)
    scheduler.resume()
    return scheduler


def sync_jobs(
    scheduler: BackgroundScheduler,
    name: str,
    pipelines: Sequence[DayAheadPipeline],
    *,
    tick_seconds: float,
    live: bool,
    first: bool = False,
) -> None:
    """Make the stored jobs under ``name`` exactly the tick plus each park's cron jobs.

    ``first`` (at start-up) also replaces the tick job, whose interval may have changed; later
    calls run inside a tick and leave it alone."""
    wanted: dict[str, tuple[str, object]] = {
        f"{name}:tick": (
            "advance pipelines, drain the outbox, settle finished days",
            IntervalTrigger(seconds=tick_seconds),
        )
    }
    if live:
        for pipeline in pipelines:
            for label, minutes in stage_clock_times(pipeline).items():
                hour, minute = divmod(minutes, 60)
                market, park = pipeline.profile.market_id, pipeline.park_id
                wanted[f"{name}:{market}:{park}:{label}"] = (
                    f"{market} {park} {label}",
                    CronTrigger(hour=hour, minute=minute, timezone=pipeline.profile.timezone),
                )
    existing = {job.id for job in scheduler.get_jobs()}
    for job_id in existing:
        if job_id.startswith(f"{name}:") and job_id not in wanted:
            scheduler.remove_job(job_id)
    for job_id, (label, trigger) in wanted.items():
        if job_id not in existing or (first and job_id == f"{name}:tick"):
            scheduler.add_job(
                "vpp.jobs.scheduler:tick",
                trigger,
                args=[name],
                id=job_id,
                name=label,
                replace_existing=True,
            )


def stage_clock_times(pipeline: DayAheadPipeline) -> dict[str, int]:
    """Market-local minutes of the day at which ``pipeline``'s stages fall due."""
    policy, profile = pipeline.policy, pipeline.profile
    times: dict[str, int] = {"forecast": clock_minutes(policy.forecast_at.time)}
    closure = clock_minutes(profile.day_ahead.gate_closure.time)
    times["alert"] = (closure - policy.safety_margin_minutes - policy.alert_before_minutes) % 1440
    if profile.day_ahead.results_time is not None:
        times["results"] = clock_minutes(profile.day_ahead.results_time.time)
    return times
