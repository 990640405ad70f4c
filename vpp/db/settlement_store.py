"""Reading a month's stored days for settlement, and issuing its statements in one transaction.

The settlement service is pure; this module is its database edge. :func:`load_month` turns
what the day-ahead cycles stored (issued day statements, dispatch setpoints, device telemetry,
contracts, assets, the PV and wind meters for the zero-carbon report) into
:class:`~vpp.services.settle_month.MonthInputs`, together with the consumption meters (park
consumption for the zero-carbon report, tenant bills for shared savings, DR baselines), the
stored DR events (whose days the baselines leave out) and the AGC commands scored for K.
:func:`issue_month` stores the monthly statements: a new one is issued, one whose amounts
changed is corrected as a new version, an identical one is left alone. A month with missing
data is refused unless someone overrides, and the override is written to the audit log. The
caller runs both inside one :func:`~vpp.db.engine.session_scope`, so an interrupted run
leaves nothing half-issued.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

import pandas as pd
from sqlmodel import Session

from vpp.db.measured_store import agc_products, load_measured
from vpp.db.repositories import (
    AssetRepository,
    AuditRepository,
    AwardRepository,
    ContractRepository,
    DispatchRepository,
    ParkRepository,
    StatementRepository,
    TelemetryRepository,
)
from vpp.domain.assets import PvSpec, WindSpec
from vpp.domain.bids import Statement
from vpp.domain.errors import ConflictError, InvalidInputError, NotFoundError
from vpp.domain.market import MarketProfile
from vpp.domain.park import EnrolledAsset
from vpp.domain.settlement import to_money
from vpp.domain.timegrid import local_midnight
from vpp.services.settle_day import AGGREGATOR
from vpp.services.settle_month import (
    MonthInputs,
    MonthSettlement,
    month_days,
    month_intervals,
    with_override_note,
)


def load_month(session: Session, park_id: str, month: str, profile: MarketProfile) -> MonthInputs:
    """Everything stored for ``park_id`` in ``month`` (``YYYY-MM``), read in one session.

    Park consumption (``load_mw``) is the park's grid-connection meter if it has one, else the
    sum of its tenant meters, NaN where a reading is missing; shared-savings tenants get their
    metered bill savings; DR events come with the consumption history and the stored events of
    the baselines' look-back; AGC awards are priced with the K value of the measured response.
    What cannot be measured is listed in ``data_problems``.
    """
    days = month_days(month)
    park = ParkRepository(session).get(park_id)
    if park.market_id != profile.market_id:
        raise InvalidInputError(
            f"park {park_id} trades in {park.market_id}, not {profile.market_id}"
        )
    tz = profile.timezone
    start = local_midnight(days[0], tz)
    end = local_midnight(days[-1] + timedelta(days=1), tz)
    enterprises = [e for e in park.enterprises if e.id != AGGREGATOR]
    contracts = {}
    statements = StatementRepository(session)
    by_day: dict[date, list[Statement]] = {}
    owners = [*(e.id for e in enterprises), AGGREGATOR]
    for owner in owners:
        if owner != AGGREGATOR:
            active = ContractRepository(session).active(owner, start.to_pydatetime())
            if active:
                contracts[owner] = active[-1]
        for s in statements.list_for_enterprise(owner):
            daily = s.period_start == s.period_end and days[0] <= s.period_start <= days[-1]
            if daily and s.status == "issued" and s.market_id == profile.market_id:
                by_day.setdefault(s.period_start, []).append(s)
    assets = AssetRepository(session).list_for_park(park_id)
    dispatch = DispatchRepository(session)
    frames = [dispatch.get(profile.market_id, d).frame() for d in days]
    frames = [f for f in frames if not f.empty]
    committed = pd.concat(frames).sort_index() if frames else pd.DataFrame()
    telemetry = TelemetryRepository(session)
    awards = AwardRepository(session)
    # Device meters may report every few seconds or minutes: average them per market interval
    # (labelled by its start); an interval with no reading stays NaN and counts as missing.
    step = f"{profile.interval_minutes}min"
    metered = pd.DataFrame(
        {
            a: telemetry.read(a, start.to_pydatetime(), end.to_pydatetime())
            .resample(step, label="left", closed="left")
            .mean()
            for a in committed.columns
        },
        index=committed.index,
    )
    generation, quality = _generation(telemetry, assets, month, profile)
    awarded = {d: got for d in days if (got := awards.list_for_day(profile.market_id, d))}
    measured = load_measured(session, park_id, month, assets, contracts, awarded, profile)
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
        data_problems=measured.problems,
    )


def _generation(
    telemetry: TelemetryRepository,
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


@dataclass(frozen=True)
class Issued:
    """What happened to one monthly statement."""

    statement: Statement
    action: Literal["issued", "corrected", "unchanged"]


def issue_month(
    session: Session,
    settlement: MonthSettlement,
    *,
    at: datetime | None = None,
    override_by: str | None = None,
) -> list[Issued]:
    """Issue (or correct) the month's statements; refuse an incomplete month without override.

    Raises
    ------
    ConflictError
        The month has missing data and nobody overrode.
    """
    now = at or datetime.now(UTC)
    problems = settlement.problems()
    drafts = settlement.statements
    if problems and not override_by:
        raise ConflictError(
            f"{settlement.inputs.month} is incomplete: {'; '.join(problems[:5])}"
            + (f" and {len(problems) - 5} more" if len(problems) > 5 else ""),
            hint="import the missing data and run again, or pass --override-incomplete --by NAME",
        )
    if problems and override_by:
        drafts = [with_override_note(s, override_by, problems) for s in drafts]
    repo = StatementRepository(session)
    audit = AuditRepository(session)
    actor = override_by or "vpp settle"
    out: list[Issued] = []
    for draft in drafts:
        try:
            stored = repo.get(draft.enterprise_id, draft.id)
        except NotFoundError:
            repo.save_draft(draft)
            out.append(Issued(repo.issue(draft.enterprise_id, draft.id, at=now), "issued"))
        else:
            if _amounts(stored) == _amounts(draft):
                out.append(Issued(stored, "unchanged"))
                continue
            corrected = repo.correct(
                draft.model_copy(update={"version": stored.version + 1}), at=now
            )
            audit.record(
                actor,
                "statement.correct",
                "statement",
                draft.id,
                before={"version": stored.version, "total": str(stored.total)},
                after={"version": corrected.version, "total": str(corrected.total)},
                at=now,
            )
            out.append(Issued(corrected, "corrected"))
        if problems and override_by:
            audit.record(
                override_by,
                "settle.override_incomplete",
                "statement",
                draft.id,
                after={
                    "month": settlement.inputs.month,
                    "problems": problems[:100],
                    "problem_count": len(problems),
                },
                at=now,
            )
    return out


def _amounts(statement: Statement) -> list[tuple[str, object]]:
    return [(x.label, to_money(x.amount)) for x in statement.lines]
