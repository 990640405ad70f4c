"""``vpp park``: parks in the service database; ``import`` writes a park file into it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from vpp.db.engine import make_engine, session_scope
from vpp.db.enrolment_store import DatabaseEnrolment
from vpp.db.migrate import upgrade
from vpp.domain.market import load_market_profile
from vpp.services.park_file import load_park
from vpp.services.park_import import import_park
from vpp.settings import get_settings

app = typer.Typer(help="Parks in the service database.", no_args_is_help=True)


@app.command("import")
def import_(
    path: Annotated[Path, typer.Argument(help="Park definition YAML (with its series CSV).")],
    by: Annotated[str, typer.Option(help="Who imports (recorded in the audit log).")] = (
        "park import"
    ),
) -> None:
    """Write PARK.yaml (park, tenants, assets, contracts, consents, series) into the database.

    Idempotent: what is already stored is kept as it is; see ``vpp.services.park_import``.
    """
    settings = get_settings()
    data = load_park(path)
    profile = load_market_profile(data.park.market_id, settings.config_dir)
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            report = import_park(data, DatabaseEnrolment(session), tz=profile.timezone, actor=by)
    finally:
        engine.dispose()
    console = Console()
    console.print(f"park [bold]{report.park_id}[/] imported from {path}", highlight=False)
    for kind in sorted(set(report.created) | set(report.kept)):
        made, kept = len(report.created.get(kind, [])), len(report.kept.get(kind, []))
        console.print(f"  {kind}: {made} created, {kept} already stored (kept)", highlight=False)
    for what, count in report.values.items():
        console.print(f"  {what}: {count} values", highlight=False)
