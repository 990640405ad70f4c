"""The OpenADR 3.1.0 VTN and dispatch channel, in-process and against a third-party VEN.

The interop tests serve the VTN with uvicorn on a free loopback port and run a VEN written with
ElaadNL's ``openadr3-client`` (tests/adapters/openadr_ven_client.py) in ``.venv-ven``, a
Python 3.12 venv, because the client does not install on our 3.11. They skip, saying how to
build it, when that venv is absent. The other tests drive the app in-process through the
Starlette/httpx test client, and webhooks go to a tiny HTTP receiver on loopback. Nothing is
mocked; waits are bounded but no assertion depends on elapsed time.
"""

from __future__ import annotations

import base64
import json
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from adapters.dispatch.openadr3 import (
    ClientCredential,
    InMemoryVtnStore,
    OpenAdrChannel,
    OpenAdrTarget,
    Role,
    VtnServer,
    consumption_kw,
    create_vtn_app,
)
from vpp.domain.bids import Setpoint
from vpp.domain.ports import DispatchChannel

REPO = Path(__file__).resolve().parents[2]
VEN_PYTHON = REPO / ".venv-ven" / "bin" / "python"
VEN_SCRIPT = Path(__file__).with_name("openadr_ven_client.py")
PROGRAM = "parkvpp-dispatch"
CLIENTS = {
    "bl": ClientCredential("bl-secret", Role.BL),
    "ven-a": ClientCredential("ven-a-secret", Role.VEN),
    "ven-b": ClientCredential("ven-b-secret", Role.VEN),
}
DAY = datetime(2026, 11, 24, tzinfo=UTC)
POWER_MW = [1.5, -0.5, 0.0, 2.0]  # discharge, charge, idle, discharge


def setpoints(asset_id: str, powers: list[float], first: int = 0) -> list[Setpoint]:
    """Quarter-hourly setpoints from interval ``first`` of DAY."""
    return [
        Setpoint(
            asset_id=asset_id, interval_start=DAY + timedelta(minutes=15 * (first + i)), power_mw=p
        )
        for i, p in enumerate(powers)
    ]


def register_vens(store: InMemoryVtnStore) -> None:
    """VEN objects as a BL operator registers them: ven-a owns resource bat-1."""
    ven_a = store.create("vens", {"venName": "ven-a", "clientID": "ven-a"})
    store.create("vens", {"venName": "ven-b", "clientID": "ven-b"})
    store.create("resources", {"resourceName": "bat-1", "venID": ven_a["id"], "clientID": "ven-a"})


def channel(store: InMemoryVtnStore, timeout_s: float) -> OpenAdrChannel:
    """The channel: battery bat-1 on ven-a's resource, furnace on ven-b."""
    return OpenAdrChannel(
        store,
        {
            "bat-1": OpenAdrTarget("ven-a", PROGRAM, resource_name="bat-1"),
            "furnace-2": OpenAdrTarget("ven-b", PROGRAM),
        },
        confirm_timeout_s=timeout_s,
    )


