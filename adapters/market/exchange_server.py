"""A loopback exchange: the simulated exchange behind a real HTTP API, for end-to-end tests.

:class:`LoopbackExchange` wraps :class:`adapters.market.simulated.SimulatedExchange` (which does
the clearing) with what a real exchange API adds around it: signed requests, idempotency keys,
gate closure, a results time, and refusals with clear reasons. :func:`create_exchange_app`
turns it into a FastAPI app and :class:`ExchangeServer` serves that app with uvicorn on
``127.0.0.1`` in a background thread, so :class:`adapters.market.http_gateway.HttpMarketGateway`
can be tested over a real socket without mocks.

API (request signing as documented in :mod:`adapters.market.http_gateway`)
----------------------------------------------------------------------------
``POST /v1/bids``
    JSON :class:`~vpp.domain.bids.BidSet` body, headers ``X-Participant``, ``X-Timestamp``,
    ``X-Signature`` and ``Idempotency-Key``. ``201`` with ``{"receipt_id", ...}`` when accepted;
    ``200`` with the same receipt (and ``Idempotent-Replayed: true``) for a repeated key with
    the same bid set; ``422`` (``idempotency-key-reused``) for a repeated key with a different
    one; ``409`` (``idempotency-in-progress``, with ``Retry-After``) while a request with the
    key is still being processed; ``409`` (``gate-closed``) at or after gate closure; ``409``
    (``conflict``) when the day already has a bid set under another key; ``422`` for bids that
    break the market's rules; ``401`` for a missing, wrong or stale signature.
``GET /v1/awards?market_id=...&delivery_day=YYYY-MM-DD``
    Signed likewise (empty key and body). ``200`` with ``{"awards": [...]}``; ``404``
    (``not-published``) before the results time (when that rule is on) or before any bid set
    for the day was accepted.

Errors are RFC 9457 problem details with two extra members, ``kind`` and ``hint``.

Fault injection (:class:`Faults`) lets tests fail the next requests with ``503``, slow every
answer down, or hold the next submission until released so a client can be killed mid-request.
:meth:`LoopbackExchange.accepted_count` counts accepted submissions per market day, to prove
that retries never submit twice.
"""

from __future__ import annotations

import asyncio
import hmac
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import anyio.to_thread
import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from adapters.asgi_server import ThreadedServer
from adapters.market.http_gateway import (
    AWARDS_PATH,
    KIND_GATE_CLOSED,
    KIND_IN_PROGRESS,
    KIND_KEY_REUSED,
    KIND_NOT_PUBLISHED,
    SUBMIT_PATH,
    body_digest,
    canonical_request,
    sign,
)
from adapters.market.simulated import SimulatedExchange
from vpp.domain.bids import BidSet, check_bid_set
from vpp.domain.errors import ConflictError, NotFoundError, ProfileError
from vpp.domain.market import MarketProfile, load_market_profile
from vpp.domain.ports import Clock, SystemClock

ResultsRule = Literal["on_submit", "results_time"]


