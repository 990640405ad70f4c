"""The bundled sample-park series (vpp/samples/sample_park/series.csv.gz).

Checks the shipped file's format, window, columns and physical ranges; when ../shared/data is
present, that scripts/build_sample_park.py rebuilds the same content, and spot values against
the raw public sources so a wrong time shift or unit fails.
"""

from __future__ import annotations

import importlib.util
import sys
from datetime import date
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from vpp.domain.series import read_series_csv
from vpp.domain.timegrid import horizon_intervals

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIPPED = REPO_ROOT / "vpp" / "samples" / "sample_park" / "series.csv.gz"
SCRIPT = REPO_ROOT / "scripts" / "build_sample_park.py"
TZ = "Europe/Berlin"

COLUMNS = [
    "da_price_per_mwh",
    "fcr_price_per_mw_h",
    "steel_load_mw",
    "wind_mw",
    "era5_wind_speed_100m_m_s",
    "era5_temperature_2m_c",
    "pv_mw",
]
# Physical ranges (inclusive) for the sample window, spring 2021.
RANGES = {
    "da_price_per_mwh": (-100.0, 200.0),
    "fcr_price_per_mw_h": (0.0, 100.0),
    "steel_load_mw": (0.0, 20 * 160 * 4 / 1000),  # x20 the plant's largest 15-min reading
    "wind_mw": (-0.2, 8.2),  # net meter: small negatives are auxiliary consumption
    "era5_wind_speed_100m_m_s": (0.0, 40.0),
    "era5_temperature_2m_c": (-20.0, 40.0),
    "pv_mw": (0.0, 3.0 / 1.1),  # 3 MWp DC, DC/AC ratio 1.1
}


@pytest.fixture(scope="module")
def shipped() -> pd.DataFrame:
    return read_series_csv(SHIPPED)


@pytest.fixture(scope="module")
def local(shipped: pd.DataFrame) -> pd.DataFrame:
    """The shipped frame indexed by Berlin local time."""
    return shipped.set_axis(shipped.index.tz_convert(TZ))


@pytest.fixture(scope="module")
def builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_sample_park", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def rebuilt(builder: ModuleType, shared_data: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sample_park") / "series.csv.gz"
    builder.main(["--shared-data", str(shared_data), "--output", str(out)])
    return out


# --- the shipped file ---------------------------------------------------------------------------


def test_shipped_file_is_commit_sized() -> None:
    assert SHIPPED.stat().st_size < 500_000


def test_covers_exactly_the_window(shipped: pd.DataFrame) -> None:
    expected = horizon_intervals(date(2021, 3, 1), date(2021, 5, 31), TZ)
    assert shipped.index.equals(expected)


def test_has_the_columns_in_order(shipped: pd.DataFrame) -> None:
    assert list(shipped.columns) == COLUMNS


def test_timestamps_are_berlin_local_with_offset() -> None:
    head = pd.read_csv(SHIPPED, dtype=str, nrows=2)
    assert head["timestamp"].tolist() == ["2021-03-01T00:00:00+01:00", "2021-03-01T00:15:00+01:00"]


def test_dst_day_has_92_rows_and_no_local_2am(local: pd.DataFrame) -> None:
    day = local[local.index.date == date(2021, 3, 28)]
    assert len(day) == 92
    assert not (day.index.hour == 2).any()
    assert day.index[8].isoformat() == "2021-03-28T03:00:00+02:00"


@pytest.mark.parametrize("column", COLUMNS)
def test_values_in_physical_range(shipped: pd.DataFrame, column: str) -> None:
    low, high = RANGES[column]
    values = shipped[column].dropna()
    assert values.between(low, high).all(), (values.min(), values.max())


def test_only_documented_gap(shipped: pd.DataFrame, local: pd.DataFrame) -> None:
    """The only missing data: DE-LU price for the market day 2021-04-30 (absent upstream)."""
    complete = [c for c in COLUMNS if c != "da_price_per_mwh"]
    assert not shipped[complete].isna().any().any()
    missing = local.index[local["da_price_per_mwh"].isna()]
    assert len(missing) == 96
    assert set(missing.date) == {date(2021, 4, 30)}


def test_hourly_values_are_constant_within_each_hour(shipped: pd.DataFrame) -> None:
    hourly = ["da_price_per_mwh", "era5_wind_speed_100m_m_s", "era5_temperature_2m_c"]
    spread = shipped[hourly].groupby(shipped.index.floor("h")).nunique(dropna=False)
    assert (spread <= 1).all().all()


