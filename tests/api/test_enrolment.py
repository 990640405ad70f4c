"""Enrolment, agreements and the operator's portfolio envelope, end to end over HTTP."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import BATTERY, CONSENT, CONTRACT, FURNACE, World

PORTFOLIO = "/v1/parks/suzhou-1/portfolio?day=2026-03-02&product=spot_energy"


def enrol_alpha(client: TestClient, world: World) -> None:
    """Battery and furnace enrolled, contract signed, consent for the battery only, verified."""
    for body in (BATTERY, FURNACE):
        answer = client.post("/v1/enterprises/ent-a/assets", json=body, headers=world.ent_a)
        assert answer.status_code == 201, answer.text
    assert (
        client.post(
            "/v1/enterprises/ent-a/contracts", json=CONTRACT, headers=world.ent_a
        ).status_code
        == 201
    )
    assert (
        client.post("/v1/enterprises/ent-a/consents", json=CONSENT, headers=world.ent_a).status_code
        == 201
    )
    for asset_id in ("a-bat-1", "a-furnace-2"):
        verified = client.patch(
            f"/v1/enterprises/ent-a/assets/{asset_id}",
            json={"verification": "passed"},
            headers=world.operator,
        )
        assert verified.status_code == 200 and verified.json()["verification"] == "passed"


def test_enrol_list_and_page(client: TestClient, world: World) -> None:
    enrol_alpha(client, world)
    first = client.get("/v1/enterprises/ent-a/assets?limit=1", headers=world.ent_a).json()
    assert [a["id"] for a in first["items"]] == ["a-bat-1"] and first["next_cursor"] == "a-bat-1"
    second = client.get(
        f"/v1/enterprises/ent-a/assets?limit=1&cursor={first['next_cursor']}", headers=world.ent_a
    ).json()
    assert [a["id"] for a in second["items"]] == ["a-furnace-2"] and second["next_cursor"] is None
    loads = client.get("/v1/enterprises/ent-a/assets?type=curtailable_load", headers=world.ent_a)
    assert [a["id"] for a in loads.json()["items"]] == ["a-furnace-2"]
    one = client.get("/v1/enterprises/ent-a/assets/a-bat-1", headers=world.ent_a).json()
    assert one["spec"]["power_mw"] == 2.0 and one["verification"] == "passed"


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (
            {
                "spec": {
                    "type": "battery",
                    "id": "x",
                    "power_mw": 1,
                    "energy_mwh": 1,
                    "soc_min": 0.9,
                    "soc_max": 0.1,
                }
            },
            422,
            "soc_min",
        ),
        ({"spec": {"type": "nuclear", "id": "x"}}, 422, "spec"),
        (
            {
                "spec": {"type": "battery", "id": "x", "power_mw": 1, "energy_mwh": 1},
                "nominated_mw": 5,
            },
            422,
            "exceeds",
        ),
        (
            {
                "spec": {"type": "battery", "id": "x", "power_mw": 1, "energy_mwh": 1},
                "site_id": "b-depot",
            },
            404,
            "site",
        ),
        (
            {"spec": {"type": "battery", "id": "x", "power_mw": 1, "energy_mwh": 1}, "extra": 1},
            422,
            "extra",
        ),
    ],
)
def test_impossible_enrolments_are_refused(
    client: TestClient, world: World, body: dict[str, object], status: int, words: str
) -> None:
    answer = client.post("/v1/enterprises/ent-a/assets", json=body, headers=world.ent_a)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert words in answer.text


def test_changes_reset_verification_and_only_operators_verify(
    client: TestClient, world: World
) -> None:
    enrol_alpha(client, world)
    url = "/v1/enterprises/ent-a/assets/a-bat-1"
    assert (
        client.patch(url, json={"verification": "passed"}, headers=world.ent_a).status_code == 403
    )
    changed = client.patch(url, json={"nominated_mw": 1.0}, headers=world.ent_a).json()
    assert changed["nominated_mw"] == 1.0 and changed["verification"] == "unverified"
    wrong_id = client.patch(
        url, json={"spec": {**BATTERY["spec"], "id": "other"}}, headers=world.ent_a
    )
    assert wrong_id.status_code == 422
    audit = client.get("/v1/audit?entity=asset&entity_id=a-bat-1", headers=world.operator).json()[
        "items"
    ]
    update = [e for e in audit if e["action"] == "asset.update"][-1]
    assert update["before"]["nominated_mw"] == 1.5 and update["after"]["nominated_mw"] == 1.0
    assert update["actor"].startswith("enterprise:")


def test_portfolio_offers_only_consented_verified_assets(client: TestClient, world: World) -> None:
    enrol_alpha(client, world)
    envelope = client.get(PORTFOLIO, headers=world.operator).json()
    assert len(envelope["intervals"]) == 96 and envelope["timezone"] == "Asia/Shanghai"
    assert [a["asset_id"] for a in envelope["offered"]] == ["a-bat-1"]
    assert "no consent of ent-a covers spot_energy" in envelope["excluded"]["a-furnace-2"]
    first = envelope["intervals"][0]
    assert first["up_mw"] == pytest.approx(1.5) and first["down_mw"] == pytest.approx(1.5)
    assert first["up_mwh"] == pytest.approx(1.5 * 0.25)

    consent = {**CONSENT, "asset_ids": ["a-furnace-2"], "products": []}
    assert (
        client.post("/v1/enterprises/ent-a/consents", json=consent, headers=world.ent_a).status_code
        == 201
    )
    both = client.get(PORTFOLIO, headers=world.operator).json()
    assert both["excluded"] == {}
    by_hour = {i["start"][11:16]: i for i in both["intervals"]}
    # The furnace is available 08:00-22:00 Shanghai time = 00:00-14:00 UTC.
    assert by_hour["00:00"]["up_mw"] == pytest.approx(4.0) and by_hour["00:00"]["assets"] == 2
    assert by_hour["14:00"]["up_mw"] == pytest.approx(1.5) and by_hour["14:00"]["assets"] == 1


def test_revoked_consent_outage_and_unverified_capacity_leave_the_envelope(
    client: TestClient, world: World
) -> None:
    enrol_alpha(client, world)
    outage = {
        "start": "2026-03-02T00:00:00Z",
        "end": "2026-03-02T01:00:00Z",
        "reason": "maintenance",
    }
    made = client.post(
        "/v1/enterprises/ent-a/assets/a-bat-1/outages", json=outage, headers=world.ent_a
    )
    assert made.status_code == 201
    listed = client.get("/v1/enterprises/ent-a/assets/a-bat-1/outages", headers=world.ent_a).json()
    assert [o["reason"] for o in listed] == ["maintenance"]
    envelope = client.get(PORTFOLIO, headers=world.operator).json()
    by_hour = {i["start"][11:16]: i["up_mw"] for i in envelope["intervals"]}
    assert by_hour["00:45"] == 0.0 and by_hour["01:00"] == pytest.approx(1.5)

    client.patch(
        "/v1/enterprises/ent-a/assets/a-bat-1", json={"nominated_mw": 1.0}, headers=world.ent_a
    )
    strict = client.get(PORTFOLIO, headers=world.operator).json()
    assert strict["excluded"]["a-bat-1"] == "capacity verification is unverified"
    what_if = client.get(PORTFOLIO + "&include_unverified=true", headers=world.operator).json()
    assert what_if["peak_up_mw"] == pytest.approx(1.0)

    consents = client.get("/v1/enterprises/ent-a/consents", headers=world.ent_a).json()["items"]
    revoked = client.post(
        f"/v1/enterprises/ent-a/consents/{consents[0]['id']}/revoke", headers=world.ent_a
    )
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    # Revocation takes effect from now: the past day keeps its offer, a future day loses it.
    future = PORTFOLIO.replace("2026-03-02", "2030-01-02") + "&include_unverified=true"
    after = client.get(future, headers=world.operator).json()
    assert after["offered"] == [] and after["peak_up_mw"] == 0.0
    assert "no consent" in after["excluded"]["a-bat-1"]


def test_consents_name_only_products_of_the_market(client: TestClient, world: World) -> None:
    enrol_alpha(client, world)
    typo = client.post(
        "/v1/enterprises/ent-a/consents",
        json={**CONSENT, "products": ["spot"]},
        headers=world.ent_a,
    )
    assert typo.status_code == 422 and "spot_energy" in typo.json()["hint"]


def test_unknown_product_and_park_are_problems(client: TestClient, world: World) -> None:
    wrong = client.get(
        "/v1/parks/suzhou-1/portfolio?day=2026-03-02&product=nope", headers=world.operator
    )
    assert wrong.status_code == 404 and "spot_energy" in wrong.json()["hint"]
    missing = client.get(
        "/v1/parks/nowhere/portfolio?day=2026-03-02&product=spot_energy", headers=world.operator
    )
    assert missing.status_code == 404
