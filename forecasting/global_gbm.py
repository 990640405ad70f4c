"""One global LightGBM quantile model for many meters: fit once, forecast every series' day D.

Fitting one booster set per meter costs a second or more each; a park with a thousand tenants
would spend its morning training. A *global* model stacks the rows of all series (long
format) and learns one mapping from scale-free features (:mod:`forecasting.panel_features`)
to the scale-free target ``y / scale``; each forecast is multiplied back by its series' scale.
Small meters borrow the shape learned from the large ones. Training rows are sampled
per series, with a generator seeded by the seed and the series' position, so the sample of a
series does not depend on which other series are fitted with it, and the total stays under
:attr:`GlobalParams.max_train_rows` however many series there are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
import pandas as pd

from forecasting.gbm import MIN_TRAIN_ROWS, GbmParams, train_boosters
from forecasting.panel import KnownPanel
from forecasting.panel_features import (
    GridContext,
    build_grid_context,
    feature_columns,
    panel_design,
)
from forecasting.uncertainty import sort_quantiles
from vpp.domain.errors import ForecastUnavailableError


@dataclass(frozen=True)
class GlobalParams:
    """Settings of the global model.

    Attributes
    ----------
    gbm : GbmParams
        Booster settings; ``gbm.train_days`` is the training window [d]. 200 rounds rather
        than the single-meter 100: the stacked rows hold many more shapes to fit (not tuned).
    max_train_rows : int
        Cap on stacked training rows [count]; each series gets an equal share, sampled.
    """

    gbm: GbmParams = field(default_factory=lambda: GbmParams(num_boost_round=200))
    max_train_rows: int = 1_000_000


@dataclass(frozen=True)
class FittedGlobalGbm:
    """Boosters of the scale-free target per quantile level, and how they were trained."""

    boosters: dict[float, lgb.Booster]
    columns: tuple[str, ...]
    lags: tuple[int, ...]
    holidays_country: str | None
    issue_time: pd.Timestamp
    rows: int


def sample_rows(
    panel: KnownPanel, params: GlobalParams, total_series: int, offset: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Training rows ``(series, positions)``: known values in the window, sampled per series.

    Parameters
    ----------
    panel : KnownPanel
        The series (or a chunk of them) to sample.
    params : GlobalParams
        Window and row cap.
    total_series : int
        Number of series the model is fitted on [count] (sets each series' share).
    offset : int
        Position of ``panel``'s first series among all of them (seeds its generator).
    """
    start = panel.issue_time - pd.Timedelta(days=params.gbm.train_days)
    window = np.flatnonzero((panel.index >= start) & (panel.index < panel.issue_time))
    share = max(1, params.max_train_rows // max(total_series, 1))
    series, positions = [], []
    for row in range(len(panel.values)):
        known = window[~np.isnan(panel.values[row, window])]
        if len(known) > share:
            rng = np.random.default_rng([params.gbm.seed, offset + row])
            known = np.sort(rng.choice(known, size=share, replace=False))
        series.append(np.full(len(known), row))
        positions.append(known)
    return np.concatenate(series), np.concatenate(positions)


def training_design(
    panel: KnownPanel,
    context: GridContext,
    params: GlobalParams,
    total_series: int,
    offset: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Design matrix and scale-free target of the sampled training rows with a usable scale."""
    series, positions = sample_rows(panel, params, total_series, offset)
    matrix, scale = panel_design(panel.values, context, series, positions)
    target = panel.values[series, positions] / scale
    keep = np.isfinite(target)
    return matrix[keep], target[keep]


def train_global(
    matrix: np.ndarray,
    target: np.ndarray,
    context: GridContext,
    panel: KnownPanel,
    levels: Sequence[float],
    holidays_country: str | None,
    params: GlobalParams,
) -> FittedGlobalGbm:
    """Boosters on a ready design (see :func:`training_design`); raise if it is too small."""
    if len(target) < MIN_TRAIN_ROWS:
        raise ForecastUnavailableError(
            f"only {len(target)} usable values of {panel.target} to train the global model on",
            hint=f"give at least {MIN_TRAIN_ROWS} intervals of history before the issue time",
        )
    columns = feature_columns(context)
    boosters = train_boosters(matrix, target, columns, levels, params.gbm)
    return FittedGlobalGbm(
        boosters=boosters,
        columns=columns,
        lags=context.lags,
        holidays_country=holidays_country,
        issue_time=panel.issue_time,
        rows=len(target),
    )


def fit_global_gbm(
    panel: KnownPanel,
    levels: Sequence[float],
    holidays_country: str | None = None,
    params: GlobalParams | None = None,
) -> FittedGlobalGbm:
    """Fit one quantile booster per level on all series of ``panel``, stacked.

    Parameters
    ----------
    panel : KnownPanel
        Series cut at the issue time.
    levels : sequence of float
        Quantile levels to fit.
    holidays_country : str or None
        ISO code of the holiday calendar.
    params : GlobalParams, optional

    Returns
    -------
    FittedGlobalGbm

    Raises
    ------
    ForecastUnavailableError
        Fewer than :data:`~forecasting.gbm.MIN_TRAIN_ROWS` usable training rows.
    """
    params = params or GlobalParams()
    context = build_grid_context(panel, holidays_country)
    matrix, target = training_design(panel, context, params, len(panel.series_ids))
    return train_global(matrix, target, context, panel, levels, holidays_country, params)


def predict_global_gbm(fitted: FittedGlobalGbm, panel: KnownPanel) -> np.ndarray:
    """Quantiles of day D for every series of ``panel`` [target unit].

    Returns
    -------
    numpy.ndarray
        Shape ``(series, intervals of D, levels)``, levels ascending and non-crossing; NaN
        for a series whose scale is unknown (no positive mean in the week before issue).

    Raises
    ------
    ForecastUnavailableError
        The model was trained after the panel's issue time, or on other lags.
    """
    if fitted.issue_time > panel.issue_time:
        raise ForecastUnavailableError(
            "the global model was trained after this forecast's issue time",
            hint="refit on history known at the issue time",
        )
    context = build_grid_context(panel, fitted.holidays_country)
    if context.lags != fitted.lags:
        raise ForecastUnavailableError(
            f"the global model uses lags {fitted.lags}, this issue time allows {context.lags}",
            hint="refit the model for this lead",
        )
    n_series, n_steps = len(panel.series_ids), len(panel.horizon)
    horizon = panel.index.get_indexer(panel.horizon)
    series = np.repeat(np.arange(n_series), n_steps)
    positions = np.tile(horizon, n_series)
    matrix, scale = panel_design(panel.values, context, series, positions)
    levels = sorted(fitted.boosters)
    scaled = np.column_stack([np.asarray(fitted.boosters[q].predict(matrix)) for q in levels])
    values = sort_quantiles(scaled * scale[:, None])
    return values.reshape(n_series, n_steps, len(levels))


def forecast_global_gbm(
    panel: KnownPanel,
    levels: Sequence[float],
    holidays_country: str | None = None,
    params: GlobalParams | None = None,
) -> dict[str, pd.DataFrame]:
    """Fit on ``panel`` and forecast day D of every series (see :func:`fit_global_gbm`).

    Returns
    -------
    dict of str to pandas.DataFrame
        Per series id, quantiles per interval of D [target unit]; NaN where the series' scale
        is unknown.
    """
    fitted = fit_global_gbm(panel, levels, holidays_country, params)
    return quantile_frames(predict_global_gbm(fitted, panel), panel, sorted(fitted.boosters))


def quantile_frames(
    values: np.ndarray, panel: KnownPanel, levels: Sequence[float]
) -> dict[str, pd.DataFrame]:
    """Split a ``(series, intervals, levels)`` array into one quantile frame per series."""
    columns = pd.Index([float(q) for q in levels])
    return {
        series_id: pd.DataFrame(values[row], index=panel.horizon, columns=columns)
        for row, series_id in enumerate(panel.series_ids)
    }
