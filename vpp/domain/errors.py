"""One error tree for the whole service.

Every error says what was wrong and what to do about it. The API maps the tree to RFC 9457
problem details in one handler; the CLI prints the message and exits non-zero.
"""

from __future__ import annotations

from typing import Any


class VppError(Exception):
    """Base of every error raised on purpose by parkvpp."""

    #: Short machine-readable kind, used as the problem type slug by the API.
    kind = "vpp-error"
    #: HTTP status the API answers with.
    status = 500

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message} ({hint})")

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle with every field (hint, reasons, ...), e.g. out of a worker process."""
        return (_rebuild, (type(self), self.args, self.__dict__.copy()))


def _rebuild(cls: type[VppError], args: tuple[Any, ...], state: dict[str, Any]) -> VppError:
    error = Exception.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class InvalidInputError(VppError):
    """Input that cannot be accepted: a malformed file, an impossible spec, a bad value."""

    kind = "invalid-input"
    status = 422


class ProfileError(InvalidInputError):
    """A market profile file is missing, malformed or self-contradictory."""

    kind = "invalid-market-profile"


class AssetSpecError(InvalidInputError):
    """An asset specification is physically impossible or incomplete."""

    kind = "invalid-asset-spec"


class TimeSeriesError(InvalidInputError):
    """A time series has naive timestamps, duplicates, irregular steps or non-numeric cells."""

    kind = "invalid-time-series"


class NotFoundError(VppError):
    """A named object (market, asset, enterprise, statement ...) does not exist."""

    kind = "not-found"
    status = 404


class ConflictError(VppError):
    """The request clashes with the current state (duplicate id, immutable statement ...)."""

    kind = "conflict"
    status = 409


class GateClosedError(ConflictError):
    """A bid or offer arrives after the market's gate closure."""

    kind = "gate-closed"


class InfeasibleProblemError(VppError):
    """An optimisation has no solution; ``reasons`` name the asset, constraint and interval."""

    kind = "infeasible-problem"
    status = 422

    def __init__(
        self, message: str, *, reasons: list[str] | None = None, hint: str | None = None
    ) -> None:
        self.reasons = list(reasons or [])
        super().__init__(message, hint=hint)


class ForecastUnavailableError(VppError):
    """No forecast can be made (no history, no declared schedule, no similar tenant)."""

    kind = "forecast-unavailable"
    status = 422


class AdapterError(VppError):
    """An external system (exchange, device, broker) failed or answered wrongly."""

    kind = "adapter-error"
    status = 502


class DeviceTimeoutError(AdapterError):
    """A device did not answer within its bounded retries."""

    kind = "device-timeout"
    status = 504
