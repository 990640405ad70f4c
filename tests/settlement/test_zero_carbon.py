"""The zero-carbon report against a four-hour park and a small month, worked out by hand."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from vpp.domain.errors import InvalidInputError
from vpp.domain.market import load_market_profile
from vpp.domain.zero_carbon import zero_carbon_report
from vpp.services.settle_month import MonthInputs, month_intervals, zero_carbon_month

CARBON = load_market_profile("cn-shandong").carbon_green  # 0.5366 t/MWh, 0.1229 tce/MWh
INDEX = pd.date_range("2026-03-18 02:00", periods=4, freq="60min", tz="UTC")
LOAD = pd.Series([10.0, 10.0, 10.0, 10.0], index=INDEX)
PV = pd.Series([0.0, 5.0, 15.0, 20.0], index=INDEX)


def test_balance_and_indicators_by_hand() -> None:
    # self-consumed min(load, pv) = 0 + 5 + 10 + 10 = 25 MWh; import 10 + 5 = 15; export 5 + 10.
    report = zero_carbon_report(LOAD, PV, CARBON, 60, certificates=5)
    assert (report.load_mwh, report.generation_mwh) == (40.0, 40.0)
    assert (report.self_consumed_mwh, report.grid_import_mwh, report.export_mwh) == (25, 15, 15)
    # emissions (15 - 5 certificates) x 0.5366 = 5.366 t; energy 40 x 0.1229 = 4.916 tce.
    assert report.emissions_t == pytest.approx(5.366)
    carbon = report.indicator("carbon_per_tce")
    assert carbon.value == pytest.approx(5.366 / 4.916)
    assert carbon.threshold == 0.20 and carbon.met is False
    clean = report.indicator("clean_energy_share")  # (25 + 5) / 40
    assert clean.value == pytest.approx(0.75) and clean.met is False
    self_use = report.indicator("self_use_of_generation")  # 25 / 40 >= 0.60
    assert self_use.value == pytest.approx(0.625) and self_use.met is True
    share = report.indicator("share_of_load")  # 25 / 40 >= 0.30
    assert share.value == pytest.approx(0.625) and share.threshold == 0.30 and share.met
    export = report.indicator("export_share")  # 15 / 40 > 0.20
    assert export.value == pytest.approx(0.375) and export.met is False


def test_certificates_green_no_more_than_imports() -> None:
    report = zero_carbon_report(LOAD, PV, CARBON, 60, certificates=20, year=2031)
    assert report.green_mwh == 15.0  # capped at the 15 MWh imported
    assert report.indicator("clean_energy_share").value == pytest.approx(1.0)
    assert report.indicator("carbon_per_tce").value == 0.0
    assert report.indicator("carbon_per_tce").met is True
    assert report.indicator("share_of_load").threshold == 0.35  # stricter from 2030


def test_missing_intervals_are_refused() -> None:
    gappy = LOAD.copy()
    gappy.iloc[2] = float("nan")
    with pytest.raises(InvalidInputError, match="1 intervals lack"):
        zero_carbon_report(gappy, PV, CARBON, 60)


def small_month(**changes: object) -> MonthInputs:
    """February 2026 (28 days): load 10 MW always; PV 12 + 8 MW from 12:00 to 13:00 local."""
    grid = month_intervals("2026-02", "Asia/Shanghai", 15)
    noon = grid.tz_convert("Asia/Shanghai").hour == 12
    inputs = MonthInputs(
        month="2026-02",
        market_id="cn-shandong",
        currency="CNY",
        timezone="Asia/Shanghai",
        interval_minutes=15,
        enterprises=[],
        contracts={},
        day_statements={},
        asset_owner={},
        generation_mw=pd.DataFrame({"pv-1": noon * 12.0, "pv-2": noon * 8.0}, index=grid),
        load_mw=pd.Series(10.0, index=grid),
        telemetry_quality=frozenset({"measured"}),
    )
    return replace(inputs, **changes)


def test_small_month_by_hand() -> None:
    # Per day: load 240 MWh; PV 20 MW x 1 h = 20 MWh, of which min(10, 20) x 1 h = 10 MWh is
    # used on site and 10 exported; import 230. Times 28 days:
    report = zero_carbon_month(small_month(), CARBON)
    assert report.load_mwh == pytest.approx(6720) and report.generation_mwh == pytest.approx(560)
    assert report.self_consumed_mwh == pytest.approx(280)
    assert report.export_mwh == pytest.approx(280)
    assert report.grid_import_mwh == pytest.approx(6440)
    # 6440 MWh x 0.5366 t/MWh = 3455.704 t over 6720 MWh x 0.1229 tce/MWh = 825.888 tce.
    assert report.emissions_t == pytest.approx(3455.704)
    expected = {
        "carbon_per_tce": (3455.704 / 825.888, "fail"),
        "clean_energy_share": (280 / 6720, "fail"),  # no certificates stored
        "self_use_of_generation": (0.5, "fail"),  # < 0.60
        "share_of_load": (280 / 6720, "fail"),  # < 0.30
        "export_share": (0.5, "fail"),  # > 0.20
    }
    for key, (value, status) in expected.items():
        item = report.indicator(key)
        assert item.value == pytest.approx(value) and item.status == status, key
    assert report.indicator("self_use_of_generation").threshold_text == ">= 60.0%"
    assert report.notes == ()


def test_month_without_consumption_data_is_not_available_with_reason() -> None:
    report = zero_carbon_month(
        small_month(load_mw=None, telemetry_quality=frozenset({"simulated"})), CARBON
    )
    assert report.generation_mwh == pytest.approx(560)  # known on its own
    assert report.load_mwh is None and report.emissions_t is None
    for item in report.indicators:
        assert item.value is None and item.status == "not available"
        assert item.reason is not None and "consumption is not stored" in item.reason
        assert item.threshold is not None  # the threshold is still shown
    assert report.notes == ("on-site generation readings are simulated, not measured",)


def test_generation_gaps_make_the_month_not_available() -> None:
    base = small_month()
    assert base.generation_mw is not None
    gappy = base.generation_mw.copy()
    gappy.iloc[5:8, 0] = float("nan")
    report = zero_carbon_month(replace(base, generation_mw=gappy), CARBON)
    reason = report.indicator("share_of_load").reason
    assert reason == "3 of 2688 intervals lack on-site generation readings"
    assert report.generation_mwh is None


def test_a_park_without_renewables_has_zero_generation_not_missing() -> None:
    grid = month_intervals("2026-02", "Asia/Shanghai", 15)
    report = zero_carbon_month(small_month(generation_mw=pd.DataFrame(index=grid)), CARBON)
    assert report.generation_mwh == 0.0
    assert report.indicator("share_of_load").value == 0.0
    assert report.indicator("self_use_of_generation").reason == (
        "no on-site renewable generation this month"
    )
