"""A park with many metered tenants is forecast by one global model; a small one per tenant."""

from __future__ import annotations

import dataclasses
from datetime import date

import numpy as np
import pandas as pd
import pytest

from vpp.domain.errors import VppError
from vpp.domain.market import MarketProfile, load_market_profile
from vpp.services import forecast_park as forecast_park_module
from vpp.services.forecast_park import FLEET_MODEL_FROM, PV_FLEET_MODEL_FROM, forecast_park
from vpp.services.park_file import SAMPLE_PARK, LoadSource, ParkData, load_park


def sample() -> tuple[ParkData, MarketProfile, date]:
    """The sample park, its market and its demo day."""
    data = load_park(SAMPLE_PARK)
    assert data.definition.demo_day is not None
    return data, load_market_profile("de-lu"), data.definition.demo_day


def many_tenants(data: ParkData, n: int) -> ParkData:
    """The sample park with ``n`` metered tenants: the steel meter scaled, shifted and noisy."""
    rng = np.random.default_rng(0)
    base = data.series["steel_load_mw"]
    series = data.series.copy()
    loads = []
    for k in range(n):
        column = f"tenant_{k}_mw"
        shifted = base.shift(int(rng.integers(0, 8)))
        noise = rng.normal(0.0, 0.05, len(base))
        series[column] = (shifted * rng.uniform(0.2, 2.0) + noise).clip(lower=0.0)
        loads.append(LoadSource(enterprise_id=f"tenant-{k}", column=column))
    definition = data.definition.model_copy(update={"loads": loads})
    return dataclasses.replace(data, definition=definition, series=series)


def test_many_metered_tenants_share_one_global_model() -> None:
    data, profile, day = sample()
    park = many_tenants(data, FLEET_MODEL_FROM)
    forecasts = forecast_park(park, profile, day)
    intervals = profile.day_intervals(day)
    assert set(forecasts.loads) == {f"tenant-{k}" for k in range(FLEET_MODEL_FROM)}
    for forecast in forecasts.loads.values():
        assert forecast.model == "lgbm_global"
        assert forecast.issue_time == forecasts.issue_time
        assert forecast.quantiles.index.equals(intervals)
        assert forecast.median.notna().all()
        q = forecast.quantiles
        assert (q[0.1] <= q[0.5] + 1e-9).all() and (q[0.5] <= q[0.9] + 1e-9).all()
    # the meters differ, so do their forecasts
    medians = pd.DataFrame({k: f.median for k, f in forecasts.loads.items()})
    assert medians.std(axis=1).mean() > 0.0


def test_a_small_park_keeps_one_model_per_tenant() -> None:
    data, profile, day = sample()
    forecasts = forecast_park(data, profile, day)
    assert forecasts.loads["steel"].model != "lgbm_global"
    assert {"cellco", "datacentre"} <= set(forecasts.loads)


def test_worker_processes_give_the_same_forecasts(monkeypatch) -> None:
    """Single-series forecasts run in worker processes from PARALLEL_FROM on; the result is
    the same forecast for forecast as in this process."""
    data, profile, day = sample()
    park = many_tenants(data, 4)  # below the fleet model: one model per tenant
    monkeypatch.setattr(forecast_park_module, "PARALLEL_FROM", 2)
    inline = forecast_park(park, profile, day, workers=1)
    pooled = forecast_park(park, profile, day, workers=2)
    assert set(pooled.all()) == set(inline.all())
    for key, forecast in inline.all().items():
        other = pooled.all()[key]
        assert other.model == forecast.model
        pd.testing.assert_frame_equal(other.quantiles, forecast.quantiles)


def test_a_failing_forecast_in_a_worker_keeps_its_message_and_hint(monkeypatch) -> None:
    data, profile, day = sample()
    park = many_tenants(data, 4)
    series = park.series.copy()
    series["tenant_0_mw"] = np.nan  # nothing known: no model can be trained
    park = dataclasses.replace(park, series=series)
    monkeypatch.setattr(forecast_park_module, "PARALLEL_FROM", 2)
    with pytest.raises(VppError) as pooled:
        forecast_park(park, profile, day, workers=2)
    with pytest.raises(VppError) as inline:
        forecast_park(park, profile, day, workers=1)
    assert type(pooled.value) is type(inline.value)
    assert pooled.value.message == inline.value.message
    assert pooled.value.hint == inline.value.hint


def many_plants(data: ParkData, n: int) -> ParkData:
    """The sample park with ``n`` PV plants: the sample plant's output rescaled and noisy."""
    rng = np.random.default_rng(1)
    source = next(a for a in data.portfolio.assets if a.spec.id == "pv-cellco")
    series = data.series.copy()
    assets = [a for a in data.portfolio.assets if a.spec.type != "pv"]
    generation = {k: v for k, v in data.definition.generation.items() if k != "pv-cellco"}
    for k in range(n):
        capacity = float(rng.uniform(0.5, 3.0))
        spec = source.spec.model_copy(
            update={
                "id": f"pv-{k}",
                "capacity_mw": capacity,
                "azimuth_deg": float(rng.uniform(150, 210)),
            }
        )
        assets.append(source.model_copy(update={"spec": spec}))
        column = f"pv_{k}_mw"
        scaled = series["pv_mw"] / source.spec.capacity_mw * capacity
        noise = rng.normal(1.0, 0.05, len(scaled))
        series[column] = (scaled * noise).clip(lower=0.0, upper=capacity)
        generation[f"pv-{k}"] = column
    portfolio = data.portfolio.model_copy(update={"assets": assets})
    definition = data.definition.model_copy(update={"generation": generation})
    return dataclasses.replace(data, portfolio=portfolio, definition=definition, series=series)


def test_many_pv_plants_share_one_model_of_the_clear_sky_index() -> None:
    data, profile, day = sample()
    park = many_plants(data, PV_FLEET_MODEL_FROM)
    forecasts = forecast_park(park, profile, day, workers=1)
    plants = {a.spec.id: a.spec for a in park.portfolio.assets if a.spec.type == "pv"}
    assert set(forecasts.generation) >= set(plants)
    night = forecasts.generation["pv-0"].median.index.tz_convert("Europe/Berlin").hour < 4
    for asset_id, spec in plants.items():
        forecast = forecasts.generation[asset_id]
        assert forecast.model == "pv_lgbm_global"
        q = forecast.quantiles
        assert q.notna().all().all()
        assert (q.to_numpy() >= 0.0).all() and (q.to_numpy() <= spec.capacity_mw + 1e-9).all()
        assert (q[0.1] <= q[0.5] + 1e-9).all() and (q[0.5] <= q[0.9] + 1e-9).all()
        assert (forecast.median[night] == 0.0).all()
        assert forecast.median.max() > 0.1 * spec.capacity_mw  # a May day has sun
    # a plant twice the size of another is forecast about twice as high
    ratio = forecasts.generation["pv-1"].median.sum() / forecasts.generation["pv-0"].median.sum()
    capacity = plants["pv-1"].capacity_mw / plants["pv-0"].capacity_mw
    assert ratio == pytest.approx(capacity, rel=0.35)
