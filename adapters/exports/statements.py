"""Monthly statements as files a finance team files: CSV, XLSX and PDF, bilingual.

One set of files per statement (each enterprise and the aggregator), named by statement id
and version so a correction never overwrites what was sent. Amounts are the stored Decimals
in the market currency, written as exact two-decimal numbers; dates and the issue time are in
the market timezone. Labels are English and Chinese. CSV is UTF-8 with a byte-order mark so
spreadsheet programs show the Chinese labels. The PDF needs a CJK-capable font for Chinese;
when none is installed it is written with English labels only and says so in its footer.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill

from vpp.domain.bids import Statement, StatementLine
from vpp.domain.market import MarketProfile
from vpp.services.settle_month import AGGREGATOR, MonthSettlement, month_days

CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans CJK",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
)
MONEY = "#,##0.00"
HEADER = ("line", "label", "label_zh", "product_id", "quantity", "unit", "amount")


def cjk_font() -> str | None:
    """Name of an installed font that can draw Chinese, or None."""
    known = {f.name for f in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in known:
            return family
    for path in font_manager.findSystemFonts():
        if "CJK" in Path(path).name and "Sans" in Path(path).name:
            try:
                font_manager.fontManager.addfont(path)  # regular and bold files alike
            except (OSError, RuntimeError, ValueError):
                continue
    known = {f.name for f in font_manager.fontManager.ttflist}
    return next((family for family in CJK_FAMILIES if family in known), None)


def _stem(statement: Statement) -> str:
    return f"{statement.id.replace(':', '_')}_v{statement.version}"


def _issued(statement: Statement, tz: str) -> str:
    if statement.issued_at is None:
        return "draft"
    return str(pd.Timestamp(statement.issued_at).tz_convert(tz).strftime("%Y-%m-%d %H:%M %Z"))


def _header(statement: Statement, name: str, profile: MarketProfile) -> list[tuple[str, str]]:
    return [
        ("Statement 结算单", f"{statement.id} v{statement.version} ({statement.status})"),
        ("Enterprise 企业", name),
        ("Market 市场", f"{profile.name} ({profile.market_id})"),
        ("Period 结算周期", f"{statement.period_start} – {statement.period_end}"),
        ("Currency 币种", statement.currency),
        ("Timezone 时区", profile.timezone),
        ("Issued 出具时间", _issued(statement, profile.timezone)),
    ]


def write_csv(path: Path, statement: Statement, name: str, profile: MarketProfile) -> Path:
    """Statement lines as CSV (UTF-8 with BOM), header fields first, total last."""
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        out = csv.writer(handle)
        for key, value in _header(statement, name, profile):
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
    """Statement as a workbook: the statement sheet and a daily committed/delivered sheet."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Statement 结算单"
    bold = Font(bold=True)
    for key, value in _header(statement, name, profile):
        sheet.append([key, value])
        sheet.cell(sheet.max_row, 1).font = bold
    sheet.append([])
    sheet.append(
        [
            "#",
            "Label",
            "摘要",
            "Product 产品",
            "Quantity 数量",
            "Unit 单位",
            f"Amount 金额 [{statement.currency}]",
        ]
    )
    for cell in sheet[sheet.max_row]:
        cell.font = bold
        cell.fill = PatternFill("solid", fgColor="DDE4EE")
    for k, line in enumerate(statement.lines, start=1):
        sheet.append(
            [k, line.label, line.label_zh, line.product_id, line.quantity, line.unit, line.amount]
        )
        sheet.cell(sheet.max_row, 7).number_format = MONEY
    sheet.append([None, "Total", "合计", None, None, None, statement.total])
    for cell in sheet[sheet.max_row]:
        cell.font = bold
    sheet.cell(sheet.max_row, 7).number_format = MONEY
    for column, width in zip("ABCDEFG", (6, 46, 30, 16, 14, 10, 20), strict=True):
        sheet.column_dimensions[column].width = width
    sheet.cell(1, 2).alignment = Alignment(wrap_text=False)
    days = book.create_sheet("Daily 每日")
    days.append(
        ["Day 日期", "Committed 承诺 [MWh]", "Delivered 实际 [MWh]", "Shortfall 缺额 [MWh]"]
    )
    for cell in days[1]:
        cell.font = bold
    for day, row in daily.iterrows():
        days.append(
            [
                str(day),
                round(float(row["committed_mwh"]), 3),
                round(float(row["delivered_mwh"]), 3),
                round(float(row["shortfall_mwh"]), 3),
            ]
        )
    for column in "ABCD":
        days.column_dimensions[column].width = 22
    book.save(path)
    return path


