"""Flexible consumption: curtailable processes, shiftable batches, thermal storage, EV depots.

Each contributes its consumption (negative, by the sign convention) to the park's net position
per scenario.

- Curtailable load: a reduction ``x`` in [0, max_curtail_mw] below the process's baseline (the
  baseline itself is part of ``base_load_mw``). Events are chosen among candidate events
  (``BidProblem.exact_events``, the default; see :func:`_curtailment_events`): at most
  ``max_events_per_day``, none longer than ``max_duration_min``, never touching. Without them
  (an LP) the rules are relaxed: any run of ``max_duration_min`` + one interval holds at most
  ``max_duration_min`` of full curtailment and the day's curtailed energy is at most
  ``max_events_per_day`` full events, which lets the solver spread slivers of curtailment over
  the day; both relaxed rows are kept in the exact model too, where they bound a short event's
  energy. ``rebound_fraction`` of the energy curtailed in one interval is consumed in the next.
  Intervals starting less than ``notice_min`` after gate closure cannot be curtailed. The load
  can also hold up-direction demand-response capacity within the same limits.
- Shiftable load: draw ``u`` in [0, power_mw] inside its window, summing to ``energy_mwh``.
- Thermal: draw ``w`` in [min, max]; stored energy ``h`` follows ``h[t] = h[t-1](1 - loss dt)
  + (w - baseline) dt`` inside [0, capacity] and ends the day no lower than it began.
- EV depot: one charging variable per declared session, inside its plugged window, delivering the
  session's energy through the charging efficiency, all sessions together within the chargers'
  capacity. A session over midnight is split at midnight in proportion to its plugged time.
"""

from __future__ import annotations

import numpy as np

from bidding.model.context import ModelContext, available
from bidding.problem import Prepared
from vpp.domain.assets import (
    CurtailableLoadSpec,
    EvFleetSpec,
    ShiftableLoadSpec,
    ThermalSpec,
    clock_minutes,
)

MINUTES_PER_DAY = 1440
#: Least curtailment in an interval of an event, as a share of ``max_curtail_mw``: an event is
#: what the device sees, a run of intervals that are actually curtailed.
MIN_EVENT_DEPTH = 0.01


def _windows(
    spec: CurtailableLoadSpec | ShiftableLoadSpec | ThermalSpec | EvFleetSpec,
) -> list[tuple[int, int]]:
    return [(clock_minutes(w.start), clock_minutes(w.end)) for w in spec.availability]


def define_curtailable_load(ctx: ModelContext, group_id: str, spec: CurtailableLoadSpec) -> None:
    """Add a curtailable process (event rules: see the module docstring)."""
    lp, prep = ctx.lp, ctx.prep
    s, t = ctx.shape
    step = prep.problem.profile.interval_minutes
    on = curtailable_intervals(prep, spec)
    x = lp.add_variables("curtail_mw", (s, t), 0.0, spec.max_curtail_mw * on, asset=group_id)
    handles = ctx.group(group_id, "curtailable_load")
    reserves = {}
    for product in prep.reserves:
        offers = product.kind == "dr" and product.up and not product.down
        offers = offers and ctx.may_hold(group_id, product.id)
        if offers and spec.max_duration_min >= product.sustain_h * 60:
            reserves[product.id] = lp.add_variables(
                f"reserve_{product.id}_mw", (t,), 0.0, spec.max_curtail_mw * on, asset=group_id
            )
    if reserves:
        lp.add_constraints(
            "curtail_headroom",
            [(1.0, x), *[(1.0, r[None, :]) for r in reserves.values()]],
            upper=spec.max_curtail_mw,
            asset=group_id,
            describe="curtailment headroom for demand response",
        )
    run = spec.max_duration_min // step + 1
    if run <= t:
        # window sums via a banded set of terms: row k covers intervals k .. k+run-1
        rows = t - run + 1
        terms = [(1.0, x[:, k : k + rows]) for k in range(run)]
        lp.add_constraints(
            "curtail_duration",
            terms,
            upper=spec.max_curtail_mw * (spec.max_duration_min / step),
            asset=group_id,
            describe=f"at most {spec.max_duration_min} min of full curtailment in a row",
        )
    daily = spec.max_curtail_mw * spec.max_duration_min / 60 * spec.max_events_per_day
    total = lp.add_variables("curtail_energy_mwh", (s,), 0.0, daily, asset=group_id)
    lp.add_constraints(
        "curtail_energy_sum",
        [(1.0, total[:, None]), *[(-prep.dt_h, x[:, k : k + 1]) for k in range(t)]],
        0.0,
        0.0,
        asset=group_id,
        describe="curtailed energy of the day",
    )
    if prep.problem.exact_events:
        _curtailment_events(ctx, group_id, spec, x, on)
    if spec.cost_per_mwh:
        ctx.add_scenario_profit(x, -spec.cost_per_mwh * prep.dt_h)
    handles.net = [(1.0, x)]
    if spec.rebound_fraction > 0:
        handles.net.append((-spec.rebound_fraction, _shift(ctx, x)))
    handles.variables = {"curtail_mw": x}
    handles.reserves = reserves


