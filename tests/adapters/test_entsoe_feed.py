"""EntsoeFeed and ``vpp market fetch`` against a loopback ENTSO-E endpoint, no mocks.

A threaded HTTP server on 127.0.0.1 stands in for web-api.tp.entsoe.eu: it checks the token,
answers each query with the recorded document under ``tests/data/entsoe`` whose period meets the
queried one (ENTSO-E answers whole days of prices too), or with the platform's "no matching
data" acknowledgement, and keeps the queries so the tests can read what the client asked. The
expected values are re-read from the same documents with ElementTree, independently of
entsoe-py's parsers.
"""

from __future__ import annotations

import socket
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pandas as pd
import pytest
from typer.testing import CliRunner

from adapters.market_data.entsoe import (
    ZONE_LOAD_FORECAST,
    ZONE_SOLAR_FORECAST,
    ZONE_WIND_OFFSHORE_FORECAST,
    ZONE_WIND_ONSHORE_FORECAST,
    EntsoeFeed,
    finest_first,
)
from vpp.cli import market as market_cli
from vpp.db.engine import make_engine, session_scope
from vpp.db.repositories.market_data import MarketSeriesRepository
from vpp.domain.errors import (
    AdapterError,
    ForecastUnavailableError,
    InvalidInputError,
    NotFoundError,
)
from vpp.domain.ports import DAY_AHEAD_PRICE, MarketDataFeed
from vpp.domain.timegrid import local_midnight

DATA = Path(__file__).resolve().parents[1] / "data" / "entsoe"
TOKEN = "loopback-token-7f3a9c"
DE_LU = "10Y1001A1001A82H"
BERLIN = "Europe/Berlin"
SPRING = date(2021, 3, 28)  # 23 hours in Europe/Berlin
AUTUMN = date(2025, 10, 26)  # 25 hours, after SDAC went to 15 minutes
DOMAIN_PARAMETER = {"A44": "in_Domain", "A65": "outBiddingZone_Domain", "A69": "in_Domain"}
STEPS = {"PT15M": "15min", "PT60M": "60min"}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: ET.Element, name: str) -> ET.Element:
    return next(el for el in element.iter() if _local(el.tag) == name)


def recorded(name: str) -> dict[str | None, pd.Series]:
    """The values of a recorded document by psrType (None when it has none), UTC-indexed."""
    root = ET.parse(DATA / name).getroot()
    found: dict[str | None, pd.Series] = {}
    for series in (el for el in root if _local(el.tag) == "TimeSeries"):
        psr = [el.text for el in series.iter() if _local(el.tag) == "psrType"]
        period = _child(series, "Period")
        step = STEPS[_child(period, "resolution").text or ""]
        grid = pd.date_range(
            _child(period, "start").text,
            _child(period, "end").text,
            freq=step,
            inclusive="left",
        )
        values = {}
        for point in (el for el in period if _local(el.tag) == "Point"):
            position = int(_child(point, "position").text or "")
            value = next(el for el in point if _local(el.tag) in ("price.amount", "quantity"))
            values[grid[position - 1]] = float(value.text or "")
        # Curve type A03 leaves out a position whose value repeats the one before.
        found[psr[0] if psr else None] = pd.Series(values).reindex(grid).ffill()
    return found


def _periods() -> list[tuple[str, pd.Timestamp, pd.Timestamp, bytes]]:
    """(document type, start, end, body) of every recorded data document."""
    periods = []
    for path in sorted(DATA.glob("a*_DE_LU_*.xml")):
        root = ET.parse(path).getroot()
        kind = _child(root, "type").text or ""
        interval = next(el for el in root if _local(el.tag).endswith("imeInterval"))
        start = pd.Timestamp(_child(interval, "start").text)
        end = pd.Timestamp(_child(interval, "end").text)
        periods.append((kind, start, end, path.read_bytes()))
    return periods


