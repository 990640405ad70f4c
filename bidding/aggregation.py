"""Model many batteries as few: exact merges of scaled copies, and virtual batteries beyond.

**Exact.** Two batteries are scaled copies when every intensive parameter is equal — energy-to-
power ratio, charge-to-discharge power ratio, efficiency, SoC window, initial and final SoC,
degradation cost per MWh and availability — so one differs from the other only by a factor.
Any feasible schedule of the sum, split pro rata to power, is feasible for each member and earns
the same, so the merge is exact and a fleet of thousands of look-alike batteries solves as a
handful of model batteries.

**Virtual batteries (an inner approximation).** Batteries that differ in state of charge (and
size and degradation cost) are clustered, and each cluster is modelled as one battery whose feasible set lies *inside* the sum
of its members'. Member ``i`` with discharge power ``p_i`` takes the share ``s_i = p_i / P`` of
the cluster's charge, discharge and reserves, and the same share of its *change* of stored energy:
``E_i(t) = E_i(0) + s_i (E(t) - E(0))``. Every member limit then becomes a limit on the cluster:

* power: ``d <= P``, ``c <= P min_i(c_i / p_i)``;
* energy: ``max_i (Emin_i - E_i(0)) / s_i <= E(t) - E(0) <= min_i (Emax_i - E_i(0)) / s_i``;
* end of day: ``E(T) - E(0) >= max_i (Efinal_i - E_i(0)) / s_i``;
* reserve headroom and sustain energy: the same bounds, since each member holds ``s_i`` of it.

So any schedule of the virtual battery splits into schedules every member can run (the
disaggregation is feasible by construction), degradation cost is the share-weighted mean
(exact), and the only loss is flexibility the intersection gives up. Members of one class share
energy-to-power and charge-to-discharge ratios, efficiency, SoC window, availability and reserve
products (ratios to three significant digits); a class is cut into quantile bins of room per MW
above the initial state, so within a bin only the state of charge differs, a little. More bins,
less loss. Other assets are modelled one by one.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from vpp.domain.assets import AssetSpec, BatterySpec

#: Batteries left after the exact merge above which ``group_assets`` builds virtual batteries.
VIRTUAL_ABOVE = 2_000
#: Virtual batteries built then (split between the classes of equal efficiency, availability
#: and reserve products in proportion to their size).
VIRTUAL_GROUPS = 800
#: Coarse virtual batteries on which reserves are decided before the fine ones re-plan energy.
RESERVE_GROUPS = 80


@dataclass(frozen=True)
class AssetGroup:
    """Assets modelled as one: ``spec`` is the sum, ``shares`` each member's fraction.

    A member's stored energy is ``shares * E(t) + soc_offset_mwh``: zero offsets for exact
    merges; for a virtual battery, each member's initial energy minus its share of the
    cluster's.
    """

    id: str
    spec: AssetSpec
    members: tuple[str, ...]
    shares: np.ndarray  # (members,) summing to 1
    soc_offset_mwh: np.ndarray | None = None  # (members,) [MWh]; None = zeros
    virtual: bool = False


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
    virtual_groups: int | None = None,
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
    virtual_groups : int, optional
        Build at most about this many virtual batteries from batteries that are not scaled
        copies (an inner approximation, see the module docstring); 0 never does. ``None``
        (default): :data:`VIRTUAL_GROUPS` when more than :data:`VIRTUAL_ABOVE` batteries are
        left after the exact merge, else none.
    """
    groups, batteries = _split(assets, aggregate, reserve_eligible)
    k = _virtual_count(batteries, aggregate, virtual_groups)
    if k > 0:
        return groups + _virtual(batteries, reserve_eligible, k)
    return groups + [_exact(members) for members in batteries.values()]


@dataclass(frozen=True)
class NestedGroups:
    """Virtual batteries at two resolutions, each fine group inside one coarse group.

    ``parent`` maps a fine group id to ``(coarse group id, share)``: the fine group's share of
    the coarse group's power. Any schedule of a coarse group split by these shares is feasible
    for its fine groups (their limits are intersections over fewer members), so reserves decided
    on the coarse model can be fixed on the fine one, which then only re-plans energy.
    """

    coarse: list[AssetGroup]
    fine: list[AssetGroup]
    parent: dict[str, tuple[str, float]]


