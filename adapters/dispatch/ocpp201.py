"""OCPP 2.0.1 dispatch: a small central system (CSMS) and a channel that caps EV chargers.

What
    :class:`Csms` is a websocket server speaking OCPP 2.0.1 (subprotocol ``ocpp2.0.1``) on its own
    asyncio loop in a background thread, so the synchronous service layer can use it. Charging
    stations connect to ``ws://host:port/<station_id>``; the CSMS answers ``BootNotification``
    (Accepted), ``Heartbeat`` and ``StatusNotification`` and keeps one session per station.
    :class:`OcppChannel` implements :class:`vpp.domain.ports.DispatchChannel` on top of it.

Why
    A charger in a park is flexible *load*: the VPP can only cap how much it draws. The
    market-rules reference (§5.4) has the VPP send a ``TxDefaultProfile`` or a
    ``ChargingStationMaxProfile`` whose 15-minute periods line up with the market intervals.

Translation (domain -> OCPP)
    * All setpoints of one asset in a ``send`` become **one** Absolute charging schedule:
      ``startSchedule`` = the first interval start (UTC), ``chargingRateUnit`` = ``W``,
      ``duration`` = last interval end - first interval start, one ``chargingSchedulePeriod`` per
      interval with ``startPeriod`` = seconds from ``startSchedule``; consecutive equal limits are
      merged into one period. The intervals of an asset must be contiguous (no gaps, no
      duplicates), because an OCPP period lasts until the next one starts.
    * ``limit`` is a charging cap >= 0 in W: ``limit = -power_mw * 1e6`` (a setpoint of
      -0.05 MW is a 50,000 W cap), rounded to the one decimal the schema allows. A positive
      (export) setpoint cannot be expressed by an OCPP 2.0.1 charging profile (discharge needs
      OCPP 2.1 V2X) and raises :class:`~vpp.domain.errors.InvalidInputError` before anything is
      sent.

Profile purposes and fall-back
    Each asset names its preferred purposes in order (default :data:`DEFAULT_PURPOSES`:
    ``TxDefaultProfile`` then ``ChargingStationMaxProfile``). When the station answers
    ``Rejected`` (or with a CALLERROR) the next purpose is tried. ``ChargingStationMaxProfile``
    is a station-wide limit and by the OCPP rules may only be set on ``evseId`` 0, so it is
    always sent with ``evseId=0``. ``TxProfile`` (needs a running transaction) and
    ``ChargingStationExternalConstraints`` (never set by a CSMS) are refused in the mapping.

Confirmation
    An asset is confirmed when its station *accepted* one of its purposes. A station that is not
    connected (or has not booted) is not confirmed at once; one that does not answer within the
    channel's ``timeout_s`` (a single budget for the whole ``send``) is not confirmed either. Every
    outcome is logged and kept in :attr:`OcppChannel.records` (purpose, profile id, status and
    each attempt), which callers read to see what each station holds.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import zlib
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Literal

from ocpp.exceptions import OCPPError
from ocpp.routing import on
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.datatypes import (
    ChargingProfileType,
    ChargingSchedulePeriodType,
    ChargingScheduleType,
)
from ocpp.v201.enums import (
    Action,
    ChargingProfileKindEnumType,
    ChargingProfileStatusEnumType,
    ChargingRateUnitEnumType,
    RegistrationStatusEnumType,
)
from ocpp.v201.enums import ChargingProfilePurposeEnumType as Purpose
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from vpp.domain.bids import Setpoint
from vpp.domain.errors import AdapterError, InvalidInputError

__all__ = [
    "DEFAULT_PURPOSES",
    "SUBPROTOCOL",
    "Csms",
    "OcppChannel",
    "OcppTarget",
    "ProfileRecord",
    "Purpose",
]

log = logging.getLogger("adapters.dispatch.ocpp201")

#: The websocket subprotocol a station must offer.
SUBPROTOCOL = "ocpp2.0.1"

#: Fall-back order when a mapping names none: a default profile for the EVSE's transactions
#: first, the station-wide maximum profile when the station rejects that.
DEFAULT_PURPOSES: tuple[Purpose, ...] = (
    Purpose.tx_default_profile,
    Purpose.charging_station_max_profile,
)

_SENDABLE = {Purpose.tx_default_profile, Purpose.charging_station_max_profile}
#: OCPP schedules hold at most this many periods (SetChargingProfileRequest schema).
MAX_PERIODS = 1024
#: Setpoints above this [MW] count as export; smaller values are rounding noise.
_EXPORT_TOLERANCE_MW = 1e-9

Outcome = Literal["Accepted", "Rejected", "NotConnected", "Timeout"]


# --------------------------------------------------------------------------- the central system


class _StationSession(ChargePoint):  # type: ignore[misc]
    """One connected charging station, as seen by the CSMS."""

    def __init__(self, station_id: str, connection: ServerConnection, heartbeat_s: int) -> None:
        super().__init__(station_id, connection, response_timeout=3600)
        self.heartbeat_s = heartbeat_s
        self.booted = False
        self.vendor: str | None = None
        self.model: str | None = None
        self.connector_status: dict[tuple[int, int], str] = {}
        self.last_seen: datetime | None = None

    def _seen(self) -> None:
        self.last_seen = datetime.now(UTC)

    @on(Action.boot_notification)  # type: ignore[untyped-decorator]
    def on_boot_notification(
        self, charging_station: dict[str, Any], reason: str, **_: Any
    ) -> call_result.BootNotification:
        """Accept every station that boots; remember vendor and model."""
        self._seen()
        self.booted = True
        self.vendor = charging_station.get("vendor_name")
        self.model = charging_station.get("model")
        log.info("station %s booted (%s, %s %s)", self.id, reason, self.vendor, self.model)
        return call_result.BootNotification(
            current_time=_iso(datetime.now(UTC)),
            interval=self.heartbeat_s,
            status=RegistrationStatusEnumType.accepted,
        )

    @on(Action.heartbeat)  # type: ignore[untyped-decorator]
    def on_heartbeat(self, **_: Any) -> call_result.Heartbeat:
        """Answer with the CSMS time."""
        self._seen()
        return call_result.Heartbeat(current_time=_iso(datetime.now(UTC)))

    @on(Action.status_notification)  # type: ignore[untyped-decorator]
    def on_status_notification(
        self, evse_id: int, connector_id: int, connector_status: str, **_: Any
    ) -> call_result.StatusNotification:
        """Record the connector's status."""
        self._seen()
        self.connector_status[(evse_id, connector_id)] = connector_status
        return call_result.StatusNotification()


