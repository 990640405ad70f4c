"""Market prices, weather forecasts by issue time and tenant consumption: CSV in, series out.

Round trips run on SQLite and PostgreSQL; every refused upload is read back to show that
nothing of it was written.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.api.conftest import ADMIN, World, build_client, seed_world
from vpp.db.repositories import ConsumptionRepository, WeatherRepository

PRICES = "/v1/markets/de-lu/prices"
WEATHER = "/v1/parks/suzhou-1/weather"
CONSUMPTION = "/v1/enterprises/ent-a/consumption"
CSV = {"Content-Type": "text/csv"}
# Europe/Berlin springs forward on 2026-03-29: 02:00 CET is 03:00 CEST, one step of 15 min.
DST_PRICES = """timestamp,day_ahead_price_per_mwh,fcr_price_per_mw_h,imbalance_price_per_mwh
2026-03-29T01:30:00+01:00,81.25,12.5,-40.75
2026-03-29T01:45:00+01:00,79.5,12.5,102.0
2026-03-29T03:00:00+02:00,-5.125,12.5,0.0
2026-03-29T03:15:00+02:00,-7.0,12.5,15.5
"""
DAY = {"start": "2026-03-29T00:00:00Z", "end": "2026-03-30T00:00:00Z"}


@pytest.fixture
def api(backend_url: str) -> Iterator[tuple[TestClient, World]]:
    """The seeded park on SQLite, then on PostgreSQL."""
    with build_client(backend_url) as client:
        yield client, seed_world(client)


def post_csv(
    client: TestClient, url: str, text: str | bytes, headers: dict[str, str], **params: str
) -> Any:
    """POST ``text`` as text/csv (the client's response type comes from starlette)."""
    return client.post(url, content=text, params=params, headers={**headers, **CSV})


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_prices_round_trip_across_a_dst_change(api: tuple[TestClient, World]) -> None:
    client, world = api
    answer = post_csv(client, PRICES, DST_PRICES, world.operator)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"rows": 4}
    read = client.get(PRICES, params=DAY, headers=world.operator)
    assert read.status_code == 200, read.text
    body = read.json()
    assert body["market_id"] == "de-lu" and body["currency"] == "EUR"
    assert body["columns"] == [
        "day_ahead_price_per_mwh",
        "imbalance_price_per_mwh",
        "fcr_price_per_mw_h",
    ]
    sent = csv_rows(DST_PRICES)
    assert [r["timestamp"] for r in body["rows"]] == [
        pd.Timestamp(r["timestamp"]).tz_convert("UTC").isoformat() for r in sent
    ]
    for got, want in zip(body["rows"], sent, strict=True):
        assert {k: got[k] for k in body["columns"]} == {k: float(want[k]) for k in body["columns"]}
    as_csv = client.get(PRICES, params=DAY, headers={**world.operator, "Accept": "text/csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    back = csv_rows(as_csv.text)
    assert [pd.Timestamp(r["timestamp"]) for r in back] == [
        pd.Timestamp(r["timestamp"]) for r in sent
    ]
    assert [{k: float(v) for k, v in r.items() if k != "timestamp"} for r in back] == [
        {k: float(v) for k, v in r.items() if k != "timestamp"} for r in sent
    ]
    # the CSV read back is itself a valid upload, and re-sending it changes nothing
    assert post_csv(client, PRICES, as_csv.text, ADMIN).json() == {"rows": 4}
    assert client.get(PRICES, params=DAY, headers=world.settlement).json() == body


def test_a_second_upload_overwrites_and_adds_series(api: tuple[TestClient, World]) -> None:
    client, world = api
    post_csv(client, PRICES, DST_PRICES, world.operator)
    newer = "timestamp,day_ahead_price_per_mwh,afrr_pos_price_per_mw_h\n"
    newer += "2026-03-29T00:30:00Z,90.0,3.5\n"
    assert post_csv(client, PRICES, newer, world.operator).json() == {"rows": 1}
    rows = client.get(PRICES, params=DAY, headers=world.operator).json()["rows"]
    assert rows[0]["day_ahead_price_per_mwh"] == 90.0 and rows[0]["afrr_pos_price_per_mw_h"] == 3.5
    assert rows[0]["fcr_price_per_mw_h"] == 12.5 and rows[1]["afrr_pos_price_per_mw_h"] is None


def test_prices_need_an_operator_and_a_known_market(client: TestClient, world: World) -> None:
    refused = post_csv(client, PRICES, DST_PRICES, world.ent_a)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert post_csv(client, PRICES, DST_PRICES, world.settlement).status_code == 403
    assert client.get(PRICES, params=DAY, headers=world.ent_a).status_code == 403
    assert client.get(PRICES, params=DAY, headers=world.operator).json()["rows"] == []
    unknown = post_csv(client, "/v1/markets/xx-nowhere/prices", DST_PRICES, world.operator)
    assert unknown.status_code == 404
    assert client.get("/v1/markets/xx-nowhere/prices", params=DAY, headers=ADMIN).status_code == 404
    shandong = "timestamp,agc_fr_price_per_mw_h\n2026-03-02T00:00:00+08:00,6.0\n"
    assert post_csv(client, "/v1/markets/cn-shandong/prices", shandong, ADMIN).json() == {"rows": 1}
    fcr = post_csv(client, "/v1/markets/cn-shandong/prices", DST_PRICES, ADMIN)
    assert fcr.status_code == 422 and fcr.json()["rejected"][0]["column"] == "fcr_price_per_mw_h"
    plain = client.post(PRICES, content=DST_PRICES, headers={**ADMIN, "Content-Type": "text/plain"})
    assert plain.status_code == 415


def test_uploads_are_audited_without_their_values(client: TestClient, world: World) -> None:
    post_csv(client, PRICES, DST_PRICES, world.operator)
    items = client.get("/v1/audit?limit=500", headers=world.operator).json()["items"]
    upload = next(e for e in items if e["action"] == "market_prices.upload")
    assert upload["entity"] == "market" and upload["entity_id"] == "de-lu"
    assert upload["after"]["rows"] == 4 and upload["after"]["first"] == "2026-03-29T00:30:00+00:00"
    assert "81.25" not in str(upload["after"])


ISSUE_1 = "2026-03-01T06:00:00+08:00"
ISSUE_2 = "2026-03-01T18:00:00+08:00"


def weather_csv() -> str:
    """Two issues forecasting the same two hours, the later one warmer and windier."""
    lines = ["timestamp,issued_at,temperature_c,irradiance_w_m2,wind_speed_m_s"]
    for issued, temperature, wind in ((ISSUE_1, 3.0, 4.0), (ISSUE_2, 5.5, 6.25)):
        lines += [
            f"2026-03-02T08:00:00+08:00,{issued},{temperature},120.0,{wind}",
            f"2026-03-02T09:00:00+08:00,{issued},{temperature + 1},340.5,{wind}",
        ]
    return "\n".join(lines) + "\n"


def test_weather_is_read_as_it_was_known(api: tuple[TestClient, World]) -> None:
    client, world = api
    answer = post_csv(client, WEATHER, weather_csv(), world.operator)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"rows": 4}
    window = {"start": "2026-03-02T00:00:00Z", "end": "2026-03-03T00:00:00Z"}

    def known_at(as_of: str) -> list[dict[str, object]]:
        read = client.get(WEATHER, params={**window, "as_of": as_of}, headers=world.operator)
        assert read.status_code == 200, read.text
        return list(read.json()["rows"])

    assert known_at("2026-03-01T05:59:00+08:00") == []
    first = known_at("2026-03-01T12:00:00+08:00")
    assert [r["temperature_c"] for r in first] == [3.0, 4.0]
    assert first[0] == {
        "timestamp": "2026-03-02T00:00:00+00:00",
        "temperature_c": 3.0,
        "irradiance_w_m2": 120.0,
        "wind_speed_m_s": 4.0,
    }
    assert [r["wind_speed_m_s"] for r in known_at(ISSUE_2)] == [6.25, 6.25]
    # stored under the names the park source reads
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        stored = WeatherRepository(session).read(
            "suzhou-1",
            pd.Timestamp(window["start"]),
            pd.Timestamp(window["end"]),
            pd.Timestamp(ISSUE_2),
            site_id="park",
        )
    assert sorted(stored.columns) == ["irradiance", "temperature", "wind_speed"]


def test_weather_sites_and_roles(client: TestClient, world: World) -> None:
    at_site = post_csv(client, WEATHER, weather_csv(), world.operator, site_id="a-main")
    assert at_site.status_code == 200, at_site.text
    window = {"start": "2026-03-02T00:00:00Z", "end": "2026-03-03T00:00:00Z"}
    park_wide = client.get(WEATHER, params=window, headers=world.operator).json()
    assert park_wide["site_id"] == "park" and park_wide["rows"] == []
    site = client.get(WEATHER, params={**window, "site_id": "a-main"}, headers=ADMIN).json()
    assert len(site["rows"]) == 2
    assert post_csv(client, WEATHER, weather_csv(), ADMIN, site_id="nowhere").status_code == 404
    assert post_csv(client, "/v1/parks/none/weather", weather_csv(), ADMIN).status_code == 404
    assert post_csv(client, WEATHER, weather_csv(), world.ent_a).status_code == 403


def test_consumption_creates_the_tenant_meter(api: tuple[TestClient, World]) -> None:
    client, world = api
    text = "timestamp,power_mw\n2026-03-02T00:00:00+08:00,3.25\n2026-03-02T00:15:00+08:00,0.0\n"
    answer = post_csv(client, CONSUMPTION, text, world.ent_a)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"rows": 2}
    window = {"start": "2026-03-01T00:00:00Z", "end": "2026-03-03T00:00:00Z"}
    body = client.get(CONSUMPTION, params=window, headers=world.ent_a).json()
    assert body["meter_id"] == "ent-a:consumption"
    assert body["rows"] == [
        {"timestamp": "2026-03-01T16:00:00+00:00", "power_mw": 3.25},
        {"timestamp": "2026-03-01T16:15:00+00:00", "power_mw": 0.0},
    ]
    as_csv = client.get(CONSUMPTION, params=window, headers={**world.ent_a, "Accept": "text/csv"})
    assert as_csv.text.splitlines()[1] == "2026-03-01T16:00:00+00:00,3.25"
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        meters = ConsumptionRepository(session).meters("suzhou-1")
    assert [(m.id, m.kind, m.enterprise_id) for m in meters] == [
        ("ent-a:consumption", "tenant", "ent-a")
    ]
    other = "/v1/enterprises/ent-b/consumption"
    assert post_csv(client, other, text, world.ent_a).status_code == 404
    assert post_csv(client, other, text, world.operator).json() == {"rows": 2}
    assert post_csv(client, other, text, world.settlement).status_code == 403
    assert client.get(other, params=window, headers=world.ent_a).status_code == 404