ROWS_PER_PAGE = {False: (12, 45), True: (7, 27)}
"""Statement lines on the first PDF page (above the delivery chart) and on each further page,
for English-only and for bilingual (two-line) rows."""


def write_pdf(
    path: Path,
    statement: Statement,
    name: str,
    profile: MarketProfile,
    daily: pd.DataFrame,
    font: str | None,
    unmetered: int = 0,
) -> Path:
    """A4 pages: header, every line with the total, and committed vs delivered energy per day.

    Parameters
    ----------
    path : Path
        Where to write the PDF.
    statement : Statement
        The statement [amounts in ``statement.currency``].
    name : str
        The owner's display name.
    profile : MarketProfile
        For the market name and timezone.
    daily : pandas.DataFrame
        ``committed_mwh``, ``delivered_mwh`` per local day [MWh].
    font : str or None
        A CJK-capable font family; None writes English labels only.
    unmetered : int
        Committed intervals without a meter reading (delivery unknown there) [-].
    """
    bilingual = font is not None
    family = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
    lines = list(statement.lines)
    first, per_page = ROWS_PER_PAGE[bilingual]
    pages = [lines[:first]] + [lines[k : k + per_page] for k in range(first, len(lines), per_page)]
    title = f"Statement {statement.id} v{statement.version}"
    # Type 3 glyphs: the CJK fonts are OpenType/CFF collections that Type 42 misdeclares.
    style = plt.rc_context({"font.family": family, "font.size": 8.5, "pdf.fonttype": 3})
    with style, PdfPages(path, metadata={"Title": title}) as pdf:
        for number, rows in enumerate(pages, start=1):
            fig = plt.figure(figsize=(8.27, 11.69))
            top = _page_header(fig, statement, name, profile, bilingual) if number == 1 else 0.95
            _lines_table(fig, statement, rows, top, bilingual, last=number == len(pages))
            if number == 1:
                _delivery_summary(fig, daily, 0.47, bilingual, unmetered)
                _chart(fig.add_axes((0.1, 0.08, 0.82, 0.24)), daily, bilingual)
            _footer(fig, statement, profile, bilingual, f"{number}/{len(pages)}")
            pdf.savefig(fig)
            plt.close(fig)
    return path


def _page_header(
    fig: Figure, statement: Statement, name: str, profile: MarketProfile, bilingual: bool
) -> float:
    fig.text(
        0.08,
        0.95,
        "Monthly settlement statement" + (" 月度结算单" if bilingual else ""),
        fontsize=15,
        weight="bold",
    )
    y = 0.92
    for key, value in _header(statement, name, profile):
        fig.text(0.08, y, key if bilingual else key.split(" ")[0], weight="bold")
        fig.text(0.30, y, value)
        y -= 0.017
    return y - 0.012


def _footer(
    fig: Figure, statement: Statement, profile: MarketProfile, bilingual: bool, page: str
) -> None:
    notes = [
        f"Amounts in {statement.currency}; dates in {profile.timezone}. "
        "Issued statements are immutable; corrections are new versions."
    ]
    if not bilingual:
        notes.append("Chinese labels: see the CSV/XLSX (no CJK font was installed).")
    for k, note in enumerate(notes):
        fig.text(0.08, 0.025 - 0.012 * k, note, fontsize=7, color="#555555")
    fig.text(
        0.92,
        0.04,
        f"{statement.id} v{statement.version} — {page}",
        fontsize=7,
        color="#555555",
        ha="right",
    )


def _delivery_summary(
    fig: Figure, daily: pd.DataFrame, top: float, bilingual: bool, unmetered: int
) -> None:
    committed = float(daily["committed_mwh"].sum()) if len(daily) else 0.0
    delivered = float(daily["delivered_mwh"].sum()) if len(daily) else 0.0
    ratio = f"{delivered / committed:.1%}" if committed > 0 else "n/a"
    fig.text(0.08, top, "Delivery 交付情况" if bilingual else "Delivery", weight="bold")
    rows = [
        ("Committed 承诺电量" if bilingual else "Committed", f"{committed:,.3f} MWh"),
        ("Delivered 实际电量" if bilingual else "Delivered", f"{delivered:,.3f} MWh"),
        ("Performance 履约率" if bilingual else "Performance ratio", ratio),
    ]
    if unmetered:
        label = "Unmetered 未计量时段" if bilingual else "Unmetered"
        rows.append((label, f"{unmetered} committed intervals without meter data (not delivered)"))
    for k, (label, value) in enumerate(rows, start=1):
        fig.text(0.08, top - 0.017 * k, label)
        fig.text(0.30, top - 0.017 * k, value)


