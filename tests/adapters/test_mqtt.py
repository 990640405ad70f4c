"""The MQTT channel and telemetry subscriber against the real local Mosquitto broker.

Setpoints go out through the broker to simulated site gateways, one message per gateway (or per
chunk of assets), and each gateway answers one ack listing every asset's status (accepted,
rejected, no answer; or the gateway stays silent); readings come back through the broker to the
subscriber. Each test uses its own random topic prefix, so parallel runs and other users of the
broker do not collide. The whole module skips when no broker listens on 127.0.0.1:1883.
"""

from __future__ import annotations

import json
import math
import queue
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from adapters.dispatch.mqtt import MqttChannel
from adapters.dispatch.mqtt_gateway_sim import GatewaySimulator
from adapters.dispatch.mqtt_telemetry import MqttTelemetrySubscriber, TelemetryReading
from vpp.domain.bids import Setpoint
from vpp.domain.errors import AdapterError, InvalidInputError
from vpp.domain.ports import DispatchChannel

HOST, PORT = "127.0.0.1", 1883
SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = datetime(2026, 3, 3, 0, 0, tzinfo=SHANGHAI)  # a local market day; 16:00Z the day before
ACCEPTED = {"status": "accepted"}


def _broker_up() -> bool:
    try:
        with socket.create_connection((HOST, PORT), timeout=1):
            return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(
    not _broker_up(), reason=f"no MQTT broker listening on {HOST}:{PORT} (start mosquitto)"
)


@pytest.fixture
def prefix() -> str:
    return f"test-{uuid.uuid4().hex}"


def day_of(
    asset_id: str, powers_mw: list[float], start: datetime = DAY, **extra: float
) -> list[Setpoint]:
    """One setpoint per quarter-hour from ``start`` (local midnight of ``DAY``)."""
    return [
        Setpoint(
            asset_id=asset_id,
            interval_start=start + timedelta(minutes=15 * k),
            power_mw=p,
            **extra,
        )
        for k, p in enumerate(powers_mw)
    ]


def send_in_thread(channel: MqttChannel, setpoints: list[Setpoint]) -> list[str]:
    """Run ``channel.send`` on a thread; fail (rather than hang) if it never returns."""
    return start_send(channel, setpoints)()


