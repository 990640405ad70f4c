"""The SunSpec Modbus channel against the SunSpec simulator on a real loopback TCP server.

No mocks: every test starts pymodbus servers hosting simulated devices on free ports in a
background thread, dispatches through :class:`SunSpecModbusChannel` and inspects what the
devices hold.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Literal

import pandas as pd
import pytest

from adapters.dispatch.sunspec_modbus import SunSpecAddress, SunSpecModbusChannel, model_layout
from adapters.dispatch.sunspec_server import (
    SimulatedDeviceConfig,
    SimulatorThread,
    SunSpecServer,
)
from vpp.domain.bids import Setpoint
from vpp.domain.errors import InvalidInputError, NotFoundError
from vpp.domain.ports import DispatchChannel, FixedClock

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
CLOCK = FixedClock(pd.Timestamp(T0))
LOOPBACK = "127.0.0.1"

Start = Callable[..., SunSpecServer]


@pytest.fixture
def start() -> Iterator[Start]:
    """Start a server hosting the given device configs; everything stops after the test."""
    threads: list[SimulatorThread] = []

    def _start(*configs: SimulatedDeviceConfig) -> SunSpecServer:
        server = SunSpecServer(configs, host=LOOPBACK, port=0)
        threads.append(SimulatorThread([server]).start())
        return server

    yield _start
    for thread in threads:
        thread.stop()


def channel(addresses: dict[str, SunSpecAddress]) -> SunSpecModbusChannel:
    return SunSpecModbusChannel(addresses, clock=CLOCK, timeout_s=0.25, retries=1)


def setpoint(asset_id: str, power_mw: float, start: datetime = T0) -> Setpoint:
    return Setpoint(asset_id=asset_id, interval_start=start, power_mw=power_mw)


def wait_for(condition: Callable[[], bool], limit_s: float = 15.0) -> bool:
    """Poll ``condition`` until it holds or ``limit_s`` passes (a safety net, not a timing)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_layout_comes_from_the_sunspec_model_definitions() -> None:
    wset = model_layout(704).point("WSet")
    assert (wset.offset, wset.type, wset.sf) == (24, "int32", "WSet_SF")
    assert model_layout(704).length == 65
    assert model_layout(124).point("InWRte").offset == 13
    assert model_layout(1).size == 68


def test_704_battery_charge_and_discharge_with_sign_and_scale_factor(start: Start) -> None:
    server = start(SimulatedDeviceConfig(1, model=704, rated_w=250_000, w_sf=1))
    address = SunSpecAddress(LOOPBACK, server.port, 1, rated_w=250_000, revert_timeout_s=600)
    ch = channel({"bat": address})
    assert isinstance(ch, DispatchChannel)
    device = server.device(1)

    assert ch.send([setpoint("bat", 0.1234)]) == ["bat"]
    assert device.point("WSet_SF") == 1
    assert device.point("WSet") == 12_340  # 123,400 W in 10 W steps
    assert (device.point("WSetEna"), device.point("WSetMod")) == (1, 1)
    assert device.point("WSetRvrtTms") == 600
    assert device.point("WSetRvrt") == 0
    assert device.held_w == pytest.approx(123_400)

    assert ch.send([setpoint("bat", -0.05)]) == ["bat"]
    assert device.point("WSet") == -5_000
    assert device.held_w == pytest.approx(-50_000)
    discovered = ch.discovered("bat")
    assert discovered is not None
    assert [m for m, _ in discovered.models] == [1, 704]
    assert discovered.start == 40_000 + 2 + 68


def test_legacy_124_storage_gets_in_and_out_rates(start: Start) -> None:
    server = start(SimulatedDeviceConfig(2, model=124, rated_w=100_000, pct_sf=-2))
    address = SunSpecAddress(LOOPBACK, server.port, 2, rated_w=100_000, model=124)
    ch = channel({"legacy": address})
    device = server.device(2)

    assert ch.send([setpoint("legacy", 0.025)]) == ["legacy"]
    assert device.point("StorCtl_Mod") == 0x2  # DISCHARGE
    assert (device.point("OutWRte"), device.point("InWRte")) == (2_500, 0)  # 25.00 %
    assert device.point("InOutWRte_RvrtTms") == address.revert_timeout_s
    assert device.held_w == pytest.approx(25_000)

    assert ch.send([setpoint("legacy", -0.04)]) == ["legacy"]
    assert device.point("StorCtl_Mod") == 0x1  # CHARGE
    assert (device.point("OutWRte"), device.point("InWRte")) == (0, 4_000)  # 40.00 %
    assert device.held_w == pytest.approx(-40_000)


