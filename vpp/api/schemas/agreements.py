"""Revenue-share contracts and consent records, as enterprises submit and read them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from vpp.domain.park import ConsentRecord, Contract, ContractScheme, Slug

MAX_AMOUNT = 1e12
"""Largest fee or guarantee accepted [currency units]; the stored columns hold 14 digits."""


class ContractCreate(BaseModel):
    """Contract terms; the enterprise comes from the path. Fields as in ``Contract``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "id": "c-a-2026",
                    "scheme": "percentage_split",
                    "aggregator_share": 0.2,
                    "currency": "CNY",
                    "valid_from": "2026-03-01T00:00:00+08:00",
                }
            ]
        },
    )

    id: Slug
    scheme: ContractScheme = "percentage_split"
    aggregator_share: float = Field(default=0.2, ge=0, le=1)
    capacity_fee_per_mw_month: float | None = Field(default=None, ge=0, le=MAX_AMOUNT)
    min_guarantee: float | None = Field(default=None, ge=0, le=MAX_AMOUNT)
    savings_share: float | None = Field(default=None, ge=0, le=1)
    penalty_pass_through: Literal["pro_rata_shortfall", "aggregator_bears", "none"] = (
        "pro_rata_shortfall"
    )
    currency: str = Field(min_length=3, max_length=3)
    valid_from: AwareDatetime
    valid_to: AwareDatetime | None = None
    terms_version: str = Field(default="1", max_length=32)

    def to_domain(self, enterprise_id: str) -> Contract:
        """The domain contract (its validators check the scheme's fields)."""
        return Contract.model_validate({**self.model_dump(), "enterprise_id": enterprise_id})


class ConsentCreate(BaseModel):
    """A signed consent: who agreed to which contract terms, for which assets and products."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "asset_ids": ["a-bat-1", "a-furnace-2"],
                    "agreed_by": "Li Wei, energy manager",
                    "agreed_at": "2026-03-01T09:00:00+08:00",
                    "contract_id": "c-a-2026",
                    "terms_version": "1",
                    "products": ["spot_energy"],
                }
            ]
        },
    )

    asset_ids: list[str] = Field(min_length=1, max_length=1000)
    agreed_by: str = Field(min_length=1, max_length=200)
    agreed_at: AwareDatetime
    contract_id: str = Field(min_length=1, max_length=64)
    terms_version: str = Field(max_length=32)
    products: list[str] = Field(default_factory=list, max_length=50)

    def to_domain(self, enterprise_id: str) -> ConsentRecord:
        """The domain record."""
        return ConsentRecord.model_validate({**self.model_dump(), "enterprise_id": enterprise_id})


class ConsentPublic(BaseModel):
    """A stored consent record with its id."""

    id: int
    enterprise_id: str
    asset_ids: list[str]
    agreed_by: str
    agreed_at: datetime
    contract_id: str
    terms_version: str
    products: list[str]
    revoked_at: datetime | None

    @classmethod
    def of(cls, consent_id: int, record: ConsentRecord) -> ConsentPublic:
        """The public view of a stored record."""
        return cls(id=consent_id, **record.model_dump())
