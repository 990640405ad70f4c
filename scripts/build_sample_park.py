"""Build the bundled sample-park time series used by ``vpp demo``.

Reads licence-clean public datasets from ``../shared/data`` (beside the checkout; override with
``--shared-data DIR``) and writes ``vpp/samples/sample_park/series.csv.gz``: a canonical
15-minute CSV for the market days 2021-03-01 .. 2021-05-31 in Europe/Berlin (the window holds
the 2021-03-28 spring DST change, whose market day has 92 quarter-hours).

Columns (see DATA_SOURCES.md for sources, licences and every transformation):

- ``da_price_per_mwh``          DE-LU day-ahead price [EUR/MWh] (green-dcc / RTE eco2mix)
- ``fcr_price_per_mw_h``        German FCR settlement capacity price [EUR/MW per hour]
- ``steel_load_mw``             UCI DAEWOO steel plant load, scaled x20 [MW]
- ``wind_mw``                   ENGIE La Haute Borne plant meter, 8.2 MW [MW, 15-min mean]
- ``era5_wind_speed_100m_m_s``  ERA5 100 m wind speed at the wind farm [m/s]
- ``era5_temperature_2m_c``     ERA5 2 m air temperature at the wind farm [degC]
- ``pv_mw``                     MODELLED 3 MWp rooftop PV (pvlib) [MW, AC]

The output is deterministic: values are rounded, the CSV uses ``\\n`` line ends and the gzip
header carries no file name and a zero modification time, so every run gives the same bytes.

Usage::

    .venv/bin/python scripts/build_sample_park.py [--shared-data DIR] [--output FILE]
"""

from __future__ import annotations

import argparse
import gzip
import warnings
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pvlib

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
DEFAULT_OUTPUT = REPO_ROOT / "vpp" / "samples" / "sample_park" / "series.csv.gz"

MARKET_TZ = "Europe/Berlin"
FIRST_DAY = date(2021, 3, 1)
LAST_DAY = date(2021, 5, 31)
STEP = pd.Timedelta(minutes=15)
HOUR = pd.Timedelta(hours=1)

PRICE_FILE = "prices/greendcc_DE-LU_2020_2024.csv.gz"
FCR_FILE = "ancillary/regelleistung_fcr_results_2021.csv.gz"
STEEL_FILE = "load/uci_steel_industry_daewoo_2018_15min.csv.gz"
WIND_METER_FILE = "wind/engie_la_haute_borne_plant_meter_2014_2015_10min.csv.gz"
ERA5_FILE = "wind/era5_la_haute_borne_2014_2015_hourly.csv.gz"
ASSET_FILE = "wind/engie_la_haute_borne_asset_table.csv"
TMY3_FILE = Path(pvlib.__file__).resolve().parent / "data" / "723170TYA.CSV"

# Whole-week shifts keep weekdays aligned: 2018-01-01 (Mon) -> 2021-01-04 (Mon),
# 2015-03-02 (Mon) -> 2021-03-01 (Mon).
STEEL_SHIFT = pd.Timedelta(weeks=157)  # 1099 days
WIND_SHIFT = pd.Timedelta(weeks=313)  # 2191 days

STEEL_SCALE = 20.0  # one DAEWOO plant -> a park-size steel mill
KWH_PER_15MIN_TO_MW = 4.0 / 1000.0
KELVIN_OFFSET = 273.15

PV_PEAK_DC_MW = 3.0
PV_TILT_DEG = 15.0
PV_AZIMUTH_DEG = 180.0  # south
PV_ALBEDO = 0.2
PV_GAMMA_PDC_PER_C = -0.0037
PV_DC_AC_RATIO = 1.1
PV_INVERTER_EFFICIENCY = 0.96
PV_CELL_U_C = 20.0  # PVsyst heat-loss factor, semi-integrated roof mount [W/m2/K]
PV_WIND_SPEED_M_S = 1.0  # fixed near-roof wind speed for the cell temperature
KT_MAX = 1.1  # clip for the hourly clear-sky index (cloud enhancement)
KT_MIN_CLEARSKY_GHI_W_M2 = 50.0  # below this the hourly ratio is noise; use the daily index

COLUMN_DECIMALS = {
    "da_price_per_mwh": 2,
    "fcr_price_per_mw_h": 4,
    "steel_load_mw": 4,
    "wind_mw": 4,
    "era5_wind_speed_100m_m_s": 3,
    "era5_temperature_2m_c": 2,
    "pv_mw": 4,
}


