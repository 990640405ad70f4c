"""Market prices, park weather forecasts and tenant consumption: canonical CSV in, series out.

Each upload is parsed and checked whole by :mod:`vpp.services.market_data` before a session
opens, so a refused file (422 naming each bad row and column) writes nothing; a good one is one
idempotent upsert in one transaction, audited with a summary. Reads answer JSON, or the
canonical CSV to a client that sends ``Accept: text/csv`` (prices and consumption).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import AwareDatetime
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from vpp.api.deps import ApiSettingsDep, EngineDep, TenantCall, content_types, require, tenant
from vpp.api.errors import PayloadTooLargeError
from vpp.api.schemas.market_data import (
    ConsumptionPublic,
    PricesPublic,
    SeriesTable,
    UploadResult,
    WeatherPublic,
)
from vpp.api.security import Principal
from vpp.db.engine import session_scope
from vpp.db.repositories import (
    AuditRepository,
    ConsumptionRepository,
    MarketSeriesRepository,
    ParkRepository,
    WeatherRepository,
)
from vpp.db.tables import EnterpriseRow
from vpp.domain.errors import InvalidInputError, NotFoundError
from vpp.domain.market import MarketProfile, available_markets, load_market_profile
from vpp.services.market_data import (
    ISSUED_AT,
    PARK_SITE,
    WEATHER_COLUMNS,
    parse_consumption,
    parse_prices,
    parse_weather,
    price_columns,
    render_csv,
)
from vpp.services.park_meters import consumption_meter_id

router = APIRouter(tags=["market data"])
MarketDataWrite = Annotated[Principal, Depends(require("market_data:write"))]
MarketDataRead = Annotated[Principal, Depends(require("market_data:read"))]
ConsumptionWrite = Annotated[TenantCall, Depends(tenant("consumption:write"))]
ConsumptionRead = Annotated[TenantCall, Depends(tenant("telemetry:read"))]
Start = Annotated[AwareDatetime, Query(description="First instant, inclusive.")]
End = Annotated[AwareDatetime, Query(description="Last instant, exclusive.")]
MAX_READ = timedelta(days=366)
CsvBody = Annotated[None, Depends(content_types("text/csv"))]
"""Checked after the caller, so a caller without access learns nothing, not even a 415."""
CSV_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}}
}


def _csv_doc(example: str) -> dict[str, Any]:
    content = {"text/csv": {"schema": {"type": "string"}, "example": example}}
    return {"requestBody": {"required": True, "content": content}}


@router.post(
    "/v1/markets/{market_id}/prices",
    summary="Upload market prices (canonical CSV)",
    openapi_extra=_csv_doc(
        "timestamp,day_ahead_price_per_mwh,fcr_price_per_mw_h\n"
        "2026-03-02T00:00:00+01:00,81.2,12.5\n2026-03-02T00:15:00+01:00,79.9,12.5\n"
    ),
)
async def upload_prices(
    market_id: str,
    request: Request,
    caller: MarketDataWrite,
    _: CsvBody,
    engine: EngineDep,
    settings: ApiSettingsDep,
) -> UploadResult:
    """Upsert prices: energy per MWh, ``<product>_price_per_mw_h`` per reserve product."""
    profile = _profile(request, market_id)
    text = await _csv_text(request, settings.max_telemetry_rows)
    frame = await run_in_threadpool(parse_prices, text, profile)
    await run_in_threadpool(_store_prices, engine, caller, market_id, frame)
    return UploadResult(rows=len(frame))


def _store_prices(engine: Engine, caller: Principal, market_id: str, frame: pd.DataFrame) -> None:
    with session_scope(engine) as session:
        values = MarketSeriesRepository(session).upsert(market_id, frame)
        AuditRepository(session).record(
            caller.actor,
            "market_prices.upload",
            "market",
            market_id,
            after={**_summary(frame), "series": list(frame.columns), "values": values},
        )


@router.get("/v1/markets/{market_id}/prices", summary="Read market prices", responses=CSV_ANSWER)
def read_prices(
    market_id: str, request: Request, _: MarketDataRead, engine: EngineDep, start: Start, end: End
) -> PricesPublic:
    """Stored prices on ``[start, end)`` (at most 366 days); CSV with ``Accept: text/csv``."""
    profile = _profile(request, market_id)
    _check_window(start, end)
    with session_scope(engine) as session:
        frame = MarketSeriesRepository(session).read(market_id, start, end)
    known = [c for c in price_columns(profile) if c in frame.columns]
    frame = frame[known + sorted(set(frame.columns) - set(known))]
    if _wants_csv(request):
        return _csv_response(frame)  # type: ignore[return-value]
    return PricesPublic(
        market_id=market_id,
        currency=profile.currency,
        columns=list(frame.columns),
        rows=SeriesTable.rows_of(frame),
    )


@router.post(
    "/v1/parks/{park_id}/weather",
    summary="Upload weather forecasts with their issue times (canonical CSV)",
    openapi_extra=_csv_doc(
        "timestamp,issued_at,temperature_c,irradiance_w_m2,wind_speed_m_s\n"
        "2026-03-02T00:00:00Z,2026-03-01T06:00:00Z,3.5,0,4.2\n"
        "2026-03-02T01:00:00Z,2026-03-01T06:00:00Z,3.1,0,4.8\n"
    ),
)
async def upload_weather(
    park_id: str,
    request: Request,
    caller: MarketDataWrite,
    _: CsvBody,
    engine: EngineDep,
    settings: ApiSettingsDep,
    site_id: Annotated[
        str, Query(min_length=1, max_length=64, description="A site of the park, or 'park'.")
    ] = PARK_SITE,
) -> UploadResult:
    """Store every issue in the file; a later issue never overwrites an earlier one."""
    await run_in_threadpool(_check_site, engine, park_id, site_id)
    text = await _csv_text(request, settings.max_telemetry_rows)
    frame = await run_in_threadpool(parse_weather, text)
    await run_in_threadpool(_store_weather, engine, caller, park_id, site_id, frame)
    return UploadResult(rows=len(frame))


def _store_weather(
    engine: Engine, caller: Principal, park_id: str, site_id: str, frame: pd.DataFrame
) -> None:
    with session_scope(engine) as session:
        values = WeatherRepository(session).upsert_issues(park_id, site_id, frame)
        issues = frame[ISSUED_AT]
        AuditRepository(session).record(
            caller.actor,
            "weather.upload",
            "park",
            park_id,
            after={
                **_summary(frame),
                "site_id": site_id,
                "variables": [c for c in frame.columns if c != ISSUED_AT],
                "issues": int(issues.nunique()),
                "first_issued_at": issues.min().isoformat(),
                "last_issued_at": issues.max().isoformat(),
                "values": values,
            },
        )


@router.get("/v1/parks/{park_id}/weather", summary="Read weather forecasts as known at an instant")
def read_weather(
    park_id: str,
    _: MarketDataRead,
    engine: EngineDep,
    start: Start,
    end: End,
    as_of: Annotated[
        AwareDatetime | None, Query(description="Knowledge time; default now.")
    ] = None,
    site_id: Annotated[str, Query(min_length=1, max_length=64)] = PARK_SITE,
) -> WeatherPublic:
    """Per instant of ``[start, end)``, the latest forecast issued at or before ``as_of``."""
    _check_window(start, end)
    known_at = as_of or datetime.now(UTC)
    _check_site(engine, park_id, site_id)
    with session_scope(engine) as session:
        frame = WeatherRepository(session).read(park_id, start, end, known_at, site_id=site_id)
    frame = frame.rename(columns=WEATHER_COLUMNS)
    return WeatherPublic(
        park_id=park_id,
        site_id=site_id,
        as_of=known_at,
        columns=list(frame.columns),
        rows=SeriesTable.rows_of(frame),
    )


@router.post(
    "/v1/enterprises/{enterprise_id}/consumption",
    summary="Upload the tenant's metered consumption (canonical CSV)",
    openapi_extra=_csv_doc(
        "timestamp,power_mw\n2026-03-02T00:00:00+08:00,3.2\n2026-03-02T00:15:00+08:00,3.4\n"
    ),
)
async def upload_consumption(
    request: Request,
    call: ConsumptionWrite,
    _: CsvBody,
    engine: EngineDep,
    settings: ApiSettingsDep,
) -> UploadResult:
    """Upsert readings of the tenant's consumption meter [MW drawn, >= 0], quality measured."""
    await run_in_threadpool(_park_id, engine, call.enterprise_id)
    text = await _csv_text(request, settings.max_telemetry_rows)
    power = await run_in_threadpool(parse_consumption, text)
    await run_in_threadpool(_store_consumption, engine, call, power)
    return UploadResult(rows=len(power))


