"""API fixtures: an app on a fresh database, a seeded park with two tenants and their keys.

``api_url`` is a fresh SQLite file per test; ``redis_store`` is the local Redis with a key prefix
of the test's own (skipping with the reason when Redis does not answer); ``backend_url`` is parametrised over SQLite and a
throw-away PostgreSQL database (``VPP_TEST_POSTGRES_URL`` or the local default), skipping the
PostgreSQL half with the reason when no server answers.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from vpp.api.app import create_app
from vpp.api.config import ApiSettings
from vpp.api.conventions import configure_api
from vpp.settings import Settings

ADMIN_KEY = "test-admin-key-" + "x" * 32
ADMIN = {"X-API-Key": ADMIN_KEY}
REDIS_URL = os.environ.get("VPP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_ADMIN_URL = os.environ.get(
    "VPP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PARK = {
    "id": "suzhou-1",
    "name": "Suzhou Zero-Carbon Park",
    "market_id": "cn-shandong",
    "import_limit_mw": 40.0,
    "export_limit_mw": 15.0,
    "enterprises": [
        {
            "id": "ent-a",
            "name": "Alpha Steel",
            "sites": [{"id": "a-main", "name": "Main works", "connection_kva": 8000.0}],
        },
        {"id": "ent-b", "name": "Beta Logistics", "sites": [{"id": "b-depot", "name": "Depot"}]},
    ],
}

BATTERY = {
    "spec": {"type": "battery", "id": "a-bat-1", "power_mw": 2.0, "energy_mwh": 4.0},
    "site_id": "a-main",
    "nominated_mw": 1.5,
}
FURNACE = {
    "spec": {
        "type": "curtailable_load",
        "id": "a-furnace-2",
        "max_curtail_mw": 3.0,
        "max_duration_min": 120,
        "availability": [{"start": "08:00", "end": "22:00"}],
    },
    "nominated_mw": 2.5,
}
CONTRACT = {
    "id": "c-a-2026",
    "scheme": "percentage_split",
    "aggregator_share": 0.2,
    "currency": "CNY",
    "valid_from": "2026-03-01T00:00:00+08:00",
}
CONSENT = {
    "asset_ids": ["a-bat-1"],
    "agreed_by": "Li Wei, energy manager",
    "agreed_at": "2026-03-01T09:00:00+08:00",
    "contract_id": "c-a-2026",
    "terms_version": "1",
    "products": ["spot_energy"],
}


def build_client(url: str, **api: object) -> TestClient:
    """A client of an app on ``url`` with the test admin key and ``api`` settings."""
    app = create_app(Settings(database_url=url))
    configure_api(app, ApiSettings(admin_key=ADMIN_KEY, **api))  # type: ignore[arg-type]
    return TestClient(app)


@pytest.fixture
def api_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'api.sqlite'}"


@pytest.fixture
def client(api_url: str) -> Iterator[TestClient]:
    with build_client(api_url) as test_client:
        yield test_client


@dataclass(frozen=True)
class World:
    """The seeded park: header dicts for each tenant and role."""

    ent_a: dict[str, str]
    ent_b: dict[str, str]
    operator: dict[str, str]
    settlement: dict[str, str]
    key_ids: dict[str, str]


def make_key(client: TestClient, role: str, enterprise_id: str | None = None) -> tuple[str, str]:
    body = {"role": role, "label": f"{role} test key", "enterprise_id": enterprise_id}
    created = client.post("/v1/api-keys", json=body, headers=ADMIN)
    assert created.status_code == 201, created.text
    return created.json()["id"], created.json()["key"]


def seed_world(client: TestClient) -> World:
    """Register the park and one key per tenant and role."""
    assert client.put("/v1/parks/suzhou-1", json=PARK, headers=ADMIN).status_code == 200
    ids, headers = {}, {}
    for name, role, ent in (
        ("ent_a", "enterprise", "ent-a"),
        ("ent_b", "enterprise", "ent-b"),
        ("operator", "operator", None),
        ("settlement", "settlement", None),
    ):
        ids[name], key = make_key(client, role, ent)
        headers[name] = {"X-API-Key": key}
    return World(key_ids=ids, **headers)


@pytest.fixture
def world(client: TestClient) -> World:
    return seed_world(client)


@contextmanager
def postgres_database() -> Iterator[str]:
    """A throw-away PostgreSQL database URL, dropped afterwards; skips when no server answers."""
    admin = sa.create_engine(
        POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool
    )
    name = f"vpp_api_test_{secrets.token_hex(6)}"
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as error:
        admin.dispose()
        shown = make_url(POSTGRES_ADMIN_URL).render_as_string(hide_password=True)
        reason = str(error.orig).splitlines()[0] if error.orig else str(error)
        pytest.skip(f"PostgreSQL not reachable at {shown}: {reason}")
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database on SQLite, then on a throw-away PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'backend.sqlite'}"
        return
    with postgres_database() as url:
        yield url


@dataclass(frozen=True)
class RedisStore:
    """A reachable Redis and a key prefix no other test uses."""

    url: str
    prefix: str


@pytest.fixture
def redis_store() -> Iterator[RedisStore]:
    """The local Redis with a fresh key prefix, its keys deleted afterwards; skips when down."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as error:
        client.close()
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {error}")
    prefix = f"vpp-test:{secrets.token_hex(6)}:"
    try:
        yield RedisStore(REDIS_URL, prefix)
    finally:
        for key in client.scan_iter(match=prefix + "*"):
            client.delete(key)
        client.close()
