"""The sample park's meter history: tenant consumption and generation for a month, by source."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from vpp.domain.market import load_market_profile
from vpp.services.park_file import load_park
from vpp.services.park_meters import delivered_consumption, month_history

PROFILE = load_market_profile("de-lu")


def test_sample_park_month_history_covers_may_2021() -> None:
    data = load_park()
    grid, consumption, generation = month_history(data, PROFILE, date(2021, 5, 5))
    assert len(grid) == 31 * 96 and grid[0] == pd.Timestamp("2021-04-30 22:00", tz="UTC")
    assert set(consumption) == {"steel", "cellco", "datacentre", "depot"}
    # steel: its metered column (the arc furnace's declared baseline is zero: its draw is in it)
    steel = consumption["steel"]
    assert steel.quality == "measured"
    assert steel.power_mw.tolist() == data.series["steel_load_mw"].reindex(grid).tolist()
    # datacentre: declared 2.0 MW plus the cooling's 0.5 MW baseline set-point
    assert consumption["datacentre"].quality == "declared"
    assert consumption["datacentre"].power_mw.unique().tolist() == [pytest.approx(2.5)]
    # depot: only its EV fleet, charging as soon as plugged in; never negative
    assert consumption["depot"].power_mw.min() >= 0 and consumption["depot"].power_mw.max() > 0
    assert not any(s.power_mw.isna().any() for s in consumption.values())
    assert set(generation) == {"pv-cellco", "wind-park"}
    assert generation["pv-cellco"].power_mw.sum() == pytest.approx(
        data.series["pv_mw"].reindex(grid).clip(lower=0).sum()
    )


def test_dispatched_day_consumption_counts_flexible_loads_as_delivered() -> None:
    data = load_park()
    index = pd.date_range("2021-05-04 22:00", periods=2, freq="15min", tz="UTC")
    delivered = pd.DataFrame(
        {"load:steel": [-10.0, -10.0], "arc-furnace": [4.0, 0.0], "bess-park": [1.0, 1.0]},
        index=index,
    )
    got = delivered_consumption(data, delivered)
    assert got["steel"].tolist() == [6.0, 10.0]  # curtailed by 4 MW in the first interval
    assert "parkco" not in got  # a battery is not consumption
