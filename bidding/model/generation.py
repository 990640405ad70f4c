"""On-site generation: PV and wind (curtailable below their forecast) and backup generators.

Renewables output ``y`` in [0, forecast] when curtailable, exactly the forecast otherwise.
A backup generator runs in [0, power_mw] (its minimum stable output is relaxed: the LP has no
on/off decision), burns fuel at ``fuel_cost_per_mwh`` and produces at most
``power_mw * max_run_h_per_day`` MWh a day, the energy form of its run-hour limit.
"""

from __future__ import annotations

import numpy as np

from bidding.model.context import ModelContext, available
from vpp.domain.assets import BackupGeneratorSpec, PvSpec, WindSpec, clock_minutes


def define_renewable(ctx: ModelContext, group_id: str, spec: PvSpec | WindSpec) -> None:
    """Add a PV plant or wind farm with its forecast available output."""
    lp, prep = ctx.lp, ctx.prep
    s, t = ctx.shape
    forecast = np.clip(
        np.asarray(prep.problem.renewable_mw[spec.id], dtype=float), 0.0, spec.capacity_mw
    )
    low = 0.0 if spec.curtailable else forecast
    y = lp.add_variables("output_mw", (s, t), low, forecast, asset=group_id)
    handles = ctx.group(group_id, spec.type)
    handles.net = [(1.0, y)]
    handles.variables = {"output_mw": y}


def define_generator(ctx: ModelContext, group_id: str, spec: BackupGeneratorSpec) -> None:
    """Add a backup generator (LP relaxation of its minimum output)."""
    lp, prep = ctx.lp, ctx.prep
    s, t = ctx.shape
    windows = [(clock_minutes(w.start), clock_minutes(w.end)) for w in spec.availability]
    on = available(windows, prep)
    v = lp.add_variables("output_mw", (s, t), 0.0, spec.power_mw * on, asset=group_id)
    lp.add_constraints(
        "generator_run_hours",
        [(prep.dt_h, v[:, k : k + 1]) for k in range(t)],
        upper=spec.power_mw * spec.max_run_h_per_day,
        asset=group_id,
        describe=f"at most {spec.max_run_h_per_day} h at full output a day",
    )
    if spec.fuel_cost_per_mwh:
        ctx.add_scenario_profit(v, -spec.fuel_cost_per_mwh * prep.dt_h)
    handles = ctx.group(group_id, "backup_generator")
    handles.net = [(1.0, v)]
    handles.variables = {"output_mw": v}
