"""Killing the pipeline mid-run: the real ``vpp pipeline advance`` in a subprocess, a real exchange.

The sample park is imported into the database first (``vpp park import``), as an operator would.
The exchange (HTTP on loopback, signed requests) takes the bid set and then holds its answer;
the test kills the pipeline process with SIGKILL while it waits. Started again, the pipeline
finds the submission not recorded, submits again under the same idempotency key, and gets the
original receipt: the exchange holds exactly one bid set for the day.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sqlmodel import select

from adapters.market.exchange_server import LoopbackExchange
from adapters.market.simulated import SimulatedExchange
from tests.jobs.conftest import DAY
from vpp.db.engine import make_engine, session_scope
from vpp.db.job_tables import PipelineRunRow, PipelineStageRow
from vpp.domain.ports import FixedClock
from vpp.services.park_file import SAMPLE_PARK, ParkData
from vpp.settings import REPO_CONFIG_DIR

REPO = Path(__file__).resolve().parents[2]
PARTICIPANT, SECRET = "parkvpp-test", "s3cret-for-loopback"
POLICY = """
default:
  forecast_at: {day_offset: -1, time: "08:00"}
  auto_approve: {enabled: true, without_reference: approve}
"""


@pytest.fixture
def loopback(park: ParkData) -> Iterator[tuple[LoopbackExchange, str]]:
    exchange = LoopbackExchange(
        SimulatedExchange.from_park(park),
        {PARTICIPANT: SECRET},
        clock=FixedClock(pd.Timestamp("2021-05-04T07:00Z")),
    )
    with exchange.serve() as server:
        yield exchange, server.url


def _environment(tmp_path: Path, url: str) -> dict[str, str]:
    config = tmp_path / "config"
    shutil.copytree(REPO_CONFIG_DIR / "markets", config / "markets")
    (config / "pipeline.yaml").write_text(POLICY, encoding="utf-8")
    return {
        **os.environ,
        "VPP_DATABASE_URL": f"sqlite:///{tmp_path / 'vpp.sqlite'}",
        "VPP_CONFIG_DIR": str(config),
        "VPP_EXCHANGE_URL": url,
        "VPP_EXCHANGE_PARTICIPANT": PARTICIPANT,
        "VPP_EXCHANGE_SECRET": SECRET,
    }


def _advance(at: str) -> list[str]:
    return [sys.executable, "-m", "vpp", "pipeline", "advance", "--day", str(DAY), "--at", at]


@pytest.mark.slow
def test_a_pipeline_killed_while_submitting_resumes_and_submits_once(
    tmp_path: Path, loopback: tuple[LoopbackExchange, str]
) -> None:
    exchange, url = loopback
    env = _environment(tmp_path, url)
    imported = subprocess.run(
        [sys.executable, "-m", "vpp", "park", "import", str(SAMPLE_PARK)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert imported.returncode == 0, imported.stderr
    exchange.faults.block_next_submission(after_commit=True)
    process = subprocess.Popen(
        _advance("2021-05-04T08:10+02:00"),
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        arrived = exchange.faults.submission_blocked.wait(900)
        assert arrived, "the pipeline never submitted"
    finally:
        process.kill()  # SIGKILL while the exchange holds its answer
        process.wait()
    exchange.faults.release()
    assert exchange.accepted_count("de-lu", DAY) == 1

    engine = make_engine(env["VPP_DATABASE_URL"])
    try:
        with session_scope(engine) as session:
            done = {row.stage for row in session.exec(select(PipelineStageRow)).all()}
        assert done == {"forecast", "bid", "approve"}  # the submission was never recorded

        again = subprocess.run(
            _advance("2021-05-04T08:20+02:00"),
            cwd=tmp_path,
            env={**env, "COLUMNS": "200"},
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert again.returncode == 0, again.stderr
        assert "submit: succeeded" in again.stdout
        assert exchange.accepted_count("de-lu", DAY) == 1
        with session_scope(engine) as session:
            stages = {r.stage: r.detail for r in session.exec(select(PipelineStageRow)).all()}
            (run,) = session.exec(select(PipelineRunRow)).all()
        assert stages["submit"]["receipt"] == run.receipt
        assert run.receipt is not None and run.receipt.endswith(run.id)
    finally:
        engine.dispose()
