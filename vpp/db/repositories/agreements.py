"""Contracts and consent records: what each enterprise agreed to, and from when.

Consent decides whether an asset may be offered in a product at all, so :meth:`active` narrows
by tenant, asset and time in SQL and applies the domain's own ``ConsentRecord.covers`` last.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from vpp.db.engine import flush_or_conflict
from vpp.db.tables import ConsentAssetRow, ConsentRow, ContractRow, EnterpriseRow
from vpp.db.types import to_decimal
from vpp.domain.errors import ConflictError, InvalidInputError, NotFoundError
from vpp.domain.park import ConsentRecord, Contract

FEE_SCALE = 4
"""Decimal places kept for a capacity fee [currency/MW/month]."""
MONEY_SCALE = 2


class ContractRepository:
    """Revenue-share contracts, one enterprise at a time."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, contract: Contract) -> None:
        """Store a new contract; an existing id raises :class:`ConflictError`."""
        if self.session.get(EnterpriseRow, contract.enterprise_id) is None:
            raise NotFoundError(f"enterprise {contract.enterprise_id} not found")
        if self.session.get(ContractRow, contract.id) is not None:
            raise ConflictError(
                f"contract {contract.id} already exists",
                hint="contracts are not edited; add a new one with a new id and terms_version",
            )
        fee, guarantee = contract.capacity_fee_per_mw_month, contract.min_guarantee
        self.session.add(
            ContractRow(
                id=contract.id,
                enterprise_id=contract.enterprise_id,
                scheme=contract.scheme,
                aggregator_share=contract.aggregator_share,
                capacity_fee_per_mw_month=None if fee is None else to_decimal(fee, FEE_SCALE),
                min_guarantee=None if guarantee is None else to_decimal(guarantee, MONEY_SCALE),
                savings_share=contract.savings_share,
                penalty_pass_through=contract.penalty_pass_through,
                currency=contract.currency,
                valid_from=contract.valid_from,
                valid_to=contract.valid_to,
                terms_version=contract.terms_version,
            )
        )
        flush_or_conflict(self.session, f"cannot add contract {contract.id}")

    def get(self, enterprise_id: str, contract_id: str) -> Contract:
        """Contract ``contract_id`` of ``enterprise_id``."""
        row = self.session.exec(
            select(ContractRow).where(
                col(ContractRow.id) == contract_id, col(ContractRow.enterprise_id) == enterprise_id
            )
        ).first()
        if row is None:
            raise NotFoundError(f"contract {contract_id} not found for enterprise {enterprise_id}")
        return _contract(row)

    def list_for_enterprise(self, enterprise_id: str) -> list[Contract]:
        """Every contract of one enterprise, oldest first."""
        rows = self.session.exec(
            select(ContractRow)
            .where(col(ContractRow.enterprise_id) == enterprise_id)
            .order_by(col(ContractRow.valid_from), col(ContractRow.id))
        )
        return [_contract(r) for r in rows]

    def active(self, enterprise_id: str, at: datetime) -> list[Contract]:
        """Contracts of ``enterprise_id`` in force at instant ``at``."""
        rows = self.session.exec(
            select(ContractRow)
            .where(
                col(ContractRow.enterprise_id) == enterprise_id,
                col(ContractRow.valid_from) <= at,
                sa.or_(col(ContractRow.valid_to).is_(None), col(ContractRow.valid_to) > at),
            )
            .order_by(col(ContractRow.valid_from), col(ContractRow.id))
        )
        return [_contract(r) for r in rows]