def market_grid() -> pd.DatetimeIndex:
    """UTC starts of every quarter-hour of the market days FIRST_DAY .. LAST_DAY (Berlin)."""
    tz = ZoneInfo(MARKET_TZ)
    start = pd.Timestamp(datetime.combine(FIRST_DAY, time(0), tzinfo=tz)).tz_convert("UTC")
    end_day = LAST_DAY + timedelta(days=1)
    end = pd.Timestamp(datetime.combine(end_day, time(0), tzinfo=tz)).tz_convert("UTC")
    return pd.date_range(start, end, freq=STEP, inclusive="left", name="timestamp")


def localize_berlin(naive: pd.Series) -> pd.Series:
    """Naive Berlin wall-clock times -> UTC; nonexistent or ambiguous clock times become NaT."""
    local = pd.DatetimeIndex(naive).tz_localize(MARKET_TZ, nonexistent="NaT", ambiguous="NaT")
    return pd.Series(local.tz_convert("UTC"), index=naive.index)


def series_at(values: np.ndarray, stamps: pd.Series) -> pd.Series:
    """``values`` indexed by the UTC ``stamps``, leaving out rows whose stamp is NaT."""
    keep = stamps.notna().to_numpy()
    return pd.Series(values[keep], index=pd.DatetimeIndex(stamps[keep]))


# --- day-ahead price ---------------------------------------------------------------------------


def day_ahead_price_per_mwh(shared: Path, grid: pd.DatetimeIndex) -> pd.Series:
    """DE-LU hourly day-ahead price [EUR/MWh], each quarter-hour holding its hour's price.

    The file is naive local time. The nonexistent spring hour (02:00 on 2021-03-28) is present
    upstream as a copy of 01:00 and is dropped; an autumn hour listed twice cannot be told apart
    and is dropped too (the sample window has no autumn change). Missing hours stay NaN.
    """
    raw = pd.read_csv(shared / PRICE_FILE)
    start_utc = localize_berlin(pd.to_datetime(raw["Datetime"], format="%Y-%m-%d %H:%M:%S"))
    price = series_at(raw["Price (EUR/MWh)"].to_numpy(float), start_utc)
    price = price[~price.index.duplicated(keep=False)]
    return pd.Series(price.reindex(grid.floor("h")).to_numpy(), index=grid)


# --- FCR capacity price ------------------------------------------------------------------------


def fcr_price_per_mw_h(shared: Path, grid: pd.DatetimeIndex) -> pd.Series:
    """German FCR settlement capacity price per hour of the block [EUR/MW/h].

    The tender price is EUR/MW for a 4-hour block of local (CET/CEST) time. It is divided by the
    block's real length in hours: 4 normally, 3 for the 00-04 block of a spring DST day (and 5
    in autumn), so the sum over the block's quarter-hours x 0.25 h still equals the tender price.
    Only first tenders (TENDER_NUMBER == 1) are used; ``-`` means no price.
    """
    raw = pd.read_csv(shared / FCR_FILE, sep=";", dtype=str)
    raw = raw[raw["TENDER_NUMBER"].astype(int) == 1]
    day = pd.to_datetime(raw["DATE_FROM"], format="%d-%m-%Y")
    hours = raw["PRODUCTNAME"].str.extract(r"NEGPOS_(\d\d)_(\d\d)").astype(int)
    start = localize_berlin(day + pd.to_timedelta(hours[0], unit="h"))
    end = localize_berlin(day + pd.to_timedelta(hours[1], unit="h"))
    price_per_mw = pd.to_numeric(
        raw["DE_SETTLEMENTCAPACITY_PRICE_[EUR/MW]"].replace("-", None), errors="coerce"
    )
    block_hours = (end - start) / HOUR
    per_hour = price_per_mw / block_hours
    pieces = [
        pd.Series(value, index=pd.date_range(s, e, freq=STEP, inclusive="left"))
        for s, e, value in zip(start, end, per_hour, strict=True)
    ]
    quarter = pd.concat(pieces)
    if quarter.index.has_duplicates:
        raise ValueError("overlapping FCR blocks after filtering on TENDER_NUMBER == 1")
    return quarter.reindex(grid)


