"""`vpp pipeline status` as an operator runs it: quick to start, times in the market's zone.

The command must not load the forecasting and bidding stack (LightGBM, OR-Tools, statsmodels):
that is what made it take 20 s. How long it takes is not asserted here (machines are noisy);
which modules it loads is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from vpp.db.engine import make_engine, session_scope
from vpp.db.job_tables import OutboxRow, PipelineRunRow, PipelineStageRow

RunVpp = Callable[..., subprocess.CompletedProcess[str]]
HEAVY = ("lightgbm", "ortools", "statsmodels", "pvlib", "sklearn", "forecasting", "bidding")
LOADED = """
import json, sys
{action}
heavy = {heavy!r}
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in heavy)))
"""


def heavy_modules_after(action: str, cwd: Path, env: dict[str, str] | None = None) -> list[str]:
    """The heavy packages a fresh interpreter holds after running ``action``."""
    code = LOADED.format(action=action, heavy=HEAVY)
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    loaded: list[str] = json.loads(result.stdout.splitlines()[-1])
    return loaded


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def add_run(url: str, park: str, market: str, day: date, stages: dict[str, str]) -> str:
    """A run of ``park`` on ``day`` with ``stages`` finished at the given UTC instants."""
    run_id = f"{park}:{market}:{day.isoformat()}"
    created = utc(min(stages.values()))
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            session.add(
                PipelineRunRow(
                    id=run_id,
                    park_id=park,
                    market_id=market,
                    delivery_day=day,
                    status="settled",
                    created_at=created,
                    updated_at=created,
                )
            )
            session.flush()
            for stage, finished in stages.items():
                session.add(PipelineStageRow(run_id=run_id, stage=stage, finished_at=utc(finished)))
    finally:
        engine.dispose()
    return run_id


def add_outbox(url: str, run_id: str, market: str, day: date, statuses: list[str]) -> None:
    engine = make_engine(url)
    now = utc("2021-05-04T00:00")
    try:
        with session_scope(engine) as session:
            for k, status in enumerate(statuses):
                session.add(
                    OutboxRow(
                        run_id=run_id,
                        asset_id=f"asset-{k}",
                        market_id=market,
                        delivery_day=day,
                        setpoints=[],
                        status=status,
                        next_attempt_at=now,
                        created_at=now,
                        updated_at=now,
                    )
                )
    finally:
        engine.dispose()


@pytest.fixture()
def database(tmp_path: Path, run_vpp: RunVpp) -> str:
    url = f"sqlite:///{tmp_path / 'x.sqlite'}"
    migrated = run_vpp("db", "upgrade", cwd=tmp_path, env={"VPP_DATABASE_URL": url})
    assert migrated.returncode == 0, migrated.stderr
    return url


def test_status_of_an_empty_database(tmp_path: Path, database: str, run_vpp: RunVpp) -> None:
    result = run_vpp("pipeline", "status", cwd=tmp_path, env={"VPP_DATABASE_URL": database})
    assert result.returncode == 0, result.stderr
    assert "Day-ahead pipeline runs" in result.stdout


def test_times_are_shown_in_each_markets_zone(
    tmp_path: Path, database: str, run_vpp: RunVpp
) -> None:
    # de-lu around the end of summer time (CEST -> CET); cn-shandong has no DST (CST, +08:00)
    autumn = add_run(
        database,
        "p-eu",
        "de-lu",
        date(2021, 10, 31),
        {"forecast": "2021-10-30T06:00", "settle": "2021-11-01T10:00"},
    )
    add_outbox(database, autumn, "de-lu", date(2021, 10, 31), ["confirmed", "failed"])
    add_run(database, "p-cn", "cn-shandong", date(2021, 5, 4), {"forecast": "2021-05-03T00:30"})
    result = run_vpp("pipeline", "status", cwd=tmp_path, env={"VPP_DATABASE_URL": database})
    assert result.returncode == 0, result.stderr
    assert "10-30 08:00 CEST" in result.stdout
    assert "11-01 11:00 CET" in result.stdout
    assert "05-03 08:30 CST" in result.stdout
    assert "1/2 confirmed, 1 failed" in result.stdout


def test_park_option_shows_only_that_park(tmp_path: Path, database: str, run_vpp: RunVpp) -> None:
    add_run(database, "p-eu", "de-lu", date(2021, 5, 4), {"forecast": "2021-05-03T06:00"})
    add_run(database, "p-cn", "cn-shandong", date(2021, 5, 4), {"forecast": "2021-05-03T00:30"})
    env = {"VPP_DATABASE_URL": database}
    result = run_vpp("pipeline", "status", "--park", "p-cn", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "p-cn:cn-shandong:2021-05-04" in result.stdout
    assert "p-eu" not in result.stdout
    nothing = run_vpp("pipeline", "status", "--park", "p-xx", cwd=tmp_path, env=env)
    assert nothing.returncode == 0, nothing.stderr
    assert "p-cn" not in nothing.stdout and "p-eu" not in nothing.stdout


def test_importing_the_cli_loads_no_forecasting_or_bidding_stack(tmp_path: Path) -> None:
    assert heavy_modules_after("import vpp.cli", tmp_path) == []


def test_status_loads_no_forecasting_or_bidding_stack(tmp_path: Path, database: str) -> None:
    action = (
        "from vpp.cli import app\n"
        "try:\n"
        "    app(['pipeline', 'status'])\n"
        "except SystemExit as exit:\n"
        "    assert exit.code == 0, exit.code"
    )
    env = {**os.environ, "VPP_DATABASE_URL": database}
    assert heavy_modules_after(action, tmp_path, env) == []
