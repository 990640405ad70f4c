"""From the solved model back to assets: per-asset trajectories, split pro rata within groups.

An aggregated group's power, charge, discharge, SoC and reserves are split between its members
in proportion to their power rating, which is exact for scaled copies; a virtual battery splits
the change of stored energy the same way on top of each member's own initial energy (see
``bidding.aggregation``). Second-stage quantities are reported as their scenario-weighted mean:
by convexity that mean is itself a feasible plan for every device.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from bidding.aggregation import AssetGroup
from bidding.model.context import GroupHandles, ModelContext
from bidding.model.lp import FloatArray

QUANTITIES = ("charge_mw", "discharge_mw", "soc_mwh", "stored_mwh", "curtail_mw")


def group_net(handles: GroupHandles, x: FloatArray) -> FloatArray:
    """(S, T) net power of a group [MW]."""
    total: FloatArray | None = None
    for coef, ids in handles.net:
        part = coef * x[ids]
        total = part if total is None else total + part
    assert total is not None
    return total


def asset_frames(
    ctx: ModelContext, groups: Sequence[AssetGroup], x: FloatArray
) -> dict[str, pd.DataFrame]:
    """Per-asset plans: quantity name -> frame of UTC intervals x asset ids.

    Always ``power_mw``; ``charge_mw``, ``discharge_mw``, ``soc_mwh`` for batteries,
    ``stored_mwh`` for thermal, ``curtail_mw`` for curtailable loads and
    ``reserve_<product>_mw`` for whatever each asset holds; ``soc_start_mwh`` is a one-row frame.
    """
    weights = ctx.prep.weights
    index = ctx.prep.intervals
    columns: dict[str, list[FloatArray]] = {}
    names: dict[str, list[str]] = {}

    def put(quantity: str, group: AssetGroup, values: FloatArray) -> None:
        split = np.outer(values, group.shares)
        if quantity.startswith("soc_") and group.soc_offset_mwh is not None:
            split += group.soc_offset_mwh  # a virtual battery splits the change of energy
        columns.setdefault(quantity, []).append(split)
        names.setdefault(quantity, []).extend(group.members)

    for group in groups:
        handles = ctx.groups[group.id]
        put("power_mw", group, weights @ group_net(handles, x))
        for quantity in QUANTITIES:
            if quantity in handles.variables:
                put(quantity, group, weights @ x[handles.variables[quantity]])
        if "soc_start_mwh" in handles.variables:
            put("soc_start_mwh", group, x[handles.variables["soc_start_mwh"]][:1, 0])
        for product_id, ids in handles.reserves.items():
            put(f"reserve_{product_id}_mw", group, np.maximum(x[ids], 0.0))
    frames: dict[str, pd.DataFrame] = {}
    for quantity, parts in columns.items():
        data = np.hstack(parts)
        row_index = index if data.shape[0] == len(index) else pd.RangeIndex(data.shape[0])
        frames[quantity] = pd.DataFrame(data, index=row_index, columns=names[quantity])
    return frames
