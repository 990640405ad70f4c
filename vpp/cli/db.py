"""``vpp db ...``: create or migrate the database, and say which revision it is at.

The URL defaults to ``VPP_DATABASE_URL`` (see :mod:`vpp.settings`); the password part of a URL
is never printed.
"""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.engine import make_url

from vpp.db.migrate import current_revision, head_revision, upgrade
from vpp.settings import get_settings

app = typer.Typer(help="Create and migrate the parkvpp database.", no_args_is_help=True)

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url", help="SQLAlchemy database URL; default: VPP_DATABASE_URL or ./parkvpp.sqlite."
    ),
]


def _url(url: str | None) -> str:
    return url if url is not None else get_settings().database_url


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


@app.command("upgrade")
def upgrade_command(url: UrlOption = None) -> None:
    """Migrate the database to the newest schema revision (creating it if empty)."""
    target = _url(url)
    upgrade(target)
    typer.echo(f"{_shown(target)} is at revision {current_revision(target)}")


@app.command("current")
def current_command(url: UrlOption = None) -> None:
    """Print the database's schema revision and whether it is the newest."""
    target = _url(url)
    revision = current_revision(target)
    head = head_revision()
    state = "up to date" if revision == head else f"behind (newest is {head}); run: vpp db upgrade"
    typer.echo(f"{_shown(target)}: revision {revision or 'none'}, {state}")
