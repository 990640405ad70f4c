"""The HTTP market gateway against the loopback exchange over a real socket, no mocks.

Each test serves a fresh :class:`LoopbackExchange` (the simulated exchange behind signatures,
idempotency keys, gate closure and fault injection) on 127.0.0.1 and talks to it with
:class:`HttpMarketGateway`. Prices are the sample park's real DE-LU day-ahead and FCR prices
for its demo day; the market clock is fixed before or after the D-1 12:00 gate.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from adapters.market.exchange_server import ExchangeServer, LoopbackExchange
from adapters.market.http_gateway import HttpMarketGateway, canonical_request, sign
from adapters.market.simulated import SimulatedExchange
from vpp.domain.bids import BidCurve, BidSegment, BidSet
from vpp.domain.errors import (
    AdapterError,
    ConflictError,
    GateClosedError,
    InvalidInputError,
    NotFoundError,
)
from vpp.domain.market import MarketProfile, load_market_profile
from vpp.domain.ports import FixedClock, MarketGateway
from vpp.services.park_file import load_park

REPO = Path(__file__).resolve().parents[2]
DAY = date(2021, 5, 5)
PARTICIPANT = "haute-borne"
SECRET = "loopback-secret-0123456789"
# DE-LU gate: D-1 12:00 Europe/Berlin = 2021-05-04 10:00 UTC; results D-1 12:57.
BEFORE_GATE = FixedClock(pd.Timestamp("2021-05-04T08:00Z"))
AFTER_GATE = FixedClock(pd.Timestamp("2021-05-04T10:00Z"))
AFTER_RESULTS = FixedClock(pd.Timestamp("2021-05-04T11:00Z"))


@pytest.fixture(scope="module")
def profile() -> MarketProfile:
    return load_market_profile("de-lu")


@pytest.fixture(scope="module")
def prices() -> tuple[pd.Series, dict[str, pd.Series]]:
    data = load_park()
    energy = data.series[data.definition.prices.day_ahead]
    reserves = {pid: data.series[col] for pid, col in data.definition.prices.reserves.items()}
    return energy, reserves


def make_bids(profile: MarketProfile, bid_id: str = "bids-1", shift: float = 0.0) -> BidSet:
    """A valid DE-LU bid set: sell and buy curves every interval, FCR offers per 4 h block."""
    curves = []
    intervals = profile.day_intervals(DAY)
    for k, start in enumerate(intervals):
        curves.append(
            BidCurve(
                product_id="da_energy",
                interval_start=start,
                side="sell",
                segments=[
                    BidSegment(price=30.0 + shift, quantity_mw=0.5),
                    BidSegment(price=55.0 + shift, quantity_mw=1.0 + (k % 3) / 10),
                ],
            )
        )
        curves.append(
            BidCurve(
                product_id="da_energy",
                interval_start=start,
                side="buy",
                segments=[
                    BidSegment(price=20.0, quantity_mw=0.7),
                    BidSegment(price=-10.0, quantity_mw=0.3),
                ],
            )
        )
    for start in intervals[::16]:
        curves.append(
            BidCurve(
                product_id="fcr",
                interval_start=start,
                side="sell",
                segments=[BidSegment(price=20.0, quantity_mw=1.0)],
            )
        )
    return BidSet(
        id=bid_id,
        market_id="de-lu",
        delivery_day=DAY,
        created_at=pd.Timestamp("2021-05-04T07:00Z"),
        status="approved",
        curves=curves,
    )


@pytest.fixture
def prices_exchange(
    prices: tuple[pd.Series, dict[str, pd.Series]],
) -> SimulatedExchange:
    energy, reserves = prices
    return SimulatedExchange(energy, reserves)


@contextmanager
def serving(exchange: SimulatedExchange, **rules: Any) -> Iterator[tuple[LoopbackExchange, str]]:
    rules.setdefault("clock", BEFORE_GATE)
    loopback = LoopbackExchange(exchange, {PARTICIPANT: SECRET}, **rules)
    with loopback.serve() as server:
        yield loopback, server.url


def gateway(url: str, **options: Any) -> HttpMarketGateway:
    """A gateway with tiny backoff so retries take milliseconds."""
    options.setdefault("secret", SECRET)
    options.setdefault("backoff_initial_s", 0.001)
    options.setdefault("backoff_max_s", 0.01)
    options.setdefault("read_timeout_s", 20.0)
    return HttpMarketGateway(url, PARTICIPANT, **options)


def test_gateway_satisfies_the_port() -> None:
    with gateway("http://127.0.0.1:1") as client:
        assert isinstance(client, MarketGateway)


def test_submit_and_awards_round_trip_equals_direct_clearing(
    profile: MarketProfile, prices: tuple[pd.Series, dict[str, pd.Series]]
) -> None:
    energy, reserves = prices
    bids = make_bids(profile)
    direct = SimulatedExchange(energy, reserves)
    direct.submit(bids, "direct")
    expected = list(direct.awards("de-lu", DAY))
    assert any(a.quantity_mw > 0 for a in expected)
    assert any(a.quantity_mw == 0 for a in expected)

    with serving(SimulatedExchange(energy, reserves)) as (loopback, url), gateway(url) as client:
        receipt = client.submit(bids, "day-2021-05-05")
        awards = list(client.awards("de-lu", DAY))

    assert receipt
    assert awards == expected
    assert loopback.accepted_count("de-lu", DAY) == 1


def test_retry_after_two_503s_submits_once(
    profile: MarketProfile, prices_exchange: SimulatedExchange
) -> None:
    slept: list[float] = []
    with serving(prices_exchange) as (loopback, url):
        loopback.faults.fail_next(2, status=503)
        with gateway(url, sleep=slept.append, max_attempts=4) as client:
            receipt = client.submit(make_bids(profile), "k-503")
        assert loopback.faults.failed == 2
        assert loopback.accepted_count("de-lu", DAY) == 1
    assert receipt.endswith("k-503")
    assert len(slept) == 2


def test_retry_honours_retry_after(
    profile: MarketProfile, prices_exchange: SimulatedExchange
) -> None:
    slept: list[float] = []
    with serving(prices_exchange) as (loopback, url):
        loopback.faults.fail_next(1, status=429, retry_after_s=0.05)
        with gateway(url, sleep=slept.append, backoff_max_s=1.0) as client:
            client.submit(make_bids(profile), "k-429")
        assert loopback.accepted_count("de-lu", DAY) == 1
    assert slept and slept[0] >= 0.05


def test_resubmitting_the_same_key_returns_the_same_receipt(
    profile: MarketProfile, prices_exchange: SimulatedExchange
) -> None:
    bids = make_bids(profile)
    with serving(prices_exchange) as (loopback, url), gateway(url) as client:
        first = client.submit(bids, "same-key")
        second = client.submit(bids, "same-key")
        assert loopback.accepted_count("de-lu", DAY) == 1
    assert first == second


def test_same_key_with_a_different_bid_set_is_a_conflict(
    profile: MarketProfile, prices_exchange: SimulatedExchange
) -> None:
    with serving(prices_exchange) as (loopback, url), gateway(url) as client:
        client.submit(make_bids(profile), "reused")
        with pytest.raises(ConflictError, match="different bid set") as caught:
            client.submit(make_bids(profile, shift=1.0), "reused")
        assert "new idempotency key" in (caught.value.hint or "")
        assert loopback.accepted_count("de-lu", DAY) == 1


def test_second_bid_set_for_the_day_under_a_new_key_is_a_conflict(
    profile: MarketProfile, prices_exchange: SimulatedExchange
) -> None:
    with serving(prices_exchange) as (loopback, url), gateway(url) as client:
        client.submit(make_bids(profile), "first")
        with pytest.raises(ConflictError, match="already submitted"):
            client.submit(make_bids(profile, "bids-2"), "second")
        assert loopback.accepted_count("de-lu", DAY) == 1


def test_invalid_bids_are_rejected_as_invalid_input(
    profile: MarketProfile, prices_exchange: SimulatedExchange
) -> None:
    bids = make_bids(profile)
    bad = bids.model_copy(
        update={
            "curves": [
                BidCurve(
                    product_id="da_energy",
                    interval_start=profile.day_intervals(DAY)[0],
                    side="sell",
                    segments=[BidSegment(price=10.0, quantity_mw=1.0)],
                )
            ]
        }
    )
    with serving(prices_exchange) as (loopback, url), gateway(url) as client:
        with pytest.raises(InvalidInputError, match="segments"):
            client.submit(bad, "bad")
        assert loopback.accepted_count("de-lu", DAY) == 0


def test_wrong_secret_is_a_clear_adapter_error(
    profile: MarketProfile, prices_exchange: SimulatedExchange
) -> None:
    slept: list[float] = []
    with serving(prices_exchange) as (loopback, url):
        with (
            gateway(url, secret="not-the-secret", sleep=slept.append) as client,
            pytest.raises(AdapterError, match="refused the signature") as caught,
        ):
            client.submit(make_bids(profile), "k")
        assert loopback.accepted_count("de-lu", DAY) == 0
    assert "shared secret" in (caught.value.hint or "")
    assert slept == []  # 4xx is not retried


def test_stale_timestamp_is_refused(
    profile: MarketProfile, prices_exchange: SimulatedExchange
) -> None:
    with (
        serving(prices_exchange) as (_, url),
        gateway(url, wall_clock=lambda: time.time() - 3600) as client,
        pytest.raises(AdapterError, match="replay window"),
    ):
        client.submit(make_bids(profile), "k")


def test_server_refuses_unsigned_and_tampered_requests(
    profile: MarketProfile, prices_exchange: SimulatedExchange
) -> None:
    import httpx

    body = make_bids(profile).model_dump_json().encode()
    stamp = str(int(time.time()))
    good = sign(SECRET, canonical_request("POST", "/v1/bids", stamp, "k", body))
    headers = {
        "X-Participant": PARTICIPANT,
        "X-Timestamp": stamp,
        "X-Signature": good,
        "Idempotency-Key": "k",
        "Content-Type": "application/json",
    }
    with serving(prices_exchange) as (loopback, url), httpx.Client(base_url=url) as raw:
        unsigned = raw.post("/v1/bids", content=body)
        tampered = raw.post("/v1/bids", content=body.replace(b"30.0", b"31.0", 1), headers=headers)
        other_key = raw.post("/v1/bids", content=body, headers={**headers, "Idempotency-Key": "x"})
        accepted = raw.post("/v1/bids", content=body, headers=headers)
        assert loopback.accepted_count("de-lu", DAY) == 1
    assert unsigned.status_code == 401
    assert tampered.status_code == 401
    assert other_key.status_code == 401
    assert accepted.status_code == 201
    assert tampered.json()["kind"] == "signature-refused"


def test_after_gate_closure_is_gate_closed(
    profile: MarketProfile, prices_exchange: SimulatedExchange
) -> None:
    slept: list[float] = []
    with serving(prices_exchange, clock=AFTER_GATE) as (loopback, url):
        with (
            gateway(url, sleep=slept.append) as client,
            pytest.raises(GateClosedError, match="gate closed") as caught,
        ):
            client.submit(make_bids(profile), "late")
        assert loopback.accepted_count("de-lu", DAY) == 0
    assert "2021-05-04T12:00:00+02:00" in caught.value.message
    assert slept == []


def test_server_down_is_adapter_error_after_bounded_retries(profile: MarketProfile) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    slept: list[float] = []
    with (
        gateway(f"http://127.0.0.1:{port}", max_attempts=3, sleep=slept.append) as client,
        pytest.raises(AdapterError, match=r"after 3 attempt\(s\).*ConnectError") as caught,
    ):
        client.submit(make_bids(profile), "k-down")
    assert len(slept) == 2
    assert "same idempotency key" in (caught.value.hint or "")


def test_exhausted_503s_name_the_attempts_and_last_failure(
    profile: MarketProfile, prices_exchange: SimulatedExchange
) -> None:
    with serving(prices_exchange) as (loopback, url):
        loopback.faults.fail_next(10, status=503)
        with (
            gateway(url, max_attempts=3, sleep=lambda _: None) as client,
            pytest.raises(AdapterError, match=r"after 3 attempt\(s\).*HTTP 503"),
        ):
            client.submit(make_bids(profile), "k")
        assert loopback.accepted_count("de-lu", DAY) == 0


def test_read_timeout_is_retried_with_the_same_key(
    profile: MarketProfile, prices_exchange: SimulatedExchange
) -> None:
    with serving(prices_exchange) as (loopback, url):
        loopback.faults.delay_s = 0.5
        with (
            gateway(url, max_attempts=2, read_timeout_s=0.05) as client,
            pytest.raises(AdapterError, match="ReadTimeout"),
        ):
            client.submit(make_bids(profile), "k-slow")
        loopback.faults.delay_s = 0.0
        with gateway(url) as client:
            receipt = client.submit(make_bids(profile), "k-slow")
        assert loopback.accepted_count("de-lu", DAY) == 1
    assert receipt.endswith("k-slow")


def test_awards_before_results_are_not_found(
    profile: MarketProfile, prices_exchange: SimulatedExchange
) -> None:
    with serving(prices_exchange, results="results_time") as (_, url), gateway(url) as client:
        client.submit(make_bids(profile), "k")
        with pytest.raises(NotFoundError, match="not yet published") as caught:
            client.awards("de-lu", DAY)
    assert "12:57" in caught.value.message


def test_awards_are_published_at_the_results_time(
    profile: MarketProfile, prices_exchange: SimulatedExchange
) -> None:
    clock = FixedClock(pd.Timestamp("2021-05-04T08:00Z"))
    with (
        serving(prices_exchange, clock=clock, results="results_time") as (_, url),
        gateway(url) as client,
    ):
        with pytest.raises(NotFoundError, match="not yet published"):
            client.awards("de-lu", DAY)
        client.submit(make_bids(profile), "k")
        clock.instant = AFTER_RESULTS.instant
        assert len(client.awards("de-lu", DAY)) == len(make_bids(profile).curves)


CLIENT_SCRIPT = """
import sys
from adapters.market.http_gateway import HttpMarketGateway
from vpp.domain.bids import BidSet

