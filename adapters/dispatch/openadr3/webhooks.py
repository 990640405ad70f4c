"""Webhook delivery for OpenADR 3 subscriptions.

A subscription lists object types (``EVENT``, ``PROGRAM`` ...), operations (``POST``, ``PUT``,
``DELETE``) and a callback URL, optionally narrowed to one program and to targets. The notifier
listens to the VTN store, so writes made over HTTP and writes made in-process by the dispatch
channel both notify. Each matching callback receives a POST of the spec's notification object
``{objectType, operation, object, targets}`` with the subscription's bearer token, sent from a
small thread pool with a bounded timeout: a slow or dead receiver delays nobody, and a failed
delivery is logged and dropped (OpenADR 3 has no delivery guarantee; VENs also poll). A
subscription only hears about objects its owner could read (``can_see``), so a VEN cannot learn
of another VEN's events through a webhook. Deliveries run concurrently, so two notifications to
one callback may arrive out of order; receivers order them by ``modificationDateTime``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx

from adapters.dispatch.openadr3.store import OBJECT_TYPES, Change, JsonObject, Kind, VtnStore

log = logging.getLogger(__name__)

#: ``can_see(client_id, kind, obj)``: may the subscription's owner read ``obj``?
Visibility = Callable[[str, Kind, JsonObject], bool]


def _matches(subscription: dict[str, Any], change: Change, object_type: str) -> list[str]:
    """Callback URLs of ``subscription`` that ``change`` triggers (empty when none)."""
    program_id = subscription.get("programID")
    if program_id and change.object.get("programID", change.object.get("id")) != program_id:
        return []
    wanted_targets = subscription.get("targets") or []
    object_targets = change.object.get("targets") or []
    if wanted_targets and object_targets and not set(wanted_targets) & set(object_targets):
        return []
    return [
        op["callbackUrl"]
        for op in subscription.get("objectOperations", [])
        if object_type in op.get("objects", []) and change.operation in op.get("operations", [])
    ]


class WebhookNotifier:
    """Posts notifications for store changes to subscribed callback URLs."""

    def __init__(
        self,
        store: VtnStore,
        *,
        can_see: Visibility | None = None,
        timeout_s: float = 2.0,
        workers: int = 4,
    ) -> None:
        self._store = store
        self._can_see = can_see
        self._client = httpx.Client(timeout=httpx.Timeout(timeout_s))
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vtn-webhook")
        self._pending: set[Future[None]] = set()
        self._lock = threading.Lock()
        self._closed = False
        store.add_listener(self.on_change)

    def on_change(self, change: Change) -> None:
        """Queue one POST per callback the change triggers (subscription writes excepted)."""
        if self._closed:
            return
        object_type = OBJECT_TYPES[change.kind]
        for subscription in self._store.list("subscriptions"):
            if change.kind == "subscriptions" and change.object.get("id") == subscription["id"]:
                continue  # a subscription is not told about its own creation
            owner = subscription.get("clientID")
            if self._can_see is not None and not (
                owner and self._can_see(owner, change.kind, change.object)
            ):
                continue
            for url in _matches(subscription, change, object_type):
                notification = {
                    "objectType": object_type,
                    "operation": change.operation,
                    "object": change.object,
                    "targets": change.object.get("targets") or [],
                }
                token = next(
                    (
                        op.get("bearerToken")
                        for op in subscription["objectOperations"]
                        if op["callbackUrl"] == url
                    ),
                    None,
                )
                self._submit(url, notification, token)

    def _submit(self, url: str, notification: dict[str, Any], token: str | None) -> None:
        """Queue a delivery and remember it until it is done."""
        with self._lock:
            if self._closed:
                return
            future = self._pool.submit(self._deliver, url, notification, token)
            self._pending.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

    def _deliver(self, url: str, notification: dict[str, Any], token: str | None) -> None:
        """POST one notification; failures are logged, never raised."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            response = self._client.post(url, json=notification, headers=headers)
            if response.status_code >= 400:
                log.warning("webhook %s answered HTTP %s", url, response.status_code)
        except httpx.HTTPError as exc:
            log.warning("webhook %s failed: %s", url, exc)

    def close(self) -> None:
        """Stop listening, finish queued deliveries (each bounded by the timeout), close HTTP."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._store.remove_listener(self.on_change)
        self._pool.shutdown(wait=True)
        self._client.close()
