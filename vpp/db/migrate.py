"""Run the Alembic migrations from code, so no ``alembic.ini`` is needed at run time.

The demo, the API and ``vpp db upgrade`` call :func:`upgrade` at start-up with the URL from the
settings; the migrations folder ships inside the package.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError

from vpp.db.engine import make_engine
from vpp.domain.errors import AdapterError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic configuration for ``url`` built in code (``env.py`` reads the URL from it)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation would choke on '%' in a URL-encoded password.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` to ``revision`` (the newest by default)."""
    try:
        command.upgrade(alembic_config(url), revision)
    except OperationalError as exc:
        raise _unreachable(url, exc) from exc


def head_revision() -> str | None:
    """The newest revision the shipped migrations know."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(url: str | Engine) -> str | None:
    """The revision the database at ``url`` is at; ``None`` when it was never migrated."""
    engine = make_engine(url) if isinstance(url, str) else url
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except OperationalError as exc:
        raise _unreachable(str(engine.url), exc) from exc
    finally:
        if isinstance(url, str):
            engine.dispose()


def _unreachable(url: str, exc: OperationalError) -> AdapterError:
    shown = make_url(url).render_as_string(hide_password=True)
    reason = str(exc.orig).splitlines()[0] if exc.orig is not None else str(exc)
    return AdapterError(
        f"database {shown} failed: {reason}",
        hint="check VPP_DATABASE_URL and that the database server is running",
    )