def _rule(fig: Figure, y: float, width: float) -> None:
    fig.add_artist(
        Line2D([0.08, 0.92], [y, y], lw=width, color="#333333", transform=fig.transFigure)
    )


def _lines_table(
    fig: Figure,
    statement: Statement,
    rows: list[StatementLine],
    top: float,
    bilingual: bool,
    *,
    last: bool,
) -> float:
    x = (0.08, 0.62, 0.92)
    heads = (
        ("Item 摘要", "Product 产品", f"Amount 金额 [{statement.currency}]")
        if bilingual
        else ("Item", "Product", f"Amount [{statement.currency}]")
    )
    _rule(fig, top + 0.012, 0.8)
    fig.text(x[0], top, heads[0], weight="bold")
    fig.text(x[1], top, heads[1], weight="bold")
    fig.text(x[2], top, heads[2], weight="bold", ha="right")
    y = top - 0.006
    _rule(fig, y, 0.5)
    for line in rows:
        y -= 0.018
        fig.text(x[0], y, line.label[:90])
        fig.text(x[1], y, line.product_id or "")
        fig.text(x[2], y, f"{line.amount:,.2f}", ha="right", family="DejaVu Sans Mono")
        if bilingual and line.label_zh:
            y -= 0.013
            fig.text(x[0] + 0.01, y, line.label_zh[:60], color="#444444", fontsize=7.5)
    if not last:
        fig.text(
            x[2],
            y - 0.02,
            "continued 续下页" if bilingual else "continued",
            ha="right",
            color="#555555",
            fontsize=7,
        )
        return y
    y -= 0.010
    _rule(fig, y, 0.8)
    y -= 0.018
    fig.text(x[0], y, "Total 合计" if bilingual else "Total", weight="bold")
    fig.text(
        x[2], y, f"{statement.total:,.2f}", ha="right", weight="bold", family="DejaVu Sans Mono"
    )
    return y


def _chart(ax: Axes, daily: pd.DataFrame, bilingual: bool) -> None:
    title = "Committed vs delivered flexibility per day" + (" 每日承诺与实际" if bilingual else "")
    if daily.empty or float(daily["committed_mwh"].sum()) == 0:
        ax.text(
            0.5,
            0.5,
            "No measured energy commitment this month"
            + ("\n本月无计量的电量承诺" if bilingual else ""),
            ha="center",
            va="center",
            transform=ax.transAxes,
            color="#555555",
        )
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
        return
    days = [pd.Timestamp(d).strftime("%d") for d in daily.index]
    pos = range(len(days))
    ax.bar(
        [p - 0.2 for p in pos],
        daily["committed_mwh"],
        width=0.4,
        color="#9db4d3",
        label="Committed 承诺" if bilingual else "Committed",
    )
    ax.bar(
        [p + 0.2 for p in pos],
        daily["delivered_mwh"],
        width=0.4,
        color="#2f5d8a",
        label="Delivered 实际" if bilingual else "Delivered",
    )
    ax.set_xticks(list(pos), days, fontsize=7)
    ax.set_ylabel("Energy [MWh]")
    ax.set_xlabel("Day of month (market time)")
    ax.set_title(title, pad=24)
    ax.legend(frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.01), ncols=2)
    ax.grid(axis="y", color="#dddddd", lw=0.5)
    ax.spines[["top", "right"]].set_visible(False)


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
) -> list[Path]:
    """Write every statement of a settled month in ``formats``; return the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    names = {e.id: f"{e.name} {e.name_zh or ''}".strip() for e in result.inputs.enterprises}
    names[AGGREGATOR] = "Aggregator (VPP operator) 聚合商"
    font = cjk_font() if "pdf" in formats else None
    files: list[Path] = []
    for s in statements:
        name = names.get(s.enterprise_id, s.enterprise_id)
        stem = folder / _stem(s)
        daily = enterprise_daily(result, s.enterprise_id)
        if "csv" in formats:
            files.append(write_csv(stem.with_suffix(".csv"), s, name, profile))
        if "xlsx" in formats:
            files.append(write_xlsx(stem.with_suffix(".xlsx"), s, name, profile, daily))
        if "pdf" in formats:
            gaps = sum(
                n
                for a, n in result.missing_meter.items()
                if s.enterprise_id in (AGGREGATOR, result.inputs.asset_owner.get(a))
            )
            files.append(write_pdf(stem.with_suffix(".pdf"), s, name, profile, daily, font, gaps))
    return files


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
