"""Reading market prices, weather forecasts and tenant consumption from canonical CSV uploads.

An upload is checked whole before anything is stored: the header names only known columns, every
timestamp is ISO 8601 with a UTC offset, every cell is a finite number (an empty cell is refused:
leave a series out rather than send holes), no instant appears twice and the rows step
regularly, without gaps. A refused upload raises :class:`UploadRejectedError` listing each bad
cell by row (1-based, the header is row 1) and column, so the caller stores nothing.

This module also says which columns a market accepts and maps the weather columns of a file to
the variable names the park source reads (:data:`WEATHER_VARIABLES`, the one table of them).
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise

import numpy as np
import pandas as pd

from vpp.domain.errors import TimeSeriesError
from vpp.domain.market import MarketProfile
from vpp.domain.ports import DAY_AHEAD_PRICE, PARK_WEATHER_SITE, reserve_price_series
from vpp.domain.timegrid import MINUTES_PER_DAY

TIMESTAMP = "timestamp"
ISSUED_AT = "issued_at"
POWER_MW = "power_mw"
PARK_SITE = PARK_WEATHER_SITE
"""Site id of weather forecasts for the park as a whole."""
REAL_TIME_PRICE = "real_time_price_per_mwh"
IMBALANCE_PRICE = "imbalance_price_per_mwh"
ENERGY_PRICE_SERIES = (DAY_AHEAD_PRICE, REAL_TIME_PRICE, IMBALANCE_PRICE)
"""Energy price series every market accepts [currency/MWh]."""

WEATHER_VARIABLES: dict[str, str] = {
    "temperature_c": "temperature",  # air temperature [degC]
    "irradiance_w_m2": "irradiance",  # global horizontal irradiance (GHI) [W/m^2]
    "wind_speed_m_s": "wind_speed",  # wind speed [m/s]
}
"""Weather column of an upload -> variable name the park source reads."""

WEATHER_COLUMNS = {variable: column for column, variable in WEATHER_VARIABLES.items()}
"""Stored variable name -> weather column of a file (the reverse of :data:`WEATHER_VARIABLES`)."""

MAX_REPORTED = 100
"""Bad cells listed in one refusal; the message counts them all."""


@dataclass(frozen=True)
class RejectedCell:
    """Why the cell at ``row`` (1-based, header = 1) and ``column`` was refused."""

    row: int
    column: str
    message: str


class UploadRejectedError(TimeSeriesError):
    """A CSV upload broke the canonical format; ``rejected`` names each bad cell."""

    kind = "upload-rejected"

    def __init__(self, label: str, rejected: list[RejectedCell], *, hint: str | None = None):
        self.rejected = rejected
        first = rejected[0]
        more = f" (and {len(rejected) - 1} more)" if len(rejected) > 1 else ""
        self.problem_fields = {
            "rejected": [
                {"row": r.row, "column": r.column, "message": r.message}
                for r in rejected[:MAX_REPORTED]
            ]
        }
        super().__init__(
            f"{label}: row {first.row}, column {first.column!r}: {first.message}{more};"
            " nothing was written",
            hint=hint or "fix the file and send it again whole",
        )


def price_columns(profile: MarketProfile) -> tuple[str, ...]:
    """Series a market's price upload may carry: energy prices, then one per reserve product.

    Energy prices are [currency/MWh]; each non-energy product's capacity price is
    ``<product_id>_price_per_mw_h`` [currency/MW/h].
    """
    reserves = (reserve_price_series(p.id) for p in profile.products if p.kind != "energy")
    return (*ENERGY_PRICE_SERIES, *reserves)


def parse_prices(text: str, profile: MarketProfile) -> pd.DataFrame:
    """Market prices from a canonical CSV: UTC-indexed, one float column per series.

    Raises
    ------
    UploadRejectedError
        Unknown columns, bad cells, duplicates, gaps or irregular steps.
    """
    label = f"prices of {profile.market_id}"
    table = _read_table(text, label, allowed=price_columns(profile))
    return table.frame()


def parse_weather(text: str) -> pd.DataFrame:
    """Weather forecasts from a canonical CSV with an ``issued_at`` column.

    Returns
    -------
    pandas.DataFrame
        Index: UTC instants forecast; ``issued_at``: UTC issue time of each row; one float
        column per variable under the park source's name (:data:`WEATHER_VARIABLES`), in its
        unit (temperature [degC], irradiance [W/m^2], wind speed [m/s]). An instant may repeat
        across issues, never within one; each issue steps regularly.
    """
    table = _read_table(text, "weather", allowed=tuple(WEATHER_VARIABLES), instants=(ISSUED_AT,))
    frame = table.frame().rename(columns=WEATHER_VARIABLES)
    frame.insert(0, ISSUED_AT, table.instants[ISSUED_AT])
    return frame


def parse_consumption(text: str) -> pd.Series:
    """A tenant's consumption from a canonical ``timestamp,power_mw`` CSV [MW, >= 0]."""
    table = _read_table(text, "consumption", allowed=(POWER_MW,), required=(POWER_MW,))
    negative = [
        RejectedCell(line, POWER_MW, f"{value!r} is negative; send consumption as a magnitude")
        for line, value in zip(table.lines, table.values[POWER_MW], strict=True)
        if value < 0
    ]
    if negative:
        raise UploadRejectedError("consumption", negative, hint="power_mw is MW drawn, >= 0")
    return table.frame()[POWER_MW]


