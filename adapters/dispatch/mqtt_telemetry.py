"""MQTT telemetry in: the site gateways' power readings, validated and handed on in batches.

:class:`MqttTelemetrySubscriber` subscribes to ``{prefix}/+/+/telemetry`` (the topic layout of
:mod:`adapters.dispatch.mqtt`) on the same kind of long-lived client as the dispatch channel.

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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Self

import paho.mqtt.client as paho

from adapters.dispatch.mqtt import DEFAULT_PREFIX, TELEMETRY, MqttClient

log = logging.getLogger(__name__)

Quality = Literal["good", "uncertain", "bad"]
_QUALITIES = frozenset({"good", "uncertain", "bad"})
_SIGNS = {"export_positive": 1.0, "import_positive": -1.0}


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
