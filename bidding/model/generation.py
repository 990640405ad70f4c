"""On-site generation: PV and wind (curtailable below their forecast) and backup generators.

Renewables output ``y`` in [0, forecast] when curtailable, exactly the forecast otherwise.
A backup generator burns fuel at ``fuel_cost_per_mwh``. With ``BidProblem.exact_events`` (the
default) it is committed interval by interval (a binary ``on``, the same in every scenario, as a
day-ahead commitment): while on it runs in [min_power_mw, power_mw], off it produces nothing, and
it is on for at most ``max_run_h_per_day`` hours. Without (an LP) it runs in [0, power_mw] and
produces at most ``power_mw * max_run_h_per_day`` MWh a day, the energy form of the run-hour
limit, which lets it idle below its minimum stable output for hours.
"""

from __future__ import annotations

import numpy as np

from bidding.model.context import ModelContext, available
from vpp.domain.assets import BackupGeneratorSpec, PvSpec, WindSpec, clock_minutes

#: Least output of a running generator as a share of its rating, when its minimum stable output
#: is 0: a generator that is on produces something (and counts as running).
MIN_RUN_SHARE = 0.01


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
    """Add a backup generator (commitment: see the module docstring)."""
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
    if prep.problem.exact_events:
        _commitment(ctx, group_id, spec, v, on)
    if spec.fuel_cost_per_mwh:
        ctx.add_scenario_profit(v, -spec.fuel_cost_per_mwh * prep.dt_h)
    handles = ctx.group(group_id, "backup_generator")
    handles.net = [(1.0, v)]
    handles.variables = {"output_mw": v}


def _commitment(
    ctx: ModelContext, group_id: str, spec: BackupGeneratorSpec, v: np.ndarray, allowed: np.ndarray
) -> None:
    """On/off commitment of a generator: minimum stable output and run hours (a MIP)."""
    lp, prep = ctx.lp, ctx.prep
    _, t = ctx.shape
    running = lp.add_variables(
        "generator_on",
        (1, t),
        0.0,
        allowed.astype(float),
        asset=group_id,
        integer=True,
        device=True,
    )
    lp.add_constraints(
        "generator_max",
        [(1.0, v), (-spec.power_mw, running)],
        upper=0.0,
        asset=group_id,
        describe="no output while off",
    )
    lp.add_constraints(
        "generator_min",
        [(1.0, v), (-max(spec.min_power_mw, MIN_RUN_SHARE * spec.power_mw), running)],
        lower=0.0,
        asset=group_id,
        describe=f"at least the minimum stable output {spec.min_power_mw} MW while on",
    )
    lp.add_constraints(
        "generator_on_hours",
        [(prep.dt_h, running[:, k : k + 1]) for k in range(t)],
        upper=spec.max_run_h_per_day,
        asset=group_id,
        describe=f"on for at most {spec.max_run_h_per_day} h a day",
    )
