"""HTTP-only members of the ``VppError`` tree: authentication, permission, payload and rate.

They extend :mod:`vpp.domain.errors` (the one tree the problem handler maps) with the statuses
that only make sense at the HTTP edge.
"""

from __future__ import annotations

from vpp.domain.errors import InvalidInputError, VppError


class AuthenticationError(VppError):
    """No credential, or one that is unknown, malformed, expired or revoked."""

    kind = "unauthenticated"
    status = 401


class PermissionDeniedError(VppError):
    """The credential is valid but its role or scopes do not allow this call."""

    kind = "forbidden"
    status = 403


class PayloadTooLargeError(VppError):
    """The request body or batch is larger than the API accepts."""

    kind = "payload-too-large"
    status = 413


class UnsupportedMediaTypeError(VppError):
    """The request body has a content type this endpoint does not read."""

    kind = "unsupported-media-type"
    status = 415


class RateLimitedError(VppError):
    """Too many requests for one credential; ``retry_after_s`` says when to try again."""

    kind = "rate-limited"
    status = 429

    def __init__(self, message: str, *, retry_after_s: int, hint: str | None = None) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(message, hint=hint)


class RateLimitStoreError(VppError):
    """The shared rate-limit store (Redis) cannot be reached when the API starts."""

    kind = "rate-limit-store-unavailable"
    status = 503


class RowsRejectedError(InvalidInputError):
    """A batch had invalid rows and nothing was written; ``rejected`` lists each one."""

    kind = "rows-rejected"

    def __init__(self, message: str, *, rejected: list[dict[str, object]], hint: str) -> None:
        self.problem_fields = {"rejected": rejected}
        super().__init__(message, hint=hint)
