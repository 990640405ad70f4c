"""Bid sets round-trip and follow their workflow; awards and dispatch plans round-trip."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy.engine import Engine

from tests.db.conftest import T0
from vpp.db.engine import session_scope
from vpp.db.repositories import (
    ALLOWED_TRANSITIONS,
    AwardRepository,
    BidRepository,
    DispatchRepository,
)
from vpp.domain.bids import Award, BidCurve, BidSegment, BidSet, DispatchPlan, Setpoint
from vpp.domain.errors import ConflictError, InvalidInputError, NotFoundError

DAY = date(2026, 3, 2)
Q = timedelta(minutes=15)
START = T0 + timedelta(days=1) - timedelta(hours=8)  # 00:00 Asia/Shanghai on DAY


def bid_set(bid_id: str = "bs-1") -> BidSet:
    curves = [
        BidCurve(
            product_id="energy",
            interval_start=START + k * Q,
            side=side,
            segments=[
                BidSegment(price=-50.25 if side == "sell" else 800.0, quantity_mw=0.1 * (k + 1)),
                BidSegment(price=412.37 if side == "sell" else 120.5, quantity_mw=1.3),
            ],
        )
        for k in range(3)
        for side in ("sell", "buy")
    ]
    return BidSet(id=bid_id, market_id="cn-jiangsu", delivery_day=DAY, created_at=T0, curves=curves)


def test_bid_set_round_trip_and_draft_edit(seeded: Engine) -> None:
    with session_scope(seeded) as session:
        BidRepository(session).save(bid_set(), at=T0)
    with session_scope(seeded) as session:
        assert BidRepository(session).get("bs-1") == bid_set()
        edited = bid_set().model_copy(update={"curves": bid_set().curves[:2]})
        BidRepository(session).save(edited, at=T0)
    with session_scope(seeded) as session:
        assert BidRepository(session).get("bs-1") == edited
        assert BidRepository(session).list_for_day("cn-jiangsu", DAY) == [edited]
        assert BidRepository(session).list_for_day("cn-jiangsu", DAY + timedelta(days=1)) == []
        with pytest.raises(NotFoundError):
            BidRepository(session).get("nope")


def test_bid_status_follows_the_workflow(seeded: Engine) -> None:
    with session_scope(seeded) as session:
        repo = BidRepository(session)
        repo.save(bid_set(), at=T0)
        for status in ("review", "approved", "submitted", "awarded"):
            assert repo.set_status("bs-1", status, at=T0).status == status
    with session_scope(seeded) as session:
        assert BidRepository(session).get("bs-1").status == "awarded"


@pytest.mark.parametrize(
    ("path", "bad"),
    [
        ((), "approved"),
        ((), "submitted"),
        (("review",), "submitted"),
        (("review", "approved"), "draft"),
        (("review", "approved"), "awarded"),
        (("review", "approved", "submitted", "rejected"), "awarded"),
        (("review", "approved", "submitted", "awarded"), "submitted"),
    ],
)
def test_invalid_transitions_are_conflicts(seeded: Engine, path: tuple[str, ...], bad: str) -> None:
    with session_scope(seeded) as session:
        repo = BidRepository(session)
        repo.save(bid_set(), at=T0)
        for status in path:
            repo.set_status("bs-1", status)  # type: ignore[arg-type]
    with session_scope(seeded) as session, pytest.raises(ConflictError, match="cannot go from"):
        BidRepository(session).set_status("bs-1", bad)  # type: ignore[arg-type]
    assert bad not in ALLOWED_TRANSITIONS[path[-1] if path else "draft"]


def test_only_drafts_are_saved_or_changed(seeded: Engine) -> None:
    with session_scope(seeded) as session:
        repo = BidRepository(session)
        with pytest.raises(InvalidInputError, match="only drafts are saved"):
            repo.save(bid_set().model_copy(update={"status": "approved"}))
        repo.save(bid_set(), at=T0)
        repo.set_status("bs-1", "review")
        with pytest.raises(ConflictError, match="only a draft can be changed"):
            repo.save(bid_set())


def test_duplicate_curve_is_a_conflict(seeded: Engine) -> None:
    twice = bid_set().model_copy(update={"curves": [bid_set().curves[0]] * 2})
    with pytest.raises(ConflictError, match="one curve"), session_scope(seeded) as session:
        BidRepository(session).save(twice)
    with session_scope(seeded) as session, pytest.raises(NotFoundError):
        BidRepository(session).get("bs-1")  # the failed save was rolled back


def awards() -> list[Award]:
    return [
        Award(
            product_id="energy",
            interval_start=START + k * Q,
            side="sell",
            quantity_mw=1.3 + k,
            price=412.37 + 0.01 * k,
        )
        for k in range(3)
    ]


def test_awards_round_trip_for_a_submitted_bid_set(seeded: Engine) -> None:
    with session_scope(seeded) as session:
        bids = BidRepository(session)
        bids.save(bid_set(), at=T0)
        with pytest.raises(ConflictError, match="submitted"):
            AwardRepository(session).save("bs-1", awards())
    with session_scope(seeded) as session:
        for status in ("review", "approved", "submitted"):
            BidRepository(session).set_status("bs-1", status)  # type: ignore[arg-type]
        AwardRepository(session).save("bs-1", list(reversed(awards())))
    with session_scope(seeded) as session:
        repo = AwardRepository(session)
        assert repo.list_for_bid_set("bs-1") == awards()
        assert repo.list_for_day("cn-jiangsu", DAY) == awards()
        assert repo.list_for_day("cn-jiangsu", DAY + timedelta(days=1)) == []
        with pytest.raises(NotFoundError):
            repo.save("nope", awards())


def plan(power: float = 1.0) -> DispatchPlan:
    return DispatchPlan(
        market_id="cn-jiangsu",
        delivery_day=DAY,
        setpoints=[
            Setpoint(
                asset_id=asset_id,
                interval_start=START + k * Q,
                power_mw=power * (k - 1),
                reserve_up_mw=0.25 if asset_id == "a-bat-1" else 0.0,
            )
            for k in range(4)
            for asset_id in ("a-bat-1", "b-pv-1")
        ],
    )


def test_dispatch_plan_round_trip_replace_and_tenant_scope(seeded: Engine) -> None:
    with session_scope(seeded) as session:
        DispatchRepository(session).save(plan())
    with session_scope(seeded) as session:
        repo = DispatchRepository(session)
        assert repo.get("cn-jiangsu", DAY) == plan()
        repo.save(plan(power=-0.5))
    with session_scope(seeded) as session:
        repo = DispatchRepository(session)
        assert repo.get("cn-jiangsu", DAY) == plan(power=-0.5)
        assert repo.get("cn-jiangsu", DAY + timedelta(days=1)).setpoints == []
        mine = repo.for_asset("ent-a", "a-bat-1", START, START + 2 * Q)
        assert [s.power_mw for s in mine] == [0.5, -0.0]
        assert repo.for_asset("ent-b", "a-bat-1", START, START + 4 * Q) == []
        unknown = DispatchPlan(
            market_id="cn-jiangsu",
            delivery_day=DAY,
            setpoints=[Setpoint(asset_id="ghost", interval_start=START, power_mw=1.0)],
        )
        with pytest.raises(NotFoundError, match="ghost"):
            repo.save(unknown)
