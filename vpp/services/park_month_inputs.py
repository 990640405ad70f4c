"""Reading one park's stored month for settlement, through the settlement ports.

:func:`load_park_month` turns what the day-ahead cycles stored for a park (issued day
statements, dispatch setpoints, device telemetry, contracts, assets, the PV and wind meters for
the zero-carbon report) into :class:`~vpp.services.settle_month.MonthInputs`, together with the
consumption meters, DR events and AGC commands (:mod:`vpp.services.measured_month`).

Several parks may trade on one market, and dispatch plans and awards are stored per market:
only the park's own assets' setpoints and meters are read. The aggregator's day statements are
the park's when their id names it (``aggregator:<park>:<market>:<day>...``); a market-wide one
(``aggregator:<market>:<day>...``, as single-park deployments store them) counts only when no
other park trades on that market, otherwise the day is reported instead of mixing two parks'
deviations.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from vpp.domain.assets import PvSpec, WindSpec
from vpp.domain.bids import Statement
from vpp.domain.errors import InvalidInputError
from vpp.domain.market import MarketProfile
from vpp.domain.park import Contract, EnrolledAsset, Park
from vpp.domain.settlement_ports import DeviceMeters, SettlementStores
from vpp.domain.timegrid import local_midnight
from vpp.services.measured_month import agc_products, load_measured
from vpp.services.settle_day import AGGREGATOR
from vpp.services.settle_month import MonthInputs, month_days, month_intervals


def load_park_month(
    stores: SettlementStores, park_id: str, month: str, profile: MarketProfile
) -> MonthInputs:
    """Everything stored for ``park_id`` in ``month`` (``YYYY-MM``), read through ``stores``.

    Park consumption (``load_mw``) is the park's grid-connection meter if it has one, else the
    sum of its tenant meters, NaN where a reading is missing; shared-savings tenants get their
    metered bill savings; DR events come with the consumption history and the stored events of
    the baselines' look-back; AGC awards are priced with the K value of the measured response.
    What cannot be measured is listed in ``data_problems`` (the park's) and
    ``enterprise_problems`` (one tenant's).
    """
    days = month_days(month)
    park = stores.parks.get(park_id)
    if park.market_id != profile.market_id:
        raise InvalidInputError(
            f"park {park_id} trades in {park.market_id}, not {profile.market_id}"
        )
    tz = profile.timezone
    start = local_midnight(days[0], tz)
    end = local_midnight(days[-1] + timedelta(days=1), tz)
    enterprises = [e for e in park.enterprises if e.id != AGGREGATOR]
    contracts: dict[str, Contract] = {}
    by_day: dict[date, list[Statement]] = {}
    for e in enterprises:
        active = stores.contracts.active(e.id, start.to_pydatetime())
        if active:
            contracts[e.id] = active[-1]
        for s in _daily(stores.statements.list_for_enterprise(e.id), days, profile):
            by_day.setdefault(s.period_start, []).append(s)
    own_days, day_problems = _aggregator_days(stores, park, days, profile)
    for day, statements in own_days.items():
        by_day.setdefault(day, []).extend(statements)
    assets = stores.assets.list_for_park(park_id)
    owned = {a.spec.id for a in assets}
    frames = [stores.dispatch.get(profile.market_id, d).frame() for d in days]
    frames = [f[[a for a in f.columns if a in owned]] for f in frames if not f.empty]
    frames = [f for f in frames if not f.columns.empty]
    committed = pd.concat(frames).sort_index() if frames else pd.DataFrame()
    # Device meters may report every few seconds or minutes: average them per market interval
    # (labelled by its start); an interval with no reading stays NaN and counts as missing.
    step = f"{profile.interval_minutes}min"
    metered = pd.DataFrame(
        {
            a: stores.telemetry.read(a, start.to_pydatetime(), end.to_pydatetime())
            .resample(step, label="left", closed="left")
            .mean()
            for a in committed.columns
        },
        index=committed.index,
    )
    generation, quality = _generation(stores.telemetry, assets, month, profile)
    awarded = {d: got for d in days if (got := stores.awards.list_for_day(profile.market_id, d))}
    measured = load_measured(stores, park_id, month, assets, contracts, awarded, profile)
    return MonthInputs(
        month=month,
        market_id=profile.market_id,
        currency=profile.currency,
        timezone=tz,
        interval_minutes=profile.interval_minutes,
        enterprises=enterprises,
        contracts=contracts,
        day_statements=by_day,
        asset_owner={a.spec.id: a.enterprise_id for a in assets},
        nominated_mw=_nominated(assets),
        committed_mw=committed,
        metered_mw=metered,
        product_labels={p.id: p.id for p in profile.products},
        asset_specs={a.spec.id: a.spec for a in assets},
        awards=awarded,
        energy_products=frozenset(p.id for p in profile.products if p.kind == "energy"),
        btm_savings=measured.btm_savings,
        generation_mw=generation,
        load_mw=measured.load_mw,
        telemetry_quality=quality,
        load_quality=measured.load_quality,
        consumption_mw=measured.consumption_mw,
        dr_events=measured.dr_events,
        dr_history=measured.dr_history,
        dr_products={p.id: p for p in profile.products if p.kind == "dr"},
        agc_products=agc_products(profile),
        agc_amounts=measured.agc_amounts,
        data_problems=(*day_problems, *measured.problems),
        enterprise_problems=measured.enterprise_problems,
        park_id=park_id,
    )


def _daily(
    statements: list[Statement], days: list[date], profile: MarketProfile
) -> list[Statement]:
    """The issued day statements of the month on the profile's market."""
    return [
        s
        for s in statements
        if s.period_start == s.period_end
        and days[0] <= s.period_start <= days[-1]
        and s.status == "issued"
        and s.market_id == profile.market_id
    ]


def _aggregator_days(
    stores: SettlementStores, park: Park, days: list[date], profile: MarketProfile
) -> tuple[dict[date, list[Statement]], list[str]]:
    """The aggregator's day statements of ``park``, and why a day's could not be told apart."""
    mine = f"{AGGREGATOR}:{park.id}:{profile.market_id}:"
    market_wide = f"{AGGREGATOR}:{profile.market_id}:"
    scoped: dict[date, list[Statement]] = {}
    legacy: dict[date, list[Statement]] = {}
    for s in _daily(stores.statements.list_for_enterprise(AGGREGATOR), days, profile):
        if s.id.startswith(mine):
            scoped.setdefault(s.period_start, []).append(s)
        elif s.id.startswith(market_wide):
            legacy.setdefault(s.period_start, []).append(s)
    unclear = sorted(set(legacy) - set(scoped))
    if not unclear:
        return scoped, []
    others = [
        other
        for other in stores.parks.list_ids()
        if other != park.id and stores.parks.get(other).market_id == park.market_id
    ]
    if not others:
        return {**scoped, **{d: legacy[d] for d in unclear}}, []
    return scoped, [
        f"{len(unclear)} days ({unclear[0].isoformat()} ...) have only the market-wide "
        f"aggregator day statement ({market_wide}<day>) and park(s) {', '.join(others)} trade on "
        f"{profile.market_id} too: those days cannot be attributed to park {park.id}"
    ]


def _generation(
    telemetry: DeviceMeters,
    assets: list[EnrolledAsset],
    month: str,
    profile: MarketProfile,
) -> tuple[pd.DataFrame, frozenset[str]]:
    """Metered PV and wind output per market interval of the month [MW], and its quality flags."""
    grid = month_intervals(month, profile.timezone, profile.interval_minutes)
    step = f"{profile.interval_minutes}min"
    columns, quality = {}, set()
    for a in assets:
        if isinstance(a.spec, PvSpec | WindSpec):
            frame = telemetry.read_frame(
                a.spec.id, grid[0].to_pydatetime(), (grid[-1] + pd.Timedelta(step)).to_pydatetime()
            )
            quality |= set(frame["quality"].dropna())
            power = frame["power_mw"].resample(step, label="left", closed="left").mean()
            columns[a.spec.id] = power.reindex(grid)
    return pd.DataFrame(columns, index=grid), frozenset(quality)


def _nominated(assets: list[EnrolledAsset]) -> dict[str, float]:
    out: dict[str, float] = {}
    for a in assets:
        out[a.enterprise_id] = out.get(a.enterprise_id, 0.0) + (a.nominated_mw or 0.0)
    return out
