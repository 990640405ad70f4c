"""The live park source: a park as the enterprises enrolled it, read from the service database.

This is the :class:`vpp.domain.ports.ParkSource` the running service bids from. It assembles
the same :class:`~vpp.domain.park_data.ParkData` a park file gives, but every part comes from
what the users wrote through the API:

* the park, its enterprises, their enrolled assets (with nomination and verification),
  contracts, consent records and declared outages;
* the market's stored price series (``day_ahead_price_per_mwh`` and one
  ``<product>_price_per_mw_h`` per reserve product), as columns of the same names;
* each tenant's inflexible load: its consumption meter's measured readings (column
  ``load_mw__<enterprise>``), else its declared load (a flagged cold start), else nothing;
* each PV and wind asset's metered output (column ``generation_mw__<asset>``);
* the park-wide weather forecasts (site ``park``; columns ``weather__<variable>``) as known at
  ``as_of``: for each
  instant the latest issue made by then, so a forecast never sees a later weather run.

The forecast issue time is the park's own, or the pipeline policy's forecast time kept an hour
before the earliest gate closure of the products the market has enabled.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from vpp.db.engine import session_scope
from vpp.db.metering_tables import ConsumptionMeterRow
from vpp.db.repositories import (
    AssetRepository,
    ConsentRepository,
    ConsumptionRepository,
    ContractRepository,
    MarketSeriesRepository,
    ParkRepository,
    TelemetryRepository,
    WeatherRepository,
)
from vpp.db.repositories.outages import OutageRepository
from vpp.domain.assets import PvSpec, WindSpec
from vpp.domain.market import CONFIG_DIR, MarketProfile, MarketTime, load_market_profile
from vpp.domain.park import AGGREGATOR_ID, ConsentRecord, Contract, EnrolledAsset, Park
from vpp.domain.park_data import LoadSource, Outage, ParkData, ParkFile, PriceColumns
from vpp.domain.pipeline import load_pipeline_policy
from vpp.domain.portfolio import Portfolio
from vpp.domain.ports import DAY_AHEAD_PRICE, PARK_WEATHER_SITE, reserve_price_series

HISTORY_DAYS = 120
"""History the day-ahead forecasts are given [days before ``as_of``]."""
AHEAD_DAYS = 3
"""Days after ``as_of`` read too: published prices and weather forecasts of the days ahead."""
MEASURED = ("measured", "estimated", "substituted")
"""Reading qualities that count as metered history (not declared or simulated)."""


def _column(kind: str, name: str) -> str:
    # models take columns as feature names, and LightGBM refuses ':' and brackets in those
    return f"{kind}__{name.replace(':', '_')}"


def load_column(enterprise_id: str) -> str:
    """Series column of a tenant's metered inflexible load [MW, magnitude]."""
    return _column("load_mw", enterprise_id)


def generation_column(asset_id: str) -> str:
    """Series column of a PV or wind asset's metered output [MW]."""
    return _column("generation_mw", asset_id)


def weather_column(variable: str) -> str:
    """Series column of a weather variable (``temperature``, ``irradiance``, ``wind_speed``)."""
    return _column("weather", variable)


def default_forecast_issue(profile: MarketProfile, config_dir: Path | None) -> MarketTime:
    """The policy's forecast time, moved to an hour before the earliest enabled gate closure."""
    policy = load_pipeline_policy(profile.market_id, config_dir or CONFIG_DIR)
    gates = [profile.day_ahead.gate_closure] + [
        p.gate_closure for p in profile.enabled_products() if p.gate_closure is not None
    ]
    wanted = policy.forecast_at
    earliest = min(gates, key=lambda g: -g.minutes_before_delivery())
    if wanted.minutes_before_delivery() >= earliest.minutes_before_delivery() + 60:
        return wanted
    minutes = -earliest.minutes_before_delivery() - 60
    day_offset, clock = divmod(minutes, 1440)
    return MarketTime(day_offset=day_offset, time=f"{clock // 60:02d}:{clock % 60:02d}")


class DatabaseParkSource:
    """Reads parks from the service database (``engine``); market profiles from ``config_dir``."""

    def __init__(
        self, engine: Engine, config_dir: Path | None = None, history_days: int = HISTORY_DAYS
    ) -> None:
        self.engine = engine
        self.config_dir = config_dir
        self.history_days = history_days

    def park_ids(self) -> list[str]:
        """Ids of every stored park."""
        with session_scope(self.engine) as session:
            return ParkRepository(session).list_ids()

    def load(
        self, park_id: str, as_of: pd.Timestamp, *, history_days: int | None = None
    ) -> ParkData:
        """The park ``park_id`` as stored, with its series on the window around ``as_of``
        (``history_days`` before it; default: the source's)."""
        as_of = pd.Timestamp(as_of).tz_convert("UTC")
        days = self.history_days if history_days is None else history_days
        start = (as_of - timedelta(days=days)).floor("D")
        end = (as_of + timedelta(days=AHEAD_DAYS)).ceil("D")
        with session_scope(self.engine) as session:
            park = ParkRepository(session).get(park_id)
            profile = load_market_profile(park.market_id, self.config_dir)
            portfolio = _portfolio(session, park)
            columns, loads, generation = _metered(session, portfolio, start, end)
            prices = MarketSeriesRepository(session).read(park.market_id, start, end)
            outages = tuple(
                Outage(o.asset_id, o.start, o.end, o.reason)
                for o in OutageRepository(session).overlapping_for_park(
                    park_id, start.to_pydatetime(), end.to_pydatetime()
                )
            )
            weather = WeatherRepository(session).read(
                park_id, start, end, as_of, site_id=PARK_WEATHER_SITE
            )
        reserves = {
            p.id: reserve_price_series(p.id)
            for p in profile.enabled_products()
            if p.kind != "energy" and reserve_price_series(p.id) in prices.columns
        }
        frame = _grid_frame(
            {
                **{name: prices[name] for name in prices.columns},
                **{weather_column(v): weather[v] for v in weather.columns},
                **columns,
            },
            start,
            end,
            profile.interval_minutes,
        )
        if DAY_AHEAD_PRICE not in frame:
            frame[DAY_AHEAD_PRICE] = float("nan")
        definition = ParkFile(
            park=park,
            series="database",
            prices=PriceColumns(day_ahead=DAY_AHEAD_PRICE, reserves=reserves),
            weather={v: weather_column(v) for v in weather.columns},
            loads=loads,
            generation=generation,
            forecast_issue=park.forecast_issue or default_forecast_issue(profile, self.config_dir),
            assets=portfolio.assets,
            contracts=portfolio.contracts,
            consents=portfolio.consents,
        )
        return ParkData(definition, portfolio, frame, f"database park {park_id}", outages)


