"""The portfolio: a park's enrolled assets with the contracts and consents that let us trade them.

The portfolio is what the aggregator offers to a market. An asset enters a product's offer only
when its capacity passed verification and a consent record covers that asset and product at the
time of the offer; everything else stays out, and ``excluded`` says why.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vpp.domain.assets import AssetSpec
from vpp.domain.park import ConsentRecord, Contract, EnrolledAsset, Park


class Portfolio(BaseModel):
    """A park, its enrolled assets, revenue-share contracts and consent records."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    park: Park
    assets: list[EnrolledAsset] = Field(default_factory=list)
    contracts: list[Contract] = Field(default_factory=list)
    consents: list[ConsentRecord] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> Portfolio:
        tenants = {e.id for e in self.park.enterprises}
        ids: set[str] = set()
        for asset in self.assets:
            if asset.enterprise_id not in tenants:
                raise ValueError(
                    f"asset {asset.spec.id!r} belongs to unknown enterprise {asset.enterprise_id!r}"
                )
            if asset.spec.id in ids:
                raise ValueError(f"asset id {asset.spec.id!r} is enrolled twice")
            ids.add(asset.spec.id)
        contract_ids = {c.id for c in self.contracts}
        for contract in self.contracts:
            if contract.enterprise_id not in tenants:
                raise ValueError(f"contract {contract.id!r} names unknown enterprise")
        for consent in self.consents:
            if consent.contract_id not in contract_ids:
                raise ValueError(
                    f"consent of {consent.enterprise_id!r} refers to unknown contract "
                    f"{consent.contract_id!r}"
                )
            foreign = [a for a in consent.asset_ids if a not in ids]
            if foreign:
                raise ValueError(
                    f"consent of {consent.enterprise_id!r} names unknown assets {foreign}"
                )
        return self

    def contract_of(self, enterprise_id: str) -> Contract | None:
        """The revenue-share contract of ``enterprise_id``, if any."""
        return next((c for c in self.contracts if c.enterprise_id == enterprise_id), None)

    def offerable(self, product_id: str, at: datetime) -> list[AssetSpec]:
        """Specs of the verified assets a consent lets us offer in ``product_id`` at ``at``."""
        return [
            a.spec
            for a in self.assets
            if a.verification == "passed"
            and any(c.covers(a.spec.id, product_id, at) for c in self.consents)
        ]

    def excluded(self, product_id: str, at: datetime) -> dict[str, str]:
        """Asset id -> reason, for every asset that may not be offered in ``product_id``."""
        allowed = {a.id for a in self.offerable(product_id, at)}
        return {
            a.spec.id: (
                f"verification {a.verification}, not passed"
                if a.verification != "passed"
                else f"no consent of {a.enterprise_id} covers {product_id} at {at.isoformat()}"
            )
            for a in self.assets
            if a.spec.id not in allowed
        }

    def owner(self, asset_id: str) -> str:
        """Enterprise id owning ``asset_id``."""
        for asset in self.assets:
            if asset.spec.id == asset_id:
                return asset.enterprise_id
        raise KeyError(asset_id)
