"""SunSpec over Modbus TCP: the dispatch channel for the park's batteries and inverters.

:class:`SunSpecModbusChannel` implements :class:`vpp.domain.ports.DispatchChannel`. For every
asset it is given a :class:`SunSpecAddress` (where the device is, which control model it speaks,
its ratings, how long it may hold a setpoint without hearing from us). On :meth:`send` it

1. checks every setpoint against the asset's ratings before any device I/O (a setpoint the
   asset cannot hold is the caller's error and raises :class:`~vpp.domain.errors.InvalidInputError`);
2. picks one setpoint per asset: the one whose interval covers *now* by the injected clock, taken
   to be the latest setpoint starting at or before now (setpoints carry no end; a plan's
   intervals are contiguous), or the earliest one when all of them lie in the future;
3. discovers the device's register map by the SunSpec scan ("SunS" marker at the base address,
   then the chain of model id / length headers up to the 0xFFFF end marker) and caches it;
4. writes the setpoint in watts with a reversion timer, so the device falls back to 0 W if the
   VPP goes quiet: model 704 (DER AC Controls) gets ``WSet`` (signed, ``WSet_SF``) with
   ``WSetEna``/``WSetMod=WATTS`` and ``WSetRvrt=0``/``WSetRvrtTms``; legacy model 124 (Storage)
   gets ``OutWRte`` (discharge) or ``InWRte`` (charge) as a percentage of ``WChaMax``,
   ``StorCtl_Mod`` and ``InOutWRte_RvrtTms``;
5. reads the points back and confirms the asset when they hold the setpoint within the tolerance
   (the write and the read-back go in one function 23 request where the device implements it).

An asset whose device does not answer, answers with a Modbus exception, has no SunSpec map or
does not read back what was written is simply absent from the returned ids (the service records
it as non-delivery); the reason is logged on this module's logger.

The register layout (point offsets, types, scale-factor names) comes from the model definitions
bundled with pysunspec2, never from hand-typed offsets. Devices are reached concurrently with
pymodbus' asyncio client: one connection per ``host:port`` (a gateway or an inverter with
several unit ids), at most ``max_connections`` open at once, each request bounded by
``timeout_s`` and ``retries``. pymodbus allows one request in flight per connection, so the
unit ids behind one ``host:port`` are served one after another. :meth:`send` is synchronous: it
runs its own event loop, in a worker thread when the calling thread already runs one.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import itertools
import logging
import math
import operator
import struct
from collections import defaultdict
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal, TypeVar

import pandas as pd
import sunspec2.device as sunspec_device
import sunspec2.mb as sunspec_mb
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from vpp.domain.bids import Setpoint
from vpp.domain.errors import InvalidInputError, NotFoundError
from vpp.domain.ports import Clock, SystemClock

log = logging.getLogger(__name__)

#: The two registers "SunS" that open every SunSpec register map.
SUNS_MARKER = (0x5375, 0x6E53)
#: The standard base address of the SunSpec map (SunSpec also allows 0 and 50000).
STANDARD_BASE_ADDRESS = 40000
#: Model id of the end marker that closes the chain of models.
END_MODEL_ID = 0xFFFF
#: More models than this in one map means the chain is corrupt.
MAX_MODELS = 64

#: 704 ``WSetEna``/``WSetEnaRvrt`` ENABLED and ``WSetMod`` WATTS.
ENABLED = 1
WSET_MOD_WATTS = 1
#: 124 ``StorCtl_Mod`` bits.
STORCTL_CHARGE = 0x1
STORCTL_DISCHARGE = 0x2

ControlModel = Literal[704, 124]
T = TypeVar("T")
#: Modbus exception code ILLEGAL_FUNCTION: the device does not implement the function code.
ILLEGAL_FUNCTION = 1

_POWER = operator.attrgetter("power_mw")
_START = operator.attrgetter("interval_start")
_ASSET = operator.attrgetter("asset_id")


# --------------------------------------------------------------------------------------------
# Register layout from pysunspec2's model definitions
# --------------------------------------------------------------------------------------------

#: struct formats of the integer SunSpec types, decoded exactly as pysunspec2 decodes them.
_INTEGER_FORMATS = {
    "int16": ">h",
    "sunssf": ">h",
    "uint16": ">H",
    "enum16": ">H",
    "bitfield16": ">H",
    "count": ">H",
    "pad": ">H",
    "int32": ">i",
    "uint32": ">I",
    "enum32": ">I",
    "bitfield32": ">I",
    "acc32": ">I",
}


@dataclass(frozen=True)
class PointLayout:
    """Where one SunSpec point sits in its model block."""

    name: str
    #: Offset from the model's ``ID`` register [registers].
    offset: int
    #: SunSpec type name (``int16``, ``uint32``, ``sunssf``, ``string`` ...).
    type: str
    #: Length [registers].
    size: int
    #: ``R`` or ``RW``.
    access: str
    #: Name of the scale-factor point (or a fixed exponent), if the point is scaled.
    sf: str | int | None

    def encode(self, value: int | str) -> list[int]:
        """Registers holding ``value`` (a raw, unscaled integer or a string)."""
        info = sunspec_mb.point_type_info[self.type]
        data = info.to_data(value, self.size * 2) if self.type == "string" else info.to_data(value)
        return list(struct.unpack(f">{self.size}H", data))

    def decode(self, registers: Sequence[int]) -> int | str:
        """The raw value held in ``registers`` (starting at this point)."""
        fast = _INTEGER_FORMATS.get(self.type)
        if fast is not None:  # the common integer types, without pysunspec2's dispatch
            if fast == ">H":
                return int(registers[0])
            if fast == ">h":
                raw = int(registers[0])
                return raw - 0x10000 if raw & 0x8000 else raw
            value: int = struct.unpack(fast, struct.pack(">2H", *registers[:2]))[0]
            return value
        data = struct.pack(f">{self.size}H", *registers[: self.size])
        decoded: int | str = sunspec_mb.point_type_info[self.type].data_to(data)
        return decoded

    def unimplemented(self) -> list[int]:
        """Registers holding SunSpec's 'not implemented' value for this point's type."""
        size = self.size * 2 if self.type == "string" else None
        data = sunspec_mb.create_unimpl_value(self.type, size)
        return list(struct.unpack(f">{self.size}H", data))


@dataclass(frozen=True)
class ModelLayout:
    """The points of one SunSpec model, flattened in register order."""

    model_id: int
    #: The model's ``L``: registers after the ``ID`` and ``L`` headers.
    length: int
    points: Mapping[str, PointLayout]

    @property
    def size(self) -> int:
        """Registers taken by the model, headers included."""
        return self.length + 2

    def point(self, name: str) -> PointLayout:
        """The point called ``name`` (nested groups as ``Group.Point``)."""
        try:
            return self.points[name]
        except KeyError:
            raise KeyError(f"SunSpec model {self.model_id} has no point {name!r}") from None

    def block(self, values: Mapping[str, int]) -> tuple[int, list[int]]:
        """Offset and registers of a write covering exactly the contiguous points ``values``."""
        points = sorted((self.point(n) for n in values), key=lambda p: p.offset)
        registers: list[int] = []
        for before, after in itertools.pairwise(points):
            if before.offset + before.size != after.offset:
                raise ValueError(f"points {before.name} and {after.name} are not contiguous")
        for p in points:
            registers.extend(p.encode(values[p.name]))
        return points[0].offset, registers


def _flatten(
    group: Mapping[str, Any], prefix: str, offset: int, out: dict[str, PointLayout]
) -> int:
    for p in group.get("points", []):
        size = sunspec_mb.point_type_info[p["type"]].len or int(p["size"])
        name = prefix + p["name"]
        out[name] = PointLayout(name, offset, p["type"], size, p.get("access", "R"), p.get("sf"))
        offset += size
    for sub in group.get("groups", []):
        if sub.get("count") not in (None, 1):
            raise ValueError(f"repeating group {sub['name']!r} is not supported")
        offset = _flatten(sub, f"{prefix}{sub['name']}.", offset, out)
    return offset


@functools.cache
def model_layout(model_id: int) -> ModelLayout:
    """The register layout of SunSpec model ``model_id`` from pysunspec2's bundled definitions."""
    definition = sunspec_device.get_model_def(model_id)
    points: dict[str, PointLayout] = {}
    total = _flatten(definition["group"], "", 0, points)
    declared = points["L"]
    length = total - 2
    fixed = definition["group"]["points"][1].get("value")
    if declared.offset != 1 or (fixed is not None and int(fixed) != length):
        raise ValueError(f"SunSpec model {model_id}: length {length} disagrees with its definition")
    return ModelLayout(model_id, length, MappingProxyType(points))