# --- steel load ---------------------------------------------------------------------------------


def steel_load_mw(shared: Path, grid: pd.DatetimeIndex) -> pd.Series:
    """DAEWOO steel load [MW] x STEEL_SCALE, moved from 2018 to 2021 keeping the wall clock.

    Rows are kWh per 15 min labelled by the interval END in naive Korean time (no DST). The last
    row is written 31/12/2018 00:00 but is 2019-01-01 00:00 (UCI quirk) and is relabelled. The
    start time is shifted by 157 weeks and read as Berlin wall-clock time, so shifts stay at the
    same local hours; the nonexistent hour of the spring DST day is dropped.
    """
    raw = pd.read_csv(shared / STEEL_FILE, encoding="utf-8-sig")
    end = pd.to_datetime(raw["date"], format="%d/%m/%Y %H:%M")
    if end.iloc[-1] < end.iloc[-2]:
        end.iloc[-1] = end.iloc[-2] + STEP
    start_local = end - STEP + STEEL_SHIFT
    start_utc = localize_berlin(start_local)
    mw = raw["Usage_kWh"].to_numpy(float) * KWH_PER_15MIN_TO_MW * STEEL_SCALE
    load = series_at(mw, start_utc)
    if load.index.has_duplicates:
        raise ValueError("duplicate steel timestamps after the shift")
    return load.reindex(grid)


# --- wind farm meter ----------------------------------------------------------------------------


def wind_mw(shared: Path, grid: pd.DatetimeIndex) -> pd.Series:
    """La Haute Borne net plant energy as mean power per quarter-hour [MW], shifted 313 weeks.

    Each 10-min energy reading (UTC, interval start) is split into two equal 5-min halves, and a
    quarter-hour sums its three halves, so a block straddling two quarter-hours is shared pro
    rata. A quarter-hour with any missing part is NaN; nothing is filled.
    """
    raw = pd.read_csv(shared / WIND_METER_FILE)
    start = pd.DatetimeIndex(pd.to_datetime(raw["time_utc"], utc=True)) + WIND_SHIFT
    energy_kwh = pd.Series(raw["net_energy_kwh"].to_numpy(float), index=start)
    full = pd.date_range(start.min(), start.max(), freq="10min")
    energy_kwh = energy_kwh.reindex(full)
    halves = pd.Series(
        np.repeat(energy_kwh.to_numpy() / 2.0, 2),
        index=(full.repeat(2) + pd.to_timedelta(np.tile([0, 5], len(full)), unit="min")),
    )
    quarter_kwh = halves.resample(STEP, label="left", closed="left").sum(min_count=3)
    complete = halves.resample(STEP, label="left", closed="left").count() == 3
    quarter_mw = quarter_kwh.where(complete) / (STEP / HOUR) / 1000.0
    return quarter_mw.reindex(grid)


# --- ERA5 ---------------------------------------------------------------------------------------


def era5_hourly(shared: Path) -> pd.DataFrame:
    """ERA5 at the wind farm, shifted 313 weeks: 100 m wind speed [m/s], 2 m temperature [degC]."""
    raw = pd.read_csv(shared / ERA5_FILE)
    index = pd.DatetimeIndex(pd.to_datetime(raw["datetime"])).tz_localize("UTC") + WIND_SHIFT
    return pd.DataFrame(
        {
            "era5_wind_speed_100m_m_s": raw["ws_100m"].to_numpy(float),
            "era5_temperature_2m_c": raw["t_2m"].to_numpy(float) - KELVIN_OFFSET,
        },
        index=index,
    )


def era5_quarter_hours(era5: pd.DataFrame, grid: pd.DatetimeIndex) -> pd.DataFrame:
    """Each quarter-hour takes its (UTC) hour's ERA5 value."""
    return era5.reindex(grid.floor("h")).set_axis(grid)


# --- modelled PV --------------------------------------------------------------------------------


def park_location(shared: Path) -> pvlib.location.Location:
    """Mean coordinates and elevation of the La Haute Borne turbines."""
    assets = pd.read_csv(shared / ASSET_FILE)
    return pvlib.location.Location(
        latitude=round(float(assets["Latitude"].mean()), 4),
        longitude=round(float(assets["Longitude"].mean()), 4),
        altitude=float(assets["elevation_m"].mean()),
        tz="UTC",
        name="La Haute Borne",
    )


