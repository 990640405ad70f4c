"""A SunSpec device simulator on pymodbus' Modbus TCP server, for tests and benchmarks.

A :class:`SunSpecServer` listens on one TCP port (``port=0`` picks a free one, read it back from
:attr:`SunSpecServer.port`) and hosts many simulated devices under different unit ids, like a
Modbus gateway in front of an RS-485 bus. Each :class:`SimulatedDevice` holds a real SunSpec
register map laid out from pysunspec2's model definitions: the "SunS" marker at the base address
(40000 unless configured), model 1 (common), one control model, and the 0xFFFF end marker. The
control model is 704 (DER AC Controls) or, for a legacy storage device, 124 (Storage).

Behaviour modelled:

* Model 704: the device holds ``WSet`` watts (scaled by ``WSet_SF``) while ``WSetEna`` is
  ENABLED and ``WSetMod`` is WATTS, ``WSetPct`` percent of its rating in W_MAX_PCT mode, and 0 W
  when disabled. Model 124: it holds ``OutWRte`` percent of ``WChaMax`` (discharge) when the
  DISCHARGE bit of ``StorCtl_Mod`` is set and minus ``InWRte`` percent when the CHARGE bit is
  set; 0 W otherwise. Model 124 has one rating for both directions.
* Writes outside the device's ratings answer ILLEGAL_VALUE and change nothing; writes to
  read-only points or outside the map answer ILLEGAL_ADDRESS.
* Reversion: every write to the active-power points (re)starts the timer ``WSetRvrtTms``
  (704) or ``InOutWRte_RvrtTms`` (124). When it runs out without a new write the device takes
  ``WSetEnaRvrt``/``WSetRvrt``/``WSetPctRvrt`` (704) or goes back to holding 0 W with both rates
  at 0 (124), so a device falls back when the VPP goes quiet. The timer is evaluated lazily on
  every access (``WSetRvrtRem`` counts down), so 10,000 devices cost no timers or tasks.
* ``silent=True``: the device never answers (a dead device behind a live gateway); requests time
  out on the client side.
* Quirk ``unit_id_offset``: the device answers at ``unit_id + unit_id_offset`` instead of the
  unit id it was commissioned with, as happens behind RS-485/TCP gateways that shift bus
  addresses by one. Nothing answers at the commissioned unit id.
* ``base_address``: where "SunS" sits (SunSpec allows 0, 40000 and 50000; some devices use 40001).

Unit ids that no device answers at get no response at all (pymodbus' ``ignore_missing_devices``):
the server installs its own datastore, because pymodbus' simulator datastore answers unknown unit
ids with a device-failure exception instead. A real gateway would behave either way; silence is
the harder case for the channel.

:class:`SimulatorThread` runs any number of servers on a private event loop in a daemon thread,
for synchronous tests and benchmarks; :func:`spread_over_servers` splits a large fleet (up to 247
unit ids per port) over several servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from adapters.dispatch.sunspec_modbus import (
    END_MODEL_ID,
    STANDARD_BASE_ADDRESS,
    STORCTL_CHARGE,
    STORCTL_DISCHARGE,
    SUNS_MARKER,
    ModelLayout,
    model_layout,
    scaled,
)

#: Function codes addressing holding registers (read, write single, write multiple, mask, r/w).
HOLDING_FUNCTION_CODES = frozenset({3, 6, 16, 22, 23})
#: Highest unit id a Modbus device can have.
MAX_UNIT_ID = 247

#: Points whose write (re)starts the reversion timer, per control model.
_REVERT_TRIGGERS = {
    704: ("WSetEna", "WSetMod", "WSet", "WSetPct", "WSetRvrtTms"),
    124: ("StorCtl_Mod", "InWRte", "OutWRte", "InOutWRte_RvrtTms"),
}


@dataclass(frozen=True)
class SimulatedDeviceConfig:
    """One simulated device: where it answers, what it is and how it misbehaves.

    ``rated_w`` is the export/discharge rating; ``max_charge_w`` the charge rating (defaults
    to ``rated_w``; model 124 uses ``rated_w`` for both). ``w_sf`` is the watt scale factor
    (``WSet_SF`` or ``WChaMax_SF``; by default 0 for 704 and the smallest that fits
    ``WChaMax`` in 16 bits for 124); ``pct_sf`` the percentage scale factor (``WSetPct_SF`` or
    ``InOutWRte_SF``).
    """

    unit_id: int
    model: Literal[704, 124] = 704
    rated_w: float = 100_000.0
    max_charge_w: float | None = None
    w_sf: int | None = None
    pct_sf: int = -2
    base_address: int = STANDARD_BASE_ADDRESS
    unit_id_offset: int = 0
    silent: bool = False
    serial: str | None = None

    def __post_init__(self) -> None:
        if self.model not in (704, 124):
            raise ValueError(f"model {self.model} is not 704 or 124")
        if not 1 <= self.wire_unit_id <= MAX_UNIT_ID:
            raise ValueError(f"unit id {self.wire_unit_id} is outside 1..{MAX_UNIT_ID}")
        if not self.rated_w > 0 or (self.max_charge_w is not None and self.max_charge_w < 0):
            raise ValueError("ratings must be positive watts")

    @property
    def wire_unit_id(self) -> int:
        """The unit id the device really answers at."""
        return self.unit_id + self.unit_id_offset

    @property
    def charge_limit_w(self) -> float:
        """The largest charging power the device accepts [W]."""
        if self.model == 124 or self.max_charge_w is None:
            return self.rated_w
        return self.max_charge_w

    @property
    def watt_sf(self) -> int:
        """The watt scale factor the device reports."""
        if self.w_sf is not None:
            return self.w_sf
        if self.model == 704:
            return 0
        return max(0, math.ceil(math.log10(self.rated_w / 65534)))


class SimulatedDevice:
    """The register map and behaviour of one device (see the module docstring)."""

    def __init__(
        self, config: SimulatedDeviceConfig, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config
        self.clock = clock
        self.base = config.base_address
        self.control: ModelLayout = model_layout(config.model)
        #: First and last register offset (in the control model) of each timer-restarting point.
        self._triggers = [
            (p.offset, p.offset + p.size - 1)
            for p in map(self.control.point, _REVERT_TRIGGERS[config.model])
        ]
        self.common: ModelLayout = model_layout(1)
        self._lock = threading.Lock()
        self._deadline: float | None = None
        #: Accepted writes so far (tests and benchmarks read it).
        self.writes = 0
        self._reversions = 0
        registers: list[int] = list(SUNS_MARKER)
        writable: list[bool] = [False, False]
        self.common_start = self.base + len(registers)
        self._append_model(self.common, registers, writable)
        self.control_start = self.base + len(registers)
        self._append_model(self.control, registers, writable)
        registers += [END_MODEL_ID, 0]
        writable += [False, False]
        self.registers = registers
        self.writable = writable
        self._fill()

    # -- building ---------------------------------------------------------------------------

    @staticmethod
    def _append_model(layout: ModelLayout, registers: list[int], writable: list[bool]) -> None:
        for p in sorted(layout.points.values(), key=lambda p: p.offset):
            registers.extend(p.unimplemented())
            writable.extend([p.access == "RW"] * p.size)
        id_at = len(registers) - layout.size
        registers[id_at] = layout.model_id
        registers[id_at + 1] = layout.length

    def _set(self, layout: ModelLayout, start: int, name: str, value: int | str) -> None:
        p = layout.point(name)
        at = start - self.base + p.offset
        self.registers[at : at + p.size] = p.encode(value)

    def _get(self, layout: ModelLayout, start: int, name: str) -> int:
        p = layout.point(name)
        at = start - self.base + p.offset
        value = p.decode(self.registers[at : at + p.size])
        return int(value)

    def _fill(self) -> None:
        c = self.config
        common: dict[str, int | str] = {
            "Mn": "parkvpp",
            "Md": f"sim-storage-{c.model}",
            "Opt": "simulator",
            "Vr": "1.0",
            "SN": c.serial or f"SIM-{c.model}-{c.unit_id}",
            "DA": c.wire_unit_id,
            "Pad": 0,
        }
        for name, value in common.items():
            self._set(self.common, self.common_start, name, value)
        if c.model == 704:
            values: dict[str, int] = {
                "WSetEna": 0,
                "WSetMod": 1,
                "WSet": 0,
                "WSetRvrt": 0,
                "WSetPct": 0,
                "WSetPctRvrt": 0,
                "WSetEnaRvrt": 0,
                "WSetRvrtTms": 0,
                "WSetRvrtRem": 0,
                "WSet_SF": c.watt_sf,
                "WSetPct_SF": c.pct_sf,
            }
        else:
            w_cha_max = round(c.rated_w / 10.0**c.watt_sf)
            if not 0 < w_cha_max <= 0xFFFE:
                raise ValueError(f"rated_w {c.rated_w} does not fit WChaMax with w_sf {c.w_sf}")
            values = {
                "WChaMax": w_cha_max,
                "StorCtl_Mod": 0,
                "ChaState": 50,
                "ChaSt": 6,  # HOLDING
                "OutWRte": 0,
                "InWRte": 0,
                "InOutWRte_WinTms": 0,
                "InOutWRte_RvrtTms": 0,
                "InOutWRte_RmpTms": 0,
                "WChaMax_SF": c.watt_sf,
                "ChaState_SF": 0,
                "InOutWRte_SF": c.pct_sf,
            }
        for name, value in values.items():
            self._set(self.control, self.control_start, name, value)

    # -- state seen from outside --------------------------------------------------------------

    def point(self, name: str) -> int:
        """The raw (unscaled) value of control-model point ``name`` now."""
        with self._lock:
            self._tick()
            return self._get(self.control, self.control_start, name)

    @property
    def reversions(self) -> int:
        """How many times the reversion timer ran out so far (evaluated now)."""
        with self._lock:
            self._tick()
            return self._reversions

    @property
    def held_w(self) -> float:
        """The active power the device holds now [W, > 0 discharge/export, < 0 charge]."""
        with self._lock:
            self._tick()
            return self._held_w()

    def _held_w(self) -> float:
        get = self.point_unlocked
        if self.config.model == 704:
            if get("WSetEna") != 1:
                return 0.0
            if get("WSetMod") == 1:
                return scaled(get("WSet"), get("WSet_SF"))
            return scaled(get("WSetPct"), get("WSetPct_SF")) / 100.0 * self.config.rated_w
        w_cha_max = scaled(get("WChaMax"), get("WChaMax_SF"))
        mode, sf = get("StorCtl_Mod"), get("InOutWRte_SF")
        held = 0.0
        if mode & STORCTL_DISCHARGE:
            held += scaled(get("OutWRte"), sf) / 100.0 * w_cha_max
        if mode & STORCTL_CHARGE:
            held -= scaled(get("InWRte"), sf) / 100.0 * w_cha_max
        return held

    def point_unlocked(self, name: str) -> int:
        """Like :meth:`point`, for callers already holding the device's lock."""
        return self._get(self.control, self.control_start, name)

    # -- reversion ---------------------------------------------------------------------------

    def _tick(self) -> None:
        """Apply the reversion if its timer ran out; refresh the remaining-time register."""
        if self._deadline is None:
            return
        now = self.clock()
        if now < self._deadline:
            if self.config.model == 704:
                remaining = math.ceil(self._deadline - now)
                self._set(self.control, self.control_start, "WSetRvrtRem", remaining)
            return
        self._deadline = None
        self._reversions += 1
        put = self._set
        layout, start = self.control, self.control_start
        if self.config.model == 704:
            put(layout, start, "WSetEna", self.point_unlocked("WSetEnaRvrt"))
            put(layout, start, "WSet", self.point_unlocked("WSetRvrt"))
            put(layout, start, "WSetPct", self.point_unlocked("WSetPctRvrt"))
            put(layout, start, "WSetRvrtRem", 0)
        else:
            put(layout, start, "StorCtl_Mod", 0)
            put(layout, start, "OutWRte", 0)
            put(layout, start, "InWRte", 0)
            put(layout, start, "ChaSt", 6)

    def _restart_timer(self) -> None:
        name = "WSetRvrtTms" if self.config.model == 704 else "InOutWRte_RvrtTms"
        seconds = self.point_unlocked(name)
        self._deadline = self.clock() + seconds if seconds > 0 else None
        if self.config.model == 704:
            self._set(self.control, self.control_start, "WSetRvrtRem", seconds)

    # -- Modbus access -----------------------------------------------------------------------

    def read(self, address: int, count: int) -> list[int] | ExcCodes:
        """Registers ``address .. address+count-1``, or the Modbus exception to answer."""
        at = address - self.base
        if count < 1 or at < 0 or at + count > len(self.registers):
            return ExcCodes.ILLEGAL_ADDRESS
        with self._lock:
            self._tick()
            return self.registers[at : at + count]

    def write(self, address: int, values: Sequence[int]) -> ExcCodes | None:
        """Write ``values`` from ``address``; all or nothing. Returns the exception, if any."""
        at = address - self.base
        if not values or at < 0 or at + len(values) > len(self.registers):
            return ExcCodes.ILLEGAL_ADDRESS
        if not all(self.writable[at : at + len(values)]):
            return ExcCodes.ILLEGAL_ADDRESS
        with self._lock:
            self._tick()
            before = self.registers[at : at + len(values)]
            self.registers[at : at + len(values)] = list(values)
            if not self._valid():
                self.registers[at : at + len(values)] = before
                return ExcCodes.ILLEGAL_VALUE
            self.writes += 1
            first = at - (self.control_start - self.base)
            last = first + len(values) - 1
            if any(start <= last and end >= first for start, end in self._triggers):
                self._restart_timer()
            if self.config.model == 124:
                self._set(self.control, self.control_start, "ChaSt", self._charge_status())
        return None

    def _charge_status(self) -> int:
        held = self._held_w()
        return 3 if held > 0 else 4 if held < 0 else 6  # DISCHARGING / CHARGING / HOLDING

    def _valid(self) -> bool:
        """Whether the control points, as written, are values the device accepts."""
        get = self.point_unlocked
        c = self.config
        if c.model == 704:
            w_sf, pct_sf = get("WSet_SF"), get("WSetPct_SF")
            watts = [scaled(get(n), w_sf) for n in ("WSet", "WSetRvrt")]
            pcts = [scaled(get(n), pct_sf) for n in ("WSetPct", "WSetPctRvrt")]
            return (
                get("WSetEna") in (0, 1)
                and get("WSetEnaRvrt") in (0, 1)
                and get("WSetMod") in (0, 1)
                and all(-c.charge_limit_w <= w <= c.rated_w for w in watts)
                and all(-100.0 <= p <= 100.0 for p in pcts)
            )
        sf = get("InOutWRte_SF")
        rates = [scaled(get(n), sf) for n in ("OutWRte", "InWRte")]
        w_cha_max = scaled(get("WChaMax"), get("WChaMax_SF"))
        return (
            0 <= get("StorCtl_Mod") <= STORCTL_CHARGE | STORCTL_DISCHARGE
            and all(-100.0 <= r <= 100.0 for r in rates)
            and 0 < w_cha_max <= c.rated_w
        )