class ConsentRepository:
    """Consent records; each gets an integer id when added (the domain record has none)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, consent: ConsentRecord) -> int:
        """Store ``consent`` and return its id."""
        contract = self.session.get(ContractRow, consent.contract_id)
        if contract is None or contract.enterprise_id != consent.enterprise_id:
            raise NotFoundError(
                f"contract {consent.contract_id} not found for enterprise {consent.enterprise_id}"
            )
        if len(set(consent.asset_ids)) != len(consent.asset_ids):
            raise InvalidInputError("consent lists an asset id twice")
        row = ConsentRow(
            enterprise_id=consent.enterprise_id,
            contract_id=consent.contract_id,
            agreed_by=consent.agreed_by,
            agreed_at=consent.agreed_at,
            terms_version=consent.terms_version,
            products=list(consent.products),
            revoked_at=consent.revoked_at,
        )
        self.session.add(row)
        flush_or_conflict(self.session, "cannot add consent")
        assert row.id is not None  # assigned by the flush
        self.session.add_all(
            ConsentAssetRow(consent_id=row.id, asset_id=asset_id, position=k)
            for k, asset_id in enumerate(consent.asset_ids)
        )
        flush_or_conflict(self.session, "cannot add consent")
        return row.id

    def get(self, enterprise_id: str, consent_id: int) -> ConsentRecord:
        """Consent ``consent_id`` of ``enterprise_id``."""
        found = self._records(
            col(ConsentRow.enterprise_id) == enterprise_id, col(ConsentRow.id) == consent_id
        )
        if not found:
            raise NotFoundError(f"consent {consent_id} not found for enterprise {enterprise_id}")
        return found[0][1]

    def list_for_enterprise(self, enterprise_id: str) -> list[tuple[int, ConsentRecord]]:
        """``(id, record)`` for every consent of one enterprise, in the order they were added."""
        return self._records(col(ConsentRow.enterprise_id) == enterprise_id)

    def active(
        self, enterprise_id: str, asset_id: str, product_id: str, at: datetime
    ) -> list[ConsentRecord]:
        """Consents of ``enterprise_id`` that let ``asset_id`` be offered in ``product_id`` at ``at``."""
        named = select(col(ConsentAssetRow.consent_id)).where(
            col(ConsentAssetRow.asset_id) == asset_id
        )
        found = self._records(
            col(ConsentRow.enterprise_id) == enterprise_id,
            col(ConsentRow.id).in_(named),
            col(ConsentRow.agreed_at) <= at,
            sa.or_(col(ConsentRow.revoked_at).is_(None), col(ConsentRow.revoked_at) > at),
        )
        return [record for _, record in found if record.covers(asset_id, product_id, at)]

    def revoke(self, enterprise_id: str, consent_id: int, at: datetime) -> ConsentRecord:
        """Mark a consent revoked from ``at`` on; revoking twice raises :class:`ConflictError`."""
        self.get(enterprise_id, consent_id)
        done = self.session.execute(
            sa.update(ConsentRow)
            .where(col(ConsentRow.id) == consent_id, col(ConsentRow.revoked_at).is_(None))
            .values(revoked_at=at)
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise ConflictError(f"consent {consent_id} is already revoked")
        self.session.expire_all()
        return self.get(enterprise_id, consent_id)

    def _records(self, *where: sa.ColumnElement[bool]) -> list[tuple[int, ConsentRecord]]:
        rows = self.session.exec(
            select(ConsentRow).where(*where).order_by(col(ConsentRow.id))
        ).all()
        ids = [r.id for r in rows]
        links = self.session.exec(
            select(ConsentAssetRow).where(col(ConsentAssetRow.consent_id).in_(ids))
        ).all()
        assets: dict[int, list[str]] = {}
        for link in sorted(links, key=lambda link: link.position):
            assets.setdefault(link.consent_id, []).append(link.asset_id)
        return [
            (
                row.id,
                ConsentRecord(
                    enterprise_id=row.enterprise_id,
                    asset_ids=assets.get(row.id, []),
                    agreed_by=row.agreed_by,
                    agreed_at=row.agreed_at,
                    contract_id=row.contract_id,
                    terms_version=row.terms_version,
                    products=row.products,
                    revoked_at=row.revoked_at,
                ),
            )
            for row in rows
            if row.id is not None
        ]


def _contract(row: ContractRow) -> Contract:
    fee, guarantee = row.capacity_fee_per_mw_month, row.min_guarantee
    return Contract(
        id=row.id,
        enterprise_id=row.enterprise_id,
        scheme=row.scheme,
        aggregator_share=row.aggregator_share,
        capacity_fee_per_mw_month=None if fee is None else float(fee),
        min_guarantee=None if guarantee is None else float(guarantee),
        savings_share=row.savings_share,
        penalty_pass_through=row.penalty_pass_through,
        currency=row.currency,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        terms_version=row.terms_version,
    )
