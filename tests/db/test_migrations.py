"""The Alembic migrations build exactly the schema the SQLModel tables describe, both ways."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from vpp.db.engine import make_engine
from vpp.db.migrate import alembic_config, current_revision, head_revision, upgrade
from vpp.db.schema import metadata


def _diffs(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_builds_the_metadata_schema(fresh_url: str) -> None:
    assert current_revision(fresh_url) is None
    upgrade(fresh_url)
    upgrade(fresh_url)  # a second run has nothing to do
    assert current_revision(fresh_url) == head_revision() == "0007_park_scopes"
    assert _diffs(fresh_url) == []
    assert _tables(fresh_url) == set(metadata.tables) | {"alembic_version"}


def test_downgrade_to_base_and_back(fresh_url: str) -> None:
    upgrade(fresh_url)
    command.downgrade(alembic_config(fresh_url), "base")
    assert current_revision(fresh_url) is None
    assert _tables(fresh_url) <= {"alembic_version"}
    upgrade(fresh_url)
    assert _diffs(fresh_url) == []


def test_sqlite_connections_enforce_foreign_keys_and_use_wal(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'pragmas.sqlite'}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        engine.dispose()
