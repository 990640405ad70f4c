"""Turning point forecasts and past errors into non-crossing quantile bands.

Several models (seasonal naive, statistical, physical PV) give a point forecast only. Their
bands come from the same model's empirical day-ahead errors on recent days, so a model that
was bad lately gets a wide band. Every quantile frame leaves this module sorted per interval.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from forecasting.history import KnownHistory, PointForecaster
from vpp.domain.errors import InvalidInputError


def check_levels(quantiles: Sequence[float]) -> tuple[float, ...]:
    """Quantile levels, ascending and unique, with 0.5 added; raise on a level outside (0, 1)."""
    levels = sorted({float(q) for q in quantiles} | {0.5})
    if not all(0.0 < q < 1.0 for q in levels):
        raise InvalidInputError(
            f"quantile levels {list(quantiles)} must lie strictly between 0 and 1",
            hint="use e.g. (0.1, 0.5, 0.9)",
        )
    return tuple(levels)


def sort_quantiles(values: np.ndarray) -> np.ndarray:
    """Rearrange an (intervals, levels) array so quantiles never cross (Chernozhukov sorting)."""
    return np.sort(values, axis=1)


def quantile_frame(
    values: np.ndarray, index: pd.DatetimeIndex, levels: Sequence[float]
) -> pd.DataFrame:
    """A sorted quantile frame: rows are ``index``, columns the float ``levels``."""
    return pd.DataFrame(
        sort_quantiles(np.asarray(values, dtype=float)),
        index=index,
        columns=pd.Index([float(q) for q in levels]),
    )


def residual_offsets(residuals: np.ndarray, levels: Sequence[float]) -> np.ndarray:
    """Offsets [target unit] to add to a median for each level, from empirical residuals.

    Parameters
    ----------
    residuals : numpy.ndarray
        Past errors ``actual - forecast`` of the same model and lead.
    levels : sequence of float
        Quantile levels.

    Returns
    -------
    numpy.ndarray
        One offset per level: 0 at the median, never positive below it, never negative above
        it, so the point forecast stays the P50. Zero everywhere when there are no residuals.
    """
    clean = residuals[np.isfinite(residuals)]
    if clean.size == 0:
        return np.zeros(len(levels))
    raw = np.quantile(clean, list(levels))
    offsets = np.array(
        [
            min(r, 0.0) if q < 0.5 else max(r, 0.0) if q > 0.5 else 0.0
            for q, r in zip(levels, raw, strict=True)
        ]
    )
    return offsets


def band_from_residuals(
    point: np.ndarray,
    residuals: np.ndarray,
    index: pd.DatetimeIndex,
    levels: Sequence[float],
) -> pd.DataFrame:
    """Quantiles as ``point`` plus empirical residual offsets (see :func:`residual_offsets`)."""
    offsets = residual_offsets(residuals, levels)
    return quantile_frame(point[:, None] + offsets[None, :], index, levels)


def backcast_residuals(
    known: KnownHistory, rule: PointForecaster, days: int, reach_days: int
) -> np.ndarray:
    """Errors ``actual - forecast`` [target unit] of ``rule`` on up to ``days`` recent days.

    Each past day is forecast from history rewound to its own issue time, at the same lead as
    the real forecast, so the errors are honest day-ahead errors. ``reach_days`` [d] is how far
    back the rule reads, used to trim the history for speed.
    """
    errors: list[np.ndarray] = []
    known = known.recent(days + reach_days + 2)
    for day in known.past_days(days):
        past = known.rewind(day)
        actual = known.y.reindex(past.horizon).to_numpy(dtype=float)
        errors.append(actual - rule(past))
    return np.concatenate(errors) if errors else np.array([])
