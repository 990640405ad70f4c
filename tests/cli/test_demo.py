"""`vpp demo` end to end on the embedded default: artefacts, figures re-derived, database, re-runs."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from sqlmodel import Session, select

from vpp.db.engine import make_engine
from vpp.db.repositories import BidRepository, StatementRepository
from vpp.db.repositories.credentials import ApiKeyRepository
from vpp.db.tables import StatementRow
from vpp.domain.bids import BidSet, check_bid_set
from vpp.domain.market import load_market_profile
from vpp.services.park_file import load_park

pytestmark = pytest.mark.slow

RunVpp = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def demo_run(
    tmp_path_factory: pytest.TempPathFactory,
    run_vpp: RunVpp,
) -> tuple[Path, subprocess.CompletedProcess[str], str]:
    work = tmp_path_factory.mktemp("demo")
    url = f"sqlite:///{work / 'demo.sqlite'}"
    result = run_vpp("demo", "--out", "out", cwd=work, env={"VPP_DATABASE_URL": url})
    assert result.returncode == 0, result.stdout + result.stderr
    return work, result, url


def test_demo_writes_every_artefact(
    demo_run: tuple[Path, subprocess.CompletedProcess[str], str],
) -> None:
    work, result, _ = demo_run
    out = work / "out"
    for name in (
        "bids.csv",
        "bids.json",
        "awards.csv",
        "setpoints.csv",
        "forecasts.csv",
        "day_chart.png",
        "statements.csv",
        "statements.json",
        "summary.json",
    ):
        assert (out / name).stat().st_size > 0, name
    assert (out / "day_chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "reconcile to the cent" in result.stdout
    assert "flexibility value" in result.stdout


def test_demo_bids_are_valid_and_awards_follow_the_curves(
    demo_run: tuple[Path, subprocess.CompletedProcess[str], str],
) -> None:
    work, _, _ = demo_run
    data = load_park()
    profile = load_market_profile("de-lu")
    bids = BidSet.model_validate_json((work / "out" / "bids.json").read_text())
    assert bids.delivery_day.isoformat() == "2021-05-05"
    assert check_bid_set(bids, profile) == []
    price = data.series["da_price_per_mwh"]
    awards = pd.read_csv(work / "out" / "awards.csv")
    for curve in bids.curves:
        if curve.product_id != "da_energy":
            continue
        stamp = pd.Timestamp(curve.interval_start).tz_convert("UTC")
        expected = curve.cleared_mw(float(price[stamp]))
        rows = awards[
            (awards["product_id"] == "da_energy")
            & (pd.to_datetime(awards["interval_start"], utc=True) == stamp)
            & (awards["side"] == curve.side)
        ]
        got = float(rows["quantity_mw"].sum()) if len(rows) else 0.0
        assert got == pytest.approx(expected, abs=1e-9), (stamp, curve.side)


def test_demo_figures_add_up(demo_run: tuple[Path, subprocess.CompletedProcess[str], str]) -> None:
    work, _, _ = demo_run
    summary = json.loads((work / "out" / "summary.json").read_text())
    assert summary["intervals"] == 96 and summary["reconciles"] is True
    market = (
        Decimal(summary["market_energy"])
        + sum(Decimal(v) for v in summary["market_reserves"].values())
        + Decimal(summary["market_imbalance"])
    )
    assert market == Decimal(summary["market_total"])
    flexibility = Decimal(summary["market_total"]) - Decimal(summary["baseline_value"])
    assert flexibility == Decimal(summary["flexibility_value"])
    statements = json.loads((work / "out" / "statements.json").read_text())
    assert sum(Decimal(s["total"]) for s in statements) == flexibility
    for statement in statements:
        assert sum(Decimal(line["amount"]) for line in statement["lines"]) == Decimal(
            statement["total"]
        )
    # The market energy figure is reproducible from the awards file alone.
    awards = pd.read_csv(work / "out" / "awards.csv")
    energy = awards[awards["product_id"] == "da_energy"]
    signed = energy["quantity_mw"].where(energy["side"] == "sell", -energy["quantity_mw"])
    assert Decimal(summary["market_energy"]) == Decimal(
        str(round(float((signed * energy["price"]).sum() * 0.25), 2))
    )


def test_demo_is_stored_and_a_rerun_changes_nothing(
    demo_run: tuple[Path, subprocess.CompletedProcess[str], str],
    run_vpp: RunVpp,
) -> None:
    work, _, url = demo_run
    engine = make_engine(url)
    with Session(engine) as session:
        stored = BidRepository(session).get("haute-borne-park:de-lu:2021-05-05")
        assert stored.status == "awarded"
        before = len(session.exec(select(StatementRow)).all())
        aggregator = StatementRepository(session).get(
            "aggregator", "aggregator:haute-borne-park:de-lu:2021-05-05:v1"
        )
        assert aggregator.status == "issued"
    again = run_vpp("demo", "--out", "out2", cwd=work, env={"VPP_DATABASE_URL": url})
    assert again.returncode == 0, again.stderr
    with Session(engine) as session:
        assert len(session.exec(select(StatementRow)).all()) == before
    engine.dispose()
    first = json.loads((work / "out" / "summary.json").read_text())
    second = json.loads((work / "out2" / "summary.json").read_text())
    assert first["statements"] == second["statements"]

    # each run writes console keys for every role, readable by the owner only, and the
    # previous run's keys no longer sign in
    old, new = (_console_keys(work / folder / "console-keys.txt") for folder in ("out", "out2"))
    assert set(new) == {
        "operator",
        "settlement",
        "steel",
        "cellco",
        "datacentre",
        "depot",
        "parkco",
    }
    assert ((work / "out2" / "console-keys.txt").stat().st_mode & 0o777) == 0o600
    assert "/console" in again.stdout
    engine = make_engine(url)
    now = datetime.now(UTC)
    with Session(engine) as session:
        keys = ApiKeyRepository(session)
        assert not keys.get(_key_id(old["operator"])).usable_at(now)
        assert keys.get(_key_id(new["operator"])).usable_at(now)
        assert keys.get(_key_id(new["cellco"])).enterprise_id == "cellco"
    engine.dispose()


def _console_keys(path: Path) -> dict[str, str]:
    rows = [line.split("\t") for line in path.read_text().splitlines() if not line.startswith("#")]
    return {who: key for who, key in rows}


def _key_id(key: str) -> str:
    return key.removeprefix("vpp_").split(".")[0]


def test_demo_refuses_a_day_without_prices(tmp_path: Path, run_vpp: RunVpp) -> None:
    result = run_vpp(
        "demo",
        "--day",
        "2021-04-30",
        "--out",
        "out",
        cwd=tmp_path,
        env={"VPP_DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite'}"},
    )
    assert result.returncode == 2
    assert "da_price_per_mwh has no value at 2021-04-29T22:00:00+00:00" in result.stderr
    assert not (tmp_path / "out").exists()


def test_demo_month_has_metered_consumption_for_the_zero_carbon_report(
    demo_run: tuple[Path, subprocess.CompletedProcess[str], str],
    run_vpp: RunVpp,
) -> None:
    work, _, url = demo_run
    env = {"VPP_DATABASE_URL": url}
    args = ("settle", "--month", "2021-05", "--override-incomplete", "--by", "demo check")
    result = run_vpp(*args, cwd=work, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "zero-carbon indicators" in result.stdout
    assert "not available" not in result.stdout
    assert "On-site renewables share of load" in result.stdout
    assert "note: consumption readings are declared, not measured" in result.stdout
