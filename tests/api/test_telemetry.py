"""Telemetry upload: JSON and CSV, idempotent upsert, row checks, all-or-nothing, concurrency."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from tests.api.conftest import BATTERY, FURNACE, World

URL = "/v1/enterprises/ent-a/assets/a-bat-1/telemetry"
DAY = datetime(2026, 3, 2, tzinfo=UTC)


def day_points(scale: float = 1.0) -> list[dict[str, object]]:
    """A day of 15-minute battery readings within +-1.8 MW."""
    return [
        {
            "ts": (DAY + timedelta(minutes=15 * k)).isoformat(),
            "power_mw": scale * 1.8 * math.sin(k / 10),
        }
        for k in range(96)
    ]


def stored(client: TestClient, world: World) -> list[dict[str, object]]:
    query = {"start": DAY.isoformat(), "end": (DAY + timedelta(days=1)).isoformat()}
    answer = client.get(URL, params=query, headers=world.ent_a)
    assert answer.status_code == 200, answer.text
    return list(answer.json())


def enrol(client: TestClient, world: World) -> None:
    for body in (BATTERY, FURNACE):
        assert (
            client.post("/v1/enterprises/ent-a/assets", json=body, headers=world.ent_a).status_code
            == 201
        )


def test_a_day_of_json_is_written_once_however_often_it_is_sent(
    client: TestClient, world: World
) -> None:
    enrol(client, world)
    for _ in range(2):
        answer = client.post(URL, json={"points": day_points()}, headers=world.ent_a)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "asset_id": "a-bat-1",
            "received": 96,
            "written": 96,
            "rejected": [],
        }
    points = stored(client, world)
    assert len(points) == 96 and points[10]["power_mw"] == 1.8 * math.sin(1.0)
    client.post(URL, json={"points": day_points(scale=0.5)}, headers=world.ent_a)
    assert stored(client, world)[10]["power_mw"] == 0.9 * math.sin(1.0)


def test_csv_upload_with_offsets_and_optional_columns(client: TestClient, world: World) -> None:
    enrol(client, world)
    lines = ["ts,power_mw,energy_mwh,quality"]
    lines += [f"2026-03-02T{h:02d}:00:00+08:00,-1.5,,measured" for h in range(8, 12)]
    lines.append("2026-03-02T12:00:00Z,0.5,0.125,estimated")
    answer = client.post(
        URL, content="\n".join(lines), headers={**world.ent_a, "Content-Type": "text/csv"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["written"] == 5
    points = stored(client, world)
    assert points[0]["ts"] == "2026-03-02T00:00:00+00:00" and points[-1]["quality"] == "estimated"
    bad_header = client.post(
        URL, content="time,mw\nx,1", headers={**world.ent_a, "Content-Type": "text/csv"}
    )
    assert bad_header.status_code == 422 and "columns" in bad_header.json()["hint"]


def test_bad_rows_are_reported_and_nothing_is_half_written(
    client: TestClient, world: World
) -> None:
    enrol(client, world)
    points = day_points()
    points[3] = {"ts": "2026-03-02T00:45:00", "power_mw": 1.0}  # naive
    points[5] = {"ts": points[5]["ts"], "power_mw": 9.0}  # beyond the 2 MW battery
    points[7] = {"ts": points[6]["ts"], "power_mw": 0.1}  # instant repeated
    points[8] = {"ts": "yesterday", "power_mw": 0.1}
    points[9] = {"ts": "2099-01-01T00:00:00Z", "power_mw": 0.1}  # in the future
    answer = client.post(URL, json={"points": points}, headers=world.ent_a)
    assert answer.status_code == 422
    body = answer.json()
    assert body["type"].endswith("/rows-rejected") and "nothing was written" in body["detail"]
    assert [(r["row"], r["field"]) for r in body["rejected"]] == [
        (3, "ts"),
        (5, "power_mw"),
        (7, "ts"),
        (8, "ts"),
        (9, "ts"),
    ]
    assert "exceeds the asset's limit 2.0 MW" in body["rejected"][1]["message"]
    assert stored(client, world) == []
    skipped = client.post(URL + "?on_error=skip", json={"points": points}, headers=world.ent_a)
    assert skipped.status_code == 200 and skipped.json()["written"] == 91
    assert len(skipped.json()["rejected"]) == 5 and len(stored(client, world)) == 91


def test_loads_cannot_export_and_nan_is_refused(client: TestClient, world: World) -> None:
    enrol(client, world)
    furnace = "/v1/enterprises/ent-a/assets/a-furnace-2/telemetry"
    csv = "ts,power_mw\n2026-03-02T00:00:00Z,0.5\n2026-03-02T00:15:00Z,nan\n2026-03-02T00:30:00Z,abc\n"
    answer = client.post(furnace, content=csv, headers={**world.ent_a, "Content-Type": "text/csv"})
    assert [r["row"] for r in answer.json()["rejected"]] == [0, 1, 2]
    null_power = client.post(
        furnace, json={"points": [{"ts": DAY.isoformat(), "power_mw": None}]}, headers=world.ent_a
    )
    assert null_power.status_code == 422


def test_concurrent_writers_of_the_same_points_leave_one_row_each(
    client: TestClient, world: World
) -> None:
    enrol(client, world)

    def send(scale: float) -> int:
        return client.post(URL, json={"points": day_points(scale)}, headers=world.ent_a).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        codes = list(pool.map(send, [1.0, 0.5, 1.0, 0.5, 1.0, 0.5]))
    assert codes == [200] * 6
    points = stored(client, world)
    assert len(points) == 96
    ratio = {round(p["power_mw"] / (1.8 * math.sin(k / 10)), 6) for k, p in enumerate(points) if k}
    assert ratio in ({1.0}, {0.5})  # each write is one transaction: never a mix of batches
