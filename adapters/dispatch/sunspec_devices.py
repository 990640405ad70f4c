"""What the SunSpec channel knows about each asset's device, and the checks made before any I/O.

:class:`SunSpecAddress` is where the device is and what it may be asked to do (configured per
asset); :class:`DiscoveredDevice` is what the SunSpec scan found on it. The setpoint checks here
(against the asset's ratings, and the pick of the current setpoint) run before
:class:`~adapters.dispatch.sunspec_modbus.SunSpecModbusChannel` talks to any device.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from adapters.dispatch.sunspec_registers import STANDARD_BASE_ADDRESS
from vpp.domain.bids import Setpoint
from vpp.domain.errors import InvalidInputError

ControlModel = Literal[704, 124]


@dataclass(frozen=True)
class SunSpecAddress:
    """Where an asset's SunSpec device is and what it may be asked to do.

    ``rated_w`` bounds discharge/export (positive setpoints), ``max_charge_w`` bounds charging
    (negative setpoints; defaults to ``rated_w``, 0 for a PV inverter that cannot charge).
    ``revert_timeout_s`` is written with every setpoint: without a new write the device falls
    back to 0 W after that many seconds.

    Quirk: ``unit_id_offset`` is added to ``unit_id`` on the wire. Devices behind RS-485/TCP
    gateways are often commissioned with a bus address that the gateway exposes shifted by one
    (e.g. the gateway numbers its serial ports from 1 or keeps unit id 1 for itself); record the
    commissioned ``unit_id`` and declare the shift here instead of editing the asset register.
    ``base_address`` is where the "SunS" marker sits (40000 by default; SunSpec allows 0 and
    50000, and some devices put it at 40001).
    """

    host: str
    port: int
    unit_id: int
    rated_w: float
    model: ControlModel = 704
    max_charge_w: float | None = None
    revert_timeout_s: int = 900
    unit_id_offset: int = 0
    base_address: int = STANDARD_BASE_ADDRESS

    def __post_init__(self) -> None:
        problems = []
        if self.model not in (704, 124):
            problems.append(f"model {self.model} is not 704 or 124")
        if not 0 <= self.wire_unit_id <= 247:
            problems.append(f"unit id {self.unit_id}+{self.unit_id_offset} is outside 0..247")
        if not 0 < self.port < 65536:
            problems.append(f"port {self.port} is outside 1..65535")
        if not self.rated_w > 0 or not math.isfinite(self.rated_w):
            problems.append(f"rated_w {self.rated_w} is not a positive number of watts")
        if self.max_charge_w is not None and not 0 <= self.max_charge_w < math.inf:
            problems.append(f"max_charge_w {self.max_charge_w} is not >= 0 watts")
        if not 1 <= self.revert_timeout_s <= 65535:
            problems.append(f"revert_timeout_s {self.revert_timeout_s} is outside 1..65535")
        if not 0 <= self.base_address <= 65535 - 4:
            problems.append(f"base_address {self.base_address} is outside the register space")
        if problems:
            raise InvalidInputError(
                "invalid SunSpec address: " + "; ".join(problems),
                hint="fix the asset's device address in the site configuration",
            )

    @property
    def wire_unit_id(self) -> int:
        """The unit id the device answers at: ``unit_id + unit_id_offset``."""
        return self.unit_id + self.unit_id_offset

    @property
    def charge_limit_w(self) -> float:
        """The largest charging power the asset accepts [W, >= 0]."""
        return self.rated_w if self.max_charge_w is None else self.max_charge_w


@dataclass(frozen=True)
class DiscoveredDevice:
    """What the SunSpec scan found on a device (cached per asset)."""

    unit_id: int
    #: ``(model id, address of its ID register)`` for every model in the map, in order.
    models: tuple[tuple[int, int], ...]
    #: The control model used (704 or 124) and the address of its ID register.
    model_id: int
    start: int
    #: Scale factors of the control model, by scale-factor point name.
    scale: Mapping[str, int]
    #: 124 only: the device's ``WChaMax`` [W] that the rate percentages refer to.
    w_cha_max: float | None = None


def _check_rating(sp: Setpoint, address: SunSpecAddress) -> None:
    watts = sp.power_mw * 1e6
    if not math.isfinite(watts):
        raise InvalidInputError(f"setpoint for asset {sp.asset_id!r} is not a number")
    when = sp.interval_start.isoformat()
    if watts > address.rated_w * (1 + 1e-9):
        raise InvalidInputError(
            f"setpoint {sp.power_mw:g} MW for asset {sp.asset_id!r} at {when} exceeds its rated "
            f"discharge/export power {address.rated_w / 1e6:g} MW",
            hint="clip the plan to the asset's rating, or correct rated_w in its SunSpec address",
        )
    if -watts > address.charge_limit_w * (1 + 1e-9):
        raise InvalidInputError(
            f"setpoint {sp.power_mw:g} MW for asset {sp.asset_id!r} at {when} exceeds its maximum "
            f"charging power {address.charge_limit_w / 1e6:g} MW",
            hint="clip the plan to the asset's rating, or correct max_charge_w in its address",
        )


def _pick(starts: Sequence[datetime], now: datetime, asset_id: str) -> int:
    """Index of the current interval among ``starts`` (see the channel's module docstring)."""
    if len(set(starts)) != len(starts):
        raise InvalidInputError(
            f"asset {asset_id!r} has two setpoints for the same interval",
            hint="send one setpoint per asset and interval",
        )
    started = [k for k, t in enumerate(starts) if t <= now]
    if started:
        return max(started, key=starts.__getitem__)
    return min(range(len(starts)), key=starts.__getitem__)
