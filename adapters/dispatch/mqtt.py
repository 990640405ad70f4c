"""MQTT dispatch: setpoints out to site gateways, acknowledgements and telemetry back.

What
    :class:`MqttChannel` implements :class:`vpp.domain.ports.DispatchChannel` over an MQTT broker
    (paho-mqtt 2.x, callback API version 2): it publishes each asset's setpoints, waits a bounded
    time for the site gateways' acknowledgements and returns the assets that acknowledged.
    :class:`MqttTelemetrySubscriber` reads the gateways' power readings, validates them and hands
    them to a callback in batches. ``adapters.dispatch.mqtt_gateway_sim`` is the gateway side for
    tests and benchmarks.

Why
    Small park assets (heat pumps, tenant batteries, sub-meters) sit behind site gateways that
    speak MQTT rather than Modbus or OCPP towards the VPP. One long-lived client per direction
    and one message per asset (all of its intervals) keep a send to 10,000 devices to about
    10,000 publishes and 10,000 acks, with no per-message connect and linear work throughout.
    Publishing is paced by the acks (at most ``window`` unanswered messages) because a broker
    drops QoS 1 messages for a subscriber that falls too far behind (Mosquitto: 1000 queued).

Topic layout (``prefix`` defaults to ``parkvpp``; ``gateway`` names the site gateway)
    ``{prefix}/{gateway}/{asset_id}/setpoint``   VPP -> gateway, QoS 1, not retained
    ``{prefix}/{gateway}/{asset_id}/ack``        gateway -> VPP, QoS 1
    ``{prefix}/{gateway}/{asset_id}/telemetry``  gateway -> VPP, QoS 0 or 1
    Asset ids and gateway names must not contain ``/``, ``+`` or ``#``.

Setpoint payload (JSON object, UTF-8), one per asset and send::

    {"v": 1, "message_id": "3f2a...e1.17", "asset_id": "hp-7", "gateway": "site-a",
     "sent_at": "2026-03-02T15:40:00.123456Z", "unit": "MW", "sign": "export_positive",
     "start": "2026-03-02T16:00:00Z", "interval_minutes": 15,
     "power_mw": [-0.05, -0.05, null, 0.2, ...],
     "reserve_up_mw": [...], "reserve_down_mw": [...]}

    Entry ``k`` of each array applies to the interval starting at ``start + k * interval_minutes``
    (``start`` is UTC with ``Z``, the START of the first interval), so a day of 96 quarter-hours
    is 96 numbers, not 96 timestamps. ``null`` marks an interval without a setpoint (a gap); the
    gateway keeps its own fall-back behaviour there. ``power_mw`` uses the service's sign: > 0
    into the grid (discharge, generation), < 0 drawn from the grid (charging, consumption).
    ``reserve_*_mw`` (>= 0) are omitted when every value is zero.

Ack payload (JSON object)::

    {"message_id": "3f2a...e1.17", "asset_id": "hp-7", "status": "accepted"}

    ``status`` is ``accepted`` or ``rejected`` (with an optional ``reason``). Only ``accepted``
    confirms the asset; acks with an unknown or stale ``message_id`` are ignored.

Telemetry payload (JSON object, or a JSON array of such objects)::

    {"asset_id": "hp-7", "ts": "2026-03-02T16:00:05+08:00", "power_kw": -42.5,
     "quality": "good", "sign": "export_positive"}

    ``ts`` is ISO 8601 **with** a UTC offset (``Z`` allowed); it is converted to UTC. Exactly one
    of ``power_kw`` or ``power_mw`` (finite numbers). ``sign`` is optional: ``export_positive``
    (default, the service's convention) or ``import_positive`` (meters that count consumption
    as positive; the value is negated). ``quality`` is optional: ``good`` (default),
    ``uncertain`` or ``bad``. ``asset_id`` is optional and, when present, must match the topic.
    A message that breaks any rule (an array: any of its readings) is logged, counted in
    ``stats["malformed"]`` and skipped as a whole; it never stops the client.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import attrgetter
from types import TracebackType
from typing import Any, Literal, Self

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from vpp.domain.bids import Setpoint
from vpp.domain.errors import AdapterError, InvalidInputError

log = logging.getLogger("adapters.dispatch.mqtt")

DEFAULT_PREFIX = "parkvpp"
SETPOINT, ACK, TELEMETRY = "setpoint", "ack", "telemetry"
Quality = Literal["good", "uncertain", "bad"]
_QUALITIES = frozenset({"good", "uncertain", "bad"})
_SIGNS = {"export_positive": 1.0, "import_positive": -1.0}
_FORBIDDEN = frozenset("/+#")


def topic(prefix: str, gateway: str, asset_id: str, kind: str) -> str:
    """The topic ``{prefix}/{gateway}/{asset_id}/{kind}``."""
    return f"{prefix}/{gateway}/{asset_id}/{kind}"


def utc_iso(instant: datetime) -> str:
    """``instant`` as ISO 8601 in UTC with a ``Z`` suffix."""
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


class MqttClient:
    """A connected paho client with its network thread; base of the channel and subscriber.

    Patterns given to :meth:`subscribe` are (re)subscribed on every connect; :meth:`start`
    returns once the broker has granted them, so no message published afterwards is missed.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 1883,
        *,
        client_id: str | None = None,
        keepalive_s: int = 30,
        connect_timeout_s: float = 5.0,
        max_inflight: int = 1000,
    ) -> None:
        self.host = host
        self.port = port
        self.keepalive_s = keepalive_s
        self.connect_timeout_s = connect_timeout_s
        self.client_id = client_id or f"parkvpp-{uuid.uuid4().hex[:12]}"
        self._subscriptions: list[tuple[str, int]] = []
        self._subscribed = threading.Event()
        self._pending_subs: set[int] = set()
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=paho.MQTTv311
        )
        self._client.max_inflight_messages_set(max_inflight)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._connected = threading.Event()
        self._connect_error: str | None = None
        self._running = False

    def subscribe(self, pattern: str, qos: int = 1) -> None:
        """Subscribe to ``pattern`` on every connect (call before :meth:`start`)."""
        self._subscriptions.append((pattern, qos))

    def start(self) -> Self:
        """Connect, start the network thread and wait for the subscriptions to be granted."""
        if self._running:
            return self
        try:
            self._client.connect(self.host, self.port, keepalive=self.keepalive_s)
        except OSError as error:
            raise AdapterError(
                f"cannot reach the MQTT broker at {self.host}:{self.port}: {error}",
                hint="start the broker or fix the host/port",
            ) from error
        self._client.loop_start()
        self._running = True
        ready = self._connected.wait(self.connect_timeout_s) and (
            not self._subscriptions or self._subscribed.wait(self.connect_timeout_s)
        )
        if not ready or self._connect_error is not None:
            reason = self._connect_error or "no CONNACK/SUBACK in time"
            self.stop()
            raise AdapterError(
                f"MQTT broker at {self.host}:{self.port} refused the session: {reason}",
                hint="check the broker's listener and access rules",
            )
        return self

    def stop(self) -> None:
        """Disconnect and join the network thread."""
        if not self._running:
            return
        self._running = False
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()
        # paho keeps a loopback socket pair for waking its loop and closes it only in __del__;
        # the client sits in a reference cycle with our callbacks, so the garbage collector may
        # finalise the sockets first and warn. Close them now (paho 2.x API, private but stable).
        reset = getattr(self._client, "_reset_sockets", None)
        if reset is not None:
            reset(sockpair_only=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def publish(self, topic_name: str, payload: bytes | str, qos: int = 1) -> None:
        """Queue one message; paho's network thread sends it."""
        info = self._client.publish(topic_name, payload, qos=qos)
        if info.rc not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_NO_CONN):
            raise AdapterError(f"MQTT publish to {topic_name} failed: {paho.error_string(info.rc)}")

    # paho callbacks (network thread) -------------------------------------------------------

    def _on_connect(
        self,
        client: paho.Client,
        userdata: Any,
        flags: Any,
        reason_code: ReasonCode,
        properties: Any,
    ) -> None:
        if reason_code.is_failure:
            self._connect_error = str(reason_code)
            self._connected.set()
            return
        self._connect_error = None
        if self._subscriptions:
            result, mid = client.subscribe(self._subscriptions)
            if result == paho.MQTT_ERR_SUCCESS and mid is not None:
                self._pending_subs.add(mid)
        self._connected.set()

    def _on_subscribe(
        self,
        client: paho.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Any,
    ) -> None:
        refused = [rc for rc in reason_codes if rc.is_failure]
        if refused:
            self._connect_error = f"subscription refused: {refused}"
        self._pending_subs.discard(mid)
        self._subscribed.set()

    def _on_disconnect(
        self,
        client: paho.Client,
        userdata: Any,
        flags: Any,
        reason_code: ReasonCode,
        properties: Any,
    ) -> None:
        if self._running:
            log.warning(
                "MQTT client %s disconnected (%s); paho reconnects", self.client_id, reason_code
            )

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        """Handle one incoming message (subclasses override)."""


