"""Inputs and scoring of the renewables benchmark (:mod:`forecasting_renewables`).

The measured side of the PV and wind backtests: where the two plants' data files live, the
site constants (UNISOLAR site 25 in Bundoora, ENGIE La Haute Borne), the loaders that turn the
raw files into hourly UTC frames of target and weather inputs, and the capacity-normalised
scores (nMAE, nRMSE, pinball, P10-P90 coverage, RMSE skill against persistence references)
of a :class:`forecasting.BacktestResult` against the actuals. The script itself runs the
backtests and writes the report.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pvlib
from forecasting_datasets import SHARED

from forecasting import BacktestResult, PvSystem
from forecasting.metrics import coverage, mae, pinball, rmse
from forecasting.pv import clearsky_power
from vpp.domain.timegrid import market_time

DATA = SHARED / "data"
PV_GENERATION = DATA / "pv" / "unisolar_generation_site25_2021_15min.csv.gz"
PV_IRRADIANCE = DATA / "pv" / "unisolar_irradiance_hourly_2020_2022.csv.gz"
WIND_SCADA = DATA / "wind" / "engie_la_haute_borne_scada_2014_2015_10min.csv.gz"
WIND_ERA5 = DATA / "wind" / "era5_la_haute_borne_2014_2015_hourly.csv.gz"

PV_TZ = "Australia/Melbourne"
WIND_TZ = "Europe/Paris"
#: Site 25 from unisolar_site_details.csv; tilt and azimuth are not given there, so a low
#: north-facing rooftop array is assumed (southern hemisphere: azimuth 0 = north).
PV_SITE = PvSystem(
    latitude=-37.71828652,
    longitude=145.0509752,
    tilt_deg=10.0,
    azimuth_deg=0.0,
    capacity_mw=384.12,  # in kW, the unit of the target
    altitude_m=90.0,
)
PV_CAPACITY_KW = PV_SITE.capacity_mw
WIND_CAPACITY_MW = 8.2
WIND_TURBINES = 4
#: Clear-sky GHI below which the GHI clear-sky index is set to 0 [W/m^2].
MIN_CLEAR_GHI = 20.0


# --------------------------------------------------------------------------- data loaders


def read_pv() -> pd.DataFrame:
    """UNISOLAR site 25 hourly on a UTC grid: ``pv_kw`` and the Bundoora GHI inputs.

    The generation file holds kWh per 15 min at naive Australia/Melbourne times; kW is 4x that.
    NaN or missing rows while the sun is below the horizon are read as 0 (nothing recorded at
    night); daytime NaNs stay gaps. An hour counts only if all four quarter-hours are known.
    Columns: ``pv_kw`` [kW], ``ghi_wm2`` [W/m^2], ``ghi_csi`` (GHI over the Ineichen clear-sky
    GHI [-]) and ``cloud_opacity`` [%], the irradiance file's hourly values (UTC, labelled by
    hour start).
    """
    raw = pd.read_csv(PV_GENERATION, usecols=["Timestamp", "SolarGeneration"])
    local = pd.to_datetime(raw["Timestamp"]).dt.tz_localize(
        PV_TZ, ambiguous="NaT", nonexistent="NaT"
    )
    values = pd.Series(raw["SolarGeneration"].to_numpy(dtype=float) * 4.0, index=local)
    values = values.loc[values.index.notna()]
    values.index = pd.DatetimeIndex(values.index).tz_convert("UTC")
    values = values.loc[~values.index.duplicated()]
    grid = pd.date_range("2020-12-31 13:00", "2021-12-31 12:45", freq="15min", tz="UTC")
    quarter = values.reindex(grid)
    sky = clearsky_power(PV_SITE, grid, 15)
    quarter = quarter.where(quarter.notna() | (sky["zenith_deg"] < 90.0), 0.0)
    hourly = quarter.resample("1h").mean().where(quarter.resample("1h").count() == 4)

    irr = pd.read_csv(PV_IRRADIANCE)
    irr = irr.loc[irr["Campus"] == "Bundoora"]
    stamps = pd.DatetimeIndex(pd.to_datetime(irr["Timestamp_UTC"])).tz_localize("UTC")
    ghi = pd.Series(irr["Ghi"].to_numpy(dtype=float), index=stamps)
    opacity = pd.Series(irr["CloudOpacity"].to_numpy(dtype=float), index=stamps)
    ghi = ghi.loc[~ghi.index.duplicated()].reindex(hourly.index)
    opacity = opacity.loc[~opacity.index.duplicated()].reindex(hourly.index)
    site = pvlib.location.Location(PV_SITE.latitude, PV_SITE.longitude, tz="UTC")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clear = site.get_clearsky(hourly.index + pd.Timedelta(minutes=30), model="ineichen")
    clear_ghi = clear["ghi"].to_numpy(dtype=float)
    csi = np.where(clear_ghi > MIN_CLEAR_GHI, ghi.to_numpy() / np.maximum(clear_ghi, 1e-9), 0.0)
    frame = pd.DataFrame(
        {
            "pv_kw": hourly.to_numpy(),
            "ghi_wm2": ghi.to_numpy(),
            "ghi_csi": np.clip(csi, 0.0, 1.5),
            "cloud_opacity": opacity.to_numpy(),
        },
        index=pd.DatetimeIndex(hourly.index, name="timestamp"),
    )
    return frame


def read_wind() -> pd.DataFrame:
    """La Haute Borne hourly on a UTC grid: farm power and two wind-speed inputs.

    Farm power is the sum of the four turbines' 10-min ``P_avg`` [kW -> MW], NaN when any
    turbine is missing; an hour counts only if all six 10-min values are known.
    Columns: ``wind_mw`` [MW], ``ws_era5`` (ERA5 100 m speed [m/s], the mean of the two
    instantaneous values bounding the hour) and ``ws_scada`` (mean nacelle anemometer speed of
    the four turbines [m/s], measured).
    """
    raw = pd.read_csv(WIND_SCADA, usecols=["Wind_turbine_name", "Date_time", "P_avg", "Ws_avg"])
    raw["t"] = pd.to_datetime(raw["Date_time"], utc=True)
    power = raw.pivot_table(index="t", columns="Wind_turbine_name", values="P_avg", aggfunc="mean")
    speed = raw.pivot_table(index="t", columns="Wind_turbine_name", values="Ws_avg", aggfunc="mean")
    grid = pd.date_range("2014-01-01", "2015-12-31 23:50", freq="10min", tz="UTC")
    power = power.reindex(grid)
    speed = speed.reindex(grid)
    farm = power.sum(axis=1, min_count=WIND_TURBINES).where(power.notna().all(axis=1)) / 1000.0
    wind_mw = farm.resample("1h").mean().where(farm.resample("1h").count() == 6)
    ws_scada = speed.mean(axis=1).resample("1h").mean()

    era5 = pd.read_csv(WIND_ERA5, usecols=["datetime", "ws_100m"])
    era_index = pd.DatetimeIndex(pd.to_datetime(era5["datetime"])).tz_localize("UTC")
    ws = pd.Series(era5["ws_100m"].to_numpy(dtype=float), index=era_index)
    ws = ws.loc[~ws.index.duplicated()].reindex(wind_mw.index)
    ws_hour = (ws + ws.shift(-1)) / 2.0
    ws_hour = ws_hour.fillna(ws)
    return pd.DataFrame(
        {"wind_mw": wind_mw, "ws_era5": ws_hour, "ws_scada": ws_scada},
        index=pd.DatetimeIndex(wind_mw.index, name="timestamp"),
    )


# --------------------------------------------------------------------------- scoring


def last_value_persistence(result: BacktestResult, series: pd.Series) -> pd.Series:
    """Persistence: the last known target value before each day's issue time, held over D."""
    known = series.dropna()
    out = pd.Series(np.nan, index=result.actual.index)
    local = out.index.tz_convert(result.tz)
    for day in result.days:
        issue = market_time(day, -1, result.issue_clock, result.tz)
        before = known.loc[known.index < issue]
        if len(before):
            out[local.date == day] = before.iloc[-1]
    return out


