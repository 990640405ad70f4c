"""Monthly statements as PDF: drawn with reportlab straight onto the page, bilingual.

Text, rules and the committed-vs-delivered bar chart are vector content, a few milliseconds per
statement. Chinese uses the Adobe Asian font STSong-Light, which every PDF reader supplies, so
nothing is embedded; without it the PDF is written with English labels only and says so in its
footer. The aggregator's statement gets a page with the park's zero-carbon indicators.
"""

from __future__ import annotations

import math
from itertools import groupby
from pathlib import Path

import pandas as pd
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.pdfmetrics import registerFont, stringWidth
from reportlab.pdfgen.canvas import Canvas

from adapters.exports.statement_header import CJK_FONT, ENERGY_BALANCE, header_rows
from vpp.domain.bids import Statement, StatementLine
from vpp.domain.market import MarketProfile
from vpp.domain.zero_carbon import ZeroCarbonReport

ROWS_PER_PAGE = {False: (12, 45), True: (7, 27)}
"""Statement lines on the first PDF page (above the delivery chart) and on each further page,
for English-only and for bilingual (two-line) rows."""

PAGE_W, PAGE_H = A4
LEFT, RIGHT = 0.08 * PAGE_W, 0.92 * PAGE_W
LATIN, LATIN_BOLD = "Helvetica", "Helvetica-Bold"
INK, GREY, LIGHT = (
    colors.HexColor("#222222"),
    colors.HexColor("#555555"),
    colors.HexColor("#dddddd"),
)
COMMITTED, DELIVERED = colors.HexColor("#9db4d3"), colors.HexColor("#2f5d8a")


class _Page:
    """A reportlab canvas with mixed Latin/Chinese text placed in page fractions."""

    def __init__(self, canvas: Canvas, cjk: str | None) -> None:
        self.c, self.cjk = canvas, cjk

    def _runs(self, text: str, bold: bool) -> list[tuple[str, str, bool]]:
        runs = []
        for wide, chars in groupby(text, key=_needs_cid):
            run = "".join(chars)
            if not wide:
                runs.append((run, LATIN_BOLD if bold else LATIN, False))
            elif self.cjk is not None:  # English-only: Chinese stays in the CSV/XLSX
                runs.append((run, self.cjk, True))
        return runs

    def width(self, text: str, size: float, bold: bool = False) -> float:
        """Width of ``text`` [pt]."""
        return float(sum(stringWidth(r, f, size) for r, f, _ in self._runs(text, bold)))

    def text(
        self,
        x: float,
        y: float,
        text: str,
        *,
        size: float = 8.5,
        bold: bool = False,
        color: colors.Color = INK,
        align: str = "left",
    ) -> None:
        """Draw ``text`` at page fractions ``x``, ``y`` (baseline), switching font per script."""
        self.text_pt(x * PAGE_W, y * PAGE_H, text, size=size, bold=bold, color=color, align=align)

    def text_pt(
        self,
        px: float,
        py: float,
        text: str,
        *,
        size: float = 8.5,
        bold: bool = False,
        color: colors.Color = INK,
        align: str = "left",
    ) -> None:
        """Draw ``text`` at ``px``, ``py`` [pt from the lower left corner]."""
        if align != "left":
            shift = self.width(text, size, bold)
            px -= shift if align == "right" else shift / 2
        self.c.setFillColor(color)
        for run, font, wide in self._runs(text, bold):
            self.c.setFont(font, size)
            self.c.drawString(px, py, run)
            if wide and bold:  # the CID font has no bold face: overprint a hair to the right
                self.c.drawString(px + size * 0.04, py, run)
            px += stringWidth(run, font, size)

    def rule(self, y: float, width: float) -> None:
        """A horizontal rule across the text column at page fraction ``y``."""
        self.c.setStrokeColor(INK)
        self.c.setLineWidth(width)
        self.c.line(LEFT, y * PAGE_H, RIGHT, y * PAGE_H)


def _needs_cid(ch: str) -> bool:
    """True for characters the standard (WinAnsi) fonts cannot draw, e.g. Chinese."""
    return ch not in _WINANSI and not ch.isascii()


