"""A simulated MQTT site gateway: the device side of :mod:`adapters.dispatch.mqtt`.

What
    :class:`GatewaySimulator` subscribes to ``{prefix}/{gateway}/setpoints``, keeps the last
    setpoints per asset, and answers each message with one ack on ``{prefix}/{gateway}/ack``
    listing every asset's status, exactly as a real site gateway would (the protocol is in
    :mod:`adapters.dispatch.mqtt`). Assets in ``silent`` do not answer (a device that is
    offline): the ack lists them as ``no_answer``, or leaves them out with ``omit_silent``.
    Assets in ``reject`` answer ``rejected``; when ``assets`` is given, other assets are rejected
    as unknown. With ``mute`` the gateway receives but never acks (a gateway that hangs).
    :meth:`GatewaySimulator.publish_telemetry` and :meth:`GatewaySimulator.publish_raw` send
    readings the other way.

Why
    Tests and the dispatch benchmark need a real broker round trip (publish, deliver, ack) with
    no hardware; one client serves any number of simulated devices behind one gateway, so a
    10,000-device fleet is a handful of connections and messages.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as paho
import pydantic_core

from adapters.dispatch.mqtt import (
    ACCEPTED,
    ACK,
    DEFAULT_PREFIX,
    NO_ANSWER,
    REJECTED,
    SETPOINTS,
    TELEMETRY,
    MqttClient,
    gateway_topic,
    to_json,
    topic,
)
from vpp.domain.errors import InvalidInputError

log = logging.getLogger("adapters.dispatch.mqtt_gateway_sim")

_ASSET_KEYS = ("power_mw", "reserve_up_mw", "reserve_down_mw", "start")


class GatewaySimulator(MqttClient):
    """One simulated site gateway on the broker at ``host:port``.

    ``keep_payloads=False`` stores only the message ids (for large benchmarks). The received
    setpoints are in :attr:`received` (asset id -> that asset's last setpoints, flattened: the
    message's ``message_id``, ``gateway``, ``unit``, ``sign``, ``start`` and
    ``interval_minutes`` plus the asset's own arrays, and ``asset_id``), the whole decoded
    messages in :attr:`messages`, the last message id per asset in :attr:`message_ids`, and the
    counts of setpoint messages and of assets in them in :attr:`setpoint_messages` and
    :attr:`setpoint_assets`. ``silent``, ``reject``, ``omit_silent`` and ``mute`` may be
    changed between sends.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 1883,
        *,
        prefix: str = DEFAULT_PREFIX,
        gateway: str = "site",
        assets: Iterable[str] | None = None,
        silent: Iterable[str] = (),
        reject: Iterable[str] = (),
        omit_silent: bool = False,
        mute: bool = False,
        keep_payloads: bool = True,
        **client_options: Any,
    ) -> None:
        super().__init__(host, port, **client_options)
        self.prefix = prefix
        self.gateway = gateway
        self.assets = None if assets is None else set(assets)
        self.silent = set(silent)
        self.reject = set(reject)
        self.omit_silent = omit_silent
        self.mute = mute
        self.keep_payloads = keep_payloads
        self.received: dict[str, dict[str, Any]] = {}
        self.messages: list[dict[str, Any]] = []
        self.message_ids: dict[str, str] = {}
        self.setpoint_messages = 0
        self.setpoint_assets = 0
        self._lock = threading.Lock()
        self.subscribe(gateway_topic(prefix, gateway, SETPOINTS), qos=1)

    def publish_telemetry(
        self,
        asset_id: str,
        *,
        ts: datetime | str | None = None,
        power_kw: float | None = None,
        power_mw: float | None = None,
        **extra: Any,
    ) -> None:
        """Publish one reading for ``asset_id`` (``ts`` defaults to now, UTC)."""
        if (power_kw is None) == (power_mw is None):
            raise InvalidInputError("give exactly one of power_kw or power_mw")
        when = ts if isinstance(ts, str) else (ts or datetime.now(UTC)).isoformat()
        body: dict[str, Any] = {"asset_id": asset_id, "ts": when, **extra}
        if power_kw is not None:
            body["power_kw"] = power_kw
        else:
            body["power_mw"] = power_mw
        self.publish_raw(asset_id, json.dumps(body))

    def publish_raw(self, asset_id: str, payload: bytes | str, qos: int = 1) -> None:
        """Publish ``payload`` unchanged on ``asset_id``'s telemetry topic (to test validation)."""
        self.publish(topic(self.prefix, self.gateway, asset_id, TELEMETRY), payload, qos=qos)

    def publish_ack(self, payload: bytes | str | dict[str, Any]) -> None:
        """Publish ``payload`` (a dict is JSON-encoded) on this gateway's ack topic."""
        body = to_json(payload) if isinstance(payload, dict) else payload
        self.publish(gateway_topic(self.prefix, self.gateway, ACK), body)

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        try:
            body = pydantic_core.from_json(message.payload)
            message_id = body["message_id"]
            assets = body["assets"]
            if not isinstance(message_id, str) or not isinstance(assets, dict):
                raise TypeError("message_id must be a string and assets an object")
        except (ValueError, TypeError, KeyError) as error:
            log.warning(
                "gateway %s: malformed setpoints on %s: %s", self.gateway, message.topic, error
            )
            return
        statuses: dict[str, dict[str, str]] = {}
        known = self.assets
        for asset_id in assets:
            if known is not None and asset_id not in known:
                statuses[asset_id] = {"status": REJECTED, "reason": "unknown asset"}
            elif asset_id in self.silent:
                if not self.omit_silent:
                    statuses[asset_id] = {"status": NO_ANSWER}
            elif asset_id in self.reject:
                statuses[asset_id] = {"status": REJECTED, "reason": "simulated refusal"}
            else:
                statuses[asset_id] = {"status": ACCEPTED}
        with self._lock:
            self.setpoint_messages += 1
            self.setpoint_assets += len(assets)
            for asset_id in assets:
                if known is None or asset_id in known:
                    self.message_ids[asset_id] = message_id
            if self.keep_payloads:
                self.messages.append(body)
                shared = {k: v for k, v in body.items() if k != "assets"}
                for asset_id, entry in assets.items():
                    if known is None or asset_id in known:
                        self.received[asset_id] = {**shared, **entry, "asset_id": asset_id}
        if self.mute:
            return
        ack = {"message_id": message_id, "gateway": self.gateway, "assets": statuses}
        client.publish(gateway_topic(self.prefix, self.gateway, ACK), to_json(ack), qos=1)
