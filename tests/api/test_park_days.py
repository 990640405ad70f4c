"""Parks as a first-class scope in the live service: removal, park-limited keys on the day views
and on advance, and the scheduler following the parks in the database."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import ADMIN, BATTERY, PARK, World
from vpp.db.engine import make_engine
from vpp.jobs.scheduler import Runtime


def test_an_empty_park_can_be_removed_and_one_with_assets_cannot(
    client: TestClient, world: World
) -> None:
    spare = {**PARK, "id": "spare", "enterprises": [{"id": "ent-s", "name": "Spare"}]}
    assert client.put("/v1/parks/spare", json=spare, headers=ADMIN).status_code == 200
    assert client.delete("/v1/parks/spare", headers=world.operator).status_code == 204
    assert client.get("/v1/parks/spare", headers=world.operator).status_code == 404

    enrolled = client.post("/v1/enterprises/ent-a/assets", json=BATTERY, headers=world.ent_a)
    assert enrolled.status_code == 201, enrolled.text
    refused = client.delete("/v1/parks/suzhou-1", headers=world.operator)
    assert refused.status_code == 409, refused.text
    assert "cannot delete park suzhou-1" in refused.json()["detail"]
    assert client.get("/v1/parks/suzhou-1", headers=world.operator).status_code == 200
    audit = client.get("/v1/audit", params={"entity": "park"}, headers=ADMIN).json()
    actions = [entry["action"] for entry in audit["items"]]
    assert "park.delete" in actions


def test_the_day_views_name_what_is_missing_before_a_run(client: TestClient, world: World) -> None:
    for view in ("bids", "forecasts", "awards", "setpoints"):
        answer = client.get(f"/v1/parks/suzhou-1/days/2026-03-02/{view}", headers=world.operator)
        assert answer.status_code == 404, answer.text
        assert "no pipeline run" in answer.json()["detail"]
    denied = client.get("/v1/parks/suzhou-1/days/2026-03-02/bids", headers=world.ent_a)
    assert denied.status_code == 403


def test_a_park_limited_key_sees_only_its_park(client: TestClient, world: World) -> None:
    other = {**PARK, "id": "other", "enterprises": [{"id": "ent-o", "name": "Other"}]}
    assert client.put("/v1/parks/other", json=other, headers=ADMIN).status_code == 200
    body = {"role": "operator", "label": "desk of other", "park_ids": ["other"]}
    created = client.post("/v1/api-keys", json=body, headers=ADMIN)
    assert created.status_code == 201, created.text
    limited = {"X-API-Key": created.json()["key"]}
    advance = {"day": "2026-03-02", "at": "2026-03-01T07:00:00+08:00"}
    assert (
        client.post("/v1/parks/suzhou-1/pipeline/advance", json=advance, headers=limited)
    ).status_code == 404
    assert (
        client.get("/v1/parks/suzhou-1/days/2026-03-02/bids", headers=limited)
    ).status_code == 404
    mine = client.post("/v1/parks/other/pipeline/advance", json=advance, headers=limited)
    assert mine.status_code == 200, mine.text


def test_advance_refuses_a_naive_instant(client: TestClient, world: World) -> None:
    answer = client.post(
        "/v1/parks/suzhou-1/pipeline/advance",
        json={"day": "2026-03-02", "at": "2026-03-01T07:00:00"},
        headers=world.operator,
    )
    assert answer.status_code == 422, answer.text


@pytest.mark.usefixtures("world")
def test_the_scheduler_follows_the_parks_in_the_database(
    client: TestClient, api_url: str, tmp_path: Path
) -> None:
    engine = make_engine(api_url)
    built: list[str] = []

    def build(park_id: str) -> object:
        built.append(park_id)
        return type("Stub", (), {"park_id": park_id})()

    from vpp.db.park_source import DatabaseParkSource

    runtime = Runtime(parks=DatabaseParkSource(engine).park_ids, build=build)  # type: ignore[arg-type]
    assert [p.park_id for p in runtime.current()] == ["suzhou-1"]
    new = {**PARK, "id": "new-park", "enterprises": [{"id": "ent-n", "name": "New"}]}
    assert client.put("/v1/parks/new-park", json=new, headers=ADMIN).status_code == 200
    assert sorted(p.park_id for p in runtime.current()) == ["new-park", "suzhou-1"]
    assert client.delete("/v1/parks/new-park", headers=ADMIN).status_code == 204
    assert [p.park_id for p in runtime.current()] == ["suzhou-1"]
    assert built == ["suzhou-1", "new-park"]  # an existing pipeline is kept, not rebuilt
    engine.dispose()
