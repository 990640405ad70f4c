"""Per-asset plans as the domain's DispatchPlan (one Setpoint per asset and interval)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from vpp.domain.bids import DispatchPlan, Setpoint


def dispatch_plan(market_id: str, day: date, frames: dict[str, pd.DataFrame]) -> DispatchPlan:
    """Setpoints from per-asset frames: power [MW] and reserve held up/down [MW].

    Reserve columns are named ``reserve_<product>_mw``; a product counts as up, down or both
    according to ``frames["reserve_directions"]`` when given, else by its id (``_neg``/``_down``
    = down, ``_pos``/``_up`` = up, anything else symmetric).
    """
    power = frames["power_mw"]
    up = pd.DataFrame(0.0, index=power.index, columns=power.columns)
    down = up.copy()
    for name, frame in frames.items():
        if not (name.startswith("reserve_") and name.endswith("_mw")):
            continue
        product = name[len("reserve_") : -len("_mw")]
        aligned = frame.reindex(columns=power.columns, fill_value=0.0)
        if not product.endswith(("_neg", "_down", "valley_filling")):
            up += aligned
        if not product.endswith(("_pos", "_up", "peak_shaving")):
            down += aligned
    stamps = [ts.to_pydatetime() for ts in power.index]
    p, u, d = power.to_numpy(), np.maximum(up.to_numpy(), 0), np.maximum(down.to_numpy(), 0)
    setpoints = [
        Setpoint.model_construct(
            asset_id=asset,
            interval_start=stamps[t],
            power_mw=float(p[t, j]),
            reserve_up_mw=float(u[t, j]),
            reserve_down_mw=float(d[t, j]),
        )
        for j, asset in enumerate(power.columns)
        for t in range(len(stamps))
    ]
    return DispatchPlan(market_id=market_id, delivery_day=day, setpoints=setpoints)