def solar_time_of_year_h(times: pd.DatetimeIndex, longitude_deg: float) -> np.ndarray:
    """Local apparent solar time at ``longitude_deg`` as hours since Jan 1 00:00 [h].

    Counted from Jan 1 of the times' (median) year and wrapped into a 365-day year, so the
    first hours of a year that fall on Dec 31 in solar time land at the end of the same year.
    """
    utc = times.tz_convert("UTC")
    eot_min = pvlib.solarposition.equation_of_time_spencer71(utc.day_of_year)
    offset = pd.to_timedelta(longitude_deg * 4.0 + np.asarray(eot_min), unit="min")
    solar = (utc + offset).tz_localize(None)
    new_year = pd.Timestamp(year=int(np.median(solar.year)), month=1, day=1)
    return np.asarray(np.mod((solar - new_year) / HOUR, 365 * 24.0), dtype=float)


def tmy3_clear_sky_index() -> pd.DataFrame:
    """Hourly clear-sky index kt = GHI / clear-sky GHI at Greensboro NC (pvlib's TMY3 file).

    TMY3 values are hourly sums labelled by the hour END in local standard time; clear sky is
    taken at the hour's midpoint. Where the clear-sky GHI is below KT_MIN_CLEARSKY_GHI_W_M2 the
    hourly ratio is noise, so the day's index (sum GHI / sum clear-sky GHI) is used instead.
    Returns columns ``solar_start_h`` (solar time of year at the hour's start) and ``kt``,
    sorted by solar time.
    """
    data, meta = pvlib.iotools.read_tmy3(TMY3_FILE, coerce_year=2021, map_variables=True)
    site = pvlib.location.Location(meta["latitude"], meta["longitude"], altitude=meta["altitude"])
    midpoint = data.index - HOUR / 2
    clear = site.get_clearsky(midpoint, model="ineichen")["ghi"].to_numpy()
    ghi = data["ghi"].to_numpy(float)
    day = pd.Index(midpoint.day_of_year)
    daily_ghi = pd.Series(ghi).groupby(day).transform("sum").to_numpy()
    daily_clear = pd.Series(clear).groupby(day).transform("sum").to_numpy()
    daily_kt = np.divide(daily_ghi, daily_clear, out=np.zeros_like(ghi), where=daily_clear > 0)
    hourly_kt = np.divide(ghi, clear, out=np.zeros_like(ghi), where=clear > 0)
    kt = np.where(clear >= KT_MIN_CLEARSKY_GHI_W_M2, hourly_kt, daily_kt)
    start = solar_time_of_year_h(data.index - HOUR, meta["longitude"])
    table = pd.DataFrame({"solar_start_h": start, "kt": np.clip(kt, 0.0, KT_MAX)})
    return table.sort_values("solar_start_h", kind="stable").reset_index(drop=True)


def lookup_kt(table: pd.DataFrame, solar_h: np.ndarray) -> np.ndarray:
    """kt of the Greensboro hour covering the same solar time of year."""
    position = np.searchsorted(table["solar_start_h"].to_numpy(), solar_h, side="right") - 1
    return table["kt"].to_numpy()[np.clip(position, 0, len(table) - 1)]


