"""Flexible assets that tenant enterprises enrol, each validated physically.

One schema serves the enrolment API, the fleet files of backtests and the optimiser, so what an
enterprise declares and what a backtest reads is one model. Power follows the service's sign
convention (``vpp.domain``); fields named ``*_mw`` here are magnitudes (>= 0) of the limit
they describe. Every spec refuses what cannot exist: SoC bounds out of order, negative power,
an availability window outside the day, energy that a window cannot hold.
"""

from __future__ import annotations

import itertools
from datetime import time
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MINUTES_PER_DAY = 24 * 60

AssetId = Annotated[
    str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
Positive = Annotated[float, Field(gt=0.0)]

CLOCK_PATTERN = r"^([01][0-9]|2[0-4]):[0-5][0-9](:[0-5][0-9])?$"
"""``HH:MM`` (or ``HH:MM:SS``) as the JSON schema documents it; :func:`clock_minutes` validates."""


def clock_minutes(text: str) -> int:
    """Minutes after local midnight of a ``HH:MM`` clock string; ``24:00`` is 1440."""
    if text == "24:00":
        return MINUTES_PER_DAY
    try:
        wall = time.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a clock time between 00:00 and 24:00") from None
    return wall.hour * 60 + wall.minute


class DailyWindow(BaseModel):
    """A window of local clock time within one day, ``start`` < ``end``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: str = Field(
        description="Local clock time HH:MM when the window opens.",
        json_schema_extra={"pattern": CLOCK_PATTERN},
    )
    end: str = Field(
        description="Local clock time HH:MM when it closes (24:00 = midnight).",
        json_schema_extra={"pattern": CLOCK_PATTERN},
    )

    @field_validator("start", "end")
    @classmethod
    def _is_clock(cls, value: str) -> str:
        clock_minutes(value)
        return value

    @model_validator(mode="after")
    def _ordered(self) -> DailyWindow:
        if clock_minutes(self.start) >= clock_minutes(self.end):
            raise ValueError(
                f"window {self.start}-{self.end} is empty or crosses midnight; "
                "split it into two windows"
            )
        return self

    @property
    def minutes(self) -> int:
        """Length of the window [min]."""
        return clock_minutes(self.end) - clock_minutes(self.start)


class AssetBase(BaseModel):
    """Fields every asset has."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: AssetId
    name: str | None = None
    enterprise_id: str | None = Field(default=None, description="Owning tenant, if enrolled.")
    availability: list[DailyWindow] = Field(
        default_factory=list,
        description="Daily windows in market time when the asset may be dispatched; empty = always.",
    )

    @model_validator(mode="after")
    def _windows_disjoint(self) -> AssetBase:
        spans = sorted((clock_minutes(w.start), clock_minutes(w.end)) for w in self.availability)
        for (_, end), (start, _) in itertools.pairwise(spans):
            if start < end:
                raise ValueError("availability windows overlap")
        return self


class BatterySpec(AssetBase):
    """A stationary battery (park-owned or a tenant's)."""

    type: Literal["battery"] = "battery"
    power_mw: Positive = Field(description="Discharge power limit [MW].")
    charge_power_mw: Positive | None = Field(
        default=None, description="Charge power limit [MW]; defaults to power_mw."
    )
    energy_mwh: Positive = Field(description="Usable nameplate energy [MWh].")
    round_trip_efficiency: Annotated[float, Field(gt=0.0, le=1.0)] = 0.85
    soc_min: Fraction = 0.05
    soc_max: Fraction = 0.95
    soc_initial: Fraction = 0.5
    soc_final: Fraction | None = Field(
        default=None, description="Required SoC at the end of each day; None = at least initial."
    )
    degradation_cost_per_mwh: NonNegative = Field(
        default=0.0, description="Cost per MWh discharged [currency/MWh]."
    )

    @model_validator(mode="after")
    def _soc_window(self) -> BatterySpec:
        if self.soc_min >= self.soc_max:
            raise ValueError(f"soc_min ({self.soc_min}) must be below soc_max ({self.soc_max})")
        for name in ("soc_initial", "soc_final"):
            value = getattr(self, name)
            if value is not None and not self.soc_min <= value <= self.soc_max:
                raise ValueError(
                    f"{name} ({value}) must lie within soc_min..soc_max "
                    f"({self.soc_min}..{self.soc_max})"
                )
        return self

    @property
    def max_charge_mw(self) -> float:
        """Charge power limit [MW]."""
        return self.charge_power_mw if self.charge_power_mw is not None else self.power_mw

    @property
    def one_way_efficiency(self) -> float:
        """Charge and discharge efficiency each, the square root of round trip [-]."""
        return float(self.round_trip_efficiency**0.5)


class PvSpec(AssetBase):
    """A PV plant, curtailable down to zero."""

    type: Literal["pv"] = "pv"
    capacity_mw: Positive = Field(description="AC nameplate [MW].")
    latitude: Annotated[float, Field(ge=-90, le=90)] = Field(description="[deg north]")
    longitude: Annotated[float, Field(ge=-180, le=180)] = Field(description="[deg east]")
    tilt_deg: Annotated[float, Field(ge=0, le=90)] = 15.0
    azimuth_deg: Annotated[float, Field(ge=0, lt=360)] = Field(
        default=180.0, description="Panel azimuth [deg clockwise from north]; 180 = south."
    )
    curtailable: bool = True


class WindSpec(AssetBase):
    """A wind turbine or farm, curtailable down to zero."""

    type: Literal["wind"] = "wind"
    capacity_mw: Positive = Field(description="Nameplate [MW].")
    hub_height_m: Positive | None = None
    curtailable: bool = True


class CurtailableLoadSpec(AssetBase):
    """A process that can reduce consumption for a while (furnace, electrolysis, pumps)."""

    type: Literal["curtailable_load"] = "curtailable_load"
    max_curtail_mw: Positive = Field(description="Largest reduction below baseline [MW].")
    max_duration_min: Annotated[int, Field(gt=0, le=MINUTES_PER_DAY)] = Field(
        description="Longest single curtailment [min]."
    )
    max_events_per_day: Annotated[int, Field(ge=1, le=96)] = 1
    notice_min: Annotated[int, Field(ge=0)] = Field(
        default=0, description="Notice the process needs before a curtailment [min]."
    )
    rebound_fraction: Fraction = Field(
        default=0.0, description="Share of curtailed energy consumed again after the event [-]."
    )
    cost_per_mwh: NonNegative = Field(
        default=0.0, description="Tenant's cost of not consuming [currency/MWh curtailed]."
    )


class ShiftableLoadSpec(AssetBase):
    """A batch process whose daily energy can move within a window."""

    type: Literal["shiftable_load"] = "shiftable_load"
    power_mw: Positive = Field(description="Power drawn while running, at most [MW].")
    energy_mwh: Positive = Field(description="Energy to deliver inside the window each day [MWh].")
    window: DailyWindow

    @model_validator(mode="after")
    def _fits_window(self) -> ShiftableLoadSpec:
        possible = self.power_mw * self.window.minutes / 60
        if self.energy_mwh > possible + 1e-9:
            raise ValueError(
                f"energy_mwh ({self.energy_mwh}) cannot be delivered at {self.power_mw} MW within "
                f"{self.window.start}-{self.window.end} (at most {possible:.3f} MWh)"
            )
        return self


class ThermalSpec(AssetBase):
    """HVAC, process cooling or cold storage as a virtual battery inside a comfort band."""

    type: Literal["thermal"] = "thermal"
    max_power_mw: Positive = Field(description="Largest electrical draw [MW].")
    min_power_mw: NonNegative = Field(default=0.0, description="Smallest electrical draw [MW].")
    baseline_power_mw: NonNegative = Field(
        description="Draw that holds the set-point exactly [MW]."
    )
    energy_capacity_mwh: Positive = Field(
        description="Comfort band expressed as electrical energy that can be stored [MWh]."
    )
    soc_initial: Fraction = 0.5
    standing_loss_per_h: Fraction = Field(
        default=0.02, description="Share of stored energy lost per hour [1/h]."
    )

    @model_validator(mode="after")
    def _powers(self) -> ThermalSpec:
        if not self.min_power_mw <= self.baseline_power_mw <= self.max_power_mw:
            raise ValueError(
                f"baseline_power_mw ({self.baseline_power_mw}) must lie within "
                f"min_power_mw..max_power_mw ({self.min_power_mw}..{self.max_power_mw})"
            )
        loss = self.holding_loss_mw(self.soc_initial)
        if loss > self.max_power_mw - self.baseline_power_mw + 1e-9:
            raise ValueError(
                f"holding the initial stored energy loses {loss:.3f} MW "
                f"(soc_initial x energy_capacity_mwh x standing_loss_per_h) but the device can "
                f"draw only {self.max_power_mw - self.baseline_power_mw:.3f} MW above its "
                "baseline (max_power_mw - baseline_power_mw), so it could never end a day where "
                "it began: lower the standing loss or the initial state, or raise max_power_mw"
            )
        return self

    def holding_loss_mw(self, soc: float) -> float:
        """Draw above the baseline that holds the stored energy at ``soc`` [MW]."""
        return soc * self.energy_capacity_mwh * self.standing_loss_per_h


class EvSession(BaseModel):
    """A recurring daily charging session declared by the fleet operator."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    arrival: str = Field(description="Local clock time HH:MM the vehicle plugs in.")
    departure: str = Field(description="Local clock time HH:MM it leaves; earlier = next day.")
    energy_mwh: Positive = Field(description="Energy it needs before departure [MWh].")
    vehicles: Annotated[int, Field(ge=1)] = 1

    @field_validator("arrival", "departure")
    @classmethod
    def _is_clock(cls, value: str) -> str:
        if clock_minutes(value) >= MINUTES_PER_DAY:
            raise ValueError(f"{value!r} must be before 24:00")
        return value

    @property
    def plugged_minutes(self) -> int:
        """How long the vehicle stays plugged in [min]."""
        span = clock_minutes(self.departure) - clock_minutes(self.arrival)
        return span if span > 0 else span + MINUTES_PER_DAY


class EvFleetSpec(AssetBase):
    """A depot of chargers serving declared sessions (smart charging, optionally V2G)."""

    type: Literal["ev_fleet"] = "ev_fleet"
    chargers: Annotated[int, Field(ge=1)]
    charger_power_mw: Positive = Field(description="Power limit of one charger [MW].")
    charging_efficiency: Annotated[float, Field(gt=0.0, le=1.0)] = 0.92
    sessions: list[EvSession] = Field(min_length=1)

    @model_validator(mode="after")
    def _sessions_feasible(self) -> EvFleetSpec:
        for k, session in enumerate(self.sessions):
            if session.vehicles > self.chargers:
                raise ValueError(
                    f"sessions[{k}] needs {session.vehicles} chargers but the depot has "
                    f"{self.chargers}"
                )
            most = self.charger_power_mw * session.plugged_minutes / 60 * self.charging_efficiency
            if session.energy_mwh > most + 1e-9:
                raise ValueError(
                    f"sessions[{k}] asks {session.energy_mwh} MWh per vehicle but at most "
                    f"{most:.3f} MWh fit between {session.arrival} and {session.departure}"
                )
        return self


class BackupGeneratorSpec(AssetBase):
    """A diesel or gas backup generator."""

    type: Literal["backup_generator"] = "backup_generator"
    power_mw: Positive = Field(description="Rated output [MW].")
    min_power_mw: NonNegative = Field(default=0.0, description="Minimum stable output [MW].")
    fuel_cost_per_mwh: NonNegative = Field(description="Marginal cost [currency/MWh].")
    emission_factor_t_per_mwh: NonNegative = Field(default=0.7, description="[tCO2/MWh]")
    max_run_h_per_day: Annotated[float, Field(gt=0, le=24)] = 4.0

    @model_validator(mode="after")
    def _min_below_max(self) -> BackupGeneratorSpec:
        if self.min_power_mw > self.power_mw:
            raise ValueError(
                f"min_power_mw ({self.min_power_mw}) exceeds power_mw ({self.power_mw})"
            )
        return self


AssetSpec = Annotated[
    BatterySpec
    | PvSpec
    | WindSpec
    | CurtailableLoadSpec
    | ShiftableLoadSpec
    | ThermalSpec
    | EvFleetSpec
    | BackupGeneratorSpec,
    Field(discriminator="type"),
]

ASSET_TYPES: tuple[str, ...] = (
    "battery",
    "pv",
    "wind",
    "curtailable_load",
    "shiftable_load",
    "thermal",
    "ev_fleet",
    "backup_generator",
)
