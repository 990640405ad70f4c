"""Loaders that turn the shared public datasets into canonical frames for the forecasting benchmarks.

Each upstream file has its own quirks (interval-end labels, day-first dates, naive local
times); they are handled here, at the edge, so :mod:`forecasting` only ever sees canonical
UTC-indexed frames with interval-start labels.
"""

from __future__ import annotations

import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
STEEL_FILE = SHARED / "data" / "load" / "uci_steel_industry_daewoo_2018_15min.csv.gz"
STEEL_TZ = "Asia/Seoul"
CN_SAIS_FILE = SHARED / "data" / "prices" / "cn_sais2024_clearing_price_15min.csv.gz"
CN_TZ = "Asia/Shanghai"


def read_steel_load(path: Path = STEEL_FILE) -> pd.DataFrame:
    """UCI steel-plant load [kW] on a 15-min UTC grid labelled by interval start.

    The file labels interval ends in Korean time, day first; its last row (really
    2019-01-01 00:00) is written 31/12/2018 00:00; one missing row becomes NaN.
    """
    raw = pd.read_csv(path, usecols=[0, 1])
    raw.columns = ["date", "usage_kwh"]
    end = pd.to_datetime(raw["date"], format="%d/%m/%Y %H:%M")
    end.iloc[-1] += pd.Timedelta(days=1)
    starts = (end - pd.Timedelta(minutes=15)).dt.tz_localize(STEEL_TZ).dt.tz_convert("UTC")
    frame = pd.DataFrame(
        {"load_kw": raw["usage_kwh"].to_numpy() * 4.0},
        index=pd.DatetimeIndex(starts, name="timestamp"),
    )
    grid = pd.date_range(frame.index[0], frame.index[-1], freq="15min", name="timestamp")
    return frame.reindex(grid)


def read_cn_sais(path: Path = CN_SAIS_FILE) -> pd.DataFrame:
    """The Chinese 15-min competition series: ``demand_mw`` [MW] and ``price`` [CNY/MWh].

    The file labels interval ends in China time (the last slot of a day is ``24:00``); the
    result is on the UTC grid labelled by interval start. The price is NaN in the
    competition's hidden test period (from 2023-07-01); demand runs to 2024-04-18. The data is
    marked ⚠ in ../shared/data/README.md: read it in place, never ship it.
    """
    raw = pd.read_csv(path)
    day = pd.to_datetime(raw["day"], format="%Y/%m/%d")
    clock = raw["time"].str.split(":")
    minutes = clock.str[0].astype(int) * 60 + clock.str[1].astype(int)  # 24:00 -> 1440
    end = day + pd.to_timedelta(minutes, unit="min")
    start = pd.DatetimeIndex(end - pd.Timedelta(minutes=15)).tz_localize(CN_TZ).tz_convert("UTC")
    frame = pd.DataFrame(
        {
            "demand_mw": raw["demand"].to_numpy(float),
            "price": raw["clearing price (CNY/MWh)"].to_numpy(float),
        },
        index=pd.DatetimeIndex(start, name="timestamp"),
    ).sort_index()
    grid = pd.date_range(frame.index[0], frame.index[-1], freq="15min", name="timestamp")
    return frame.reindex(grid)


def machine() -> dict[str, str]:
    """Where and when a benchmark ran: UTC date, ``uname -m``, core count, Python."""
    try:
        cores = subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        cores = "unknown"
    return {
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "machine": platform.machine(),
        "nproc": cores,
        "python": platform.python_version(),
    }
