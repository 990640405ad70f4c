"""A pipeline day dispatched to real protocol peers on loopback, through a bindings file.

The sample park's batteries answer as SunSpec devices over Modbus TCP, its cooling and ovens
sit behind an MQTT site gateway on the local Mosquitto, the charger depot is an OCPP 2.0.1
station connected to our central system, and the steel plant's energy manager is an OpenADR 3
VEN polling our VTN over HTTP. Nothing is mocked; the pipeline sees one routed channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from ocpp.routing import on
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.datatypes import ChargingStationType
from ocpp.v201.enums import Action, BootReasonEnumType, ChargingProfileStatusEnumType
from sqlalchemy.engine import Engine
from sqlmodel import select
from websockets.asyncio.client import connect

from adapters.dispatch.bindings import DeviceNetwork, load_bindings
from adapters.dispatch.mqtt_gateway_sim import GatewaySimulator
from adapters.dispatch.recording import RecordingChannel
from adapters.dispatch.sunspec_server import SimulatedDeviceConfig, SimulatorThread, SunSpecServer
from tests.jobs.conftest import DAY, MakePipeline
from vpp.db.engine import session_scope
from vpp.db.job_tables import OutboxRow
from vpp.domain.errors import AdapterError

AUTO = {"enabled": True, "without_reference": "approve"}


class _Station(ChargePoint):  # type: ignore[misc]
    """A charging station that accepts the station-wide profile only."""

    received: list[dict[str, Any]]

    @on(Action.set_charging_profile)  # type: ignore[untyped-decorator]
    async def on_set_charging_profile(
        self, evse_id: int, charging_profile: dict[str, Any], **_: Any
    ) -> call_result.SetChargingProfile:
        self.received.append(charging_profile)
        accepted = charging_profile["charging_profile_purpose"] == "ChargingStationMaxProfile"
        status = ChargingProfileStatusEnumType.accepted if accepted else "Rejected"
        return call_result.SetChargingProfile(status=status)


class _StationThread:
    """Runs one OCPP station client on its own event loop until stopped."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.received: list[dict[str, Any]] = []
        self.booted = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with connect(self.url, subprotocols=["ocpp2.0.1"]) as ws:  # type: ignore[list-item]
            station = _Station("depot-1", ws)
            station.received = self.received
            task = asyncio.create_task(station.start())
            await station.call(
                call.BootNotification(
                    charging_station=ChargingStationType(vendor_name="Sim", model="DC50"),
                    reason=BootReasonEnumType.power_up,
                )
            )
            self.booted.set()
            await self._stop.wait()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def __enter__(self) -> _StationThread:
        self._thread.start()
        assert self.booted.wait(20), "the OCPP station never booted"
        return self

    def __exit__(self, *_: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


class _Ven:
    """An energy manager polling the VTN and reporting on each event version it sees."""

    def __init__(self, url: str, name: str, secret: str) -> None:
        self.url, self.name, self.secret = url, name, secret
        self.seen: dict[str, str] = {}
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=5) as http:
            token = http.post(
                "/auth/token",
                data={"grant_type": "client_credentials"},
                auth=(self.name, self.secret),
            ).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            http.post("/vens", json={"venName": self.name}, headers=headers).raise_for_status()
            while not self._halt.wait(0.1):
                for event in http.get("/events", headers=headers).json():
                    if self.seen.get(event["id"]) == event["modificationDateTime"]:
                        continue
                    values = event["intervals"][0]["payloads"][0]["values"]
                    report = {
                        "eventID": event["id"],
                        "clientName": self.name,
                        "resources": [
                            {
                                "resourceName": event["targets"][0],
                                "intervals": [
                                    {"id": 0, "payloads": [{"type": "SETPOINT", "values": values}]}
                                ],
                            }
                        ],
                    }
                    http.post("/reports", json=report, headers=headers).raise_for_status()
                    self.seen[event["id"]] = event["modificationDateTime"]

    def __enter__(self) -> _Ven:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._halt.set()
        self._thread.join(10)


@pytest.fixture
def modbus_device() -> Iterator[tuple[SunSpecServer, int]]:
    server = SunSpecServer([SimulatedDeviceConfig(unit_id=3, model=704, rated_w=4_000_000)])
    with SimulatorThread([server]):
        yield server, server.port


def _broker_or_skip() -> None:
    try:
        with GatewaySimulator(prefix=f"probe-{uuid.uuid4().hex[:6]}"):
            pass
    except AdapterError as exc:
        pytest.skip(f"no MQTT broker on 127.0.0.1:1883: {exc}")


def test_a_day_reaches_modbus_mqtt_ocpp_and_openadr_devices(
    make_pipeline: MakePipeline,
    engine: Engine,
    modbus_device: tuple[SunSpecServer, int],
    tmp_path: Path,
) -> None:
    _broker_or_skip()
    server, modbus_port = modbus_device
    prefix = f"e2e-{uuid.uuid4().hex[:8]}"
    bindings_file = tmp_path / "devices.yaml"
    bindings_file.write_text(
        yaml.safe_dump(
            {
                "modbus": {
                    "timeout_s": 2.0,
                    "devices": {
                        "bess-park": {
                            "host": "127.0.0.1",
                            "port": modbus_port,
                            "unit_id": 3,
                            "rated_w": 4_000_000,
                        }
                    },
                },
                "mqtt": {
                    "prefix": prefix,
                    "timeout_s": 10.0,
                    "gateways": {"dc-cooling": "site-a", "drying-ovens": "site-a"},
                },
                "ocpp": {"port": 0, "chargers": {"ev-depot": {"station_id": "depot-1"}}},
                "openadr": {
                    "port": 0,
                    "confirm_timeout_s": 20.0,
                    "timezone": "Europe/Berlin",
                    "clients": {"steel-ems": {"secret_env": "E2E_STEEL_SECRET"}},
                    "assets": {"arc-furnace": {"ven_name": "steel-ems"}},
                },
            }
        ),
        encoding="utf-8",
    )
    bindings = load_bindings(bindings_file)
    fallback = RecordingChannel()
    network = DeviceNetwork(bindings, fallback, environ={"E2E_STEEL_SECRET": "steel-secret"})
    gateway = GatewaySimulator(prefix=prefix, gateway="site-a")
    with network, gateway:
        assert network.csms is not None and network.vtn_url is not None
        with (
            _StationThread(f"{network.csms.url}/depot-1") as station,
            _Ven(network.vtn_url, "steel-ems", "steel-secret") as ven,
        ):
            pipeline = make_pipeline(auto_approve=AUTO, channel=network.channel)
            times = pipeline.times(DAY)
            pipeline.advance(DAY, times.forecast_at)
            outcomes = pipeline.advance(DAY, times.results_at)
        with session_scope(engine) as session:
            rows = {r.asset_id: r for r in session.exec(select(OutboxRow)).all()}

    assert {a: r.status for a, r in rows.items()} == dict.fromkeys(rows, "confirmed"), [
        (o.stage, o.message) for o in outcomes
    ]
    assert set(rows) == {
        "bess-park",
        "wind-park",
        "bess-cellco",
        "pv-cellco",
        "drying-ovens",
        "arc-furnace",
        "dc-cooling",
        "ev-depot",
    }
    # each protocol peer holds what it was sent
    device = server.device(3)
    assert device.writes >= 1
    assert set(gateway.received) == {"dc-cooling", "drying-ovens"}
    assert station.received and station.received[-1]["charging_profile_purpose"] == (
        "ChargingStationMaxProfile"
    )
    assert ven.seen
    assert {s.asset_id for s in fallback.sent} == {"wind-park", "bess-cellco", "pv-cellco"}
