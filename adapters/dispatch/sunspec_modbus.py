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

The register layout and its encoding live in :mod:`adapters.dispatch.sunspec_registers`, the
device addresses and the setpoint checks in :mod:`adapters.dispatch.sunspec_devices`; their
public names are importable from here too. The Modbus requests (``_read``, ``_write``,
``_write_read``) are defined in :mod:`adapters.dispatch.sunspec_requests` and called as globals
of this module: the dispatch benchmark times them by replacing these module attributes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import logging
import math
import operator
from collections import defaultdict
from collections.abc import Coroutine, Mapping, Sequence
from types import MappingProxyType
from typing import Any, TypeVar

import pandas as pd
import sunspec2.mb as sunspec_mb
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from adapters.dispatch.sunspec_devices import (
    ControlModel,
    DiscoveredDevice,
    SunSpecAddress,
    _check_rating,
    _pick,
)
from adapters.dispatch.sunspec_registers import (
    ENABLED,
    END_MODEL_ID,
    MAX_MODELS,
    STANDARD_BASE_ADDRESS,
    STORCTL_CHARGE,
    STORCTL_DISCHARGE,
    SUNS_MARKER,
    WSET_MOD_WATTS,
    ModelLayout,
    PointLayout,
    _point,
    _wset_block,
    _wset_values,
    model_layout,
    scaled,
)
from adapters.dispatch.sunspec_requests import (
    ILLEGAL_FUNCTION,
    DeviceAnswerError,
    _read,
    _write,
    _write_read,
)
from vpp.domain.bids import Setpoint
from vpp.domain.errors import InvalidInputError, NotFoundError
from vpp.domain.ports import Clock, SystemClock

__all__ = [
    "ENABLED",
    "END_MODEL_ID",
    "ILLEGAL_FUNCTION",
    "MAX_MODELS",
    "STANDARD_BASE_ADDRESS",
    "STORCTL_CHARGE",
    "STORCTL_DISCHARGE",
    "SUNS_MARKER",
    "WSET_MOD_WATTS",
    "ControlModel",
    "DeviceAnswerError",
    "DiscoveredDevice",
    "ModelLayout",
    "PointLayout",
    "SunSpecAddress",
    "SunSpecModbusChannel",
    "model_layout",
    "scaled",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

_POWER = operator.attrgetter("power_mw")
_START = operator.attrgetter("interval_start")
_ASSET = operator.attrgetter("asset_id")


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


def _run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on a fresh event loop, off-thread if one already runs here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()