def scaled(raw: int, sf: int) -> float:
    """``raw * 10**sf``: a register value in engineering units."""
    return raw * 10.0**sf


# --------------------------------------------------------------------------------------------
# Addresses and the channel
# --------------------------------------------------------------------------------------------


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


class DeviceAnswerError(Exception):
    """A device answered, but not in a way that lets the setpoint be confirmed."""


class SunSpecModbusChannel:
    """Dispatches setpoints to SunSpec devices over Modbus TCP and confirms them by read-back.

    ``addresses`` maps asset ids to their devices. ``clock`` decides which setpoint is current
    (the system clock by default). Every Modbus request waits at most ``timeout_s`` and is
    repeated at most ``retries`` times; at most ``max_connections`` ``host:port`` endpoints are
    served at once. A read-back confirms a setpoint when it is within ``tolerance_w`` plus half
    the register resolution (the scale factor's step). With ``read_write_multiple`` (the
    default) a setpoint is written and read back in one Modbus request (function 23, read/write
    multiple registers), halving the round trips; devices that answer it with ILLEGAL_FUNCTION
    fall back to a write and a read.
    """

    def __init__(
        self,
        addresses: Mapping[str, SunSpecAddress],
        *,
        clock: Clock | None = None,
        timeout_s: float = 1.0,
        retries: int = 1,
        max_connections: int = 32,
        tolerance_w: float = 1.0,
        read_write_multiple: bool = True,
    ) -> None:
        if timeout_s <= 0 or retries < 0 or max_connections < 1 or tolerance_w < 0:
            raise InvalidInputError(
                "invalid SunSpec channel settings",
                hint="timeout_s > 0, retries >= 0, max_connections >= 1, tolerance_w >= 0",
            )
        self.addresses = dict(addresses)
        self.clock: Clock = clock or SystemClock()
        self.timeout_s = timeout_s
        self.retries = retries
        self.max_connections = max_connections
        self.tolerance_w = tolerance_w
        self.read_write_multiple = read_write_multiple
        self._discovered: dict[str, DiscoveredDevice] = {}
        #: ``(host, port, unit)`` of devices that answered function 23 with ILLEGAL_FUNCTION.
        self._no_read_write: set[tuple[str, int, int]] = set()

    # -- public ---------------------------------------------------------------------------

    def send(self, setpoints: Sequence[Setpoint]) -> Sequence[str]:
        """Send the current setpoint of each asset; return the ids of the assets that confirmed.

        Raises :class:`~vpp.domain.errors.NotFoundError` for an asset without an address and
        :class:`~vpp.domain.errors.InvalidInputError` for a setpoint outside the asset's ratings
        or two setpoints for one asset and interval, before talking to any device.
        """
        chosen = self.current_setpoints(setpoints)
        if not chosen:
            return []
        return _run_sync(self._dispatch(chosen))

    def current_setpoints(self, setpoints: Sequence[Setpoint]) -> dict[str, Setpoint]:
        """Check ``setpoints`` and pick the one to send per asset (see the module docstring).

        Linear in the number of setpoints and mostly in C-level passes (a day of 96 intervals
        for 10,000 assets is about a million setpoints): ratings are checked on each asset's
        extremes, and the pick is made once per distinct set of interval starts.
        """
        by_asset: dict[str, list[Setpoint]] = {}
        addresses = self.addresses
        # Plans are asset-major, so groupby's runs (C speed) are whole assets; an asset seen
        # again later is extended, so any order is still grouped correctly.
        for asset_id, run in itertools.groupby(setpoints, key=_ASSET):
            group = by_asset.get(asset_id)
            if group is None:
                if asset_id not in addresses:
                    raise NotFoundError(
                        f"asset {asset_id!r} has no SunSpec Modbus address",
                        hint="add the asset to the channel's address map or dispatch it elsewhere",
                    )
                by_asset[asset_id] = list(run)
            else:
                group.extend(run)
        now = pd.Timestamp(self.clock.now()).to_pydatetime()
        # Assets of one plan share their interval start objects; the pick depends only on the
        # starts, so it is made once per distinct tuple of start objects (their ids are stable
        # while ``setpoints`` holds them).
        picks: dict[tuple[int, ...], int] = {}
        chosen: dict[str, Setpoint] = {}
        for asset_id, candidates in by_asset.items():
            address = addresses[asset_id]
            powers = list(map(_POWER, candidates))
            if not math.isfinite(sum(powers)):
                for sp in candidates:
                    _check_rating(sp, address)  # raises on the first non-finite setpoint
            hi, lo = max(powers), min(powers)
            if hi * 1e6 > address.rated_w * (1 + 1e-9):
                _check_rating(candidates[powers.index(hi)], address)
            if -lo * 1e6 > address.charge_limit_w * (1 + 1e-9):
                _check_rating(candidates[powers.index(lo)], address)
            starts = list(map(_START, candidates))
            key = tuple(map(id, starts))
            pick = picks.get(key)
            if pick is None:
                pick = picks[key] = _pick(starts, now, asset_id)
            chosen[asset_id] = candidates[pick]
        return chosen

    def forget(self, asset_id: str | None = None) -> None:
        """Drop the cached register map of ``asset_id`` (or of every asset) to rescan it."""
        if asset_id is None:
            self._discovered.clear()
        else:
            self._discovered.pop(asset_id, None)

    def discovered(self, asset_id: str) -> DiscoveredDevice | None:
        """The cached register map of ``asset_id``, if it was scanned."""
        return self._discovered.get(asset_id)

    # -- dispatch ---------------------------------------------------------------------------

    async def _dispatch(self, chosen: Mapping[str, Setpoint]) -> list[str]:
        endpoints: dict[tuple[str, int], list[tuple[str, Setpoint]]] = defaultdict(list)
        for asset_id, sp in sorted(chosen.items()):
            address = self.addresses[asset_id]
            endpoints[(address.host, address.port)].append((asset_id, sp))
        gate = asyncio.Semaphore(self.max_connections)
        results = await asyncio.gather(
            *(self._serve_endpoint(h, p, jobs, gate) for (h, p), jobs in endpoints.items())
        )
        return sorted(a for confirmed in results for a in confirmed)

    async def _serve_endpoint(
        self,
        host: str,
        port: int,
        jobs: Sequence[tuple[str, Setpoint]],
        gate: asyncio.Semaphore,
    ) -> list[str]:
        async with gate:
            client = AsyncModbusTcpClient(
                host, port=port, timeout=self.timeout_s, retries=self.retries, reconnect_delay=0
            )
            try:
                connected = False
                for _ in range(self.retries + 1):
                    if connected := await client.connect():
                        break
                if not connected:
                    for asset_id, _sp in jobs:
                        log.warning(
                            "asset %s not confirmed: cannot connect to %s:%d after %d attempts",
                            asset_id,
                            host,
                            port,
                            self.retries + 1,
                        )
                    return []
                confirmed = []
                for asset_id, sp in jobs:
                    if await self._dispatch_one(client, asset_id, sp):
                        confirmed.append(asset_id)
                return confirmed
            finally:
                client.close()
                await asyncio.sleep(0)

    async def _dispatch_one(
        self, client: AsyncModbusTcpClient, asset_id: str, sp: Setpoint
    ) -> bool:
        address = self.addresses[asset_id]
        where = f"unit {address.wire_unit_id} at {address.host}:{address.port}"
        try:
            device = self._discovered.get(asset_id)
            if device is None:
                device = await self._discover(client, address)
                self._discovered[asset_id] = device
            target_w = sp.power_mw * 1e6
            if device.model_id == 704:
                ok, detail = await self._write_704(client, address, device, target_w)
            else:
                ok, detail = await self._write_124(client, address, device, target_w)
        except ModbusException as exc:
            self._discovered.pop(asset_id, None)
            hint = ""
            if address.unit_id_offset == 0:
                hint = " (check its unit id; declare unit_id_offset if a gateway shifts it)"
            log.warning(
                "asset %s not confirmed: no answer from %s after %d tries%s: %s",
                asset_id,
                where,
                self.retries + 1,
                hint,
                exc,
            )
            return False
        except DeviceAnswerError as exc:
            self._discovered.pop(asset_id, None)
            log.warning("asset %s not confirmed: %s %s", asset_id, where, exc)
            return False
        if not ok:
            log.warning("asset %s not confirmed: %s read back %s", asset_id, where, detail)
        return ok

    # -- SunSpec scan -----------------------------------------------------------------------

    async def _discover(
        self, client: AsyncModbusTcpClient, address: SunSpecAddress
    ) -> DiscoveredDevice:
        unit, base = address.wire_unit_id, address.base_address
        try:
            marker = await _read(client, unit, base, 2)
        except DeviceAnswerError as exc:
            marker, refused = [], f" ({exc})"
        else:
            refused = ""
        if tuple(marker) != SUNS_MARKER:
            raise DeviceAnswerError(
                f"has no SunSpec 'SunS' marker at {base}{refused}; declare base_address if its "
                "map starts elsewhere (0, 40001, 50000)"
            )
        models: list[tuple[int, int]] = []
        at = base + 2
        for _ in range(MAX_MODELS):
            model_id, length = await _read(client, unit, at, 2)
            if model_id == END_MODEL_ID:
                break
            models.append((model_id, at))
            at += 2 + length
        else:
            raise DeviceAnswerError(f"has no SunSpec end marker within {MAX_MODELS} models")
        starts = dict(models)
        if address.model not in starts:
            found = ", ".join(str(m) for m, _ in models) or "none"
            raise DeviceAnswerError(
                f"has no SunSpec model {address.model} (models found: {found}); "
                "correct the model in the asset's address"
            )
        layout = model_layout(address.model)
        start = starts[address.model]
        registers = await _read(client, unit, start, layout.size)
        if registers[1] != layout.length:
            raise DeviceAnswerError(
                f"model {address.model} has length {registers[1]}, expected {layout.length}"
            )
        names = (
            ("WSet_SF", "WSetPct_SF") if address.model == 704 else ("WChaMax_SF", "InOutWRte_SF")
        )
        scale = {n: _point(layout, registers, n) for n in names}
        for name, value in scale.items():
            if not sunspec_mb.point_type_info["sunssf"].is_impl(value) or not -10 <= value <= 10:
                raise DeviceAnswerError(f"has no usable scale factor {name} ({value})")
        w_cha_max = None
        if address.model == 124:
            raw = _point(layout, registers, "WChaMax")
            if not sunspec_mb.point_type_info["uint16"].is_impl(raw) or raw == 0:
                raise DeviceAnswerError("does not report WChaMax")
            w_cha_max = scaled(raw, scale["WChaMax_SF"])
        return DiscoveredDevice(
            unit, tuple(models), address.model, start, MappingProxyType(scale), w_cha_max
        )

    # -- writes -----------------------------------------------------------------------------

    async def _write_read(
        self,
        client: AsyncModbusTcpClient,
        address: SunSpecAddress,
        write_at: int,
        registers: Sequence[int],
        read_at: int,
        count: int,
    ) -> list[int]:
        """Write ``registers`` at ``write_at``, then read ``count`` registers from ``read_at``.

        One function 23 request when the device implements it (``read_write_multiple``), two
        requests (16, then 3) otherwise; a device that answers function 23 with
        ILLEGAL_FUNCTION is remembered and served with two requests from then on.
        """
        unit = address.wire_unit_id
        key = (address.host, address.port, unit)
        if self.read_write_multiple and key not in self._no_read_write:
            back = await _write_read(client, unit, write_at, registers, read_at, count)
            if back is not None:
                return back
            self._no_read_write.add(key)
            log.info(
                "unit %d at %s:%d does not implement Modbus function 23; writing and reading "
                "back in two requests",
                unit,
                address.host,
                address.port,
            )
        await _write(client, unit, write_at, registers)
        return await _read(client, unit, read_at, count)

    async def _write_704(
        self,
        client: AsyncModbusTcpClient,
        address: SunSpecAddress,
        device: DiscoveredDevice,
        target_w: float,
    ) -> tuple[bool, str]:
        layout = model_layout(704)
        sf = device.scale["WSet_SF"]
        raw = round(target_w / 10.0**sf)
        values = _wset_values(raw, address.revert_timeout_s)
        offset, template = _wset_block(address.revert_timeout_s)
        wset = layout.point("WSet")
        registers = list(template)
        registers[wset.offset - offset : wset.offset - offset + wset.size] = wset.encode(raw)
        at = device.start + offset
        back = await self._write_read(client, address, at, registers, at, len(registers))
        if back == registers:
            return True, "as written"
        block = [0] * offset + back
        held = {n: _point(layout, block, n) for n in values}
        held_w = scaled(held["WSet"], sf)
        tolerance = self.tolerance_w + 10.0**sf / 2
        ok = (
            held["WSetEna"] == ENABLED
            and held["WSetMod"] == WSET_MOD_WATTS
            and abs(held_w - target_w) <= tolerance
            and held["WSetRvrtTms"] == address.revert_timeout_s
        )
        return ok, f"WSet={held_w:.0f} W (sent {target_w:.0f} W), points {held}"

    async def _write_124(
        self,
        client: AsyncModbusTcpClient,
        address: SunSpecAddress,
        device: DiscoveredDevice,
        target_w: float,
    ) -> tuple[bool, str]:
        layout = model_layout(124)
        assert device.w_cha_max is not None
        pct_sf = device.scale["InOutWRte_SF"]
        pct = abs(target_w) / device.w_cha_max * 100.0
        if pct > 100.0 + 1e-9:
            raise DeviceAnswerError(
                f"reports WChaMax={device.w_cha_max:.0f} W, below the setpoint {target_w:.0f} W; "
                "check the asset's rating"
            )
        raw = round(pct / 10.0**pct_sf)
        mode = STORCTL_DISCHARGE if target_w > 0 else STORCTL_CHARGE if target_w < 0 else 0
        rates = {
            "OutWRte": raw if mode == STORCTL_DISCHARGE else 0,
            "InWRte": raw if mode == STORCTL_CHARGE else 0,
            "InOutWRte_WinTms": 0,
            "InOutWRte_RvrtTms": address.revert_timeout_s,
        }
        offset, registers = layout.block(rates)
        await _write(client, device.unit_id, device.start + offset, registers)
        mode_offset, mode_registers = layout.block({"StorCtl_Mod": mode})
        first = layout.point("WChaMax").offset
        last = layout.point("InOutWRte_RvrtTms")
        count = last.offset + last.size - first
        back = [0] * first + await self._write_read(
            client, address, device.start + mode_offset, mode_registers, device.start + first, count
        )
        held_mode = _point(layout, back, "StorCtl_Mod")
        out_pct = scaled(_point(layout, back, "OutWRte"), pct_sf)
        in_pct = scaled(_point(layout, back, "InWRte"), pct_sf)
        held_w = 0.0
        if held_mode & STORCTL_DISCHARGE:
            held_w += out_pct / 100.0 * device.w_cha_max
        if held_mode & STORCTL_CHARGE:
            held_w -= in_pct / 100.0 * device.w_cha_max
        tolerance = self.tolerance_w + 10.0**pct_sf / 100.0 * device.w_cha_max / 2
        ok = (
            held_mode == mode
            and abs(held_w - target_w) <= tolerance
            and _point(layout, back, "InOutWRte_RvrtTms") == address.revert_timeout_s
        )
        return ok, (
            f"{held_w:.0f} W (sent {target_w:.0f} W): StorCtl_Mod={held_mode}, "
            f"OutWRte={out_pct}%, InWRte={in_pct}%"
        )


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


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


