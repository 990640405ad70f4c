"""LEAR: the LASSO-estimated autoregressive day-ahead price model and its window ensemble.

Our own implementation of the LEAR model described by Lago, Marcjasz, De Schutter and Weron
(2021), "Forecasting day-ahead electricity prices: a review of state-of-the-art algorithms,
best practices and an open-access benchmark", Applied Energy 293.

For a target day D and each hour h = 0..23 one linear model is estimated:

    price(D, h) ~ prices of all 24 hours of D-1, D-2, D-3, D-7
                 + both exogenous day-ahead forecasts for all 24 hours of D, D-1, D-7
                 + 7 day-of-week dummies of D

(96 + 144 + 7 = 247 inputs with two exogenous columns). Before estimation every series is
put through a variance-stabilising transform fitted on the calibration window: subtract the
median, divide by the MAD scaled to the standard deviation of a normal distribution
(MAD / 0.6745), then apply asinh; forecasts are mapped back with the inverse.
The L1 penalty of each hour is chosen by the AIC along the LARS-LASSO path (the criterion
of :class:`sklearn.linear_model.LassoLarsIC`, evaluated on scikit-learn's ``lars_path_gram``
so that the 24 hours share one Gram matrix and the path can stop once the AIC minimum is
certain), then the model is refit with :class:`sklearn.linear_model.Lasso` at that penalty.

The model is recalibrated for every day on the ``W`` days strictly before D (a calibration
window of ``W`` days: the ``W - 7`` most recent days are samples, the first 7 only feed their
lags). Prices are used up to the end of D-1 and the exogenous columns up to the end of D
(they are day-ahead forecasts, published before D). LEAR-Ens is the mean of the forecasts of
the four windows 56, 84, 1092 and 1456 days.

AIC note: the noise variance in the AIC is fixed at the variance of the (transformed) target
over the window. This is the criterion of the scikit-learn releases the paper was run with;
it also stays defined for the short windows, which have fewer samples than inputs.

The data must be hourly with 24 values per day: a UTC or naive index, or local time with DST
removed read as UTC (as in the epftoolbox datasets). Pure numpy/pandas/scikit-learn.

Speed: the matrices are small (about 250 inputs), so the fits run with one BLAS thread
(:data:`BLAS_THREADS`). A multi-threaded BLAS was 1.7x slower on one day of NP with the
other core busy, and far slower still with several processes running fits side by side.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso, lars_path_gram
from threadpoolctl import threadpool_limits

from vpp.domain.errors import InvalidInputError

#: Calibration windows of LEAR-Ens [d].
LEAR_WINDOWS: tuple[int, ...] = (56, 84, 1092, 1456)
#: Day lags of the price inputs [d].
PRICE_LAGS: tuple[int, ...] = (1, 2, 3, 7)
#: Day lags of the exogenous inputs [d] (0 = the target day itself).
EXOG_LAGS: tuple[int, ...] = (0, 1, 7)
#: Hours per day of the model.
HOURS = 24
#: MAD of a standard normal distribution (the 0.75 quantile), to scale the MAD to a sigma.
NORMAL_MAD = 0.6744897501960817
#: Largest number of LARS steps per fit.
MAX_LARS_ITER = 2500
#: LARS steps taken first; the path is continued only if a later step could win the AIC.
FIRST_LARS_ITER = 160
#: BLAS threads while fitting: the matrices are too small to gain from more.
BLAS_THREADS = 1
#: Source code of the day-of-week dummy columns in :attr:`LearDesign.source`.
DUMMY = -1

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class LearDesign:
    """The raw LEAR inputs of every day of a series, built once and sliced per window.

    Attributes
    ----------
    days : pandas.DatetimeIndex
        Start of each day of the grid (length ``n_days``).
    hours : pandas.DatetimeIndex
        Every hour of the grid (length ``24 * n_days``).
    series : numpy.ndarray
        ``(1 + n_exog, n_days, 24)``: price [price unit, e.g. EUR/MWh], then each exogenous
        column [its own unit]; NaN where missing.
    features : numpy.ndarray
        ``(n_days, n_features)`` untransformed inputs of each day as target day; NaN where a
        lag falls before the grid or is missing.
    source : numpy.ndarray
        ``(n_features,)`` int: 0 for a price input, ``k`` for exogenous column ``k`` (1-based),
        :data:`DUMMY` for a day-of-week dummy.
    """

    days: pd.DatetimeIndex
    hours: pd.DatetimeIndex
    series: FloatArray
    features: FloatArray
    source: NDArray[np.int64]

    @property
    def target(self) -> FloatArray:
        """``(n_days, 24)`` prices [price unit] of each day."""
        prices: FloatArray = self.series[0]
        return prices

    def day_position(self, day: date) -> int:
        """Position of ``day`` in :attr:`days`."""
        stamp = pd.Timestamp(day).tz_localize(self.days.tz) if self.days.tz else pd.Timestamp(day)
        position = self.days.get_indexer([stamp])[0]
        if position < 0:
            raise InvalidInputError(
                f"day {day} is not covered by the data ({self.days[0].date()} to "
                f"{self.days[-1].date()})",
                hint="give exogenous forecasts for every hour of the target day",
            )
        return int(position)


def _hour_grid(index: pd.DatetimeIndex, through: date | None) -> pd.DatetimeIndex:
    first = index[0].floor("D")
    last = index[-1].floor("D")
    if through is not None:
        end = pd.Timestamp(through).tz_localize(index.tz) if index.tz else pd.Timestamp(through)
        last = max(last, end)
    grid = pd.date_range(first, last + pd.Timedelta(days=1), freq="h", inclusive="left").as_unit(
        index.unit
    )
    if len(grid) % HOURS:
        raise InvalidInputError(
            "LEAR needs 24 hours per day; the index has days of another length (DST?)",
            hint="use UTC, or local time with DST removed read as UTC",
        )
    return grid


def build_lear_design(
    frame: pd.DataFrame,
    price: str = "price",
    exog: Sequence[str] = ("exog_1", "exog_2"),
    *,
    through: date | None = None,
) -> LearDesign:
    """Build the untransformed LEAR inputs of every day of ``frame``, vectorised.

    Parameters
    ----------
    frame : pandas.DataFrame
        Hourly rows on a DatetimeIndex (UTC, naive, or local without DST): the ``price``
        column [price unit, e.g. EUR/MWh] and the ``exog`` columns (day-ahead forecasts, e.g.
        load [MW] and wind [MW]). Missing hours are treated as NaN.
    price : str
        Price column.
    exog : sequence of str
        Exogenous day-ahead forecast columns.
    through : date, optional
        Extend the day grid to this day (its rows are NaN unless present in ``frame``).

    Returns
    -------
    LearDesign
        The day grid, the series as ``(day, hour)`` arrays and the raw input matrix.
    """
    if not isinstance(frame.index, pd.DatetimeIndex) or len(frame.index) == 0:
        raise InvalidInputError("LEAR needs a non-empty frame on a DatetimeIndex")
    if not frame.index.is_monotonic_increasing or frame.index.has_duplicates:
        raise InvalidInputError("the index must be increasing without duplicates")
    missing = [c for c in (price, *exog) if c not in frame.columns]
    if missing:
        raise InvalidInputError(f"columns {missing} are not in the frame")
    grid = _hour_grid(frame.index, through)
    if not frame.index.isin(grid).all():
        raise InvalidInputError("LEAR needs hourly rows on the hour", hint="resample to 1 h")
    n_days = len(grid) // HOURS
    series = np.stack(
        [
            frame[column].reindex(grid).to_numpy(dtype=float).reshape(n_days, HOURS)
            for column in (price, *exog)
        ]
    )
    blocks: list[FloatArray] = []
    sources: list[int] = []

    def lagged(values: FloatArray, lag: int) -> FloatArray:
        out = np.full_like(values, np.nan)
        out[lag:] = values[: n_days - lag] if lag else values
        return out

    for lag in PRICE_LAGS:
        blocks.append(lagged(series[0], lag))
        sources += [0] * HOURS
    for k in range(1, len(exog) + 1):
        for lag in EXOG_LAGS:
            blocks.append(lagged(series[k], lag))
            sources += [k] * HOURS
    days = grid[::HOURS]
    blocks.append(np.eye(7)[days.day_of_week.to_numpy()])
    sources += [DUMMY] * 7
    return LearDesign(
        days=days,
        hours=grid,
        series=series,
        features=np.hstack(blocks),
        source=np.asarray(sources, dtype=np.int64),
    )


def _vst_params(values: FloatArray) -> tuple[float, float]:
    """Median and MAD-based scale of ``values`` (NaN ignored); scale falls back to std, 1."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    median = float(np.median(finite))
    scale = float(np.median(np.abs(finite - median))) / NORMAL_MAD
    if not scale > 0:
        scale = float(np.std(finite))
    return median, scale if scale > 0 else 1.0


