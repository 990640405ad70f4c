"""What the ``define_*`` functions share while a model is being built.

Each asset group adds its variables and rows to the one :class:`LinearProgram` and records in
the context what the rest of the model needs from it: its contribution to the park's net
position per scenario, its reserve capacity per product, its profit terms. Nothing here solves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bidding.model.lp import FloatArray, IntArray, LinearProgram, Term
from bidding.problem import Prepared


@dataclass
class GroupHandles:
    """Variable ids of one asset (or aggregated group) in the model."""

    id: str
    kind: str
    net: list[Term] = field(default_factory=list)  # (S, T) contributions to the net position
    variables: dict[str, IntArray] = field(default_factory=dict)
    reserves: dict[str, IntArray] = field(default_factory=dict)  # product id -> (T,)


@dataclass
class ModelContext:
    """The model under construction plus what its pieces share."""

    lp: LinearProgram
    prep: Prepared
    groups: dict[str, GroupHandles] = field(default_factory=dict)
    scenario_profit: list[tuple[IntArray, FloatArray]] = field(default_factory=list)
    first_stage_profit: list[tuple[IntArray, FloatArray]] = field(default_factory=list)
    variables: dict[str, IntArray] = field(default_factory=dict)  # park-level variables
    eligible: dict[str, frozenset[str]] = field(default_factory=dict)  # group -> reserve ids
    # group -> product -> (T,) reserves decided beforehand [MW]; those groups hold exactly this
    fixed_reserves: dict[str, dict[str, FloatArray]] = field(default_factory=dict)
    # batteries hold one reserve figure per product block instead of one per interval
    block_reserves: bool = False

    def may_hold(self, group_id: str, product_id: str) -> bool:
        """Whether ``group_id`` may hold reserve ``product_id`` (consent, not physics)."""
        allowed = self.eligible.get(group_id)
        return allowed is None or product_id in allowed

    @property
    def shape(self) -> tuple[int, int]:
        """(S, T)."""
        return self.prep.n_scenarios, self.prep.n_intervals

    def group(self, group_id: str, kind: str) -> GroupHandles:
        """Register and return the handles of a new group."""
        handles = GroupHandles(group_id, kind)
        self.groups[group_id] = handles
        return handles

    def add_scenario_profit(self, ids: IntArray, coef: float | FloatArray) -> None:
        """Profit earned in each scenario: ``ids`` has a leading scenario axis [currency]."""
        coef_b = np.broadcast_to(np.asarray(coef, float), ids.shape)
        self.scenario_profit.append((ids, coef_b))

    def add_first_stage_profit(self, ids: IntArray, coef: float | FloatArray) -> None:
        """Profit common to all scenarios (reserve capacity) [currency]."""
        coef_b = np.broadcast_to(np.asarray(coef, float), ids.shape)
        self.first_stage_profit.append((ids, coef_b))

    def expected_profit(self, x: FloatArray) -> float:
        """Scenario-weighted profit of a solution ``x``, without the risk term [currency]."""
        total = 0.0
        weights = self.prep.weights
        for ids, coef in self.scenario_profit:
            per = (coef * x[ids]).reshape(ids.shape[0], -1).sum(axis=1)
            total += float(weights @ per)
        for ids, coef in self.first_stage_profit:
            total += float((coef * x[ids]).sum())
        return total

    def reserve_products(self, up: bool | None = None) -> list[str]:
        """Ids of offered reserve products, optionally only those needing up (or down) room."""
        out = []
        for product in self.prep.reserves:
            if up is None or (up and product.up) or (up is False and product.down):
                out.append(product.id)
        return out


def available(windows: list[tuple[int, int]], prep: Prepared) -> np.ndarray:
    """(T,) True where an interval lies inside one of ``windows`` (local minutes); all if none."""
    minute = prep.minute_of_day
    if not windows:
        return np.ones(minute.shape, dtype=bool)
    step = prep.problem.profile.interval_minutes
    inside = np.zeros(minute.shape, dtype=bool)
    for start, end in windows:
        inside |= (minute >= start) & (minute + step <= end)
    return inside
