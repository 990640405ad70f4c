"""The PostgreSQL COPY ingest stores exactly what the SQLite upsert stores for the same CSV."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.api.conftest import BATTERY, build_client, postgres_database, seed_world
from vpp.db.repositories import telemetry as telemetry_repository
from vpp.db.repositories.telemetry import COPY_MIN_ROWS, TelemetryRepository

URL = "/v1/enterprises/ent-a/assets/a-bat-1/telemetry"
START = datetime(2026, 3, 2, tzinfo=UTC)
SHANGHAI = timezone(timedelta(hours=8))
ROWS = COPY_MIN_ROWS + 144


def first_csv() -> str:
    """ROWS readings (offsets, energy, quality), one malformed and one out-of-limit row."""
    lines = ["ts,power_mw,energy_mwh,quality"]
    for k in range(ROWS):
        ts = (START + timedelta(minutes=5 * k)).astimezone(SHANGHAI if k % 2 else UTC)
        energy = "" if k % 3 == 0 else f"{k / 7:.6f}"
        quality = "estimated" if k % 11 == 0 else "measured"
        lines.append(f"{ts.isoformat()},{(k % 37 - 18) / 10.1!r},{energy},{quality}")
    lines.insert(10, "2026-03-02T25:99:00Z,1.0,,measured")  # malformed timestamp
    lines.insert(20, f"{(START - timedelta(days=1)).isoformat()},7.5,,measured")  # > 2 MW
    return "\n".join(lines) + "\n"


def second_csv() -> str:
    """Re-delivers the last three quarters with new values (overwrite), adds 50 new instants."""
    lines = ["ts,power_mw,energy_mwh,quality"]
    for k in range(ROWS // 4, ROWS + 50):
        ts = START + timedelta(minutes=5 * k)
        lines.append(f"{ts.isoformat()},{-(k % 13) / 6.3!r},{k / 3:.4f},substituted")
    lines.append("2026-03-02T00:00:00Z,not-a-number,,measured")
    return "\n".join(lines) + "\n"


def ingest(url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[list[Any], list[Any], int]:
    """Upload both CSVs with on_error=skip; the answers, the stored rows, COPY calls made."""
    copies = 0
    original = TelemetryRepository._copy_upsert

    def counting(self: TelemetryRepository, rows: list[Any]) -> None:
        nonlocal copies
        copies += 1
        original(self, rows)

    monkeypatch.setattr(telemetry_repository.TelemetryRepository, "_copy_upsert", counting)
    with build_client(url) as client:
        world = seed_world(client)
        enrolled = client.post("/v1/enterprises/ent-a/assets", json=BATTERY, headers=world.ent_a)
        assert enrolled.status_code == 201, enrolled.text
        headers = {**world.ent_a, "Content-Type": "text/csv"}
        answers = []
        for body in (first_csv(), second_csv(), second_csv()):
            answer = client.post(URL, params={"on_error": "skip"}, content=body, headers=headers)
            assert answer.status_code == 200, answer.text
            answers.append(answer.json())
        engine = client.app.state.engine
        table = telemetry_repository.TELEMETRY
        with engine.connect() as connection:
            stored = connection.execute(
                sa.select(table).order_by(table.c.asset_id, table.c.ts)
            ).all()
    return answers, [tuple(row) for row in stored], copies


def test_copy_path_stores_the_same_rows_as_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqlite_answers, sqlite_rows, sqlite_copies = ingest(
        f"sqlite:///{tmp_path / 'copy.sqlite'}", monkeypatch
    )
    with postgres_database() as url:
        pg_answers, pg_rows, pg_copies = ingest(url, monkeypatch)
    assert sqlite_copies == 0 and pg_copies == 3
    assert pg_answers == sqlite_answers
    first, second, again = pg_answers
    assert (first["received"], first["written"]) == (ROWS + 2, ROWS)
    assert [r["row"] for r in first["rejected"]] == [9, 19]  # 0-based data rows
    assert second["written"] == ROWS - ROWS // 4 + 50 and len(second["rejected"]) == 1
    assert again == second  # re-delivery changes nothing
    assert len(pg_rows) == len(sqlite_rows) == ROWS + 50
    assert pg_rows == sqlite_rows  # same instants (UTC), floats bit for bit, energy, quality
    overwritten = {row[1]: row for row in pg_rows}[START + timedelta(minutes=5 * (ROWS - 1))]
    last = ROWS - 1
    assert overwritten[2:] == (-(last % 13) / 6.3, float(f"{last / 3:.4f}"), "substituted")
