"""A market gateway over HTTP: signed, idempotent bid submission and award retrieval.

:class:`HttpMarketGateway` implements :class:`vpp.domain.ports.MarketGateway` against an
exchange API of the shape served by :mod:`adapters.market.exchange_server` (the loopback test
exchange), so the service's submit/award path can be exercised end to end over a real socket.

Why it looks the way it does
----------------------------
* **Idempotency.** Every submission carries an ``Idempotency-Key`` header; the same key is sent
  on every retry, so a request whose response was lost (timeout, dropped connection, a process
  killed mid-request) can be repeated safely: the exchange answers with the first receipt.
* **Bounded retries.** Connection errors, timeouts, ``429`` and ``5xx`` answers are retried with
  exponential backoff and jitter, honouring ``Retry-After``; ``4xx`` answers are not retried
  (they will not get better), except a ``409`` saying the same key is still being processed,
  which is the exchange asking us to wait for the first attempt to finish.
* **Signed requests.** Each attempt is signed afresh (new timestamp) with HMAC-SHA256 under a
  secret shared between the participant and the exchange; see :func:`canonical_request`.
* **Domain errors.** Answers map onto the :mod:`vpp.domain.errors` tree with a message saying
  what happened and a hint saying what to do.

Signature scheme
----------------
Headers ``X-Participant`` (participant id), ``X-Timestamp`` (Unix seconds, integer),
``Idempotency-Key`` (empty string in the signature when absent, e.g. on ``GET``) and
``X-Signature`` = lower-case hex ``HMAC-SHA256(secret, canonical)`` where ``canonical`` is the
UTF-8 encoding of these lines joined with ``\\n``::

    METHOD              upper case, e.g. POST
    request target      path and query exactly as sent, e.g. /v1/awards?market_id=de-lu&...
    timestamp           the X-Timestamp value
    idempotency key     the Idempotency-Key value or ""
    body sha256         lower-case hex SHA-256 of the raw body bytes (of b"" when empty)

The exchange refuses a signature that does not match, or a timestamp outside its replay window.
"""

from __future__ import annotations

import email.utils
import hashlib
import hmac
import json
import random
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date
from types import TracebackType
from typing import Any, Self

import httpx
from pydantic import ValidationError

from vpp.domain.bids import Award, BidSet
from vpp.domain.errors import (
    AdapterError,
    ConflictError,
    GateClosedError,
    InvalidInputError,
    NotFoundError,
    VppError,
)

#: Problem ``kind`` the exchange uses when a request with the same key is still in flight.
KIND_IN_PROGRESS = "idempotency-in-progress"
#: Problem ``kind`` for a key reused with a different body.
KIND_KEY_REUSED = "idempotency-key-reused"
#: Problem ``kind`` for a request after gate closure.
KIND_GATE_CLOSED = "gate-closed"
#: Problem ``kind`` for awards asked for before they are published.
KIND_NOT_PUBLISHED = "not-published"

SUBMIT_PATH = "/v1/bids"
AWARDS_PATH = "/v1/awards"


def body_digest(body: bytes) -> str:
    """Lower-case hex SHA-256 of ``body``."""
    return hashlib.sha256(body).hexdigest()


def canonical_request(
    method: str, target: str, timestamp: str, idempotency_key: str, body: bytes
) -> bytes:
    """The bytes that get signed: method, target, timestamp, key and body digest, one a line."""
    lines = [method.upper(), target, timestamp, idempotency_key, body_digest(body)]
    return "\n".join(lines).encode("utf-8")


def sign(secret: str | bytes, canonical: bytes) -> str:
    """Lower-case hex HMAC-SHA256 of ``canonical`` under ``secret``."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    return hmac.new(key, canonical, hashlib.sha256).hexdigest()


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or HTTP date), or None."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


class _Retryable(Exception):
    """One attempt failed in a way worth repeating; ``wait_s`` is the server's Retry-After."""

    def __init__(self, reason: str, wait_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait_s = wait_s


# Transport errors that mean "the request may not have arrived or its answer was lost".
# UnsupportedProtocol and LocalProtocolError are bugs on our side and are not retried.
_RETRYABLE_TRANSPORT = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    httpx.ProxyError,
)


