"""Audit entries carry the X-Request-ID of the call that made them, on both backends."""

from __future__ import annotations

from tests.api.conftest import BATTERY, build_client, seed_world

ASSETS = "/v1/enterprises/ent-a/assets"


def test_audit_rows_carry_the_request_id_the_response_returned(backend_url: str) -> None:
    with build_client(backend_url) as client:
        world = seed_world(client)
        offered = {**world.ent_a, "X-Request-ID": "client-req.42:a"}
        enrolled = client.post(ASSETS, json=BATTERY, headers=offered)
        assert enrolled.status_code == 201, enrolled.text
        assert enrolled.headers["x-request-id"] == "client-req.42:a"
        changed = client.patch(ASSETS + "/a-bat-1", json={"nominated_mw": 1.0}, headers=world.ent_a)
        assert changed.status_code == 200, changed.text
        made = changed.headers["x-request-id"]  # none offered: the service made one
        assert made and made != "client-req.42:a"

        for request_id, action in (("client-req.42:a", "asset.enrol"), (made, "asset.update")):
            page = client.get(
                "/v1/audit", params={"request_id": request_id}, headers=world.operator
            ).json()
            assert [(e["action"], e["request_id"]) for e in page["items"]] == [(action, request_id)]
        everything = client.get("/v1/audit", params={"limit": 500}, headers=world.operator).json()
        ids = [e["request_id"] for e in everything["items"]]
        assert all(ids) and len(set(ids)) == len(ids)  # one state-changing call per entry here
