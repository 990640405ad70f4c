"""Tenant isolation: every enterprise-scoped endpoint, called with another tenant's credentials,
answers 404 or 403 with none of the owner's data, on SQLite and on PostgreSQL.

The table of calls is checked against the app's routes, so a new enterprise-scoped route fails
this test until it is added here. ``PROBES`` tries ent-a's ids (asset, site, contract, consent,
statement, enterprise) from ent-b's own paths: each answer must equal the one for an id ent-b
holds itself (creates of global ids) or for an id nobody has (every lookup).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

from fastapi.testclient import TestClient

from tests.api.conftest import (
    ADMIN,
    BATTERY,
    CONSENT,
    CONTRACT,
    FURNACE,
    World,
    build_client,
    seed_world,
)
from vpp.db.engine import session_scope
from vpp.db.repositories import StatementRepository
from vpp.domain.bids import Statement, StatementLine

DAY = {"start": "2026-03-02T00:00:00Z", "end": "2026-03-03T00:00:00Z"}
OUTAGE = {"start": "2026-03-03T00:00:00Z", "end": "2026-03-03T06:00:00Z", "reason": "x"}
POINTS = {"points": [{"ts": "2026-03-02T00:00:00Z", "power_mw": 0.5}]}
ENT = "/v1/enterprises/{enterprise_id}"
CALLS: dict[tuple[str, str], tuple[str, dict[str, object]]] = {
    ("GET", ENT): ("/v1/enterprises/ent-a", {}),
    ("GET", ENT + "/assets"): ("/v1/enterprises/ent-a/assets", {}),
    ("POST", ENT + "/assets"): (
        "/v1/enterprises/ent-a/assets",
        {"json": {**BATTERY, "spec": {**BATTERY["spec"], "id": "sneaky"}}},
    ),
    ("GET", ENT + "/assets/{asset_id}"): ("/v1/enterprises/ent-a/assets/a-bat-1", {}),
    ("PATCH", ENT + "/assets/{asset_id}"): (
        "/v1/enterprises/ent-a/assets/a-bat-1",
        {"json": {"nominated_mw": 0.1}},
    ),
    ("GET", ENT + "/assets/{asset_id}/outages"): (
        "/v1/enterprises/ent-a/assets/a-bat-1/outages",
        {},
    ),
    ("POST", ENT + "/assets/{asset_id}/outages"): (
        "/v1/enterprises/ent-a/assets/a-bat-1/outages",
        {"json": OUTAGE},
    ),
    ("GET", ENT + "/assets/{asset_id}/telemetry"): (
        "/v1/enterprises/ent-a/assets/a-bat-1/telemetry",
        {"params": DAY},
    ),
    ("POST", ENT + "/assets/{asset_id}/telemetry"): (
        "/v1/enterprises/ent-a/assets/a-bat-1/telemetry",
        {"json": POINTS},
    ),
    ("GET", ENT + "/contracts"): ("/v1/enterprises/ent-a/contracts", {}),
    ("POST", ENT + "/contracts"): (
        "/v1/enterprises/ent-a/contracts",
        {"json": {**CONTRACT, "id": "c-sneaky"}},
    ),
    ("GET", ENT + "/consents"): ("/v1/enterprises/ent-a/consents", {}),
    ("POST", ENT + "/consents"): ("/v1/enterprises/ent-a/consents", {"json": CONSENT}),
    ("POST", ENT + "/consents/{consent_id}/revoke"): (
        "/v1/enterprises/ent-a/consents/1/revoke",
        {},
    ),
    ("GET", ENT + "/consumption"): ("/v1/enterprises/ent-a/consumption", {"params": DAY}),
    ("POST", ENT + "/consumption"): (
        "/v1/enterprises/ent-a/consumption",
        {"content": "timestamp,power_mw\n2026-03-02T00:00:00Z,1.5\n"},
    ),
    ("GET", ENT + "/statements"): ("/v1/enterprises/ent-a/statements", {}),
    ("GET", ENT + "/statements/{statement_id}"): ("/v1/enterprises/ent-a/statements/st-a-1", {}),
    ("GET", ENT + "/earnings"): (
        "/v1/enterprises/ent-a/earnings",
        {"params": {"from": "2026-01", "to": "2026-03"}},
    ),
}
SECRETS = (
    "a-bat-1",
    "a-furnace-2",
    "Alpha",
    "a-main",
    "c-a-2026",
    "Li Wei",
    "sneaky",
    "st-a-1",
    "4321.09",
)
STATEMENT = Statement(
    id="st-a-1",
    enterprise_id="ent-a",
    market_id="cn-shandong",
    period_start=date(2026, 2, 1),
    period_end=date(2026, 2, 28),
    currency="CNY",
    lines=[StatementLine(label="spot energy", amount=Decimal("4321.09"))],
)


def _seed_owner(client: TestClient, world: World) -> None:
    for body in (BATTERY, FURNACE):
        assert (
            client.post("/v1/enterprises/ent-a/assets", json=body, headers=world.ent_a).status_code
            == 201
        )
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
    telemetry = client.post(
        "/v1/enterprises/ent-a/assets/a-bat-1/telemetry", json=POINTS, headers=world.ent_a
    )
    assert telemetry.status_code == 200
    consumption = client.post(
        "/v1/enterprises/ent-a/consumption",
        content="timestamp,power_mw\n2026-03-02T00:00:00Z,2.5\n",
        headers={**world.ent_a, "Content-Type": "text/csv"},
    )
    assert consumption.status_code == 200, consumption.text
    with session_scope(client.app.state.engine) as session:  # type: ignore[attr-defined]
        StatementRepository(session).save_draft(STATEMENT)
        StatementRepository(session).issue("ent-a", "st-a-1", at=datetime(2026, 3, 3, tzinfo=UTC))


def _snapshot(client: TestClient, world: World) -> list[object]:
    return [
        client.get(path, headers=world.ent_a, **kw).json()
        for (m, _), (path, kw) in CALLS.items()
        if m == "GET"
    ]


def test_the_table_covers_every_enterprise_scoped_route(client: TestClient) -> None:
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    scoped = {
        (method.upper(), path)
        for path, operations in paths.items()
        if path.startswith(ENT)
        for method in operations
    }
    assert scoped == set(CALLS)


def test_other_tenants_get_nothing(backend_url: str) -> None:
    with build_client(backend_url) as client:
        world = seed_world(client)
        _seed_owner(client, world)
        before = _snapshot(client, world)
        for (method, template), (path, kwargs) in CALLS.items():
            for intruder in (world.ent_b, world.settlement if method != "GET" else None):
                if intruder is None:
                    continue
                answer = client.request(method, path, headers=intruder, **kwargs)
                assert answer.status_code in (403, 404), (method, template, answer.text)
                assert answer.headers["content-type"] == "application/problem+json"
                shown = {k: v for k, v in answer.json().items() if k != "instance"}  # echoed path
                assert not any(s in str(shown) for s in SECRETS), (method, template, shown)
        # The intruder's own enterprise path cannot reach ent-a's asset either.
        for method, path, kwargs in (
            ("GET", "/v1/enterprises/ent-b/assets/a-bat-1", {}),
            ("POST", "/v1/enterprises/ent-b/assets/a-bat-1/telemetry", {"json": POINTS}),
            ("GET", "/v1/enterprises/ent-b/assets/a-bat-1/telemetry", {"params": DAY}),
            ("POST", "/v1/enterprises/ent-b/assets/a-bat-1/outages", {"json": OUTAGE}),
        ):
            answer = client.request(method, path, headers=world.ent_b, **kwargs)
            assert answer.status_code == 404, (path, answer.text)
        own_contract = {**CONTRACT, "id": "c-b-1"}
        assert (
            client.post(
                "/v1/enterprises/ent-b/contracts", json=own_contract, headers=world.ent_b
            ).status_code
            == 201
        )
        foreign_consent = {**CONSENT, "contract_id": "c-b-1"}
        refused = client.post(
            "/v1/enterprises/ent-b/consents", json=foreign_consent, headers=world.ent_b
        )
        assert refused.status_code == 404 and "a-furnace-2" not in refused.text
        assert _snapshot(client, world) == before
        audit = client.get(
            "/v1/audit", params={"actor": f"enterprise:{world.key_ids['ent_b']}"}, headers=ADMIN
        )
        assert [e["action"] for e in audit.json()["items"]] == ["contract.add"]


Kwargs = Callable[[str], dict[str, object]]
NONE: Kwargs = lambda probe: {}  # noqa: E731
B = "/v1/enterprises/ent-b"
PROBES: list[tuple[str, str, str, str, Kwargs]] = [
    # (ent-a's id, what ent-b compares it with, method, path, request built around the id)
    ("a-bat-1", "b-own-1", "POST", B + "/assets", lambda p: {"json": _asset(p, None)}),
    ("a-main", "no-site", "POST", B + "/assets", lambda p: {"json": _asset("b-new", p)}),
    ("c-a-2026", "b-own-1", "POST", B + "/contracts", lambda p: {"json": {**CONTRACT, "id": p}}),
    (
        "c-a-2026",
        "no-contract",
        "POST",
        B + "/consents",
        lambda p: {"json": _consent(p, "b-own-1")},
    ),
    ("a-bat-1", "no-asset", "POST", B + "/consents", lambda p: {"json": _consent("b-own-1", p)}),
    ("1", "999", "POST", B + "/consents/{}/revoke", NONE),
    ("a-bat-1", "no-asset", "GET", B + "/assets/{}", NONE),
    ("a-bat-1", "no-asset", "PATCH", B + "/assets/{}", lambda p: {"json": {"nominated_mw": 0.1}}),
    ("a-bat-1", "no-asset", "GET", B + "/assets/{}/outages", NONE),
    ("a-bat-1", "no-asset", "POST", B + "/assets/{}/outages", lambda p: {"json": OUTAGE}),
    ("a-bat-1", "no-asset", "GET", B + "/assets/{}/telemetry", lambda p: {"params": DAY}),
    ("a-bat-1", "no-asset", "POST", B + "/assets/{}/telemetry", lambda p: {"json": POINTS}),
    ("st-a-1", "no-statement", "GET", B + "/statements/{}", NONE),
    ("ent-a", "no-ent", "GET", "/v1/enterprises/{}", NONE),
    ("ent-a", "no-ent", "GET", "/v1/enterprises/{}/assets/a-bat-1", NONE),
]


def _asset(asset_id: str, site_id: str | None) -> dict[str, object]:
    return {**BATTERY, "site_id": site_id, "spec": {**BATTERY["spec"], "id": asset_id}}


def _consent(contract_id: str, asset_id: str) -> dict[str, object]:
    return {**CONSENT, "contract_id": contract_id, "asset_ids": [asset_id]}


def _answer(
    client: TestClient, world: World, probe: str, method: str, path: str, kwargs: Kwargs
) -> tuple[int, str]:
    """Status and problem body of ent-b's call with ``probe``, the probe itself blanked out."""
    answer = client.request(method, path.format(probe), headers=world.ent_b, **kwargs(probe))  # type: ignore[arg-type]
    shown = {k: v for k, v in answer.json().items() if k not in ("instance", "request_id")}
    return answer.status_code, str(shown).replace(probe, "<id>")


def test_probing_cannot_tell_another_tenants_ids_from_own_or_missing_ones(
    backend_url: str,
) -> None:
    """ent-b gets the same answer for ent-a's ids as for its own or for ids nobody has.

    Asset and contract ids are global, so creating one that exists anywhere must fail (409):
    there the answer for ent-a's id equals the answer for an id ent-b itself holds. For every
    lookup the answer equals the one for an id that does not exist.
    """
    with build_client(backend_url) as client:
        world = seed_world(client)
        _seed_owner(client, world)
        for path, body in (
            ("assets", _asset("b-own-1", None)),
            ("contracts", {**CONTRACT, "id": "b-own-1"}),
        ):
            created = client.post(f"{B}/{path}", json=body, headers=world.ent_b)
            assert created.status_code == 201, created.text
        before = _snapshot(client, world)
        for foreign, baseline, method, path, kwargs in PROBES:
            seen = _answer(client, world, foreign, method, path, kwargs)
            expected = _answer(client, world, baseline, method, path, kwargs)
            assert seen == expected, (method, path, foreign)
            assert seen[0] in (404, 409), (method, path, seen)
        assert _snapshot(client, world) == before
