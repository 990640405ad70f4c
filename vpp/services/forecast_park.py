"""Forecast everything a park's day-ahead bid needs, as known at one issue time.

For each input of the bid: the day-ahead energy price, each reserve product's capacity price,
each tenant's inflexible load (metered history, or its declared schedule when it has none, which
the forecast flags as a cold start) and each PV or wind asset's available output. From
:data:`FLEET_MODEL_FROM` metered tenants on, one global LightGBM serves all their meters
(``forecasting.forecast_fleet_day_ahead``) instead of a model chosen per tenant; likewise from
:data:`PV_FLEET_MODEL_FROM` PV plants on, one model of the clear-sky index serves them all
(``forecasting.forecast_pv_fleet_day_ahead``). All forecasts
share the issue time, which must fall before the earliest gate closure of the products bid.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from multiprocessing import get_context
from typing import Any, TypeVar

import pandas as pd

from forecasting import (
    PvSystem,
    forecast_day_ahead,
    forecast_fleet_day_ahead,
    forecast_pv_fleet_day_ahead,
)
from vpp.domain.assets import PvSpec, WindSpec
from vpp.domain.errors import ForecastUnavailableError, InvalidInputError
from vpp.domain.forecast import Forecast
from vpp.domain.market import MarketProfile
from vpp.services.park_file import ParkData

T = TypeVar("T")
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
#: Metered tenants from which one global model forecasts all their loads [count].
FLEET_MODEL_FROM = 12
#: PV plants from which one model of the clear-sky index serves them all
#: (``forecasting.forecast_pv_fleet_day_ahead``) instead of one model per plant [count].
PV_FLEET_MODEL_FROM = 12
#: Independent series forecasts from which they run in worker processes [count]: below it,
#: starting the workers (~2 s each, for their imports) costs more than it saves.
PARALLEL_FROM = 16
#: Market prices older than this at the issue time are stale: the forecast refuses them [days].
STALE_PRICES_AFTER_DAYS = 7


def check_recent(series: pd.Series, issue: pd.Timestamp, what: str, hint: str) -> None:
    """Refuse a market series whose latest value known at ``issue`` is older than
    :data:`STALE_PRICES_AFTER_DAYS`: a forecast from it would only repeat old prices."""
    known = series[series.index < issue].dropna()
    if known.empty:
        return  # the model itself says no history is known
    age = issue - known.index[-1]
    if age > pd.Timedelta(days=STALE_PRICES_AFTER_DAYS):
        raise ForecastUnavailableError(
            f"the latest {what} known at {issue.isoformat()} is from "
            f"{known.index[-1].isoformat()}, {age.days} days earlier",
            hint=hint,
        )


@dataclass(frozen=True)
class ParkForecasts:
    """All forecasts of one park for one delivery day, issued together."""

    day: date
    issue_time: pd.Timestamp
    price: Forecast
    reserve_prices: dict[str, Forecast] = field(default_factory=dict)
    loads: dict[str, Forecast] = field(default_factory=dict)
    generation: dict[str, Forecast] = field(default_factory=dict)

    def all(self) -> dict[str, Forecast]:
        """Every forecast by a readable key."""
        return {
            "price": self.price,
            **{f"reserve:{k}": v for k, v in self.reserve_prices.items()},
            **{f"load:{k}": v for k, v in self.loads.items()},
            **{f"generation:{k}": v for k, v in self.generation.items()},
        }

    @classmethod
    def from_stored(cls, day: date, stored: dict[str, Forecast]) -> ParkForecasts:
        """Rebuild the forecasts of ``day`` from :meth:`all`'s keys (as a forecast store keeps
        them)."""
        if "price" not in stored:
            raise InvalidInputError(
                f"no price forecast was stored for {day}", hint="run the forecast stage first"
            )
        price = stored["price"]

        def part(prefix: str) -> dict[str, Forecast]:
            return {k.removeprefix(prefix): f for k, f in stored.items() if k.startswith(prefix)}

        return cls(
            day,
            price.issue_time,
            price,
            part("reserve:"),
            part("load:"),
            part("generation:"),
        )

    def inflexible_load_mw(self) -> pd.Series:
        """Median forecast of the tenants' inflexible consumption, summed [MW, magnitude]."""
        total = sum(
            (f.median for f in self.loads.values()),
            pd.Series(0.0, index=self.price.quantiles.index),
        )
        return total.rename("load_mw")


