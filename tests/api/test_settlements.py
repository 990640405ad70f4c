"""Settlement through the API: park-limited keys, a month issued per park, statements listed and
downloaded as CSV, XLSX and PDF; on SQLite and PostgreSQL (figures in ``tests.settlement.two_parks``)."""

from __future__ import annotations

from pathlib import Path

import jwt
from fastapi.testclient import TestClient

from tests.api.conftest import ADMIN, build_client
from tests.settlement.two_parks import seed_two_parks

MONTH = {"month": "2026-02"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def key(client: TestClient, role: str, **extra: object) -> dict[str, str]:
    created = client.post(
        "/v1/api-keys", json={"role": role, "label": role, **extra}, headers=ADMIN
    )
    assert created.status_code == 201, created.text
    return {"X-API-Key": created.json()["key"]}


def test_settlement_keys_issue_list_and_download_their_parks(backend_url: str) -> None:
    seed_two_parks(backend_url)
    with build_client(backend_url) as client:
        only_pa = key(client, "settlement", park_ids=["pa"])
        everywhere = key(client, "settlement")
        operator = key(client, "operator")

        issued = client.post("/v1/parks/pa/settlements", json=MONTH, headers=only_pa)
        assert issued.status_code == 200, issued.text
        body = issued.json()
        assert {s["enterprise_id"]: s["total"] for s in body["statements"]} == {
            "a1": "2240.00",
            "aggregator": "420.00",
        }
        assert body["skipped"] == [] and body["reconciles"] and body["market_total"] == "2660.00"

        assert (
            client.post("/v1/parks/pb/settlements", json=MONTH, headers=only_pa).status_code == 404
        )
        assert (
            client.post("/v1/parks/pb/settlements", json=MONTH, headers=operator).status_code == 403
        )
        b = client.post("/v1/parks/pb/settlements", json=MONTH, headers=everywhere).json()
        assert b["skipped"] == [
            {
                "enterprise_id": "b2",
                "reason": "no contract in force on 2026-02-01",
                "held_back": "728.00",
            }
        ]
        assert [s["total"] for s in b["statements"]] == ["1120.00", "280.00"] and b["reconciles"]

        listed = client.get("/v1/parks/pb/statements", params=MONTH, headers=everywhere).json()
        assert [s["id"] for s in listed] == [
            "b1:cn-shandong:2026-02",
            "aggregator:pb:cn-shandong:2026-02",
        ]
        assert (
            client.get("/v1/parks/pb/statements", params=MONTH, headers=only_pa).status_code == 404
        )
        one = client.get(f"/v1/parks/pa/statements/{listed[1]['id']}", headers=only_pa)
        assert one.status_code == 404  # pb's aggregator statement is not pa's

        url = f"/v1/parks/pb/statements/{listed[1]['id']}/export"
        for fmt, media, magic in (
            ("csv", "text/csv", b"\xef\xbb\xbf"),
            ("xlsx", XLSX, b"PK"),
            ("pdf", "application/pdf", b"%PDF"),
        ):
            got = client.get(url, params={"format": fmt}, headers=everywhere)
            assert got.status_code == 200, got.text
            assert got.headers["content-type"].split(";")[0] == media
            assert got.headers["content-disposition"] == (
                f'attachment; filename="pb_2026-02_aggregator_v1.{fmt}"'
            )
            assert got.content.startswith(magic) and len(got.content) > 200
        assert "280.00" in client.get(url, headers=everywhere).content.decode("utf-8-sig")
        assert client.get(url, headers=only_pa).status_code == 404

        audit = client.get("/v1/audit", params={"entity": "park"}, headers=everywhere).json()
        assert [(e["entity_id"], e["action"]) for e in audit["items"]] == [
            ("pa", "settlement.issue"),
            ("pb", "settlement.issue"),
        ]


def test_park_limited_keys_and_their_tokens_reach_only_their_parks(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'scopes.sqlite'}"
    seed_two_parks(url)
    with build_client(url) as client:
        created = client.post(
            "/v1/api-keys",
            json={"role": "operator", "label": "pb desk", "park_ids": ["pb"]},
            headers=ADMIN,
        ).json()
        assert created["park_ids"] == ["pb"]
        operator = {"X-API-Key": created["key"]}
        assert client.get("/v1/parks/pb", headers=operator).status_code == 200
        assert client.get("/v1/parks/pa", headers=operator).status_code == 404
        park = client.get("/v1/parks/pa", headers=ADMIN).json()
        assert client.put("/v1/parks/pa", json=park, headers=operator).status_code == 404
        portfolio = {"day": "2026-02-02", "product": "spot_energy"}
        assert client.get("/v1/parks/pb/portfolio", params=portfolio, headers=operator).is_success
        assert (
            client.get("/v1/parks/pa/portfolio", params=portfolio, headers=operator).status_code
            == 404
        )

        # an enterprise of another park is out of reach too, like one that does not exist
        assert client.get("/v1/enterprises/b1/assets", headers=operator).status_code == 200
        for path in ("/v1/enterprises/a1/assets", "/v1/enterprises/nope/assets"):
            assert client.get(path, headers=operator).status_code == 404, path

        form = {"grant_type": "client_credentials", "client_secret": created["key"]}
        token = client.post("/v1/auth/token", data=form).json()["access_token"]
        assert jwt.decode(token, options={"verify_signature": False})["parks"] == ["pb"]
        bearer = {"Authorization": f"Bearer {token}"}
        assert client.get("/v1/parks/pb", headers=bearer).status_code == 200
        assert client.get("/v1/parks/pa", headers=bearer).status_code == 404
        assert client.get("/v1/enterprises/a1/assets", headers=bearer).status_code == 404

        for body in (
            {"role": "enterprise", "enterprise_id": "a1", "label": "x", "park_ids": ["pa"]},
            {"role": "settlement", "label": "x", "park_ids": []},
        ):
            assert client.post("/v1/api-keys", json=body, headers=ADMIN).status_code == 422
        unknown = {"role": "settlement", "label": "x", "park_ids": ["nowhere"]}
        assert client.post("/v1/api-keys", json=unknown, headers=ADMIN).status_code == 404
        listed = client.get("/v1/api-keys", headers=ADMIN).json()["items"]
        assert [k["park_ids"] for k in listed] == [["pb"]]


def test_an_incomplete_park_issues_nothing_unless_someone_overrides(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'legacy.sqlite'}"
    seed_two_parks(url, legacy=True)
    with build_client(url) as client:
        refused = client.post("/v1/parks/pa/settlements", json=MONTH, headers=ADMIN)
        assert refused.status_code == 409
        assert "nothing was issued" in refused.json()["detail"]
        nameless = {**MONTH, "override_incomplete": True}
        assert (
            client.post("/v1/parks/pa/settlements", json=nameless, headers=ADMIN).status_code == 422
        )
        forced = client.post(
            "/v1/parks/pa/settlements", json={**nameless, "by": "Wang Fang"}, headers=ADMIN
        )
        assert forced.status_code == 200, forced.text
        assert forced.json()["override_by"] == "Wang Fang" and forced.json()["data_gaps"]
