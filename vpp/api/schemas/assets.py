"""Enrolment bodies: AssetCreate / AssetUpdate / AssetPublic around the AssetSpec union, outages."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from vpp.domain.assets import AssetSpec
from vpp.domain.park import EnrolledAsset

Verification = Literal["unverified", "scheduled", "passed", "failed"]
NominatedMw = Annotated[float, Field(ge=0, description="Capacity offered to the VPP [MW].")]

BATTERY_EXAMPLE: Any = {
    "spec": {"type": "battery", "id": "a-bat-1", "power_mw": 2.0, "energy_mwh": 4.0},
    "site_id": "a-main",
    "nominated_mw": 1.5,
}
LOAD_EXAMPLE: Any = {
    "spec": {
        "type": "curtailable_load",
        "id": "a-furnace-2",
        "max_curtail_mw": 3.0,
        "max_duration_min": 120,
        "availability": [{"start": "08:00", "end": "22:00"}],
    },
    "nominated_mw": 2.5,
}


class AssetCreate(BaseModel):
    """Enrol one asset: its typed spec (the same schema as fleet files) and nomination."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [BATTERY_EXAMPLE, LOAD_EXAMPLE]}
    )

    spec: AssetSpec
    site_id: str | None = Field(default=None, max_length=64)
    nominated_mw: NominatedMw | None = None


class AssetUpdate(BaseModel):
    """Change an enrolled asset; omitted fields stay. Only operators set ``verification``."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"nominated_mw": 1.0}]}
    )

    spec: AssetSpec | None = None
    site_id: str | None = Field(default=None, max_length=64)
    nominated_mw: NominatedMw | None = None
    verification: Verification | None = None


class AssetPublic(BaseModel):
    """An enrolled asset as the API shows it."""

    id: str
    type: str
    enterprise_id: str
    site_id: str | None
    nominated_mw: float | None
    verification: Verification
    spec: AssetSpec

    @classmethod
    def of(cls, asset: EnrolledAsset) -> AssetPublic:
        """The public view of ``asset``."""
        return cls(
            id=asset.spec.id,
            type=asset.spec.type,
            enterprise_id=asset.enterprise_id,
            site_id=asset.site_id,
            nominated_mw=asset.nominated_mw,
            verification=asset.verification,
            spec=asset.spec,
        )


class OutageCreate(BaseModel):
    """A dated window when the asset cannot be dispatched."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "start": "2026-03-03T00:00:00Z",
                    "end": "2026-03-03T06:00:00Z",
                    "reason": "maintenance",
                }
            ]
        },
    )

    start: AwareDatetime
    end: AwareDatetime
    reason: str = Field(min_length=1, max_length=200)


class OutagePublic(BaseModel):
    """A recorded outage."""

    id: int
    asset_id: str
    start: datetime
    end: datetime
    reason: str
