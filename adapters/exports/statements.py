"""Monthly statements as files a finance team files: CSV, XLSX and PDF (``statement_pdf``), bilingual.

One set of files per statement (each enterprise and the aggregator), named by park, month,
owner and version (``<park>_<YYYY-MM>_<owner>_v<n>``) so a correction never overwrites what
was sent and two parks on one market never share a name. Amounts are the stored Decimals
in the market currency, written as exact two-decimal numbers; dates and the issue time are in
the market timezone. Labels are English and Chinese. CSV is UTF-8 with a byte-order mark so
spreadsheet programs show the Chinese labels. The PDF is drawn with reportlab straight onto
the page (text, rules and the bar chart as vector content, a few milliseconds each); Chinese
uses the Adobe Asian font STSong-Light, which every PDF reader supplies, so nothing is
embedded. Without it the PDF is written with English labels only and says so in its footer.
XLSX is streamed (openpyxl write-only); a large month can be split over worker processes.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path
from tempfile import TemporaryDirectory

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill

from adapters.exports.statement_header import ENERGY_BALANCE, file_stem, header_rows
from adapters.exports.statement_pdf import cjk_font, write_pdf
from vpp.domain.bids import Statement
from vpp.domain.market import MarketProfile
from vpp.domain.zero_carbon import ZeroCarbonReport
from vpp.services.settle_day import AGGREGATOR
from vpp.services.settle_month import MonthSettlement, month_days

MONEY = "#,##0.00"
HEADER = ("line", "label", "label_zh", "product_id", "quantity", "unit", "amount")


def write_csv(path: Path, statement: Statement, name: str, profile: MarketProfile) -> Path:
    """Statement lines as CSV (UTF-8 with BOM), header fields first, total last."""
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        out = csv.writer(handle)
        for key, value in header_rows(statement, name, profile):
            out.writerow([key, value])
        out.writerow([])
        out.writerow([*HEADER[:-1], f"amount_{statement.currency}"])
        for k, line in enumerate(statement.lines, start=1):
            out.writerow(
                [
                    k,
                    line.label,
                    line.label_zh or "",
                    line.product_id or "",
                    "" if line.quantity is None else f"{line.quantity:.3f}",
                    line.unit or "",
                    f"{line.amount:.2f}",
                ]
            )
        out.writerow(["", "Total", "合计", "", "", "", f"{statement.total:.2f}"])
    return path


def write_xlsx(
    path: Path, statement: Statement, name: str, profile: MarketProfile, daily: pd.DataFrame
) -> Path:
    """Statement as a workbook: the statement sheet and a daily committed/delivered sheet.

    Written in openpyxl's streaming (write-only) mode: rows go straight to the file.
    """
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Statement 结算单")
    for column, width in zip("ABCDEFG", (6, 46, 30, 16, 14, 10, 20), strict=True):
        sheet.column_dimensions[column].width = width
    for key, value in header_rows(statement, name, profile):
        sheet.append([_cell(sheet, key, bold=True), value])
    sheet.append([])
    heads = [
        "#",
        "Label",
        "摘要",
        "Product 产品",
        "Quantity 数量",
        "Unit 单位",
        f"Amount 金额 [{statement.currency}]",
    ]
    sheet.append([_cell(sheet, h, bold=True, fill=True) for h in heads])
    for k, line in enumerate(statement.lines, start=1):
        sheet.append(
            [
                k,
                line.label,
                line.label_zh,
                line.product_id,
                line.quantity,
                line.unit,
                _cell(sheet, line.amount, money=True),
            ]
        )
    total = [None, "Total", "合计", None, None, None, statement.total]
    sheet.append([_cell(sheet, v, bold=True, money=k == 6) for k, v in enumerate(total)])
    days = book.create_sheet("Daily 每日")
    for column in "ABCD":
        days.column_dimensions[column].width = 22
    heads = ["Day 日期", "Committed 承诺 [MWh]", "Delivered 实际 [MWh]", "Shortfall 缺额 [MWh]"]
    days.append([_cell(days, h, bold=True) for h in heads])
    values = daily[["committed_mwh", "delivered_mwh", "shortfall_mwh"]].to_numpy(dtype=float)
    for day, row in zip(daily.index, values.round(3).tolist(), strict=True):
        days.append([str(day), *row])
    book.save(path)
    return path


BOLD = Font(bold=True)
HEAD_FILL = PatternFill("solid", fgColor="DDE4EE")


def _cell(
    sheet: object, value: object, *, bold: bool = False, fill: bool = False, money: bool = False
) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value)
    if bold:
        cell.font = BOLD
    if fill:
        cell.fill = HEAD_FILL
    if money:
        cell.number_format = MONEY
    return cell


def enterprise_daily(result: MonthSettlement, owner: str) -> pd.DataFrame:
    """Committed, delivered and shortfall energy per local day of one owner [MWh]."""
    daily = result.daily
    if owner == AGGREGATOR:
        frame = daily.groupby(level="day").sum() if len(daily) else daily
    elif len(daily) and owner in daily.index.get_level_values("enterprise_id"):
        frame = daily.xs(owner, level="enterprise_id")
    else:
        frame = pd.DataFrame(columns=["committed_mwh", "delivered_mwh", "shortfall_mwh"])
    return frame.reindex(month_days(result.inputs.month), fill_value=0.0).astype(float)


def write_month_statements(
    folder: Path,
    result: MonthSettlement,
    statements: Iterable[Statement],
    profile: MarketProfile,
    *,
    formats: tuple[str, ...] = ("csv", "xlsx", "pdf"),
    zero_carbon: ZeroCarbonReport | None = None,
    workers: int = 1,
    park_id: str | None = None,
) -> list[Path]:
    """Write every statement of a settled month in ``formats``; return the files written.

    With ``zero_carbon`` the park's indicators go to ``<park>_<month>_zero_carbon.csv`` (when
    CSV is asked for) and to a last page of the aggregator's PDF. ``workers`` > 1 splits large
    months (from ``PARALLEL_FROM`` statements) over that many processes; the files are the same.
    ``park_id`` names the files (:func:`~adapters.exports.statement_header.file_stem`); without
    it they are named by statement id (and the indicators ``zero_carbon_<market>_<month>.csv``).
    """
    folder.mkdir(parents=True, exist_ok=True)
    todo = list(statements)
    job = (folder, result, profile, formats, zero_carbon, park_id)
    if workers > 1 and len(todo) >= PARALLEL_FROM and "fork" in get_all_start_methods():
        # Forked workers inherit the settled month instead of unpickling it (tens of MB).
        global _JOB
        _JOB = job
        try:
            with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
                parts = pool.map(_write_forked, [todo[k::workers] for k in range(workers)])
                files = sorted(f for part in parts for f in part)
        finally:
            _JOB = None
    else:
        files = sorted(
            _write_statements(folder, result, todo, profile, formats, zero_carbon, park_id)
        )
    if zero_carbon is not None and "csv" in formats:
        inputs = result.inputs
        name = (
            f"zero_carbon_{inputs.market_id}_{inputs.month}.csv"
            if park_id is None
            else f"{park_id}_{inputs.month}_zero_carbon.csv".replace(":", "_")
        )
        files.append(write_zero_carbon_csv(folder / name, zero_carbon))
    return files


MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
"""Media type of each statement file format."""


def statement_file(
    result: MonthSettlement,
    statement: Statement,
    profile: MarketProfile,
    fmt: str,
    *,
    park_id: str,
    zero_carbon: ZeroCarbonReport | None = None,
) -> tuple[str, bytes]:
    """One statement as one ``fmt`` file (``csv``, ``xlsx`` or ``pdf``): its name and bytes.

    ``zero_carbon`` adds the indicators page to the aggregator's PDF.
    """
    with TemporaryDirectory(prefix="vpp-statement-") as folder:
        files = write_month_statements(
            Path(folder),
            result,
            [statement],
            profile,
            formats=(fmt,),
            zero_carbon=zero_carbon if fmt == "pdf" else None,
            park_id=park_id,
        )
        return files[0].name, files[0].read_bytes()


PARALLEL_FROM = 50
"""Fewer statements than this are written in-process: starting workers would cost more."""

_Job = tuple[
    Path, MonthSettlement, MarketProfile, tuple[str, ...], ZeroCarbonReport | None, str | None
]
_JOB: _Job | None = None


def _write_forked(statements: list[Statement]) -> list[Path]:
    assert _JOB is not None, "set by write_month_statements before forking"
    folder, result, profile, formats, zero_carbon, park_id = _JOB
    return _write_statements(folder, result, statements, profile, formats, zero_carbon, park_id)


def _write_statements(
    folder: Path,
    result: MonthSettlement,
    statements: list[Statement],
    profile: MarketProfile,
    formats: tuple[str, ...],
    zero_carbon: ZeroCarbonReport | None,
    park_id: str | None = None,
) -> list[Path]:
    names = {e.id: f"{e.name} {e.name_zh or ''}".strip() for e in result.inputs.enterprises}
    names[AGGREGATOR] = "Aggregator (VPP operator) 聚合商"
    font = cjk_font() if "pdf" in formats else None
    gaps: dict[str, int] = {}
    for asset, n in result.missing_meter.items():
        owner = result.inputs.asset_owner.get(asset)
        if owner is not None:
            gaps[owner] = gaps.get(owner, 0) + n
    gaps[AGGREGATOR] = sum(result.missing_meter.values())
    files: list[Path] = []
    for s in statements:
        name = names.get(s.enterprise_id, s.enterprise_id)
        stem = folder / file_stem(s, park_id)
        daily = enterprise_daily(result, s.enterprise_id)
        if "csv" in formats:
            files.append(write_csv(stem.with_suffix(".csv"), s, name, profile))
        if "xlsx" in formats:
            files.append(write_xlsx(stem.with_suffix(".xlsx"), s, name, profile, daily))
        if "pdf" in formats:
            extra = zero_carbon if s.enterprise_id == AGGREGATOR else None
            unmetered = gaps.get(s.enterprise_id, 0)
            files.append(
                write_pdf(stem.with_suffix(".pdf"), s, name, profile, daily, font, unmetered, extra)
            )
    return files


ZERO_CARBON_HEADER = (
    "indicator",
    "label",
    "label_zh",
    "value",
    "unit",
    "threshold",
    "bound",
    "status",
    "reason",
)


def write_zero_carbon_csv(path: Path, report: ZeroCarbonReport) -> Path:
    """The zero-carbon indicators, then the month's energy balance, as CSV (UTF-8 with BOM).

    Shares are fractions (0.625 = 62.5 %); a value that could not be computed is left empty
    with ``status`` ``not available`` and the reason.
    """
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        out = csv.writer(handle)
        out.writerow(ZERO_CARBON_HEADER)
        for i in report.indicators:
            out.writerow(
                [
                    i.key,
                    i.label,
                    i.label_zh,
                    "" if i.value is None else f"{i.value:.4f}",
                    i.unit,
                    "" if i.threshold is None else f"{i.threshold:.4f}",
                    i.bound,
                    i.status,
                    i.reason or "",
                ]
            )
        out.writerow([])
        out.writerow(["quantity", "value", "unit"])
        for key, _, unit in ENERGY_BALANCE:
            value = getattr(report, key)
            out.writerow([key, "not available" if value is None else f"{value:.3f}", unit])
        for note in report.notes:
            out.writerow(["note", note, ""])
    return path


def write_reconciliation(path: Path, report: pd.DataFrame) -> Path:
    """The operator reconciliation (day, product, ours, operator, difference, matches) as CSV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        out = csv.writer(handle)
        out.writerow(list(report.columns))
        for row in report.itertuples(index=False):
            out.writerow(
                [
                    row.day,
                    row.product_id,
                    f"{row.ours:.2f}",
                    f"{row.operator:.2f}",
                    f"{row.difference:.2f}",
                    "yes" if row.matches else "no",
                ]
            )
    return path