# --------------------------------------------------------------------------- setpoints out


_POWER = attrgetter("power_mw")
_UP = attrgetter("reserve_up_mw")
_DOWN = attrgetter("reserve_down_mw")


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where one asset's sorted setpoints go in the payload arrays."""

    start: str  # ISO 8601 UTC of the first interval start
    positions: list[int] | None  # array index of each setpoint; None when contiguous
    slots: int  # array length

    def spread(self, values: list[float]) -> list[float | None]:
        """``values`` placed at their positions, ``None`` in the gaps."""
        if self.positions is None:
            return list(values)
        column: list[float | None] = [None] * self.slots
        for k, value in zip(self.positions, values, strict=True):
            column[k] = value
        return column


class _Batch:
    """The acks one send waits for, and the flow-control window of its publishes."""

    def __init__(self, assets: dict[str, str]) -> None:
        self.assets = assets  # message id -> asset id
        self.confirmed: set[str] = set()
        self.answered = 0
        self.outstanding: set[str] = set()  # published, neither answered nor given up on
        self.sent_at: deque[tuple[float, str]] = deque()  # (monotonic publish time, id)
        self.queues: dict[str, deque[tuple[int, str]]] = {}  # gateway -> (seq, id), in order
        self.place: dict[str, tuple[str, int]] = {}  # message id -> (gateway, seq)
        self.last_progress = time.monotonic()
        self.changed = threading.Condition()

    def published(self, message_id: str, gateway: str) -> None:
        """Count ``message_id`` in the window (call before publishing it)."""
        with self.changed:
            seq = len(self.place)
            self.place[message_id] = (gateway, seq)
            self.queues.setdefault(gateway, deque()).append((seq, message_id))
            self.outstanding.add(message_id)
            self.sent_at.append((time.monotonic(), message_id))

    def answered_by(self, message_id: str) -> None:
        """Free ``message_id``'s slot, and those of earlier messages to the same gateway.

        A gateway handles its messages in order, so an answer to a later message means the
        earlier ones were delivered and left unanswered (silent devices): they no longer hold a
        place in the broker's queue. Call with ``changed`` held.
        """
        self.answered += 1
        self.outstanding.discard(message_id)
        where = self.place.get(message_id)
        if where is not None:
            queue = self.queues[where[0]]
            while queue and queue[0][0] <= where[1]:
                self.outstanding.discard(queue.popleft()[1])
        self.last_progress = time.monotonic()
        self.changed.notify_all()


