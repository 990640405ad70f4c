"""Enrolment: tenants enrol, list and change their assets; operators verify capacity.

Every query goes through the enterprise in the path (checked against the caller by ``Tenant``
and filtered on in SQL by the repositories). A change of spec or nomination resets the
verification status, since the verified capacity no longer describes the asset.

Asset ids are global (one ``assets`` primary key), so enrolling an id that any tenant holds must
fail: it answers the same 409 whether the holder is the caller or another enterprise, and every
lookup of another tenant's id answers exactly like an id that does not exist
(``tests/api/test_isolation.py``). What remains visible is only that an id is taken; per-tenant
id namespaces would need a migration of every table keyed by asset id.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from vpp.api.deps import JSON_BODY, EngineDep, TenantRead, TenantWrite
from vpp.api.errors import PermissionDeniedError
from vpp.api.schemas.assets import AssetCreate, AssetPublic, AssetUpdate, OutageCreate, OutagePublic
from vpp.api.schemas.common import Cursor, Limit, Page, page_after
from vpp.db.engine import conflicts_as, session_scope
from vpp.db.repositories import AssetRepository, AuditRepository
from vpp.db.repositories.outages import OutageRepository
from vpp.domain.errors import InvalidInputError
from vpp.domain.park import EnrolledAsset
from vpp.services.enrolment import check_nomination

router = APIRouter(prefix="/v1/enterprises/{enterprise_id}/assets", tags=["enrolment"])
AssetIdPath = Annotated[str, Path(min_length=1, max_length=64)]


@router.post("", status_code=201, summary="Enrol an asset", dependencies=[JSON_BODY])
def enrol_asset(body: AssetCreate, call: TenantWrite, engine: EngineDep) -> AssetPublic:
    """Enrol a typed asset; its capacity starts ``unverified`` until an operator verifies it."""
    check_nomination(body.spec, body.nominated_mw)
    asset = EnrolledAsset(
        spec=body.spec,
        enterprise_id=call.enterprise_id,
        site_id=body.site_id,
        nominated_mw=body.nominated_mw,
    )
    # a concurrent create of the same id (another worker) loses at commit: 409, not 500
    with (
        conflicts_as(f"asset id {asset.spec.id} is already enrolled"),
        session_scope(engine) as session,
    ):
        AssetRepository(session).add(asset)
        AuditRepository(session).record(
            call.principal.actor, "asset.enrol", "asset", asset.spec.id, after=asset
        )
    return AssetPublic.of(asset)


@router.get("", summary="List enrolled assets")
def list_assets(
    call: TenantRead,
    engine: EngineDep,
    limit: Limit = 100,
    cursor: Cursor = None,
    type: Annotated[str | None, Query(max_length=32, description="Only this asset type.")] = None,
) -> Page[AssetPublic]:
    """The enterprise's assets ordered by id."""
    with session_scope(engine) as session:
        assets = AssetRepository(session).list_for_enterprise(call.enterprise_id)
    shown = [AssetPublic.of(a) for a in assets if type is None or a.spec.type == type]
    return page_after(shown, "id", cursor, limit)


@router.get("/{asset_id}", summary="One enrolled asset")
def get_asset(asset_id: AssetIdPath, call: TenantRead, engine: EngineDep) -> AssetPublic:
    """The asset, if it belongs to the enterprise."""
    with session_scope(engine) as session:
        return AssetPublic.of(AssetRepository(session).get(call.enterprise_id, asset_id))


@router.patch("/{asset_id}", summary="Change an enrolled asset", dependencies=[JSON_BODY])
def update_asset(
    asset_id: AssetIdPath, body: AssetUpdate, call: TenantWrite, engine: EngineDep
) -> AssetPublic:
    """Change spec, site or nomination (resets verification); operators set verification."""
    if body.verification is not None and "assets:verify" not in call.principal.scopes:
        raise PermissionDeniedError("only operators set the verification status")
    if body.spec is not None and body.spec.id != asset_id:
        raise InvalidInputError(f"spec id {body.spec.id} differs from path id {asset_id}")
    with session_scope(engine) as session:
        assets = AssetRepository(session)
        before = assets.get(call.enterprise_id, asset_id)
        changes = body.model_dump(exclude_unset=True, exclude={"spec"})
        if body.spec is not None:
            changes["spec"] = body.spec
        if ("spec" in changes or "nominated_mw" in changes) and "verification" not in changes:
            changes["verification"] = "unverified"
        after = before.model_copy(update=changes)
        after = EnrolledAsset.model_validate(after.model_dump())
        check_nomination(after.spec, after.nominated_mw)
        assets.update(after)
        AuditRepository(session).record(
            call.principal.actor, "asset.update", "asset", asset_id, before=before, after=after
        )
    return AssetPublic.of(after)


@router.post(
    "/{asset_id}/outages", status_code=201, summary="Declare an outage", dependencies=[JSON_BODY]
)
def add_outage(
    asset_id: AssetIdPath, body: OutageCreate, call: TenantWrite, engine: EngineDep
) -> OutagePublic:
    """A dated window when the asset is not available; the portfolio leaves it out then."""
    with session_scope(engine) as session:
        outage = OutageRepository(session).add(
            call.enterprise_id, asset_id, body.start, body.end, body.reason
        )
        shown = OutagePublic(
            id=outage.id,
            asset_id=asset_id,
            start=outage.start,
            end=outage.end,
            reason=outage.reason,
        )
        AuditRepository(session).record(
            call.principal.actor, "outage.add", "asset", asset_id, after=shown
        )
    return shown


@router.get("/{asset_id}/outages", summary="List outages of an asset")
def list_outages(asset_id: AssetIdPath, call: TenantRead, engine: EngineDep) -> list[OutagePublic]:
    """Declared outages, by start."""
    with session_scope(engine) as session:
        AssetRepository(session).get(call.enterprise_id, asset_id)
        found = OutageRepository(session).list_for_asset(call.enterprise_id, asset_id)
    return [
        OutagePublic(id=o.id, asset_id=o.asset_id, start=o.start, end=o.end, reason=o.reason)
        for o in found
    ]