class HttpMarketGateway:
    """A :class:`~vpp.domain.ports.MarketGateway` talking to an exchange's HTTP API.

    Parameters
    ----------
    base_url : str
        The exchange's API root, e.g. ``https://exchange.example/api`` (paths ``/v1/...`` are
        appended).
    participant_id : str
        Our participant id at the exchange (``X-Participant``).
    secret : str or bytes
        The HMAC secret shared with the exchange for ``participant_id``.
    connect_timeout_s, read_timeout_s : float
        Time allowed to open a connection and to wait for an answer [s].
    max_attempts : int
        Attempts per call, the first included (>= 1).
    backoff_initial_s, backoff_multiplier, backoff_max_s : float
        Exponential backoff: the wait before retry ``n`` (1-based) is
        ``min(backoff_max_s, backoff_initial_s * backoff_multiplier ** (n - 1))``, of which the
        upper half is randomised (jitter) so that clients do not retry in lockstep.
        A ``Retry-After`` answer raises the wait to what the exchange asked for; one above
        ``backoff_max_s`` ends the retries.
    transport : httpx.BaseTransport, optional
        For tests or proxies; the default is httpx's own.
    sleep, wall_clock, rng
        Injectable ``time.sleep``, ``time.time`` (signature timestamps) and random source.
    """

    def __init__(
        self,
        base_url: str,
        participant_id: str,
        secret: str | bytes,
        *,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 30.0,
        max_attempts: int = 5,
        backoff_initial_s: float = 0.5,
        backoff_multiplier: float = 2.0,
        backoff_max_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        wall_clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        if max_attempts < 1:
            raise InvalidInputError(
                f"max_attempts must be at least 1, got {max_attempts}",
                hint="1 means no retries",
            )
        if backoff_initial_s < 0 or backoff_max_s < 0 or backoff_multiplier < 1:
            raise InvalidInputError(
                "backoff settings must be non-negative with a multiplier of at least 1",
                hint=f"got initial={backoff_initial_s}, multiplier={backoff_multiplier}, "
                f"max={backoff_max_s}",
            )
        self.base_url = base_url.rstrip("/")
        self.participant_id = participant_id
        self._secret = secret
        self.max_attempts = max_attempts
        self.backoff_initial_s = backoff_initial_s
        self.backoff_multiplier = backoff_multiplier
        self.backoff_max_s = backoff_max_s
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._rng = rng or random.Random()
        timeout = httpx.Timeout(
            connect=connect_timeout_s, read=read_timeout_s, write=read_timeout_s, pool=None
        )
        self._client = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport)

    # -- MarketGateway -------------------------------------------------------------------------

    def submit(self, bids: BidSet, idempotency_key: str) -> str:
        """Submit ``bids`` under ``idempotency_key``; return the exchange's receipt id.

        Retries send the same key and body, so the exchange records the bid set once however
        many attempts it takes. Raises :class:`GateClosedError` after gate closure,
        :class:`ConflictError` when the day already has a bid set under another key or the key
        was used for a different bid set, :class:`InvalidInputError` when the exchange rejects
        the bids, and :class:`AdapterError` for everything else.
        """
        if not idempotency_key.strip():
            raise InvalidInputError(
                "an idempotency key is required to submit bids",
                hint="derive one from the bid set id so a retry reuses it",
            )
        body = bids.model_dump_json().encode("utf-8")
        what = f"submitting bid set {bids.id!r} for {bids.market_id} {bids.delivery_day}"
        response = self._call("POST", SUBMIT_PATH, what, body=body, key=idempotency_key)
        payload = self._json(response, what)
        receipt = payload.get("receipt_id") if isinstance(payload, dict) else None
        if not isinstance(receipt, str) or not receipt:
            raise AdapterError(
                f"the exchange answered {what} without a receipt id",
                hint=f"answer was {response.text[:200]!r}",
            )
        return receipt

    def awards(self, market_id: str, delivery_day: date) -> Sequence[Award]:
        """The exchange's awards for ``delivery_day``; :class:`NotFoundError` before results."""
        what = f"fetching awards for {market_id} {delivery_day}"
        params = {"market_id": market_id, "delivery_day": delivery_day.isoformat()}
        response = self._call("GET", AWARDS_PATH, what, params=params)
        payload = self._json(response, what)
        rows = payload.get("awards") if isinstance(payload, dict) else None
        if not isinstance(rows, list):
            raise AdapterError(
                f"the exchange answered {what} without an awards list",
                hint=f"answer was {response.text[:200]!r}",
            )
        try:
            return [Award.model_validate(row) for row in rows]
        except ValidationError as exc:
            raise AdapterError(
                f"the exchange sent malformed awards for {market_id} {delivery_day}",
                hint=str(exc).splitlines()[0],
            ) from exc

    # -- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- internals -----------------------------------------------------------------------------

    def backoff_s(self, retry: int) -> float:
        """The jittered wait before retry number ``retry`` (1-based) [s]."""
        base = min(
            self.backoff_max_s, self.backoff_initial_s * self.backoff_multiplier ** (retry - 1)
        )
        return base / 2 + self._rng.uniform(0, base / 2)

    def _signed(
        self,
        method: str,
        path: str,
        *,
        body: bytes,
        key: str | None,
        params: dict[str, str] | None,
    ) -> httpx.Request:
        request = self._client.build_request(method, path, params=params, content=body or None)
        timestamp = str(int(self._wall_clock()))
        target = request.url.raw_path.decode("ascii")
        canonical = canonical_request(method, target, timestamp, key or "", body)
        request.headers["X-Participant"] = self.participant_id
        request.headers["X-Timestamp"] = timestamp
        request.headers["X-Signature"] = sign(self._secret, canonical)
        if key is not None:
            request.headers["Idempotency-Key"] = key
        if body:
            request.headers["Content-Type"] = "application/json"
        return request

    def _call(
        self,
        method: str,
        path: str,
        what: str,
        *,
        body: bytes = b"",
        key: str | None = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Send with bounded retries; return a 2xx response or raise a domain error."""
        last = "no attempt made"
        for attempt in range(1, self.max_attempts + 1):
            try:
                request = self._signed(method, path, body=body, key=key, params=params)
                response = self._client.send(request)
                return self._check(response, what)
            except _Retryable as exc:
                last, wait_s = exc.reason, exc.wait_s
            except _RETRYABLE_TRANSPORT as exc:
                last, wait_s = f"{type(exc).__name__}: {str(exc) or 'no detail'}", None
            except httpx.HTTPError as exc:
                raise AdapterError(
                    f"{what} failed: {type(exc).__name__}: {exc}",
                    hint=f"check the exchange URL {self.base_url!r}",
                ) from exc
            if attempt == self.max_attempts:
                break
            delay = self.backoff_s(attempt)
            if wait_s is not None:
                if wait_s > self.backoff_max_s:
                    raise AdapterError(
                        f"{what} failed after {attempt} attempt(s): {last}; the exchange asked "
                        f"to retry after {wait_s:.0f} s",
                        hint=f"that is longer than backoff_max_s={self.backoff_max_s}; "
                        "submit again later with the same idempotency key",
                    )
                delay = max(delay, wait_s)
            self._sleep(delay)
        raise AdapterError(
            f"{what} failed after {self.max_attempts} attempt(s); last failure: {last}",
            hint=f"check that the exchange at {self.base_url} is reachable; it is safe to "
            "submit again with the same idempotency key",
        )

    def _check(self, response: httpx.Response, what: str) -> httpx.Response:
        """Return a 2xx response; raise _Retryable or the matching domain error otherwise."""
        status = response.status_code
        if 200 <= status < 300:
            return response
        kind, detail, hint = self._problem(response)
        described = f"HTTP {status}" + (f": {detail}" if detail else "")
        if status == 429 or status >= 500:
            wait_s = parse_retry_after(response.headers.get("Retry-After"), self._wall_clock())
            raise _Retryable(described, wait_s)
        if status == 409 and kind == KIND_IN_PROGRESS:
            wait_s = parse_retry_after(response.headers.get("Retry-After"), self._wall_clock())
            raise _Retryable(described, wait_s)
        error = self._domain_error(status, kind, what, detail, hint)
        raise error

    def _domain_error(
        self, status: int, kind: str, what: str, detail: str, hint: str | None
    ) -> VppError:
        message = f"{what}: {detail}" if detail else f"{what}: HTTP {status}"
        if status == 401:
            return AdapterError(
                f"the exchange refused the signature of participant {self.participant_id!r} "
                f"({what}): {detail or 'HTTP 401'}",
                hint="check the shared secret, and that this host's clock is within the "
                "exchange's replay window",
            )
        if status == 403:
            return AdapterError(
                f"the exchange denied participant {self.participant_id!r}: {detail or 'HTTP 403'}",
                hint=hint or "check the participant id and its rights at the exchange",
            )
        if status == 404 and kind == KIND_NOT_PUBLISHED:
            return NotFoundError(
                f"results not yet published ({message})",
                hint=hint or "ask again after the market's results time",
            )
        if status == 404:
            return NotFoundError(
                f"the exchange has no such resource ({message})",
                hint=hint or f"check the exchange URL {self.base_url!r}",
            )
        if status == 409 and kind == KIND_GATE_CLOSED:
            return GateClosedError(message, hint=hint or "the gate for this day has closed")
        if status == 409 or kind == KIND_KEY_REUSED:
            return ConflictError(
                message,
                hint=hint or "a changed bid set needs a new idempotency key",
            )
        if status in (400, 422):
            return InvalidInputError(
                f"the exchange rejected the request ({message})",
                hint=hint or "fix the bid set and submit it under a new idempotency key",
            )
        return AdapterError(
            f"the exchange answered HTTP {status} ({message})",
            hint=hint or "this is not retried; check the request and the exchange's status",
        )

    @staticmethod
    def _problem(response: httpx.Response) -> tuple[str, str, str | None]:
        """``(kind, detail, hint)`` from a problem-details answer; lenient with other bodies."""
        try:
            data: Any = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return "", response.text.strip()[:200], None
        if not isinstance(data, dict):
            return "", str(data)[:200], None
        kind = str(data.get("kind") or "")
        detail = str(data.get("detail") or data.get("title") or "")
        hint = data.get("hint")
        return kind, detail, str(hint) if hint else None

    @staticmethod
    def _json(response: httpx.Response, what: str) -> Any:
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise AdapterError(
                f"the exchange answered {what} with something that is not JSON",
                hint=f"answer began {response.text[:120]!r}",
            ) from exc
