"""``vpp demo``: one full day-ahead cycle of the bundled sample park, through the live pipeline.

The sample park file is imported into the service database (``vpp park import``, idempotent),
then the *same* pipeline the scheduler runs advances the delivery day stage by stage on a
replayed clock: forecasts at the policy's time, bids, the operator's approval (the first bid set
of a market always waits for one), submission to the simulated exchange at the stored prices,
awards, dispatch through the dispatch port (recorded, or to real devices when ``VPP_DEVICES``
names a bindings file) and settlement on the meters, simulated where a replay has no readings.
Artefacts land in ``--out``; the run stays in the service database (SQLite by default,
PostgreSQL via VPP_DATABASE_URL).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from sqlalchemy.engine import Engine

from adapters.exports.day_files import write_day_artefacts
from vpp.api.security import ROLE_SCOPES, generate_key
from vpp.cli.summary import print_summary
from vpp.db.engine import make_engine, session_scope
from vpp.db.enrolment_store import DatabaseEnrolment
from vpp.db.migrate import upgrade
from vpp.db.repositories.credentials import ApiKeyRecord, ApiKeyRepository
from vpp.domain.errors import VppError
from vpp.domain.market import load_market_profile
from vpp.domain.park import Park
from vpp.jobs.runtime import build_pipeline, device_channel
from vpp.services.day_ahead_cycle import realised
from vpp.services.park_file import SAMPLE_PARK, load_park
from vpp.services.park_import import import_park
from vpp.settings import get_settings

OPERATOR = "demo operator"
DEMO_LABEL = "demo console"


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
    """Import the sample park and run one day-ahead cycle of it through the live pipeline."""
    console = Console()
    settings = get_settings()
    data = load_park(park)
    profile = load_market_profile(data.park.market_id, settings.config_dir)
    delivery = day.date() if day else data.definition.demo_day
    if delivery is None:
        raise typer.BadParameter("give --day; the park file names no demo_day")
    # a replay clears at the recorded prices: refuse a day without them before any work
    realised(data, data.definition.prices.day_ahead, profile.day_intervals(delivery))
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    stages = ["importing the park", "forecast", "bid", "approve", "submit", "awards", "dispatch"]
    stages.append("settle")
    try:
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
            task = progress.add_task(f"{data.park.name}: {delivery}", total=len(stages) + 1)
            progress.update(task, description=f"{delivery}: importing the park")
            with session_scope(engine) as session:
                import_park(data, DatabaseEnrolment(session), tz=profile.timezone, actor=OPERATOR)
            pipeline = build_pipeline(settings, engine, data.park.id, channel=channel)
            pipeline.policy = pipeline.policy.model_copy(update={"scenarios": scenarios})
            times = pipeline.times(delivery)
            for at in (times.forecast_at, times.results_at, times.settle_at):
                for outcome in pipeline.advance(delivery, at):
                    progress.update(task, advance=1, description=f"{delivery}: {outcome.stage}")
                    if outcome.status == "failed":
                        raise DemoStageFailed(f"{outcome.stage}: {outcome.message}")
                    if outcome.stage == "approve" and outcome.status == "waiting":
                        pipeline.approve(delivery, OPERATOR, at)
                if at == times.forecast_at:
                    pipeline.advance(delivery, at)  # submit after the approval
            progress.update(task, description=f"{delivery}: writing artefacts")
            result = pipeline.settled.get(delivery) or pipeline.cycle(delivery, times.settle_at)
            files = write_day_artefacts(out, pipeline.data(pd.Timestamp(times.settle_at)), result)
            keys_file = write_console_keys(out / KEYS_FILE, console_keys(engine, data.park))
    finally:
        engine.dispose()
    stored = engine.url.render_as_string(hide_password=True)
    print_summary(console, data, result, files, stored)
    console.print(
        f"console: run [bold]vpp serve[/], open http://127.0.0.1:8000/console and sign in with a "
        f"key from {keys_file} (the operator's, the settlement team's or an enterprise's)"
    )


KEYS_FILE = "console-keys.txt"
"""Where the demo writes the console sign-in keys it creates (readable by the owner only)."""


def write_console_keys(path: Path, keys: dict[str, str]) -> Path:
    """Write ``keys`` (who -> key) to ``path``, readable and writable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    lines = ["# console sign-in keys of the demo park; each run of the demo replaces them"]
    lines += [f"{who}\t{key}" for who, key in keys.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def console_keys(engine: Engine, park: Park, actor: str = OPERATOR) -> dict[str, str]:
    """New API keys to sign in to the console: the operator, the settlement team and each
    enterprise of ``park`` (label ``demo console``; stored hashed). The demo keys of an earlier
    run are revoked, so only the newest set signs in."""
    now = datetime.now(UTC)
    wanted = [("operator", None), ("settlement", None)]
    wanted += [("enterprise", e.id) for e in park.enterprises]
    keys: dict[str, str] = {}
    with session_scope(engine) as session:
        repo = ApiKeyRepository(session)
        after = None
        while batch := repo.list(after=after, limit=500):
            for old in batch:
                if old.label == DEMO_LABEL and old.revoked_at is None:
                    repo.revoke(old.id, now)
            after = batch[-1].id
        for role, enterprise_id in wanted:
            key = generate_key()
            repo.add(
                ApiKeyRecord(
                    id=key.key_id,
                    secret_sha256=key.secret_sha256,
                    role=role,
                    enterprise_id=enterprise_id,
                    scopes=ROLE_SCOPES[role],
                    label=DEMO_LABEL,
                    created_at=now,
                    created_by=actor,
                )
            )
            keys[enterprise_id or role] = key.token
    return keys


class DemoStageFailed(VppError):
    """A stage of the demo's pipeline failed; the message says which and why."""
