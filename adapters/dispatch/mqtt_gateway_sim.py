"""A simulated MQTT site gateway: the device side of :mod:`adapters.dispatch.mqtt`.

What
    :class:`GatewaySimulator` subscribes to ``{prefix}/{gateway}/+/setpoint``, keeps the last
    payload per asset, and acknowledges it on ``{prefix}/{gateway}/{asset_id}/ack`` with the
    message id, exactly as a real site gateway would. Assets listed in ``silent`` never answer
    (a device that is offline); assets in ``reject`` answer ``rejected``; when ``assets`` is
    given, setpoints for other assets are ignored. :meth:`GatewaySimulator.publish_telemetry`
    and :meth:`GatewaySimulator.publish_raw` send readings the other way.

Why
    Tests and the dispatch benchmark need a real broker round trip (publish, deliver, ack) with
    no hardware; one client serves any number of simulated devices behind one gateway, so a
    10,000-device fleet is one subscription and one connection.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as paho

from adapters.dispatch.mqtt import ACK, DEFAULT_PREFIX, SETPOINT, TELEMETRY, MqttClient, topic
from vpp.domain.errors import InvalidInputError

log = logging.getLogger("adapters.dispatch.mqtt_gateway_sim")


class GatewaySimulator(MqttClient):
    """One simulated site gateway on the broker at ``host:port``.

    ``keep_payloads=False`` stores only the message ids (for large benchmarks). The received
    setpoint payloads are in :attr:`received` (asset id -> last decoded payload) and the count
    of setpoint messages in :attr:`setpoint_messages`.
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
        keep_payloads: bool = True,
        **client_options: Any,
    ) -> None:
        super().__init__(host, port, **client_options)
        self.prefix = prefix
        self.gateway = gateway
        self.assets = None if assets is None else set(assets)
        self.silent = set(silent)
        self.reject = set(reject)
        self.keep_payloads = keep_payloads
        self.received: dict[str, dict[str, Any]] = {}
        self.message_ids: dict[str, str] = {}
        self.setpoint_messages = 0
        self._lock = threading.Lock()
        self.subscribe(topic(prefix, gateway, "+", SETPOINT), qos=1)

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

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        asset_id = message.topic.split("/")[-2]
        if self.assets is not None and asset_id not in self.assets:
            return
        try:
            body = json.loads(message.payload)
            message_id = body["message_id"]
        except (ValueError, TypeError, KeyError):
            log.warning("gateway %s: malformed setpoint on %s", self.gateway, message.topic)
            return
        with self._lock:
            self.setpoint_messages += 1
            self.message_ids[asset_id] = message_id
            if self.keep_payloads:
                self.received[asset_id] = body
        if asset_id in self.silent:
            return
        status = "rejected" if asset_id in self.reject else "accepted"
        ack = {"message_id": message_id, "asset_id": asset_id, "status": status}
        if status == "rejected":
            ack["reason"] = "simulated refusal"
        client.publish(
            topic(self.prefix, self.gateway, asset_id, ACK),
            json.dumps(ack, separators=(",", ":")),
            qos=1,
        )
