"""Conventions every endpoint shares: request ids, payload bounds, media types, rate limits,
problem+json, audit, metrics, JSON logs and a documented OpenAPI schema."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

from fastapi.testclient import TestClient

from tests.api.conftest import ADMIN, BATTERY, World, build_client, seed_world
from vpp.api.logs import JsonFormatter

ASSETS = "/v1/enterprises/ent-a/assets"


def test_request_ids_are_echoed_or_made(client: TestClient) -> None:
    mine = client.get("/healthz", headers={"X-Request-ID": "trace-42.a"})
    assert mine.headers["x-request-id"] == "trace-42.a"
    made = client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert len(made.headers["x-request-id"]) == 32
    problem = client.get("/v1/enterprises/x/assets", headers={"X-Request-ID": "r-1"})
    assert problem.json()["request_id"] == "r-1" and problem.headers["x-request-id"] == "r-1"


def test_oversized_bodies_are_413(tmp_path: Path) -> None:
    with build_client(
        f"sqlite:///{tmp_path / 'small.sqlite'}", max_body_bytes=4096, max_telemetry_rows=10
    ) as client:
        world = seed_world(client)
        assert client.post(ASSETS, json=BATTERY, headers=world.ent_a).status_code == 201
        big = client.post(
            ASSETS,
            content=b"{" + b" " * 10_000 + b"}",
            headers={**world.ent_a, "Content-Type": "application/json"},
        )
        assert big.status_code == 413 and big.headers["content-type"] == "application/problem+json"

        def chunks() -> Iterator[bytes]:
            yield b'{"points": ['
            for _ in range(100):
                yield b'{"ts": "2026-03-02T00:00:00Z", "power_mw": 1.0},'
            yield b"]}"

        streamed = client.post(
            ASSETS + "/a-bat-1/telemetry",
            content=chunks(),
            headers={**world.ent_a, "Content-Type": "application/json"},
        )
        assert streamed.status_code == 413
        rows = "ts,power_mw\n" + "".join(f"2026-03-02T00:{m:02d}:00Z,1\n" for m in range(11))
        many = client.post(
            ASSETS + "/a-bat-1/telemetry",
            content=rows,
            headers={**world.ent_a, "Content-Type": "text/csv"},
        )
        assert many.status_code == 413 and "at most 10" in many.json()["detail"]


def test_wrong_content_types_are_415(client: TestClient, world: World) -> None:
    as_text = client.post(
        ASSETS, content=json.dumps(BATTERY), headers={**world.ent_a, "Content-Type": "text/plain"}
    )
    assert as_text.status_code == 415 and "application/json" in as_text.json()["hint"]
    as_form = client.post(ASSETS, data={"spec": "x"}, headers=world.ent_a)
    assert as_form.status_code == 415
    xml = client.post(
        ASSETS + "/a-bat-1/telemetry",
        content="<x/>",
        headers={**world.ent_a, "Content-Type": "application/xml"},
    )
    assert xml.status_code == 415
    token = client.post("/v1/auth/token", json={"grant_type": "client_credentials"})
    assert token.status_code == 415
    broken = client.post(
        ASSETS, content=b"{not json", headers={**world.ent_a, "Content-Type": "application/json"}
    )
    assert (
        broken.status_code == 422 and broken.headers["content-type"] == "application/problem+json"
    )


def test_rate_limit_answers_429_with_retry_after(tmp_path: Path) -> None:
    with build_client(f"sqlite:///{tmp_path / 'rl.sqlite'}", rate_limit_per_minute=5) as client:
        codes = [client.get("/v1/api-keys", headers=ADMIN).status_code for _ in range(7)]
        assert codes[:5] == [200] * 5 and codes[5:] == [429, 429]
        limited = client.get("/v1/api-keys", headers=ADMIN)
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.json()["type"].endswith("/rate-limited")
        guesses = [
            client.get("/v1/api-keys", headers={"X-API-Key": f"vpp_k{n}.x"}) for n in range(6)
        ]
        assert [g.status_code for g in guesses] == [401] * 5 + [429]


def test_unknown_routes_and_methods_are_problems(client: TestClient) -> None:
    for answer in (client.get("/v1/nothing"), client.delete("/v1/markets")):
        assert answer.status_code in (404, 405)
        assert answer.headers["content-type"] == "application/problem+json"


def test_audit_log_pages_every_state_change(client: TestClient, world: World) -> None:
    client.post(ASSETS, json=BATTERY, headers=world.ent_a)
    client.patch(ASSETS + "/a-bat-1", json={"nominated_mw": 1.0}, headers=world.ent_a)
    first = client.get("/v1/audit?limit=3", headers=world.operator).json()
    assert [e["action"] for e in first["items"]] == ["park.put", "api_key.create", "api_key.create"]
    rest = client.get(
        f"/v1/audit?limit=100&cursor={first['next_cursor']}", headers=world.operator
    ).json()
    actions = [e["action"] for e in rest["items"]]
    assert actions[-2:] == ["asset.enrol", "asset.update"] and rest["next_cursor"] is None
    created = [
        e["after"] for e in first["items"] + rest["items"] if e["action"] == "api_key.create"
    ]
    assert len(created) == 4 and all("key" not in a and "secret_sha256" not in a for a in created)


def test_metrics_count_requests_by_route_template(client: TestClient, world: World) -> None:
    client.get(ASSETS, headers=world.ent_a)
    text = client.get("/metrics").text
    assert (
        'vpp_http_requests_total{method="GET",route="/v1/enterprises/{enterprise_id}/assets",status="200"} 1.0'
        in text
    )
    assert "vpp_http_request_duration_seconds_bucket" in text


def test_logs_are_json_lines() -> None:
    record = logging.makeLogRecord(
        {"name": "vpp.api.access", "msg": "request", "levelno": 20, "levelname": "INFO"}
    )
    record.request_id = "r-1"
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "request" and line["request_id"] == "r-1" and line["level"] == "INFO"


def test_openapi_documents_security_and_examples(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert {"APIKeyHeader", "HTTPBearer"} <= set(schema["components"]["securitySchemes"])
    assert (
        schema["components"]["schemas"]["AssetCreate"]["examples"][0]["spec"]["type"] == "battery"
    )
    upload = schema["paths"]["/v1/enterprises/{enterprise_id}/assets/{asset_id}/telemetry"]["post"]
    assert {"application/json", "text/csv"} <= set(upload["requestBody"]["content"])


def test_every_schema_the_openapi_document_refers_to_is_defined(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    referred = set(re.findall(r"#/components/schemas/([A-Za-z0-9_.-]+)", json.dumps(document)))
    assert referred - set(document["components"]["schemas"]) == set()
    assert "TelemetryBatch" in referred  # the telemetry upload's JSON body