def score_rows(
    actual: np.ndarray,
    frame: pd.DataFrame | None,
    point: np.ndarray,
    capacity: float,
    refs: dict[str, np.ndarray],
) -> dict[str, float | None]:
    """Capacity-normalised metrics of one model on the given rows, and RMSE skill vs refs."""
    out: dict[str, float | None] = {
        "nmae": mae(actual, point) / capacity,
        "nrmse": rmse(actual, point) / capacity,
        "pinball": None,
        "coverage_80": None,
    }
    if frame is not None:
        levels = [float(c) for c in frame.columns]
        losses = [pinball(actual, frame[q].to_numpy(float), q) for q in levels]
        out["pinball"] = float(np.mean(losses)) / capacity
        out["coverage_80"] = coverage(
            actual, frame[0.1].to_numpy(float), frame[0.9].to_numpy(float)
        )
    model_rmse = rmse(actual, point)
    for name, ref in refs.items():
        ref_rmse = rmse(actual, ref)
        out[f"skill_vs_{name}"] = 1.0 - model_rmse / ref_rmse if ref_rmse > 0 else None
    return out


def score_variant(
    result: BacktestResult,
    capacity: float,
    extra: dict[str, pd.Series],
    refs: Sequence[str],
    daylight: np.ndarray | None,
) -> dict[str, Any]:
    """Metrics of every model of a backtest on the rows where all of them and the actual exist.

    ``extra`` adds point-only forecasts (persistence); ``refs`` names the forecasts skill is
    measured against; ``daylight`` (PV) adds a second score set on daylight hours only.
    """
    actual = result.actual.to_numpy(dtype=float)
    points = {n: f[0.5].to_numpy(dtype=float) for n, f in result.forecasts.items()}
    points.update({n: s.to_numpy(dtype=float) for n, s in extra.items()})
    rows = np.isfinite(actual)
    for values in points.values():
        rows &= np.isfinite(values)
    subsets = {"all_hours": rows}
    if daylight is not None:
        subsets["daylight"] = rows & daylight
    scores: dict[str, Any] = {}
    for subset, mask in subsets.items():
        ref_points = {r: points[r][mask] for r in refs}
        per_model = {}
        for name, point in points.items():
            frame = result.forecasts[name].loc[mask] if name in result.forecasts else None
            per_model[name] = score_rows(actual[mask], frame, point[mask], capacity, ref_points)
        scores[subset] = {"rows": int(mask.sum()), "models": per_model}
    return scores
