"""The live service end to end, with real processes: a park enrolled through the API on a fresh
database (SQLite file, then a throw-away PostgreSQL database), real DE-LU prices uploaded, and one
delivery day driven through forecast -> bid -> approve -> submit -> awards -> dispatch -> settle
by ``POST /v1/parks/p1/pipeline/advance`` -- with the ``vpp serve`` process killed and started
again on the same database between every two calls, so nothing may live only in memory.

No timing assertions: the process start-up and the stages take what they take (bounded only by
generous time-outs so a hang fails instead of blocking the suite).
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from tests.api.conftest import postgres_database

pytestmark = [pytest.mark.slow]

SAMPLE = Path(__file__).resolve().parents[2] / "vpp" / "samples" / "sample_park" / "series.csv.gz"
DAY = date(2021, 5, 5)
TZ = "Europe/Berlin"
# config/pipeline.yaml (de-lu): forecast_at D-1 08:00; de-lu.yaml: gate 12:00, results 12:57;
# settle_after 120 min after the day ends. (The brief's 07:30 is before forecast_at: nothing due.)
FORECAST_AT = "2021-05-04T08:00:00+02:00"
APPROVE_AT = "2021-05-04T09:00:00+02:00"
SUBMIT_AT = "2021-05-04T09:00:00+02:00"
RESULTS_AT = "2021-05-04T13:00:00+02:00"
SETTLE_AT = "2021-05-06T03:00:00+02:00"
SERVER_TIMEOUT = httpx.Timeout(900.0, connect=10.0)

PARK = {
    "id": "p1",
    "name": "Live scenario park",
    "market_id": "de-lu",
    "import_limit_mw": 40.0,
    "export_limit_mw": 15.0,
    "enterprises": [
        {
            "id": "ent-a",
            "name": "Alpha Steel",
            "sites": [{"id": "a-works", "name": "Works", "connection_kva": 20000.0}],
        },
        {
            "id": "ent-b",
            "name": "Beta Storage",
            "sites": [{"id": "b-depot", "name": "Depot", "connection_kva": 5000.0}],
        },
    ],
}
ASSETS: dict[str, list[dict[str, Any]]] = {
    "ent-a": [
        {
            "spec": {"type": "battery", "id": "a-bat", "power_mw": 2.0, "energy_mwh": 4.0},
            "site_id": "a-works",
            "nominated_mw": 2.0,
        },
        {
            "spec": {
                "type": "curtailable_load",
                "id": "a-load",
                "max_curtail_mw": 3.0,
                "max_duration_min": 120,
            },
            "site_id": "a-works",
            "nominated_mw": 2.5,
        },
    ],
    "ent-b": [
        {
            "spec": {"type": "battery", "id": "b-bat", "power_mw": 1.0, "energy_mwh": 2.0},
            "site_id": "b-depot",
            "nominated_mw": 1.0,
        },
        {
            "spec": {
                "type": "battery",
                "id": "b-bat-unverified",
                "power_mw": 1.0,
                "energy_mwh": 2.0,
            },
            "site_id": "b-depot",
            "nominated_mw": 1.0,
        },
    ],
}
VERIFIED = {"a-bat", "a-load", "b-bat"}
UNVERIFIED = "b-bat-unverified"
CURTAILABLE = "a-load"


# -- the real service ----------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on loopback nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """``vpp serve --no-scheduler`` on one database, started and killed at will."""

    def __init__(self, url: str, workdir: Path) -> None:
        self.url = url
        self.workdir = workdir
        self.admin = {"X-API-Key": "live-admin-" + secrets.token_urlsafe(32)}
        self.jwt_secret = secrets.token_urlsafe(32)
        self.process: subprocess.Popen[bytes] | None = None
        self.base = ""
        self.starts = 0
        self.log = workdir / "serve-0.log"

    def start(self) -> None:
        port = free_port()
        self.starts += 1
        self.log = self.workdir / f"serve-{self.starts}.log"
        env = {
            **os.environ,
            "VPP_DATABASE_URL": self.url,
            "VPP_ADMIN_KEY": self.admin["X-API-Key"],
            "VPP_JWT_SECRET": self.jwt_secret,
            "VPP_RATE_LIMIT_PER_MINUTE": "100000",
            "VPP_LOG_LEVEL": "INFO",
        }
        for name in ("VPP_EXCHANGE_URL", "VPP_REDIS_URL", "VPP_DEVICES", "VPP_PARKS"):
            env.pop(name, None)  # a replay on a simulated exchange, recorded setpoints
        command = [sys.executable, "-m", "vpp", "serve", "--no-scheduler", "--port", str(port)]
        with self.log.open("wb") as sink:
            self.process = subprocess.Popen(command, env=env, stdout=sink, stderr=sink)
        self.base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=self.base, timeout=2) as client:
            for _ in range(480):  # up to ~2 min on a loaded machine
                if self.process.poll() is not None:
                    break
                try:
                    if client.get("/readyz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.25)
        self.stop()
        pytest.fail(f"vpp serve did not become ready:\n{self.log.read_text()[-4000:]}")

    def stop(self) -> None:
        """Kill the process (SIGKILL: no clean shutdown may be relied on)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=60)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def call(self, method: str, path: str, headers: dict[str, str], **kw: Any) -> httpx.Response:
        with httpx.Client(base_url=self.base, timeout=SERVER_TIMEOUT) as client:
            return client.request(method, path, headers=headers, **kw)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh SQLite file, then a fresh PostgreSQL database dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'live.sqlite'}"
        return
    with postgres_database() as url:
        yield url


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    running = Server(database_url, tmp_path)
    running.start()
    try:
        yield running
    finally:
        running.stop()


