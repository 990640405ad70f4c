"""Declared-behaviour baselines: what each asset would do without the VPP, before metered history exists.

The value of flexibility is always a difference against a baseline, so the baseline must be
stated. The rules here are the declared-behaviour baselines used before metered history exists
(issue 7 adds the metered X-of-Y and similar-day methods): a battery idles, a curtailable load
is not curtailed, a shiftable load runs flat out from the start of its window, a thermal load
holds its set-point, an EV fleet charges as soon as each vehicle plugs in, PV and wind produce
everything available, a backup generator stays off. Values follow the sign convention of
``vpp.domain`` (consumption < 0) and are the *flexible part only*: inflexible tenant load is
accounted for separately.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from vpp.domain.assets import (
    AssetSpec,
    EvFleetSpec,
    PvSpec,
    ShiftableLoadSpec,
    ThermalSpec,
    WindSpec,
    clock_minutes,
)
from vpp.domain.timegrid import zone


def _minute_of_day(index: pd.DatetimeIndex, tz: str) -> np.ndarray:
    local = index.tz_convert(zone(tz))
    return np.asarray(local.hour * 60 + local.minute)


def _step_minutes(index: pd.DatetimeIndex) -> float:
    return float((index[1] - index[0]) / pd.Timedelta(minutes=1)) if len(index) > 1 else 15.0


def asset_baseline(
    spec: AssetSpec,
    index: pd.DatetimeIndex,
    tz: str,
    available_mw: pd.Series | None = None,
) -> pd.Series:
    """Baseline power of ``spec`` on each UTC interval start of one market day [MW].

    Parameters
    ----------
    spec : AssetSpec
        The asset.
    index : pandas.DatetimeIndex
        UTC interval starts of the day.
    tz : str
        Market timezone, for the clock windows of the spec.
    available_mw : pandas.Series, optional
        Available output of PV or wind on ``index`` [MW]; required for those types.

    Returns
    -------
    pandas.Series
        Power in the service's sign convention [MW].
    """
    minutes = _minute_of_day(index, tz)
    step = _step_minutes(index)
    power = np.zeros(len(index))
    if isinstance(spec, PvSpec | WindSpec):
        if available_mw is None:
            raise ValueError(f"baseline of {spec.id} needs its available output")
        power = available_mw.reindex(index).fillna(0.0).clip(lower=0.0).to_numpy()
    elif isinstance(spec, ShiftableLoadSpec):
        start = clock_minutes(spec.window.start)
        hours_needed = spec.energy_mwh / spec.power_mw
        run_until = start + hours_needed * 60
        for k, m in enumerate(minutes):
            overlap = max(0.0, min(m + step, run_until) - max(m, start))
            power[k] = -spec.power_mw * overlap / step
    elif isinstance(spec, ThermalSpec):
        power[:] = -spec.baseline_power_mw
    elif isinstance(spec, EvFleetSpec):
        power = -_ev_as_soon_as_possible(spec, minutes, step)
    return pd.Series(power, index=index, name=spec.id)


def _ev_as_soon_as_possible(spec: EvFleetSpec, minutes: np.ndarray, step: float) -> np.ndarray:
    """Grid draw of a fleet charging each session at full power from arrival [MW]."""
    draw = np.zeros(len(minutes))
    for session in spec.sessions:
        arrival = clock_minutes(session.arrival)
        grid_mwh = session.energy_mwh / spec.charging_efficiency
        run = grid_mwh / spec.charger_power_mw * 60
        for k, m in enumerate(minutes):
            # The session recurs daily: an overnight one still charging from yesterday counts.
            for offset in (0.0, -1440.0):
                start = arrival + offset
                overlap = max(0.0, min(m + step, start + run) - max(m, start))
                draw[k] += spec.charger_power_mw * session.vehicles * overlap / step
    return draw