def aic_lasso_path(
    xy: FloatArray, gram: FloatArray, yy: float, n_samples: int, max_iter: int
) -> tuple[FloatArray, FloatArray, FloatArray, int]:
    """Follow the LARS-LASSO path for ``max_iter`` steps and score every step by its AIC.

    The AIC is the one of :class:`sklearn.linear_model.LassoLarsIC` with the noise variance
    fixed at ``yy / n_samples`` (the variance of the centred target) and the number of
    non-zero coefficients as degrees of freedom (the constant ``n log(2 pi sigma^2)`` is
    left out; it does not move the minimum).

    Parameters
    ----------
    xy : numpy.ndarray
        ``X'y`` of the centred inputs and target, ``(n_features,)``.
    gram : numpy.ndarray
        ``X'X`` of the centred inputs, ``(n_features, n_features)``.
    yy : float
        ``y'y`` of the centred target.
    n_samples : int
        Number of samples.
    max_iter : int
        Largest number of LARS steps.

    Returns
    -------
    tuple
        ``(alphas, coefs, criterion, n_iter)``: penalties along the path, coefficients
        ``(n_features, n_steps)``, AIC of each step, and the number of LARS steps taken.
    """
    with warnings.catch_warnings():
        # A window with fewer samples than inputs reaches a perfect fit: LARS stops there.
        warnings.simplefilter("ignore", ConvergenceWarning)
        alphas, _, coefs, n_iter = lars_path_gram(
            xy,
            gram,
            n_samples=n_samples,
            max_iter=max_iter,
            method="lasso",
            copy_Gram=True,
            return_n_iter=True,
        )
    rss = yy - 2.0 * (coefs.T @ xy) + np.einsum("ik,ik->k", coefs, gram @ coefs)
    rss = np.maximum(rss, 0.0)
    dof = (np.abs(coefs) > np.finfo(float).eps).sum(axis=0)
    criterion = rss / (yy / n_samples) + 2.0 * dof
    return alphas, coefs, criterion, int(n_iter)


