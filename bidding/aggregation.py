"""Merge batteries that are scaled copies of one another into one model battery.

Two batteries are scaled copies when every intensive parameter is equal — energy-to-power
ratio, charge-to-discharge power ratio, efficiency, SoC window, initial and final SoC,
degradation cost per MWh and availability — so one differs from the other only by a factor.
Any feasible schedule of the sum, split pro rata to power, is feasible for each member and earns
the same, so the merge is exact and a fleet of thousands of look-alike batteries solves as a
handful of model batteries. Other assets are modelled one by one.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from vpp.domain.assets import AssetSpec, BatterySpec


@dataclass(frozen=True)
class AssetGroup:
    """Assets modelled as one: ``spec`` is the sum, ``shares`` each member's fraction."""

    id: str
    spec: AssetSpec
    members: tuple[str, ...]
    shares: np.ndarray  # (members,) summing to 1


def _battery_key(b: BatterySpec) -> tuple[object, ...]:
    def r(x: float | None) -> float | None:
        return None if x is None else round(x, 12)

    windows = tuple((w.start, w.end) for w in b.availability)
    return (
        r(b.energy_mwh / b.power_mw),
        r(b.max_charge_mw / b.power_mw),
        r(b.round_trip_efficiency),
        r(b.soc_min),
        r(b.soc_max),
        r(b.soc_initial),
        r(b.soc_final),
        r(b.degradation_cost_per_mwh),
        windows,
    )


def group_assets(
    assets: Sequence[AssetSpec],
    aggregate: bool = True,
    reserve_eligible: Mapping[str, Collection[str]] | None = None,
) -> list[AssetGroup]:
    """Groups of assets to model; batteries that are scaled copies share one group.

    Parameters
    ----------
    assets : sequence of AssetSpec
        The portfolio.
    aggregate : bool
        False models every asset on its own.
    reserve_eligible : mapping, optional
        Asset id -> reserve products it may hold; only batteries with the same products merge.
    """
    groups: list[AssetGroup] = []
    batteries: dict[tuple[object, ...], list[BatterySpec]] = {}
    for asset in assets:
        if aggregate and isinstance(asset, BatterySpec):
            products = (
                None if reserve_eligible is None else frozenset(reserve_eligible.get(asset.id, ()))
            )
            batteries.setdefault((*_battery_key(asset), products), []).append(asset)
        else:
            groups.append(AssetGroup(asset.id, asset, (asset.id,), np.ones(1)))
    for members in batteries.values():
        if len(members) == 1:
            groups.append(AssetGroup(members[0].id, members[0], (members[0].id,), np.ones(1)))
            continue
        power = np.array([m.power_mw for m in members])
        first = members[0]
        total = float(power.sum())
        spec = first.model_copy(
            update={
                "id": f"group-{first.id}",
                "power_mw": total,
                "charge_power_mw": None
                if first.charge_power_mw is None
                else total * first.max_charge_mw / first.power_mw,
                "energy_mwh": total * first.energy_mwh / first.power_mw,
            }
        )
        groups.append(AssetGroup(spec.id, spec, tuple(m.id for m in members), power / total))
    return groups
