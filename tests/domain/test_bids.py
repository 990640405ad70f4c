"""Bid sets are checked against the profile's rules, every breach reported."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vpp.domain.bids import Award, BidCurve, BidSegment, BidSet, check_bid_set
from vpp.domain.market import load_market_profile

PROFILE = load_market_profile("cn-shandong")
DAY = date(2026, 3, 2)
FIRST = PROFILE.day_intervals(DAY)[0]


def bid_set(*curves: BidCurve) -> BidSet:
    return BidSet(
        id="b1",
        market_id="cn-shandong",
        delivery_day=DAY,
        created_at=pd.Timestamp("2026-03-01T01:00Z"),
        curves=list(curves),
    )


def curve(side: str, *steps: tuple[float, float], at: pd.Timestamp = FIRST) -> BidCurve:
    return BidCurve(
        product_id="spot_energy",
        interval_start=at,
        side=side,
        segments=[BidSegment(price=p, quantity_mw=q) for p, q in steps],
    )  # type: ignore[arg-type]


def test_a_valid_sell_and_buy_pair_passes() -> None:
    assert (
        check_bid_set(
            bid_set(curve("sell", (100, 3), (300, 3)), curve("buy", (200, 5), (50, 1))), PROFILE
        )
        == []
    )


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (curve("sell", (300, 3), (100, 3)), "not non-decreasing"),
        (curve("buy", (50, 3), (200, 3)), "not non-increasing"),
        (curve("sell", (2000, 6)), "price 2000.0 outside -100.0..1500.0"),
        (curve("sell", (100.005, 6)), "not on tick 0.01"),
        (curve("sell", (100, 2)), "2.0 MW is below min_bid_mw 5.0"),
        (curve("sell", *[(100 + k, 1.0) for k in range(6)]), "6 segments, allowed 1..5"),
        (
            curve("sell", (100, 6), at=pd.Timestamp("2026-03-02T16:00Z")),
            "not an interval of 2026-03-02",
        ),
    ],
)
def test_breaches_are_named(bad: BidCurve, message: str) -> None:
    problems = check_bid_set(bid_set(bad), PROFILE)
    assert any(message in p for p in problems), problems


@given(st.lists(st.tuples(st.integers(-100, 1500), st.integers(1, 5000)), min_size=1, max_size=5))
def test_sorted_curves_on_ticks_always_pass(steps: list[tuple[int, int]]) -> None:
    ordered = sorted((float(p), q / 100) for p, q in steps)
    total = sum(q for _, q in ordered)
    made = curve("sell", *ordered)
    problems = check_bid_set(bid_set(made), PROFILE)
    assert problems == ([] if total >= 5 else [p for p in problems if "min_bid_mw" in p])
    # Cleared quantity rises with the price on a sell curve.
    prices = sorted({p for p, _ in ordered})
    cleared = [made.cleared_mw(p) for p in prices]
    assert cleared == sorted(cleared)


def test_award_sign_follows_the_convention() -> None:
    sold = Award(
        product_id="spot_energy", interval_start=FIRST, side="sell", quantity_mw=2, price=300
    )
    bought = Award(
        product_id="spot_energy", interval_start=FIRST, side="buy", quantity_mw=2, price=300
    )
    assert sold.signed_mw == 2 and bought.signed_mw == -2