def test_fcr_is_constant_within_each_four_hour_block(local: pd.DataFrame) -> None:
    block = local.index.strftime("%Y-%m-%d ") + (local.index.hour // 4).astype(str)
    assert (local["fcr_price_per_mw_h"].groupby(block).nunique() == 1).all()


def test_pv_is_zero_at_night_and_peaks_near_solar_noon(shipped: pd.DataFrame) -> None:
    pv = shipped["pv_mw"]
    utc_hour = pv.index.hour + pv.index.minute / 60 + 7.5 / 60
    assert (pv[(utc_hour < 2) | (utc_hour > 22)] == 0).all()
    profile = pv.groupby(utc_hour).mean()
    centroid_utc_h = float((profile * profile.index).sum() / profile.sum())
    solar_noon_utc_h = 12 - 5.59 / 15  # La Haute Borne, 5.59 deg E
    assert abs(centroid_utc_h - solar_noon_utc_h) < 0.5
    assert pv.max() > 1.5


# --- rebuilding from the shared data ------------------------------------------------------------


@pytest.mark.shared_data
def test_build_reproduces_the_shipped_file(rebuilt: Path, shipped: pd.DataFrame) -> None:
    frame = read_series_csv(rebuilt)
    assert frame.index.equals(shipped.index)
    assert list(frame.columns) == list(shipped.columns)
    for column in shipped.columns:
        np.testing.assert_allclose(
            frame[column].to_numpy(), shipped[column].to_numpy(), atol=1e-3, equal_nan=True
        )


@pytest.mark.shared_data
def test_build_is_byte_deterministic(
    builder: ModuleType, shared_data: Path, rebuilt: Path, tmp_path: Path
) -> None:
    again = tmp_path / "again.csv.gz"
    builder.main(["--shared-data", str(shared_data), "--output", str(again)])
    assert again.read_bytes() == rebuilt.read_bytes()


# --- spot checks against the raw sources --------------------------------------------------------


def value_at(local: pd.DataFrame, iso: str, column: str) -> float:
    return float(local.loc[pd.Timestamp(iso), column])


@pytest.mark.shared_data
def test_price_spot_checks(local: pd.DataFrame, shared_data: Path) -> None:
    raw = pd.read_csv(shared_data / "prices/greendcc_DE-LU_2020_2024.csv.gz")
    price = raw.set_index("Datetime")["Price (EUR/MWh)"]
    # CET hour, all four quarter-hours
    for minute in ("00", "15", "30", "45"):
        stamp = f"2021-03-27T20:{minute}:00+01:00"
        assert value_at(local, stamp, "da_price_per_mwh") == price["2021-03-27 20:00:00"]
    # CEST hour
    assert (
        value_at(local, "2021-04-15T12:30:00+02:00", "da_price_per_mwh")
        == (price["2021-04-15 12:00:00"])
    )
    # after the spring gap, 03:00 CEST takes the 03:00 row, not the upstream 02:00 filler
    assert (
        value_at(local, "2021-03-28T03:00:00+02:00", "da_price_per_mwh")
        == (price["2021-03-28 03:00:00"])
    )


@pytest.mark.shared_data
def test_fcr_spot_checks(local: pd.DataFrame, shared_data: Path) -> None:
    raw = pd.read_csv(shared_data / "ancillary/regelleistung_fcr_results_2021.csv.gz", sep=";")
    raw = raw[raw["TENDER_NUMBER"] == 1].set_index(["DATE_FROM", "PRODUCTNAME"])
    price = raw["DE_SETTLEMENTCAPACITY_PRICE_[EUR/MW]"].astype(float)
    assert value_at(local, "2021-03-27T21:45:00+01:00", "fcr_price_per_mw_h") == pytest.approx(
        price[("27-03-2021", "NEGPOS_20_24")] / 4
    )
    # the 00-04 block of the spring DST day lasts 3 hours
    assert value_at(local, "2021-03-28T03:45:00+02:00", "fcr_price_per_mw_h") == pytest.approx(
        price[("28-03-2021", "NEGPOS_00_04")] / 3, abs=1e-4
    )
    assert value_at(local, "2021-05-10T16:00:00+02:00", "fcr_price_per_mw_h") == pytest.approx(
        price[("10-05-2021", "NEGPOS_16_20")] / 4
    )


@pytest.mark.shared_data
def test_steel_spot_checks(local: pd.DataFrame, shared_data: Path) -> None:
    raw = pd.read_csv(
        shared_data / "load/uci_steel_industry_daewoo_2018_15min.csv.gz", encoding="utf-8-sig"
    )
    kwh = raw.set_index("date")["Usage_kWh"]
    # interval ending 2018-02-26 00:15 (Monday) -> starts 2021-03-01 00:00 (Monday), +157 weeks
    assert value_at(local, "2021-03-01T00:00:00+01:00", "steel_load_mw") == pytest.approx(
        kwh["26/02/2018 00:15"] * 4 / 1000 * 20
    )
    # same wall clock after the DST change: ends 2018-03-25 10:00 -> starts 2021-03-28 09:45 CEST
    assert value_at(local, "2021-03-28T09:45:00+02:00", "steel_load_mw") == pytest.approx(
        kwh["25/03/2018 10:00"] * 4 / 1000 * 20
    )


@pytest.mark.shared_data
def test_wind_and_era5_spot_checks(local: pd.DataFrame, shared_data: Path) -> None:
    meter = pd.read_csv(
        shared_data / "wind/engie_la_haute_borne_plant_meter_2014_2015_10min.csv.gz"
    )
    kwh = meter.set_index("time_utc")["net_energy_kwh"]
    # 2015-03-02 10:00-10:15 UTC = the 10:00 block + half the 10:10 block; +313 weeks
    energy_kwh = kwh["2015-03-02 10:00:00+00:00"] + kwh["2015-03-02 10:10:00+00:00"] / 2
    assert value_at(local, "2021-03-01T11:00:00+01:00", "wind_mw") == pytest.approx(
        energy_kwh * 4 / 1000, abs=1e-4
    )
    era5 = pd.read_csv(shared_data / "wind/era5_la_haute_borne_2014_2015_hourly.csv.gz")
    row = era5.set_index("datetime").loc["2015-04-01 12:00:00"]
    # 2015-04-01 12:00 UTC + 2191 days = 2021-03-31 12:00 UTC = 14:00 CEST
    assert value_at(local, "2021-03-31T14:30:00+02:00", "era5_temperature_2m_c") == pytest.approx(
        row["t_2m"] - 273.15, abs=0.01
    )
    assert value_at(
        local, "2021-03-31T14:30:00+02:00", "era5_wind_speed_100m_m_s"
    ) == pytest.approx(row["ws_100m"], abs=0.001)
