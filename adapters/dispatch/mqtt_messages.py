"""The setpoint messages of one MQTT send and the acks it waits for.

:class:`_Layout`, :class:`_AssetDay` and :class:`_Message` hold a send's validated setpoints,
grouped per gateway and chunk, ready to encode; :class:`_Batch` tracks their acks and the
flow-control window of their publishes. :class:`~adapters.dispatch.mqtt.MqttChannel` builds and
uses them; the payload they encode to is described in :mod:`adapters.dispatch.mqtt`.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where an asset's setpoints, in the order given, go in its payload arrays.

    Computed once per distinct tuple of interval starts: the assets of one send usually share
    them, so sorting, the grid check and the ISO formatting are not repeated per asset.
    """

    start: str  # ISO 8601 UTC of the first interval start
    order: list[int] | None  # indices of the setpoints by interval start; None when in order
    positions: list[int] | None  # array index of each sorted setpoint; None when contiguous
    slots: int  # array length

    def spread(self, values: list[float]) -> list[float | None] | list[float]:
        """``values`` sorted and placed at their positions, ``None`` in the gaps."""
        if self.order is not None:
            values = [values[i] for i in self.order]
        if self.positions is None:
            return values
        column: list[float | None] = [None] * self.slots
        for k, value in zip(self.positions, values, strict=True):
            column[k] = value
        return column


@dataclass(frozen=True, slots=True)
class _AssetDay:
    """One asset's validated setpoints (value columns in the order given; reserves if non-zero)."""

    asset_id: str
    layout: _Layout
    power: list[float]
    up: list[float] | None
    down: list[float] | None


@dataclass(frozen=True, slots=True)
class _Message:
    """One setpoint message: a chunk of one gateway's assets, validated, encoded on demand."""

    message_id: str
    gateway: str
    days: list[_AssetDay]


class _Batch:
    """The acks one send waits for, and the flow-control window of its publishes."""

    def __init__(self, messages: dict[str, _Message]) -> None:
        self.messages = messages  # message id -> message
        self.confirmed: set[str] = set()  # asset ids
        self.answered = 0  # messages
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
        earlier ones were delivered and left unanswered: they no longer hold a place in the
        broker's queue. Call with ``changed`` held.
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