class Csms:
    """An OCPP 2.0.1 central system on a background asyncio loop.

    ``port=0`` picks a free port (read :attr:`port` after :meth:`start`). ``heartbeat_s`` is the
    interval stations are told in the boot answer. Use as a context manager or call
    :meth:`start` and :meth:`stop`.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, heartbeat_s: int = 300) -> None:
        self.host = host
        self._requested_port = port
        self.heartbeat_s = heartbeat_s
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._sessions: dict[str, _StationSession] = {}

    # lifecycle -----------------------------------------------------------------------------

    def start(self, timeout_s: float = 10.0) -> Csms:
        """Start the server thread and wait until it listens."""
        if self._thread is not None:
            return self
        self._ready.clear()
        self._thread = threading.Thread(target=self._run, name="ocpp-csms", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise AdapterError(
                f"OCPP CSMS did not start listening on {self.host} within {timeout_s} s",
                hint="check the host address",
            )
        if self._start_error is not None:
            self._thread.join()
            self._thread = None
            error = self._start_error
            raise AdapterError(
                f"OCPP CSMS cannot listen on {self.host}:{self._requested_port}: {error}",
                hint="choose another port, or port=0 for a free one",
            ) from error
        return self

    def stop(self) -> None:
        """Close every station connection, stop the loop and join the thread."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None:
            return
        if loop is not None and stopping is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stopping.set)
        thread.join()
        self._thread = None
        self._loop = None
        self._port = None
        self._sessions.clear()

    def __enter__(self) -> Csms:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port the server listens on (after :meth:`start`)."""
        if self._port is None:
            raise AdapterError("OCPP CSMS is not running", hint="call start() first")
        return self._port

    @property
    def url(self) -> str:
        """Base websocket URL; a station connects to ``{url}/{station_id}``."""
        return f"ws://{self.host}:{self.port}"

    # stations ------------------------------------------------------------------------------

    def stations(self) -> set[str]:
        """Ids of the stations connected and booted right now."""
        return {sid for sid, s in list(self._sessions.items()) if s.booted}

    def is_connected(self, station_id: str) -> bool:
        """Whether ``station_id`` is connected and has booted."""
        session = self._sessions.get(station_id)
        return session is not None and session.booted

    def wait_for_station(self, station_id: str, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for ``station_id`` to connect and boot."""
        deadline = time.monotonic() + timeout_s
        while not self.is_connected(station_id):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def set_charging_profile(
        self, station_id: str, evse_id: int, profile: ChargingProfileType, timeout_s: float
    ) -> str | None:
        """Send one SetChargingProfile and wait for the answer (thread-safe, blocking).

        Returns the station's status (``Accepted``/``Rejected``), or ``None`` when the station
        is not connected or does not answer within ``timeout_s``. A CALLERROR counts as
        ``Rejected``.
        """
        future = self.submit(self.request_profile(station_id, evse_id, profile, timeout_s))
        status: str | None = future.result(timeout_s + 5.0)
        return status

    def submit(self, coroutine: Any) -> Future[Any]:
        """Run ``coroutine`` on the CSMS loop; return a concurrent future for its result."""
        loop = self._loop
        if loop is None or self._thread is None:
            coroutine.close()
            raise AdapterError("OCPP CSMS is not running", hint="call start() first")
        return asyncio.run_coroutine_threadsafe(coroutine, loop)

    # loop side -----------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as error:  # reported to start() through _start_error
            if not self._ready.is_set():
                self._start_error = error
                self._ready.set()
            else:
                log.exception("OCPP CSMS loop failed")

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        server: Server = await serve(
            self._handle,
            self.host,
            self._requested_port,
            subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
        )
        try:
            self._port = int(next(iter(server.sockets)).getsockname()[1])
            self._ready.set()
            await self._stopping.wait()
        finally:
            server.close()
            await server.wait_closed()

    async def _handle(self, connection: ServerConnection) -> None:
        if connection.subprotocol != SUBPROTOCOL:
            log.warning("refusing a connection without subprotocol %s", SUBPROTOCOL)
            await connection.close(1002, f"subprotocol {SUBPROTOCOL} required")
            return
        path = connection.request.path if connection.request is not None else "/"
        station_id = path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        if not station_id:
            await connection.close(1008, "station id missing from the path")
            return
        session = _StationSession(station_id, connection, self.heartbeat_s)
        previous = self._sessions.get(station_id)
        self._sessions[station_id] = session
        if previous is not None:
            log.warning("station %s reconnected; closing its previous connection", station_id)
            await previous._connection.close()
        log.info("station %s connected", station_id)
        try:
            await session.start()
        except ConnectionClosed:
            pass
        finally:
            if self._sessions.get(station_id) is session:
                del self._sessions[station_id]
            log.info("station %s disconnected", station_id)

    async def request_profile(
        self, station_id: str, evse_id: int, profile: ChargingProfileType, timeout_s: float
    ) -> str | None:
        """The coroutine behind :meth:`set_charging_profile`; await it on the CSMS loop only."""
        session = self._sessions.get(station_id)
        if session is None or not session.booted:
            return None
        request = call.SetChargingProfile(evse_id=evse_id, charging_profile=profile)
        try:
            async with asyncio.timeout(timeout_s):
                answer = await session.call(request, suppress=False)
        except TimeoutError:
            return None
        except ConnectionClosed:
            return None
        except OCPPError as error:
            log.warning("SetChargingProfile to station %s failed: %r", station_id, error)
            return str(ChargingProfileStatusEnumType.rejected)
        return str(answer.status)