H = "timestamp,day_ahead_price_per_mwh,fcr_price_per_mw_h\n"
BAD_PRICES = {
    "gap": (
        H + "2026-03-02T00:00:00Z,1,2\n2026-03-02T00:15:00Z,1,2\n2026-03-02T00:45:00Z,1,2\n",
        4,
        "timestamp",
    ),
    "irregular step": (
        H + "2026-03-02T00:00:00Z,1,2\n2026-03-02T00:15:00Z,1,2\n2026-03-02T00:20:00Z,1,2\n",
        4,
        "timestamp",
    ),
    "duplicate": (
        H + "2026-03-02T00:00:00Z,1,2\n2026-03-02T01:00:00+01:00,1,2\n",
        3,
        "timestamp",
    ),
    "naive time": (H + "2026-03-02T00:00:00Z,1,2\n2026-03-02T00:15:00,1,2\n", 3, "timestamp"),
    "empty cell": (
        H + "2026-03-02T00:00:00Z,1,2\n2026-03-02T00:15:00Z,,2\n",
        3,
        "day_ahead_price_per_mwh",
    ),
    "missing cell": (
        H + "2026-03-02T00:00:00Z,1,2\n2026-03-02T00:15:00Z,1\n",
        3,
        "fcr_price_per_mw_h",
    ),
    "non-numeric": (
        H + "2026-03-02T00:00:00Z,1,2\n2026-03-02T00:15:00Z,1,2\n2026-03-02T00:30:00Z,1,n/a\n",
        4,
        "fcr_price_per_mw_h",
    ),
    "unknown column": (
        "timestamp,day_ahead_price_per_mwh,spot_price\n2026-03-02T00:00:00Z,1,2\n",
        1,
        "spot_price",
    ),
    "no header": ("2026-03-02T00:00:00Z,1,2\n", 1, "2026-03-02T00:00:00Z"),
}
WH = "timestamp,issued_at,temperature_c\n"
BAD_WEATHER = {
    "naive issued_at": (
        WH + "2026-03-02T00:00:00Z,2026-03-01T06:00:00Z,1\n2026-03-02T01:00:00Z,2026-03-01,1\n",
        3,
        "issued_at",
    ),
    "gap within an issue": (
        WH
        + "2026-03-02T00:00:00Z,2026-03-01T06:00:00Z,1\n"
        + "2026-03-02T00:00:00Z,2026-03-01T07:00:00Z,1\n"
        + "2026-03-02T01:00:00Z,2026-03-01T06:00:00Z,1\n"
        + "2026-03-02T03:00:00Z,2026-03-01T06:00:00Z,1\n",
        5,
        "timestamp",
    ),
    "duplicate within an issue": (
        WH
        + "2026-03-02T00:00:00Z,2026-03-01T06:00:00Z,1\n2026-03-02T00:00:00Z,2026-03-01T06:00Z,2\n",
        3,
        "timestamp",
    ),
    "unit-less column": (WH.replace("temperature_c", "temperature") + "x,y,1\n", 1, "temperature"),
}
CH = "timestamp,power_mw\n"
BAD_CONSUMPTION = {
    "negative": (CH + "2026-03-02T00:00:00Z,1.5\n2026-03-02T00:15:00Z,-0.5\n", 3, "power_mw"),
    "infinite": (CH + "2026-03-02T00:00:00Z,inf\n", 2, "power_mw"),
}