def pv_mw(shared: Path, grid: pd.DatetimeIndex, temperature_2m_c: pd.Series) -> pd.Series:
    """MODELLED AC output of a 3 MWp, 15 deg south-facing rooftop PV at the park [MW].

    Evaluated at each quarter-hour's midpoint: Ineichen clear sky (pvlib Linke turbidity
    climatology) x the Greensboro TMY3 clear-sky index at the same solar time of year, Erbs
    decomposition, Hay-Davies transposition, physical IAM on the beam, PVsyst cell temperature
    from ERA5 t_2m, PVWatts DC with the PVWatts default losses (~14 %) and the PVWatts inverter.
    """
    site = park_location(shared)
    mid = grid + STEP / 2
    sun = site.get_solarposition(mid)
    clear_ghi = site.get_clearsky(mid, model="ineichen", solar_position=sun)["ghi"]
    kt = lookup_kt(tmy3_clear_sky_index(), solar_time_of_year_h(mid, site.longitude))
    ghi = clear_ghi * kt
    split = pvlib.irradiance.erbs(ghi, sun["zenith"], mid)
    dni_extra = pvlib.irradiance.get_extra_radiation(mid)
    poa = pvlib.irradiance.get_total_irradiance(
        PV_TILT_DEG,
        PV_AZIMUTH_DEG,
        sun["apparent_zenith"],
        sun["azimuth"],
        dni=split["dni"],
        ghi=ghi,
        dhi=split["dhi"],
        dni_extra=dni_extra,
        albedo=PV_ALBEDO,
        model="haydavies",
    )
    aoi = pvlib.irradiance.aoi(PV_TILT_DEG, PV_AZIMUTH_DEG, sun["apparent_zenith"], sun["azimuth"])
    effective = poa["poa_direct"] * pvlib.iam.physical(aoi) + poa["poa_diffuse"]
    effective = effective.fillna(0.0).clip(lower=0.0)
    temp_air_c = pd.Series(temperature_2m_c.to_numpy(), index=mid)
    temp_cell_c = pvlib.temperature.pvsyst_cell(
        effective, temp_air_c, wind_speed=PV_WIND_SPEED_M_S, u_c=PV_CELL_U_C, u_v=0.0
    )
    pdc0_w = PV_PEAK_DC_MW * 1e6
    dc_w = pvlib.pvsystem.pvwatts_dc(effective, temp_cell_c, pdc0_w, PV_GAMMA_PDC_PER_C)
    dc_w = dc_w * (1.0 - pvlib.pvsystem.pvwatts_losses() / 100.0)
    inverter_pdc0_w = pdc0_w / PV_DC_AC_RATIO / PV_INVERTER_EFFICIENCY
    ac_w = pvlib.inverter.pvwatts(dc_w, inverter_pdc0_w, PV_INVERTER_EFFICIENCY)
    return pd.Series(np.clip(ac_w.to_numpy(), 0.0, None) / 1e6, index=grid)


# --- assembly -----------------------------------------------------------------------------------


def build(shared: Path) -> pd.DataFrame:
    """All sample columns on the market grid (UTC index ``timestamp``), rounded for output."""
    grid = market_grid()
    era5 = era5_quarter_hours(era5_hourly(shared), grid)
    with warnings.catch_warnings():
        # pvlib 0.16 still calls DatetimeIndex.dayofyear, deprecated in pandas 3; harmless here.
        warnings.filterwarnings("ignore", message=r".*dayofyear is deprecated")
        pv = pv_mw(shared, grid, era5["era5_temperature_2m_c"])
    frame = pd.DataFrame(
        {
            "da_price_per_mwh": day_ahead_price_per_mwh(shared, grid),
            "fcr_price_per_mw_h": fcr_price_per_mw_h(shared, grid),
            "steel_load_mw": steel_load_mw(shared, grid),
            "wind_mw": wind_mw(shared, grid),
            "era5_wind_speed_100m_m_s": era5["era5_wind_speed_100m_m_s"],
            "era5_temperature_2m_c": era5["era5_temperature_2m_c"],
            "pv_mw": pv,
        },
        index=grid,
    )
    for column, decimals in COLUMN_DECIMALS.items():
        frame[column] = frame[column].round(decimals) + 0.0  # + 0.0 turns -0.0 into 0.0
    return frame


def to_csv_text(frame: pd.DataFrame) -> str:
    """Canonical CSV: Berlin-local ISO 8601 timestamps with offset, empty cell = missing."""
    out = frame.copy()
    out.index = [t.isoformat() for t in frame.index.tz_convert(MARKET_TZ)]
    out.index.name = "timestamp"
    return out.to_csv(lineterminator="\n", na_rep="")


def write_gzip(text: str, path: Path) -> None:
    """Gzip ``text`` with a fixed header (no name, mtime 0) so the bytes are reproducible."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with (
        path.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz,
    ):
        gz.write(text.encode("utf-8"))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared-data", type=Path, default=DEFAULT_SHARED_DATA, metavar="DIR")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, metavar="FILE")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> Path:
    args = parse_args(argv)
    if not args.shared_data.is_dir():
        raise SystemExit(f"shared data folder not found: {args.shared_data}")
    frame = build(args.shared_data)
    write_gzip(to_csv_text(frame), args.output)
    print(f"wrote {len(frame)} rows x {frame.shape[1]} columns to {args.output}")
    return args.output


if __name__ == "__main__":
    main()