class MqttChannel(MqttClient):
    """Publishes setpoints to site gateways and returns the assets that acknowledged.

    ``gateways`` maps asset id -> gateway name; assets not in it go to ``default_gateway``.
    ``timeout_s`` bounds a :meth:`send` from its first publish to its return (publishing and
    waiting for acks; the encoding before it is linear in the setpoints). ``window`` caps the
    messages published but not yet acknowledged: a broker drops QoS 1 messages for a subscriber
    that falls more than its queue behind (Mosquitto's ``max_queued_messages`` defaults to
    1000), so a burst of 10,000 setpoints must be paced by the acks. Silent devices must not
    stall the others: an ack frees the slots of the earlier unanswered messages to the same
    gateway, and when no ack at all has come for ``slot_timeout_s`` the slots of older messages
    are given up. A late ack still counts if it arrives before the send ends. The remaining
    arguments are those of :class:`MqttClient`.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 1883,
        *,
        prefix: str = DEFAULT_PREFIX,
        gateways: Mapping[str, str] | None = None,
        default_gateway: str = "site",
        interval_minutes: int = 15,
        timeout_s: float = 5.0,
        window: int = 500,
        slot_timeout_s: float = 1.0,
        **client_options: Any,
    ) -> None:
        super().__init__(host, port, **client_options)
        if interval_minutes <= 0 or window <= 0:
            raise InvalidInputError("interval_minutes and window must be positive")
        self.prefix = prefix
        self.gateways = dict(gateways or {})
        self.default_gateway = default_gateway
        self.interval_minutes = interval_minutes
        self.timeout_s = timeout_s
        self.window = window
        self.slot_timeout_s = slot_timeout_s
        self._lock = threading.Lock()
        self._waiting: dict[str, _Batch] = {}  # message id -> its batch
        self.subscribe(f"{prefix}/+/+/{ACK}", qos=1)

    def send(self, setpoints: Sequence[Setpoint]) -> Sequence[str]:
        """Publish one message per asset; return the ids of the assets that acked in time.

        Raises :class:`~vpp.domain.errors.InvalidInputError` (nothing published) for duplicate
        (asset, interval) pairs, interval starts off the asset's interval grid or ids that
        cannot be a topic level, and :class:`~vpp.domain.errors.AdapterError` when the channel is
        not started.
        """
        if not self._running:
            raise AdapterError("MQTT channel is not connected", hint="call start() first")
        messages = self._messages(setpoints)
        if not messages:
            return []
        deadline = time.monotonic() + self.timeout_s
        batch = _Batch({message_id: asset_id for message_id, asset_id, _, _ in messages})
        with self._lock:
            for message_id in batch.assets:
                self._waiting[message_id] = batch
        published = 0
        try:
            for message_id, asset_id, topic_name, payload in messages:
                if not self._take_slot(batch, deadline):
                    break
                batch.published(message_id, self.gateway_of(asset_id))
                self.publish(topic_name, payload, qos=1)
                published += 1
            with batch.changed:
                batch.changed.wait_for(
                    lambda: batch.answered == len(batch.assets),
                    max(0.0, deadline - time.monotonic()),
                )
        finally:
            with self._lock:
                for message_id in batch.assets:
                    self._waiting.pop(message_id, None)
            with batch.changed:
                confirmed = sorted(batch.confirmed)
        silent = len(batch.assets) - len(confirmed)
        if silent:
            log.warning(
                "%d of %d assets did not confirm their setpoints within %s s (%d not published)",
                silent,
                len(batch.assets),
                self.timeout_s,
                len(batch.assets) - published,
            )
        return confirmed

    def _take_slot(self, batch: _Batch, deadline: float) -> bool:
        """Wait for room in the window; False once the send's deadline has passed.

        Slots are freed by answers (see :meth:`_Batch.answered_by`). Only when no answer at all
        has come for ``slot_timeout_s`` are the slots of messages older than that given up, so
        a slow but working fleet is never flooded past the broker's queue.
        """
        with batch.changed:
            while True:
                now = time.monotonic()
                sent_at = batch.sent_at
                while sent_at and sent_at[0][1] not in batch.outstanding:
                    sent_at.popleft()
                if len(batch.outstanding) < self.window:
                    return now < deadline
                if now >= deadline:
                    return False
                stalled_until = batch.last_progress + self.slot_timeout_s
                if now >= stalled_until:
                    while sent_at and now - sent_at[0][0] >= self.slot_timeout_s:
                        batch.outstanding.discard(sent_at.popleft()[1])
                    batch.last_progress = now
                    continue
                batch.changed.wait(min(stalled_until, deadline) - now)

    def gateway_of(self, asset_id: str) -> str:
        """The gateway that serves ``asset_id``."""
        return self.gateways.get(asset_id, self.default_gateway)

    def _messages(self, setpoints: Sequence[Setpoint]) -> list[tuple[str, str, str, bytes]]:
        """(message id, asset id, topic, payload) per asset, in linear time.

        Assets of one send usually share their interval starts, so the grid check and the ISO
        formatting are done once per distinct set of starts, and each datetime object's epoch
        seconds once (keyed by ``id()``, safe while ``setpoints`` holds every object alive).
        """
        by_asset: dict[str, dict[float, Setpoint]] = {}
        stamps: dict[int, float] = {}
        stamp_of, rows_of = stamps.get, by_asset.get  # bound once: this loop runs per setpoint
        for s in setpoints:
            instant = s.interval_start
            at = stamp_of(id(instant))
            if at is None:
                at = stamps[id(instant)] = instant.timestamp()
            rows = rows_of(s.asset_id)
            if rows is None:
                rows = by_asset[s.asset_id] = {}
            count = len(rows)
            rows[at] = s
            if len(rows) == count:
                raise InvalidInputError(
                    f"two setpoints for {s.asset_id} at {utc_iso(instant)}",
                    hint="send one setpoint per asset and interval",
                )
        layouts: dict[tuple[float, ...], _Layout] = {}
        batch_id = uuid.uuid4().hex
        sent_at = utc_iso(datetime.now(UTC))
        out: list[tuple[str, str, str, bytes]] = []
        for n, (asset_id, rows) in enumerate(by_asset.items()):
            gateway = self.gateway_of(asset_id)
            for name in (asset_id, gateway):
                if not name or _FORBIDDEN.intersection(name):
                    raise InvalidInputError(
                        f"{name!r} cannot be an MQTT topic level",
                        hint="asset ids and gateway names must be non-empty, without / + #",
                    )
            keys = tuple(sorted(rows))
            layout = layouts.get(keys)
            if layout is None:
                layout = layouts[keys] = self._layout(asset_id, keys, rows)
            ordered = list(map(rows.__getitem__, keys))
            message_id = f"{batch_id}.{n}"
            body: dict[str, Any] = {
                "v": 1,
                "message_id": message_id,
                "asset_id": asset_id,
                "gateway": gateway,
                "sent_at": sent_at,
                "unit": "MW",
                "sign": "export_positive",
                "start": layout.start,
                "interval_minutes": self.interval_minutes,
                "power_mw": layout.spread(list(map(_POWER, ordered))),
            }
            up = list(map(_UP, ordered))
            if any(up):
                body["reserve_up_mw"] = layout.spread(up)
            down = list(map(_DOWN, ordered))
            if any(down):
                body["reserve_down_mw"] = layout.spread(down)
            payload = json.dumps(body, separators=(",", ":")).encode()
            out.append(
                (message_id, asset_id, topic(self.prefix, gateway, asset_id, SETPOINT), payload)
            )
        return out

    def _layout(
        self, asset_id: str, keys: tuple[float, ...], rows: dict[float, Setpoint]
    ) -> _Layout:
        step = self.interval_minutes * 60.0
        first = keys[0]
        positions = [round((at - first) / step) for at in keys]
        for at, k in zip(keys, positions, strict=True):
            if abs(at - first - k * step) >= 1e-3:
                raise InvalidInputError(
                    f"setpoint for {asset_id} at {utc_iso(rows[at].interval_start)} is not on "
                    f"its {self.interval_minutes}-minute grid",
                    hint="interval starts must be whole intervals apart",
                )
        slots = positions[-1] + 1
        start = utc_iso(rows[first].interval_start)
        return _Layout(start, None if slots == len(keys) else positions, slots)

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        try:
            ack = json.loads(message.payload)
            message_id = ack["message_id"]
            asset_id = ack.get("asset_id")
            status = ack.get("status", "accepted")
        except (ValueError, TypeError, KeyError, AttributeError):
            log.warning("ignoring a malformed ack on %s", message.topic)
            return
        if not isinstance(message_id, str):
            return
        with self._lock:
            batch = self._waiting.pop(message_id, None)
        if batch is None:
            return  # stale, duplicate or someone else's
        expected = batch.assets[message_id]
        with batch.changed:
            if asset_id not in (None, expected):
                log.warning("ack %s names %s, expected %s", message_id, asset_id, expected)
            elif status == "accepted":
                batch.confirmed.add(expected)
            else:
                log.warning("asset %s refused its setpoints: %s", expected, ack.get("reason"))
            batch.answered_by(message_id)


# --------------------------------------------------------------------------- telemetry in


@dataclass(frozen=True, slots=True)
class TelemetryReading:
    """One power reading in the service's units and sign [MW, export > 0], UTC timestamp."""

    asset_id: str
    gateway: str
    ts: datetime
    power_mw: float
    quality: Quality = "good"