def _fit_hour(xc: FloatArray, yc: FloatArray, gram: FloatArray, rss_floor: float) -> FloatArray:
    """LASSO coefficients of one hour on centred inputs: AIC-chosen penalty, Lasso refit.

    The penalty is chosen as in the paper's code (``LassoLarsIC`` with the then default
    ``normalize=True``): the AIC-scored LARS path runs on columns scaled to unit norm. The
    LASSO is then refit on the unscaled columns at that penalty, which keeps far more inputs
    than the normalised solution would; choosing the penalty on the unscaled columns instead
    over-regularises (rMAE 0.447 against 0.396 on NP's first 182 test days).

    The LARS path is first followed for :data:`FIRST_LARS_ITER` steps. That is accepted when
    no later step can beat the best AIC found: even with the least residual sum of squares
    any model can reach (``rss_floor``, the OLS fit) it would need at least as many non-zero
    coefficients as at the last step taken (variables may leave the LASSO path, so this is
    a near-exact rule; the AIC minimum lies far before the cut in practice). Otherwise the
    whole path is followed.
    """
    n_samples = xc.shape[0]
    yy = float(yc @ yc)
    if not yy > 0:
        return np.zeros(xc.shape[1])
    norms = np.sqrt(np.diag(gram))
    xy = (xc.T @ yc) / norms
    gram_n = gram / np.outer(norms, norms)
    alphas, coefs, criterion, n_iter = aic_lasso_path(xy, gram_n, yy, n_samples, FIRST_LARS_ITER)
    best = int(np.argmin(criterion))
    if n_iter >= FIRST_LARS_ITER:
        last_dof = int((np.abs(coefs[:, -1]) > np.finfo(float).eps).sum())
        if rss_floor / (yy / n_samples) + 2.0 * last_dof < criterion[best]:
            alphas, coefs, criterion, _ = aic_lasso_path(xy, gram_n, yy, n_samples, MAX_LARS_ITER)
            best = int(np.argmin(criterion))
    coef: FloatArray = np.asarray(coefs[:, best] / norms, dtype=float)
    alpha = float(alphas[best])
    if alpha <= 1e-12:  # end of the path: the LARS solution is already the (OLS) fit
        return coef
    lasso = Lasso(
        alpha=alpha,
        fit_intercept=False,
        precompute=gram,
        max_iter=MAX_LARS_ITER,
        warm_start=True,
    )
    lasso.coef_ = coef.copy()  # the normalised solution, rescaled: a close start
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        lasso.fit(xc, yc)
    return np.asarray(lasso.coef_, dtype=float)


