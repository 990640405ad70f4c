"""Operator view of a park: the flexibility envelope of consented, verified assets."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from vpp.api.deps import EngineDep, park_access, require
from vpp.api.schemas.portfolio import AssetFlexPublic, EnvelopeIntervalPublic, PortfolioEnvelope
from vpp.api.security import Principal
from vpp.db.engine import session_scope
from vpp.db.repositories import AssetRepository, ConsentRepository, ParkRepository
from vpp.db.repositories.outages import OutageRepository
from vpp.domain.market import load_market_profile
from vpp.services.portfolio_envelope import build_envelope

router = APIRouter(prefix="/v1/parks/{park_id}", tags=["portfolio"])


@router.get("/portfolio", summary="Flexibility envelope per interval and product")
def portfolio(
    park_id: str,
    request: Request,
    engine: EngineDep,
    caller: Annotated[Principal, Depends(require("portfolio:read"))],
    day: Annotated[date, Query(description="Delivery day in market time.")],
    product: Annotated[str, Query(max_length=64, description="Product id of the market.")],
    include_unverified: Annotated[
        bool, Query(description="Count capacity not yet verified (what-if view).")
    ] = False,
) -> PortfolioEnvelope:
    """MW up/down and MWh per interval; assets without consent or verification are excluded.

    The sums never exceed the park connection's range (import + export limit); intervals where
    that cap binds are marked ``capped``. A key limited to other parks answers 404.
    """
    park_access(caller, park_id)
    with session_scope(engine) as session:
        park = ParkRepository(session).get(park_id)
        profile = load_market_profile(park.market_id, request.app.state.settings.config_dir)
        chosen = profile.product(product)
        intervals = [t.to_pydatetime() for t in profile.day_intervals(day)]
        end = intervals[-1] + timedelta(minutes=profile.interval_minutes)
        assets = AssetRepository(session).list_for_park(park_id)
        consents = ConsentRepository(session)
        records = [
            record
            for enterprise in park.enterprises
            for _, record in consents.list_for_enterprise(enterprise.id)
        ]
        outages = OutageRepository(session).overlapping_for_park(park_id, intervals[0], end)
    envelope = build_envelope(
        assets,
        records,
        [(o.asset_id, o.start, o.end) for o in outages],
        intervals,
        product_id=chosen.id,
        direction=chosen.direction,
        interval_minutes=profile.interval_minutes,
        sustain_hours=chosen.sustain_hours,
        timezone=profile.timezone,
        include_unverified=include_unverified,
        connection_mw=park.import_limit_mw + park.export_limit_mw,
    )
    owners = {a.spec.id: a for a in assets}
    return PortfolioEnvelope(
        park_id=park_id,
        market_id=profile.market_id,
        product_id=chosen.id,
        day=day.isoformat(),
        interval_minutes=profile.interval_minutes,
        timezone=profile.timezone,
        intervals=[EnvelopeIntervalPublic(**asdict(i)) for i in envelope.intervals],
        offered=[
            AssetFlexPublic(
                asset_id=asset_id,
                enterprise_id=owners[asset_id].enterprise_id,
                type=owners[asset_id].spec.type,
                up_mw=flex.up_mw,
                down_mw=flex.down_mw,
                energy_mwh=flex.energy_mwh,
                verification=owners[asset_id].verification,
            )
            for asset_id, flex in envelope.contributing.items()
        ],
        excluded=envelope.excluded,
        peak_up_mw=max((i.up_mw for i in envelope.intervals), default=0.0),
        peak_down_mw=max((i.down_mw for i in envelope.intervals), default=0.0),
    )