def _store_consumption(engine: Engine, call: TenantCall, power: pd.Series) -> None:
    meter_id = consumption_meter_id(call.enterprise_id)
    park_id = _park_id(engine, call.enterprise_id)
    with session_scope(engine) as session:
        meters = ConsumptionRepository(session)
        if meter_id not in {m.id for m in meters.meters(park_id)}:
            meters.add_meter(meter_id, park_id, "tenant", call.enterprise_id)
        written = meters.upsert_series(meter_id, power, quality="measured")
        AuditRepository(session).record(
            call.principal.actor,
            "consumption.upload",
            "enterprise",
            call.enterprise_id,
            after={**_summary(power.to_frame()), "meter_id": meter_id, "values": written},
        )


@router.get(
    "/v1/enterprises/{enterprise_id}/consumption",
    summary="Read the tenant's metered consumption",
    responses=CSV_ANSWER,
)
def read_consumption(
    request: Request, call: ConsumptionRead, engine: EngineDep, start: Start, end: End
) -> ConsumptionPublic:
    """Readings on ``[start, end)`` [MW]; CSV with ``Accept: text/csv``."""
    _check_window(start, end)
    meter_id = consumption_meter_id(call.enterprise_id)
    _park_id(engine, call.enterprise_id)
    with session_scope(engine) as session:
        power = ConsumptionRepository(session).read(meter_id, start, end)
    frame = power.rename("power_mw").to_frame()
    if _wants_csv(request):
        return _csv_response(frame)  # type: ignore[return-value]
    return ConsumptionPublic(
        enterprise_id=call.enterprise_id,
        meter_id=meter_id,
        columns=list(frame.columns),
        rows=SeriesTable.rows_of(frame),
    )