def render_csv(frame: pd.DataFrame) -> str:
    """A UTC-indexed frame as canonical CSV: UTC timestamps, shortest exact numbers, empty = NaN."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([TIMESTAMP, *frame.columns])
    for ts, values in zip(frame.index, frame.itertuples(index=False), strict=True):
        cells = ["" if v != v else repr(float(v)) for v in values]
        writer.writerow([pd.Timestamp(ts).tz_convert("UTC").isoformat(), *cells])
    return out.getvalue()


# -- one table of cells, checked -----------------------------------------------------------------


@dataclass
class _Table:
    """The parsed cells of an upload; ``lines`` are the rows' 1-based line numbers."""

    columns: tuple[str, ...]
    lines: list[int] = field(default_factory=list)
    stamps: list[pd.Timestamp] = field(default_factory=list)
    values: dict[str, list[float]] = field(default_factory=dict)
    instants: dict[str, list[pd.Timestamp]] = field(default_factory=dict)

    def frame(self) -> pd.DataFrame:
        index = pd.DatetimeIndex(self.stamps, name=TIMESTAMP)
        values = {c: np.asarray(self.values[c], dtype="float64") for c in self.columns}
        return pd.DataFrame(values, index=index)


def _read_table(
    text: str,
    label: str,
    *,
    allowed: Collection[str],
    required: Collection[str] = (),
    instants: Collection[str] = (),
) -> _Table:
    """Parse and check every cell, then the order of the rows; refuse on the first bad one."""
    try:
        reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
        header = [name.strip() for name in next(reader, [])]
        table, problems = _read_cells(reader, header, label, allowed, required, instants)
    except csv.Error as exc:
        raise TimeSeriesError(f"{label}: not a readable CSV ({exc})") from exc
    if not problems:
        groups = table.instants[next(iter(instants))] if instants else None
        problems = _check_steps(table, groups)
    if problems:
        raise UploadRejectedError(label, problems)
    return table


def _read_cells(
    reader: Iterator[list[str]],
    header: list[str],
    label: str,
    allowed: Collection[str],
    required: Collection[str],
    instants: Collection[str],
) -> tuple[_Table, list[RejectedCell]]:
    _check_header(header, label, allowed, required, instants)
    table = _Table(tuple(c for c in header[1:] if c not in instants))
    table.values = {c: [] for c in table.columns}
    table.instants = {c: [] for c in instants}
    problems: list[RejectedCell] = []
    for record in reader:
        if not any(cell.strip() for cell in record):
            continue  # a blank line
        line = reader.line_num  # type: ignore[attr-defined]
        if len(record) > len(header):
            problems.append(
                RejectedCell(
                    line, f"#{len(header) + 1}", f"{len(record)} cells, header has {len(header)}"
                )
            )
        cells = [c.strip() for c in record] + [""] * (len(header) - len(record))
        table.lines.append(line)
        for name, cell in zip(header, cells, strict=False):
            if name == TIMESTAMP or name in instants:
                stamp = _instant(cell, line, name, problems)
                (table.stamps if name == TIMESTAMP else table.instants[name]).append(stamp)
            else:
                table.values[name].append(_number(cell, line, name, problems))
    if not table.lines:
        problems.append(RejectedCell(2, TIMESTAMP, "the file has no data rows"))
    return table, problems