# -- the world -------------------------------------------------------------------------------------


def ok(answer: httpx.Response, *codes: int) -> Any:
    assert answer.status_code in (codes or (200,)), (
        answer.request.method,
        str(answer.request.url),
        answer.status_code,
        answer.text[:3000],
    )
    return answer.json() if answer.content else None


def sample() -> pd.DataFrame:
    frame = pd.read_csv(SAMPLE)
    frame.index = pd.to_datetime(frame["timestamp"], utc=True)
    return frame


def price_uploads(frame: pd.DataFrame) -> list[str]:
    """The canonical price CSVs of 2021-03-01..2021-05-10 (market-local days).

    The sample has no day-ahead price on 2021-04-30; an upload may hold no empty cell and no gap,
    so the day-ahead price goes up in two gap-free pieces and that day's FCR price on its own."""
    local = frame.index.tz_convert(TZ)
    days = pd.Series(local.date, index=frame.index)
    window = frame[(days >= date(2021, 3, 1)) & (days <= date(2021, 5, 10))]
    window = window.rename(columns={"da_price_per_mwh": "day_ahead_price_per_mwh"})
    full = window.dropna(subset=["day_ahead_price_per_mwh"])
    holes = window[window["day_ahead_price_per_mwh"].isna()]
    bodies = []
    step = pd.Timedelta(minutes=15)
    breaks = [0, *[k for k in range(1, len(full)) if full.index[k] - full.index[k - 1] != step]]
    for first, last in zip(breaks, [*breaks[1:], len(full)], strict=True):
        piece = full.iloc[first:last][["day_ahead_price_per_mwh", "fcr_price_per_mw_h"]]
        bodies.append(_csv(piece))
    if len(holes):
        bodies.append(_csv(holes[["fcr_price_per_mw_h"]]))
    return bodies


def _csv(frame: pd.DataFrame) -> str:
    lines = ["timestamp," + ",".join(frame.columns)]
    for ts, row in frame.iterrows():
        lines.append(ts.isoformat() + "," + ",".join(repr(float(v)) for v in row))
    return "\n".join(lines) + "\n"


def day_load(frame: pd.DataFrame) -> pd.Series:
    """The steel works' metered draw on delivery day D [MW, negative = consumption]."""
    local = frame.index.tz_convert(TZ)
    on_day = frame[pd.Series(local.date, index=frame.index) == DAY]
    return -on_day["steel_load_mw"].round(4)


class World:
    """Keys and what the setup found while enrolling."""

    def __init__(self) -> None:
        self.operator: dict[str, str] = {}
        self.tenants: dict[str, dict[str, str]] = {}
        self.telemetry: pd.Series = pd.Series(dtype="float64")
        self.price_rows = 0