def refusals() -> Iterator[tuple[str, str, tuple[str, int, str]]]:
    for url, cases in (
        (PRICES, BAD_PRICES),
        (WEATHER, BAD_WEATHER),
        (CONSUMPTION, BAD_CONSUMPTION),
    ):
        for name, case in cases.items():
            yield url, name, case


def test_bad_uploads_are_refused_whole(api: tuple[TestClient, World]) -> None:
    client, _world = api
    window = {"start": "2026-03-01T00:00:00Z", "end": "2026-03-03T00:00:00Z"}
    for url, name, (text, row, column) in refusals():
        answer = post_csv(client, url, text, ADMIN)
        assert answer.status_code == 422, (name, answer.text)
        assert answer.headers["content-type"] == "application/problem+json", name
        problem = answer.json()
        assert f"row {row}, column {column!r}" in problem["detail"], (name, problem)
        assert problem["rejected"][0]["row"] == row and problem["rejected"][0]["column"] == column
        assert "nothing was written" in problem["detail"], name
        read = client.get(url, params={**window, "as_of": "2026-03-03T00:00:00Z"}, headers=ADMIN)
        assert read.status_code == 200 and read.json()["rows"] == [], (name, read.text)
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        assert ConsumptionRepository(session).meters("suzhou-1") == []


