"""Telemetry upload: a JSON batch of points and the per-row outcome."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

EXAMPLE: Any = {
    "points": [
        {"ts": "2026-03-02T00:00:00Z", "power_mw": -1.2},
        {"ts": "2026-03-02T00:15:00Z", "power_mw": 0.8, "quality": "estimated"},
    ]
}


class TelemetryPointIn(BaseModel):
    """One reading; ``ts`` needs an offset, ``power_mw`` is positive into the grid [MW]."""

    model_config = ConfigDict(extra="forbid")

    ts: str = Field(max_length=40, description="ISO 8601 instant with offset.")
    power_mw: float | None = Field(description="Metered power [MW], + = into the grid.")
    energy_mwh: float | None = Field(default=None, description="Metered energy [MWh].")
    quality: str = Field(default="measured", max_length=16)


class TelemetryBatch(BaseModel):
    """Readings of one asset; rows are validated one by one."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE]})

    points: list[TelemetryPointIn] = Field(min_length=1)


class RejectedRowPublic(BaseModel):
    """A refused row: its 0-based position, the field and why."""

    row: int
    field: str
    message: str


class TelemetryResult(BaseModel):
    """How many points were written and which rows were refused."""

    asset_id: str
    received: int
    written: int
    rejected: list[RejectedRowPublic]


class TelemetryPointPublic(BaseModel):
    """A stored reading."""

    ts: str
    power_mw: float
    energy_mwh: float | None
    quality: str

    @classmethod
    def from_row(
        cls, ts: Any, power: float, energy: float | None, quality: str
    ) -> TelemetryPointPublic:
        """From one row of a stored frame."""
        return cls(ts=ts.isoformat(), power_mw=power, energy_mwh=energy, quality=quality)