def make_key(server: Server, role: str, enterprise_id: str | None = None) -> dict[str, str]:
    body = {
        "role": role,
        "label": f"live {role} {enterprise_id or ''}",
        "enterprise_id": enterprise_id,
    }
    created = ok(server.call("POST", "/v1/api-keys", server.admin, json=body), 201)
    return {"X-API-Key": created["key"]}


def build_world(server: Server) -> World:
    """Steps 2-4: park, keys, assets, contracts, consents, verification, prices, telemetry."""
    world = World()
    ok(server.call("PUT", "/v1/parks/p1", server.admin, json=PARK))
    world.operator = make_key(server, "operator")
    for enterprise in ("ent-a", "ent-b"):
        world.tenants[enterprise] = make_key(server, "enterprise", enterprise)

    for enterprise, assets in ASSETS.items():
        tenant = world.tenants[enterprise]
        for asset in assets:
            ok(server.call("POST", f"/v1/enterprises/{enterprise}/assets", tenant, json=asset), 201)
        contract = {
            "id": f"c-{enterprise}",
            "scheme": "percentage_split",
            "aggregator_share": 0.2,
            "currency": "EUR",
            "valid_from": "2021-01-01T00:00:00+01:00",
        }
        ok(
            server.call("POST", f"/v1/enterprises/{enterprise}/contracts", tenant, json=contract),
            201,
        )
        consent = {
            "asset_ids": [a["spec"]["id"] for a in assets],
            "agreed_by": f"energy manager of {enterprise}",
            "agreed_at": "2021-02-01T09:00:00+01:00",
            "contract_id": f"c-{enterprise}",
            "terms_version": "1",
            "products": ["da_energy"],
        }
        ok(server.call("POST", f"/v1/enterprises/{enterprise}/consents", tenant, json=consent), 201)

    for enterprise, assets in ASSETS.items():
        for asset in assets:
            asset_id = asset["spec"]["id"]
            if asset_id == UNVERIFIED:
                continue
            path = f"/v1/enterprises/{enterprise}/assets/{asset_id}"
            patched = ok(
                server.call("PATCH", path, world.operator, json={"verification": "passed"})
            )
            assert patched["verification"] == "passed", patched

    frame = sample()
    csv_type = {"Content-Type": "text/csv"}
    for body in price_uploads(frame):
        answer = ok(
            server.call(
                "POST", "/v1/markets/de-lu/prices", {**world.operator, **csv_type}, content=body
            )
        )
        assert answer["rows"] == body.count("\n") - 1, answer
        world.price_rows += answer["rows"]

    load = day_load(frame)
    assert len(load) == 96
    path = f"/v1/enterprises/ent-a/assets/{CURTAILABLE}/telemetry"
    tenant = {**world.tenants["ent-a"], **csv_type}
    rows = "".join(f"{ts.isoformat()},{v!r}\n" for ts, v in load.items())
    # the header of CONTRACTS.md "Live service"
    answer = server.call("POST", path, tenant, content="timestamp,power_mw\n" + rows)
    result = ok(answer)
    assert result["written"] == 96 and not result["rejected"], result
    world.telemetry = load
    return world


def read_telemetry(server: Server, world: World) -> pd.DataFrame:
    path = f"/v1/enterprises/ent-a/assets/{CURTAILABLE}/telemetry"
    params = {"start": "2021-05-05T00:00:00+02:00", "end": "2021-05-06T00:00:00+02:00"}
    points = ok(server.call("GET", path, world.tenants["ent-a"], params=params))
    frame = pd.DataFrame(points)
    frame.index = pd.to_datetime(frame["ts"], utc=True)
    return frame


def advance(server: Server, world: World, at: str, day: date = DAY) -> dict[str, Any]:
    body = {"day": day.isoformat(), "at": at}
    answer = server.call("POST", "/v1/parks/p1/pipeline/advance", world.operator, json=body)
    result = ok(answer)
    failed = [o for o in result["outcomes"] if o["status"] == "failed"]
    if day == DAY:
        assert not failed, (result, server.tail())
    return result


