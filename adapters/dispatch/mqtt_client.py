"""The MQTT connection: a paho client with its network thread and standing subscriptions.

:class:`MqttClient` is the base of the dispatch channel (:mod:`adapters.dispatch.mqtt`), the
telemetry subscriber and the gateway simulator.
"""

from __future__ import annotations

import logging
import threading
import uuid
from types import TracebackType
from typing import Any, Self

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from vpp.domain.errors import AdapterError

# The channel's logger, as before the split: operators filter on this name.
log = logging.getLogger("adapters.dispatch.mqtt")


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