def curtailable_intervals(prep: Prepared, spec: CurtailableLoadSpec) -> np.ndarray:
    """(T,) True where the load may be curtailed: inside its availability, after its notice."""
    return available(_windows(spec), prep) & (prep.minutes_after_gate >= spec.notice_min)


def _candidates(allowed: np.ndarray, longest: int) -> np.ndarray:
    """(longest, T) 1 where an event of ``L`` intervals may start (every interval allowed)."""
    t = allowed.size
    fits = np.zeros((longest, t))
    ok = allowed.astype(int)
    for length in range(1, longest + 1):
        fits[length - 1, : t - length + 1] = (
            np.convolve(ok, np.ones(length, int), "valid") == length
        )
    return fits


def best_events(prep: Prepared, spec: CurtailableLoadSpec) -> np.ndarray:
    """The curtailment events a price-taking load would choose on its own: (longest, T), laid
    out as the ``curtail_event`` variables of :func:`_curtailment_events`.

    With the events fixed, each scenario's depth in an interval is worth
    ``(price - cost) dt`` per MW, less the rebound bought in the next interval, so the best
    depth is all or the least (:data:`MIN_EVENT_DEPTH`) and an event's value is a sum over its
    intervals. Which events to run is then a shortest-path choice over the day (dynamic
    programming over the next free interval and the events used), exact for the load alone
    without the bid-curve (monotonicity) and reserve rows, which the caller adds back with the
    events fixed.
    """
    step = prep.problem.profile.interval_minutes
    t = prep.n_intervals
    longest = min(max(spec.max_duration_min // step, 1), t)
    fits = _candidates(curtailable_intervals(prep, spec), longest)
    dt = prep.dt_h
    later = np.zeros_like(prep.prices)
    later[:, :-1] = prep.prices[:, 1:]
    per_mw = (prep.prices - spec.cost_per_mwh - spec.rebound_fraction * later) * dt  # (S, T)
    depth = np.maximum(per_mw, MIN_EVENT_DEPTH * per_mw) * spec.max_curtail_mw
    gain = np.concatenate([[0.0], np.cumsum(prep.weights @ depth)])
    events = spec.max_events_per_day
    # best[i, k]: value from interval i on with k events still allowed; choice: 0 skip, L run
    best = np.zeros((t + 2, events + 1))
    choice = np.zeros((t + 1, events + 1), dtype=np.int64)
    for i in range(t - 1, -1, -1):
        for k in range(events + 1):
            best[i, k], choice[i, k] = best[i + 1, k], 0
            if k == 0:
                continue
            for length in range(1, longest + 1):
                if not fits[length - 1, i]:
                    continue
                value = gain[i + length] - gain[i] + best[min(i + length + 1, t), k - 1]
                if value > best[i, k] + 1e-12:
                    best[i, k], choice[i, k] = value, length
    chosen = np.zeros((longest, t))
    i, k = 0, events
    while i < t:
        length = int(choice[i, k])
        if length:
            chosen[length - 1, i] = 1.0
            i, k = i + length + 1, k - 1
        else:
            i += 1
    return chosen


def _curtailment_events(
    ctx: ModelContext, group_id: str, spec: CurtailableLoadSpec, x: np.ndarray, allowed: np.ndarray
) -> None:
    """Events of a curtailable load as a choice among candidate events (a MIP).

    ``event[L - 1, a]`` = 1 runs an event of ``L`` intervals from interval ``a`` (``L`` up to
    ``max_duration_min``, at least one interval; only where every interval may be curtailed).
    Chosen events neither overlap nor touch (an interval between two events is not
    curtailed, else the device would see one longer event), there are at most
    ``max_events_per_day`` of them, and the load curtails between 1 % of ``max_curtail_mw``
    (:data:`MIN_EVENT_DEPTH`) and all of it inside an event and nothing outside. Each interval
    lies in consecutive candidates, so this relaxation is far tighter than on/off switches with
    start counters (one furnace, 10 scenarios: 1.2 s instead of 9.5 s).

    The event schedule is the same in every scenario (it is decided day-ahead, as the notice
    needs); the depth within an event follows each scenario's prices.
    """
    lp = ctx.lp
    _, t = ctx.shape
    step = ctx.prep.problem.profile.interval_minutes
    longest = min(max(spec.max_duration_min // step, 1), t)
    fits = _candidates(allowed, longest)
    event = lp.add_variables(
        "curtail_event", (longest, t), 0.0, fits, asset=group_id, integer=True, device=True
    )
    zero = lp.add_variables("zero", (1,), 0.0, 0.0)

    def covering(length: int, back: int) -> np.ndarray:
        """Ids, per interval, of the candidate of ``length`` that started ``back`` before it."""
        ids = np.full((1, t), zero[0])
        ids[0, back:] = event[length - 1, : t - back]
        return ids

    on = lp.add_variables("curtail_on", (1, t), 0.0, 1.0, asset=group_id)
    lengths = range(1, longest + 1)
    lp.add_constraints(
        "curtail_on",
        [(1.0, on), *[(-1.0, covering(n, k)) for n in lengths for k in range(n)]],
        0.0,
        0.0,
        asset=group_id,
        describe="an interval is curtailed when a chosen event covers it",
    )
    lp.add_constraints(
        "curtail_apart",
        [(1.0, covering(n, k)) for n in lengths for k in range(n + 1)],
        upper=1.0,
        asset=group_id,
        describe="curtailment events neither overlap nor follow each other directly",
    )
    flat = event.reshape(1, -1)
    lp.add_constraints(
        "curtail_events",
        [(1.0, flat[:, k : k + 1]) for k in range(flat.shape[1])],
        upper=float(spec.max_events_per_day),
        asset=group_id,
        describe=f"at most {spec.max_events_per_day} curtailment events a day",
    )
    lp.add_constraints(
        "curtail_switch",
        [(1.0, x), (-spec.max_curtail_mw, on)],
        upper=0.0,
        asset=group_id,
        describe=f"no curtailment outside an event (events of at most {longest * step} min)",
    )
    lp.add_constraints(
        "curtail_depth",
        [(1.0, x), (-MIN_EVENT_DEPTH * spec.max_curtail_mw, on)],
        lower=0.0,
        asset=group_id,
        describe="an interval of an event curtails something",
    )


def _shift(ctx: ModelContext, x: np.ndarray) -> np.ndarray:
    """Ids of ``x`` one interval later, with a zero-fixed variable in the first interval."""
    s, _ = ctx.shape
    zero = ctx.lp.add_variables("zero", (s, 1), 0.0, 0.0)
    return np.concatenate([zero, x[:, :-1]], axis=1)


def define_shiftable_load(ctx: ModelContext, group_id: str, spec: ShiftableLoadSpec) -> None:
    """Add a batch process that must draw ``energy_mwh`` inside its window."""
    lp, prep = ctx.lp, ctx.prep
    s, t = ctx.shape
    window = [(clock_minutes(spec.window.start), clock_minutes(spec.window.end))]
    on = available(window, prep) & available(_windows(spec), prep)
    u = lp.add_variables("draw_mw", (s, t), 0.0, spec.power_mw * on, asset=group_id)
    lp.add_constraints(
        "shift_energy",
        [(prep.dt_h, u[:, k : k + 1]) for k in range(t)],
        spec.energy_mwh,
        spec.energy_mwh,
        asset=group_id,
        elastic=True,
        describe=f"deliver {spec.energy_mwh} MWh within {spec.window.start}-{spec.window.end}",
    )
    handles = ctx.group(group_id, "shiftable_load")
    handles.net = [(-1.0, u)]
    handles.variables = {"draw_mw": u}


def define_thermal(ctx: ModelContext, group_id: str, spec: ThermalSpec) -> None:
    """Add a thermal virtual battery inside its comfort band."""
    lp, prep = ctx.lp, ctx.prep
    s, t = ctx.shape
    dt = prep.dt_h
    on = available(_windows(spec), prep)
    low = np.where(on, spec.min_power_mw, spec.baseline_power_mw)
    high = np.where(on, spec.max_power_mw, spec.baseline_power_mw)
    w = lp.add_variables("draw_mw", (s, t), low, high, asset=group_id)
    h0_value = spec.soc_initial * spec.energy_capacity_mwh
    h = lp.add_variables("stored_mwh", (s, t), 0.0, spec.energy_capacity_mwh, asset=group_id)
    h0 = lp.add_variables("stored_start_mwh", (s, 1), h0_value, h0_value, asset=group_id)
    keep = 1.0 - spec.standing_loss_per_h * dt
    start = np.concatenate([h0, h[:, :-1]], axis=1)
    lp.add_constraints(
        "thermal_balance",
        [(1.0, h), (-keep, start), (-dt, w)],
        -spec.baseline_power_mw * dt,
        -spec.baseline_power_mw * dt,
        asset=group_id,
        describe="thermal energy balance",
    )
    lp.add_constraints(
        "thermal_final",
        [(1.0, h[:, -1])],
        lower=h0_value,
        asset=group_id,
        elastic=True,
        describe="stored energy at the end of the day >= start",
    )
    handles = ctx.group(group_id, "thermal")
    handles.net = [(-1.0, w)]
    handles.variables = {"draw_mw": w, "stored_mwh": h}


def ev_session_parts(spec: EvFleetSpec) -> list[tuple[int, int, int, float]]:
    """(session index, start minute, end minute, energy per vehicle [MWh]) within one day."""
    parts: list[tuple[int, int, int, float]] = []
    for k, session in enumerate(spec.sessions):
        arrive, leave = clock_minutes(session.arrival), clock_minutes(session.departure)
        if arrive < leave:
            parts.append((k, arrive, leave, session.energy_mwh))
            continue
        share_morning = leave / session.plugged_minutes
        if leave > 0:
            parts.append((k, 0, leave, session.energy_mwh * share_morning))
        parts.append((k, arrive, MINUTES_PER_DAY, session.energy_mwh * (1 - share_morning)))
    return parts


def define_ev_fleet(ctx: ModelContext, group_id: str, spec: EvFleetSpec) -> None:
    """Add an EV depot serving its declared sessions."""
    lp, prep = ctx.lp, ctx.prep
    s, t = ctx.shape
    dt = prep.dt_h
    depot_on = available(_windows(spec), prep)
    draws = []
    for k, start, end, energy in ev_session_parts(spec):
        vehicles = spec.sessions[k].vehicles
        on = available([(start, end)], prep) & depot_on
        z = lp.add_variables(
            f"session{k}_{start}_mw",
            (s, t),
            0.0,
            vehicles * spec.charger_power_mw * on,
            asset=group_id,
        )
        need = vehicles * energy / spec.charging_efficiency
        lp.add_constraints(
            f"ev_session{k}_energy",
            [(dt, z[:, j : j + 1]) for j in range(t)],
            need,
            need,
            asset=group_id,
            elastic=True,
            describe=f"charge session {k} ({vehicles} x {energy:.3f} MWh) between "
            f"{start // 60:02d}:{start % 60:02d} and {end // 60:02d}:{end % 60:02d}",
        )
        draws.append(z)
    lp.add_constraints(
        "ev_chargers",
        [(1.0, z) for z in draws],
        upper=spec.chargers * spec.charger_power_mw,
        asset=group_id,
        describe="charger capacity of the depot",
    )
    handles = ctx.group(group_id, "ev_fleet")
    handles.net = [(-1.0, z) for z in draws]
    handles.variables = {f"session_{k}": z for k, z in enumerate(draws)}
