"""MQTT dispatch: setpoints out to site gateways, acknowledgements and telemetry back.

What
    :class:`MqttChannel` implements :class:`vpp.domain.ports.DispatchChannel` over an MQTT broker
    (paho-mqtt 2.x, callback API version 2): it publishes the setpoints of all assets behind a
    site gateway in one message per gateway (or a few, see chunks below), waits a bounded time
    for the gateways' acknowledgements and returns the assets that the gateways confirmed.
    :class:`MqttClient` is the connection both it and the telemetry subscriber
    (``adapters.dispatch.mqtt_telemetry``) build on. ``adapters.dispatch.mqtt_gateway_sim`` is
    the gateway side for tests and benchmarks.

Why
    Small park assets (heat pumps, tenant batteries, sub-meters) sit behind site gateways that
    speak MQTT rather than Modbus or OCPP towards the VPP. A gateway fronts many devices, so a
    send is one message per gateway carrying every asset's day and one ack per message listing
    each asset's status: 10,000 devices behind 20 gateways are about 20 publishes and 20 acks
    instead of 10,000 of each, with one long-lived client per direction and linear work
    throughout. Publishing is paced by the acks (at most ``window`` unanswered messages) because
    a broker drops QoS 1 messages for a subscriber that falls too far behind (Mosquitto: 1000
    queued).

Topic layout (``prefix`` defaults to ``parkvpp``; ``gateway`` names the site gateway)
    ``{prefix}/{gateway}/setpoints``             VPP -> gateway, QoS 1, not retained
    ``{prefix}/{gateway}/ack``                   gateway -> VPP, QoS 1
    ``{prefix}/{gateway}/{asset_id}/telemetry``  gateway -> VPP, QoS 0 or 1
    Asset ids and gateway names must not contain ``/``, ``+`` or ``#``.

Setpoint payload (JSON object, UTF-8), one per gateway and send (or per chunk)::

    {"v": 2, "message_id": "3f2a...e1.4", "gateway": "site-a",
     "sent_at": "2026-03-02T15:40:00.123456Z", "unit": "MW", "sign": "export_positive",
     "start": "2026-03-02T16:00:00Z", "interval_minutes": 15,
     "assets": {"hp-7": {"power_mw": [-0.05, -0.05, null, 0.2, ...]},
                "bat-1": {"power_mw": [...], "reserve_up_mw": [...], "reserve_down_mw": [...]}}}

    Entry ``k`` of an asset's arrays applies to the interval starting at
    ``start + k * interval_minutes`` (``start`` is UTC with ``Z``, the START of the first
    interval), so a day of 96 quarter-hours is 96 numbers, not 96 timestamps. ``start`` is given
    once for the message when all its assets start at the same instant (the usual case: one
    award, one grid); otherwise the message has no ``start`` and every asset entry carries its
    own. ``null`` marks an interval without a setpoint (a gap); the gateway keeps its own
    fall-back behaviour there. ``power_mw`` uses the service's sign: > 0 into the grid
    (discharge, generation), < 0 drawn from the grid (charging, consumption).
    ``reserve_*_mw`` (>= 0) are omitted for an asset when every value is zero.

    Chunks: a gateway with more than ``max_assets_per_message`` assets (default 1,000) gets
    several messages of at most that many assets, each with its own ``message_id`` and ack.
    A day of 96 values is about 0.6-1 kB of JSON per asset, so this bounds a message to about
    1 MB: gateways are small devices whose MQTT stacks often cap packet sizes and parse a
    message in one piece, a lost or refused message costs at most one chunk, and the channel
    encodes the next chunk while the broker and gateway handle the previous one.

Ack payload (JSON object), one per setpoint message, on the gateway's ack topic::

    {"message_id": "3f2a...e1.4", "gateway": "site-a",
     "assets": {"hp-7": {"status": "accepted"},
                "bat-1": {"status": "rejected", "reason": "power above rating"},
                "hp-9": {"status": "no_answer"}}}

    Only ``accepted`` confirms an asset. ``rejected`` (with an optional ``reason``) and
    ``no_answer`` (the device did not answer the gateway) do not, nor does an asset the ack
    leaves out, nor any asset of a message whose ack never comes (a silent gateway). The first
    well-formed ack settles its message: acks with an unknown, stale or already answered
    ``message_id``, from another gateway's topic, or without an ``assets`` object are ignored,
    as are entries for assets the message did not carry.

Modules
    The topic layout and wire vocabulary are in ``adapters.dispatch.mqtt_topics``, the
    connection in ``adapters.dispatch.mqtt_client`` and a send's messages and ack window in
    ``adapters.dispatch.mqtt_messages``; their public names are importable from here too.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from itertools import groupby
from operator import attrgetter
from typing import Any

import paho.mqtt.client as paho

from adapters.dispatch.mqtt_client import MqttClient
from adapters.dispatch.mqtt_messages import _AssetDay, _Batch, _Layout, _Message
from adapters.dispatch.mqtt_topics import (
    ACCEPTED,
    ACK,
    DEFAULT_PREFIX,
    NO_ANSWER,
    REJECTED,
    SETPOINTS,
    TELEMETRY,
    _check_level,
    gateway_topic,
    to_json,
    topic,
    utc_iso,
)
from vpp.domain.bids import Setpoint
from vpp.domain.errors import AdapterError, InvalidInputError

__all__ = [
    "ACCEPTED",
    "ACK",
    "DEFAULT_PREFIX",
    "NO_ANSWER",
    "REJECTED",
    "SETPOINTS",
    "TELEMETRY",
    "MqttChannel",
    "MqttClient",
    "gateway_topic",
    "to_json",
    "topic",
    "utc_iso",
]

log = logging.getLogger("adapters.dispatch.mqtt")

_ASSET = attrgetter("asset_id")
_START = attrgetter("interval_start")
_POWER = attrgetter("power_mw")
_UP = attrgetter("reserve_up_mw")
_DOWN = attrgetter("reserve_down_mw")


class MqttChannel(MqttClient):
    """Publishes setpoints to site gateways and returns the assets that the gateways confirmed.

    ``gateways`` maps asset id -> gateway name; assets not in it go to ``default_gateway``.
    Each gateway gets one message per :meth:`send` with all its assets, split into chunks of at
    most ``max_assets_per_message`` assets (see the module docstring for why).
    ``timeout_s`` bounds a :meth:`send` from the end of its validation to its return (encoding,
    publishing and waiting for acks). ``window`` caps the messages published but not yet
    acknowledged: a broker drops QoS 1 messages for a subscriber that falls more than its queue
    behind (Mosquitto's ``max_queued_messages`` defaults to 1000). A silent gateway must not
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
        max_assets_per_message: int = 1000,
        **client_options: Any,
    ) -> None:
        super().__init__(host, port, **client_options)
        if interval_minutes <= 0 or window <= 0 or max_assets_per_message <= 0:
            raise InvalidInputError(
                "interval_minutes, window and max_assets_per_message must be positive"
            )
        self.prefix = prefix
        self.gateways = dict(gateways or {})
        self.default_gateway = default_gateway
        self.interval_minutes = interval_minutes
        self.timeout_s = timeout_s
        self.window = window
        self.slot_timeout_s = slot_timeout_s
        self.max_assets_per_message = max_assets_per_message
        self._lock = threading.Lock()
        self._waiting: dict[str, _Batch] = {}  # message id -> its batch
        self.subscribe(gateway_topic(prefix, "+", ACK), qos=1)

    def send(self, setpoints: Sequence[Setpoint]) -> Sequence[str]:
        """Publish one message per gateway (or chunk); return the asset ids confirmed in time.

        Raises :class:`~vpp.domain.errors.InvalidInputError` (nothing published) for duplicate
        (asset, interval) pairs, interval starts off the asset's interval grid, non-finite
        values or ids that cannot be a topic level, and :class:`~vpp.domain.errors.AdapterError`
        when the channel is not started.
        """
        if not self._running:
            raise AdapterError("MQTT channel is not connected", hint="call start() first")
        messages = self._plan(setpoints)
        if not messages:
            return []
        deadline = time.monotonic() + self.timeout_s
        batch = _Batch({m.message_id: m for m in messages})
        with self._lock:
            for message_id in batch.messages:
                self._waiting[message_id] = batch
        sent_at = utc_iso(datetime.now(UTC))
        published = 0
        try:
            for message in messages:
                payload = self._encode(message, sent_at)
                if not self._take_slot(batch, deadline):
                    break
                batch.published(message.message_id, message.gateway)
                self.publish(gateway_topic(self.prefix, message.gateway, SETPOINTS), payload)
                published += 1
            with batch.changed:
                batch.changed.wait_for(
                    lambda: batch.answered == len(batch.messages),
                    max(0.0, deadline - time.monotonic()),
                )
        finally:
            with self._lock:
                for message_id in batch.messages:
                    self._waiting.pop(message_id, None)
            with batch.changed:
                confirmed = sorted(batch.confirmed)
        assets = sum(len(m.days) for m in messages)
        if len(confirmed) < assets:
            log.warning(
                "%d of %d assets not confirmed (refused, silent, or no ack within %s s: "
                "%d of %d messages unanswered, %d not published)",
                assets - len(confirmed),
                assets,
                self.timeout_s,
                len(messages) - batch.answered,
                len(messages),
                len(messages) - published,
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
        """(message id, gateway, topic, payload) of every message of a send, all encoded.

        :meth:`send` encodes each message just before publishing it instead; this is the whole
        encoding in one call, for measurements and tests.
        """
        sent_at = utc_iso(datetime.now(UTC))
        return [
            (
                m.message_id,
                m.gateway,
                gateway_topic(self.prefix, m.gateway, SETPOINTS),
                self._encode(m, sent_at),
            )
            for m in self._plan(setpoints)
        ]

    def _plan(self, setpoints: Sequence[Setpoint]) -> list[_Message]:
        """Validate and group ``setpoints`` into the send's messages, in linear time.

        No Python object per setpoint: the setpoints are grouped per asset in runs (a plan is
        usually asset-major; an asset may still come in several runs), their fields read into
        columns by C-level ``map``, and the layout (sort order, grid, gaps, ``start``) computed
        once per distinct tuple of interval starts. Messages go round-robin over the gateways
        (first chunk of every gateway, then the second ...) so all gateways start early.
        """
        by_asset: dict[str, list[Setpoint]] = {}
        for asset_id, run in groupby(setpoints, key=_ASSET):
            rows = by_asset.get(asset_id)
            if rows is None:
                by_asset[asset_id] = list(run)
            else:
                rows.extend(run)
        layouts: dict[tuple[datetime, ...], _Layout] = {}
        per_gateway: dict[str, list[_AssetDay]] = {}
        for asset_id, rows in by_asset.items():
            gateway = self.gateway_of(asset_id)
            days = per_gateway.get(gateway)
            if days is None:
                _check_level(gateway)
                days = per_gateway[gateway] = []
            _check_level(asset_id)
            starts = tuple(map(_START, rows))
            layout = layouts.get(starts)
            if layout is None:
                layout = layouts[starts] = self._layout(asset_id, starts)
            power = list(map(_POWER, rows))
            up = list(map(_UP, rows))
            down = list(map(_DOWN, rows))
            if not math.isfinite(sum(power) + sum(up) + sum(down)):
                raise InvalidInputError(
                    f"setpoints for {asset_id} are not all finite numbers",
                    hint="power and reserves must be finite [MW]",
                )
            days.append(
                _AssetDay(
                    asset_id, layout, power, up if any(up) else None, down if any(down) else None
                )
            )
        batch_id = uuid.uuid4().hex
        size = self.max_assets_per_message
        messages: list[_Message] = []
        for first in range(0, max(map(len, per_gateway.values()), default=0), size):
            for gateway, days in per_gateway.items():
                if first < len(days):
                    message_id = f"{batch_id}.{len(messages)}"
                    messages.append(_Message(message_id, gateway, days[first : first + size]))
        return messages

    def _layout(self, asset_id: str, starts: tuple[datetime, ...]) -> _Layout:
        """Sort order, array positions and ``start`` of an asset's interval starts."""
        stamps = [instant.timestamp() for instant in starts]
        order: list[int] | None = sorted(range(len(stamps)), key=stamps.__getitem__)
        if order == list(range(len(stamps))):
            order = None
        else:
            stamps = [stamps[i] for i in order]  # type: ignore[union-attr]
        step = self.interval_minutes * 60.0
        first = stamps[0]
        positions = [round((at - first) / step) for at in stamps]
        for k, (at, position) in enumerate(zip(stamps, positions, strict=True)):
            instant = starts[k if order is None else order[k]]
            if k and at == stamps[k - 1]:
                raise InvalidInputError(
                    f"two setpoints for {asset_id} at {utc_iso(instant)}",
                    hint="send one setpoint per asset and interval",
                )
            if abs(at - first - position * step) >= 1e-3:
                raise InvalidInputError(
                    f"setpoint for {asset_id} at {utc_iso(instant)} is not on its "
                    f"{self.interval_minutes}-minute grid",
                    hint="interval starts must be whole intervals apart",
                )
        slots = positions[-1] + 1
        start = utc_iso(starts[0 if order is None else order[0]])
        return _Layout(start, order, None if slots == len(stamps) else positions, slots)

    def _encode(self, message: _Message, sent_at: str) -> bytes:
        """The JSON payload of ``message`` (see the module docstring)."""
        starts = {day.layout.start for day in message.days}
        shared = starts.pop() if len(starts) == 1 else None
        assets: dict[str, dict[str, Any]] = {}
        for day in message.days:
            layout = day.layout
            entry: dict[str, Any] = {"power_mw": layout.spread(day.power)}
            if day.up is not None:
                entry["reserve_up_mw"] = layout.spread(day.up)
            if day.down is not None:
                entry["reserve_down_mw"] = layout.spread(day.down)
            if shared is None:
                entry["start"] = layout.start
            assets[day.asset_id] = entry
        body: dict[str, Any] = {
            "v": 2,
            "message_id": message.message_id,
            "gateway": message.gateway,
            "sent_at": sent_at,
            "unit": "MW",
            "sign": "export_positive",
        }
        if shared is not None:
            body["start"] = shared
        body["interval_minutes"] = self.interval_minutes
        body["assets"] = assets
        return to_json(body)

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        levels = message.topic.rsplit("/", 2)
        try:
            ack = json.loads(message.payload)
            message_id = ack["message_id"]
            statuses = ack["assets"]
        except (ValueError, TypeError, KeyError, AttributeError):
            log.warning("ignoring a malformed ack on %s", message.topic)
            return
        if not isinstance(message_id, str) or not isinstance(statuses, dict):
            log.warning("ignoring a malformed ack on %s", message.topic)
            return
        with self._lock:
            batch = self._waiting.get(message_id)
            if batch is None:
                return  # stale, duplicate or someone else's
            sent = batch.messages[message_id]
            if len(levels) != 3 or levels[1] != sent.gateway:
                log.warning(
                    "ignoring ack %s on %s: sent to %s", message_id, message.topic, sent.gateway
                )
                return
            del self._waiting[message_id]
        accepted: list[str] = []
        refused: dict[str, Any] = {}
        for day in sent.days:
            entry = statuses.get(day.asset_id)
            status = entry.get("status") if isinstance(entry, dict) else None
            if status == ACCEPTED:
                accepted.append(day.asset_id)
            elif status == REJECTED:
                refused[day.asset_id] = entry.get("reason")  # type: ignore[union-attr]
        with batch.changed:
            batch.confirmed.update(accepted)
            batch.answered_by(message_id)
        if refused:
            log.warning(
                "gateway %s refused the setpoints of %d assets, e.g. %s",
                sent.gateway,
                len(refused),
                dict(list(refused.items())[:5]),
            )
        unanswered = len(sent.days) - len(accepted) - len(refused)
        if unanswered:
            log.warning("gateway %s: %d assets did not answer", sent.gateway, unanswered)