class _UnitTable:
    """The pymodbus datastore interface over a server's devices, keyed by wire unit id.

    Unknown and silent unit ids raise :class:`NoSuchIdException`, which the server (with
    ``ignore_missing_devices``) answers with silence.
    """

    def __init__(self, devices: dict[int, SimulatedDevice]) -> None:
        self.devices = devices

    def device_ids(self) -> list[int]:
        return [u for u, d in self.devices.items() if not d.config.silent]

    def _device(self, device_id: int) -> SimulatedDevice:
        device = self.devices.get(device_id)
        if device is None or device.config.silent:
            raise NoSuchIdException(f"no device answers at unit id {device_id}")
        return device

    async def async_getValues(
        self, device_id: int, func_code: int, address: int, count: int = 1
    ) -> list[int] | ExcCodes:
        device = self._device(device_id)
        if func_code not in HOLDING_FUNCTION_CODES:
            return ExcCodes.ILLEGAL_FUNCTION
        return device.read(address, count)

    async def async_setValues(
        self, device_id: int, func_code: int, address: int, values: Sequence[int]
    ) -> ExcCodes | None:
        device = self._device(device_id)
        if func_code not in HOLDING_FUNCTION_CODES:
            return ExcCodes.ILLEGAL_FUNCTION
        return device.write(address, [int(v) for v in values])