# --------------------------------------------------------------------------- the channel


@dataclass(frozen=True)
class OcppTarget:
    """Where an asset's setpoints go: a station, an EVSE and the purposes to try, in order."""

    station_id: str
    evse_id: int = 1
    purposes: tuple[Purpose, ...] = DEFAULT_PURPOSES
    #: Profile id on the station; the same id replaces the asset's previous profile. ``None``
    #: derives a stable id from the asset id.
    profile_id: int | None = None
    stack_level: int = 1

    def __post_init__(self) -> None:
        if self.evse_id < 0:
            raise InvalidInputError(f"evse_id {self.evse_id} < 0", hint="0 is the whole station")
        if not self.purposes:
            raise InvalidInputError("no charging profile purpose given", hint=_purpose_hint())
        purposes = tuple(Purpose(p) for p in self.purposes)
        bad = [str(p) for p in purposes if p not in _SENDABLE]
        if bad:
            raise InvalidInputError(
                f"charging profile purpose {', '.join(bad)} cannot carry a VPP schedule",
                hint=_purpose_hint(),
            )
        object.__setattr__(self, "purposes", purposes)


@dataclass(frozen=True)
class ProfileRecord:
    """What one asset's station did with the last schedule sent to it."""

    asset_id: str
    station_id: str
    status: Outcome
    #: The purpose the station accepted; ``None`` when none was accepted.
    purpose: Purpose | None
    profile_id: int
    evse_id: int | None
    start_schedule: datetime
    periods: int
    #: Every purpose tried and the answer: ``Accepted``, ``Rejected`` or ``Timeout``.
    attempts: tuple[tuple[Purpose, str], ...] = field(default=())
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class _Plan:
    asset_id: str
    target: OcppTarget
    profile_id: int
    start: datetime
    duration_s: int
    periods: list[ChargingSchedulePeriodType]