def lear_window_forecast(design: LearDesign, position: int, window: int) -> FloatArray:
    """The 24 hourly prices of day ``design.days[position]`` from one calibration window.

    Parameters
    ----------
    design : LearDesign
        Inputs of the whole series (:func:`build_lear_design`).
    position : int
        Position of the target day D in ``design.days``.
    window : int
        Calibration window [d]: days ``D-window .. D-1`` (samples are the last
        ``window - 7``).

    Returns
    -------
    numpy.ndarray
        ``(24,)`` forecast prices [price unit].

    Raises
    ------
    InvalidInputError
        If the window reaches before the data, the target day lacks inputs, or no complete
        sample day is left.
    """
    if window <= max(PRICE_LAGS) or position - window < 0:
        raise InvalidInputError(
            f"LEAR window of {window} d needs {window} days of history before "
            f"{design.days[position].date()}, there are {position}",
            hint=f"give at least {window} days of history",
        )
    sample = slice(position - window + max(PRICE_LAGS), position)
    span = slice(position - window, position)
    params = [_vst_params(design.series[k, span]) for k in range(design.series.shape[0])]
    x_all = np.vstack([design.features[sample], design.features[position : position + 1]])
    y_raw = design.target[sample]
    for k, (median, scale) in enumerate(params):
        columns = design.source == k
        x_all[:, columns] = np.arcsinh((x_all[:, columns] - median) / scale)
    price_median, price_scale = params[0]
    y = np.arcsinh((y_raw - price_median) / price_scale)
    x, x_new = x_all[:-1], x_all[-1]
    if not np.isfinite(x_new).all():
        raise InvalidInputError(
            f"LEAR inputs of {design.days[position].date()} are missing",
            hint="prices of D-1, D-2, D-3, D-7 and exogenous forecasts of D, D-1, D-7 are needed",
        )
    complete = np.isfinite(x).all(axis=1) & np.isfinite(y).all(axis=1)
    if complete.sum() < 2:
        raise InvalidInputError(
            f"LEAR window of {window} d before {design.days[position].date()} has no complete days"
        )
    x, y = x[complete], y[complete]
    varying = x.std(axis=0) > 0
    x_mean, y_mean = x.mean(axis=0), y.mean(axis=0)
    xc = np.ascontiguousarray((x - x_mean)[:, varying])
    yc = y - y_mean
    gram = xc.T @ xc
    rss_floor = np.zeros(HOURS)
    if xc.shape[0] > xc.shape[1]:
        ols, *_ = np.linalg.lstsq(xc, yc, rcond=None)
        rss_floor = ((yc - xc @ ols) ** 2).sum(axis=0)
    coefs = np.column_stack(
        [_fit_hour(xc, yc[:, h], gram, float(rss_floor[h])) for h in range(HOURS)]
    )
    z = y_mean + (x_new - x_mean)[varying] @ coefs
    return np.asarray(np.sinh(z) * price_scale + price_median, dtype=float)


def _usable_windows(position: int, windows: Sequence[int], day: pd.Timestamp) -> list[int]:
    if not windows:
        raise InvalidInputError("give at least one LEAR calibration window")
    usable = [w for w in windows if w <= position]
    if not usable:
        raise InvalidInputError(
            f"history before {day.date()} is {position} days, shorter than the shortest "
            f"LEAR calibration window ({min(windows)} days)",
            hint=f"give at least {min(windows)} days of hourly prices before the target day",
        )
    return usable


