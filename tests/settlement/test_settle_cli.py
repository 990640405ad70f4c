"""``vpp settle`` end to end on a seeded SQLite database: summary, refusal, override, files."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from typer.testing import CliRunner

from tests.settlement.conftest import Seeder
from vpp.cli import app


def run(url: str, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    monkeypatch.setenv("VPP_DATABASE_URL", url)
    monkeypatch.setenv("COLUMNS", "160")
    result = CliRunner().invoke(app, ["settle", *args])
    return result.exit_code, result.output + repr(result.exception or "")


def test_settle_prints_reconciled_totals_and_exports(
    seed_month: Seeder, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = seed_month()
    out = tmp_path / "statements"
    code, text = run(url, monkeypatch, "--month", "2026-02", "--export", str(out))
    assert code == 0, text
    assert "market total: 3,780.00 CNY" in text
    assert "2,240.00" in text and "1,000.00" in text and "540.00" in text
    assert "reconciles to the cent" in text
    names = sorted(p.name for p in out.iterdir())
    assert "p_2026-02_a_v1.csv" in names
    assert len([n for n in names if n.endswith(".pdf")]) == 3
    with (out / "p_2026-02_b_v1.csv").open(encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    assert rows[-1] == ["", "Total", "合计", "", "", "", "1000.00"]
    assert any("保底补足" in r for row in rows for r in row)
    sheet = load_workbook(out / "p_2026-02_a_v1.xlsx")["Statement 结算单"]
    amounts = [r[6] for r in sheet.iter_rows(values_only=True) if len(r) > 6]
    assert amounts[-1] == pytest.approx(2240.0)
    assert (out / "p_2026-02_a_v1.pdf").read_bytes().startswith(b"%PDF")
    code, text = run(url, monkeypatch, "--month", "2026-02")
    assert code == 0 and text.count("unchanged") == 3


def test_incomplete_month_needs_override_by_name(
    seed_month: Seeder, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = seed_month(skip_day=date(2026, 2, 3))
    code, text = run(url, monkeypatch, "--month", "2026-02")
    assert code != 0
    assert "no day statements for 2026-02-03" in text and "nothing was issued" in text
    code, text = run(url, monkeypatch, "--month", "2026-02", "--override-incomplete")
    assert code != 0 and "--by NAME" in text
    code, text = run(
        url, monkeypatch, "--month", "2026-02", "--override-incomplete", "--by", "Wang Fang"
    )
    assert code == 0, text
    assert "override" in text and "reconciles to the cent" in text


def test_bad_month_is_explained(seed_month: Seeder, monkeypatch: pytest.MonkeyPatch) -> None:
    code, text = run(seed_month(), monkeypatch, "--month", "Feb-2026")
    assert code != 0 and "YYYY-MM" in text


def test_zero_carbon_report_is_printed_and_exported_without_inventing_load(
    seed_month: Seeder, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = seed_month(with_pv=True)
    out = tmp_path / "statements"
    code, text = run(url, monkeypatch, "--month", "2026-02", "--export", str(out))
    assert code == 0, text
    assert "zero-carbon indicators" in text
    assert text.count("not available") >= 5  # every indicator needs the park's consumption
    assert "the park has no consumption meter" in text
    assert "on-site renewable generation: 28.000 MWh" in text  # 1 MW x 1 h x 28 days
    assert "simulated" in text
    with (out / "p_2026-02_zero_carbon.csv").open(encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    indicators = {r[0]: r for r in rows[1:6]}
    assert set(indicators) == {
        "carbon_per_tce",
        "clean_energy_share",
        "self_use_of_generation",
        "share_of_load",
        "export_share",
    }
    for row in indicators.values():
        assert row[3] == "" and row[7] == "not available" and "consumption" in row[8]
    assert ["generation_mwh", "28.000", "MWh"] in rows
    assert ["load_mwh", "not available", "MWh"] in rows
    pdf = PdfReader(out / "p_2026-02_aggregator_v1.pdf")
    assert len(pdf.pages) == 2  # the statement and the zero-carbon page
    assert "Zero-carbon park indicators" in pdf.pages[1].extract_text()
