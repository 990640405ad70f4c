"""``vpp settle``: monthly settlement and statements."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vpp.domain.errors import VppError


def settle(
    month: Annotated[str, typer.Option(help="Month to settle, YYYY-MM.")],
    export: Annotated[Path | None, typer.Option(help="Folder for the statements.")] = None,
) -> None:
    """Settle a month from the service database and export statements."""
    raise VppError(
        "monthly settlement is not available in this version",
        hint="`vpp demo` settles its day; monthly statements arrive with the settlement module",
    )
