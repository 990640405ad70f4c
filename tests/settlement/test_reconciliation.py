"""Reconciliation with the market operator's statement, by day and product, to the cent."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.settlement.conftest import Seeder
from vpp.cli import app
from vpp.domain.bids import Award, Statement, StatementLine
from vpp.domain.errors import InvalidInputError
from vpp.domain.park import Enterprise
from vpp.services.settle_day import AGGREGATOR, IMBALANCE_LABEL
from vpp.services.settle_month import MonthInputs, award_amounts, reconcile_operator

DAY = date(2026, 2, 2)
T = pd.Timestamp("2026-02-01 16:00", tz="UTC")  # 00:00 on 2 February in Asia/Shanghai


def inputs() -> MonthInputs:
    awards = [
        Award(product_id="spot_energy", interval_start=T, side="sell", quantity_mw=2, price=300),
        Award(product_id="spot_energy", interval_start=T, side="buy", quantity_mw=1, price=100),
        Award(product_id="agc_fr", interval_start=T, side="sell", quantity_mw=10, price=8),
    ]
    return MonthInputs(
        month="2026-02",
        market_id="cn-shandong",
        currency="CNY",
        timezone="Asia/Shanghai",
        interval_minutes=15,
        enterprises=[Enterprise(id="a", name="A")],
        contracts={},
        day_statements={},
        asset_owner={},
        awards={DAY: awards},
        energy_products=frozenset({"spot_energy"}),
    )


def test_differences_by_day_and_product() -> None:
    ours = award_amounts(inputs())
    # energy: 2 MW x 300 x 0.25 h - 1 MW x 100 x 0.25 h = 150 - 25 = 125.00; agc_fr 10 x 8 x 0.25
    assert ours.to_dict("records") == [
        {"day": DAY, "product_id": "agc_fr", "amount": Decimal("20.00")},
        {"day": DAY, "product_id": "spot_energy", "amount": Decimal("125.00")},
    ]
    operator = pd.DataFrame(
        {
            "day": ["2026-02-02"] * 3,
            "product_id": ["spot_energy", "agc_fr", "imbalance"],
            "amount": ["125.00", "19.50", "-3.00"],
        }
    )
    report = reconcile_operator(ours, operator).set_index("product_id")
    assert report.loc["spot_energy", "matches"]
    assert report.loc["agc_fr", "difference"] == Decimal("0.50")
    assert report.loc["imbalance", "ours"] == 0 and report.loc["imbalance", "difference"] == 3


def test_the_imbalance_of_each_settled_day_is_reconciled_too() -> None:
    aggregator_day = Statement(
        id="aggregator:cn-shandong:2026-02-02",
        enterprise_id=AGGREGATOR,
        market_id="cn-shandong",
        period_start=DAY,
        period_end=DAY,
        currency="CNY",
        lines=[
            StatementLine(label="Share of a", amount=Decimal("12.00")),
            StatementLine(label=IMBALANCE_LABEL, amount=Decimal("-3.25")),
        ],
    )
    with_days = replace(inputs(), day_statements={DAY: [aggregator_day]})
    ours = award_amounts(with_days).set_index("product_id")
    assert ours.loc["imbalance", "amount"] == Decimal("-3.25")
    operator = pd.DataFrame(
        {"day": ["2026-02-02"], "product_id": ["imbalance"], "amount": ["-3.00"]}
    )
    report = reconcile_operator(ours.reset_index(), operator).set_index("product_id")
    assert report.loc["imbalance", "difference"] == Decimal("-0.25")
    assert not report.loc["imbalance", "matches"]


def test_operator_file_without_amount_column_says_what_it_needs() -> None:
    with pytest.raises(InvalidInputError, match="day,product_id,amount"):
        reconcile_operator(award_amounts(inputs()), pd.DataFrame({"day": [], "product_id": []}))


def test_cli_reconciles_and_writes_the_report(
    seed_month: Seeder, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("VPP_DATABASE_URL", seed_month())
    operator = tmp_path / "operator.csv"
    operator.write_text(
        "day,product_id,amount\n2026-02-02,spot_energy,125.00\n2026-02-02,imbalance,-5.00\n"
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["settle", "--month", "2026-02", "--reconcile", str(operator), "--export", str(out)]
    )
    assert result.exit_code == 0, result.output
    # the seeded days store no awards; each of the 28 days settled an imbalance of -5.00
    assert "1 of 29 day/product rows match" in result.output
    written = (out / "p_2026-02_reconciliation.csv").read_text(encoding="utf-8-sig")
    assert "2026-02-02,spot_energy,0.00,125.00,-125.00,no" in written
    assert "2026-02-02,imbalance,-5.00,-5.00,0.00,yes" in written
    assert "2026-02-03,imbalance,-5.00,0.00,-5.00,no" in written
