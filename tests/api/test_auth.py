"""Auth: bootstrap admin, keys shown once and stored hashed, bearer tokens, scopes, rotation."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import jwt
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.api.conftest import ADMIN, World, make_key
from vpp.api.security import Principal, issue_token


def _token(client: TestClient, key: str, scope: str | None = None) -> str:
    form = {"grant_type": "client_credentials", "client_secret": key}
    if scope:
        form["scope"] = scope
    answer = client.post("/v1/auth/token", data=form)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def test_keys_are_shown_once_and_stored_as_hashes(client: TestClient, api_url: str) -> None:
    key_id, key = make_key(client, "operator")
    listed = client.get("/v1/api-keys", headers=ADMIN).json()["items"]
    assert [k["id"] for k in listed] == [key_id] and "key" not in listed[0]
    engine = sa.create_engine(api_url)
    with engine.connect() as connection:
        stored = connection.execute(sa.text("SELECT * FROM api_keys")).mappings().one()
    engine.dispose()
    secret = key.split(".", 1)[1]
    assert secret not in str(dict(stored))
    assert stored["secret_sha256"] == hashlib.sha256(secret.encode()).hexdigest()


def test_missing_wrong_and_malformed_credentials_are_401(client: TestClient, world: World) -> None:
    key = world.ent_a["X-API-Key"]
    for headers in (
        {},
        {"X-API-Key": key[:-2] + "zz"},
        {"X-API-Key": "vpp_nodot"},
        {"X-API-Key": "vpp_kdoesnotexist.secret"},
        {"Authorization": "Bearer not-a-jwt"},
    ):
        answer = client.get("/v1/enterprises/ent-a/assets", headers=headers)
        assert answer.status_code == 401, headers
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["www-authenticate"] == "Bearer"


def test_bearer_tokens_carry_scopes_and_die_with_their_key(
    client: TestClient, world: World
) -> None:
    token = _token(client, world.ent_a["X-API-Key"])
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/v1/enterprises/ent-a/assets", headers=bearer).status_code == 200
    narrow = {"Authorization": f"Bearer {_token(client, world.ent_a['X-API-Key'], 'assets:read')}"}
    battery = {"spec": {"type": "battery", "id": "b1", "power_mw": 1.0, "energy_mwh": 2.0}}
    refused = client.post("/v1/enterprises/ent-a/assets", json=battery, headers=narrow)
    assert refused.status_code == 403
    too_much = client.post(
        "/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_secret": world.ent_a["X-API-Key"],
            "scope": "keys:admin",
        },
    )
    assert too_much.status_code == 422
    assert client.delete(f"/v1/api-keys/{world.key_ids['ent_a']}", headers=ADMIN).status_code == 200
    assert client.get("/v1/enterprises/ent-a/assets", headers=bearer).status_code == 401
    assert client.get("/v1/enterprises/ent-a/assets", headers=world.ent_a).status_code == 401


def test_expired_and_forged_tokens_are_refused(client: TestClient, world: World) -> None:
    principal = Principal(
        world.key_ids["ent_a"], "enterprise", "ent-a", frozenset({"assets:read"}), "bearer"
    )
    secret = client.app.state.jwt_secret  # type: ignore[attr-defined]
    old = issue_token(principal, secret, datetime.now(UTC) - timedelta(hours=2), 900)
    expired = client.get("/v1/enterprises/ent-a/assets", headers={"Authorization": f"Bearer {old}"})
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]
    forged = issue_token(principal, "another-secret-" + "y" * 40, datetime.now(UTC), 900)
    refused = client.get(
        "/v1/enterprises/ent-a/assets", headers={"Authorization": f"Bearer {forged}"}
    )
    assert refused.status_code == 401
    claims = jwt.decode(
        _token(client, world.ent_a["X-API-Key"]), options={"verify_signature": False}
    )
    claims["ent"] = "ent-b"
    tampered = jwt.encode(claims, secret, algorithm="HS256")
    other = client.get(
        "/v1/enterprises/ent-b/assets", headers={"Authorization": f"Bearer {tampered}"}
    )
    assert other.status_code == 401


def test_roles_limit_what_a_key_can_do(client: TestClient, world: World) -> None:
    assert (
        client.post(
            "/v1/api-keys", json={"role": "operator", "label": "x"}, headers=world.operator
        ).status_code
        == 403
    )
    assert (
        client.get(
            "/v1/parks/suzhou-1/portfolio?day=2026-03-02&product=spot_energy", headers=world.ent_a
        ).status_code
        == 403
    )
    assert client.get("/v1/audit", headers=world.ent_a).status_code == 403
    assert client.get("/v1/audit", headers=world.settlement).status_code == 200
    bad = client.post(
        "/v1/api-keys", json={"role": "enterprise", "label": "no tenant"}, headers=ADMIN
    )
    assert bad.status_code == 422


def test_rotation_replaces_the_key_and_revocation_is_final(
    client: TestClient, world: World
) -> None:
    old_id = world.key_ids["ent_a"]
    rotated = client.post(f"/v1/api-keys/{old_id}/rotate", headers=world.ent_a)
    assert rotated.status_code == 201
    new_key = {"X-API-Key": rotated.json()["key"]}
    assert rotated.json()["enterprise_id"] == "ent-a"
    assert client.get("/v1/enterprises/ent-a/assets", headers=world.ent_a).status_code == 401
    assert client.get("/v1/enterprises/ent-a/assets", headers=new_key).status_code == 200
    graced = client.post(
        f"/v1/api-keys/{rotated.json()['id']}/rotate", json={"grace_s": 3600}, headers=new_key
    )
    assert client.get("/v1/enterprises/ent-a/assets", headers=new_key).status_code == 200
    newest = {"X-API-Key": graced.json()["key"]}
    assert (
        client.delete(f"/v1/api-keys/{world.key_ids['ent_b']}", headers=newest).status_code == 403
    )
    assert client.delete(f"/v1/api-keys/{graced.json()['id']}", headers=newest).status_code == 200
    assert client.get("/v1/enterprises/ent-a/assets", headers=newest).status_code == 401
    again = client.delete(f"/v1/api-keys/{graced.json()['id']}", headers=ADMIN)
    assert again.status_code == 409
    actions = [
        e["action"]
        for e in client.get("/v1/audit?entity=api_key", headers=world.operator).json()["items"]
    ]
    assert actions.count("api_key.rotate") == 2 and "api_key.revoke" in actions