_WINANSI = frozenset(bytes(range(0xA0, 0x100)).decode("cp1252", "ignore") + "–—‘’“”•…€")


def cjk_font() -> str | None:
    """Name of the PDF font that draws Chinese (reportlab's built-in CID font), or None.

    ``STSong-Light`` is one of the Adobe Asian fonts every PDF reader knows; the file only
    names it, so nothing is embedded and the statement stays small.
    """
    try:
        registerFont(UnicodeCIDFont(CJK_FONT))
    except (KeyError, ValueError):
        return None
    return CJK_FONT


def write_pdf(
    path: Path,
    statement: Statement,
    name: str,
    profile: MarketProfile,
    daily: pd.DataFrame,
    font: str | None,
    unmetered: int = 0,
    zero_carbon: ZeroCarbonReport | None = None,
) -> Path:
    """A4 pages: header, every line with the total, and committed vs delivered energy per day.

    Text, rules and the bar chart are drawn as vector content straight onto the page, which
    keeps a statement to a few milliseconds and a few kilobytes.

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
        The CJK font from :func:`cjk_font`; None writes English labels only.
    unmetered : int
        Committed intervals without a meter reading (delivery unknown there) [-].
    zero_carbon : ZeroCarbonReport, optional
        The park's zero-carbon indicators, added as a last page (the aggregator's statement).
    """
    bilingual = font is not None
    lines = list(statement.lines)
    first, per_page = ROWS_PER_PAGE[bilingual]
    pages = [lines[:first]] + [lines[k : k + per_page] for k in range(first, len(lines), per_page)]
    count = len(pages) + (zero_carbon is not None)
    canvas = Canvas(str(path), pagesize=A4, pageCompression=1)
    canvas.setTitle(f"Statement {statement.id} v{statement.version}")
    canvas.setAuthor("parkvpp")
    page = _Page(canvas, font)
    for number, rows in enumerate(pages, start=1):
        top = _pageheader_rows(page, statement, name, profile, bilingual) if number == 1 else 0.95
        _lines_table(page, statement, rows, top, bilingual, last=number == len(pages))
        if number == 1:
            _delivery_summary(page, daily, 0.47, bilingual, unmetered)
            _chart(page, daily, (0.1, 0.08, 0.82, 0.24), bilingual)
        _footer(page, statement, profile, bilingual, f"{number}/{count}")
        canvas.showPage()
    if zero_carbon is not None:
        _zero_carbon_page(page, zero_carbon, statement, profile, bilingual)
        _footer(page, statement, profile, bilingual, f"{count}/{count}")
        canvas.showPage()
    canvas.save()
    return path


def _pageheader_rows(
    page: _Page, statement: Statement, name: str, profile: MarketProfile, bilingual: bool
) -> float:
    title = "Monthly settlement statement" + (" 月度结算单" if bilingual else "")
    page.text(0.08, 0.95, title, size=15, bold=True)
    y = 0.92
    for key, value in header_rows(statement, name, profile):
        page.text(0.08, y, key if bilingual else key.split(" ")[0], bold=True)
        page.text(0.30, y, value)
        y -= 0.017
    return y - 0.012


def _footer(
    page: _Page, statement: Statement, profile: MarketProfile, bilingual: bool, number: str
) -> None:
    notes = [
        f"Amounts in {statement.currency}; dates in {profile.timezone}. "
        "Issued statements are immutable; corrections are new versions."
    ]
    if not bilingual:
        notes.append("Chinese labels: see the CSV/XLSX (no CJK font was available).")
    for k, note in enumerate(notes):
        page.text(0.08, 0.025 - 0.012 * k, note, size=7, color=GREY)
    tag = f"{statement.id} v{statement.version} — {number}"
    page.text(0.92, 0.04, tag, size=7, color=GREY, align="right")