class MalformedReading(ValueError):
    """A telemetry message that breaks the payload schema (see the module docstring)."""


def parse_reading(gateway: str, asset_id: str, item: Any) -> TelemetryReading:
    """Validate one telemetry object from ``{gateway}/{asset_id}``; raise MalformedReading."""
    if not isinstance(item, dict):
        raise MalformedReading(f"a reading must be a JSON object, got {type(item).__name__}")
    named = item.get("asset_id", asset_id)
    if named != asset_id:
        raise MalformedReading(f"asset_id {named!r} does not match the topic's {asset_id!r}")
    ts = item.get("ts")
    if not isinstance(ts, str):
        raise MalformedReading("ts missing or not a string")
    try:
        instant = datetime.fromisoformat(ts)
    except ValueError as error:
        raise MalformedReading(f"ts {ts!r} is not ISO 8601") from error
    if instant.utcoffset() is None:
        raise MalformedReading(f"ts {ts!r} has no UTC offset")
    has_kw, has_mw = "power_kw" in item, "power_mw" in item
    if has_kw == has_mw:
        raise MalformedReading("give exactly one of power_kw or power_mw")
    value = item["power_kw"] if has_kw else item["power_mw"]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise MalformedReading(f"power {value!r} is not a finite number")
    sign = _SIGNS.get(item.get("sign", "export_positive"))
    if sign is None:
        raise MalformedReading(f"sign {item.get('sign')!r} is not one of {sorted(_SIGNS)}")
    quality = item.get("quality", "good")
    if quality not in _QUALITIES:
        raise MalformedReading(f"quality {quality!r} is not one of {sorted(_QUALITIES)}")
    power_mw = sign * (value / 1000.0 if has_kw else float(value)) + 0.0
    return TelemetryReading(asset_id, gateway, instant.astimezone(UTC), power_mw, quality)