class _Refusal(Exception):
    """A request the exchange answers with a problem document instead of a result."""

    def __init__(
        self,
        status: int,
        kind: str,
        detail: str,
        hint: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail
        self.hint = hint
        self.headers = dict(headers or {})

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {
            "type": f"urn:parkvpp:exchange:{self.kind}",
            "title": self.kind.replace("-", " "),
            "status": self.status,
            "detail": self.detail,
            "kind": self.kind,
        }
        if self.hint:
            body["hint"] = self.hint
        return JSONResponse(
            body,
            status_code=self.status,
            headers=self.headers,
            media_type="application/problem+json",
        )


class Faults:
    """Failure modes a test can switch on; thread-safe, shared with the serving thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fail_remaining = 0
        self._fail_status = 503
        self._fail_retry_after: float | None = None
        #: Added to every answer before it is sent [s].
        self.delay_s = 0.0
        self._block_armed = False
        self._block_after_commit = True
        #: Set while a submission is held by :meth:`block_next_submission`.
        self.submission_blocked = threading.Event()
        #: Set to let a held submission go on (:meth:`release`).
        self.released = threading.Event()
        #: Requests answered with an injected failure so far.
        self.failed = 0

    def fail_next(self, n: int, status: int = 503, retry_after_s: float | None = None) -> None:
        """Answer the next ``n`` requests (any endpoint) with ``status`` before handling them."""
        with self._lock:
            self._fail_remaining = n
            self._fail_status = status
            self._fail_retry_after = retry_after_s

    def block_next_submission(self, *, after_commit: bool = True) -> None:
        """Hold the next bid submission until :meth:`release`.

        With ``after_commit`` (the default) the bid set is recorded before the hold, as when an
        exchange accepted a request whose answer never reached the client; otherwise the hold
        comes first, and a retry with the same key meanwhile gets ``409 idempotency-in-progress``.
        :attr:`submission_blocked` is set once a submission is being held.
        """
        with self._lock:
            self._block_armed = True
            self._block_after_commit = after_commit
            self.submission_blocked.clear()
            self.released.clear()

    def release(self) -> None:
        """Let a held submission go on (and disarm a hold not yet reached)."""
        with self._lock:
            self._block_armed = False
        self.released.set()

    def _take_failure(self) -> tuple[int, float | None] | None:
        with self._lock:
            if self._fail_remaining <= 0:
                return None
            self._fail_remaining -= 1
            self.failed += 1
            return self._fail_status, self._fail_retry_after

    def _take_block(self) -> bool | None:
        """``after_commit`` of an armed hold (disarming it), or None when none is armed."""
        with self._lock:
            if not self._block_armed:
                return None
            self._block_armed = False
            return self._block_after_commit


@dataclass(frozen=True)
class _Accepted:
    digest: str
    receipt_id: str
    market_id: str
    delivery_day: date
    accepted_at: str


class LoopbackExchange:
    """Exchange rules around a :class:`SimulatedExchange`: signatures, keys, gate, results.

    Parameters
    ----------
    exchange : SimulatedExchange
        Does the clearing; awards are its answers.
    secrets : mapping
        Participant id -> shared HMAC secret.
    clock : Clock, optional
        Market time for gate closure and results time (default: the wall clock).
    profiles : mapping, optional
        Market id -> profile; markets not in it are loaded with ``load_market_profile``.
    results : {"on_submit", "results_time"}
        When awards are published: as soon as the day's bid set is accepted, or from the
        profile's day-ahead results time (gate closure when it has none) on ``clock``.
    validate : bool
        Refuse bid sets that break the profile's bid rules (``check_bid_set``) with ``422``.
    replay_window_s : float
        How far a request's ``X-Timestamp`` may be from ``wall_clock`` [s].
    wall_clock : callable
        Unix time for the replay window (separate from ``clock``, which may be a fixed
        market instant in tests).
    max_hold_s : float
        Upper bound on how long a held submission waits for :meth:`Faults.release` [s].
    """

    def __init__(
        self,
        exchange: SimulatedExchange,
        secrets: Mapping[str, str | bytes],
        *,
        clock: Clock | None = None,
        profiles: Mapping[str, MarketProfile] | None = None,
        results: ResultsRule = "on_submit",
        validate: bool = True,
        replay_window_s: float = 300.0,
        wall_clock: Callable[[], float] = time.time,
        max_hold_s: float = 30.0,
    ) -> None:
        self.exchange = exchange
        self.secrets = dict(secrets)
        self.clock: Clock = clock or SystemClock()
        self.results = results
        self.validate = validate
        self.replay_window_s = replay_window_s
        self.wall_clock = wall_clock
        self.max_hold_s = max_hold_s
        self.faults = Faults()
        self._profiles = dict(profiles or {})
        self._lock = threading.Lock()
        self._accepted: dict[tuple[str, str], _Accepted] = {}
        self._in_flight: set[tuple[str, str]] = set()
        self._counts: Counter[tuple[str, date]] = Counter()

    def accepted_count(self, market_id: str, delivery_day: date) -> int:
        """How many submissions were accepted (not replayed) for the market day."""
        with self._lock:
            return self._counts[(market_id, delivery_day)]

    def app(self) -> FastAPI:
        """This exchange as a FastAPI app (see :func:`create_exchange_app`)."""
        return create_exchange_app(self)

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> ExchangeServer:
        """An :class:`ExchangeServer` for this exchange (not yet started)."""
        return ExchangeServer(self.app(), host=host, port=port, before_stop=self.faults.release)

    # -- rules --------------------------------------------------------------------------------

    def profile(self, market_id: str) -> MarketProfile:
        """The profile of ``market_id``; 422 when the exchange does not know the market."""
        if market_id not in self._profiles:
            try:
                self._profiles[market_id] = load_market_profile(market_id)
            except ProfileError as exc:
                raise _Refusal(422, "unknown-market", f"unknown market {market_id!r}") from exc
        return self._profiles[market_id]

    def verify(self, request: Request, body: bytes) -> str:
        """The participant id of a correctly signed, fresh request; 401 otherwise."""
        participant = request.headers.get("X-Participant", "")
        timestamp = request.headers.get("X-Timestamp", "")
        signature = request.headers.get("X-Signature", "")
        if not participant or not timestamp or not signature:
            raise _Refusal(
                401,
                "signature-missing",
                "X-Participant, X-Timestamp and X-Signature headers are required",
            )
        secret = self.secrets.get(participant)
        if secret is None:
            raise _Refusal(401, "signature-refused", f"unknown participant {participant!r}")
        try:
            sent_at = int(timestamp)
        except ValueError:
            raise _Refusal(
                401, "signature-refused", f"X-Timestamp {timestamp!r} is not Unix seconds"
            ) from None
        skew = abs(self.wall_clock() - sent_at)
        if skew > self.replay_window_s:
            raise _Refusal(
                401,
                "signature-stale",
                f"X-Timestamp is {skew:.0f} s from the exchange clock, outside the "
                f"{self.replay_window_s:.0f} s replay window",
                hint="sign each attempt afresh and keep the clock synchronised",
            )
        raw_path = request.scope.get("raw_path") or request.url.path.encode("utf-8")
        query = request.scope.get("query_string") or b""
        target = (raw_path + (b"?" + query if query else b"")).decode("latin-1")
        key = request.headers.get("Idempotency-Key", "")
        expected = sign(secret, canonical_request(request.method, target, timestamp, key, body))
        if not hmac.compare_digest(expected, signature.lower()):
            raise _Refusal(
                401,
                "signature-refused",
                f"signature mismatch for participant {participant!r}",
                hint="sign METHOD, target, timestamp, key and body sha256 with the shared secret",
            )
        return participant

    def begin_submission(self, participant: str, key: str, bids: BidSet) -> _Accepted | None:
        """The earlier acceptance for a replayed key, or None after marking the key in flight."""
        digest = body_digest(bids.model_dump_json().encode("utf-8"))
        slot = (participant, key)
        with self._lock:
            earlier = self._accepted.get(slot)
            if earlier is not None:
                if earlier.digest != digest:
                    raise _Refusal(
                        422,
                        KIND_KEY_REUSED,
                        f"idempotency key {key!r} was used for a different bid set",
                        hint="a changed bid set needs a new idempotency key",
                    )
                return earlier
            if slot in self._in_flight:
                raise _Refusal(
                    409,
                    KIND_IN_PROGRESS,
                    f"a request with idempotency key {key!r} is still being processed",
                    hint="retry with the same key shortly",
                    headers={"Retry-After": "1"},
                )
            profile = self.profile(bids.market_id)
            gate = profile.gate_closure(bids.delivery_day)
            now = self.clock.now()
            if now >= gate:
                local = gate.tz_convert(profile.timezone)
                raise _Refusal(
                    409,
                    KIND_GATE_CLOSED,
                    f"gate closed for {bids.market_id} {bids.delivery_day} at "
                    f"{local.isoformat()} ({gate.isoformat()}); now is {now.isoformat()}",
                    hint="bids for this delivery day can no longer be submitted",
                )
            if self.validate:
                problems = check_bid_set(bids, profile)
                if problems:
                    shown = "; ".join(problems[:5])
                    more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
                    raise _Refusal(
                        422, "invalid-bids", f"bid set breaks the market rules: {shown}{more}"
                    )
            self._in_flight.add(slot)
            return None

    def commit_submission(self, participant: str, key: str, bids: BidSet) -> _Accepted:
        """Record the bid set with the simulated exchange and count it."""
        slot = (participant, key)
        with self._lock:
            try:
                receipt = self.exchange.submit(bids, f"{participant}:{key}")
            except ConflictError as exc:
                raise _Refusal(409, "conflict", exc.message, hint=exc.hint) from exc
            accepted = _Accepted(
                digest=body_digest(bids.model_dump_json().encode("utf-8")),
                receipt_id=receipt,
                market_id=bids.market_id,
                delivery_day=bids.delivery_day,
                accepted_at=pd.Timestamp(self.clock.now()).isoformat(),
            )
            self._accepted[slot] = accepted
            self._counts[(bids.market_id, bids.delivery_day)] += 1
            return accepted

    def end_submission(self, participant: str, key: str) -> None:
        """Forget that the key is in flight (accepted or not)."""
        with self._lock:
            self._in_flight.discard((participant, key))

    def awards_of(self, market_id: str, delivery_day: date) -> list[dict[str, Any]]:
        """The published awards as JSON rows; 404 before publication."""
        profile = self.profile(market_id)
        if self.results == "results_time":
            rule = profile.day_ahead.results_time
            publish = (
                rule.on(delivery_day, profile.timezone)
                if rule is not None
                else profile.gate_closure(delivery_day)
            )
            if self.clock.now() < publish:
                raise _Refusal(
                    404,
                    KIND_NOT_PUBLISHED,
                    f"results for {market_id} {delivery_day} are not yet published; they are "
                    f"due at {publish.tz_convert(profile.timezone).isoformat()}",
                    hint="ask again after the results time",
                )
        with self._lock:
            try:
                awards = self.exchange.awards(market_id, delivery_day)
            except NotFoundError as exc:
                raise _Refusal(
                    404,
                    KIND_NOT_PUBLISHED,
                    f"no results published for {market_id} {delivery_day}: {exc.message}",
                    hint="results follow an accepted bid set",
                ) from exc
        return [award.model_dump(mode="json") for award in awards]


def create_exchange_app(exchange: LoopbackExchange) -> FastAPI:
    """A FastAPI app serving ``exchange`` (endpoints in the module docstring)."""
    app = FastAPI(title="parkvpp loopback exchange", docs_url=None, redoc_url=None)
    faults = exchange.faults

    async def injected() -> JSONResponse | None:
        if faults.delay_s > 0:
            await asyncio.sleep(faults.delay_s)
        failure = faults._take_failure()
        if failure is None:
            return None
        status, retry_after = failure
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else None
        return _Refusal(
            status, "injected-failure", f"injected failure (HTTP {status})", headers=headers
        ).response()

    async def hold() -> None:
        faults.submission_blocked.set()
        await anyio.to_thread.run_sync(faults.released.wait, exchange.max_hold_s)

    @app.post(SUBMIT_PATH)
    async def submit_bids(request: Request) -> JSONResponse:
        failure = await injected()
        if failure is not None:
            return failure
        body = await request.body()
        try:
            participant = exchange.verify(request, body)
            key = request.headers.get("Idempotency-Key", "")
            if not key:
                raise _Refusal(400, "idempotency-key-missing", "Idempotency-Key is required")
            try:
                bids = BidSet.model_validate_json(body)
            except ValidationError as exc:
                raise _Refusal(
                    422, "invalid-input", f"body is not a bid set: {exc.errors()[0]['msg']}"
                ) from exc
            earlier = exchange.begin_submission(participant, key, bids)
            if earlier is not None:
                return _receipt(earlier, key, status=200, replayed=True)
            try:
                after_commit = faults._take_block()
                if after_commit is False:
                    await hold()
                accepted = exchange.commit_submission(participant, key, bids)
                if after_commit:
                    await hold()
            finally:
                exchange.end_submission(participant, key)
            return _receipt(accepted, key, status=201, replayed=False)
        except _Refusal as refusal:
            return refusal.response()

    @app.get(AWARDS_PATH)
    async def get_awards(request: Request) -> JSONResponse:
        failure = await injected()
        if failure is not None:
            return failure
        try:
            exchange.verify(request, await request.body())
            market_id = request.query_params.get("market_id", "")
            raw_day = request.query_params.get("delivery_day", "")
            try:
                day = date.fromisoformat(raw_day)
            except ValueError:
                raise _Refusal(
                    422, "invalid-input", f"delivery_day {raw_day!r} is not YYYY-MM-DD"
                ) from None
            if not market_id:
                raise _Refusal(422, "invalid-input", "market_id is required")
            rows = exchange.awards_of(market_id, day)
        except _Refusal as refusal:
            return refusal.response()
        return JSONResponse(
            {"market_id": market_id, "delivery_day": day.isoformat(), "awards": rows}
        )

    return app


def _receipt(accepted: _Accepted, key: str, *, status: int, replayed: bool) -> JSONResponse:
    return JSONResponse(
        {
            "receipt_id": accepted.receipt_id,
            "idempotency_key": key,
            "market_id": accepted.market_id,
            "delivery_day": accepted.delivery_day.isoformat(),
            "accepted_at": accepted.accepted_at,
        },
        status_code=status,
        headers={"Idempotent-Replayed": "true"} if replayed else None,
    )


class ExchangeServer(ThreadedServer):
    """The exchange app served on a local port in a background thread (see ThreadedServer).

    ``before_stop`` runs first on :meth:`stop` (the loopback exchange releases held submissions).
    """

    def __init__(
        self,
        app: FastAPI,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        before_stop: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(app, host, port, lifespan="off", before_stop=before_stop, name="exchange")