def issue_time_for(data: ParkData, profile: MarketProfile, day: date) -> pd.Timestamp:
    """The park's forecast issue time for ``day``; refuses one after any enabled gate closure."""
    issue = data.definition.forecast_issue.on(day, profile.timezone)
    gates = [profile.gate_closure(day)] + [
        p.gate_closure.on(day, profile.timezone)
        for p in profile.enabled_products()
        if p.gate_closure is not None
    ]
    earliest = min(gates)
    if issue >= earliest:
        raise InvalidInputError(
            f"forecast issue time {issue.isoformat()} is not before the earliest gate closure "
            f"{earliest.isoformat()} of {day}",
            hint="move forecast_issue earlier in the park file",
        )
    return issue


def forecast_park(
    data: ParkData, profile: MarketProfile, day: date, *, workers: int | None = None
) -> ParkForecasts:
    """Issue every forecast the bid for delivery ``day`` needs, using only data known then.

    The forecasts of single series (price, reserve prices, loads without the fleet model,
    every PV and wind asset) are independent: from :data:`PARALLEL_FROM` of them on they run
    in ``workers`` processes (default: one per CPU), while this process fits the fleet load
    model. The result does not depend on the number of workers.
    """
    issue = issue_time_for(data, profile, day)
    tz, step = profile.timezone, profile.interval_minutes
    series = data.series
    country = profile.country
    jobs: dict[str, tuple[pd.DataFrame, dict[str, Any]]] = {}

    def run(
        key: str,
        column: str,
        model: str = "auto",
        exog: tuple[str, ...] = (),
        pv_system: PvSystem | None = None,
    ) -> None:
        options = {
            "model": model,
            "exog": exog,
            "interval_minutes": step,
            "quantiles": QUANTILES,
            "holidays_country": country,
            "pv_system": pv_system,
        }
        jobs[key] = (series[[column, *exog]], {"target": column, **options})

    prices = data.definition.prices
    upload = f"upload recent prices: POST /v1/markets/{profile.market_id}/prices"
    check_recent(series[prices.day_ahead], issue, prices.day_ahead, upload)
    run("price", prices.day_ahead, model="auto")
    reserve_ids = [
        product_id
        for product_id in prices.reserves
        if any(p.id == product_id for p in profile.enabled_products())
    ]
    for product_id in reserve_ids:
        run(f"reserve:{product_id}", prices.reserves[product_id], model="naive_daily")
    metered = [load for load in data.definition.loads if load.column is not None]
    fleet = len(metered) >= FLEET_MODEL_FROM
    if not fleet:
        for load in metered:
            assert load.column is not None
            run(f"load:{load.enterprise_id}", load.column, model="auto")
    wind_speed = data.definition.weather.get("wind_speed")
    specs = {a.spec.id: a.spec for a in data.portfolio.assets}
    plants = {
        asset_id: PvSystem(
            spec.latitude, spec.longitude, spec.tilt_deg, spec.azimuth_deg, spec.capacity_mw
        )
        for asset_id in data.definition.generation
        if isinstance(spec := specs[asset_id], PvSpec)
    }
    pv_fleet = len(plants) >= PV_FLEET_MODEL_FROM
    for asset_id, column in data.definition.generation.items():
        spec = specs[asset_id]
        if isinstance(spec, PvSpec):
            if not pv_fleet:
                run(f"generation:{asset_id}", column, model="auto", pv_system=plants[asset_id])
        elif isinstance(spec, WindSpec) and wind_speed is not None:
            run(f"generation:{asset_id}", column, exog=(wind_speed,))
        else:
            run(f"generation:{asset_id}", column, model="auto")
    heavy = fleet and pv_fleet  # two large fits: one here, one in a worker
    with _pool(len(jobs) + (PARALLEL_FROM if heavy else 0), workers) as pool:
        pv_pending = None
        if pv_fleet:
            histories = {
                asset_id: series[[data.definition.generation[asset_id]]].set_axis(
                    ["output_mw"], axis=1
                )
                for asset_id in plants
            }
            # the shared fit is the longest job: it may use every core once the rest is done
            threads = workers if workers is not None else (os.cpu_count() or 1)
            options = {"interval_minutes": step, "quantiles": QUANTILES, "threads": threads}
            pv_pending = pool.submit(
                _forecast_plants, histories, day, tz, issue, plants, country, options
            )
        pending = {
            key: pool.submit(_forecast_one, frame, day, tz, issue, options)
            for key, (frame, options) in jobs.items()
        }
        loads: dict[str, Forecast] = {}
        if fleet:
            meters = pd.DataFrame({load.enterprise_id: series[load.column] for load in metered})
            loads.update(
                forecast_fleet_day_ahead(
                    meters,
                    day,
                    tz,
                    issue,
                    target="load_mw",
                    interval_minutes=step,
                    quantiles=QUANTILES,
                    holidays_country=country,
                )
            )
        done = {key: future.result() for key, future in pending.items()}
        if pv_pending is not None:
            for asset_id, forecast in pv_pending.result().items():
                done[f"generation:{asset_id}"] = forecast
    for load in data.definition.loads:
        if load.enterprise_id in loads:
            continue
        if load.column is not None:
            loads[load.enterprise_id] = done[f"load:{load.enterprise_id}"]
        else:
            assert load.declared is not None
            index = profile.day_intervals(day)
            declared = load.declared.profile(index, tz)
            empty = pd.DataFrame({"load_mw": pd.Series(float("nan"), index=series.index)})
            loads[load.enterprise_id] = forecast_day_ahead(
                empty,
                "load_mw",
                day,
                tz,
                issue,
                interval_minutes=step,
                quantiles=QUANTILES,
                declared_profile=declared,
            )
    reserves = {product_id: done[f"reserve:{product_id}"] for product_id in reserve_ids}
    generation = {
        asset_id: done[f"generation:{asset_id}"] for asset_id in data.definition.generation
    }
    return ParkForecasts(day, issue, done["price"], reserves, loads, generation)


