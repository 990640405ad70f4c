"""The scheduler on a real job store, and the pipeline as operators see it through the API."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import pandas as pd
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from tests.api.conftest import build_client, make_key
from tests.jobs.conftest import DAY, MakePipeline
from vpp.db.engine import session_scope
from vpp.db.job_tables import SchedulerJobRow
from vpp.domain.ports import FixedClock
from vpp.jobs.alerts import Alerter
from vpp.jobs.scheduler import start_scheduler


def _wait_for(condition: Any, seconds: float = 600.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.postgres
def test_the_scheduler_stores_its_jobs_and_runs_the_pipeline_on_postgresql(
    make_pipeline: MakePipeline, pg_engine: Engine
) -> None:
    pipeline = make_pipeline(engine=pg_engine)
    clock = FixedClock(pipeline.times(DAY).forecast_at)
    scheduler = start_scheduler(
        pg_engine, [pipeline], clock=clock, tick_seconds=0.2, live=False, name="pg-test"
    )
    try:
        assert _wait_for(lambda: "bid" in pipeline.done(DAY)), "the tick never ran the pipeline"
    finally:
        scheduler.shutdown(wait=True)
    with session_scope(pg_engine) as session:
        stored = {row.id for row in session.exec(select(SchedulerJobRow)).all()}
    assert stored == {"pg-test:tick"}

    # restarted live, the same store holds the tick plus the market's cron jobs, once each
    again = start_scheduler(pg_engine, [pipeline], clock=clock, live=True, name="pg-test")
    try:
        ids = sorted(job.id for job in again.get_jobs())
    finally:
        again.shutdown(wait=False)
    assert ids == sorted(
        [
            "pg-test:tick",
            "pg-test:de-lu:haute-borne-park:forecast",
            "pg-test:de-lu:haute-borne-park:alert",
            "pg-test:de-lu:haute-borne-park:results",
        ]
    )


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    _Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/alerts"
    server.shutdown()
    server.server_close()
    thread.join()


def test_operators_follow_and_approve_the_run_through_the_api(
    make_pipeline: MakePipeline, engine: Engine, webhook: str
) -> None:
    pipeline = make_pipeline(alerter=Alerter(engine, webhook))
    times = pipeline.times(DAY)
    pipeline.advance(DAY, times.forecast_at)
    pipeline.advance(DAY, times.alert_at)  # still waiting: the deadline alert goes out
    assert [a["kind"] for a in _Receiver.received] == ["deadline_risk"]

    with build_client(str(engine.url)) as client:
        _, operator_key = make_key(client, "operator")
        _, tenant_key = make_key(client, "enterprise", "cellco")
        operator = {"X-API-Key": operator_key}
        run_id = pipeline.run_id(DAY)

        (run,) = client.get("/v1/pipeline/runs", headers=operator).json()
        assert run["id"] == run_id and run["next_stage"] == "approve"
        assert [s["stage"] for s in run["stages"]] == ["forecast", "bid"]
        waiting = client.get(
            "/v1/jobs/runs", params={"status": "waiting"}, headers=operator
        ).json()["items"]
        assert waiting[0]["stage"] == "approve" and "operator" in waiting[0]["message"]
        alerts = client.get("/v1/alerts", headers=operator).json()
        assert alerts[0]["kind"] == "deadline_risk" and alerts[0]["webhook_status"] == "204"

        tenant = client.post(
            f"/v1/pipeline/runs/{run_id}/approve", headers={"X-API-Key": tenant_key}
        )
        assert tenant.status_code == 403
        # the replayed day's gate closed years ago: approval now is refused, and says why
        late = client.post(f"/v1/pipeline/runs/{run_id}/approve", headers=operator)
        assert late.status_code == 409 and "too late" in late.json()["detail"]
        missing = client.get("/v1/pipeline/runs/nope", headers=operator)
        assert missing.status_code == 404


def test_an_operator_rejects_bids_with_a_reason_and_the_day_is_bid_again(
    make_pipeline: MakePipeline, engine: Engine
) -> None:
    pipeline = make_pipeline()
    times = pipeline.times(DAY)
    pipeline.advance(DAY, times.forecast_at)
    first_offer = pipeline.done(DAY)["bid"]["offered_mwh"]
    run_id = pipeline.run_id(DAY)
    at = (times.forecast_at + pd.Timedelta(minutes=30)).isoformat()
    with build_client(str(engine.url)) as client:
        _, operator_key = make_key(client, "operator")
        _, tenant_key = make_key(client, "enterprise", "cellco")
        operator = {"X-API-Key": operator_key}
        url = f"/v1/pipeline/runs/{run_id}/reject"

        tenant = client.post(url, json={"reason": "x", "at": at}, headers={"X-API-Key": tenant_key})
        assert tenant.status_code == 403
        empty = client.post(url, json={"reason": "", "at": at}, headers=operator)
        assert empty.status_code == 422
        late = client.post(
            url, json={"reason": "too much", "at": times.gate_closure.isoformat()}, headers=operator
        )
        assert late.status_code == 409 and "too late" in late.json()["detail"]

        rejected = client.post(
            url, json={"reason": "battery b1 is in maintenance", "at": at}, headers=operator
        )
        assert rejected.status_code == 200, rejected.text
        run = rejected.json()
        assert run["next_stage"] == "bid" and [s["stage"] for s in run["stages"]] == ["forecast"]
        again = client.post(url, json={"reason": "twice", "at": at}, headers=operator)
        assert again.status_code == 409  # nothing in review any more

        audit = client.get("/v1/audit", params={"action": "bids.reject"}, headers=operator)
        (entry,) = [e for e in audit.json()["items"] if e["action"] == "bids.reject"]
        assert entry["after"]["reason"] == "battery b1 is in maintenance"
        jobs = client.get("/v1/jobs/runs", params={"status": "rejected"}, headers=operator)
        assert "battery b1 is in maintenance" in jobs.json()["items"][0]["message"]

    # the next advance bids again, and the new bid set waits in review once more
    outcomes = pipeline.advance(DAY, times.forecast_at + pd.Timedelta(minutes=31))
    assert [(o.stage, o.status) for o in outcomes] == [("bid", "succeeded"), ("approve", "waiting")]
    assert pipeline.done(DAY)["bid"]["offered_mwh"] == pytest.approx(first_offer)
