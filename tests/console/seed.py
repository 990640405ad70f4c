"""A database for console tests: the bundled sample park, its day advanced to review, role keys.

``seeded_database(url)`` imports the sample park, advances its demo day to the forecast time
(forecast and bid run; the first bid set of a market waits for an operator) and creates one API
key per role. The console then runs on a replayed clock an hour after the forecast time, so
the gate is still open (see ``replay_clock``).
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine

from vpp.cli.demo import console_keys
from vpp.db.engine import make_engine, session_scope
from vpp.db.enrolment_store import DatabaseEnrolment
from vpp.db.migrate import upgrade
from vpp.domain.market import load_market_profile
from vpp.jobs import scheduler
from vpp.jobs.runtime import build_pipeline
from vpp.jobs.scheduler import ReplayClock
from vpp.services.park_file import SAMPLE_PARK, load_park
from vpp.services.park_import import import_park
from vpp.settings import Settings

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Seeded:
    """What a seeded database holds: the park, its day, the review instant and the keys."""

    url: str
    park_id: str
    day: date
    forecast_at: pd.Timestamp
    gate_closure: pd.Timestamp
    keys: dict[str, str]
    enterprises: tuple[str, ...]


def seeded_database(url: str) -> Seeded:
    """Import the sample park into ``url``, advance its demo day to review, create keys."""
    upgrade(url)
    engine: Engine = make_engine(url)
    try:
        data = load_park(SAMPLE_PARK)
        settings = Settings(database_url=url, config_dir=REPO / "config")
        profile = load_market_profile(data.park.market_id, settings.config_dir)
        with session_scope(engine) as session:
            import_park(data, DatabaseEnrolment(session), tz=profile.timezone, actor="seed")
        day = data.definition.demo_day
        assert day is not None
        pipeline = build_pipeline(settings, engine, data.park.id)
        times = pipeline.times(day)
        outcomes = pipeline.advance(day, times.forecast_at)
        waiting = [o for o in outcomes if o.stage == "approve" and o.status == "waiting"]
        assert waiting, f"the sample day did not reach review: {outcomes}"
        keys = console_keys(engine, data.park, actor="seed")
    finally:
        engine.dispose()
    return Seeded(
        url=url,
        park_id=data.park.id,
        day=day,
        forecast_at=times.forecast_at,
        gate_closure=times.gate_closure,
        keys=keys,
        enterprises=tuple(e.id for e in data.park.enterprises),
    )


_TEMPLATES: dict[str, tuple[Path, Seeded]] = {}


def seeded_copy(folder: Path, cache_dir: Path) -> Seeded:
    """A fresh copy of the seeded SQLite database in ``folder`` (seeded once per process, in
    ``cache_dir``): each test gets its own database without paying for the forecast and bid."""
    key = str(cache_dir)
    if key not in _TEMPLATES:
        cache_dir.mkdir(parents=True, exist_ok=True)
        path = cache_dir / "seeded.sqlite"
        _TEMPLATES[key] = (path, seeded_database(f"sqlite:///{path}"))
    path, seeded = _TEMPLATES[key]
    copy = folder / "console.sqlite"
    shutil.copy(path, copy)
    return replace(seeded, url=f"sqlite:///{copy}")


def replay_clock(monkeypatch: Any, at: pd.Timestamp) -> None:
    """Make the pipeline clock of this process a replay starting at ``at`` (as
    ``vpp serve --replay-from`` does), so approvals happen before the replayed gate."""
    monkeypatch.setitem(scheduler._RUNTIMES, "default", scheduler.Runtime(clock=ReplayClock(at)))


def sign_in(client: Any, key: str, next_path: str = "") -> Any:
    """Sign ``client`` in through the console's form; the response of the POST."""
    form = client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token, form.text
    return client.post(
        "/console/login",
        data={"api_key": key, "csrf_token": token.group(1), "next": next_path},
        follow_redirects=False,
    )


def csrf_of(page_html: str) -> str:
    """The session's CSRF token as a page carries it in its forms."""
    found = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page_html)
    assert found, "no CSRF token in the page"
    return found.group(1)
