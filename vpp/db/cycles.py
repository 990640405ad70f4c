"""Storing a day-ahead cycle: the park, its portfolio, bids, awards, dispatch and statements.

Running the same day again is safe: the park and portfolio are updated in place, a bid set
already stored under the cycle's id is kept as it is (the exchange would refuse a second one
too), and a statement already issued stays issued, or is corrected as a new version when the
amounts changed. The day's metered (in the demo: simulated) power of every asset is stored as
telemetry, so a monthly settlement can measure delivery. A replay (``vpp demo``) also stores
the site meters' history for the month of the delivery day from the park file (each tenant's
consumption meter, the PV and wind meters; see ``vpp.services.park_meters``), without
overwriting readings already there, so a monthly settlement can report the zero-carbon
indicators; a live pipeline gets its meter readings from the site gateways instead. Everything
is written in one transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session

from vpp.db.engine import make_engine, session_scope
from vpp.db.migrate import upgrade
from vpp.db.repositories import (
    AssetRepository,
    AwardRepository,
    BidRepository,
    ConsentRepository,
    ConsumptionRepository,
    ContractRepository,
    DispatchRepository,
    ParkRepository,
    StatementRepository,
    TelemetryRepository,
)
from vpp.domain.errors import NotFoundError
from vpp.domain.park import Enterprise
from vpp.domain.settlement import to_money
from vpp.services.day_ahead_cycle import CycleResult
from vpp.services.park_file import ParkData
from vpp.services.park_meters import consumption_meter_id, delivered_consumption, month_history
from vpp.services.settle_day import AGGREGATOR


def store_portfolio(session: Session, data: ParkData) -> None:
    """Upsert the park, its enterprises (plus the aggregator), assets, contracts and consents."""
    park = data.park
    aggregator = Enterprise(id=AGGREGATOR, name="Aggregator (VPP operator)", name_zh="聚合商")
    ParkRepository(session).save(
        park.model_copy(update={"enterprises": [*park.enterprises, aggregator]})
    )
    assets = AssetRepository(session)
    for enrolled in data.portfolio.assets:
        try:
            assets.get(enrolled.enterprise_id, enrolled.spec.id)
            assets.update(enrolled)
        except NotFoundError:
            assets.add(enrolled)
    contracts = ContractRepository(session)
    for contract in data.portfolio.contracts:
        try:
            contracts.get(contract.enterprise_id, contract.id)
        except NotFoundError:
            contracts.add(contract)
    consents = ConsentRepository(session)
    for consent in data.portfolio.consents:
        stored = [c for _, c in consents.list_for_enterprise(consent.enterprise_id)]
        if consent not in stored:
            consents.add(consent)


def store_delivery(session: Session, data: ParkData, result: CycleResult) -> int:
    """Store each enrolled asset's metered power of the day as telemetry (idempotent upsert).

    In the demo the devices are simulated, so the points are marked ``quality="simulated"``.
    """
    telemetry = TelemetryRepository(session)
    enrolled = {a.spec.id for a in data.portfolio.assets}
    written = 0
    for asset_id in result.delivered_mw.columns:
        if asset_id in enrolled:
            written += telemetry.upsert_series(
                asset_id, result.delivered_mw[asset_id], quality="simulated"
            )
    return written


def store_meters(session: Session, data: ParkData, result: CycleResult) -> int:
    """Store the site meters of the delivery day's month; returns the readings written.

    History readings go only where nothing is stored yet (an earlier cycle's delivery day
    keeps its readings); the delivery day's consumption is the cycle's metered loads.
    """
    grid, consumption, generation = month_history(data, result.profile, result.day)
    start, end = grid[0].to_pydatetime(), (grid[-1] + (grid[1] - grid[0])).to_pydatetime()
    day = result.delivered_mw.index
    meters = ConsumptionRepository(session)
    on_day = delivered_consumption(data, result.delivered_mw)
    written = 0
    for owner, history in consumption.items():
        meter = consumption_meter_id(owner)
        meters.add_meter(meter, data.park.id, "tenant", owner)
        stored = meters.read(meter, start, end).index
        fresh = history.power_mw.drop(stored.union(day), errors="ignore").dropna()
        written += meters.upsert_series(meter, fresh, quality=history.quality)
        if owner in on_day:
            written += meters.upsert_series(meter, on_day[owner].dropna(), quality="simulated")
    telemetry = TelemetryRepository(session)
    for asset_id, history in generation.items():
        stored = telemetry.read(asset_id, start, end).index
        fresh = history.power_mw.drop(stored.union(day), errors="ignore").dropna()
        written += telemetry.upsert_series(asset_id, fresh, quality=history.quality)
    return written


def record_cycle(url: str, data: ParkData, result: CycleResult) -> str:
    """Store a replayed ``result`` with its month's meter history in the database at ``url``
    (migrated first); return where it went."""
    upgrade(url)
    engine = make_engine(url)
    try:
        store_cycle(engine, data, result, meter_history=True)
    finally:
        engine.dispose()
    return engine.url.render_as_string(hide_password=True)


def store_cycle(
    engine: Engine, data: ParkData, result: CycleResult, *, meter_history: bool = False
) -> None:
    """Store ``result`` through ``engine`` in one transaction (idempotent).

    ``meter_history`` also stores the month's site-meter history from the park file
    (:func:`store_meters`), for replays whose sites stream nothing.
    """
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        store_portfolio(session, data)
        bids = BidRepository(session)
        bid_set = result.bid_set
        try:
            bids.get(bid_set.id)
        except NotFoundError:
            bids.save(bid_set.model_copy(update={"status": "draft"}), at=now)
            for status in ("review", "approved", "submitted", "awarded"):
                bids.set_status(bid_set.id, status, at=now)
            AwardRepository(session).save(bid_set.id, result.awards)
            DispatchRepository(session).save(result.plan)
        store_delivery(session, data, result)
        if meter_history:
            store_meters(session, data, result)
        statements = StatementRepository(session)
        for statement in result.settlement.statements:
            try:
                stored = statements.get(statement.enterprise_id, statement.id)
            except NotFoundError:
                statements.save_draft(statement)
                statements.issue(statement.enterprise_id, statement.id, at=now)
                continue
            if [(x.label, to_money(x.amount)) for x in stored.lines] != [
                (x.label, to_money(x.amount)) for x in statement.lines
            ]:
                statements.correct(
                    statement.model_copy(update={"version": stored.version + 1}), at=now
                )
