"""Pipeline fixtures: the sample park's day 2021-05-05 (DE-LU), forecast and optimised once.

Each test gets a freshly migrated database with the sample park imported (SQLite by default,
copied from one imported template; ``pg_engine`` for PostgreSQL) and builds
:class:`DayAheadPipeline` objects on it with :func:`make_pipeline`; they read the park from the
database as the service does. The day's forecasts and bids are computed once per session and
handed to each pipeline's forecaster and optimiser, since they are deterministic and the slow
part; the tests are about what happens around them.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from adapters.dispatch.recording import RecordingChannel
from adapters.market.simulated import SimulatedExchange
from tests.api.conftest import postgres_database
from vpp.db.engine import make_engine, session_scope
from vpp.db.enrolment_store import DatabaseEnrolment
from vpp.db.migrate import upgrade
from vpp.db.park_source import DatabaseParkSource
from vpp.domain.market import MarketProfile, load_market_profile
from vpp.domain.pipeline import AutoApprove, PipelinePolicy, load_pipeline_policy
from vpp.jobs.alerts import Alerter
from vpp.jobs.outbox import RetryPolicy
from vpp.jobs.pipeline import DayAheadPipeline
from vpp.services.day_ahead_cycle import PreparedBids, prepare_bids
from vpp.services.park_file import SAMPLE_PARK, ParkData, load_park
from vpp.services.park_import import import_park
from vpp.settings import REPO_CONFIG_DIR

DAY = date(2021, 5, 5)


@pytest.fixture(scope="session")
def park() -> ParkData:
    return load_park(SAMPLE_PARK)


@pytest.fixture(scope="session")
def profile() -> MarketProfile:
    return load_market_profile("de-lu")


@pytest.fixture(scope="session")
def policy() -> PipelinePolicy:
    return load_pipeline_policy("de-lu", REPO_CONFIG_DIR)


@pytest.fixture(scope="session")
def prepared(park: ParkData, profile: MarketProfile, policy: PipelinePolicy) -> PreparedBids:
    return prepare_bids(park, profile, DAY, scenarios=policy.scenarios)


def import_sample(url: str, park: ParkData) -> None:
    """Migrate ``url`` and import the sample park into it."""
    upgrade(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        import_park(park, DatabaseEnrolment(session), tz="Europe/Berlin")
    engine.dispose()


@pytest.fixture(scope="session")
def imported_template(tmp_path_factory: pytest.TempPathFactory, park: ParkData) -> Path:
    """A SQLite database with the sample park imported, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "pipeline.sqlite"
    import_sample(f"sqlite:///{path}", park)
    return path


@pytest.fixture
def engine(tmp_path: Path, imported_template: Path) -> Iterator[Engine]:
    path = tmp_path / "pipeline.sqlite"
    shutil.copy(imported_template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture
def pg_engine(park: ParkData) -> Iterator[Engine]:
    """A freshly created PostgreSQL database with the sample park imported, dropped afterwards."""
    with postgres_database() as url:
        import_sample(url, park)
        engine = make_engine(url)
        yield engine
        engine.dispose()


@pytest.fixture
def exchange(park: ParkData) -> SimulatedExchange:
    return SimulatedExchange.from_park(park)


MakePipeline = Callable[..., DayAheadPipeline]


@pytest.fixture
def make_pipeline(
    engine: Engine,
    park: ParkData,
    profile: MarketProfile,
    policy: PipelinePolicy,
    prepared: PreparedBids,
    exchange: SimulatedExchange,
) -> MakePipeline:
    """Builds a pipeline (a fresh one is what a restarted process has); keywords override."""

    def make(**overrides: Any) -> DayAheadPipeline:
        auto = overrides.pop("auto_approve", None)
        chosen = overrides.pop("policy", policy)
        if auto is not None:
            chosen = chosen.model_copy(update={"auto_approve": AutoApprove(**auto)})
        target = overrides.pop("engine", engine)
        fields: dict[str, Any] = {
            "engine": target,
            "park_id": park.park.id,
            "source": DatabaseParkSource(target),
            "profile": profile,
            "policy": chosen,
            "gateway": exchange,
            "channel": RecordingChannel(),
            "alerter": Alerter(target),
            "retry": RetryPolicy(max_attempts=3, backoff_s=60),
            "simulated_meter": True,
            "forecaster": lambda *_: prepared.forecasts,
            "optimiser": lambda *_, **__: prepared,
        }
        fields.update(overrides)
        return DayAheadPipeline(**fields)

    return make