url, participant, secret, key = sys.argv[1:5]
bids = BidSet.model_validate_json(sys.stdin.read())
with HttpMarketGateway(url, participant, secret, read_timeout_s=60, max_attempts=1) as gateway:
    gateway.submit(bids, key)
"""


def test_client_killed_mid_request_then_resubmitted_submits_once(
    profile: MarketProfile, prices_exchange: SimulatedExchange
) -> None:
    bids = make_bids(profile)
    with serving(prices_exchange) as (loopback, url):
        loopback.faults.block_next_submission(after_commit=False)
        process = subprocess.Popen(
            [sys.executable, "-c", CLIENT_SCRIPT, url, PARTICIPANT, SECRET, "k-killed"],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert process.stdin is not None
            process.stdin.write(bids.model_dump_json().encode())
            process.stdin.close()
            assert loopback.faults.submission_blocked.wait(15), "submission never arrived"
            # meanwhile a second attempt with the key is told to wait, not accepted twice
            with (
                gateway(url, max_attempts=1) as impatient,
                pytest.raises(AdapterError, match="still being processed"),
            ):
                impatient.submit(bids, "k-killed")
        finally:
            process.kill()
            process.wait()
        loopback.faults.release()
        # the released attempt may still be in flight: honour its Retry-After (1 s) and retry
        with gateway(url, max_attempts=5, backoff_max_s=2.0) as client:
            receipt = client.submit(bids, "k-killed")
        assert loopback.accepted_count("de-lu", DAY) == 1
    assert receipt.endswith("k-killed")


def test_server_helper_frees_its_port(prices_exchange: SimulatedExchange) -> None:
    loopback = LoopbackExchange(prices_exchange, {PARTICIPANT: SECRET}, clock=BEFORE_GATE)
    server = ExchangeServer(loopback.app())
    port = server.port
    with server:
        assert server.url == f"http://127.0.0.1:{port}"
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))
