"""Topic layout and wire vocabulary of the MQTT dispatch protocol.

Topic names, the message kinds and ack statuses, the check that a name can be one topic level,
and the JSON and timestamp encodings shared by the channel (:mod:`adapters.dispatch.mqtt`), the
telemetry subscriber and the gateway simulator. The protocol itself is described in
:mod:`adapters.dispatch.mqtt`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pydantic_core

from vpp.domain.errors import InvalidInputError

DEFAULT_PREFIX = "parkvpp"
SETPOINTS, ACK, TELEMETRY = "setpoints", "ack", "telemetry"
ACCEPTED, REJECTED, NO_ANSWER = "accepted", "rejected", "no_answer"
_FORBIDDEN = frozenset("/+#")


def topic(prefix: str, gateway: str, asset_id: str, kind: str) -> str:
    """The per-asset topic ``{prefix}/{gateway}/{asset_id}/{kind}`` (telemetry)."""
    return f"{prefix}/{gateway}/{asset_id}/{kind}"


def gateway_topic(prefix: str, gateway: str, kind: str) -> str:
    """The per-gateway topic ``{prefix}/{gateway}/{kind}`` (setpoints, acks)."""
    return f"{prefix}/{gateway}/{kind}"


def to_json(body: Any) -> bytes:
    """``body`` as compact JSON (pydantic-core's serializer: about 5x ``json.dumps``)."""
    return pydantic_core.to_json(body)


def utc_iso(instant: datetime) -> str:
    """``instant`` as ISO 8601 in UTC with a ``Z`` suffix."""
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _check_level(name: str) -> None:
    """Raise InvalidInputError unless ``name`` can be one MQTT topic level."""
    if not name or not _FORBIDDEN.isdisjoint(name):
        raise InvalidInputError(
            f"{name!r} cannot be an MQTT topic level",
            hint="asset ids and gateway names must be non-empty, without / + #",
        )
