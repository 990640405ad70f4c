"""The OCPP 2.0.1 channel against real charging-station clients over loopback websockets.

Each test starts a :class:`Csms` on a free port and connects ``ocpp.v201.ChargePoint`` clients
(the station side of the same library) that boot, then answer SetChargingProfile by accepting
some purposes and rejecting others. Nothing is mocked: the profiles cross a real websocket and
are checked against the OCPP JSON schemas on both sides.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.datatypes import ChargingStationType
from ocpp.v201.enums import Action, BootReasonEnumType, ChargingProfileStatusEnumType
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from adapters.dispatch.ocpp201 import Csms, OcppChannel, OcppTarget, Purpose
from vpp.domain.bids import Setpoint
from vpp.domain.errors import InvalidInputError
from vpp.domain.ports import DispatchChannel

DAY = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)  # 00:00 in Asia/Shanghai, as a UTC start label


class SimStation(ChargePoint):  # type: ignore[misc]
    """A charging station that accepts only the purposes it is told to and keeps each profile."""

    def __init__(self, station_id: str, connection: Any, accepts: set[str], delay_s: float = 0):
        super().__init__(station_id, connection)
        self.accepts = accepts
        self.delay_s = delay_s
        self.received: list[dict[str, Any]] = []

    @on(Action.set_charging_profile)  # type: ignore[untyped-decorator]
    async def on_set_charging_profile(
        self, evse_id: int, charging_profile: dict[str, Any], **_: Any
    ) -> call_result.SetChargingProfile:
        self.received.append({"evse_id": evse_id, **charging_profile})
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        purpose = charging_profile["charging_profile_purpose"]
        status = (
            ChargingProfileStatusEnumType.accepted
            if purpose in self.accepts
            else ChargingProfileStatusEnumType.rejected
        )
        return call_result.SetChargingProfile(status=status)


@contextlib.asynccontextmanager
async def station(
    csms: Csms, station_id: str, accepts: set[str], delay_s: float = 0
) -> AsyncIterator[SimStation]:
    """Connect ``station_id`` to ``csms``, boot it, and disconnect on exit."""
    url = f"{csms.url}/{station_id}"
    async with connect(url, subprotocols=["ocpp2.0.1"]) as ws:  # type: ignore[list-item]
        cp = SimStation(station_id, ws, accepts, delay_s)
        task = asyncio.create_task(cp.start())
        try:
            boot = await cp.call(
                call.BootNotification(
                    charging_station=ChargingStationType(vendor_name="Sim", model="AC22"),
                    reason=BootReasonEnumType.power_up,
                )
            )
            assert boot.status == "Accepted"
            await cp.call(call.StatusNotification(_iso(DAY), "Available", 1, 1))
            await cp.call(call.Heartbeat())
            yield cp
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def _iso(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


def day_of(asset_id: str, powers_mw: list[float]) -> list[Setpoint]:
    """One setpoint per quarter-hour from ``DAY``."""
    return [
        Setpoint(asset_id=asset_id, interval_start=DAY + timedelta(minutes=15 * k), power_mw=p)
        for k, p in enumerate(powers_mw)
    ]


@pytest.fixture
def csms() -> Iterator[Csms]:
    with Csms(port=0) as server:
        yield server


def test_a_day_becomes_one_absolute_schedule_with_fallback(csms: Csms) -> None:
    # 96 quarter-hours: pairs of equal values so merging is visible, all charging (<= 0 MW).
    powers = [-0.05 * ((k // 2) % 4) for k in range(96)]
    channel = OcppChannel(csms, {"ev-1": OcppTarget("CS-1", evse_id=1)}, timeout_s=5)
    assert isinstance(channel, DispatchChannel)

    async def scenario() -> tuple[list[str], SimStation]:
        accepts = {"ChargingStationMaxProfile"}
        async with station(csms, "CS-1", accepts) as cp:
            confirmed = await asyncio.to_thread(channel.send, day_of("ev-1", powers))
            return list(confirmed), cp

    confirmed, cp = asyncio.run(scenario())
    assert confirmed == ["ev-1"]

    # First TxDefaultProfile (rejected) on the EVSE, then the station-wide max profile on EVSE 0.
    assert [p["charging_profile_purpose"] for p in cp.received] == [
        "TxDefaultProfile",
        "ChargingStationMaxProfile",
    ]
    assert [p["evse_id"] for p in cp.received] == [1, 0]
    record = channel.records["ev-1"]
    assert record.status == "Accepted"
    assert record.purpose == Purpose.charging_station_max_profile
    assert record.attempts == (
        (Purpose.tx_default_profile, "Rejected"),
        (Purpose.charging_station_max_profile, "Accepted"),
    )
    assert record.profile_id == cp.received[-1]["id"]

    profile = cp.received[-1]
    assert profile["charging_profile_kind"] == "Absolute"
    (schedule,) = profile["charging_schedule"]
    assert schedule["charging_rate_unit"] == "W"
    assert datetime.fromisoformat(schedule["start_schedule"]) == DAY
    assert schedule["duration"] == 96 * 900
    periods = schedule["charging_schedule_period"]
    # Expand the merged periods back to 96 quarter-hour limits and compare with the setpoints.
    starts = [p["start_period"] for p in periods] + [schedule["duration"]]
    assert starts[0] == 0
    assert all(s % 900 == 0 for s in starts)
    limits: list[float] = []
    for p, end in zip(periods, starts[1:], strict=True):
        limits.extend([p["limit"]] * ((end - p["start_period"]) // 900))
    assert limits == [pytest.approx(-p * 1e6) for p in powers]
    assert all(limit >= 0 for limit in limits)
    assert limits[2] == 50_000  # -0.05 MW charging = a 50 kW cap
    assert len(periods) == 48  # consecutive equal limits merged
    assert all(a["limit"] != b["limit"] for a, b in itertools.pairwise(periods))


def test_preferred_purpose_accepted_first_time(csms: Csms) -> None:
    channel = OcppChannel(csms, {"ev-2": OcppTarget("CS-2", evse_id=2)}, timeout_s=5)

    async def scenario() -> tuple[list[str], SimStation]:
        async with station(csms, "CS-2", {"TxDefaultProfile"}) as cp:
            return list(await asyncio.to_thread(channel.send, day_of("ev-2", [-0.011] * 4))), cp

    confirmed, cp = asyncio.run(scenario())
    assert confirmed == ["ev-2"]
    assert len(cp.received) == 1
    assert cp.received[0]["evse_id"] == 2
    assert channel.records["ev-2"].purpose == Purpose.tx_default_profile
    (period,) = cp.received[0]["charging_schedule"][0]["charging_schedule_period"]
    assert period == {"start_period": 0, "limit": 11_000.0}


def test_rejected_everywhere_is_not_confirmed(csms: Csms) -> None:
    channel = OcppChannel(csms, {"ev-3": OcppTarget("CS-3")}, timeout_s=5)

    async def scenario() -> list[str]:
        async with station(csms, "CS-3", accepts=set()):
            return list(await asyncio.to_thread(channel.send, day_of("ev-3", [-0.01] * 4)))

    assert asyncio.run(scenario()) == []
    record = channel.records["ev-3"]
    assert record.status == "Rejected"
    assert record.purpose is None
    assert [status for _, status in record.attempts] == ["Rejected", "Rejected"]


def test_missing_and_silent_stations_are_not_confirmed_within_the_timeout(csms: Csms) -> None:
    targets = {
        "ev-ok": OcppTarget("CS-OK"),
        "ev-absent": OcppTarget("CS-NEVER"),
        "ev-slow": OcppTarget("CS-SLOW"),
    }
    channel = OcppChannel(csms, targets, timeout_s=0.5)
    setpoints = [*day_of("ev-ok", [-0.02] * 4), *day_of("ev-absent", [-0.02] * 4)]
    setpoints += day_of("ev-slow", [-0.02] * 4)

    async def scenario() -> list[str]:
        accepts = {"TxDefaultProfile"}
        async with (
            station(csms, "CS-OK", accepts),
            station(csms, "CS-SLOW", accepts, delay_s=30),
        ):
            # A send that outlived its bound would fail this wait_for instead of hanging.
            return list(await asyncio.wait_for(asyncio.to_thread(channel.send, setpoints), 10))

    assert asyncio.run(scenario()) == ["ev-ok"]
    assert channel.records["ev-absent"].status == "NotConnected"
    assert channel.records["ev-absent"].attempts == ()
    assert channel.records["ev-slow"].status == "Timeout"
    assert channel.records["ev-slow"].attempts == ((Purpose.tx_default_profile, "Timeout"),)


def test_export_setpoint_for_a_charger_is_refused_before_sending(csms: Csms) -> None:
    channel = OcppChannel(csms, {"ev-4": OcppTarget("CS-4")}, timeout_s=1)
    with pytest.raises(InvalidInputError, match=r"cannot export 0\.05 MW"):
        channel.send(day_of("ev-4", [-0.01, 0.05]))
    assert channel.records == {}


def test_gaps_and_bad_purposes_are_refused(csms: Csms) -> None:
    channel = OcppChannel(csms, {"ev-5": OcppTarget("CS-5")}, timeout_s=1)
    gappy = [day_of("ev-5", [-0.01] * 3)[k] for k in (0, 2)]
    with pytest.raises(InvalidInputError, match="not contiguous"):
        channel.send(gappy)
    with pytest.raises(InvalidInputError, match="TxProfile"):
        OcppTarget("CS-5", purposes=(Purpose.tx_profile,))


def test_unmapped_asset_is_not_confirmed(csms: Csms) -> None:
    channel = OcppChannel(csms, {}, timeout_s=1)
    assert list(channel.send(day_of("ev-unknown", [-0.01]))) == []


def test_a_client_without_the_ocpp_subprotocol_is_refused(csms: Csms) -> None:
    async def scenario() -> int:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(f"{csms.url}/CS-X"):
                pass
        return refused.value.response.status_code

    assert asyncio.run(scenario()) == 400  # refused in the websocket handshake
    assert not csms.is_connected("CS-X")