class OcppChannel:
    """Sends each charger's day as one Absolute charging schedule through a :class:`Csms`.

    ``targets`` maps asset id -> :class:`OcppTarget`. ``interval_minutes`` is the length of one
    setpoint interval (the market's). ``timeout_s`` bounds a whole :meth:`send`: stations that
    have not answered by then are not confirmed.
    """

    def __init__(
        self,
        csms: Csms,
        targets: Mapping[str, OcppTarget],
        *,
        interval_minutes: int = 15,
        timeout_s: float = 10.0,
    ) -> None:
        if interval_minutes <= 0:
            raise InvalidInputError(f"interval_minutes {interval_minutes} <= 0")
        self.csms = csms
        self.targets = dict(targets)
        self.interval = timedelta(minutes=interval_minutes)
        self.timeout_s = timeout_s
        #: Asset id -> the outcome of the last schedule sent to it.
        self.records: dict[str, ProfileRecord] = {}

    def send(self, setpoints: Sequence[Setpoint]) -> Sequence[str]:
        """Send ``setpoints``; return the ids of the assets whose station accepted a profile.

        Raises :class:`~vpp.domain.errors.InvalidInputError` (nothing sent) for export
        setpoints, gaps or duplicates; unmapped assets are logged and not confirmed.
        """
        plans = self._plans(setpoints)
        if not plans:
            return []
        future = self.csms.submit(self._send_all(plans))
        try:
            records: list[ProfileRecord] = future.result(self.timeout_s + 5.0)
        except TimeoutError as error:  # the loop itself is stuck: nothing can be confirmed
            future.cancel()
            raise AdapterError(
                "the OCPP CSMS loop did not finish a send", hint="restart the CSMS"
            ) from error
        for record in records:
            self.records[record.asset_id] = record
        return sorted(r.asset_id for r in records if r.status == "Accepted")

    # building ------------------------------------------------------------------------------

    def _plans(self, setpoints: Sequence[Setpoint]) -> list[_Plan]:
        by_asset: dict[str, list[Setpoint]] = {}
        for s in setpoints:
            by_asset.setdefault(s.asset_id, []).append(s)
        plans: list[_Plan] = []
        for asset_id, rows in by_asset.items():
            target = self.targets.get(asset_id)
            if target is None:
                log.warning("asset %s has no OCPP station mapping; not confirmed", asset_id)
                continue
            plans.append(self._plan(asset_id, target, rows))
        return plans

    def _plan(self, asset_id: str, target: OcppTarget, rows: list[Setpoint]) -> _Plan:
        rows = sorted(rows, key=lambda s: s.interval_start)
        start = rows[0].interval_start.astimezone(UTC)
        step_s = int(self.interval.total_seconds())
        periods: list[ChargingSchedulePeriodType] = []
        for k, s in enumerate(rows):
            offset = (s.interval_start - start).total_seconds()
            if offset != k * step_s:
                raise InvalidInputError(
                    f"setpoints of charger {asset_id} are not contiguous "
                    f"{self.interval} intervals at {_iso(s.interval_start)}",
                    hint="send one setpoint per interval, without gaps or duplicates",
                )
            if s.power_mw > _EXPORT_TOLERANCE_MW:
                raise InvalidInputError(
                    f"charger {asset_id} cannot export {s.power_mw} MW at "
                    f"{_iso(s.interval_start)}: an OCPP 2.0.1 charging profile only caps "
                    "charging",
                    hint="dispatch chargers with power_mw <= 0 (a charging cap)",
                )
            limit = round(max(0.0, -s.power_mw) * 1e6, 1) + 0.0
            if periods and periods[-1].limit == limit:
                continue
            periods.append(ChargingSchedulePeriodType(start_period=int(offset), limit=limit))
        if len(periods) > MAX_PERIODS:
            raise InvalidInputError(
                f"charger {asset_id}: {len(periods)} schedule periods, OCPP allows {MAX_PERIODS}",
                hint="send fewer days at once",
            )
        profile_id = target.profile_id
        if profile_id is None:
            profile_id = zlib.crc32(asset_id.encode()) & 0x7FFFFFFF or 1
        return _Plan(asset_id, target, profile_id, start, len(rows) * step_s, periods)

    @staticmethod
    def profile(plan: _Plan, purpose: Purpose) -> ChargingProfileType:
        """The ChargingProfile for ``plan`` with ``purpose``."""
        schedule = ChargingScheduleType(
            id=plan.profile_id,
            charging_rate_unit=ChargingRateUnitEnumType.watts,
            charging_schedule_period=plan.periods,
            start_schedule=_iso(plan.start),
            duration=plan.duration_s,
        )
        return ChargingProfileType(
            id=plan.profile_id,
            stack_level=plan.target.stack_level,
            charging_profile_purpose=purpose,
            charging_profile_kind=ChargingProfileKindEnumType.absolute,
            charging_schedule=[schedule],
        )

    # sending (on the CSMS loop) -------------------------------------------------------------

    async def _send_all(self, plans: Iterable[_Plan]) -> list[ProfileRecord]:
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        return list(await asyncio.gather(*(self._send_one(p, deadline) for p in plans)))

    async def _send_one(self, plan: _Plan, deadline: float) -> ProfileRecord:
        target, loop = plan.target, asyncio.get_running_loop()
        attempts: list[tuple[Purpose, str]] = []
        status: Outcome = "Rejected"
        accepted: Purpose | None = None
        evse_used: int | None = None
        if not self.csms.is_connected(target.station_id):
            status = "NotConnected"
            log.warning("asset %s: station %s is not connected", plan.asset_id, target.station_id)
        for purpose in target.purposes if status == "Rejected" else ():
            evse_id = 0 if purpose == Purpose.charging_station_max_profile else target.evse_id
            left = deadline - loop.time()
            answer = None
            if left > 0:
                profile = self.profile(plan, purpose)
                answer = await self.csms.request_profile(target.station_id, evse_id, profile, left)
            if answer is None:
                connected = self.csms.is_connected(target.station_id)
                status = "Timeout" if connected else "NotConnected"
                attempts.append((purpose, status))
                log.warning(
                    "asset %s: no answer from station %s to SetChargingProfile (%s): %s",
                    plan.asset_id,
                    target.station_id,
                    purpose,
                    status,
                )
                break
            attempts.append((purpose, answer))
            if answer == ChargingProfileStatusEnumType.accepted:
                status, accepted, evse_used = "Accepted", purpose, evse_id
                log.info(
                    "asset %s: station %s accepted %s (profile %d, %d periods)",
                    plan.asset_id,
                    target.station_id,
                    purpose,
                    plan.profile_id,
                    len(plan.periods),
                )
                break
            log.info("asset %s: station %s rejected %s", plan.asset_id, target.station_id, purpose)
        return ProfileRecord(
            asset_id=plan.asset_id,
            station_id=target.station_id,
            status=status,
            purpose=accepted,
            profile_id=plan.profile_id,
            evse_id=evse_used,
            start_schedule=plan.start,
            periods=len(plan.periods),
            attempts=tuple(attempts),
        )


def _iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _purpose_hint() -> str:
    return "use " + " or ".join(str(p) for p in DEFAULT_PURPOSES)
