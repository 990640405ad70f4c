"""Two parks on one market (cn-shandong), February 2026, each with its own aggregator day statements.

Park ``pa``: tenant ``a1`` (battery ``bat-a1``, 2 MW, delivers in full, 20 % contract) and the
``aggregator`` enterprise. Park ``pb``: tenant ``b1`` (``bat-b1``, 1 MW, delivers in full, 20 %
contract) and tenant ``b2`` (``bat-b2``, 1 MW, delivers nothing) **without a contract**.
Per day: a1 earns 100.00 spot_energy, pa's deviation is -5.00; b1 earns 50.00, b2 30.00,
pb's deviation is -4.00. Month by hand:

* pa: a1 2,800 - 20 % = 2,240.00; aggregator 560 - 140 (nobody fell short) = 420.00;
  market total 2,660.00.
* pb: b1 1,400 - 20 % = 1,120.00; b2 skipped: its 840.00 and the whole deviation -112.00 (only
  b2 fell short) are held back, 728.00; aggregator 280.00; market total 1,400 + 840 - 112 =
  2,128.00 = 1,120 + 280 + 728.

``legacy=True`` stores the aggregator's day statements under the market-wide id
(``aggregator:cn-shandong:<day>:v1``) for park ``pa`` only, as single-park deployments do.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
from sqlmodel import Session

from tests.settlement.conftest import MARKET, T0, TZ, battery, line
from vpp.db.engine import make_engine, session_scope
from vpp.db.migrate import upgrade
from vpp.db.repositories import (
    AssetRepository,
    ContractRepository,
    DispatchRepository,
    ParkRepository,
    StatementRepository,
    TelemetryRepository,
)
from vpp.domain.bids import DispatchPlan, Setpoint, Statement, StatementLine
from vpp.domain.park import Contract, EnrolledAsset, Enterprise, Park
from vpp.domain.timegrid import local_midnight

FIRST = date(2026, 2, 1)
DAYS = [FIRST + timedelta(days=k) for k in range(28)]
PARKS = {
    "pa": [Enterprise(id="a1", name="Alpha"), Enterprise(id="aggregator", name="Aggregator")],
    "pb": [Enterprise(id="b1", name="Beta One"), Enterprise(id="b2", name="Beta Two")],
}
ASSETS = {"bat-a1": ("a1", 2.0, 2.0), "bat-b1": ("b1", 1.0, 1.0), "bat-b2": ("b2", 1.0, 0.0)}
"""Asset id: owner, committed MW 18:00-19:00 local, metered MW."""


def _statement(statement_id: str, owner: str, day: date, lines: list[StatementLine]) -> Statement:
    return Statement(
        id=statement_id,
        enterprise_id=owner,
        market_id=MARKET,
        period_start=day,
        period_end=day,
        currency="CNY",
        lines=lines,
    )


def day_statements(day: date, *, legacy: bool = False) -> list[Statement]:
    """The day statements of both parks (the aggregator's one per park)."""
    d = day.isoformat()

    def tenant(owner: str, value: str, share: str) -> Statement:
        lines = [line(f"Flexibility value {owner}", value, "spot_energy"), line("Share", share)]
        return _statement(f"{owner}:{MARKET}:{d}:v1", owner, day, lines)

    pa_id = f"aggregator:{MARKET}:{d}:v1" if legacy else f"aggregator:pa:{MARKET}:{d}:v1"
    return [
        tenant("a1", "100.00", "-20.00"),
        _statement(
            pa_id,
            "aggregator",
            day,
            [line("Share of a1", "20.00"), line("Imbalance and deviation", "-5.00")],
        ),
        tenant("b1", "50.00", "-10.00"),
        tenant("b2", "30.00", "-6.00"),
        _statement(
            f"aggregator:pb:{MARKET}:{d}:v1",
            "aggregator",
            day,
            [
                line("Share of b1", "10.00"),
                line("Share of b2", "6.00"),
                line("Imbalance and deviation", "-4.00"),
            ],
        ),
    ]


def seed_two_parks(url: str, *, legacy: bool = False) -> None:
    """Migrate the database at ``url`` and store both parks' February."""
    upgrade(url)
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            parks = ParkRepository(session)
            for park_id, enterprises in PARKS.items():
                parks.save(
                    Park(
                        id=park_id,
                        name=f"Park {park_id}",
                        market_id=MARKET,
                        import_limit_mw=10,
                        export_limit_mw=5,
                        enterprises=enterprises,
                    )
                )
            assets = AssetRepository(session)
            for asset_id, (owner, mw, _) in ASSETS.items():
                spec = battery(asset_id, mw)
                assets.add(EnrolledAsset(spec=spec, enterprise_id=owner, nominated_mw=mw))
            for owner in ("a1", "b1"):
                ContractRepository(session).add(
                    Contract(
                        id=f"c-{owner}",
                        enterprise_id=owner,
                        aggregator_share=0.2,
                        currency="CNY",
                        valid_from=T0,
                    )
                )
            _store_days(session, legacy=legacy)
    finally:
        engine.dispose()


def _store_days(session: Session, *, legacy: bool) -> None:
    statements = StatementRepository(session)
    dispatch = DispatchRepository(session)
    telemetry = TelemetryRepository(session)
    for day in DAYS:
        for s in day_statements(day, legacy=legacy):
            statements.save_draft(s)
            statements.issue(s.enterprise_id, s.id, at=T0)
        hour = pd.date_range(
            local_midnight(day, TZ) + pd.Timedelta(hours=18), periods=4, freq="15min"
        )
        dispatch.save(
            DispatchPlan(
                market_id=MARKET,
                delivery_day=day,
                setpoints=[
                    Setpoint(asset_id=a, interval_start=t, power_mw=mw)
                    for a, (_, mw, _) in ASSETS.items()
                    for t in hour
                ],
            )
        )
        for asset_id, (_, _, metered) in ASSETS.items():
            telemetry.upsert_series(asset_id, pd.Series(metered, index=hour))