def _wset_values(raw: int, revert_timeout_s: int) -> dict[str, int]:
    """The model 704 points written for a setpoint of ``raw`` (scaled) watts."""
    return {
        "WSetEna": ENABLED,
        "WSetMod": WSET_MOD_WATTS,
        "WSet": raw,
        "WSetRvrt": 0,
        "WSetPct": 0,
        "WSetPctRvrt": 0,
        "WSetEnaRvrt": ENABLED,
        "WSetRvrtTms": revert_timeout_s,
    }


@functools.cache
def _wset_block(revert_timeout_s: int) -> tuple[int, tuple[int, ...]]:
    """Offset and registers of the 704 write with ``WSet`` 0 (the caller encodes ``WSet``)."""
    offset, registers = model_layout(704).block(_wset_values(0, revert_timeout_s))
    return offset, tuple(registers)


def _pick(starts: Sequence[datetime], now: datetime, asset_id: str) -> int:
    """Index of the current interval among ``starts`` (see the module docstring)."""
    if len(set(starts)) != len(starts):
        raise InvalidInputError(
            f"asset {asset_id!r} has two setpoints for the same interval",
            hint="send one setpoint per asset and interval",
        )
    started = [k for k, t in enumerate(starts) if t <= now]
    if started:
        return max(started, key=starts.__getitem__)
    return min(range(len(starts)), key=starts.__getitem__)