def nested_groups(
    assets: Sequence[AssetSpec],
    aggregate: bool = True,
    reserve_eligible: Mapping[str, Collection[str]] | None = None,
    virtual_groups: int | None = None,
    coarse_groups: int = 0,
) -> NestedGroups | None:
    """Fine virtual batteries (as :func:`group_assets`) and coarse ones made of whole fine bins.

    Returns ``None`` when no virtual batteries are built or ``coarse_groups`` does not make
    the model smaller. Other assets and lone batteries appear unchanged in both levels.
    """
    groups, batteries = _split(assets, aggregate, reserve_eligible)
    fine_k = _virtual_count(batteries, aggregate, virtual_groups)
    if fine_k <= 0 or coarse_groups <= 0 or coarse_groups >= fine_k:
        return None
    parent: dict[str, tuple[str, float]] = {g.id: (g.id, 1.0) for g in groups}
    coarse, fine = list(groups), list(groups)
    classes = _classes(batteries, reserve_eligible)
    total = sum(len(m) for m in classes)
    for number, members in enumerate(classes):
        k_fine = max(1, round(fine_k * len(members) / total))
        bins = _bins(members, k_fine)
        k_coarse = min(len(bins), max(1, round(coarse_groups * len(members) / total)))
        for chunk, parts in enumerate(np.array_split(np.arange(len(bins)), k_coarse)):
            children: list[AssetGroup] = []
            for part in parts:
                idx = bins[int(part)]
                children += _virtual_group([members[i] for i in idx], f"virtual-{number}-{part}")
            union = np.concatenate([bins[int(part)] for part in parts])
            top = _virtual_group([members[i] for i in union], f"coarse-{number}-{chunk}")
            alone = len(top) != 1 or len(parts) == 1  # no single coarse battery for the chunk
            coarse += children if alone else top
            fine += children
            for child in children:
                if alone:
                    parent[child.id] = (child.id, 1.0)
                else:
                    parent[child.id] = (top[0].id, _power(child) / _power(top[0]))
    return NestedGroups(coarse, fine, parent)


def _power(group: AssetGroup) -> float:
    assert isinstance(group.spec, BatterySpec)
    return group.spec.power_mw


def _split(
    assets: Sequence[AssetSpec],
    aggregate: bool,
    reserve_eligible: Mapping[str, Collection[str]] | None,
) -> tuple[list[AssetGroup], dict[tuple[object, ...], list[BatterySpec]]]:
    """Assets modelled alone, and batteries keyed by what makes them scaled copies."""
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
    return groups, batteries


def _virtual_count(
    batteries: Mapping[tuple[object, ...], list[BatterySpec]],
    aggregate: bool,
    virtual_groups: int | None,
) -> int:
    """How many virtual batteries to build (0: none)."""
    if not aggregate:
        return 0
    if virtual_groups is None:
        return VIRTUAL_GROUPS if len(batteries) > VIRTUAL_ABOVE else 0
    return virtual_groups


def _exact(members: Sequence[BatterySpec]) -> AssetGroup:
    """One group of scaled copies (or a lone battery)."""
    if len(members) == 1:
        return AssetGroup(members[0].id, members[0], (members[0].id,), np.ones(1))
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
    return AssetGroup(spec.id, spec, tuple(m.id for m in members), power / total)


def _class_key(b: BatterySpec, products: frozenset[str] | None) -> tuple[object, ...]:
    """What members of one virtual battery share: everything but size, state of charge and
    degradation cost (size and degradation merge exactly; state of charge is what is binned).
    Ratios are rounded to three significant digits, so near-identical products share a class."""
    windows = tuple((w.start, w.end) for w in b.availability)
    return (
        float(f"{b.energy_mwh / b.power_mw:.3g}"),
        float(f"{b.max_charge_mw / b.power_mw:.3g}"),
        round(b.round_trip_efficiency, 3),
        round(b.soc_min, 3),
        round(b.soc_max, 3),
        windows,
        products,
    )


