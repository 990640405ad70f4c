"""Asset specs refuse impossible physics with messages naming the field and value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import TypeAdapter

from vpp.domain.assets import AssetSpec, BatterySpec, EvFleetSpec
from vpp.domain.errors import AssetSpecError
from vpp.domain.fleet import load_fleet

CONTRACT_FLEET = """\
assets:
  - id: bess-1
    type: battery
    power_mw: 1.0                 # charge and discharge limit
    energy_mwh: 2.0
    round_trip_efficiency: 0.85
    soc_min: 0.05                 # fraction of energy_mwh
    soc_max: 0.95
    soc_initial: 0.5              # the backtest carries SoC from day to day
    degradation_cost_per_mwh: 0   # per MWh discharged
"""

ADAPTER: TypeAdapter[Any] = TypeAdapter(AssetSpec)


def fleet_file(tmp_path: Path, assets: list[dict[str, Any]]) -> Path:
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump({"assets": assets}))
    return path


def test_the_contract_fleet_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "fleet.yaml"
    path.write_text(CONTRACT_FLEET)
    fleet = load_fleet(path)
    battery = fleet.get("bess-1")
    assert isinstance(battery, BatterySpec)
    assert battery.max_charge_mw == 1.0
    assert battery.one_way_efficiency == pytest.approx(0.85**0.5)


def test_every_asset_type_validates() -> None:
    examples: list[dict[str, Any]] = [
        {"id": "b", "type": "battery", "power_mw": 1, "energy_mwh": 2},
        {"id": "p", "type": "pv", "capacity_mw": 3, "latitude": 36.7, "longitude": 117.0},
        {"id": "w", "type": "wind", "capacity_mw": 8.2},
        {"id": "c", "type": "curtailable_load", "max_curtail_mw": 2, "max_duration_min": 120},
        {
            "id": "s",
            "type": "shiftable_load",
            "power_mw": 1,
            "energy_mwh": 4,
            "window": {"start": "06:00", "end": "22:00"},
        },
        {
            "id": "t",
            "type": "thermal",
            "max_power_mw": 1,
            "baseline_power_mw": 0.5,
            "energy_capacity_mwh": 1,
        },
        {
            "id": "e",
            "type": "ev_fleet",
            "chargers": 4,
            "charger_power_mw": 0.15,
            "sessions": [
                {"arrival": "19:00", "departure": "05:00", "energy_mwh": 0.3, "vehicles": 4}
            ],
        },
        {"id": "g", "type": "backup_generator", "power_mw": 2, "fuel_cost_per_mwh": 250},
    ]
    assert [ADAPTER.validate_python(e).type for e in examples] == [e["type"] for e in examples]


def test_overnight_ev_session_length() -> None:
    fleet = ADAPTER.validate_python(
        {
            "id": "e",
            "type": "ev_fleet",
            "chargers": 1,
            "charger_power_mw": 0.1,
            "sessions": [{"arrival": "22:00", "departure": "06:00", "energy_mwh": 0.5}],
        }
    )
    assert isinstance(fleet, EvFleetSpec)
    assert fleet.sessions[0].plugged_minutes == 8 * 60


@pytest.mark.parametrize(
    ("asset", "message"),
    [
        (
            {
                "id": "b",
                "type": "battery",
                "power_mw": 1,
                "energy_mwh": 2,
                "soc_min": 0.9,
                "soc_max": 0.2,
            },
            r"assets\[0\].battery \(id 'b'\): soc_min \(0.9\) must be below soc_max \(0.2\)",
        ),
        (
            {"id": "b", "type": "battery", "power_mw": -1, "energy_mwh": 2},
            r"assets\[0\].battery.power_mw = -1: Input should be greater than 0",
        ),
        (
            {"id": "b", "type": "battery", "power_mw": 1, "energy_mwh": 2, "soc_initial": 0.99},
            r"soc_initial \(0.99\) must lie within soc_min..soc_max",
        ),
        (
            {
                "id": "b",
                "type": "battery",
                "power_mw": 1,
                "energy_mwh": 2,
                "round_trip_efficiency": 1.2,
            },
            r"round_trip_efficiency = 1.2: Input should be less than or equal to 1",
        ),
        (
            {
                "id": "p",
                "type": "pv",
                "capacity_mw": 1,
                "latitude": 36,
                "longitude": 117,
                "availability": [{"start": "08:00", "end": "25:00"}],
            },
            r"availability\[0\].end = '25:00': '25:00' is not a clock time between 00:00 and 24:00",
        ),
        (
            {
                "id": "p",
                "type": "pv",
                "capacity_mw": 1,
                "latitude": 36,
                "longitude": 117,
                "availability": [{"start": "18:00", "end": "06:00"}],
            },
            r"window 18:00-06:00 is empty or crosses midnight",
        ),
        (
            {
                "id": "s",
                "type": "shiftable_load",
                "power_mw": 1,
                "energy_mwh": 5,
                "window": {"start": "08:00", "end": "10:00"},
            },
            r"energy_mwh \(5.0\) cannot be delivered at 1.0 MW within 08:00-10:00 \(at most 2.000 MWh\)",
        ),
        (
            {
                "id": "e",
                "type": "ev_fleet",
                "chargers": 2,
                "charger_power_mw": 0.05,
                "sessions": [{"arrival": "12:00", "departure": "13:00", "energy_mwh": 0.2}],
            },
            r"sessions\[0\] asks 0.2 MWh per vehicle but at most 0.046 MWh fit",
        ),
        (
            {
                "id": "t",
                "type": "thermal",
                "max_power_mw": 1,
                "min_power_mw": 0.5,
                "baseline_power_mw": 0.2,
                "energy_capacity_mwh": 1,
            },
            r"baseline_power_mw \(0.2\) must lie within min_power_mw..max_power_mw",
        ),
        (
            {
                "id": "t",
                "type": "thermal",
                "max_power_mw": 0.2,
                "baseline_power_mw": 0.1,
                "energy_capacity_mwh": 3.4,
                "soc_initial": 0.6,
                "standing_loss_per_h": 0.05,
            },
            r"holding the initial stored energy loses 0.102 MW .* only 0.100 MW above its baseline",
        ),
        (
            {"id": "x", "type": "flywheel", "power_mw": 1},
            r"assets\[0\].*does not match any of the expected tags",
        ),
        (
            {"id": "b", "type": "battery", "power_mw": 1, "energy_mwh": 2, "powr_mw": 3},
            r"assets\[0\].battery.powr_mw: unknown field \(check the spelling\)",
        ),
    ],
)
def test_impossible_specs_are_refused_naming_file_field_value(
    tmp_path: Path, asset: dict[str, Any], message: str
) -> None:
    with pytest.raises(AssetSpecError, match=message) as caught:
        load_fleet(fleet_file(tmp_path, [asset]))
    assert "fleet.yaml" in str(caught.value)


def test_duplicate_ids_and_empty_fleets_are_refused(tmp_path: Path) -> None:
    battery = {"id": "b", "type": "battery", "power_mw": 1, "energy_mwh": 2}
    with pytest.raises(AssetSpecError, match="asset ids must be unique; repeated: b"):
        load_fleet(fleet_file(tmp_path, [battery, battery]))
    with pytest.raises(AssetSpecError, match="assets = \\[\\]"):
        load_fleet(fleet_file(tmp_path, []))
