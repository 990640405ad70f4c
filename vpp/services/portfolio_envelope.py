"""The portfolio's flexibility envelope: MW up/down and MWh per interval for one product.

Only what may be offered counts. An asset contributes to an interval when a consent record of
its own enterprise covers it for the product at that instant, its capacity is verified (unless the caller asks to
see unverified capacity too), the interval lies in one of its daily availability windows and
in none of its outages. Every asset left out is listed with the reason. "Up" is more power into
the grid (more generation or less consumption), "down" the opposite; a nominated capacity caps
both directions, and a product's minimum sustain time caps power by the energy behind it.

The park's grid connection caps the sum: whatever the park's position before a call, a swing in
either direction cannot exceed the connection's full range (import limit + export limit), so no
more than that is ever offered. Intervals where the cap binds say so (``capped``), and their
energy is scaled down with the power.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from vpp.domain.assets import AssetSpec, clock_minutes
from vpp.domain.park import ConsentRecord, EnrolledAsset


@dataclass(frozen=True, slots=True)
class AssetFlex:
    """What one asset could move: power up and down [MW] and the energy behind it [MWh]."""

    up_mw: float
    down_mw: float
    energy_mwh: float


@dataclass(frozen=True, slots=True)
class EnvelopeInterval:
    """Aggregated flexibility of one interval (labelled by its UTC start)."""

    start: datetime
    up_mw: float
    down_mw: float
    up_mwh: float
    down_mwh: float
    assets: int
    capped: bool = False


@dataclass(frozen=True, slots=True)
class Envelope:
    """The envelope of a product over intervals, the contributing and the excluded assets."""

    product_id: str
    intervals: list[EnvelopeInterval]
    contributing: dict[str, AssetFlex] = field(default_factory=dict)
    excluded: dict[str, str] = field(default_factory=dict)


def asset_flex(spec: AssetSpec, nominated_mw: float | None) -> AssetFlex:
    """Flexibility of one asset by type, capped by its nomination."""
    match spec.type:
        case "battery":
            usable = (spec.soc_max - spec.soc_min) * spec.energy_mwh
            flex = AssetFlex(spec.power_mw, spec.max_charge_mw, usable)
        case "pv" | "wind":
            down = spec.capacity_mw if spec.curtailable else 0.0
            flex = AssetFlex(0.0, down, down * 24)
        case "curtailable_load":
            energy = spec.max_curtail_mw * spec.max_duration_min / 60
            flex = AssetFlex(spec.max_curtail_mw, 0.0, energy)
        case "shiftable_load":
            flex = AssetFlex(spec.power_mw, spec.power_mw, spec.energy_mwh)
        case "thermal":
            up = spec.baseline_power_mw - spec.min_power_mw
            flex = AssetFlex(
                up, spec.max_power_mw - spec.baseline_power_mw, spec.energy_capacity_mwh
            )
        case "ev_fleet":
            power = spec.chargers * spec.charger_power_mw
            flex = AssetFlex(power, power, sum(s.energy_mwh * s.vehicles for s in spec.sessions))
        case _:  # backup_generator
            flex = AssetFlex(spec.power_mw, 0.0, spec.power_mw * spec.max_run_h_per_day)
    if nominated_mw is None:
        return flex
    return AssetFlex(
        min(flex.up_mw, nominated_mw), min(flex.down_mw, nominated_mw), flex.energy_mwh
    )


def build_envelope(
    assets: Sequence[EnrolledAsset],
    consents: Sequence[ConsentRecord],
    outages: Sequence[tuple[str, datetime, datetime]],
    intervals: Sequence[datetime],
    *,
    product_id: str,
    direction: str,
    interval_minutes: int,
    sustain_hours: float,
    timezone: str,
    include_unverified: bool = False,
    connection_mw: float | None = None,
) -> Envelope:
    """Sum the flexibility of offerable assets per interval (``direction`` of the product).

    ``connection_mw`` is the park connection's full range (import + export limit) [MW]; each
    direction's sum is capped at it.
    """
    step = timedelta(minutes=interval_minutes)
    hours = interval_minutes / 60
    zone = ZoneInfo(timezone)
    excluded: dict[str, str] = {}
    contributing: dict[str, AssetFlex] = {}
    active: dict[str, list[bool]] = {}
    for asset in assets:
        spec = asset.spec
        if asset.verification == "failed" or (
            asset.verification != "passed" and not include_unverified
        ):
            excluded[spec.id] = f"capacity verification is {asset.verification}"
            continue
        own = [c for c in consents if c.enterprise_id == asset.enterprise_id]
        covered = [any(c.covers(spec.id, product_id, t) for c in own) for t in intervals]
        if intervals and not any(covered):
            excluded[spec.id] = f"no consent of {asset.enterprise_id} covers {product_id}"
            continue
        flex = _directed(asset_flex(spec, asset.nominated_mw), direction, sustain_hours)
        down_times = [(s, e) for a, s, e in outages if a == spec.id]
        active[spec.id] = [
            ok
            and _available(spec, t, zone)
            and not any(s < t + step and t < e for s, e in down_times)
            for ok, t in zip(covered, intervals, strict=True)
        ]
        contributing[spec.id] = flex
    rows = []
    for k, start in enumerate(intervals):
        live = [contributing[a] for a, on in active.items() if on[k]]
        up = sum(f.up_mw for f in live)
        down = sum(f.down_mw for f in live)
        up_mwh = sum(min(f.up_mw * hours, f.energy_mwh) for f in live)
        down_mwh = sum(min(f.down_mw * hours, f.energy_mwh) for f in live)
        capped = False
        if connection_mw is not None:
            if up > connection_mw:
                up_mwh, up, capped = up_mwh * connection_mw / up, connection_mw, True
            if down > connection_mw:
                down_mwh, down, capped = down_mwh * connection_mw / down, connection_mw, True
        rows.append(EnvelopeInterval(start, up, down, up_mwh, down_mwh, len(live), capped))
    return Envelope(product_id, rows, contributing, excluded)


def _directed(flex: AssetFlex, direction: str, sustain_hours: float) -> AssetFlex:
    up, down = flex.up_mw, flex.down_mw
    if sustain_hours > 0:
        up, down = (
            min(up, flex.energy_mwh / sustain_hours),
            min(down, flex.energy_mwh / sustain_hours),
        )
    if direction == "up":
        down = 0.0
    elif direction == "down":
        up = 0.0
    elif direction == "symmetric":
        up = down = min(up, down)
    return AssetFlex(up, down, flex.energy_mwh)


def _available(spec: AssetSpec, start: datetime, zone: ZoneInfo) -> bool:
    if not spec.availability:
        return True
    local = start.astimezone(zone)
    minute = local.hour * 60 + local.minute
    return any(clock_minutes(w.start) <= minute < clock_minutes(w.end) for w in spec.availability)