def start_send(channel: MqttChannel, setpoints: list[Setpoint]) -> Callable[[], list[str]]:
    """Start ``channel.send`` on a thread; the callable joins it and returns its result."""
    result: list[list[str]] = []
    worker = threading.Thread(target=lambda: result.append(list(channel.send(setpoints))))
    worker.start()

    def join() -> list[str]:
        worker.join(channel.timeout_s + 30)
        assert not worker.is_alive(), "send did not return"
        return result[0]

    return join


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` for up to ~10 s (a liveness bound, not a timing assertion)."""
    for _ in range(1000):
        if condition():
            return
        threading.Event().wait(0.01)
    pytest.fail(f"gave up waiting for {what}")


def test_acked_assets_are_confirmed_silent_and_refusing_ones_are_not(prefix: str) -> None:
    gateways = {
        "bat-1": "site-a",
        "hp-1": "site-a",
        "hp-2": "site-b",
        "pv-9": "site-b",
        "ev-3": "site-c",
        "ev-4": "site-c",
    }
    setpoints = [
        *day_of("bat-1", [0.2] * 96),
        *day_of("hp-1", [-0.05] * 96),
        *day_of("hp-2", [-0.01] * 96),
        *day_of("pv-9", [0.0] * 96),
        *day_of("ev-3", [-0.02] * 96),
        *day_of("ev-4", [-0.03] * 96),
    ]
    with (
        # hp-1 is listed as no_answer; site-c leaves its silent ev-3 out of the ack.
        GatewaySimulator(HOST, PORT, prefix=prefix, gateway="site-a", silent={"hp-1"}) as site_a,
        GatewaySimulator(HOST, PORT, prefix=prefix, gateway="site-b", reject={"pv-9"}) as site_b,
        GatewaySimulator(
            HOST, PORT, prefix=prefix, gateway="site-c", silent={"ev-3"}, omit_silent=True
        ) as site_c,
        MqttChannel(HOST, PORT, prefix=prefix, gateways=gateways, timeout_s=5.0) as channel,
    ):
        assert isinstance(channel, DispatchChannel)
        confirmed = send_in_thread(channel, setpoints)
    assert confirmed == ["bat-1", "ev-4", "hp-2"]
    # One message per gateway carried all of its assets, including the silent ones.
    for site, assets in ((site_a, {"bat-1", "hp-1"}), (site_b, {"hp-2", "pv-9"})):
        assert set(site.received) == assets
        assert site.setpoint_messages == 1
        assert set(site.messages[0]["assets"]) == assets
    assert site_c.setpoint_messages == 1
    assert site_c.setpoint_assets == 2


def test_a_silent_gateway_does_not_stall_the_others(prefix: str) -> None:
    # Window 1 and chunks of 2 assets: the muted gateway's messages (including the last one,
    # after which no ack can overtake) must give their slot up, or the responsive gateway's
    # messages after them would never be published.
    assets = [f"dev-{k:02d}" for k in range(12)]
    gateways = {a: ("site-a" if k < 6 else "site-b") for k, a in enumerate(assets)}
    setpoints = [s for a in assets for s in day_of(a, [-0.01] * 4)]
    with (
        GatewaySimulator(HOST, PORT, prefix=prefix, gateway="site-a", mute=True) as site_a,
        GatewaySimulator(HOST, PORT, prefix=prefix, gateway="site-b") as site_b,
        MqttChannel(
            HOST,
            PORT,
            prefix=prefix,
            gateways=gateways,
            timeout_s=3,
            window=1,
            slot_timeout_s=0.1,
            max_assets_per_message=2,
        ) as channel,
    ):
        confirmed = send_in_thread(channel, setpoints)
    assert confirmed == assets[6:]
    assert site_a.setpoint_messages == site_b.setpoint_messages == 3
    assert set(site_a.received) == set(assets[:6])


def test_large_gateways_are_split_into_chunks(prefix: str) -> None:
    assets = [f"hp-{k}" for k in range(7)]
    setpoints = [s for a in assets for s in day_of(a, [-0.01] * 8)]
    with (
        GatewaySimulator(HOST, PORT, prefix=prefix, gateway="site") as site,
        MqttChannel(HOST, PORT, prefix=prefix, timeout_s=5.0, max_assets_per_message=3) as ch,
    ):
        assert send_in_thread(ch, setpoints) == sorted(assets)
    assert [len(m["assets"]) for m in site.messages] == [3, 3, 1]
    assert len({m["message_id"] for m in site.messages}) == 3
    assert [a for m in site.messages for a in m["assets"]] == assets
    assert site.setpoint_assets == len(assets)


def test_payload_carries_sign_units_and_utc_interval_starts(prefix: str) -> None:
    powers = [-0.05 if k < 32 else 0.25 for k in range(96)]
    setpoints = day_of("bat-7", powers, reserve_up_mw=0.1) + day_of("hp-8", [-0.02] * 96)
    setpoints.reverse()  # order of arrival must not matter
    with (
        GatewaySimulator(HOST, PORT, prefix=prefix, gateway="site") as site,
        MqttChannel(HOST, PORT, prefix=prefix, timeout_s=5.0) as channel,
    ):
        assert send_in_thread(channel, setpoints) == ["bat-7", "hp-8"]
    [body] = site.messages
    assert body["v"] == 2
    assert body["gateway"] == "site"
    assert body["unit"] == "MW"
    assert body["sign"] == "export_positive"
    assert body["interval_minutes"] == 15
    assert body["message_id"] == site.message_ids["bat-7"] == site.message_ids["hp-8"]
    # The assets share the grid: one start for the message, none per asset.
    assert body["start"] == "2026-03-02T16:00:00Z"  # local midnight of DAY, as UTC
    assert datetime.fromisoformat(body["start"]) == DAY
    bat = body["assets"]["bat-7"]
    assert bat["power_mw"] == powers  # charging stays negative, discharge positive
    assert bat["reserve_up_mw"] == [0.1] * 96
    assert set(bat) == {"power_mw", "reserve_up_mw"}  # all-zero reserve_down omitted, no start
    assert body["assets"]["hp-8"] == {"power_mw": [-0.02] * 96}
    assert site.received["bat-7"]["start"] == body["start"]  # the simulator's flattened view


def test_assets_on_different_starts_carry_their_own(prefix: str) -> None:
    setpoints = day_of("hp-1", [-0.01] * 4) + day_of(
        "hp-2", [-0.02] * 4, start=DAY.astimezone(UTC) + timedelta(hours=1)
    )
    with (
        GatewaySimulator(HOST, PORT, prefix=prefix, gateway="site") as site,
        MqttChannel(HOST, PORT, prefix=prefix, timeout_s=5.0) as channel,
    ):
        assert send_in_thread(channel, setpoints) == ["hp-1", "hp-2"]
    [body] = site.messages
    assert "start" not in body
    assert body["assets"]["hp-1"] == {"power_mw": [-0.01] * 4, "start": "2026-03-02T16:00:00Z"}
    assert body["assets"]["hp-2"] == {"power_mw": [-0.02] * 4, "start": "2026-03-02T17:00:00Z"}


def test_gaps_are_null_and_off_grid_starts_are_refused(prefix: str) -> None:
    day = day_of("hp-6", [-0.01, -0.02, -0.03, -0.04])
    with (
        GatewaySimulator(HOST, PORT, prefix=prefix, gateway="site") as site,
        MqttChannel(HOST, PORT, prefix=prefix, timeout_s=5.0) as channel,
    ):
        assert send_in_thread(channel, [day[3], day[0], day[1]]) == ["hp-6"]
        off_grid = Setpoint(asset_id="hp-6", interval_start=DAY + timedelta(minutes=20), power_mw=0)
        with pytest.raises(InvalidInputError, match="not on its 15-minute grid"):
            channel.send([day[0], off_grid])
    assert site.received["hp-6"]["power_mw"] == [-0.01, -0.02, None, -0.04]
    assert site.setpoint_messages == 1  # the refused send published nothing


def test_stale_duplicate_malformed_and_foreign_acks_do_not_confirm(prefix: str) -> None:
    setpoints = day_of("hp-3", [-0.02] * 4) + day_of("hp-4", [-0.01] * 4)
    with (
        GatewaySimulator(HOST, PORT, prefix=prefix, gateway="site", mute=True) as site,
        MqttChannel(HOST, PORT, prefix=prefix, timeout_s=10.0) as channel,
    ):
        result = start_send(channel, setpoints)
        wait_until(lambda: "hp-3" in site.message_ids, "the setpoints to reach the gateway")
        message_id = site.message_ids["hp-3"]
        everyone = {"hp-3": ACCEPTED, "hp-4": ACCEPTED}
        # One client publishes these in order, so the channel receives them in order.
        site.publish(
            f"{prefix}/other/ack", json.dumps({"message_id": message_id, "assets": everyone})
        )
        site.publish_ack(b"{not json")
        site.publish_ack({"message_id": message_id})  # no assets: malformed, does not settle
        site.publish_ack({"message_id": message_id, "assets": "all"})
        # The first well-formed ack settles the message: hp-3 is left out, ghost was not sent.
        site.publish_ack(
            {"message_id": message_id, "assets": {"hp-4": ACCEPTED, "ghost": ACCEPTED}}
        )
        site.publish_ack({"message_id": message_id, "assets": everyone})  # duplicate
        assert result() == ["hp-4"]
        site.publish_ack({"message_id": message_id, "assets": everyone})  # stale
        # The next send is unaffected by the stale, duplicate and malformed acks.
        site.mute = False
        assert send_in_thread(channel, setpoints) == ["hp-3", "hp-4"]


def test_invalid_setpoints_are_refused_before_publishing(prefix: str) -> None:
    with MqttChannel(HOST, PORT, prefix=prefix, timeout_s=0.5) as channel:
        twice = day_of("hp-4", [-0.01]) * 2
        with pytest.raises(InvalidInputError, match="two setpoints for hp-4"):
            channel.send(twice)
        with pytest.raises(InvalidInputError, match="topic level"):
            channel.send(day_of("a/b", [-0.01]))
        with pytest.raises(InvalidInputError, match="finite"):
            channel.send(day_of("hp-5", [-0.01, math.inf]))
        channel.gateways["hp-6"] = "site#"
        with pytest.raises(InvalidInputError, match="topic level"):
            channel.send(day_of("hp-6", [0.0]))
        assert list(channel.send([])) == []


def test_unreachable_broker_is_an_adapter_error() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind((HOST, 0))
        port = s.getsockname()[1]
    channel = MqttChannel(HOST, port, timeout_s=0.5)
    with pytest.raises(AdapterError, match="cannot reach the MQTT broker"):
        channel.start()
    with pytest.raises(AdapterError, match="not connected"):
        channel.send(day_of("hp-5", [-0.01]))


class Collector:
    """Receives telemetry batches; ``wait(n)`` blocks until ``n`` readings arrived."""

    def __init__(self) -> None:
        self.readings: list[TelemetryReading] = []
        self.batches = 0
        self._arrived: queue.Queue[int] = queue.Queue()

    def __call__(self, batch: list[TelemetryReading]) -> None:
        self.readings.extend(batch)
        self.batches += 1
        self._arrived.put(len(batch))

    def wait(self, n: int, timeout_s: float = 10.0) -> list[TelemetryReading]:
        while len(self.readings) < n:
            self._arrived.get(timeout=timeout_s)
        return self.readings


def test_telemetry_arrives_in_utc_mw_and_service_sign(prefix: str) -> None:
    collect = Collector()
    with (
        MqttTelemetrySubscriber(collect, HOST, PORT, prefix=prefix, max_delay_s=0.05) as sub,
        GatewaySimulator(HOST, PORT, prefix=prefix, gateway="site-a") as site,
    ):
        site.publish_telemetry("pv-1", ts="2026-03-03T12:00:05+08:00", power_kw=350.0)
        site.publish_telemetry(
            "ev-1", ts="2026-03-03T04:00:05Z", power_kw=50.0, sign="import_positive"
        )
        site.publish_raw(
            "bat-1",
            json.dumps(
                [
                    {"ts": "2026-03-03T12:00:00+08:00", "power_mw": -0.5},
                    {"ts": "2026-03-03T12:00:01+08:00", "power_mw": 0.25, "quality": "uncertain"},
                ]
            ),
        )
        readings = collect.wait(4)
    by_asset = {(r.asset_id, r.ts): r for r in readings}
    assert len(by_asset) == 4
    pv = by_asset[("pv-1", datetime(2026, 3, 3, 4, 0, 5, tzinfo=UTC))]
    assert pv.power_mw == pytest.approx(0.35)
    assert pv.gateway == "site-a"
    assert pv.quality == "good"
    assert pv.ts.utcoffset() == timedelta(0)
    ev = by_asset[("ev-1", datetime(2026, 3, 3, 4, 0, 5, tzinfo=UTC))]
    assert ev.power_mw == pytest.approx(-0.05)  # 50 kW drawn from the grid
    bat = by_asset[("bat-1", datetime(2026, 3, 3, 4, 0, 1, tzinfo=UTC))]
    assert bat.power_mw == 0.25
    assert bat.quality == "uncertain"
    assert sub.stats["malformed"] == 0
    assert sub.stats["readings"] == 4


def test_malformed_telemetry_is_counted_and_skipped(prefix: str) -> None:
    collect = Collector()
    bad: list[bytes | str] = [
        b"{not json",
        b"\xff\xfe",
        json.dumps({"ts": "2026-03-03T12:00:00", "power_kw": 1}),  # no offset
        json.dumps({"ts": "2026-03-03T12:00:00Z"}),  # no power
        json.dumps({"ts": "2026-03-03T12:00:00Z", "power_kw": 1, "power_mw": 1}),
        json.dumps({"ts": "2026-03-03T12:00:00Z", "power_kw": "12"}),
        json.dumps({"ts": "2026-03-03T12:00:00Z", "power_kw": True}),
        json.dumps({"ts": "yesterday", "power_kw": 1}),
        json.dumps({"ts": "2026-03-03T12:00:00Z", "power_kw": 1, "quality": "great"}),
        json.dumps({"ts": "2026-03-03T12:00:00Z", "power_kw": 1, "asset_id": "other"}),
        json.dumps(42),
    ]
    with (
        MqttTelemetrySubscriber(collect, HOST, PORT, prefix=prefix, max_delay_s=0.05) as sub,
        GatewaySimulator(HOST, PORT, prefix=prefix, gateway="site") as site,
    ):
        for payload in bad:
            site.publish_raw("m-1", payload)
        site.publish_telemetry("m-1", ts="2026-03-03T12:00:00Z", power_kw=-12.0)
        readings = collect.wait(1)
    assert [(r.asset_id, r.power_mw) for r in readings] == [("m-1", -0.012)]
    assert sub.stats["malformed"] == len(bad)
    assert sub.stats["messages"] == len(bad) + 1


def test_a_failing_callback_does_not_stop_the_subscriber(prefix: str) -> None:
    collect = Collector()
    calls = 0

    def flaky(batch: list[TelemetryReading]) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("downstream store is down")
        collect(batch)

    with (
        MqttTelemetrySubscriber(flaky, HOST, PORT, prefix=prefix, max_delay_s=0.05) as sub,
        GatewaySimulator(HOST, PORT, prefix=prefix, gateway="site") as site,
    ):
        site.publish_telemetry("m-2", ts="2026-03-03T12:00:00Z", power_mw=0.1)
        for _ in range(1000):  # up to ~10 s for the first (failing) batch
            if sub.stats["callback_errors"]:
                break
            threading.Event().wait(0.01)
        site.publish_telemetry("m-2", ts="2026-03-03T12:15:00Z", power_mw=0.2)
        readings = collect.wait(1)
    assert [r.power_mw for r in readings] == [0.2]
    assert sub.stats["callback_errors"] == 1


@pytest.fixture(autouse=True)
def _no_stray_threads() -> Iterator[None]:
    """Every client a test opens is closed again: no paho or worker thread outlives it."""
    before = set(threading.enumerate())
    yield
    stray = [t for t in set(threading.enumerate()) - before if t.is_alive()]
    assert not stray, f"threads left running: {stray}"
