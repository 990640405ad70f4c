"""Performance and the pay curve: how much of a commitment was delivered, and what that earns.

Measured products (demand response, called reserve) pay for delivered energy against a
commitment, inside a band set by the profile's ``products[].mv``: nothing below the ``floor``
share (and a penalty when the profile names one), pro rata between floor and ``cap``, and no
more than ``cap`` x the commitment above it (market-rules §4.1 step 4). The ratio is kept per
event (what the market pays on) and per interval (what the operator looks at to find who
under-delivered).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pandas as pd

from vpp.domain.errors import InvalidInputError
from vpp.domain.market import MeasurementVerification
from vpp.domain.settlement import to_money


@dataclass(frozen=True)
class EventPerformance:
    """Delivery against commitment over one event and what it earns [currency]."""

    committed_mwh: float
    delivered_mwh: float
    ratio: float
    """Delivered / committed energy over the event [-]."""
    interval_ratio: pd.Series
    """Delivered / committed per interval [-]; NaN where nothing was committed."""
    pay: Decimal
    penalty: Decimal
    """Zero or negative [currency]."""
    missing: tuple[pd.Timestamp, ...] = ()

    @property
    def amount(self) -> Decimal:
        """Pay plus penalty [currency]."""
        return self.pay + self.penalty

    @property
    def shortfall_mwh(self) -> float:
        """Committed energy not delivered [MWh] (>= 0)."""
        return max(0.0, self.committed_mwh - self.delivered_mwh)


def performance_ratio(delivered_mw: pd.Series, committed_mw: pd.Series) -> pd.Series:
    """Delivered over committed power per interval [-]; NaN where the commitment is zero.

    Parameters
    ----------
    delivered_mw : pandas.Series
        Delivered flexibility per interval, > 0 in the committed direction [MW].
    committed_mw : pandas.Series
        Committed flexibility per interval, >= 0 [MW].
    """
    delivered = delivered_mw.reindex(committed_mw.index)
    committed = committed_mw.where(committed_mw != 0)
    return (delivered / committed).rename("ratio")


def penalty_factor(mv: MeasurementVerification) -> float:
    """The factor k of ``(floor - ratio) x commitment x price x k`` [-]; 0 when no penalty."""
    if mv.penalty in (None, "none"):
        return 0.0
    if mv.penalty == "shortfall":
        return float(mv.params.get("penalty_factor", 1.0))
    raise InvalidInputError(
        f"unknown M&V penalty rule {mv.penalty!r}",
        hint="use penalty: none or penalty: shortfall (with params.penalty_factor)",
    )


def settle_event(
    delivered_mw: pd.Series,
    committed_mw: pd.Series,
    price_per_mwh: float,
    mv: MeasurementVerification,
    interval_minutes: int,
) -> EventPerformance:
    """Performance ratio and pay of one event under the profile's floor/cap curve.

    Parameters
    ----------
    delivered_mw : pandas.Series
        Delivered flexibility (baseline minus metered, in the committed direction) per UTC
        interval start [MW]; NaN marks a missing meter interval.
    committed_mw : pandas.Series
        Committed (awarded) flexibility per interval, >= 0 [MW].
    price_per_mwh : float
        Event price [currency/MWh].
    mv : MeasurementVerification
        The product's ``mv`` section: ``floor`` [-], ``cap`` [-] and ``penalty`` rule.
    interval_minutes : int
        Interval length [min].

    Returns
    -------
    EventPerformance
        Ratio, pay and penalty; intervals without a meter value are listed in ``missing`` and
        count as not delivered (the market does not pay unmetered energy either).
    """
    hours = interval_minutes / 60
    delivered = delivered_mw.reindex(committed_mw.index)
    missing = tuple(delivered.index[delivered.isna()])
    committed_mwh = float(committed_mw.sum() * hours)
    delivered_mwh = float(delivered.fillna(0.0).sum() * hours)
    ratio = delivered_mwh / committed_mwh if committed_mwh > 0 else 0.0
    floor = mv.floor if mv.floor is not None else 0.0
    cap = mv.cap if mv.cap is not None else float("inf")
    if committed_mwh <= 0 or ratio < floor:
        pay = Decimal("0")
        short = max(0.0, floor - ratio)
        penalty = -to_money(short * committed_mwh * price_per_mwh * penalty_factor(mv))
    else:
        pay = to_money(min(ratio, cap) * committed_mwh * price_per_mwh)
        penalty = Decimal("0.00")
    return EventPerformance(
        committed_mwh=committed_mwh,
        delivered_mwh=delivered_mwh,
        ratio=ratio,
        interval_ratio=performance_ratio(delivered, committed_mw),
        pay=pay,
        penalty=penalty if penalty != 0 else Decimal("0.00"),
        missing=missing,
    )