# -- shared pieces ------------------------------------------------------------------------------


def _profile(request: Request, market_id: str) -> MarketProfile:
    config = request.app.state.settings.config_dir
    if market_id not in available_markets(config):
        raise NotFoundError(f"market {market_id} not found", hint="GET /v1/markets lists them")
    return load_market_profile(market_id, config)


async def _csv_text(request: Request, max_rows: int) -> str:
    """The body as text, refused (413) past ``max_rows`` data lines like a telemetry batch."""
    try:
        text = (await request.body()).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInputError("CSV body is not UTF-8") from exc
    rows = sum(1 for line in text.splitlines()[1:] if line.strip())
    if rows > max_rows:
        raise PayloadTooLargeError(f"{rows} rows; at most {max_rows} per upload")
    return text


def _check_window(start: datetime, end: datetime) -> None:
    if not start < end <= start + MAX_READ:
        raise InvalidInputError("end must be after start and at most 366 days later")


def _check_site(engine: Engine, park_id: str, site_id: str) -> None:
    """Refuse (404) an unknown park, or a site that is neither ``park`` nor one of its sites."""
    with session_scope(engine) as session:
        park = ParkRepository(session).get(park_id)
    sites = {s.id for e in park.enterprises for s in e.sites}
    if site_id != PARK_SITE and site_id not in sites:
        raise NotFoundError(
            f"site {site_id} not found in park {park_id}",
            hint=f"use {PARK_SITE!r} or one of: {', '.join(sorted(sites)) or 'no sites'}",
        )


def _park_id(engine: Engine, enterprise_id: str) -> str:
    """The park of ``enterprise_id`` (404 when there is no such enterprise)."""
    with session_scope(engine) as session:
        owner = session.get(EnterpriseRow, enterprise_id)
        if owner is None:
            raise NotFoundError(f"enterprise {enterprise_id} not found")
        return str(owner.park_id)


def _summary(frame: pd.DataFrame) -> dict[str, Any]:
    """What the audit log keeps of an upload: its size and span, never the values."""
    return {
        "rows": len(frame),
        "first": frame.index.min().isoformat(),
        "last": frame.index.max().isoformat(),
    }


def _wants_csv(request: Request) -> bool:
    accepted = request.headers.get("accept", "").split(",")
    return any(part.split(";")[0].strip().lower() == "text/csv" for part in accepted)


def _csv_response(frame: pd.DataFrame) -> Response:
    return Response(render_csv(frame), media_type="text/csv")
