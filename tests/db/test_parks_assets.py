"""Parks, enrolled assets, contracts and consents round-trip; tenants only see their own."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine

from tests.db.conftest import T0, battery, build_park, contract, pv
from vpp.db.engine import session_scope
from vpp.db.repositories import (
    AssetRepository,
    ConsentRepository,
    ContractRepository,
    ParkRepository,
)
from vpp.domain.assets import (
    BackupGeneratorSpec,
    CurtailableLoadSpec,
    DailyWindow,
    EvFleetSpec,
    EvSession,
    ShiftableLoadSpec,
    ThermalSpec,
    WindSpec,
)
from vpp.domain.errors import ConflictError, InvalidInputError, NotFoundError
from vpp.domain.park import ConsentRecord, EnrolledAsset, Enterprise, Site


def test_park_round_trip_and_update(engine: Engine) -> None:
    park = build_park()
    with session_scope(engine) as session:
        ParkRepository(session).save(park)
    with session_scope(engine) as session:
        assert ParkRepository(session).get(park.id) == park
        assert ParkRepository(session).list_ids() == [park.id]
        assert ParkRepository(session).get_enterprise("ent-b") == park.enterprises[1]

    changed = park.model_copy(
        update={
            "name": "Renamed",
            "enterprises": [
                park.enterprises[0].model_copy(update={"sites": [Site(id="a-main", name="Main")]})
            ],
        }
    )
    with session_scope(engine) as session:
        ParkRepository(session).save(changed)
    with session_scope(engine) as session:
        assert ParkRepository(session).get(park.id) == changed


def test_missing_park_and_foreign_enterprise(engine: Engine) -> None:
    with session_scope(engine) as session:
        ParkRepository(session).save(build_park())
        with pytest.raises(NotFoundError):
            ParkRepository(session).get("nowhere")
    other = build_park().model_copy(
        update={"id": "other", "enterprises": [Enterprise(id="ent-a", name="x")]}
    )
    with (
        pytest.raises(ConflictError, match="already belongs to park suzhou-1"),
        session_scope(engine) as session,
    ):
        ParkRepository(session).save(other)


def test_removing_an_enterprise_with_assets_is_a_conflict(seeded: Engine) -> None:
    without_b = build_park().model_copy(update={"enterprises": build_park().enterprises[:1]})
    with (
        pytest.raises(ConflictError, match="still has assets"),
        session_scope(seeded) as session,
    ):
        ParkRepository(session).save(without_b)
    with session_scope(seeded) as session:
        assert ParkRepository(session).get("suzhou-1") == build_park()


SPECS = [
    WindSpec(id="w1", capacity_mw=4.2, hub_height_m=90),
    CurtailableLoadSpec(id="cl1", max_curtail_mw=1.2, max_duration_min=120, cost_per_mwh=310.5),
    ShiftableLoadSpec(
        id="sl1", power_mw=0.8, energy_mwh=1.5, window=DailyWindow(start="22:00", end="24:00")
    ),
    ThermalSpec(id="th1", max_power_mw=1.0, baseline_power_mw=0.6, energy_capacity_mwh=1.5),
    EvFleetSpec(
        id="ev1",
        chargers=10,
        charger_power_mw=0.12,
        sessions=[EvSession(arrival="18:00", departure="07:00", energy_mwh=0.3, vehicles=8)],
    ),
    BackupGeneratorSpec(id="bg1", power_mw=2.0, fuel_cost_per_mwh=1450.0),
]


def test_every_asset_type_round_trips(seeded: Engine) -> None:
    enrolled = [
        EnrolledAsset(spec=spec, enterprise_id="ent-a", site_id="a-north", verification="scheduled")
        for spec in SPECS
    ]
    with session_scope(seeded) as session:
        for asset in enrolled:
            AssetRepository(session).add(asset, at=T0)
    with session_scope(seeded) as session:
        repo = AssetRepository(session)
        assert repo.get("ent-a", "a-bat-1") == battery()
        assert repo.get("ent-b", "b-pv-1") == pv()
        for asset in enrolled:
            assert repo.get("ent-a", asset.spec.id) == asset
        assert [a.spec.id for a in repo.list_for_enterprise("ent-a")] == sorted(
            ["a-bat-1", *(s.id for s in SPECS)]
        )
        assert [a.spec.id for a in repo.list_for_park("suzhou-1")] == sorted(
            ["a-bat-1", "b-pv-1", *(s.id for s in SPECS)]
        )


def test_a_tenant_cannot_read_another_tenants_asset(seeded: Engine) -> None:
    with session_scope(seeded) as session:
        repo = AssetRepository(session)
        with pytest.raises(NotFoundError, match="a-bat-1 not found for enterprise ent-b"):
            repo.get("ent-b", "a-bat-1")
        assert [a.spec.id for a in repo.list_for_enterprise("ent-b")] == ["b-pv-1"]
        with pytest.raises(NotFoundError):
            repo.update(battery().model_copy(update={"enterprise_id": "ent-b", "site_id": None}))


def test_asset_update_and_enrolment_errors(seeded: Engine) -> None:
    with session_scope(seeded) as session:
        repo = AssetRepository(session)
        updated = battery().model_copy(update={"nominated_mw": 1.0, "verification": "failed"})
        repo.update(updated)
        assert repo.get("ent-a", "a-bat-1") == updated
        with pytest.raises(ConflictError, match="already enrolled"):
            repo.add(battery())
        with pytest.raises(NotFoundError, match="site b-depot not found for enterprise ent-a"):
            repo.add(battery("a-bat-2").model_copy(update={"site_id": "b-depot"}))
        with pytest.raises(NotFoundError, match="enterprise ent-x"):
            repo.add(battery("x-bat").model_copy(update={"enterprise_id": "ent-x"}))
        mismatch = battery("a-bat-3").model_copy(
            update={"spec": battery("a-bat-3").spec.model_copy(update={"enterprise_id": "ent-b"})}
        )
        with pytest.raises(InvalidInputError, match="spec names enterprise ent-b"):
            repo.add(mismatch)


def test_contracts_round_trip_scoped_and_active(seeded: Engine) -> None:
    later = contract("c-a-2").model_copy(
        update={"valid_from": T0 + timedelta(days=30), "capacity_fee_per_mw_month": 1234.5678}
    )
    with session_scope(seeded) as session:
        ContractRepository(session).add(later)
    with session_scope(seeded) as session:
        repo = ContractRepository(session)
        assert repo.get("ent-a", "c-a-1") == contract()
        assert repo.get("ent-a", "c-a-2") == later
        with pytest.raises(NotFoundError):
            repo.get("ent-b", "c-a-1")
        assert repo.list_for_enterprise("ent-a") == [contract(), later]
        assert repo.active("ent-a", T0 + timedelta(days=1)) == [contract()]
        assert repo.active("ent-a", T0 + timedelta(days=31)) == [contract(), later]
        assert repo.active("ent-a", T0 - timedelta(seconds=1)) == []
        with pytest.raises(ConflictError, match="already exists"):
            repo.add(contract())


def test_consents_active_for_asset_product_and_instant(seeded: Engine) -> None:
    energy_only = ConsentRecord(
        enterprise_id="ent-a",
        asset_ids=["a-future", "a-bat-1"],
        agreed_by="Li Wei, plant manager",
        agreed_at=T0,
        contract_id="c-a-1",
        terms_version="1",
        products=["energy"],
    )
    everything = energy_only.model_copy(
        update={"products": [], "agreed_at": T0 + timedelta(days=10), "asset_ids": ["a-bat-1"]}
    )
    with session_scope(seeded) as session:
        repo = ConsentRepository(session)
        first = repo.add(energy_only)
        second = repo.add(everything)
    day = timedelta(days=1)
    with session_scope(seeded) as session:
        repo = ConsentRepository(session)
        assert repo.get("ent-a", first) == energy_only
        assert repo.list_for_enterprise("ent-a") == [(first, energy_only), (second, everything)]
        assert repo.active("ent-a", "a-bat-1", "energy", T0 + day) == [energy_only]
        assert repo.active("ent-a", "a-bat-1", "fcr", T0 + day) == []
        assert repo.active("ent-a", "a-bat-1", "fcr", T0 + 11 * day) == [everything]
        assert repo.active("ent-a", "a-bat-1", "energy", T0 - day) == []
        assert repo.active("ent-b", "a-bat-1", "energy", T0 + day) == []
        revoked = repo.revoke("ent-a", first, T0 + 5 * day)
        assert revoked.revoked_at == T0 + 5 * day
        assert repo.active("ent-a", "a-bat-1", "energy", T0 + 4 * day) == [revoked]
        assert repo.active("ent-a", "a-bat-1", "energy", T0 + 6 * day) == []
        with pytest.raises(ConflictError, match="already revoked"):
            repo.revoke("ent-a", first, T0 + 6 * day)
        with pytest.raises(NotFoundError):
            repo.revoke("ent-b", second, T0 + 6 * day)


def test_consent_needs_the_enterprises_own_contract(seeded: Engine) -> None:
    foreign = ConsentRecord(
        enterprise_id="ent-a",
        asset_ids=["a-bat-1"],
        agreed_by="x",
        agreed_at=T0,
        contract_id="c-b-1",
        terms_version="1",
    )
    with session_scope(seeded) as session, pytest.raises(NotFoundError, match="c-b-1"):
        ConsentRepository(session).add(foreign)
