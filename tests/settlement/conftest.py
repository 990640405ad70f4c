"""A small settled month in SQLite: two tenants with a battery each, February 2026, cn-shandong.

Every day stores what ``vpp demo`` stores for a day (issued day statements, a dispatch plan)
plus device telemetry: battery ``bat-a`` (2 MW) delivers its full hour 18:00-19:00 local, and
``bat-b`` (1 MW) only half. Day statements per day: a earns 100.00 spot_energy; b earns 30.00
spot_energy and 10.00 agc_fr; the day's deviation is -5.00. Month by hand:

* revenue a 2,800.00; b 840.00 + 280.00; deviation -140.00, all b's (only b fell short).
* a: 2,800 - 20 % = 2,240.00.
* b: 1,120 - 140 = 980; - 30 % (294) = 686; minimum guarantee 1,000 -> top-up 314 -> 1,000.00.
* aggregator: 560 + 294 - 314 = 540.00; market total 3,780.00.

With ``with_pv`` tenant a also has rooftop PV ``pv-a`` whose simulated meter reads 1 MW from
12:00 to 13:00 local and 0 otherwise on every interval of the month: 28 MWh of generation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

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
from vpp.domain.assets import BatterySpec, PvSpec
from vpp.domain.bids import DispatchPlan, Setpoint, Statement, StatementLine
from vpp.domain.park import Contract, EnrolledAsset, Enterprise, Park
from vpp.domain.timegrid import local_midnight

MARKET = "cn-shandong"
TZ = "Asia/Shanghai"
MONTH = "2026-02"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
D = Decimal


def line(label: str, amount: str, product: str | None = None) -> StatementLine:
    return StatementLine(label=label, product_id=product, amount=D(amount))


def day_statements(day: date) -> list[Statement]:
    def statement(owner: str, lines: list[StatementLine]) -> Statement:
        return Statement(
            id=f"{owner}:{MARKET}:{day.isoformat()}:v1",
            enterprise_id=owner,
            market_id=MARKET,
            period_start=day,
            period_end=day,
            currency="CNY",
            lines=lines,
        )

    return [
        statement(
            "a",
            [
                line("Flexibility value bat-a", "100.00", "spot_energy"),
                line("Aggregator share 20%", "-20.00"),
            ],
        ),
        statement(
            "b",
            [
                line("Flexibility value bat-b", "30.00", "spot_energy"),
                line("Reserve capacity agc_fr", "10.00", "agc_fr"),
                line("Aggregator share 30%", "-12.00"),
            ],
        ),
        statement(
            "aggregator",
            [
                line("Share of a", "20.00"),
                line("Share of b", "12.00"),
                line("Imbalance and deviation", "-5.00"),
            ],
        ),
    ]


def battery(asset_id: str, power_mw: float) -> BatterySpec:
    return BatterySpec(id=asset_id, type="battery", power_mw=power_mw, energy_mwh=2 * power_mw)


Seeder = Callable[..., str]


@pytest.fixture
def seed_month(tmp_path: Path) -> Iterator[Seeder]:
    """Build the database; ``skip_day`` leaves a day out, ``skip_meter`` one battery's meter."""
    engines = []

    def seed(
        *, skip_day: date | None = None, skip_meter: str | None = None, with_pv: bool = False
    ) -> str:
        url = f"sqlite:///{tmp_path / 'month.sqlite'}"
        upgrade(url)
        engine = make_engine(url)
        engines.append(engine)
        with session_scope(engine) as session:
            ParkRepository(session).save(
                Park(
                    id="p",
                    name="Test park",
                    market_id=MARKET,
                    import_limit_mw=10,
                    export_limit_mw=5,
                    enterprises=[
                        Enterprise(id="a", name="Alpha Steel", name_zh="阿尔法钢铁"),
                        Enterprise(id="b", name="Beta Cells", name_zh="贝塔电芯"),
                        Enterprise(id="aggregator", name="Aggregator", name_zh="聚合商"),
                    ],
                )
            )
            assets = AssetRepository(session)
            assets.add(
                EnrolledAsset(spec=battery("bat-a", 2.0), enterprise_id="a", nominated_mw=2.0)
            )
            assets.add(
                EnrolledAsset(spec=battery("bat-b", 1.0), enterprise_id="b", nominated_mw=1.0)
            )
            if with_pv:
                roof = PvSpec(id="pv-a", capacity_mw=1.5, latitude=36.7, longitude=117.0)
                assets.add(EnrolledAsset(spec=roof, enterprise_id="a"))
                month = pd.date_range(
                    local_midnight(date(2026, 2, 1), TZ),
                    local_midnight(date(2026, 3, 1), TZ),
                    freq="15min",
                    inclusive="left",
                )
                noon = month.tz_convert(TZ).hour == 12
                TelemetryRepository(session).upsert_series(
                    "pv-a", pd.Series(noon.astype(float), index=month), quality="simulated"
                )
            contracts = ContractRepository(session)
            contracts.add(
                Contract(
                    id="c-a", enterprise_id="a", aggregator_share=0.2, currency="CNY", valid_from=T0
                )
            )
            contracts.add(
                Contract(
                    id="c-b",
                    enterprise_id="b",
                    scheme="min_guarantee",
                    aggregator_share=0.3,
                    min_guarantee=1000,
                    currency="CNY",
                    valid_from=T0,
                )
            )
            statements = StatementRepository(session)
            dispatch = DispatchRepository(session)
            telemetry = TelemetryRepository(session)
            first = date(2026, 2, 1)
            for k in range(28):
                day = first + timedelta(days=k)
                if day == skip_day:
                    continue
                for s in day_statements(day):
                    statements.save_draft(s)
                    statements.issue(s.enterprise_id, s.id, at=T0)
                start = local_midnight(day, TZ) + pd.Timedelta(hours=18)
                hour = pd.date_range(start, periods=4, freq="15min")
                dispatch.save(
                    DispatchPlan(
                        market_id=MARKET,
                        delivery_day=day,
                        setpoints=[
                            Setpoint(asset_id=a, interval_start=t, power_mw=mw)
                            for a, mw in (("bat-a", 2.0), ("bat-b", 1.0))
                            for t in hour
                        ],
                    )
                )
                for asset_id, delivered in (("bat-a", 2.0), ("bat-b", 0.5)):
                    if asset_id != skip_meter:
                        telemetry.upsert_series(asset_id, pd.Series(delivered, index=hour))
        return url

    yield seed
    for engine in engines:
        engine.dispose()
