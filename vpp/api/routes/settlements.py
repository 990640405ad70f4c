"""A park's monthly settlement for the settlement team: issue a month, list and download statements.

``POST /v1/parks/{park_id}/settlements`` settles one month of one park and issues its
statements (``vpp.services.settle_park_month``, as ``vpp settle --park`` does): enterprises
without a contract or with incomplete data are skipped and listed, a park whose own data is
incomplete issues nothing (409) unless the call overrides and names who authorises it. Every
run is in the audit log. The statements are read back per month and downloaded one at a time as
CSV, XLSX or PDF, named ``<park>_<YYYY-MM>_<owner>_v<version>``. Settlement and admin keys
only; a key limited to other parks answers 404.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlmodel import Session

from adapters.exports.statements import MEDIA_TYPES, statement_file
from vpp.api.deps import JSON_BODY, EngineDep, ParkCall, park
from vpp.api.schemas.settlements import (
    MONTH_PATTERN,
    ParkStatementPublic,
    SettlementIssue,
    SettlementOutcome,
)
from vpp.api.schemas.statements import StatementPublic
from vpp.db.engine import session_scope
from vpp.db.repositories.settlement_stores import settlement_stores
from vpp.domain.errors import ConflictError
from vpp.domain.market import MarketProfile, load_market_profile
from vpp.services.park_statements import park_statement, park_statements, statement_with_month
from vpp.services.settle_day import AGGREGATOR
from vpp.services.settle_month import zero_carbon_month
from vpp.services.settle_park_month import settle_park_month

router = APIRouter(prefix="/v1/parks/{park_id}", tags=["settlements"])
Issuer = Annotated[ParkCall, Depends(park("settlements:issue"))]
Reader = Annotated[ParkCall, Depends(park("settlements:read"))]
StatementIdPath = Annotated[str, Path(min_length=1, max_length=200)]
Month = Annotated[str, Query(pattern=MONTH_PATTERN, description="YYYY-MM.", examples=["2026-02"])]
Version = Annotated[
    int | None, Query(ge=1, le=10_000, description="An older version; latest if omitted.")
]
ExportFormat = Literal["csv", "xlsx", "pdf"]
FILE_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {
        "description": "The statement as a file; Content-Disposition names it.",
        "content": {media.split(";")[0]: {} for media in MEDIA_TYPES.values()},
    }
}


@router.post(
    "/settlements", summary="Settle a month and issue its statements", dependencies=[JSON_BODY]
)
def issue_settlement(
    body: SettlementIssue, call: Issuer, request: Request, engine: EngineDep
) -> SettlementOutcome:
    """Settle ``month`` of the park and issue (or correct) each settled enterprise's statement
    and the aggregator's; list the enterprises skipped and why. A park with incomplete data of
    its own issues nothing and answers 409 with the gaps, unless ``override_incomplete``."""
    override_by = body.by.strip() if body.override_incomplete and body.by else None
    with session_scope(engine) as session:
        stores = settlement_stores(session)
        outcome = settle_park_month(
            stores,
            call.park_id,
            body.month,
            _profile(request, session, call.park_id),
            override_by=override_by,
            actor=call.principal.actor,
        )
    if outcome.refused:
        gaps = outcome.refused
        raise ConflictError(
            f"{body.month} of park {call.park_id} is incomplete; nothing was issued: "
            + "; ".join(gaps[:5])
            + (f" and {len(gaps) - 5} more" if len(gaps) > 5 else ""),
            hint="import the missing data, or send override_incomplete with by",
        )
    return SettlementOutcome.of(outcome)


@router.get("/statements", summary="The park's monthly statements of a month")
def list_statements(call: Reader, engine: EngineDep, month: Month) -> list[ParkStatementPublic]:
    """The latest version of each monthly statement of the park: its enterprises' by id, then
    the aggregator's."""
    with session_scope(engine) as session:
        found = park_statements(settlement_stores(session), call.park_id, month)
    return [ParkStatementPublic.of_statement(s) for s in found]


@router.get("/statements/{statement_id}", summary="One monthly statement of the park")
def get_statement(
    statement_id: StatementIdPath, call: Reader, engine: EngineDep, version: Version = None
) -> StatementPublic:
    """The statement (latest version unless ``version``) with its lines."""
    with session_scope(engine) as session:
        stores = settlement_stores(session)
        statement = park_statement(stores, call.park_id, statement_id, version)
        versions = stores.statements.versions(statement.enterprise_id, statement_id)
    return StatementPublic.with_lines(statement, [v.version for v in versions])


@router.get(
    "/statements/{statement_id}/export",
    summary="Download one monthly statement as CSV, XLSX or PDF",
    response_class=Response,
    responses=FILE_RESPONSES,
)
def export_statement(
    statement_id: StatementIdPath,
    call: Reader,
    request: Request,
    engine: EngineDep,
    fmt: Annotated[ExportFormat, Query(alias="format", description="csv, xlsx or pdf.")] = "csv",
    version: Version = None,
) -> Response:
    """The statement as the file ``vpp settle --export`` writes: bilingual, exact amounts; the
    XLSX and PDF with the month's daily committed and delivered energy, the aggregator's PDF
    with the park's zero-carbon indicators."""
    with session_scope(engine) as session:
        profile = _profile(request, session, call.park_id)
        statement, month = statement_with_month(
            settlement_stores(session), call.park_id, statement_id, profile, version
        )
    zero = (
        zero_carbon_month(month.inputs, profile.carbon_green)
        if statement.enterprise_id == AGGREGATOR
        else None
    )
    name, content = statement_file(
        month, statement, profile, fmt, park_id=call.park_id, zero_carbon=zero
    )
    return Response(
        content,
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _profile(request: Request, session: Session, park_id: str) -> MarketProfile:
    market_id = settlement_stores(session).parks.get(park_id).market_id
    return load_market_profile(market_id, request.app.state.settings.config_dir)