def _forecast_one(
    frame: pd.DataFrame, day: date, tz: str, issue: pd.Timestamp, options: dict[str, Any]
) -> Forecast:
    target = options.pop("target")
    return forecast_day_ahead(frame, target, day, tz, issue, **options)


def _forecast_plants(
    histories: dict[str, pd.DataFrame],
    day: date,
    tz: str,
    issue: pd.Timestamp,
    plants: dict[str, PvSystem],
    country: str | None,
    options: dict[str, Any],
) -> dict[str, Forecast]:
    return forecast_pv_fleet_day_ahead(
        histories, "output_mw", day, tz, issue, plants, holidays_country=country, **options
    )


class _Inline:
    """An executor that runs each call at once, in this process."""

    def __enter__(self) -> _Inline:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args))
        except BaseException as error:  # re-raised by result(), as a pool would
            future.set_exception(error)
        return future


def _pool(jobs: int, workers: int | None) -> ProcessPoolExecutor | _Inline:
    """Worker processes for ``jobs`` forecasts, or this process when that would not pay."""
    count = min(workers if workers is not None else (os.cpu_count() or 1), jobs)
    if jobs < PARALLEL_FROM or count < 2:
        return _Inline()
    # spawn, not fork: the service runs threads (scheduler, server), which fork would copy
    return ProcessPoolExecutor(max_workers=count, mp_context=get_context("spawn"))
