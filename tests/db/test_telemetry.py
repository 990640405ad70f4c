"""Telemetry upserts are idempotent, order-free and safe under concurrent writers."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
from sqlalchemy.engine import Engine

from tests.db.conftest import T0
from vpp.db.engine import session_scope
from vpp.db.repositories import TelemetryPoint, TelemetryRepository
from vpp.db.repositories.telemetry import COPY_MIN_ROWS
from vpp.domain.errors import InvalidInputError, NotFoundError

STEP = timedelta(minutes=5)
SHANGHAI = timezone(timedelta(hours=8))


def points(n: int, *, asset_id: str = "a-bat-1", scale: float = 1.0) -> list[TelemetryPoint]:
    return [
        TelemetryPoint(
            asset_id=asset_id,
            ts=T0 + k * STEP,
            power_mw=scale * (k % 7 - 3) / 4,
            energy_mwh=None if k % 5 == 0 else k / 12,
        )
        for k in range(n)
    ]


def test_upsert_twice_keeps_one_row_per_instant_with_latest_values(seeded: Engine) -> None:
    with session_scope(seeded) as session:
        assert TelemetryRepository(session).upsert(points(300)) == 300
    with session_scope(seeded) as session:
        assert TelemetryRepository(session).upsert(points(300, scale=2.0)) == 300
    with session_scope(seeded) as session:
        repo = TelemetryRepository(session)
        assert repo.count("a-bat-1") == 300
        series = repo.read("a-bat-1", T0, T0 + 300 * STEP)
    assert series.tolist() == [2.0 * (k % 7 - 3) / 4 for k in range(300)]
    assert series.name == "power_mw"
    assert isinstance(series.index, pd.DatetimeIndex)
    assert str(series.index.tz) == "UTC"
    assert series.index[0] == pd.Timestamp(T0)


def test_out_of_order_and_repeated_points(seeded: Engine) -> None:
    late = list(reversed(points(12)))
    repeated = [*late, TelemetryPoint("a-bat-1", T0 + 3 * STEP, power_mw=9.5, quality="estimated")]
    with session_scope(seeded) as session:
        assert TelemetryRepository(session).upsert(repeated[6:]) == 6  # k = 5..0, k=3 twice
        assert TelemetryRepository(session).upsert(repeated) == 12
    with session_scope(seeded) as session:
        frame = TelemetryRepository(session).read_frame("a-bat-1", T0, T0 + 12 * STEP)
    assert frame.index.is_monotonic_increasing
    assert len(frame) == 12
    assert frame.loc[pd.Timestamp(T0 + 3 * STEP), "power_mw"] == 9.5
    assert frame.loc[pd.Timestamp(T0 + 3 * STEP), "quality"] == "estimated"
    assert pd.isna(frame.loc[pd.Timestamp(T0), "energy_mwh"])
    assert frame.loc[pd.Timestamp(T0 + STEP), "energy_mwh"] == 1 / 12


def test_read_is_half_open_and_converts_offsets_to_utc(seeded: Engine) -> None:
    local = [
        TelemetryPoint("b-pv-1", (T0 + k * STEP).astimezone(SHANGHAI), power_mw=float(k))
        for k in range(10)
    ]
    with session_scope(seeded) as session:
        TelemetryRepository(session).upsert(local)
    with session_scope(seeded) as session:
        repo = TelemetryRepository(session)
        window = repo.read("b-pv-1", (T0 + 2 * STEP).astimezone(SHANGHAI), T0 + 5 * STEP)
        empty = repo.read("b-pv-1", T0 - 2 * STEP, T0)
    assert window.tolist() == [2.0, 3.0, 4.0]
    assert list(window.index) == [pd.Timestamp(T0 + k * STEP) for k in (2, 3, 4)]
    assert empty.empty and str(empty.index.tz) == "UTC"


def test_tenant_scoped_read(seeded: Engine) -> None:
    with session_scope(seeded) as session:
        TelemetryRepository(session).upsert(points(4))
    with session_scope(seeded) as session:
        repo = TelemetryRepository(session)
        assert len(repo.read("a-bat-1", T0, T0 + 4 * STEP, enterprise_id="ent-a")) == 4
        assert repo.read("a-bat-1", T0, T0 + 4 * STEP, enterprise_id="ent-b").empty


def test_upsert_series_from_pandas(seeded: Engine) -> None:
    index = pd.date_range("2026-03-01 08:00", periods=96, freq="15min", tz="Asia/Shanghai")
    power = pd.Series([0.01 * k for k in range(96)], index=index)
    with session_scope(seeded) as session:
        assert (
            TelemetryRepository(session).upsert_series("b-pv-1", power, energy_mwh=power / 4) == 96
        )
    with session_scope(seeded) as session:
        frame = TelemetryRepository(session).read_frame(
            "b-pv-1", index[0].to_pydatetime(), index[-1].to_pydatetime() + STEP
        )
    assert frame["power_mw"].tolist() == power.tolist()
    assert frame["energy_mwh"].tolist() == (power / 4).tolist()
    assert frame.index[0] == pd.Timestamp("2026-03-01 00:00", tz="UTC")


def test_bad_points_are_refused(seeded: Engine) -> None:
    with session_scope(seeded) as session:
        repo = TelemetryRepository(session)
        with pytest.raises(NotFoundError, match="ghost"):
            repo.upsert([TelemetryPoint("ghost", T0, 1.0)])
        with pytest.raises(InvalidInputError, match="naive"):
            repo.upsert([TelemetryPoint("a-bat-1", datetime(2026, 3, 1), 1.0)])  # noqa: DTZ001
        with pytest.raises(InvalidInputError, match="nan"):
            repo.upsert([TelemetryPoint("a-bat-1", T0, float("nan"))])
        naive = pd.Series([1.0], index=pd.date_range("2026-03-01", periods=1))
        with pytest.raises(InvalidInputError, match="tz-aware"):
            repo.upsert_series("a-bat-1", naive)
        assert repo.upsert([]) == 0


def test_concurrent_upserts_of_the_same_points_leave_one_row_each(seeded: Engine) -> None:
    batch = points(2000)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def write(scale: float) -> None:
        try:
            start.wait(timeout=30)
            with session_scope(seeded) as session:
                TelemetryRepository(session).upsert(points(2000, scale=scale))
        except BaseException as exc:  # reported to the main thread below
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(s,)) for s in (1.0, 2.0)]
    for w in writers:
        w.start()
    for w in writers:
        w.join(timeout=120)
    assert errors == []
    with session_scope(seeded) as session:
        repo = TelemetryRepository(session)
        assert repo.count("a-bat-1") == len(batch)
        stored = repo.read("a-bat-1", T0, T0 + 2000 * STEP)
    # one writer committed last; every row carries that writer's values
    assert stored.tolist() in (
        [p.power_mw for p in points(2000, scale=1.0)],
        [p.power_mw for p in points(2000, scale=2.0)],
    )
    assert str(stored.index.tz) == "UTC"


def test_bulk_batches_twice_in_one_transaction_and_after_a_rollback(seeded: Engine) -> None:
    n = COPY_MIN_ROWS + 40  # PostgreSQL writes these through COPY and the staging table
    with session_scope(seeded) as session:
        repo = TelemetryRepository(session)
        assert repo.upsert(points(n)) == n
        assert repo.upsert(points(n, scale=2.0)[::-1]) == n  # staging table reused
    with pytest.raises(RuntimeError), session_scope(seeded) as session:
        TelemetryRepository(session).upsert(points(n + 10, scale=3.0))
        raise RuntimeError("abort after the copy")
    with session_scope(seeded) as session:
        repo = TelemetryRepository(session)
        assert repo.count("a-bat-1") == n
        assert repo.upsert(points(n + 5, scale=4.0)) == n + 5
    with session_scope(seeded) as session:
        series = TelemetryRepository(session).read("a-bat-1", T0, T0 + (n + 5) * STEP)
    assert series.tolist() == [4.0 * (k % 7 - 3) / 4 for k in range(n + 5)]


def test_columns_upsert_matches_the_point_upsert(seeded: Engine) -> None:
    n = COPY_MIN_ROWS + 7
    given = [*points(n)[::-1], TelemetryPoint("a-bat-1", T0 + 3 * STEP, 9.5, None, "estimated")]
    given = [TelemetryPoint(p.asset_id, p.ts.astimezone(SHANGHAI), *vars_of(p)) for p in given]
    with session_scope(seeded) as session:
        written = TelemetryRepository(session).upsert_columns(
            "a-bat-1",
            [p.ts for p in given],
            [p.power_mw for p in given],
            [p.energy_mwh for p in given],
            [p.quality for p in given],
        )
        assert written == n
    with session_scope(seeded) as session:
        by_columns = TelemetryRepository(session).read_frame("a-bat-1", T0, T0 + n * STEP)
    with session_scope(seeded) as session:
        assert TelemetryRepository(session).upsert([*points(n), given[-1]]) == n
    with session_scope(seeded) as session:
        by_points = TelemetryRepository(session).read_frame("a-bat-1", T0, T0 + n * STEP)
    pd.testing.assert_frame_equal(by_columns, by_points)
    assert by_columns.loc[pd.Timestamp(T0 + 3 * STEP), "power_mw"] == 9.5
    with session_scope(seeded) as session:
        repo = TelemetryRepository(session)
        with pytest.raises(InvalidInputError, match="NaN"):
            repo.upsert_columns("a-bat-1", [T0], [float("nan")], [None], ["measured"])
        with pytest.raises(InvalidInputError, match="naive"):
            repo.upsert_columns("a-bat-1", [T0.replace(tzinfo=None)], [1.0], [None], ["measured"])
        with pytest.raises(NotFoundError):
            repo.upsert_columns("nope", [T0], [1.0], [None], ["measured"])


def vars_of(p: TelemetryPoint) -> tuple[float, float | None, str]:
    return p.power_mw, p.energy_mwh, p.quality
