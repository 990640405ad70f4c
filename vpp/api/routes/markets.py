"""Market profiles, read-only: what each market allows and when its gates close."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from vpp.domain.market import MarketProfile, available_markets, load_market_profile

router = APIRouter(prefix="/v1/markets", tags=["markets"])


@router.get("", summary="List market profiles")
def list_markets(request: Request) -> list[dict[str, Any]]:
    """Id, name, timezone, currency and enabled products of every profile."""
    config = request.app.state.settings.config_dir
    result = []
    for market_id in available_markets(config):
        profile = load_market_profile(market_id, config)
        result.append(
            {
                "market_id": profile.market_id,
                "name": profile.name,
                "timezone": profile.timezone,
                "currency": profile.currency,
                "products": [p.id for p in profile.enabled_products()],
                "unverified": profile.unverified(),
            }
        )
    return result


@router.get("/{market_id}", summary="One market profile", response_model=MarketProfile)
def get_market(market_id: str, request: Request) -> MarketProfile:
    """The full validated profile."""
    return load_market_profile(market_id, request.app.state.settings.config_dir)


@router.get("/{market_id}/days/{day}", summary="Intervals and gate times of a delivery day")
def market_day(
    market_id: str,
    day: date,
    request: Request,
    product: Annotated[str | None, Query(description="Product id for its own gate.")] = None,
) -> dict[str, Any]:
    """Interval count and gate closure (UTC and market time) for delivery ``day``."""
    profile = load_market_profile(market_id, request.app.state.settings.config_dir)
    intervals = profile.day_intervals(day)
    closure = profile.gate_closure(day)
    if product is not None:
        chosen = profile.product(product)
        if chosen.gate_closure is not None:
            closure = chosen.gate_closure.on(day, profile.timezone)
    return {
        "market_id": profile.market_id,
        "day": day.isoformat(),
        "intervals": len(intervals),
        "interval_minutes": profile.interval_minutes,
        "first_interval_utc": intervals[0].isoformat(),
        "gate_closure_utc": closure.isoformat(),
        "gate_closure_local": closure.tz_convert(profile.timezone).isoformat(),
    }