def _classes(
    exact: Mapping[tuple[object, ...], list[BatterySpec]],
    reserve_eligible: Mapping[str, Collection[str]] | None,
) -> list[list[BatterySpec]]:
    """Batteries in classes of equal ratios, efficiency, availability and products."""
    classes: dict[tuple[object, ...], list[BatterySpec]] = {}
    for members in exact.values():
        for b in members:
            products = (
                None if reserve_eligible is None else frozenset(reserve_eligible.get(b.id, ()))
            )
            classes.setdefault(_class_key(b, products), []).append(b)
    return list(classes.values())


def _virtual(
    exact: Mapping[tuple[object, ...], list[BatterySpec]],
    reserve_eligible: Mapping[str, Collection[str]] | None,
    n_groups: int,
) -> list[AssetGroup]:
    """Virtual batteries: classes of equal efficiency, availability and products, binned."""
    classes = _classes(exact, reserve_eligible)
    total = sum(len(m) for m in classes)
    out: list[AssetGroup] = []
    for number, members in enumerate(classes):
        k = max(1, round(n_groups * len(members) / total))  # at least one per class
        for part, idx in enumerate(_bins(members, k)):
            out.extend(_virtual_group([members[i] for i in idx], f"virtual-{number}-{part}"))
    return out


def _room(members: Sequence[BatterySpec]) -> tuple[np.ndarray, ...]:
    """Per member: power [MW], initial energy [MWh], and energy room per MW [h] below
    (``lo`` <= 0) and above (``hi`` >= 0) the initial state and to the end-of-day floor."""
    p = np.array([m.power_mw for m in members])
    e = np.array([m.energy_mwh for m in members])
    e_min = np.array([m.soc_min for m in members]) * e
    e_max = np.array([m.soc_max for m in members]) * e
    e0 = np.array([m.soc_initial for m in members]) * e
    final = np.array([m.soc_final if m.soc_final is not None else m.soc_initial for m in members])
    floor = np.maximum(final * e, e_min)
    return p, e0, (e_min - e0) / p, (e_max - e0) / p, (floor - e0) / p


def _bins(members: Sequence[BatterySpec], k: int) -> list[np.ndarray]:
    """``k`` quantile bins by room per MW above the initial state (within a class, the room
    below falls as the room above grows, so neighbours in this order are alike in both)."""
    _, _, _, hi, _ = _room(members)
    return [b for b in np.array_split(np.argsort(hi, kind="stable"), k) if b.size]


def _virtual_group(members: Sequence[BatterySpec], group_id: str) -> list[AssetGroup]:
    """One virtual battery for ``members``; halves the bin while its end-of-day floor lies
    above its energy ceiling (members whose targets cannot share one schedule)."""
    if len(members) == 1:
        return [_exact(members)]
    p, e0, lo, hi, fin = _room(members)
    total = float(p.sum())
    low, high, floor = total * lo.max(), total * hi.min(), total * fin.max()
    if floor > high + 1e-9 or high - low <= 1e-9:
        half = len(members) // 2
        order = np.argsort(fin, kind="stable")
        return _virtual_group([members[i] for i in order[:half]], f"{group_id}a") + _virtual_group(
            [members[i] for i in order[half:]], f"{group_id}b"
        )
    energy = high - low
    shares = p / total
    charge = min(m.max_charge_mw / m.power_mw for m in members)
    degradation = float(shares @ np.array([m.degradation_cost_per_mwh for m in members]))
    start = -low / energy
    spec = members[0].model_copy(
        update={
            "id": group_id,
            "power_mw": total,
            "charge_power_mw": total * charge,
            "energy_mwh": energy,
            "soc_min": 0.0,
            "soc_max": 1.0,
            "soc_initial": min(max(start, 0.0), 1.0),
            "soc_final": min(max((floor - low) / energy, 0.0), 1.0),
            "degradation_cost_per_mwh": degradation,
        }
    )
    offsets = e0 - shares * start * energy
    return [AssetGroup(group_id, spec, tuple(m.id for m in members), shares, offsets, True)]
