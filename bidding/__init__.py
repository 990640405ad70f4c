"""Day-ahead bidding for a park's flexible assets: optimise, build bids, clear, re-dispatch.

Pure: OR-Tools MathOpt (HiGHS by default) over domain objects; no service, database or network.

>>> from bidding import BidProblem, solve_day_ahead, clear_day_ahead, plan_dispatch
"""

from __future__ import annotations

from bidding.clearing import clear_day_ahead
from bidding.dispatch import plan_dispatch
from bidding.problem import BidProblem
from bidding.solve import BidResult, solve_day_ahead

__all__ = ["BidProblem", "BidResult", "clear_day_ahead", "plan_dispatch", "solve_day_ahead"]