def _portfolio(session: Session, park: Park) -> Portfolio:
    """The park's enrolled assets, contracts and consents (consents cut to enrolled assets)."""
    tenants = [e for e in park.enterprises if e.id != AGGREGATOR_ID]
    park = park.model_copy(update={"enterprises": tenants})
    assets: list[EnrolledAsset] = []
    contracts: list[Contract] = []
    consents: list[ConsentRecord] = []
    for enterprise in tenants:
        assets.extend(AssetRepository(session).list_for_enterprise(enterprise.id))
        contracts.extend(ContractRepository(session).list_for_enterprise(enterprise.id))
        consents.extend(c for _, c in ConsentRepository(session).list_for_enterprise(enterprise.id))
    enrolled = {a.spec.id for a in assets}
    kept = []
    for consent in consents:
        named = [a for a in consent.asset_ids if a in enrolled]
        if named:
            kept.append(consent.model_copy(update={"asset_ids": named}))
    return Portfolio(park=park, assets=assets, contracts=contracts, consents=kept)


def _metered(
    session: Session, portfolio: Portfolio, start: pd.Timestamp, end: pd.Timestamp
) -> tuple[dict[str, pd.Series], list[LoadSource], dict[str, str]]:
    """Metered tenant loads and renewable output as columns, with their load sources."""
    columns: dict[str, pd.Series] = {}
    loads: list[LoadSource] = []
    meters = {
        row.enterprise_id: row.id
        for row in session.exec(
            sa.select(ConsumptionMeterRow).where(  # type: ignore[call-overload]
                col(ConsumptionMeterRow.park_id) == portfolio.park.id,
                col(ConsumptionMeterRow.kind) == "tenant",
            )
        ).scalars()
    }
    for enterprise in portfolio.park.enterprises:
        meter = meters.get(enterprise.id)
        readings = (
            ConsumptionRepository(session).read(
                meter, start.to_pydatetime(), end.to_pydatetime(), MEASURED
            )
            if meter
            else pd.Series(dtype="float64")
        )
        if len(readings):
            columns[load_column(enterprise.id)] = readings
            loads.append(LoadSource(enterprise_id=enterprise.id, column=load_column(enterprise.id)))
        elif enterprise.declared_load is not None:
            loads.append(LoadSource(enterprise_id=enterprise.id, declared=enterprise.declared_load))
    generation: dict[str, str] = {}
    telemetry = TelemetryRepository(session)
    for enrolled in portfolio.assets:
        if isinstance(enrolled.spec, PvSpec | WindSpec):
            frame = telemetry.read_frame(enrolled.spec.id, start, end)
            metered = frame.loc[frame["quality"].isin(MEASURED), "power_mw"]
            if len(metered):
                columns[generation_column(enrolled.spec.id)] = metered
                generation[enrolled.spec.id] = generation_column(enrolled.spec.id)
    return columns, loads, generation


def _grid_frame(
    columns: dict[str, pd.Series], start: pd.Timestamp, end: pd.Timestamp, minutes: int
) -> pd.DataFrame:
    """All columns on one regular UTC grid of ``minutes`` over ``[start, end)``.

    Series on a coarser step (hourly prices in a 15-minute market) are held over their hour;
    finer ones keep the readings that fall on the grid.
    """
    grid = pd.date_range(start, end, freq=f"{minutes}min", inclusive="left", tz="UTC", unit="us")
    out: dict[str, pd.Series] = {}
    for name, series in columns.items():
        series = series[~series.index.duplicated(keep="last")].sort_index()
        series.index = series.index.as_unit("us")
        step = _step_minutes(series)
        if step is not None and step > minutes:
            out[name] = series.reindex(grid, method="ffill", limit=step // minutes - 1).where(
                _covered(grid, series, step)
            )
        else:
            out[name] = series.reindex(grid)
    frame = pd.DataFrame(out, index=grid)
    frame.index.name = "timestamp"
    last = frame.dropna(how="all").index
    return frame.loc[: last[-1]] if len(last) else frame


def _step_minutes(series: pd.Series) -> int | None:
    if len(series) < 2:
        return None
    step = pd.Series(series.index).diff().dropna().median()
    return int(step / pd.Timedelta(minutes=1))


def _covered(grid: pd.DatetimeIndex, series: pd.Series, step: int) -> pd.Series:
    """Whether each grid instant lies inside an interval the coarse ``series`` labels."""
    starts = grid.floor(f"{step}min")
    return pd.Series(starts.isin(series.index), index=grid)
