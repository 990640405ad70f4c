"""Storage behind the OpenADR 3 VTN: six collections of JSON objects, and change notification.

The VTN keeps OpenADR objects (programs, events, reports, subscriptions, vens, resources) as the
JSON dictionaries the spec defines, so what the HTTP layer answers is exactly what was stored.
The store stamps the server-owned fields (``id``, ``createdDateTime``, ``modificationDateTime``,
``objectType``) and keeps, beside each object, a *revision*: a number from one store-wide counter
taken at the object's last write. Revisions order writes across collections without trusting
wall-clock resolution, which is what the dispatch channel needs to tell "a report that arrived
after this version of the event" from an older one.

:class:`VtnStore` is the small interface the VTN app and the channel depend on; the in-memory
:class:`InMemoryVtnStore` (one re-entrant lock, a condition to wait on) is enough for one process
and the tests, and a database store can implement the same protocol later.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, TypeVar

log = logging.getLogger(__name__)

Kind = Literal["programs", "events", "reports", "subscriptions", "vens", "resources"]
Operation = Literal["POST", "PUT", "DELETE"]
JsonObject = dict[str, Any]
T = TypeVar("T")

#: The ``objectType`` the spec gives each collection's objects.
OBJECT_TYPES: dict[Kind, str] = {
    "programs": "PROGRAM",
    "events": "EVENT",
    "reports": "REPORT",
    "subscriptions": "SUBSCRIPTION",
    "vens": "VEN",
    "resources": "RESOURCE",
}
KINDS: tuple[Kind, ...] = tuple(OBJECT_TYPES)


@dataclass(frozen=True)
class Change:
    """One write to the store, as handed to listeners (after the lock is released)."""

    kind: Kind
    operation: Operation
    object: JsonObject


Listener = Callable[[Change], None]


class VtnStore(Protocol):
    """What the VTN app and the dispatch channel need from storage."""

    def create(self, kind: Kind, body: JsonObject) -> JsonObject:
        """Store a new object; return it with the server-owned fields set."""
        ...

    def get(self, kind: Kind, object_id: str) -> JsonObject | None:
        """The object with ``object_id``, or None."""
        ...

    def list(self, kind: Kind) -> list[JsonObject]:
        """Every object of ``kind``, oldest first."""
        ...

    def replace(self, kind: Kind, object_id: str, body: JsonObject) -> JsonObject | None:
        """Replace an object's client fields (keeping id and creation time); None if absent."""
        ...

    def delete(self, kind: Kind, object_id: str) -> JsonObject | None:
        """Remove and return an object; None if absent."""
        ...

    def revision(self, kind: Kind, object_id: str) -> int | None:
        """The store-wide write counter at the object's last write; None if absent."""
        ...

    def wait_until(self, predicate: Callable[[], T | None], timeout_s: float) -> T | None:
        """Re-evaluate ``predicate`` after every write until it is truthy or time runs out."""
        ...

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener`` after every write (outside the store's lock)."""
        ...

    def remove_listener(self, listener: Listener) -> None:
        """Stop calling ``listener``."""
        ...


def _now() -> str:
    """The current UTC time in the spec's date-time form (RFC 3339, ``Z`` suffix)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class InMemoryVtnStore:
    """A thread-safe in-memory :class:`VtnStore`; objects are deep-copied in and out."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._objects: dict[Kind, dict[str, JsonObject]] = {kind: {} for kind in KINDS}
        self._revisions: dict[tuple[Kind, str], int] = {}
        self._counter = 0
        self._listeners: list[Listener] = []

    def create(self, kind: Kind, body: JsonObject) -> JsonObject:
        """Store a new object under a fresh id; return a copy with the server fields set."""
        stamp = _now()
        stored = copy.deepcopy(body)
        stored.update(
            id=str(uuid.uuid4()),
            createdDateTime=stamp,
            modificationDateTime=stamp,
            objectType=OBJECT_TYPES[kind],
        )
        with self._lock:
            self._objects[kind][stored["id"]] = stored
            self._bump(kind, stored["id"])
            result = copy.deepcopy(stored)
        self._notify(Change(kind, "POST", result))
        return copy.deepcopy(result)

    def get(self, kind: Kind, object_id: str) -> JsonObject | None:
        """A copy of the object with ``object_id``, or None."""
        with self._lock:
            found = self._objects[kind].get(object_id)
            return None if found is None else copy.deepcopy(found)

    def list(self, kind: Kind) -> list[JsonObject]:
        """Copies of every object of ``kind`` in creation order."""
        with self._lock:
            return [copy.deepcopy(o) for o in self._objects[kind].values()]

    def replace(self, kind: Kind, object_id: str, body: JsonObject) -> JsonObject | None:
        """Replace the client fields of an object; id and ``createdDateTime`` are kept."""
        with self._lock:
            old = self._objects[kind].get(object_id)
            if old is None:
                return None
            stored = copy.deepcopy(body)
            stored.update(
                id=object_id,
                createdDateTime=old["createdDateTime"],
                modificationDateTime=_now(),
                objectType=OBJECT_TYPES[kind],
            )
            self._objects[kind][object_id] = stored
            self._bump(kind, object_id)
            result = copy.deepcopy(stored)
        self._notify(Change(kind, "PUT", result))
        return copy.deepcopy(result)

    def delete(self, kind: Kind, object_id: str) -> JsonObject | None:
        """Remove an object and return it; None if it did not exist."""
        with self._lock:
            removed = self._objects[kind].pop(object_id, None)
            if removed is None:
                return None
            self._revisions.pop((kind, object_id), None)
            self._counter += 1
            self._changed.notify_all()
        self._notify(Change(kind, "DELETE", copy.deepcopy(removed)))
        return removed

    def revision(self, kind: Kind, object_id: str) -> int | None:
        """The write counter value at the object's last write."""
        with self._lock:
            return self._revisions.get((kind, object_id))

    def wait_until(self, predicate: Callable[[], T | None], timeout_s: float) -> T | None:
        """Block until ``predicate()`` is truthy (re-checked after each write) or the timeout."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                value = predicate()
                remaining = deadline - time.monotonic()
                if value or remaining <= 0:
                    return value
                self._changed.wait(remaining)

    def add_listener(self, listener: Listener) -> None:
        """Register ``listener`` for every later write."""
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        """Unregister ``listener`` (no error when it was not registered)."""
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _bump(self, kind: Kind, object_id: str) -> None:
        """Advance the write counter, record it for the object, wake waiters (lock held)."""
        self._counter += 1
        self._revisions[(kind, object_id)] = self._counter
        self._changed.notify_all()

    def _notify(self, change: Change) -> None:
        """Hand ``change`` to every listener; a failing listener is logged, never fatal."""
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(change)
            except Exception:  # a listener must not break the write that triggered it
                log.exception("VTN store listener failed on %s %s", change.operation, change.kind)
