"""What every statement file shows first: the statement, enterprise, market, period and issue time.

Shared by the CSV, XLSX and PDF writers so the three agree line for line; likewise the rows of
the zero-carbon energy balance.
"""

from __future__ import annotations

import calendar

import pandas as pd

from vpp.domain.bids import Statement
from vpp.domain.market import MarketProfile

CJK_FONT = "STSong-Light"


def file_stem(statement: Statement, park_id: str | None = None) -> str:
    """File name stem, version included so a correction never overwrites.

    With ``park_id``: ``<park>_<period>_<owner>_v<version>`` (period ``YYYY-MM`` for a calendar
    month), so the statements of two parks on one market never share a name; without it the
    statement id. Colons, allowed in ids, become underscores.
    """
    if park_id is None:
        return f"{statement.id.replace(':', '_')}_v{statement.version}"
    stem = f"{park_id}_{period_text(statement)}_{statement.enterprise_id}_v{statement.version}"
    return stem.replace(":", "_")


def period_text(statement: Statement) -> str:
    """``YYYY-MM`` for a calendar month, the day for one day, else ``<first>_<last>``."""
    start, end = statement.period_start, statement.period_end
    if start == end:
        return start.isoformat()
    last = calendar.monthrange(start.year, start.month)[1]
    if start.day == 1 and end == start.replace(day=last):
        return start.strftime("%Y-%m")
    return f"{start.isoformat()}_{end.isoformat()}"


def issued_text(statement: Statement, tz: str) -> str:
    """Issue time in the market timezone, or ``draft``."""
    if statement.issued_at is None:
        return "draft"
    return str(pd.Timestamp(statement.issued_at).tz_convert(tz).strftime("%Y-%m-%d %H:%M %Z"))


def header_rows(statement: Statement, name: str, profile: MarketProfile) -> list[tuple[str, str]]:
    """(label, value) pairs of the statement header, labels in English and Chinese."""
    return [
        ("Statement 结算单", f"{statement.id} v{statement.version} ({statement.status})"),
        ("Enterprise 企业", name),
        ("Market 市场", f"{profile.name} ({profile.market_id})"),
        ("Period 结算周期", f"{statement.period_start} – {statement.period_end}"),
        ("Currency 币种", statement.currency),
        ("Timezone 时区", profile.timezone),
        ("Issued 出具时间", issued_text(statement, profile.timezone)),
    ]


#: The zero-carbon energy balance as every export shows it: report field, bilingual label, unit.
ENERGY_BALANCE: tuple[tuple[str, str, str], ...] = (
    ("load_mwh", "Consumption 用电量", "MWh"),
    ("generation_mwh", "On-site renewable generation 新能源发电量", "MWh"),
    ("self_consumed_mwh", "Self-consumed 自发自用", "MWh"),
    ("grid_import_mwh", "Grid import 电网购电", "MWh"),
    ("export_mwh", "Export 上网电量", "MWh"),
    ("green_mwh", "Green certificates and contracts 绿证绿电", "MWh"),
    ("emissions_t", "Emissions 碳排放", "tCO2"),
    ("energy_tce", "Energy 综合能耗", "tce"),
)