def _delivery_summary(
    page: _Page, daily: pd.DataFrame, top: float, bilingual: bool, unmetered: int
) -> None:
    committed = float(daily["committed_mwh"].sum()) if len(daily) else 0.0
    delivered = float(daily["delivered_mwh"].sum()) if len(daily) else 0.0
    ratio = f"{delivered / committed:.1%}" if committed > 0 else "n/a"
    page.text(0.08, top, "Delivery 交付情况" if bilingual else "Delivery", bold=True)
    rows = [
        ("Committed 承诺电量" if bilingual else "Committed", f"{committed:,.3f} MWh"),
        ("Delivered 实际电量" if bilingual else "Delivered", f"{delivered:,.3f} MWh"),
        ("Performance 履约率" if bilingual else "Performance ratio", ratio),
    ]
    if unmetered:
        label = "Unmetered 未计量时段" if bilingual else "Unmetered"
        rows.append((label, f"{unmetered} committed intervals without meter data (not delivered)"))
    for k, (label, value) in enumerate(rows, start=1):
        page.text(0.08, top - 0.017 * k, label)
        page.text(0.30, top - 0.017 * k, value)


def _lines_table(
    page: _Page,
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
    page.rule(top + 0.012, 0.8)
    page.text(x[0], top, heads[0], bold=True)
    page.text(x[1], top, heads[1], bold=True)
    page.text(x[2], top, heads[2], bold=True, align="right")
    y = top - 0.006
    page.rule(y, 0.5)
    for line in rows:
        y -= 0.018
        page.text(x[0], y, line.label[:90])
        page.text(x[1], y, line.product_id or "")
        page.text(x[2], y, f"{line.amount:,.2f}", align="right")
        if bilingual and line.label_zh:
            y -= 0.013
            page.text(x[0] + 0.01, y, line.label_zh[:60], size=7.5, color=GREY)
    if not last:
        more = "continued 续下页" if bilingual else "continued"
        page.text(x[2], y - 0.02, more, size=7, color=GREY, align="right")
        return y
    y -= 0.010
    page.rule(y, 0.8)
    y -= 0.018
    page.text(x[0], y, "Total 合计" if bilingual else "Total", bold=True)
    page.text(x[2], y, f"{statement.total:,.2f}", bold=True, align="right")
    return y


def _ticks(top: float) -> list[float]:
    """Four to eight round tick values from 0 to at least ``top``."""
    raw = top / 5
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    return [step * k for k in range(math.ceil(top / step - 1e-9) + 1)]


def _chart(
    page: _Page, daily: pd.DataFrame, box: tuple[float, float, float, float], bilingual: bool
) -> None:
    c = page.c
    x0, y0, w, h = box[0] * PAGE_W, box[1] * PAGE_H, box[2] * PAGE_W, box[3] * PAGE_H
    title = "Committed vs delivered flexibility per day" + (" 每日承诺与实际" if bilingual else "")
    page.text_pt(x0 + w / 2, y0 + h + 30, title, size=10, align="center")
    if daily.empty or float(daily["committed_mwh"].sum()) == 0:
        c.setStrokeColor(INK)
        c.setLineWidth(0.6)
        c.rect(x0, y0, w, h)
        page.text_pt(
            x0 + w / 2,
            y0 + h / 2,
            "No measured energy commitment this month",
            align="center",
            color=GREY,
        )
        if bilingual:
            page.text_pt(
                x0 + w / 2, y0 + h / 2 - 12, "本月无计量的电量承诺", align="center", color=GREY
            )
        return
    committed = daily["committed_mwh"].to_numpy(dtype=float)
    delivered = daily["delivered_mwh"].to_numpy(dtype=float)
    ticks = _ticks(max(float(committed.max()), float(delivered.max())))
    scale = h / ticks[-1]
    c.setLineWidth(0.5)
    for tick in ticks:
        c.setStrokeColor(LIGHT if tick else INK)
        c.line(x0, y0 + tick * scale, x0 + w, y0 + tick * scale)
        page.text_pt(x0 - 4, y0 + tick * scale - 2.5, f"{tick:g}", size=7, align="right")
    slot = w / len(committed)
    for k, (day, a, b) in enumerate(zip(daily.index, committed, delivered, strict=True)):
        left = x0 + k * slot + 0.1 * slot
        c.setFillColor(COMMITTED)
        c.rect(left, y0, 0.4 * slot, a * scale, stroke=0, fill=1)
        c.setFillColor(DELIVERED)
        c.rect(left + 0.4 * slot, y0, 0.4 * slot, b * scale, stroke=0, fill=1)
        label = pd.Timestamp(day).strftime("%d")
        page.text_pt(x0 + (k + 0.5) * slot, y0 - 10, label, size=6.5, align="center")
    c.setStrokeColor(INK)
    c.line(x0, y0, x0, y0 + h)
    page.text_pt(x0 + w / 2, y0 - 24, "Day of month (market time)", size=8, align="center")
    c.saveState()
    c.translate(x0 - 28, y0 + h / 2)
    c.rotate(90)
    page.text_pt(0, 0, "Energy [MWh]", size=8, align="center")
    c.restoreState()
    legend = [
        (COMMITTED, "Committed 承诺" if bilingual else "Committed"),
        (DELIVERED, "Delivered 实际" if bilingual else "Delivered"),
    ]
    x = x0 + w / 2 - 90
    for color, label in legend:
        c.setFillColor(color)
        c.rect(x, y0 + h + 10, 14, 7, stroke=0, fill=1)
        page.text_pt(x + 18, y0 + h + 10.5, label, size=8)
        x += 100


def _zero_carbon_page(
    page: _Page,
    report: ZeroCarbonReport,
    statement: Statement,
    profile: MarketProfile,
    bilingual: bool,
) -> None:
    month = statement.period_start.strftime("%Y-%m")
    title = "Zero-carbon park indicators" + (" 零碳园区指标" if bilingual else "")
    page.text(0.08, 0.95, f"{title} — {month}", size=15, bold=True)
    page.text(0.08, 0.925, f"{profile.name} ({profile.market_id})", color=GREY)
    x = (0.08, 0.52, 0.68, 0.92)
    top = 0.89
    page.rule(top + 0.012, 0.8)
    heads = ("Indicator 指标", "Value 数值", "Threshold 限值", "Result 结论")
    for k, head in enumerate(heads if bilingual else [h.split(" ")[0] for h in heads]):
        page.text(x[k], top, head, bold=True, align="right" if k == 3 else "left")
    y = top - 0.006
    page.rule(y, 0.5)
    verdicts = {"pass": "pass 达标", "fail": "fail 未达标", "not available": "not available 无数据"}
    for item in report.indicators:
        y -= 0.018
        page.text(x[0], y, item.label)
        page.text(x[1], y, item.format(item.value) or "—")
        page.text(x[2], y, item.threshold_text or "—")
        verdict = verdicts.get(item.status, item.status) if bilingual else item.status
        tone = {"pass": DELIVERED, "fail": colors.HexColor("#b03a2e")}.get(item.status, GREY)
        page.text(x[3], y, verdict, bold=True, color=tone, align="right")
        if bilingual:
            y -= 0.013
            page.text(x[0] + 0.01, y, item.label_zh, size=7.5, color=GREY)
    page.rule(y - 0.01, 0.8)
    reasons = sorted({i.reason for i in report.indicators if i.reason})
    y -= 0.035
    if reasons:
        page.text(0.08, y, "Not available because 无数据原因", bold=True)
        for reason in reasons:
            for part in simpleSplit(reason, LATIN, 8, RIGHT - LEFT - 10):
                y -= 0.015
                page.text(0.09, y, part, size=8)
        y -= 0.025
    page.text(0.08, y, "Energy balance 能量平衡" if bilingual else "Energy balance", bold=True)
    for field, label, unit in ENERGY_BALANCE:
        value = getattr(report, field)
        y -= 0.017
        page.text(0.09, y, label)
        shown = "not available" if value is None else f"{value:,.3f} {unit}"
        page.text(0.60, y, shown, align="right")
    carbon = profile.carbon_green
    factor = carbon.grid_emission_factor_t_per_mwh
    method = (
        "Electricity only; grid emission factor "
        + ("not set" if factor is None else f"{factor} tCO2/MWh")
        + f", {carbon.tce_per_mwh} tce/MWh; thresholds and factor from the market profile"
        + (
            f" ({carbon.source}{', to be verified' if carbon.verify else ''})."
            if carbon.source
            else "."
        )
    )
    notes = [*report.notes, method]
    y -= 0.03
    for note in notes:
        for part in simpleSplit(note, LATIN, 7.5, RIGHT - LEFT):
            y -= 0.014
            page.text(0.08, y, part, size=7.5, color=GREY)