def token(client: TestClient, client_id: str, secret: str) -> dict[str, str]:
    """Authorization header for ``client_id`` (client credentials via HTTP Basic)."""
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    response = client.post(
        "/auth/token",
        content="grant_type=client_credentials",
        headers={
            "Authorization": f"Basic {basic}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
def store() -> InMemoryVtnStore:
    """A fresh store with ven-a (resource bat-1) and ven-b registered."""
    fresh = InMemoryVtnStore()
    register_vens(fresh)
    return fresh


@pytest.fixture
def api(store: InMemoryVtnStore) -> Iterator[TestClient]:
    """The VTN app in-process, lifespan running (so webhooks are live)."""
    with TestClient(create_vtn_app(store, CLIENTS, webhook_timeout_s=2.0)) as client:
        yield client


# --- third-party VEN (openadr3-client in .venv-ven) -------------------------------------------


@pytest.fixture(scope="module")
def ven_python() -> Path:
    """The 3.12 interpreter with openadr3-client; skip with how to build it when absent."""
    how = "build it with `make ven-venv` (python3.12 -m venv .venv-ven && pip install openadr3-client)"
    if not VEN_PYTHON.exists():
        pytest.skip(f".venv-ven is absent; {how}")
    check = subprocess.run(
        [str(VEN_PYTHON), "-c", "import openadr3_client"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if check.returncode != 0:
        pytest.skip(f"openadr3-client does not import in .venv-ven; {how}: {check.stderr[-300:]}")
    return VEN_PYTHON


@pytest.fixture
def served(store: InMemoryVtnStore) -> Iterator[str]:
    """The VTN served by uvicorn on a free loopback port; yields the base URL."""
    with VtnServer(create_vtn_app(store, CLIENTS)) as server:
        yield server.base_url


def start_ven(python: Path, mode: str, base_url: str, client_id: str, secret: str, *extra: str):
    """Start the third-party VEN script; returns the process (stdout/stderr piped)."""
    return subprocess.Popen(
        [
            str(python),
            str(VEN_SCRIPT),
            mode,
            "--base-url",
            base_url,
            "--client-id",
            client_id,
            "--client-secret",
            secret,
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> dict[str, Any]:
    """Wait (bounded) for the VEN script and parse its JSON line."""
    try:
        out, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"the VEN script did not finish: {err[-2000:]}")
    assert process.returncode == 0, err[-2000:]
    lines = [line for line in out.splitlines() if line.strip()]
    assert lines, f"no output from the VEN script; stderr: {err[-2000:]}"
    return json.loads(lines[-1])


def test_third_party_ven_receives_dispatch_and_confirms(
    ven_python: Path, served: str, store: InMemoryVtnStore
) -> None:
    ven = start_ven(
        ven_python, "dispatch", served, "ven-a", "ven-a-secret", "--program-name", PROGRAM
    )
    try:
        confirmed = channel(store, timeout_s=30.0).send(setpoints("bat-1", POWER_MW))
    finally:
        result = finish(ven)

    assert "error" not in result, result
    assert confirmed == ["bat-1"]
    assert result["program"]["programName"] == PROGRAM
    [event] = result["events"]
    assert event["targets"] == ["bat-1"]
    assert event["payloadDescriptors"] == [{"payloadType": "DISPATCH_SETPOINT", "units": "KW"}]
    starts = [datetime.fromisoformat(i["period"]["start"]) for i in event["intervals"]]
    assert starts == [DAY + timedelta(minutes=15 * i) for i in range(len(POWER_MW))]
    assert {i["period"]["duration_s"] for i in event["intervals"]} == {900.0}
    values = [i["payloads"][0]["values"][0] for i in event["intervals"]]
    # consumption in kW: discharging 1.5 MW is -1500 kW, charging 0.5 MW is +500 kW
    assert values == [-1500.0, 500.0, 0.0, -2000.0]
    assert {i["payloads"][0]["type"] for i in event["intervals"]} == {"DISPATCH_SETPOINT"}

    [report] = store.list("reports")
    assert report["id"] == result["reports"][0]
    assert report["eventID"] == event["id"]
    assert report["clientID"] == "ven-a"
    echoed = [i["payloads"][0]["values"][0] for i in report["resources"][0]["intervals"]]
    assert echoed == values


def test_third_party_ven_with_wrong_secret_is_refused(ven_python: Path, served: str) -> None:
    result = finish(start_ven(ven_python, "probe", served, "ven-a", "not-the-secret"))
    assert result.get("list_status") == 401, result
    raw = httpx.post(
        f"{served}/auth/token",
        data={"grant_type": "client_credentials"},
        auth=("ven-a", "not-the-secret"),
    )
    assert raw.status_code == 401
    assert raw.json()["error"] == "invalid_client"


def test_third_party_ven_cannot_read_another_vens_event(
    ven_python: Path, served: str, store: InMemoryVtnStore
) -> None:
    assert channel(store, timeout_s=0.0).send(setpoints("bat-1", POWER_MW)) == []
    [event] = store.list("events")

    other = finish(
        start_ven(ven_python, "probe", served, "ven-b", "ven-b-secret", "--event-id", event["id"])
    )
    owner = finish(
        start_ven(ven_python, "probe", served, "ven-a", "ven-a-secret", "--event-id", event["id"])
    )
    assert other == {"visible_event_ids": [], "get_status": 403}
    assert owner == {"visible_event_ids": [event["id"]], "get_status": 200}


# --- in-process: auth, validation, targeting --------------------------------------------------


def test_token_endpoint_follows_client_credentials(api: TestClient) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    ok = api.post(
        "/auth/token",
        content="grant_type=client_credentials&client_id=bl&client_secret=bl-secret",
        headers=form,
    )
    assert ok.status_code == 200
    assert ok.json()["token_type"] == "Bearer"
    assert api.get("/auth/server").json()["tokenURL"].endswith("/auth/token")
    wrong_grant = api.post("/auth/token", content="grant_type=password", headers=form)
    assert wrong_grant.status_code == 400
    assert wrong_grant.json()["error"] == "unsupported_grant_type"
    missing = api.get("/events")
    assert missing.status_code == 401
    assert missing.json()["status"] == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    forged = api.get("/events", headers={"Authorization": "Bearer not.a.jwt"})
    assert forged.status_code == 401


def test_malformed_event_is_a_400_problem_naming_the_fields(api: TestClient) -> None:
    bl = token(api, "bl", "bl-secret")
    program = api.post("/programs", json={"programName": PROGRAM}, headers=bl)
    assert program.status_code == 201
    program_id = program.json()["id"]

    bad = api.post(
        "/events",
        headers=bl,
        json={
            "programID": program_id,
            "intervals": [
                {
                    "id": 0,
                    "intervalPeriod": {"start": "tomorrow", "duration": "PT15M"},
                    "payloads": [],
                }
            ],
        },
    )
    assert bad.status_code == 400
    assert bad.headers["content-type"].startswith("application/problem+json")
    problem = bad.json()
    assert problem["title"] == "Bad Request"
    assert problem["instance"] == "/events"
    assert "intervals.0.intervalPeriod.start" in problem["detail"]
    assert "intervals.0.payloads" in problem["detail"]

    typo = api.post("/events", headers=bl, json={"programID": program_id, "interval": []})
    assert typo.status_code == 400
    assert "intervals: Field required" in typo.json()["detail"]
    assert "interval: Extra inputs are not permitted" in typo.json()["detail"]

    unplaced = api.post(
        "/events",
        headers=bl,
        json={
            "programID": program_id,
            "intervals": [{"id": 0, "payloads": [{"type": "DISPATCH_SETPOINT", "values": [1]}]}],
        },
    )
    assert unplaced.status_code == 400
    assert "no intervalPeriod" in unplaced.json()["detail"]

    orphan = api.post(
        "/events",
        headers=bl,
        json={
            "programID": "no-such-program",
            "intervalPeriod": {"start": "2026-11-24T00:00:00Z", "duration": "PT15M"},
            "intervals": [{"id": 0, "payloads": [{"type": "DISPATCH_SETPOINT", "values": [1]}]}],
        },
    )
    assert orphan.status_code == 400
    assert "does not name a program" in orphan.json()["detail"]

    not_json = api.post(
        "/events", headers={**bl, "Content-Type": "application/json"}, content="{nope"
    )
    assert not_json.status_code == 400
    assert "not valid JSON" in not_json.json()["detail"]

    bad_limit = api.get("/events", params={"limit": 500}, headers=bl)
    assert bad_limit.status_code == 400
    assert "limit" in bad_limit.json()["detail"]

    unknown = api.get("/events/nope", headers=bl)
    assert unknown.status_code == 404
    assert unknown.json()["status"] == 404

    duplicate = api.post("/programs", json={"programName": PROGRAM}, headers=bl)
    assert duplicate.status_code == 409


def test_roles_and_targeting_are_enforced(api: TestClient, store: InMemoryVtnStore) -> None:
    bl = token(api, "bl", "bl-secret")
    ven_a = token(api, "ven-a", "ven-a-secret")
    ven_b = token(api, "ven-b", "ven-b-secret")
    program_id = api.post("/programs", json={"programName": PROGRAM}, headers=bl).json()["id"]
    event = {
        "programID": program_id,
        "eventName": "for bat-1",
        "targets": ["bat-1"],
        "intervalPeriod": {"start": "2026-11-24T00:00:00Z", "duration": "PT15M"},
        "intervals": [{"id": 0, "payloads": [{"type": "DISPATCH_SETPOINT", "values": [-1500]}]}],
    }
    assert api.post("/events", json=event, headers=ven_a).status_code == 403
    created = api.post("/events", json=event, headers=bl)
    assert created.status_code == 201
    body = created.json()
    assert body["objectType"] == "EVENT"
    assert body["intervalPeriod"]["duration"] == "PT15M"
    assert {"id", "createdDateTime", "modificationDateTime"} <= body.keys()
    event_id = body["id"]

    assert [e["id"] for e in api.get("/events", headers=ven_a).json()] == [event_id]
    assert api.get("/events", headers=ven_b).json() == []
    assert api.get(f"/events/{event_id}", headers=ven_b).status_code == 403
    assert api.get("/events", params={"targets": "bat-1"}, headers=bl).json()[0]["id"] == event_id
    assert api.get("/events", params={"targets": "other"}, headers=bl).json() == []

    report = {
        "eventID": event_id,
        "clientName": "ven-b",
        "resources": [
            {
                "resourceName": "bat-1",
                "intervals": [{"id": 0, "payloads": [{"type": "SETPOINT", "values": [0]}]}],
            }
        ],
    }
    assert api.post("/reports", json=report, headers=ven_b).status_code == 403
    assert api.post("/reports", json=report, headers=bl).status_code == 403
    stored = api.post("/reports", json={**report, "clientName": "ven-a"}, headers=ven_a)
    assert stored.status_code == 201
    assert stored.json()["clientID"] == "ven-a"
    assert stored.json()["programID"] == program_id
    assert api.get("/reports", headers=ven_b).json() == []
    assert len(api.get("/reports", params={"eventID": event_id}, headers=bl).json()) == 1

    # A VEN registering itself cannot give itself targets or another client's id.
    own = api.post(
        "/vens", json={"venName": "ven-c", "targets": ["bat-1"], "clientID": "bl"}, headers=ven_b
    )
    assert own.status_code == 201
    assert own.json()["clientID"] == "ven-b"
    assert "targets" not in own.json()
    assert {v["venName"] for v in api.get("/vens", headers=ven_b).json()} == {"ven-b", "ven-c"}
    assert len(store.list("vens")) == 3


# --- in-process: channel ------------------------------------------------------------------------


def test_channel_is_a_dispatch_channel_and_converts_sign_and_units() -> None:
    assert isinstance(channel(InMemoryVtnStore(), 0.0), DispatchChannel)
    assert consumption_kw(1.5) == -1500.0  # discharge/export: negative consumption
    assert consumption_kw(-0.25) == 250.0  # charging: positive consumption
    assert str(consumption_kw(0.0)) == "0.0"


def test_channel_merges_updates_and_ignores_stale_reports(
    api: TestClient, store: InMemoryVtnStore
) -> None:
    ven_a = token(api, "ven-a", "ven-a-secret")
    dispatch = channel(store, timeout_s=0.0)
    sent = [
        *setpoints("bat-1", POWER_MW),
        *setpoints("ghost", [1.0]),
        *setpoints("furnace-2", [-3.0]),
    ]
    assert dispatch.send(sent) == []  # nobody has reported yet; ghost is not mapped at all
    events = {e["eventName"]: e for e in store.list("events")}
    assert set(events) == {"parkvpp/bat-1/2026-11-24", "parkvpp/furnace-2/2026-11-24"}
    assert events["parkvpp/furnace-2/2026-11-24"]["targets"] == ["ven-b"]
    assert events["parkvpp/furnace-2/2026-11-24"]["intervals"][0]["payloads"][0]["values"] == [
        3000.0
    ]
    event_id = events["parkvpp/bat-1/2026-11-24"]["id"]

    def report(values: list[float]) -> None:
        intervals = [
            {"id": i, "payloads": [{"type": "SETPOINT", "values": [v]}]}
            for i, v in enumerate(values)
        ]
        body = {
            "eventID": event_id,
            "clientName": "ven-a",
            "resources": [{"resourceName": "bat-1", "intervals": intervals}],
        }
        assert api.post("/reports", json=body, headers=ven_a).status_code == 201

    report([-1500.0])  # acknowledges the first version of the event ...
    # ... but a re-dispatch rewrites it, so that report is stale and does not confirm.
    assert dispatch.send(setpoints("bat-1", [0.5, 0.5], first=4)) == []
    [merged] = [e for e in store.list("events") if e["id"] == event_id]
    values = [i["payloads"][0]["values"][0] for i in merged["intervals"]]
    assert values == [-1500.0, 500.0, 0.0, -2000.0, -500.0, -500.0]
    assert len(store.list("events")) == 2

    # A report arriving while send waits confirms the asset; furnace-2's VEN stays silent.
    revision = store.revision("events", event_id) or 0
    waiting = channel(store, timeout_s=20.0)

    def ven_acknowledges() -> None:
        store.wait_until(lambda: (store.revision("events", event_id) or 0) > revision, 20.0)
        report([-1500.0])

    responder = threading.Thread(target=ven_acknowledges)
    responder.start()
    try:
        confirmed = waiting.send(setpoints("bat-1", [1.5], first=0))
    finally:
        responder.join(30)
    assert confirmed == ["bat-1"]
    assert channel(store, timeout_s=0.0).send(setpoints("furnace-2", [-3.0])) == []


# --- in-process: webhooks -------------------------------------------------------------------


class Receiver:
    """A loopback HTTP server that records POSTed JSON bodies and their Authorization headers."""

    def __init__(self) -> None:
        self.received: list[tuple[str | None, dict[str, Any]]] = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                with receiver.arrived:
                    receiver.received.append((self.headers.get("Authorization"), body))
                    receiver.arrived.notify_all()
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Keep the test output quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for(self, count: int, timeout_s: float = 10.0) -> list[tuple[str | None, dict]]:
        """The first ``count`` notifications, waiting (bounded) for them to arrive."""
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.received) >= count, timeout_s)
            return list(self.received)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A running webhook receiver, shut down after the test."""
    running = Receiver()
    running.thread.start()
    try:
        yield running
    finally:
        running.server.shutdown()
        running.server.server_close()
        running.thread.join(5)


def test_subscriptions_post_notifications_to_webhooks(
    api: TestClient, store: InMemoryVtnStore, receiver: Receiver
) -> None:
    bl = token(api, "bl", "bl-secret")
    ven_a = token(api, "ven-a", "ven-a-secret")
    ven_b = token(api, "ven-b", "ven-b-secret")
    program_id = api.post("/programs", json={"programName": PROGRAM}, headers=bl).json()["id"]
    dead = "http://127.0.0.1:9/unreachable"  # discard port: nothing listens, delivery fails
    subscription = {
        "clientName": "ven-a",
        "programID": program_id,
        "objectOperations": [
            {
                "objects": ["EVENT"],
                "operations": ["POST", "PUT"],
                "callbackUrl": receiver.url,
                "bearerToken": "hook-secret",
            },
            {"objects": ["EVENT"], "operations": ["POST"], "callbackUrl": dead},
        ],
    }
    created = api.post("/subscriptions", json=subscription, headers=ven_a)
    assert created.status_code == 201
    assert created.json()["clientID"] == "ven-a"
    # ven-b subscribes too, but must not hear of events targeted at ven-a's resource.
    snooping = {
        "clientName": "ven-b",
        "objectOperations": [
            {
                "objects": ["EVENT"],
                "operations": ["POST", "PUT"],
                "callbackUrl": receiver.url,
                "bearerToken": "ven-b-hook",
            }
        ],
    }
    assert api.post("/subscriptions", json=snooping, headers=ven_b).status_code == 201
    malformed = api.post(
        "/subscriptions", json={**subscription, "objectOperations": []}, headers=ven_a
    )
    assert malformed.status_code == 400
    assert "objectOperations" in malformed.json()["detail"]

    # An event over HTTP, then an in-process re-dispatch of it by the channel.
    event = api.post(
        "/events",
        headers=bl,
        json={
            "programID": program_id,
            "eventName": "parkvpp/bat-1/2026-11-24",
            "targets": ["bat-1"],
            "intervalPeriod": {"start": "2026-11-24T00:00:00Z", "duration": "PT15M"},
            "intervals": [{"id": 0, "payloads": [{"type": "DISPATCH_SETPOINT", "values": [0]}]}],
        },
    )
    assert event.status_code == 201  # the dead callback does not fail the write
    assert channel(store, timeout_s=0.0).send(setpoints("bat-1", [1.0])) == []

    receiver.wait_for(2)
    api.app.state.notifier.close()  # waits for every queued delivery (each bounded)
    # Deliveries run concurrently, so order by operation rather than by arrival.
    notes = sorted(receiver.received, key=lambda note: note[1]["operation"])
    assert [(auth, n["objectType"], n["operation"]) for auth, n in notes] == [
        ("Bearer hook-secret", "EVENT", "POST"),
        ("Bearer hook-secret", "EVENT", "PUT"),
    ]
    posted, put = notes[0][1], notes[1][1]
    assert posted["object"]["id"] == event.json()["id"]
    assert put["object"]["intervals"][0]["payloads"][0]["values"] == [-1000.0]
    assert put["targets"] == ["bat-1"]
