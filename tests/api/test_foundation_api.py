"""The API's foundation: health, readiness against the database, markets, problem+json errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from vpp.api.app import create_app
from vpp.settings import Settings


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'api.sqlite'}")
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready", "database": "sqlite"}


def test_markets_are_listed_and_shown(client: TestClient) -> None:
    listed = {m["market_id"]: m for m in client.get("/v1/markets").json()}
    assert {"cn-shandong", "de-lu"} <= set(listed)
    assert "fcr" in listed["de-lu"]["products"]
    profile = client.get("/v1/markets/cn-shandong").json()
    assert profile["timezone"] == "Asia/Shanghai"


def test_dst_day_and_product_gate(client: TestClient) -> None:
    day = client.get("/v1/markets/de-lu/days/2021-10-31", params={"product": "fcr"}).json()
    assert day["intervals"] == 100
    assert day["gate_closure_local"] == "2021-10-30T08:00:00+02:00"


def test_errors_are_problem_json(client: TestClient) -> None:
    missing = client.get("/v1/markets/xx-nowhere")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    body = missing.json()
    assert body["status"] == 404 and "no market profile 'xx-nowhere'" in body["detail"]
    assert "cn-shandong" in body["hint"]
    bad_day = client.get("/v1/markets/de-lu/days/2021-13-45")
    assert bad_day.status_code == 422 and bad_day.json()["errors"][0]["field"] == "path.day"
