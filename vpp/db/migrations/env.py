"""Alembic environment: migrate the URL given in the config, in batch mode on SQLite.

Driven by :func:`vpp.db.migrate.upgrade`; the URL always comes from the config built there,
never from an ini file or the environment.
"""

from __future__ import annotations

from alembic import context

from vpp.db.engine import make_engine
from vpp.db.schema import metadata

config = context.config


def run_migrations_offline() -> None:
    """Emit SQL for ``alembic upgrade --sql`` without connecting."""
    url = config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url,
        target_metadata=metadata,
        literal_binds=True,
        render_as_batch=url is not None and url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Apply the migrations over a live connection."""
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("alembic config has no sqlalchemy.url; use vpp.db.migrate.upgrade(url)")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=metadata,
                render_as_batch=connection.dialect.name == "sqlite",
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