def forecast_lear(
    history: pd.DataFrame,
    day: date,
    *,
    price: str = "price",
    exog: Sequence[str] = ("exog_1", "exog_2"),
    windows: Sequence[int] = LEAR_WINDOWS,
) -> pd.Series:
    """LEAR-Ens forecast of the 24 hourly prices of day ``day``, issued at the start of D.

    Prices at or after the start of D and exogenous values after the end of D are dropped
    before anything is computed, so the forecast only uses what is known at issue time.

    Parameters
    ----------
    history : pandas.DataFrame
        Hourly rows (UTC, naive, or local without DST): ``price`` [price unit, e.g. EUR/MWh]
        up to the end of D-1, and the ``exog`` day-ahead forecasts [their units] up to the
        end of D.
    day : date
        Target day D.
    price : str
        Price column.
    exog : sequence of str
        Exogenous day-ahead forecast columns.
    windows : sequence of int
        Calibration windows [d]; the forecast is the mean over those that fit in the history
        (windows longer than the history are left out).

    Returns
    -------
    pandas.Series
        24 forecast prices [price unit], indexed by the hour timestamps of D, named ``lear``.

    Raises
    ------
    InvalidInputError
        If the history is shorter than the shortest window or inputs of D are missing.
    """
    if not isinstance(history.index, pd.DatetimeIndex) or len(history.index) == 0:
        raise InvalidInputError("LEAR needs a non-empty frame on a DatetimeIndex")
    tz = history.index.tz
    start = pd.Timestamp(day).tz_localize(tz) if tz else pd.Timestamp(day)
    end = start + pd.Timedelta(days=1)
    known = history.loc[history.index < end, [price, *exog]].copy()
    known.loc[known.index >= start, price] = np.nan
    if known.empty:
        raise InvalidInputError(f"no history before {day}")
    design = build_lear_design(known, price, exog, through=day)
    position = design.day_position(day)
    usable = _usable_windows(position, windows, start)
    with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
        values = np.mean([lear_window_forecast(design, position, w) for w in usable], axis=0)
    hours = design.hours[position * HOURS : (position + 1) * HOURS]
    return pd.Series(values, index=hours, name="lear")


def backtest_lear(
    frame: pd.DataFrame,
    first: date,
    last: date,
    *,
    price: str = "price",
    exog: Sequence[str] = ("exog_1", "exog_2"),
    windows: Sequence[int] = LEAR_WINDOWS,
) -> pd.DataFrame:
    """Daily-recalibrated LEAR forecasts of every day from ``first`` to ``last``.

    The inputs are built once for the whole frame; each day D is then calibrated only on
    rows of days before D (prices up to D-1, exogenous forecasts up to D), exactly as
    :func:`forecast_lear` would be at the start of D.

    Parameters
    ----------
    frame : pandas.DataFrame
        Hourly ``price`` [price unit] and ``exog`` [their units] rows covering the history
        and the test days.
    first, last : date
        First and last target day (inclusive).
    price : str
        Price column.
    exog : sequence of str
        Exogenous day-ahead forecast columns.
    windows : sequence of int
        Calibration windows [d].

    Returns
    -------
    pandas.DataFrame
        Indexed by the hour timestamps of the test days: one column ``lear_<W>`` per window
        [price unit] (NaN for a day whose history is shorter than ``W``) and ``lear``, their
        mean over the windows that fit.
    """
    if last < first:
        raise InvalidInputError(f"end day {last} is before start day {first}")
    design = build_lear_design(frame, price, exog, through=last)
    begin, stop = design.day_position(first), design.day_position(last)
    out = np.full((stop - begin + 1, HOURS, len(windows)), np.nan)
    with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
        for i, position in enumerate(range(begin, stop + 1)):
            usable = _usable_windows(position, windows, design.days[position])
            for j, window in enumerate(windows):
                if window in usable:
                    out[i, :, j] = lear_window_forecast(design, position, window)
    flat = out.reshape(-1, len(windows))
    result = pd.DataFrame(
        flat,
        index=design.hours[begin * HOURS : (stop + 1) * HOURS],
        columns=[f"lear_{w}" for w in windows],
    )
    result["lear"] = np.nanmean(flat, axis=1)
    return result
