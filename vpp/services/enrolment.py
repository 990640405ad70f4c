"""Enrolment checks: what an asset can physically do, and whether meter readings fit it.

Pure use-case logic for the enrolment API: the route hands in the spec and raw rows, gets back
accepted readings and the reasons for every rejected row. Power follows the service's sign
convention (``vpp.domain``): positive into the grid, negative drawn from it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from vpp.domain.assets import AssetSpec
from vpp.domain.errors import AssetSpecError

METER_TOLERANCE = 0.05
"""Share of the physical limit a meter reading may exceed it by (meter class accuracy) [-]."""
QUALITIES = ("measured", "estimated", "substituted")
FUTURE_SLACK = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class PowerLimits:
    """Physical range of metered power [MW]; ``None`` = no declared bound on that side."""

    lowest_mw: float | None
    highest_mw: float | None


@dataclass(frozen=True, slots=True)
class MeterReading:
    """An accepted reading: power [MW] at tz-aware instant ``ts``, optional energy [MWh]."""

    ts: datetime
    power_mw: float
    energy_mwh: float | None
    quality: str


@dataclass(frozen=True, slots=True)
class RejectedRow:
    """Why row ``row`` (0-based, in upload order) was refused."""

    row: int
    field: str
    message: str


def power_limits(spec: AssetSpec, connection_mw: float | None = None) -> PowerLimits:
    """Range of power the asset can meter; loads are bounded by their connection if known."""
    match spec.type:
        case "battery":
            return PowerLimits(-spec.max_charge_mw, spec.power_mw)
        case "pv" | "wind":
            return PowerLimits(0.0, spec.capacity_mw)
        case "backup_generator":
            return PowerLimits(0.0, spec.power_mw)
        case "shiftable_load":
            return PowerLimits(-spec.power_mw, 0.0)
        case "thermal":
            return PowerLimits(-spec.max_power_mw, 0.0)
        case "ev_fleet":
            return PowerLimits(-spec.chargers * spec.charger_power_mw, 0.0)
        case _:  # curtailable_load: its total draw is not declared, only the reduction
            return PowerLimits(None if connection_mw is None else -connection_mw, 0.0)


def flexibility_mw(spec: AssetSpec) -> float:
    """Largest change of power the asset offers in either direction [MW]."""
    limits = power_limits(spec)
    if spec.type == "curtailable_load":
        return spec.max_curtail_mw
    return max(abs(limits.lowest_mw or 0.0), abs(limits.highest_mw or 0.0))


def check_nomination(spec: AssetSpec, nominated_mw: float | None) -> None:
    """Refuse a nominated capacity above what the asset can physically deliver."""
    if nominated_mw is not None and nominated_mw > flexibility_mw(spec) + 1e-9:
        raise AssetSpecError(
            f"asset {spec.id}: nominated_mw {nominated_mw} exceeds its physical flexibility "
            f"{flexibility_mw(spec):.3f} MW",
            hint="nominate at most what the spec allows",
        )


def check_readings(
    spec: AssetSpec,
    rows: Iterable[dict[str, Any]],
    now: datetime,
    connection_mw: float | None = None,
) -> tuple[list[MeterReading], list[RejectedRow]]:
    """Split parsed rows (``ts``, ``power_mw``, ``energy_mwh``, ``quality``) into accepted
    readings and rejected rows; a row whose instant repeats an earlier row is rejected."""
    limits = power_limits(spec, connection_mw)
    accepted: list[MeterReading] = []
    rejected: list[RejectedRow] = []
    seen: set[datetime] = set()
    for k, row in enumerate(rows):
        problem = _row_problem(row, limits, now, seen)
        if problem is not None:
            rejected.append(RejectedRow(k, *problem))
            continue
        seen.add(row["ts"])
        accepted.append(
            MeterReading(row["ts"], row["power_mw"], row.get("energy_mwh"), row["quality"])
        )
    return accepted, rejected


def _row_problem(
    row: dict[str, Any], limits: PowerLimits, now: datetime, seen: set[datetime]
) -> tuple[str, str] | None:
    ts, power, energy = row.get("ts"), row.get("power_mw"), row.get("energy_mwh")
    if not isinstance(ts, datetime) or ts.tzinfo is None or ts.utcoffset() is None:
        return "ts", "timestamp must carry a UTC offset (e.g. 2026-03-02T00:00:00Z)"
    if ts > now + FUTURE_SLACK:
        return "ts", f"timestamp {ts.isoformat()} is in the future"
    if ts in seen:
        return "ts", f"timestamp {ts.isoformat()} appears twice in the batch"
    if not isinstance(power, float | int) or not math.isfinite(power):
        return "power_mw", "power_mw must be a finite number [MW]"
    if energy is not None and (not isinstance(energy, float | int) or not math.isfinite(energy)):
        return "energy_mwh", "energy_mwh must be a finite number [MWh] or empty"
    if row.get("quality") not in QUALITIES:
        return "quality", f"quality must be one of {', '.join(QUALITIES)}"
    low, high = limits.lowest_mw, limits.highest_mw
    span = max(abs(low or 0.0), abs(high or 0.0))
    slack = METER_TOLERANCE * span
    if high is not None and power > high + slack:
        return "power_mw", f"power_mw {power} exceeds the asset's limit {high} MW"
    if low is not None and power < low - slack:
        return "power_mw", f"power_mw {power} is below the asset's limit {low} MW"
    return None
