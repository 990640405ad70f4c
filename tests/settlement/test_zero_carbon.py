"""The zero-carbon report against a four-hour park worked out by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from vpp.domain.errors import InvalidInputError
from vpp.domain.market import load_market_profile
from vpp.domain.zero_carbon import zero_carbon_report

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
