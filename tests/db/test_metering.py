"""Consumption meters, DR events and AGC setpoints on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.engine import Engine

from vpp.db.engine import session_scope
from vpp.db.repositories import (
    AgcSetpointRepository,
    ConsumptionRepository,
    DrEventRepository,
)
from vpp.domain.demand_response import DrEvent
from vpp.domain.errors import InvalidInputError, NotFoundError

T = datetime(2026, 3, 2, tzinfo=UTC)
END = T + timedelta(days=1)


def test_consumption_readings_upsert_and_read_back(seeded: Engine) -> None:
    index = pd.date_range(T, periods=4, freq="15min")
    with session_scope(seeded) as session:
        repo = ConsumptionRepository(session)
        repo.add_meter("a-main", "suzhou-1", "tenant", "ent-a")
        repo.add_meter("a-main", "suzhou-1", "tenant", "ent-a")  # idempotent
        repo.add_meter("grid", "suzhou-1", "park")
        assert repo.upsert_series("a-main", pd.Series([1.0, 2.0, 3.0, 4.0], index=index)) == 4
        assert repo.upsert_series("a-main", pd.Series([9.5], index=index[1:2]), quality="x") == 1
        assert repo.upsert_series("a-main", pd.Series([], index=index[:0], dtype=float)) == 0
    with session_scope(seeded) as session:
        repo = ConsumptionRepository(session)
        assert [(m.id, m.kind, m.enterprise_id) for m in repo.meters("suzhou-1")] == [
            ("a-main", "tenant", "ent-a"),
            ("grid", "park", None),
        ]
        got = repo.read("a-main", T, END)
        assert got.tolist() == [1.0, 9.5, 3.0, 4.0]
        assert list(got.index) == list(index)
        assert repo.qualities(["a-main"], T, END) == {"measured", "x"}
        assert repo.read("grid", T, END).empty


def test_consumption_meters_refuse_what_settlement_could_not_use(seeded: Engine) -> None:
    index = pd.date_range(T, periods=2, freq="15min")
    with session_scope(seeded) as session:
        repo = ConsumptionRepository(session)
        with pytest.raises(InvalidInputError, match="tenant meter names its enterprise"):
            repo.add_meter("m", "suzhou-1", "tenant")
        with pytest.raises(InvalidInputError, match="a park meter none"):
            repo.add_meter("m", "suzhou-1", "park", "ent-a")
        with pytest.raises(NotFoundError, match="not found in park"):
            repo.add_meter("m", "suzhou-1", "tenant", "nobody")
        with pytest.raises(NotFoundError, match="register it first"):
            repo.upsert_series("unknown", pd.Series(1.0, index=index))
        repo.add_meter("m", "suzhou-1", "tenant", "ent-b")
        with pytest.raises(InvalidInputError, match="leave missing readings out"):
            repo.upsert_series("m", pd.Series([1.0, np.nan], index=index))
        with pytest.raises(InvalidInputError, match="naive timestamp"):
            repo.upsert_series("m", pd.Series([1.0], index=pd.DatetimeIndex(["2026-03-02"])))


def test_dr_events_are_listed_by_park_and_start(seeded: Engine) -> None:
    def event(hours: int, enterprise: str | None) -> DrEvent:
        return DrEvent(
            park_id="suzhou-1",
            product_id="dr_peak_shaving",
            start=T + timedelta(hours=hours),
            end=T + timedelta(hours=hours + 1),
            committed_mw=1.5,
            price_per_mwh=Decimal("2000.5"),
            enterprise_id=enterprise,
        )

    with session_scope(seeded) as session:
        repo = DrEventRepository(session)
        later = repo.add(event(30, None))
        first = repo.add(event(2, "ent-a"))
        with pytest.raises(InvalidInputError, match="not after its start"):
            repo.add(DrEvent("suzhou-1", "dr", T, T, 1.0, Decimal(1)))
    with session_scope(seeded) as session:
        got = DrEventRepository(session).list_for_park("suzhou-1", T, END)
        assert got == [first]
        assert got[0].price_per_mwh == Decimal("2000.5") and got[0].start == T + timedelta(hours=2)
        assert DrEventRepository(session).list_for_park("suzhou-1", T, END + timedelta(days=1)) == [
            first,
            later,
        ]


def test_agc_setpoints_round_trip_at_one_second(seeded: Engine) -> None:
    seconds = pd.date_range(T, periods=5, freq="1s")
    with session_scope(seeded) as session:
        repo = AgcSetpointRepository(session)
        assert repo.upsert_series("a-bat-1", pd.Series([0, 0, 1, 1, 0.5], index=seconds)) == 5
        assert repo.upsert_series("a-bat-1", pd.Series([], index=seconds[:0], dtype=float)) == 0
    with session_scope(seeded) as session:
        repo = AgcSetpointRepository(session)
        got = repo.read("a-bat-1", T, END)
        assert got.tolist() == [0, 0, 1, 1, 0.5] and list(got.index) == list(seconds)
        assert repo.asset_ids(T, END) == ["a-bat-1"]
        assert repo.asset_ids(END, END + timedelta(days=1)) == []
