"""Performance ratio and the floor/cap pay curve, against hand-computed amounts."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from vpp.domain.errors import InvalidInputError
from vpp.domain.market import MeasurementVerification, load_market_profile
from vpp.domain.performance import performance_ratio, settle_event

INDEX = pd.date_range("2026-03-18 06:00", periods=2, freq="60min", tz="UTC")
COMMITTED = pd.Series([10.0, 10.0], index=INDEX)  # 20 MWh over two hours
PRICE = 500.0  # CNY/MWh


def mv(penalty: str = "none", **params: float) -> MeasurementVerification:
    return MeasurementVerification(floor=0.5, cap=1.2, penalty=penalty, params=params)


@pytest.mark.parametrize(
    ("delivered", "ratio", "pay"),
    [
        ([8.0, 8.0], 0.8, Decimal("8000.00")),  # 0.8 x 20 MWh x 500
        ([14.0, 14.0], 1.4, Decimal("12000.00")),  # capped: 1.2 x 20 x 500
        ([5.0, 5.0], 0.5, Decimal("5000.00")),  # exactly at the floor pays
        ([4.0, 4.0], 0.4, Decimal("0")),  # below the floor: nothing
    ],
)
def test_pay_curve(delivered: list[float], ratio: float, pay: Decimal) -> None:
    result = settle_event(pd.Series(delivered, index=INDEX), COMMITTED, PRICE, mv(), 60)
    assert result.ratio == pytest.approx(ratio)
    assert result.pay == pay
    assert result.penalty == 0


def test_penalty_below_floor_per_profile() -> None:
    # (0.5 - 0.4) x 20 MWh x 500 CNY/MWh x k=2 = 2000 CNY penalty.
    result = settle_event(
        pd.Series([4.0, 4.0], index=INDEX), COMMITTED, PRICE, mv("shortfall", penalty_factor=2), 60
    )
    assert result.pay == 0
    assert result.penalty == Decimal("-2000.00")
    assert result.amount == Decimal("-2000.00")
    assert result.shortfall_mwh == pytest.approx(12.0)


def test_per_interval_ratio_and_missing_meter() -> None:
    assert performance_ratio(pd.Series([8.0, 12.0], index=INDEX), COMMITTED).tolist() == [0.8, 1.2]
    result = settle_event(pd.Series([10.0, float("nan")], index=INDEX), COMMITTED, PRICE, mv(), 60)
    assert result.missing == (INDEX[1],)
    assert result.ratio == pytest.approx(0.5)  # the unmetered hour is not paid
    assert result.pay == Decimal("5000.00")


def test_unknown_penalty_rule_says_what_to_use() -> None:
    with pytest.raises(InvalidInputError, match="penalty: shortfall"):
        settle_event(pd.Series([1.0, 1.0], index=INDEX), COMMITTED, PRICE, mv("weird"), 60)


def test_shandong_dr_band_from_profile() -> None:
    product = load_market_profile("cn-shandong").product("dr_peak_shaving")
    assert product.mv is not None
    result = settle_event(pd.Series([6.0, 6.0], index=INDEX), COMMITTED, 300.0, product.mv, 60)
    assert result.pay == Decimal("3600.00")  # 0.6 x 20 MWh x 300 CNY/MWh
