"""Routing setpoints to each device's channel: concurrent, isolated failures, per-asset refusals."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from adapters.dispatch.recording import RecordingChannel
from adapters.dispatch.routing import RoutingChannel
from vpp.domain.bids import Setpoint
from vpp.domain.errors import AdapterError, InvalidInputError

T0 = datetime(2021, 5, 5, 0, 0, tzinfo=UTC)


def _setpoints(*assets: str) -> list[Setpoint]:
    return [Setpoint(asset_id=a, interval_start=T0, power_mw=0.5) for a in assets]


class _Down:
    def send(self, setpoints: Sequence[Setpoint]) -> Sequence[str]:
        raise AdapterError("broker unreachable")


class _Strict:
    def send(self, setpoints: Sequence[Setpoint]) -> Sequence[str]:
        raise InvalidInputError("0.5 MW is above the charger's 0.2 MW rating")


def test_each_asset_goes_to_its_own_channel() -> None:
    modbus, mqtt = RecordingChannel(), RecordingChannel(refuse=["cooling"])
    router = RoutingChannel({"bess": modbus, "cooling": mqtt, "ovens": mqtt})
    confirmed = router.send(_setpoints("bess", "cooling", "ovens", "nowhere"))
    assert confirmed == ["bess", "ovens"]
    assert [s.asset_id for s in modbus.sent] == ["bess"]
    assert sorted(s.asset_id for s in mqtt.sent) == ["cooling", "ovens"]


def test_a_failing_channel_only_costs_its_own_assets() -> None:
    router = RoutingChannel({"bess": RecordingChannel(), "ev": _Down()})
    assert router.send(_setpoints("bess", "ev")) == ["bess"]
    assert router.refused == {}


def test_refusals_are_kept_per_asset_and_the_rest_is_delivered() -> None:
    router = RoutingChannel({"ev": _Strict()}, default=RecordingChannel())
    assert router.send(_setpoints("ev", "bess")) == ["bess"]
    assert "above the charger" in router.refused["ev"]
    router.send(_setpoints("bess"))
    assert router.refused == {}
