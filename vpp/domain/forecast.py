"""A forecast as the rest of the service sees it: quantiles per interval plus when it was known.

Every forecast carries its issue time, so a consumer can check that it was made before gate
closure and a backtest can prove it never used later data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from vpp.domain.errors import InvalidInputError


@dataclass(frozen=True)
class Forecast:
    """Quantile forecast of one target over a horizon.

    Attributes
    ----------
    target : str
        Name of the forecast series, with its unit (``load_mw``, ``price_per_mwh`` ...).
    issue_time : pandas.Timestamp
        UTC instant the forecast was made; only data known by then was used.
    quantiles : pandas.DataFrame
        Index: UTC interval starts. Columns: quantile levels in (0, 1) as floats, ascending,
        including 0.5. Values in the target's unit.
    model : str
        Name of the model that produced it.
    flags : tuple of str
        Caveats a user must see, e.g. ``"cold_start:declared_schedule"``, ``"history_gaps:12"``.
    """

    target: str
    issue_time: pd.Timestamp
    quantiles: pd.DataFrame
    model: str
    flags: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.issue_time.tzinfo is None:
            raise InvalidInputError(f"forecast of {self.target} has a naive issue time")
        index = self.quantiles.index
        if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
            raise InvalidInputError(f"forecast of {self.target} needs a UTC DatetimeIndex")
        levels = [float(c) for c in self.quantiles.columns]
        if 0.5 not in levels or levels != sorted(levels) or not all(0 < q < 1 for q in levels):
            raise InvalidInputError(
                f"forecast of {self.target} has quantile columns {levels}",
                hint="use ascending levels in (0, 1) that include 0.5",
            )
        if len(index) and index[0] < self.issue_time:
            raise InvalidInputError(
                f"forecast of {self.target} starts at {index[0]} before its issue time "
                f"{self.issue_time}"
            )

    @property
    def median(self) -> pd.Series:
        """The P50 forecast."""
        return self.quantiles[0.5].rename(self.target)

    def quantile(self, level: float) -> pd.Series:
        """The forecast at quantile ``level``; it must be one of the stored levels."""
        if level not in self.quantiles.columns:
            raise InvalidInputError(
                f"forecast of {self.target} has no quantile {level}",
                hint=f"stored levels are {list(self.quantiles.columns)}",
            )
        return self.quantiles[level].rename(self.target)

    def values(self) -> np.ndarray:
        """Quantile values as an array of shape (intervals, levels)."""
        values: np.ndarray = self.quantiles.to_numpy(dtype=float)
        return values
