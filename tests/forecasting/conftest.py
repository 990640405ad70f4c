"""Fixtures for the forecasting tests: small deterministic series and the real steel-plant load.

The synthetic series are built from fixed formulas and a seeded generator so every test run
sees the same numbers; the real series comes from ../shared/data and skips when it is absent.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

STEEL_FILE = "load/uci_steel_industry_daewoo_2018_15min.csv.gz"


def synthetic_load(
    start: str = "2024-01-01", days: int = 60, tz: str = "Asia/Shanghai", seed: int = 3
) -> pd.DataFrame:
    """15-min industrial load [MW] with a day shift, lower weekends and AR(1) noise.

    Also a ``temp_c`` exog column (a smooth daily temperature) that nudges the load.
    """
    index = pd.date_range(
        pd.Timestamp(start, tz=tz), periods=days * 96, freq="15min", name="timestamp"
    ).tz_convert("UTC")
    local = index.tz_convert(tz)
    hour = (local.hour + local.minute / 60).to_numpy()
    weekday = local.day_of_week.to_numpy()
    shift = np.where((hour >= 8) & (hour < 20), 6.0, 2.0)
    weekend = np.where(weekday >= 5, 0.5, 1.0)
    temp = 10 + 8 * np.sin(2 * np.pi * (hour - 9) / 24)
    rng = np.random.default_rng(seed)
    noise = np.zeros(len(index))
    for t in range(1, len(index)):
        noise[t] = 0.8 * noise[t - 1] + 0.3 * rng.standard_normal()
    load = 3 + shift * weekend + 0.05 * temp + noise
    return pd.DataFrame({"load_mw": load, "temp_c": temp}, index=index)


def read_steel_load(path: Path) -> pd.DataFrame:
    """The UCI steel-plant load as a canonical frame: UTC interval starts, ``load_kw``.

    The file labels interval *ends* in Korean time, day first, and writes the last row
    (really 2019-01-01 00:00) as 31/12/2018 00:00; one row is missing and becomes NaN.
    """
    raw = pd.read_csv(path, usecols=[0, 1])
    raw.columns = ["date", "usage_kwh"]
    end = pd.to_datetime(raw["date"], format="%d/%m/%Y %H:%M")
    end.iloc[-1] += pd.Timedelta(days=1)
    starts = (end - pd.Timedelta(minutes=15)).dt.tz_localize("Asia/Seoul").dt.tz_convert("UTC")
    frame = pd.DataFrame(
        {"load_kw": raw["usage_kwh"].to_numpy() * 4.0},
        index=pd.DatetimeIndex(starts, name="timestamp"),
    )
    grid = pd.date_range(frame.index[0], frame.index[-1], freq="15min", name="timestamp")
    return frame.reindex(grid)


@pytest.fixture(scope="session")
def make_load() -> Callable[..., pd.DataFrame]:
    """The synthetic load builder, for tests that need another span."""
    return synthetic_load


@pytest.fixture(scope="session")
def load_frame() -> pd.DataFrame:
    """60 days of synthetic 15-min load in Asia/Shanghai from 2024-01-01."""
    return synthetic_load()


@pytest.fixture(scope="session")
def steel_load(shared_data: Path) -> pd.DataFrame:
    """The real 2018 steel-plant load (15 min, UTC, ``load_kw``)."""
    return read_steel_load(shared_data / STEEL_FILE)
