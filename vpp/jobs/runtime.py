"""Composition of the scheduled pipelines: one per park stored in the service database.

Parks come from the database (:class:`~vpp.db.park_source.DatabaseParkSource`): a park created
through the API is scheduled from the next tick on, one imported with ``vpp park import`` the
same. ``VPP_PARKS`` names park files imported (idempotently) when the service starts. With
``VPP_EXCHANGE_URL`` set, bids go to that exchange over HTTP (signed with
``VPP_EXCHANGE_SECRET``); otherwise a simulated exchange clears them against the stored market
prices, which is a replay: the settle stage may then simulate missing meter readings (flagged,
never over measured ones). With ``VPP_DEVICES`` set, setpoints reach the devices over the
protocols its bindings name (:func:`device_channel`); otherwise, and for assets it does not
bind, they are recorded.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
from sqlalchemy.engine import Engine

from adapters.dispatch.bindings import DeviceNetwork, load_bindings
from adapters.dispatch.recording import RecordingChannel
from adapters.market.http_gateway import HttpMarketGateway
from adapters.market.simulated import SimulatedExchange
from vpp.db.engine import session_scope
from vpp.db.enrolment_store import DatabaseEnrolment
from vpp.db.park_source import DatabaseParkSource
from vpp.db.repositories import BidRepository, MarketSeriesRepository, ParkRepository
from vpp.domain.bids import BidSet
from vpp.domain.errors import InvalidInputError, NotFoundError
from vpp.domain.market import load_market_profile
from vpp.domain.pipeline import load_pipeline_policy
from vpp.domain.ports import DAY_AHEAD_PRICE, DispatchChannel, MarketGateway, reserve_price_series
from vpp.jobs.alerts import Alerter
from vpp.jobs.pipeline import DayAheadPipeline
from vpp.services.day_ahead_cycle import run_key
from vpp.services.park_file import load_park
from vpp.services.park_import import ImportReport, import_park
from vpp.settings import Settings


def simulated_exchange(engine: Engine, park_id: str, config_dir: Path | None) -> SimulatedExchange:
    """A simulated exchange for one park: stored market prices, submissions from the bid records."""

    def prices(market_id: str, day: date) -> tuple[pd.Series, dict[str, pd.Series]]:
        profile = load_market_profile(market_id, config_dir)
        intervals = profile.day_intervals(day)
        start, end = intervals[0] - timedelta(days=1), intervals[-1] + timedelta(days=1)
        with session_scope(engine) as session:
            frame = MarketSeriesRepository(session).read(market_id, start, end)
        if DAY_AHEAD_PRICE not in frame:
            raise NotFoundError(
                f"no {DAY_AHEAD_PRICE} stored for {market_id} around {day}",
                hint=f"upload prices: POST /v1/markets/{market_id}/prices",
            )
        grid = pd.date_range(start, end, freq=f"{profile.interval_minutes}min", tz="UTC")
        filled = frame.reindex(frame.index.union(grid)).sort_index().ffill(limit=3).reindex(grid)
        reserves = {
            p.id: filled[reserve_price_series(p.id)]
            for p in profile.products
            if p.kind != "energy" and reserve_price_series(p.id) in filled
        }
        return filled[DAY_AHEAD_PRICE], reserves

    def ledger(market_id: str, day: date) -> BidSet | None:
        with session_scope(engine) as session:
            try:
                bids = BidRepository(session).get(run_key(park_id, market_id, day))
            except NotFoundError:
                return None
        return bids if bids.status in ("submitted", "awarded") else None

    return SimulatedExchange(prices=prices, ledger=ledger)


def gateway_for(settings: Settings, engine: Engine, park_id: str) -> tuple[MarketGateway, bool]:
    """The exchange named by the settings, or a simulated one; and whether this is a replay."""
    if settings.exchange_url:
        if settings.exchange_secret is None:
            raise InvalidInputError(
                "VPP_EXCHANGE_URL is set but VPP_EXCHANGE_SECRET is not",
                hint="set the HMAC secret the exchange gave you",
            )
        gateway = HttpMarketGateway(
            settings.exchange_url,
            settings.exchange_participant,
            settings.exchange_secret.get_secret_value(),
        )
        return gateway, False
    return simulated_exchange(engine, park_id, settings.config_dir), True


def import_configured_parks(settings: Settings, engine: Engine) -> list[ImportReport]:
    """Import the park files named by ``VPP_PARKS`` (idempotent: stored data is kept)."""
    reports = []
    for path in settings.parks:
        data = load_park(path)
        profile = load_market_profile(data.park.market_id, settings.config_dir)
        with session_scope(engine) as session:
            reports.append(import_park(data, DatabaseEnrolment(session), tz=profile.timezone))
    return reports


def build_pipeline(
    settings: Settings,
    engine: Engine,
    park_id: str,
    *,
    channel: DispatchChannel | None = None,
    export_dir: Path | None = None,
    source: DatabaseParkSource | None = None,
) -> DayAheadPipeline:
    """The pipeline of one stored park."""
    source = source or DatabaseParkSource(engine, settings.config_dir)
    with session_scope(engine) as session:
        market_id = ParkRepository(session).get(park_id).market_id
    profile = load_market_profile(market_id, settings.config_dir)
    policy = load_pipeline_policy(profile.market_id, settings.config_dir)
    alerter = Alerter(
        engine,
        str(policy.webhook_url) if policy.webhook_url is not None else settings.alert_webhook_url,
    )
    gateway, replay = gateway_for(settings, engine, park_id)
    return DayAheadPipeline(
        engine=engine,
        park_id=park_id,
        source=source,
        profile=profile,
        policy=policy,
        gateway=gateway,
        channel=channel or RecordingChannel(),
        alerter=alerter,
        export_dir=export_dir,
        simulated_meter=replay,
    )


def build_pipelines(
    settings: Settings,
    engine: Engine,
    *,
    channel: DispatchChannel | None = None,
    export_dir: Path | None = None,
) -> list[DayAheadPipeline]:
    """One pipeline per park stored in the database."""
    source = DatabaseParkSource(engine, settings.config_dir)
    return [
        build_pipeline(
            settings, engine, park_id, channel=channel, export_dir=export_dir, source=source
        )
        for park_id in source.park_ids()
    ]


@contextmanager
def device_channel(settings: Settings) -> Iterator[DispatchChannel]:
    """The dispatch channel of ``VPP_DEVICES``, its servers running while the block runs."""
    fallback = RecordingChannel()
    if settings.devices is None:
        yield fallback
        return
    with DeviceNetwork(load_bindings(settings.devices), fallback) as network:
        yield network.channel
