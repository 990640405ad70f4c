"""Enrolled assets, always read through the owning enterprise.

Every tenant-facing query takes the ``enterprise_id`` and filters on it in SQL, so an API route
that forgets a check still cannot return another tenant's asset: it gets :class:`NotFoundError`,
exactly as for an id that does not exist (which also avoids revealing that it does).
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import TypeAdapter
from sqlmodel import Session, col, select

from vpp.db.engine import flush_or_conflict
from vpp.db.tables import AssetRow, EnterpriseRow, SiteRow
from vpp.domain.assets import AssetSpec
from vpp.domain.errors import ConflictError, InvalidInputError, NotFoundError
from vpp.domain.park import EnrolledAsset

_SPEC = TypeAdapter(AssetSpec)


class AssetRepository:
    """Add, read and update :class:`EnrolledAsset` records."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, asset: EnrolledAsset, *, at: datetime | None = None) -> None:
        """Enrol ``asset``; ``at`` is the enrolment time (now when omitted)."""
        self._check_owner(asset)
        if self.session.get(AssetRow, asset.spec.id) is not None:
            raise ConflictError(
                f"asset id {asset.spec.id} is already enrolled", hint="choose another asset id"
            )
        row = AssetRow(
            id=asset.spec.id,
            enterprise_id=asset.enterprise_id,
            type="",
            spec={},
            verification="",
            created_at=at or datetime.now(UTC),
        )
        _fill(row, asset)
        self.session.add(row)
        flush_or_conflict(self.session, f"cannot enrol asset {asset.spec.id}")

    def update(self, asset: EnrolledAsset) -> None:
        """Replace the spec, site, nomination and verification of an enrolled asset."""
        self._check_owner(asset)
        row = self._row(asset.enterprise_id, asset.spec.id)
        _fill(row, asset)
        self.session.add(row)
        flush_or_conflict(self.session, f"cannot update asset {asset.spec.id}")

    def get(self, enterprise_id: str, asset_id: str) -> EnrolledAsset:
        """Asset ``asset_id`` of ``enterprise_id``; another tenant's asset is not found."""
        return _to_domain(self._row(enterprise_id, asset_id))

    def list_for_enterprise(self, enterprise_id: str) -> list[EnrolledAsset]:
        """Every asset of one enterprise, ordered by id."""
        rows = self.session.exec(
            select(AssetRow)
            .where(col(AssetRow.enterprise_id) == enterprise_id)
            .order_by(col(AssetRow.id))
        )
        return [_to_domain(r) for r in rows]

    def list_for_park(self, park_id: str) -> list[EnrolledAsset]:
        """Every asset in the park (the aggregator's portfolio view), ordered by id."""
        rows = self.session.exec(
            select(AssetRow)
            .join(EnterpriseRow, col(EnterpriseRow.id) == col(AssetRow.enterprise_id))
            .where(col(EnterpriseRow.park_id) == park_id)
            .order_by(col(AssetRow.id))
        )
        return [_to_domain(r) for r in rows]

    def _row(self, enterprise_id: str, asset_id: str) -> AssetRow:
        row = self.session.exec(
            select(AssetRow).where(
                col(AssetRow.id) == asset_id, col(AssetRow.enterprise_id) == enterprise_id
            )
        ).first()
        if row is None:
            raise NotFoundError(f"asset {asset_id} not found for enterprise {enterprise_id}")
        return row

    def _check_owner(self, asset: EnrolledAsset) -> None:
        owner = asset.spec.enterprise_id
        if owner is not None and owner != asset.enterprise_id:
            raise InvalidInputError(
                f"asset {asset.spec.id}: spec names enterprise {owner} but it is enrolled by "
                f"{asset.enterprise_id}",
                hint="leave spec.enterprise_id empty or make them agree",
            )
        if self.session.get(EnterpriseRow, asset.enterprise_id) is None:
            raise NotFoundError(f"enterprise {asset.enterprise_id} not found")
        if (
            asset.site_id is not None
            and self.session.get(SiteRow, (asset.enterprise_id, asset.site_id)) is None
        ):
            raise NotFoundError(
                f"site {asset.site_id} not found for enterprise {asset.enterprise_id}"
            )


def _fill(row: AssetRow, asset: EnrolledAsset) -> None:
    row.site_id = asset.site_id
    row.type = asset.spec.type
    row.spec = asset.spec.model_dump(mode="json")
    row.nominated_mw = asset.nominated_mw
    row.verification = asset.verification


def _to_domain(row: AssetRow) -> EnrolledAsset:
    return EnrolledAsset(
        spec=_SPEC.validate_python(row.spec),
        enterprise_id=row.enterprise_id,
        site_id=row.site_id,
        nominated_mw=row.nominated_mw,
        verification=row.verification,
    )