def test_unit_id_quirk_is_confirmed_only_when_declared(
    start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    server = start(SimulatedDeviceConfig(3, rated_w=100_000, unit_id_offset=1))
    plain = SunSpecAddress(LOOPBACK, server.port, 3, rated_w=100_000)
    quirky = SunSpecAddress(LOOPBACK, server.port, 3, rated_w=100_000, unit_id_offset=1)

    with caplog.at_level(logging.WARNING, logger="adapters.dispatch.sunspec_modbus"):
        assert channel({"pv": plain}).send([setpoint("pv", 0.03)]) == []
    assert "asset pv not confirmed" in caplog.text
    assert "unit_id_offset" in caplog.text
    assert server.device(3).writes == 0

    assert channel({"pv": quirky}).send([setpoint("pv", 0.03)]) == ["pv"]
    assert server.device(3).held_w == pytest.approx(30_000)


def test_map_at_a_shifted_base_address_needs_the_declared_base(
    start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    server = start(SimulatedDeviceConfig(1, base_address=40_001))
    plain = SunSpecAddress(LOOPBACK, server.port, 1, rated_w=100_000)
    shifted = SunSpecAddress(LOOPBACK, server.port, 1, rated_w=100_000, base_address=40_001)

    with caplog.at_level(logging.WARNING, logger="adapters.dispatch.sunspec_modbus"):
        assert channel({"bat": plain}).send([setpoint("bat", 0.01)]) == []
    assert "no SunSpec 'SunS' marker at 40000" in caplog.text
    assert channel({"bat": shifted}).send([setpoint("bat", 0.01)]) == ["bat"]
    assert server.device(1).held_w == pytest.approx(10_000)


def test_silent_device_is_not_confirmed_and_the_others_are(
    start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    gateway = start(
        SimulatedDeviceConfig(1, rated_w=100_000),
        SimulatedDeviceConfig(5, rated_w=100_000, silent=True),
        SimulatedDeviceConfig(6, model=124, rated_w=100_000),
    )
    other = start(SimulatedDeviceConfig(1, rated_w=100_000))
    ch = channel(
        {
            "a": SunSpecAddress(LOOPBACK, gateway.port, 1, rated_w=100_000),
            "dead": SunSpecAddress(LOOPBACK, gateway.port, 5, rated_w=100_000),
            "c": SunSpecAddress(LOOPBACK, gateway.port, 6, rated_w=100_000, model=124),
            "d": SunSpecAddress(LOOPBACK, other.port, 1, rated_w=100_000),
        }
    )
    with caplog.at_level(logging.WARNING, logger="adapters.dispatch.sunspec_modbus"):
        confirmed = ch.send([setpoint(a, 0.01) for a in ("a", "dead", "c", "d")])
    assert confirmed == ["a", "c", "d"]
    assert "asset dead not confirmed: no answer from unit 5" in caplog.text
    assert gateway.device(5).writes == 0
    assert gateway.device(6).held_w == pytest.approx(10_000)


def test_unreachable_port_is_not_confirmed(start: Start) -> None:
    server = start(SimulatedDeviceConfig(1))
    with socket.socket() as probe:  # a port nothing listens on once the probe is closed
        probe.bind((LOOPBACK, 0))
        closed_port = probe.getsockname()[1]
    ch = channel(
        {
            "up": SunSpecAddress(LOOPBACK, server.port, 1, rated_w=100_000),
            "down": SunSpecAddress(LOOPBACK, closed_port, 1, rated_w=100_000),
        }
    )
    assert ch.send([setpoint("up", 0.02), setpoint("down", 0.02)]) == ["up"]


@pytest.mark.parametrize("model", [704, 124])
def test_device_reverts_when_the_vpp_goes_quiet(start: Start, model: Literal[704, 124]) -> None:
    server = start(SimulatedDeviceConfig(1, model=model, rated_w=100_000))
    address = SunSpecAddress(
        LOOPBACK,
        server.port,
        1,
        rated_w=100_000,
        model=model,
        revert_timeout_s=1,
    )
    device = server.device(1)
    assert channel({"bat": address}).send([setpoint("bat", 0.05)]) == ["bat"]
    assert device.writes >= 1

    assert wait_for(lambda: device.reversions == 1)
    assert device.held_w == 0.0
    if model == 704:
        assert device.point("WSet") == device.point("WSetRvrt") == 0
        assert device.point("WSetRvrtRem") == 0
    else:
        assert device.point("StorCtl_Mod") == 0
        assert (device.point("OutWRte"), device.point("InWRte")) == (0, 0)


def test_setpoint_above_rating_raises_before_any_write(start: Start) -> None:
    server = start(SimulatedDeviceConfig(1, rated_w=100_000, max_charge_w=50_000))
    address = SunSpecAddress(LOOPBACK, server.port, 1, rated_w=100_000, max_charge_w=50_000)
    ch = channel({"bat": address, "ok": address})

    with pytest.raises(InvalidInputError, match="exceeds its rated discharge") as raised:
        ch.send([setpoint("ok", 0.01), setpoint("bat", 0.15)])
    assert raised.value.hint is not None
    with pytest.raises(InvalidInputError, match="maximum charging power"):
        ch.send([setpoint("bat", -0.06)])
    assert server.device(1).writes == 0


def test_unknown_asset_and_duplicate_interval_are_refused() -> None:
    address = SunSpecAddress(LOOPBACK, 502, 1, rated_w=100_000)
    ch = channel({"bat": address})
    with pytest.raises(NotFoundError, match="no SunSpec Modbus address"):
        ch.send([setpoint("ghost", 0.0)])
    with pytest.raises(InvalidInputError, match="same interval"):
        ch.send([setpoint("bat", 0.0), setpoint("bat", 0.01)])
    with pytest.raises(InvalidInputError, match="unit id"):
        SunSpecAddress(LOOPBACK, 502, 300, rated_w=1.0)


def test_current_interval_rule() -> None:
    ch = channel({"bat": SunSpecAddress(LOOPBACK, 502, 1, rated_w=100_000)})
    quarter = timedelta(minutes=15)
    day = [setpoint("bat", k / 1000, T0 + (k - 4) * quarter) for k in range(8)]
    assert ch.current_setpoints(day)["bat"].interval_start == T0  # the one covering now
    future = [setpoint("bat", k / 1000, T0 + k * quarter) for k in (3, 1, 2)]
    assert ch.current_setpoints(future)["bat"].interval_start == T0 + quarter  # the earliest


def test_send_works_from_a_thread_and_inside_a_running_loop(start: Start) -> None:
    server = start(SimulatedDeviceConfig(1, rated_w=100_000))
    ch = channel({"bat": SunSpecAddress(LOOPBACK, server.port, 1, rated_w=100_000)})

    async def inside_a_loop() -> list[str]:
        return list(ch.send([setpoint("bat", 0.02)]))

    assert asyncio.run(inside_a_loop()) == ["bat"]
    assert server.device(1).held_w == pytest.approx(20_000)

    result: list[str] = []
    worker = threading.Thread(target=lambda: result.extend(ch.send([setpoint("bat", -0.02)])))
    worker.start()
    worker.join()
    assert result == ["bat"]
    assert server.device(1).held_w == pytest.approx(-20_000)


def test_many_unit_ids_over_several_ports(start: Start) -> None:
    servers = [start(*(SimulatedDeviceConfig(u) for u in range(1, 41))) for _ in range(3)]
    addresses = {
        f"dev-{i}-{u}": SunSpecAddress(LOOPBACK, s.port, u, rated_w=100_000)
        for i, s in enumerate(servers)
        for u in range(1, 41)
    }
    ch = channel(addresses)
    confirmed = ch.send([setpoint(a, 0.001 * (n % 50)) for n, a in enumerate(addresses)])
    assert confirmed == sorted(addresses)
    assert servers[2].device(40).held_w == pytest.approx(1000 * ((2 * 40 + 39) % 50))