class SunSpecServer:
    """Simulated SunSpec devices behind one Modbus TCP port (start it on a running loop)."""

    def __init__(
        self,
        devices: Iterable[SimulatedDeviceConfig],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self._server: ModbusTcpServer | None = None
        self.devices: dict[int, SimulatedDevice] = {}
        by_wire: dict[int, SimulatedDevice] = {}
        for config in devices:
            if config.unit_id in self.devices or config.wire_unit_id in by_wire:
                raise ValueError(f"unit id {config.unit_id} is used twice on one server")
            device = SimulatedDevice(config, clock)
            self.devices[config.unit_id] = device
            by_wire[config.wire_unit_id] = device
        self._table = _UnitTable(by_wire)

    @property
    def port(self) -> int:
        """The TCP port the server listens on (known once started)."""
        if self._port is None:
            raise RuntimeError("the server is not started")
        return self._port

    def device(self, unit_id: int) -> SimulatedDevice:
        """The device commissioned with ``unit_id`` (whatever unit id it really answers at)."""
        return self.devices[unit_id]

    async def start(self) -> int:
        """Listen on ``host:port`` on the running loop; return the bound port."""
        if self._server is not None:
            raise RuntimeError("the server is already started")
        # pymodbus needs a datastore to construct the server; the placeholder is replaced by our
        # unit table before any connection is accepted.
        placeholder = SimDevice(0, simdata=SimData(0, values=0, datatype=DataType.REGISTERS))
        server = ModbusTcpServer(
            placeholder, address=(self.host, self._requested_port), ignore_missing_devices=True
        )
        server.context = cast(Any, self._table)  # duck-typed datastore, see the module doc
        await server.serve_forever(background=True)
        listener = cast("asyncio.Server", server.transport)
        self._port = int(listener.sockets[0].getsockname()[1])
        self._server = server
        return self._port

    async def stop(self) -> None:
        """Stop listening and drop every connection."""
        server, self._server = self._server, None
        if server is not None:
            await server.shutdown()  # type: ignore[no-untyped-call]
            await asyncio.sleep(0)


class SimulatorThread:
    """Runs SunSpec servers on a private event loop in a daemon thread.

    Use it as a context manager (``with SimulatorThread(servers): ...``) or call
    :meth:`start` and :meth:`stop`. The servers' ports are known once :meth:`start` returns.
    """

    def __init__(self, servers: Sequence[SunSpecServer], *, start_timeout_s: float = 10.0) -> None:
        self.servers = list(servers)
        self.start_timeout_s = start_timeout_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> SimulatorThread:
        """Start the loop thread and every server on it."""
        if self._thread is not None:
            raise RuntimeError("the simulator thread is already started")
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(
            target=self._run, args=(loop,), name="sunspec-simulator", daemon=True
        )
        self._thread.start()
        try:
            for server in self.servers:
                future = asyncio.run_coroutine_threadsafe(server.start(), loop)
                future.result(timeout=self.start_timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every server, then the loop and its thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            for server in self.servers:
                with contextlib.suppress(RuntimeError, TimeoutError):
                    future = asyncio.run_coroutine_threadsafe(server.stop(), loop)
                    future.result(timeout=self.start_timeout_s)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=self.start_timeout_s)
            self._loop = self._thread = None

    @staticmethod
    def _run(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def __enter__(self) -> SimulatorThread:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def spread_over_servers(
    devices: Iterable[SimulatedDeviceConfig],
    *,
    per_server: int = MAX_UNIT_ID,
    host: str = "127.0.0.1",
    clock: Callable[[], float] = time.monotonic,
) -> list[SunSpecServer]:
    """Servers (each on a free port) hosting ``devices``, ``per_server`` configs each.

    The configs' unit ids must be unique within each chunk of ``per_server``; for a large
    fleet number them ``1 + i % per_server``.
    """
    if not 1 <= per_server <= MAX_UNIT_ID:
        raise ValueError(f"per_server must be within 1..{MAX_UNIT_ID}")
    configs = list(devices)
    return [
        SunSpecServer(configs[i : i + per_server], host=host, clock=clock)
        for i in range(0, len(configs), per_server)
    ]