def _check_header(
    header: list[str],
    label: str,
    allowed: Collection[str],
    required: Collection[str],
    instants: Collection[str],
) -> None:
    known = [*allowed, *instants]
    if not header or header[0] != TIMESTAMP:
        why = f"the first column must be {TIMESTAMP!r}" if header else "the file is empty"
        raise UploadRejectedError(
            label,
            [RejectedCell(1, header[0] if header else TIMESTAMP, why)],
            hint=f"header: {TIMESTAMP},<columns among {', '.join(known)}>",
        )
    problems = [
        RejectedCell(1, name, "unknown column" if name not in known else "repeated column")
        for k, name in enumerate(header[1:], start=1)
        if name not in known or name in header[:k]
    ]
    missing = [c for c in (*required, *instants) if c not in header]
    problems += [RejectedCell(1, c, "required column is missing") for c in missing]
    if not problems and not set(header) & set(allowed):
        problems.append(RejectedCell(1, TIMESTAMP, "no series column after it"))
    if problems:
        raise UploadRejectedError(label, problems, hint=f"allowed columns: {', '.join(known)}")


def _instant(cell: str, line: int, column: str, problems: list[RejectedCell]) -> pd.Timestamp:
    try:
        parsed = datetime.fromisoformat(cell)
        if parsed.tzinfo is not None:
            return pd.Timestamp(parsed).tz_convert("UTC")
        problems.append(RejectedCell(line, column, f"{cell!r} has no UTC offset"))
    except (ValueError, OverflowError):
        what = "empty cell" if not cell else f"{cell!r} is not an ISO 8601 instant"
        problems.append(RejectedCell(line, column, what))
    return pd.NaT


def _number(cell: str, line: int, column: str, problems: list[RejectedCell]) -> float:
    if not cell:
        problems.append(RejectedCell(line, column, "empty cell"))
        return math.nan
    try:
        value = float(cell)
    except ValueError:
        problems.append(RejectedCell(line, column, f"{cell!r} is not a number"))
        return math.nan
    if not math.isfinite(value):
        problems.append(RejectedCell(line, column, f"{cell!r} is not a finite number"))
    return value


def _check_steps(table: _Table, groups: list[pd.Timestamp] | None) -> list[RejectedCell]:
    """Rows ascend by one regular step per group (an issue of a forecast), with no repeats."""
    rows: dict[object, list[int]] = {}
    for k, key in enumerate(groups or [None] * len(table.lines)):
        rows.setdefault(key, []).append(k)
    problems: list[RejectedCell] = []
    for positions in rows.values():
        problems += _check_group(table, positions)
    return sorted(problems, key=lambda p: p.row)


def _check_group(table: _Table, positions: list[int]) -> list[RejectedCell]:
    stamps = [table.stamps[k] for k in positions]
    lines = [table.lines[k] for k in positions]
    seen: dict[pd.Timestamp, int] = {}
    problems: list[RejectedCell] = []
    for stamp, line in zip(stamps, lines, strict=True):
        if stamp in seen:
            problems.append(RejectedCell(line, TIMESTAMP, f"duplicate of row {seen[stamp]}"))
        seen.setdefault(stamp, line)
    if problems or len(stamps) < 2:
        return problems
    steps = [b - a for a, b in pairwise(stamps)]
    for step, line, before in zip(steps, lines[1:], lines[:-1], strict=True):
        if step <= pd.Timedelta(0):
            problems.append(RejectedCell(line, TIMESTAMP, f"not after row {before}; sort the rows"))
    if problems:
        return problems
    counts = Counter(steps)  # the regular step is the most common one, the earliest on a tie
    regular = max(counts, key=lambda step: (counts[step], -steps.index(step)))
    minutes = regular / pd.Timedelta(minutes=1)
    if minutes != int(minutes) or MINUTES_PER_DAY % int(minutes):
        line = lines[steps.index(regular) + 1]
        return [RejectedCell(line, TIMESTAMP, f"a step of {_span(regular)} does not divide a day")]
    return [
        RejectedCell(
            line,
            TIMESTAMP,
            f"{_span(step)} after row {before} where the step is {_span(regular)}:"
            " missing or irregular rows",
        )
        for step, line, before in zip(steps, lines[1:], lines[:-1], strict=True)
        if step != regular
    ]


def _span(step: pd.Timedelta) -> str:
    minutes = step / pd.Timedelta(minutes=1)
    return f"{minutes:g} min" if minutes == int(minutes) else str(step)
