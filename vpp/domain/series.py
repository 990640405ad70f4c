"""Reading and writing the canonical time-series CSV (see the README's "Data formats").

The format: a header row; first column ``timestamp`` in ISO 8601 with a UTC offset or ``Z``,
labelling the start of each interval; a regular 15-min or hourly step; then one numeric column
per series, an empty cell meaning missing. Anything else is refused with the row and column.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from vpp.domain.errors import TimeSeriesError
from vpp.domain.timegrid import infer_interval_minutes

TIMESTAMP = "timestamp"


def read_series_csv(source: str | Path | io.TextIOBase, *, name: str | None = None) -> pd.DataFrame:
    """Load a canonical time-series CSV into a UTC-indexed frame of floats.

    Parameters
    ----------
    source : path or text stream
        The CSV file (``.csv`` or ``.csv.gz``) or an open text stream.
    name : str, optional
        How to name the source in error messages (defaults to the path).

    Returns
    -------
    pandas.DataFrame
        Index ``timestamp`` (UTC interval starts, regular step); one float column per series,
        NaN where a cell was empty.

    Raises
    ------
    TimeSeriesError
        Naive or unparseable timestamps, duplicates, irregular steps or non-numeric cells; the
        message names the row (1-based, counting the header as row 1) and the column.
    """
    label = name or str(source)
    if isinstance(source, str | Path) and not Path(source).exists():
        raise TimeSeriesError(f"{label}: no such file")
    try:
        raw = pd.read_csv(source, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (
        pd.errors.ParserError,
        pd.errors.EmptyDataError,
        UnicodeDecodeError,
        OSError,
        EOFError,
    ) as exc:
        raise TimeSeriesError(f"{label}: not a readable CSV ({exc})") from exc
    raw.columns = [str(c).strip().lstrip("\ufeff") for c in raw.columns]
    if raw.empty or raw.columns[0] != TIMESTAMP:
        raise TimeSeriesError(
            f"{label}: the first column must be named {TIMESTAMP!r} (found {raw.columns[0]!r})"
            if len(raw.columns)
            else f"{label}: the file is empty"
        )
    if len(raw.columns) < 2:
        raise TimeSeriesError(f"{label}: no series columns after {TIMESTAMP!r}")
    index = _parse_timestamps(raw[TIMESTAMP], label)
    frame = pd.DataFrame(index=index)
    for column in raw.columns[1:]:
        frame[column] = _parse_numbers(raw[column], column, label).to_numpy()
    infer_interval_minutes(frame.index, what=label)
    return frame


def _parse_timestamps(cells: pd.Series, label: str) -> pd.DatetimeIndex:
    stamps = []
    for row, cell in enumerate(cells, start=2):
        try:
            stamp = pd.Timestamp(cell.strip())
        except (ValueError, TypeError):
            raise TimeSeriesError(
                f"{label}: row {row}, column {TIMESTAMP!r}: {cell!r} is not an ISO 8601 timestamp"
            ) from None
        if stamp is pd.NaT or stamp.tzinfo is None:
            raise TimeSeriesError(
                f"{label}: row {row}, column {TIMESTAMP!r}: {cell!r} has no UTC offset",
                hint="write e.g. 2024-03-01T00:15:00+08:00 or 2024-03-01T00:15:00Z",
            )
        stamps.append(stamp.tz_convert("UTC"))
    index = pd.DatetimeIndex(stamps, name=TIMESTAMP)
    if index.has_duplicates:
        position = int(index.duplicated().argmax())
        raise TimeSeriesError(
            f"{label}: row {position + 2}: duplicate timestamp {cells.iloc[position]!r}"
        )
    return index


def _parse_numbers(cells: pd.Series, column: str, label: str) -> pd.Series:
    stripped = cells.str.strip()
    values = pd.to_numeric(stripped.where(stripped != ""), errors="coerce")
    bad = values.isna() & (stripped != "")
    if bad.any():
        position = int(bad.to_numpy().argmax())
        raise TimeSeriesError(
            f"{label}: row {position + 2}, column {column!r}: {cells.iloc[position]!r} is not a number"
        )
    return values.astype(float)


def write_series_csv(frame: pd.DataFrame, path: str | Path, tz: str = "UTC") -> Path:
    """Write a UTC-indexed frame as canonical CSV, timestamps shown in ``tz`` with their offset."""
    out = Path(path)
    local = frame.copy()
    local.index = frame.index.tz_convert(tz).map(lambda t: t.isoformat())
    local.index.name = TIMESTAMP
    local.to_csv(out, float_format="%.6g")
    return out
