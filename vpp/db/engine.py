"""Engines and transactions: one place that knows how each database must be configured.

SQLite gets foreign keys switched on for every connection (it ignores them otherwise), WAL
journaling so readers do not block the writer, and a busy timeout so concurrent writers queue
instead of failing. PostgreSQL gets pre-ping so a restarted server does not surface as an error
on the first request. Repositories work on a session whose transaction
:func:`session_scope` commits or rolls back as a whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, ExceptionContext, make_url
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, create_engine

from vpp.domain.errors import ConflictError, VppError

SQLITE_BUSY_TIMEOUT_S = 30.0
"""How long a SQLite writer waits for another writer's lock before giving up [s]."""


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for ``url`` (``sqlite:///...`` or ``postgresql+psycopg://...``)."""
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        engine = create_engine(url, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
        event.listen(engine, "connect", _configure_sqlite)
    else:
        engine = create_engine(url, echo=echo, pool_pre_ping=True)
    event.listen(engine, "handle_error", _surface_domain_errors)
    return engine


def _surface_domain_errors(context: ExceptionContext) -> BaseException | None:
    # A column type refusing a value (a naive timestamp, a float amount) raises a VppError
    # while binding parameters; SQLAlchemy would wrap it in a StatementError the API cannot map.
    original = context.original_exception
    return original if isinstance(original, VppError) else None


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session whose work is committed on success and rolled back on any error."""
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def conflicts_as(what: str, hint: str | None = None) -> Iterator[None]:
    """Turn a unique or foreign-key violation inside the block into a :class:`ConflictError`.

    The caller's transaction is unusable afterwards and is rolled back by :func:`session_scope`.
    """
    try:
        yield
    except IntegrityError as exc:
        detail = str(exc.orig).splitlines()[0] if exc.orig is not None else str(exc)
        raise ConflictError(f"{what}: {detail}", hint=hint) from exc


def flush_or_conflict(session: Session, what: str, hint: str | None = None) -> None:
    """Flush pending rows; a constraint violation becomes a :class:`ConflictError`."""
    with conflicts_as(what, hint):
        session.flush()