class LoopbackEntsoe(ThreadingHTTPServer):
    """The ENTSO-E API as far as these tests need it."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.documents = _periods()
        self.no_data = (DATA / "ack_no_matching_data.xml").read_bytes()
        self.queries: list[dict[str, str]] = []
        self.no_data_status = 200
        self.forced: tuple[int, str, bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/api"

    def answer(self, query: dict[str, str]) -> tuple[int, str, bytes]:
        if self.forced is not None:
            return self.forced
        if query.get("securityToken") != TOKEN:
            return 401, "text/html", b"<html><body><h1>401 Unauthorized</h1></body></html>"
        kind = query.get("documentType", "")
        start = pd.Timestamp(query["periodStart"], tz="UTC")
        end = pd.Timestamp(query["periodEnd"], tz="UTC")
        if query.get(DOMAIN_PARAMETER.get(kind, "in_Domain")) == DE_LU:
            for document, first, last, body in self.documents:
                if document == kind and first < end and start < last:
                    return 200, "text/xml", body
        return self.no_data_status, "text/xml", self.no_data


class _Handler(BaseHTTPRequestHandler):
    server: LoopbackEntsoe

    def do_GET(self) -> None:
        query = dict(parse_qsl(urlsplit(self.path).query))
        self.server.queries.append(query)
        status, content_type, body = self.server.answer(query)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def loopback() -> Iterator[LoopbackEntsoe]:
    server = LoopbackEntsoe()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def entsoe(loopback: LoopbackEntsoe) -> Iterator[LoopbackEntsoe]:
    loopback.queries.clear()
    loopback.no_data_status = 200
    loopback.forced = None
    yield loopback


@pytest.fixture
def feed(entsoe: LoopbackEntsoe) -> Iterator[EntsoeFeed]:
    with EntsoeFeed(TOKEN, base_url=entsoe.url, timeout_s=5) as client:
        yield client


def market_day(day: date) -> tuple[pd.Timestamp, pd.Timestamp]:
    return local_midnight(day, BERLIN), local_midnight(day + timedelta(days=1), BERLIN)


def test_is_a_market_data_feed(feed: EntsoeFeed) -> None:
    assert isinstance(feed, MarketDataFeed)


def test_hourly_prices_of_the_spring_dst_day(feed: EntsoeFeed, entsoe: LoopbackEntsoe) -> None:
    prices = feed.day_ahead_prices("DE_LU", *market_day(SPRING))
    assert prices.name == DAY_AHEAD_PRICE
    assert str(prices.index.tz) == "UTC"
    assert len(prices) == 23  # 02:00-03:00 CEST does not exist
    assert list(prices.index) == list(
        pd.date_range("2021-03-27T23:00Z", periods=23, freq="h", tz="UTC")
    )
    pd.testing.assert_series_equal(
        prices, recorded("a44_DE_LU_2021-03-28.xml")[None], check_names=False, check_freq=False
    )
    # 13:00-14:00 CEST, the day's lowest price: negative prices come through as they are.
    assert prices.idxmin() == pd.Timestamp("2021-03-28 13:00", tz=BERLIN)
    assert prices.min() == -49.99
    (query,) = entsoe.queries
    assert query == {
        "documentType": "A44",
        "in_Domain": DE_LU,
        "out_Domain": DE_LU,
        "offset": "0",
        "contract_MarketAgreement.type": "A01",
        "classificationSequence_AttributeInstanceComponent.position": "1",
        "securityToken": TOKEN,
        "periodStart": "202103272300",
        "periodEnd": "202103282200",
    }


def test_quarter_hour_prices_of_the_autumn_dst_day(feed: EntsoeFeed) -> None:
    prices = feed.day_ahead_prices("DE_LU", *market_day(AUTUMN))
    assert len(prices) == 100  # 25 hours
    assert prices.index[0] == pd.Timestamp("2025-10-25T22:00Z")
    assert set(prices.index.to_series().diff().dropna()) == {pd.Timedelta(minutes=15)}
    expected = recorded("a44_DE_LU_2025-10-26.xml")[None]
    pd.testing.assert_series_equal(prices, expected, check_names=False, check_freq=False)
    # Curve A03 left out repeated positions (the flat hours); they hold the value before.
    assert (prices.iloc[0:4] == prices.iloc[0]).all()


def test_a_span_is_cut_to_the_asked_intervals(feed: EntsoeFeed) -> None:
    prices = feed.day_ahead_prices(
        "10Y1001A1001A82H", pd.Timestamp("2021-03-28T10:00Z"), pd.Timestamp("2021-03-28T12:30Z")
    )
    assert list(prices.index) == [pd.Timestamp(f"2021-03-28T{h}:00Z") for h in (10, 11, 12)]


def test_a_long_span_is_asked_in_blocks_and_joined(
    feed: EntsoeFeed, entsoe: LoopbackEntsoe
) -> None:
    # Two blocks of at most 31 days, both answered with the whole of 2021-03-28.
    start = pd.Timestamp("2021-02-25T11:00Z")
    prices = feed.day_ahead_prices("DE_LU", start, pd.Timestamp("2021-03-28T22:00Z"))
    assert [q["periodStart"] for q in entsoe.queries] == ["202102251100", "202103281100"]
    assert len(prices) == 23
    assert prices.index.is_unique


def test_load_forecast_of_the_spring_dst_day(feed: EntsoeFeed, entsoe: LoopbackEntsoe) -> None:
    load = feed.load_forecast("DE_LU", *market_day(SPRING))
    assert load.name == ZONE_LOAD_FORECAST
    assert len(load) == 92
    assert str(load.index.tz) == "UTC"
    expected = recorded("a65_DE_LU_2021-03-28.xml")[None]
    pd.testing.assert_series_equal(load, expected, check_names=False, check_freq=False)
    (query,) = entsoe.queries
    assert (query["documentType"], query["processType"]) == ("A65", "A01")
    assert query["outBiddingZone_Domain"] == DE_LU


def test_wind_and_solar_forecast_of_the_spring_dst_day(feed: EntsoeFeed) -> None:
    generation = feed.wind_solar_forecast("DE_LU", *market_day(SPRING))
    assert list(generation.columns) == [
        ZONE_SOLAR_FORECAST,
        ZONE_WIND_ONSHORE_FORECAST,
        ZONE_WIND_OFFSHORE_FORECAST,
    ]
    assert len(generation) == 92
    expected = recorded("a69_DE_LU_2021-03-28.xml")
    for psr, column in (
        ("B16", ZONE_SOLAR_FORECAST),
        ("B19", ZONE_WIND_ONSHORE_FORECAST),
        ("B18", ZONE_WIND_OFFSHORE_FORECAST),
    ):
        pd.testing.assert_series_equal(
            generation[column], expected[psr], check_names=False, check_freq=False
        )
    assert generation.loc[pd.Timestamp("2021-03-28T00:00Z"), ZONE_SOLAR_FORECAST] == 0.0


@pytest.mark.parametrize("status", [200, 400], ids=["acknowledged-200", "acknowledged-400"])
def test_no_matching_data_is_not_found(
    feed: EntsoeFeed, entsoe: LoopbackEntsoe, status: int
) -> None:
    entsoe.no_data_status = status
    with pytest.raises(NotFoundError, match="no day-ahead prices for DE_LU") as caught:
        feed.day_ahead_prices("DE_LU", *market_day(date(2030, 1, 2)))
    assert caught.value.hint


def test_a_missing_forecast_is_unavailable(feed: EntsoeFeed) -> None:
    with pytest.raises(ForecastUnavailableError, match="no load forecast for DE_LU"):
        feed.load_forecast("DE_LU", *market_day(date(2030, 1, 2)))
    with pytest.raises(ForecastUnavailableError, match="no wind and solar forecast"):
        feed.wind_solar_forecast("FR", *market_day(SPRING))


def test_a_refused_token_says_so_and_does_not_leak(entsoe: LoopbackEntsoe) -> None:
    secret = "wrong-token-5d1e"
    with (
        EntsoeFeed(secret, base_url=entsoe.url) as feed,
        pytest.raises(AdapterError, match="refused the security token") as caught,
    ):
        feed.day_ahead_prices("DE_LU", *market_day(SPRING))
    assert "VPP_ENTSOE_TOKEN" in (caught.value.hint or "")
    assert secret not in str(caught.value)


def test_a_refused_query_names_the_reason(feed: EntsoeFeed, entsoe: LoopbackEntsoe) -> None:
    reason = "Check you request against dependency tables"
    ack = (DATA / "ack_no_matching_data.xml").read_text()
    start, end = ack.index("<text>") + 6, ack.index("</text>")
    entsoe.forced = (400, "text/xml", (ack[:start] + reason + ack[end:]).encode())
    with pytest.raises(AdapterError, match=reason):
        feed.day_ahead_prices("DE_LU", *market_day(SPRING))


def test_an_http_error_is_an_adapter_error(feed: EntsoeFeed, entsoe: LoopbackEntsoe) -> None:
    entsoe.forced = (503, "text/html", b"<html>Service Unavailable</html>")
    with pytest.raises(AdapterError, match="HTTP 503"):
        feed.load_forecast("DE_LU", *market_day(SPRING))


def test_an_unreachable_endpoint_is_an_adapter_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with (
        EntsoeFeed(TOKEN, base_url=f"http://127.0.0.1:{port}/api", timeout_s=5) as feed,
        pytest.raises(AdapterError, match="did not answer") as caught,
    ):
        feed.day_ahead_prices("DE_LU", *market_day(SPRING))
    assert TOKEN not in str(caught.value)


def test_an_unexpected_unit_is_refused(feed: EntsoeFeed, entsoe: LoopbackEntsoe) -> None:
    body = (DATA / "a44_DE_LU_2021-03-28.xml").read_bytes().replace(b">EUR<", b">GBP<")
    entsoe.forced = (200, "text/xml", body)
    with pytest.raises(AdapterError, match="states GBP/MWH"):
        feed.day_ahead_prices("DE_LU", *market_day(SPRING))


@pytest.mark.parametrize(
    ("area", "start", "end", "match"),
    [
        ("XX_YY", "2021-03-28T00:00Z", "2021-03-29T00:00Z", "unknown ENTSO-E area"),
        ("DE_LU", "2021-03-28T00:00", "2021-03-29T00:00", "naive"),
        ("DE_LU", "2021-03-29T00:00Z", "2021-03-28T00:00Z", "empty"),
    ],
    ids=["unknown-area", "naive", "empty-span"],
)
def test_bad_queries_are_refused_before_asking(
    feed: EntsoeFeed, entsoe: LoopbackEntsoe, area: str, start: str, end: str, match: str
) -> None:
    with pytest.raises(InvalidInputError, match=match):
        feed.day_ahead_prices(area, pd.Timestamp(start), pd.Timestamp(end))
    assert entsoe.queries == []


def test_a_feed_needs_a_token() -> None:
    with pytest.raises(InvalidInputError, match="token"):
        EntsoeFeed("")


def test_finer_prices_win_over_coarser_ones() -> None:
    hourly = pd.Series(
        [10.0, 20.0, 30.0], index=pd.date_range("2025-09-30T20:00Z", periods=3, freq="h")
    )
    quarters = pd.Series(
        [21.0, 22.0, 23.0, 24.0], index=pd.date_range("2025-09-30T21:00Z", periods=4, freq="15min")
    )
    joined = finest_first({"60min": hourly, "15min": quarters, "30min": pd.Series()})
    assert list(joined) == [10.0, 21.0, 22.0, 23.0, 24.0, 30.0]
    assert joined.index.is_monotonic_increasing


# -- vpp market fetch ------------------------------------------------------------------------


def fetch_args(first: str, last: str) -> list[str]:
    return [
        "fetch",
        "--source",
        "entsoe",
        "--area",
        "DE_LU",
        "--market",
        "de-lu",
        "--start",
        first,
        "--end",
        last,
    ]


def test_fetch_writes_prices_to_the_database(
    entsoe: LoopbackEntsoe, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'x.sqlite'}"
    monkeypatch.setenv("VPP_DATABASE_URL", url)
    monkeypatch.setenv("VPP_ENTSOE_TOKEN", TOKEN)
    monkeypatch.setenv("VPP_ENTSOE_URL", entsoe.url)
    runner = CliRunner()
    for _ in range(2):  # a second fetch rewrites the same rows
        result = runner.invoke(market_cli.app, fetch_args("2021-03-28", "2021-03-28"))
        assert result.exit_code == 0, result.output
        assert "wrote 23 day_ahead_price_per_mwh values of de-lu" in result.output
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            stored = MarketSeriesRepository(session).read("de-lu", *market_day(SPRING))
    finally:
        engine.dispose()
    assert list(stored.columns) == [DAY_AHEAD_PRICE]
    expected = recorded("a44_DE_LU_2021-03-28.xml")[None]
    assert list(stored.index) == list(expected.index)
    assert stored[DAY_AHEAD_PRICE].tolist() == expected.tolist()


def test_fetch_needs_the_token_and_hides_the_endpoint(
    entsoe: LoopbackEntsoe, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VPP_DATABASE_URL", f"sqlite:///{tmp_path / 'x.sqlite'}")
    monkeypatch.delenv("VPP_ENTSOE_TOKEN", raising=False)
    runner = CliRunner()
    result = runner.invoke(
        market_cli.app, [*fetch_args("2021-03-28", "2021-03-28"), "--base-url", entsoe.url]
    )
    assert isinstance(result.exception, InvalidInputError)
    assert "VPP_ENTSOE_TOKEN" in str(result.exception)
    assert entsoe.queries == []
    assert not (tmp_path / "x.sqlite").exists()
    shown = runner.invoke(market_cli.app, ["fetch", "--help"])
    assert shown.exit_code == 0
    assert "--base-url" not in shown.output
    assert "--area" in shown.output
