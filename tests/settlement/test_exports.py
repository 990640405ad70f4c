"""Statement files: exact amounts in CSV/XLSX, a readable PDF with and without a CJK font."""

from __future__ import annotations

import csv
import shutil
import subprocess
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from adapters.exports import statements
from adapters.exports.statement_pdf import cjk_font, write_pdf
from adapters.exports.statements import enterprise_daily, write_month_statements
from tests.settlement.conftest import MARKET, day_statements
from vpp.domain.bids import Statement, StatementLine
from vpp.domain.market import load_market_profile
from vpp.domain.park import Contract, Enterprise
from vpp.services.settle_month import MonthInputs, month_days, settle_month

PROFILE = load_market_profile(MARKET)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def month() -> MonthInputs:
    contracts = {
        e: Contract(id=f"c-{e}", enterprise_id=e, currency="CNY", valid_from=T0) for e in "ab"
    }
    return MonthInputs(
        month="2026-02",
        market_id=MARKET,
        currency="CNY",
        timezone=PROFILE.timezone,
        interval_minutes=15,
        enterprises=[
            Enterprise(id="a", name="Alpha", name_zh="阿尔法"),
            Enterprise(id="b", name="Beta"),
        ],
        contracts=contracts,
        day_statements={d: day_statements(d) for d in month_days("2026-02")},
        asset_owner={},
    )


def test_csv_and_xlsx_carry_the_exact_amounts(tmp_path: Path) -> None:
    result = settle_month(month())
    issued = [s.model_copy(update={"status": "issued", "issued_at": T0}) for s in result.statements]
    files = write_month_statements(tmp_path, result, issued, PROFILE, formats=("csv", "xlsx"))
    assert len(files) == 6
    for s in issued:
        stem = tmp_path / f"{s.id.replace(':', '_')}_v1"
        with stem.with_suffix(".csv").open(encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
        assert ["Issued 出具时间", "2026-01-01 08:00 CST"] in rows  # market time
        amounts = [Decimal(r[6]) for r in rows if len(r) == 7 and r[0].isdigit()]
        assert sum(amounts) == s.total == Decimal(rows[-1][6])
        sheet = load_workbook(stem.with_suffix(".xlsx"))["Daily 每日"]
        assert sheet.max_row == 1 + 28  # header + every day of February


def test_pdf_paginates_long_statements_and_falls_back_to_english(tmp_path: Path) -> None:
    lines = [
        StatementLine(
            label=f"Share of tenant {k}", label_zh=f"租户 {k} 分成", amount=Decimal("1.00")
        )
        for k in range(70)
    ]
    long = Statement(
        id="aggregator:x:2026-02",
        enterprise_id="aggregator",
        market_id=MARKET,
        period_start=date(2026, 2, 1),
        period_end=date(2026, 2, 28),
        currency="CNY",
        lines=lines,
    )
    result = settle_month(month())
    daily = enterprise_daily(result, "aggregator")
    english = write_pdf(tmp_path / "en.pdf", long, "Aggregator", PROFILE, daily, None)
    assert english.read_bytes().startswith(b"%PDF")
    assert len(PdfReader(english).pages) == 3  # 12 + 30 + 28 lines


def test_pdf_renders_with_cjk_font_when_installed(tmp_path: Path) -> None:
    font = cjk_font()
    if font is None:
        pytest.skip("reportlab cannot register its CID font: bilingual PDF not rendered")
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed: PDF not rasterised")
    result = settle_month(month())
    issued = [s.model_copy(update={"status": "issued", "issued_at": T0}) for s in result.statements]
    files = write_month_statements(tmp_path, result, issued[:1], PROFILE, formats=("pdf",))
    subprocess.run(
        ["pdftoppm", "-r", "40", "-png", str(files[0]), str(tmp_path / "page")],
        check=True,
        capture_output=True,
    )
    assert (tmp_path / "page-1.png").stat().st_size > 5_000


def test_shared_savings_contract_takes_its_share_of_bill_savings() -> None:
    base = month()
    contracts = dict(base.contracts)
    contracts["b"] = Contract(
        id="c-b",
        enterprise_id="b",
        scheme="shared_savings",
        aggregator_share=0.2,
        savings_share=0.4,
        currency="CNY",
        valid_from=T0,
    )
    result = settle_month(replace(base, contracts=contracts, btm_savings={"b": Decimal("500.00")}))
    fee = [x.amount for x in result.waterfall.enterprise_lines["b"] if "Savings share" in x.label]
    assert fee == [Decimal("-200.00")]  # 40 % of 500
    assert result.waterfall.reconciles


def test_two_workers_write_the_same_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(statements, "PARALLEL_FROM", 2)
    result = settle_month(month())
    issued = [s.model_copy(update={"status": "issued", "issued_at": T0}) for s in result.statements]
    one = write_month_statements(tmp_path / "one", result, issued, PROFILE, formats=("csv",))
    two = write_month_statements(
        tmp_path / "two", result, issued, PROFILE, formats=("csv", "pdf"), workers=2
    )
    assert [p.name for p in one] == [p.name for p in two if p.suffix == ".csv"]
    assert len(two) == 6
    for path in one:
        assert path.read_bytes() == (tmp_path / "two" / path.name).read_bytes()
