"""Alerts: a log entry, a row in the ``alerts`` table, and a JSON POST to a webhook when set.

A webhook that fails or times out never stops the pipeline: the failure is logged and stored
next to the alert (``webhook_status``), so an operator can see that nobody was paged.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import httpx
from sqlalchemy.engine import Engine

from vpp.db.engine import session_scope
from vpp.db.job_tables import AlertRow

log = logging.getLogger(__name__)


class Alerter:
    """Raises alerts for the pipeline; ``webhook_url`` is optional."""

    def __init__(
        self, engine: Engine, webhook_url: str | None = None, *, timeout_s: float = 5.0
    ) -> None:
        self.engine = engine
        self.webhook_url = webhook_url
        self.timeout_s = timeout_s

    def raise_alert(
        self, kind: str, message: str, *, run_id: str | None = None, at: datetime | None = None
    ) -> AlertRow:
        """Log, store and (when configured) post one alert; return the stored row."""
        at = at or datetime.now(UTC)
        log.warning("ALERT %s%s: %s", kind, f" [{run_id}]" if run_id else "", message)
        status = self._post(kind, message, run_id, at) if self.webhook_url else None
        row = AlertRow(at=at, kind=kind, run_id=run_id, message=message, webhook_status=status)
        with session_scope(self.engine) as session:
            session.add(row)
        return row

    def _post(self, kind: str, message: str, run_id: str | None, at: datetime) -> str:
        assert self.webhook_url is not None
        payload = {"kind": kind, "run_id": run_id, "message": message, "at": at.isoformat()}
        try:
            response = httpx.post(self.webhook_url, json=payload, timeout=self.timeout_s)
        except httpx.HTTPError as exc:
            log.error("alert webhook %s failed: %s", self.webhook_url, exc)
            return f"failed: {type(exc).__name__}"
        if response.is_error:
            log.error("alert webhook %s answered %s", self.webhook_url, response.status_code)
        return str(response.status_code)