def statuses(result: dict[str, Any]) -> list[tuple[str, str]]:
    return [(o["stage"], o["status"]) for o in result["outcomes"]]


def job_runs(server: Server, world: World, run_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"run_id": run_id, "limit": 200}
        if cursor is not None:
            params["cursor"] = cursor
        page = ok(server.call("GET", "/v1/jobs/runs", world.operator, params=params))
        items.extend(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            return items


# -- the scenario --------------------------------------------------------------------------------


def test_one_delivery_day_survives_a_restart_between_every_call(server: Server) -> None:
    world = build_world(server)
    assert world.price_rows > 6000
    before = read_telemetry(server, world)
    assert set(before["quality"]) == {"measured"}

    # forecast, bid; the market's first bid set waits for an operator
    server.restart()
    first = advance(server, world, FORECAST_AT)
    run_id = first["run_id"]
    assert statuses(first) == [
        ("forecast", "succeeded"),
        ("bid", "succeeded"),
        ("approve", "waiting"),
    ], first
    assert first["status"] == "bid", first

    server.restart()
    approved = ok(
        server.call(
            "POST", f"/v1/pipeline/runs/{run_id}/approve", world.operator, params={"at": APPROVE_AT}
        )
    )
    assert "approve" in {s["stage"] for s in approved["stages"]}, approved

    server.restart()
    submitted = advance(server, world, SUBMIT_AT)
    assert statuses(submitted) == [("submit", "succeeded")], submitted

    server.restart()
    awarded = advance(server, world, RESULTS_AT)
    assert statuses(awarded)[:2] == [("awards", "succeeded"), ("dispatch", "succeeded")], awarded
    assert all(status in ("succeeded", "delivered") for _, status in statuses(awarded)), awarded

    server.restart()
    settled = advance(server, world, SETTLE_AT)
    assert statuses(settled) == [("settle", "succeeded")], settled
    assert settled["status"] == "settle", settled

    # an advance after everything is done runs nothing (and solves nothing again)
    server.restart()
    again = advance(server, world, SETTLE_AT)
    assert [o for o in again["outcomes"] if o["status"] != "delivered"] == [], again

    # -- what the API shows afterwards, from a fresh process --------------------------------------
    server.restart()
    op = world.operator
    bids = ok(server.call("GET", f"/v1/parks/p1/days/{DAY}/bids", op))
    assert sorted(bids["assets"]) == sorted(VERIFIED), bids["assets"]
    assert UNVERIFIED not in bids["assets"]
    assert bids["products"], bids
    assert any(
        step["quantity_mw"] > 0
        for curves in bids["products"].values()
        for curve in curves
        for step in curve["steps"]
    ), bids
    forecasts = ok(server.call("GET", f"/v1/parks/p1/days/{DAY}/forecasts", op))
    assert forecasts["forecasts"], forecasts
    assert all(f["intervals"] for f in forecasts["forecasts"].values()), forecasts
    awards = ok(server.call("GET", f"/v1/parks/p1/days/{DAY}/awards", op))
    assert awards["products"], awards
    setpoints = ok(server.call("GET", f"/v1/parks/p1/days/{DAY}/setpoints", op))
    assert setpoints["assets"], setpoints
    assert set(setpoints["assets"]) <= VERIFIED, setpoints["assets"].keys()
    assert all(a["setpoints"] for a in setpoints["assets"].values()), setpoints

    for enterprise, assets in ASSETS.items():
        listed = ok(
            server.call("GET", f"/v1/enterprises/{enterprise}/assets", world.tenants[enterprise])
        )
        shown = {a["id"]: a["verification"] for a in listed["items"]}
        for asset in assets:
            asset_id = asset["spec"]["id"]
            expected = "unverified" if asset_id == UNVERIFIED else "passed"
            assert shown[asset_id] == expected, (asset_id, shown)

    after = read_telemetry(server, world)
    assert list(after.index) == list(world.telemetry.index), "readings added or lost"
    assert set(after["quality"]) == {"measured"}, after["quality"].value_counts()
    assert after["power_mw"].tolist() == world.telemetry.tolist()
    assert after[["power_mw", "quality"]].equals(before[["power_mw", "quality"]])

    attempts = job_runs(server, world, run_id)
    assert not [a for a in attempts if a["status"] == "failed"], attempts
    succeeded: dict[str, int] = {}
    for attempt in attempts:
        if attempt["status"] == "succeeded":
            succeeded[attempt["stage"]] = succeeded.get(attempt["stage"], 0) + 1
    for stage in ("forecast", "bid", "approve", "submit", "awards", "dispatch", "settle"):
        assert succeeded.get(stage) == 1, (stage, succeeded, attempts)

    runs = ok(server.call("GET", "/v1/pipeline/runs", op, params={"park_id": "p1"}))
    (run,) = [r for r in runs if r["id"] == run_id]
    assert run["delivery_day"] == DAY.isoformat() and run["market_id"] == "de-lu", run
    assert run["receipt"], run
    assert run["status"] == "settle", run
    stages = {s["stage"]: s["detail"] for s in run["stages"]}
    assert stages["submit"].get("receipt") == run["receipt"], stages["submit"]
    assert set(stages) == {"forecast", "bid", "approve", "submit", "awards", "dispatch", "settle"}

    for enterprise in ("ent-a", "ent-b"):
        tenant = world.tenants[enterprise]
        listed = ok(server.call("GET", f"/v1/enterprises/{enterprise}/statements", tenant))
        items = listed["items"] if isinstance(listed, dict) else listed
        assert items, (enterprise, listed)
        for summary in items:
            assert summary["market_id"] == "de-lu", summary
            assert summary["period_start"] <= DAY.isoformat() <= summary["period_end"], summary
            one = ok(
                server.call(
                    "GET", f"/v1/enterprises/{enterprise}/statements/{summary['id']}", tenant
                )
            )
            assert one["enterprise_id"] == enterprise, one
        other = "ent-b" if enterprise == "ent-a" else "ent-a"
        denied = server.call("GET", f"/v1/enterprises/{other}/statements", tenant)
        assert denied.status_code in (403, 404), denied.text


def test_telemetry_upload_takes_the_contract_header(server: Server) -> None:
    """CONTRACTS.md "Live service": telemetry CSV with the header ``timestamp,power_mw``."""
    ok(server.call("PUT", "/v1/parks/p1", server.admin, json=PARK))
    tenant = make_key(server, "enterprise", "ent-a")
    ok(server.call("POST", "/v1/enterprises/ent-a/assets", tenant, json=ASSETS["ent-a"][1]), 201)
    body = "timestamp,power_mw\n2021-05-05T00:00:00+02:00,-1.5\n2021-05-05T00:15:00+02:00,-1.25\n"
    answer = server.call(
        "POST",
        f"/v1/enterprises/ent-a/assets/{CURTAILABLE}/telemetry",
        {**tenant, "Content-Type": "text/csv"},
        content=body,
    )
    assert ok(answer)["written"] == 2


def test_a_day_with_stale_prices_fails_its_forecast_visibly(server: Server) -> None:
    world = build_world(server)
    server.restart()
    # The uploaded prices end 2021-05-10: on 2021-07-01 the latest price known is 51 days old.
    day = date(2021, 7, 1)
    result = advance(server, world, "2021-06-30T08:00:00+02:00", day=day)
    assert result["outcomes"], result
    forecast = result["outcomes"][0]
    assert forecast["stage"] == "forecast" and forecast["status"] == "failed", result
    assert "day_ahead_price_per_mwh" in forecast["message"], forecast
    assert "days earlier" in forecast["message"] and "upload recent prices" in forecast["message"]

    server.restart()
    attempts = job_runs(server, world, result["run_id"])
    failed = [a for a in attempts if a["stage"] == "forecast" and a["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["message"] == forecast["message"], attempts
    alerts = ok(
        server.call("GET", "/v1/alerts", world.operator, params={"run_id": result["run_id"]})
    )
    assert [a["kind"] for a in alerts] == ["stage_failed"], alerts
    assert "forecast" in alerts[0]["message"] and "day_ahead_price_per_mwh" in alerts[0]["message"]