class MqttTelemetrySubscriber(MqttClient):
    """Subscribes to ``{prefix}/+/+/telemetry`` and hands valid readings to ``on_batch``.

    Readings are buffered and handed over when ``batch_size`` are waiting or ``max_delay_s``
    after the first of them arrived, and on :meth:`flush` and :meth:`stop`. The callback runs on
    a worker thread; its exceptions are logged and counted (that batch is dropped), never raised
    into the network loop.
    ``stats`` counts ``messages``, ``readings``, ``malformed`` and ``callback_errors``.
    """

    def __init__(
        self,
        on_batch: Callable[[list[TelemetryReading]], None],
        host: str = "127.0.0.1",
        port: int = 1883,
        *,
        prefix: str = DEFAULT_PREFIX,
        batch_size: int = 500,
        max_delay_s: float = 0.2,
        qos: int = 1,
        **client_options: Any,
    ) -> None:
        super().__init__(host, port, **client_options)
        self.on_batch = on_batch
        self.prefix = prefix
        self.batch_size = batch_size
        self.max_delay_s = max_delay_s
        self.stats = {"messages": 0, "readings": 0, "malformed": 0, "callback_errors": 0}
        self._buffer: list[TelemetryReading] = []
        self._first_at: float | None = None
        self._buffer_lock = threading.Lock()
        self._deliver_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._worker: threading.Thread | None = None
        self.subscribe(f"{prefix}/+/+/{TELEMETRY}", qos=qos)

    def start(self) -> Self:
        """Start the flush worker, then connect and subscribe."""
        if self._worker is None:
            self._stopping.clear()
            self._worker = threading.Thread(target=self._work, name="mqtt-telemetry", daemon=True)
            self._worker.start()
        try:
            return super().start()
        except BaseException:
            self._stop_worker()
            raise

    def stop(self) -> None:
        """Disconnect, hand over what is buffered and stop the worker."""
        super().stop()
        self._stop_worker()
        self.flush()

    def flush(self) -> None:
        """Hand the buffered readings to the callback now (on the calling thread)."""
        with self._deliver_lock:
            with self._buffer_lock:
                batch, self._buffer, self._first_at = self._buffer, [], None
            if batch:
                try:
                    self.on_batch(batch)
                except Exception:
                    self.stats["callback_errors"] += 1
                    log.exception("telemetry callback failed on %d readings", len(batch))

    def _stop_worker(self) -> None:
        if self._worker is not None:
            self._stopping.set()
            self._wake.set()
            self._worker.join()
            self._worker = None

    def _work(self) -> None:
        while not self._stopping.is_set():
            with self._buffer_lock:
                first = self._first_at
                full = len(self._buffer) >= self.batch_size
            if first is None:
                self._wake.wait()
            elif not full:
                self._wake.wait(max(0.0, first + self.max_delay_s - time.monotonic()))
            self._wake.clear()
            with self._buffer_lock:
                due = self._first_at is not None and (
                    len(self._buffer) >= self.batch_size
                    or time.monotonic() >= self._first_at + self.max_delay_s
                )
            if due:
                self.flush()

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        self.stats["messages"] += 1
        try:
            readings = self._parse(message.topic, message.payload)
        except MalformedReading as error:
            self.stats["malformed"] += 1
            log.warning("skipping malformed telemetry on %s: %s", message.topic, error)
            return
        except Exception:  # never let one message kill the network loop
            self.stats["malformed"] += 1
            log.exception("skipping telemetry on %s", message.topic)
            return
        self.stats["readings"] += len(readings)
        with self._buffer_lock:
            if self._first_at is None:
                self._first_at = time.monotonic()
            self._buffer.extend(readings)
            wake = len(self._buffer) >= self.batch_size or len(self._buffer) == len(readings)
        if wake:
            self._wake.set()

    def _parse(self, topic_name: str, payload: bytes | bytearray) -> list[TelemetryReading]:
        levels = topic_name.split("/")
        if len(levels) < 4 or levels[-1] != TELEMETRY:
            raise MalformedReading(f"unexpected topic {topic_name}")
        gateway, asset_id = levels[-3], levels[-2]
        try:
            data = json.loads(payload)
        except (ValueError, UnicodeDecodeError) as error:
            raise MalformedReading(f"not JSON: {error}") from error
        items: Iterable[Any] = data if isinstance(data, list) else [data]
        return [parse_reading(gateway, asset_id, item) for item in items]
