"""The live park source reads the park as the users left it in the database.

The sample park is imported (``vpp park import``'s use case) into a fresh database; what the
source hands the day-ahead stages is checked against the park file it came from: metered and
declared loads, generation, prices, weather only as issued by the instant asked, and the
verification and outages the bid must respect.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
from sqlalchemy.engine import Engine

from tests.jobs.conftest import DAY
from vpp.db.engine import session_scope
from vpp.db.park_source import DatabaseParkSource, generation_column, load_column, weather_column
from vpp.db.repositories import AssetRepository
from vpp.db.repositories.outages import OutageRepository
from vpp.domain.market import MarketProfile
from vpp.services.day_ahead_cycle import PreparedBids, build_bid_problem
from vpp.services.park_file import ParkData

PARK = "haute-borne-park"
AS_OF = pd.Timestamp("2021-05-04T06:00Z")  # D-1 08:00 CEST


def test_the_source_gives_the_imported_park_and_its_series(engine: Engine, park: ParkData) -> None:
    data = DatabaseParkSource(engine).load(PARK, AS_OF)
    assert {a.spec.id for a in data.portfolio.assets} == {a.spec.id for a in park.portfolio.assets}

    def key(c: object) -> str:
        return str(c.contract_id)

    assert sorted(data.portfolio.consents, key=key) == sorted(park.portfolio.consents, key=key)
    loads = {load.enterprise_id: load for load in data.definition.loads}
    assert loads["steel"].column == load_column("steel")
    assert loads["cellco"].declared == park.definition.loads[1].declared  # cold start kept
    day = pd.date_range("2021-05-03T22:00Z", periods=96, freq="15min")
    pd.testing.assert_series_equal(
        data.series[load_column("steel")].reindex(day),
        park.series["steel_load_mw"].reindex(day),
        check_names=False,
        check_freq=False,
    )
    wind = data.series[generation_column("wind-park")].reindex(day)
    assert (wind.to_numpy() == park.series["wind_mw"].reindex(day).to_numpy()).all()
    price = data.series[data.definition.prices.day_ahead].reindex(day)
    assert (price.to_numpy() == park.series["da_price_per_mwh"].reindex(day).to_numpy()).all()


def test_weather_is_what_was_issued_by_the_instant_asked(engine: Engine) -> None:
    source = DatabaseParkSource(engine)
    speed = weather_column("wind_speed")
    on_d = slice("2021-05-04T22:00Z", "2021-05-05T21:45Z")
    # the weather of D is issued at D-1 07:00 CEST (05:00Z): not known at 04:00Z, known at 06:00Z
    before = source.load(PARK, pd.Timestamp("2021-05-04T04:00Z")).series
    after = source.load(PARK, AS_OF).series
    assert speed not in before or before.loc[on_d, speed].isna().all()
    assert after.loc[on_d, speed].notna().all()


def test_the_bid_leaves_out_unverified_assets_and_assets_in_outage(
    engine: Engine, profile: MarketProfile, prepared: PreparedBids
) -> None:
    with session_scope(engine) as session:
        assets = AssetRepository(session)
        furnace = assets.get("steel", "arc-furnace")
        assets.update(furnace.model_copy(update={"verification": "failed"}))
        OutageRepository(session).add(
            "parkco",
            "bess-park",
            datetime(2021, 5, 5, 10, tzinfo=UTC),
            datetime(2021, 5, 5, 12, tzinfo=UTC),
            "inverter service",
        )
    data = DatabaseParkSource(engine).load(PARK, AS_OF)
    problem = build_bid_problem(data, profile, prepared.forecasts, scenarios=3)
    bid = {a.id for a in problem.assets}
    assert "arc-furnace" not in bid and "bess-park" not in bid
    assert {"bess-cellco", "ev-depot", "dc-cooling"} <= bid
    assert "verification failed" in data.portfolio.excluded("da_energy", AS_OF)["arc-furnace"]
    start = datetime(2021, 5, 4, 22, tzinfo=UTC)
    end = datetime(2021, 5, 5, 22, tzinfo=UTC)
    assert "inverter service" in data.out_of_service(start, end)["bess-park"]
    assert DAY.isoformat() == "2021-05-05"
