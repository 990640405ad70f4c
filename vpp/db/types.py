"""Column types that keep the domain's guarantees on every database.

``UtcDateTime`` refuses naive timestamps and always returns tz-aware UTC, also on SQLite, which
stores datetimes as naive text. ``ExactNumeric`` keeps money exact: PostgreSQL has ``NUMERIC``,
but SQLite would coerce a ``NUMERIC`` column to a binary float (15 significant digits), so there
the canonical decimal text is stored in a text column instead.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

from vpp.domain.errors import InvalidInputError


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """A timestamp stored in UTC and returned tz-aware in UTC."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise InvalidInputError(f"expected a datetime, got {type(value).__name__} {value!r}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidInputError(
                f"naive timestamp {value.isoformat()}", hint="give it a timezone, e.g. UTC"
            )
        if hasattr(value, "to_pydatetime"):  # a pandas Timestamp: drop nanoseconds explicitly
            value = value.to_pydatetime(warn=False)
        utc: datetime = value.astimezone(UTC)
        # SQLite's DATETIME text has no offset: store the UTC wall time.
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class ExactNumeric(sa.types.TypeDecorator[Decimal]):
    """A fixed-point decimal: ``NUMERIC(precision, scale)``, decimal text on SQLite.

    Values must be :class:`~decimal.Decimal` (or ``int``/``str``) that fit the scale exactly;
    a value with more decimals than the column keeps is refused rather than silently rounded.
    """

    impl = sa.Numeric
    cache_ok = True

    def __init__(self, precision: int = 18, scale: int = 2) -> None:
        super().__init__(precision=precision, scale=scale, asdecimal=True)
        self.precision = precision
        self.scale = scale
        self._quantum = Decimal(1).scaleb(-scale)

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String(self.precision + 2))
        return dialect.type_descriptor(sa.Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Decimal | str | None:
        if value is None:
            return None
        if isinstance(value, float | bool):
            raise InvalidInputError(
                f"money/decimal value {value!r} is a {type(value).__name__}",
                hint="pass a decimal.Decimal",
            )
        try:
            exact = Decimal(value)
            fitted = exact.quantize(self._quantum)
        except (InvalidOperation, TypeError, ValueError):
            raise InvalidInputError(f"{value!r} is not a decimal number") from None
        if fitted != exact:
            raise InvalidInputError(
                f"{value} has more than {self.scale} decimals",
                hint="round it explicitly before storing",
            )
        if fitted.adjusted() >= self.precision - self.scale:
            raise InvalidInputError(f"{value} does not fit NUMERIC({self.precision},{self.scale})")
        return str(fitted) if dialect.name == "sqlite" else fitted

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(value)).quantize(self._quantum)


def to_decimal(value: float, scale: int) -> Decimal:
    """A float domain value (a price, a contract rate) as a decimal rounded to ``scale`` places.

    Floats carry binary noise (``0.1 + 0.2``); rates are stored as fixed-point with more places
    than any market tick, so the rounding is explicit and far below anything that is traded.
    """
    return Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-scale))
