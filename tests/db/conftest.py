"""Database fixtures: every repository test runs on SQLite and on PostgreSQL.

Each session migrates one SQLite file and one freshly created PostgreSQL database
(``vpp_test_<random>``, dropped at the end) with :func:`vpp.db.migrate.upgrade`, never
``create_all``, and empties every table after each test. Set ``VPP_TEST_POSTGRES_URL`` to an
admin URL to use another server; when none is reachable the PostgreSQL half skips with the
reason.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from vpp.db.engine import make_engine, session_scope
from vpp.db.migrate import upgrade
from vpp.db.repositories import AssetRepository, ContractRepository, ParkRepository
from vpp.db.schema import metadata
from vpp.domain.assets import BatterySpec, PvSpec
from vpp.domain.park import Contract, EnrolledAsset, Enterprise, Park, Site

POSTGRES_ADMIN_URL = os.environ.get(
    "VPP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
T0 = datetime(2026, 3, 1, tzinfo=UTC)


class PostgresServer:
    """Creates and drops throw-away databases on the test server."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.admin = sa.create_engine(
            admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool
        )

    def create(self) -> str:
        name = f"vpp_test_{secrets.token_hex(6)}"
        with self.admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        with self.admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer(POSTGRES_ADMIN_URL)
    shown = make_url(POSTGRES_ADMIN_URL).render_as_string(hide_password=True)
    try:
        with server.admin.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as error:
        server.admin.dispose()
        reason = str(error.orig).splitlines()[0] if error.orig else str(error)
        pytest.skip(f"PostgreSQL not reachable at {shown}: {reason}")
    yield server
    server.admin.dispose()


@pytest.fixture(scope="session")
def postgresql_url(postgres_server: PostgresServer) -> Iterator[str]:
    url = postgres_server.create()
    try:
        upgrade(url)
        yield url
    finally:
        postgres_server.drop(url)


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'vpp.sqlite'}"
    upgrade(url)
    return url


BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest) -> str:
    """A migrated database URL, once per backend."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on the migrated database; every table is emptied after the test."""
    engine = make_engine(db_url)
    yield engine
    _empty_tables(engine)
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A brand-new, never migrated database, once per backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.sqlite'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create()
    try:
        yield url
    finally:
        server.drop(url)


def _empty_tables(engine: Engine) -> None:
    tables = list(reversed(metadata.sorted_tables))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            names = ", ".join(t.name for t in tables)
            connection.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(table.delete())


def build_park() -> Park:
    return Park(
        id="suzhou-1",
        name="Suzhou Zero-Carbon Park",
        market_id="cn-jiangsu",
        import_limit_mw=40.0,
        export_limit_mw=15.5,
        enterprises=[
            Enterprise(
                id="ent-a",
                name="Alpha Steel",
                name_zh="阿尔法钢铁",
                sites=[
                    Site(id="a-main", name="Main works", latitude=31.3, longitude=120.6),
                    Site(id="a-north", name="North hall", connection_kva=2500.0),
                ],
            ),
            Enterprise(id="ent-b", name="Beta Logistics", sites=[Site(id="b-depot", name="Depot")]),
        ],
    )


def battery(asset_id: str = "a-bat-1", enterprise_id: str = "ent-a") -> EnrolledAsset:
    return EnrolledAsset(
        spec=BatterySpec(id=asset_id, name="Battery 1", power_mw=2.0, energy_mwh=4.0),
        enterprise_id=enterprise_id,
        site_id="a-main" if enterprise_id == "ent-a" else "b-depot",
        nominated_mw=1.5,
        verification="passed",
    )


def pv(asset_id: str = "b-pv-1") -> EnrolledAsset:
    return EnrolledAsset(
        spec=PvSpec(id=asset_id, capacity_mw=3.0, latitude=31.3, longitude=120.6),
        enterprise_id="ent-b",
    )


def contract(contract_id: str = "c-a-1", enterprise_id: str = "ent-a") -> Contract:
    return Contract(
        id=contract_id,
        enterprise_id=enterprise_id,
        scheme="min_guarantee",
        aggregator_share=0.25,
        min_guarantee=12000.5,
        currency="CNY",
        valid_from=T0,
    )


@pytest.fixture
def seeded(engine: Engine) -> Engine:
    """The engine, on a database holding the sample park, a battery (ent-a), a PV plant (ent-b)
    and one contract per tenant."""
    with session_scope(engine) as session:
        ParkRepository(session).save(build_park())
        assets = AssetRepository(session)
        assets.add(battery(), at=T0)
        assets.add(pv(), at=T0)
        ContractRepository(session).add(contract())
        ContractRepository(session).add(contract("c-b-1", "ent-b"))
    return engine