def test_every_bad_cell_is_listed(client: TestClient, world: World) -> None:
    text = H + "2026-03-02T00:00:00Z,x,2\n2026-03-02T00:15:00Z,1,\n2026-03-02T00:30:00,1,2\n"
    problem = post_csv(client, PRICES, text, world.operator).json()
    assert [(r["row"], r["column"]) for r in problem["rejected"]] == [
        (2, "day_ahead_price_per_mwh"),
        (3, "fcr_price_per_mw_h"),
        (4, "timestamp"),
    ]
    assert "(and 2 more)" in problem["detail"]
    for body in ("", "timestamp\n", H, b"\xfftimestamp,power_mw\n"):
        refused = post_csv(client, PRICES, body, world.operator)
        assert refused.status_code == 422, (body, refused.text)


def test_uploads_follow_the_telemetry_row_limit(tmp_path: Path) -> None:
    with build_client(f"sqlite:///{tmp_path / 'small.sqlite'}", max_telemetry_rows=3) as client:
        seed_world(client)
        rows = "".join(f"2026-03-02T00:{m:02d}:00Z,1\n" for m in (0, 15, 30, 45))
        big = post_csv(client, PRICES, "timestamp,day_ahead_price_per_mwh\n" + rows, ADMIN)
        assert big.status_code == 413 and "at most 3" in big.json()["detail"]
        fits = "timestamp,power_mw\n" + rows.split("\n", 1)[1]
        assert post_csv(client, CONSUMPTION, fits, ADMIN).json() == {"rows": 3}