def _point(layout: ModelLayout, block: Sequence[int], name: str) -> int:
    """Decode numeric point ``name`` from ``block``, the model's registers from its ID on."""
    p = layout.point(name)
    return int(p.decode(block[p.offset : p.offset + p.size]))


async def _read(client: AsyncModbusTcpClient, unit: int, address: int, count: int) -> list[int]:
    answer = await client.read_holding_registers(address, count=count, device_id=unit)
    if answer.isError():
        raise DeviceAnswerError(
            f"answered Modbus exception {getattr(answer, 'exception_code', '?')} "
            f"to reading {count} registers at {address}"
        )
    return list(answer.registers)


async def _write_read(
    client: AsyncModbusTcpClient,
    unit: int,
    write_address: int,
    registers: Sequence[int],
    read_address: int,
    count: int,
) -> list[int] | None:
    """Function 23: write, then read, in one request; ``None`` if the device lacks it."""
    answer = await client.readwrite_registers(
        read_address=read_address,
        read_count=count,
        write_address=write_address,
        values=list(registers),
        device_id=unit,
    )
    if answer.isError():
        code = getattr(answer, "exception_code", None)
        if code == ILLEGAL_FUNCTION:
            return None
        raise DeviceAnswerError(
            f"refused the write of {len(registers)} registers at {write_address} with read-back "
            f"(Modbus exception {code if code is not None else '?'})"
        )
    return list(answer.registers)


async def _write(
    client: AsyncModbusTcpClient, unit: int, address: int, registers: Sequence[int]
) -> None:
    answer = await client.write_registers(address, list(registers), device_id=unit)
    if answer.isError():
        raise DeviceAnswerError(
            f"refused the write of {len(registers)} registers at {address} "
            f"(Modbus exception {getattr(answer, 'exception_code', '?')})"
        )


def _run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on a fresh event loop, off-thread if one already runs here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()
