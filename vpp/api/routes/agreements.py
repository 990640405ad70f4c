"""Revenue-share contracts and consent records of one enterprise.

Contracts are never edited (a new id and terms version replaces one); consent records are
added and revoked, and only an active consent lets an asset be offered in a product.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request
from sqlmodel import Session

from vpp.api.deps import JSON_BODY, AgreementWrite, EngineDep, TenantRead
from vpp.api.schemas.agreements import ConsentCreate, ConsentPublic, ContractCreate
from vpp.api.schemas.common import Cursor, Limit, Page, page_after
from vpp.db.engine import conflicts_as, session_scope
from vpp.db.repositories import (
    AssetRepository,
    AuditRepository,
    ConsentRepository,
    ContractRepository,
    ParkRepository,
)
from vpp.db.tables import EnterpriseRow
from vpp.domain.errors import InvalidInputError, NotFoundError
from vpp.domain.market import load_market_profile
from vpp.domain.park import Contract

router = APIRouter(prefix="/v1/enterprises/{enterprise_id}", tags=["agreements"])


@router.post("/contracts", status_code=201, summary="Sign a contract", dependencies=[JSON_BODY])
def add_contract(body: ContractCreate, call: AgreementWrite, engine: EngineDep) -> Contract:
    """Record revenue-share terms between the aggregator and the enterprise."""
    contract = body.to_domain(call.enterprise_id)
    # a concurrent create of the same id (another worker) loses at commit: 409, not 500
    with conflicts_as(f"contract {contract.id} already exists"), session_scope(engine) as session:
        ContractRepository(session).add(contract)
        AuditRepository(session).record(
            call.principal.actor, "contract.add", "contract", contract.id, after=contract
        )
    return contract


@router.get("/contracts", summary="List contracts")
def list_contracts(
    call: TenantRead, engine: EngineDep, limit: Limit = 100, cursor: Cursor = None
) -> Page[Contract]:
    """The enterprise's contracts, ordered by id."""
    with session_scope(engine) as session:
        found = ContractRepository(session).list_for_enterprise(call.enterprise_id)
    return page_after(sorted(found, key=lambda c: c.id), "id", cursor, limit)


@router.post("/consents", status_code=201, summary="Record a consent", dependencies=[JSON_BODY])
def add_consent(
    body: ConsentCreate, call: AgreementWrite, engine: EngineDep, request: Request
) -> ConsentPublic:
    """Who agreed, when, to which terms, for which enrolled assets and products (empty = all)."""
    record = body.to_domain(call.enterprise_id)
    with session_scope(engine) as session:
        _check_products(session, call.enterprise_id, record.products, request)
        assets = AssetRepository(session)
        for asset_id in record.asset_ids:  # consent covers only the tenant's enrolled assets
            assets.get(call.enterprise_id, asset_id)
        consent_id = ConsentRepository(session).add(record)
        shown = ConsentPublic.of(consent_id, record)
        AuditRepository(session).record(
            call.principal.actor, "consent.add", "consent", str(consent_id), after=shown
        )
    return shown


def _check_products(
    session: Session, enterprise_id: str, products: list[str], request: Request
) -> None:
    """Refuse product ids the park's market does not trade (a typo would never be offered)."""
    enterprise = session.get(EnterpriseRow, enterprise_id)
    if enterprise is None:
        raise NotFoundError(f"enterprise {enterprise_id} not found")
    market_id = ParkRepository(session).get(enterprise.park_id).market_id
    profile = load_market_profile(market_id, request.app.state.settings.config_dir)
    known = [p.id for p in profile.products]
    if unknown := sorted(set(products) - set(known)):
        raise InvalidInputError(
            f"market {market_id} has no products {unknown}",
            hint=f"its products are {', '.join(known)}",
        )


@router.get("/consents", summary="List consent records")
def list_consents(
    call: TenantRead, engine: EngineDep, limit: Limit = 100, cursor: Cursor = None
) -> Page[ConsentPublic]:
    """The enterprise's consents in the order they were recorded."""
    with session_scope(engine) as session:
        found = ConsentRepository(session).list_for_enterprise(call.enterprise_id)
    shown = [ConsentPublic.of(k, r) for k, r in found]
    after = int(cursor) if cursor is not None and cursor.isdigit() else -1
    rest = [c for c in shown if c.id > after]
    more = len(rest) > limit
    return Page(items=rest[:limit], next_cursor=str(rest[limit - 1].id) if more else None)


@router.post("/consents/{consent_id}/revoke", summary="Revoke a consent")
def revoke_consent(
    consent_id: Annotated[int, Path(ge=1, le=2**31 - 1)], call: AgreementWrite, engine: EngineDep
) -> ConsentPublic:
    """From now on the consent no longer lets its assets be offered."""
    with session_scope(engine) as session:
        consents = ConsentRepository(session)
        before = ConsentPublic.of(consent_id, consents.get(call.enterprise_id, consent_id))
        after = ConsentPublic.of(
            consent_id, consents.revoke(call.enterprise_id, consent_id, datetime.now(UTC))
        )
        AuditRepository(session).record(
            call.principal.actor,
            "consent.revoke",
            "consent",
            str(consent_id),
            before=before,
            after=after,
        )
    return after
