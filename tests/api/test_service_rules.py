"""The pure rules behind enrolment and the portfolio envelope, without HTTP or a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vpp.domain.assets import BatterySpec, CurtailableLoadSpec, PvSpec
from vpp.domain.errors import AssetSpecError
from vpp.domain.park import ConsentRecord, EnrolledAsset
from vpp.services.enrolment import PowerLimits, check_nomination, check_readings, power_limits
from vpp.services.portfolio_envelope import Envelope, build_envelope

T0 = datetime(2026, 3, 2, tzinfo=UTC)
INTERVALS = [T0 + timedelta(minutes=15 * k) for k in range(96)]
NOW = datetime(2026, 3, 3, tzinfo=UTC)


def consent(enterprise: str, *assets: str, products: list[str] | None = None) -> ConsentRecord:
    return ConsentRecord(
        enterprise_id=enterprise,
        asset_ids=list(assets),
        agreed_by="signatory",
        agreed_at=T0 - timedelta(days=1),
        contract_id="c",
        terms_version="1",
        products=products or [],
    )


def envelope(
    assets: list[EnrolledAsset], consents: list[ConsentRecord], direction: str = "both"
) -> Envelope:
    return build_envelope(
        assets,
        consents,
        [],
        INTERVALS,
        product_id="spot_energy",
        direction=direction,
        interval_minutes=15,
        sustain_hours=0.0,
        timezone="Asia/Shanghai",
    )


def test_limits_follow_the_sign_convention() -> None:
    battery = BatterySpec(id="b", power_mw=2.0, charge_power_mw=1.0, energy_mwh=4.0)
    assert power_limits(battery) == PowerLimits(-1.0, 2.0)
    load = CurtailableLoadSpec(id="l", max_curtail_mw=3.0, max_duration_min=60)
    assert power_limits(load, connection_mw=8.0).lowest_mw == -8.0
    assert power_limits(load).highest_mw == 0.0
    with pytest.raises(AssetSpecError, match="exceeds its physical flexibility"):
        check_nomination(load, 3.5)


def test_readings_within_meter_tolerance_pass_and_beyond_fail() -> None:
    pv = PvSpec(id="pv", capacity_mw=1.0, latitude=31.0, longitude=120.0)
    rows = [
        {"ts": T0, "power_mw": 1.04, "quality": "measured"},
        {"ts": T0 + timedelta(minutes=15), "power_mw": 1.06, "quality": "measured"},
        {"ts": T0 + timedelta(minutes=30), "power_mw": 0.5, "quality": "guessed"},
    ]
    accepted, rejected = check_readings(pv, rows, NOW)
    assert [r.power_mw for r in accepted] == [1.04]
    assert [(r.row, r.field) for r in rejected] == [(1, "power_mw"), (2, "quality")]


def test_only_the_owners_consent_counts() -> None:
    battery = EnrolledAsset(
        spec=BatterySpec(id="bat", power_mw=2.0, energy_mwh=4.0),
        enterprise_id="ent-a",
        verification="passed",
    )
    foreign = envelope([battery], [consent("ent-b", "bat")])
    assert foreign.contributing == {} and "no consent of ent-a" in foreign.excluded["bat"]
    own = envelope([battery], [consent("ent-a", "bat", products=["agc_fr"])])
    assert "bat" in own.excluded
    assert envelope([battery], [consent("ent-a", "bat")]).intervals[0].up_mw == 2.0


@settings(max_examples=60, deadline=None)
@given(
    powers=st.lists(st.floats(0.1, 50.0), min_size=1, max_size=6),
    nominated=st.lists(st.none() | st.floats(0.0, 60.0), min_size=6, max_size=6),
    consented=st.lists(st.booleans(), min_size=6, max_size=6),
    direction=st.sampled_from(["both", "up", "down", "symmetric"]),
)
def test_envelope_never_exceeds_what_consented_assets_nominate(
    powers: list[float], nominated: list[float | None], consented: list[bool], direction: str
) -> None:
    assets = [
        EnrolledAsset(
            spec=BatterySpec(id=f"b{k}", power_mw=p, energy_mwh=2 * p),
            enterprise_id="ent-a",
            nominated_mw=None if nominated[k] is None else min(nominated[k], p),
            verification="passed",
        )
        for k, p in enumerate(powers)
    ]
    chosen = [a.spec.id for a, ok in zip(assets, consented, strict=False) if ok]
    result = envelope(assets, [consent("ent-a", *chosen)] if chosen else [], direction)
    cap = sum(
        a.nominated_mw if a.nominated_mw is not None else a.spec.power_mw
        for a in assets
        if a.spec.id in chosen
    )
    assert set(result.contributing) | set(result.excluded) == {a.spec.id for a in assets}
    assert set(result.contributing) == set(chosen)
    for interval in result.intervals:
        assert 0.0 <= interval.up_mw <= cap + 1e-9 and 0.0 <= interval.down_mw <= cap + 1e-9
        assert interval.up_mwh <= interval.up_mw * 0.25 + 1e-9
        if direction == "up":
            assert interval.down_mw == 0.0
        if direction == "symmetric":
            assert interval.up_mw == pytest.approx(interval.down_mw)


def test_the_park_connection_caps_the_envelope() -> None:
    batteries = [
        EnrolledAsset(
            spec=BatterySpec(id=f"bat{k}", power_mw=4.0, energy_mwh=8.0),
            enterprise_id="ent-a",
            verification="passed",
        )
        for k in range(3)
    ]
    consents = [consent("ent-a", *[b.spec.id for b in batteries])]
    free = envelope(batteries, consents).intervals[0]
    assert (free.up_mw, free.down_mw, free.capped) == (12.0, 12.0, False)
    capped = build_envelope(
        batteries,
        consents,
        [],
        INTERVALS,
        product_id="spot_energy",
        direction="both",
        interval_minutes=15,
        sustain_hours=0.0,
        timezone="Asia/Shanghai",
        connection_mw=9.0,
    ).intervals[0]
    assert capped.capped and capped.up_mw == 9.0 and capped.down_mw == 9.0
    assert capped.up_mwh == pytest.approx(free.up_mwh * 9.0 / 12.0)
