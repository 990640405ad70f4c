"""Option parsing shared by the commands."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import typer


def parse_instant(text: str, option: str) -> pd.Timestamp:
    """An ISO 8601 instant with a UTC offset, as UTC (microseconds); a usage error otherwise."""
    try:
        stamp = pd.Timestamp(datetime.fromisoformat(text))
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 instant", param_hint=option) from exc
    if stamp.tzinfo is None:
        raise typer.BadParameter(
            f"{text!r} has no UTC offset; add one, e.g. +02:00", param_hint=option
        )
    return stamp.tz_convert("UTC").floor("us")
