"""LightGBM quantile regression: the workhorse day-ahead model for load, prices and renewables.

One booster per quantile level, trained on the recent history known at issue time with the
features of :mod:`forecasting.features`. A fitted model can be reused for later issue times
(a weekly refit in backtests) because it only ever saw data before its own issue time. Several
series can share one model: their rows are stacked with a ``series_id`` feature (a handful of
meters; for hundreds, :mod:`forecasting.global_gbm` scales each series instead).
Training is deterministic (fixed seed, ``deterministic=True``) and single-threaded by default
(see :class:`GbmParams`). The season (``day_of_year``) is a feature only when the training rows
span a year: over a shorter window it is a mere time index, and the trees carry its latest
leaf (a shutdown week, say) into every later day.

Quantile boosters fitted on their own training rows give bands that are too narrow out of
sample. With ``GbmParams.conformal_days`` set, the band is calibrated by conformalised quantile
regression, scaled by the band's width (Romano et al. 2019, normalised form): tail boosters
trained without the last ``conformal_days`` of the window are scored on those days, and the
final model's tails are moved out by the empirical quantile of ``(actual - tail) / width``.
Everything used lies before the issue time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
import pandas as pd

from forecasting.features import allowed_lags, build_features
from forecasting.history import KnownHistory
from forecasting.uncertainty import quantile_frame
from vpp.domain.errors import ForecastUnavailableError


@dataclass(frozen=True)
class GbmParams:
    """Hyper-parameters of the quantile boosters.

    Attributes
    ----------
    train_days : int
        Days of history before the issue time used for training [d].
    num_leaves, num_boost_round, learning_rate, min_data_in_leaf, lambda_l2, feature_fraction
        LightGBM settings: small, strongly regularised trees (noisy meter data overfits
        quickly; on the steel-plant backtest 7 leaves and 100 rounds beat 15 leaves and 400);
        a daily refit takes well under a second.
    seed : int
        Seed of every random choice in LightGBM.
    num_threads : int
        Threads per fit [count]. One by default: on a shared 2-core machine OpenMP with two
        threads was ten times slower than one under load.
    """

    train_days: int = 240
    num_leaves: int = 7
    num_boost_round: int = 100
    learning_rate: float = 0.05
    min_data_in_leaf: int = 20
    lambda_l2: float = 10.0
    feature_fraction: float = 0.7
    seed: int = 7
    num_threads: int = 1
    extra: dict[str, float | int | str] = field(default_factory=dict)
    """Further LightGBM parameters, passed through as they are."""
    min_seasonal_days: int = 365
    """Shortest span of the training rows [d] for :data:`SEASONAL_COLUMNS` to be features
    (0: always). On the steel-plant backtest, dropping ``day_of_year`` from a 240-day window
    cut the MAE by 2 %."""
    drop_features: tuple[str, ...] = ()
    """Columns of :func:`forecasting.features.build_features` the model must not use."""
    conformal_days: int = 0
    """Last days of the training window held out to calibrate the band [d] (0: no
    calibration). Costs one more fit of the tail boosters."""


@dataclass(frozen=True)
class FittedGbm:
    """Boosters for each quantile level plus what they need to build features again."""

    boosters: dict[float, lgb.Booster]
    columns: tuple[str, ...]
    lags: tuple[int, ...]
    holidays_country: str | None
    issue_time: pd.Timestamp
    series_ids: tuple[str, ...] = ()
    band_scales: dict[float, float] = field(default_factory=dict)
    """Conformal widening per tail level, in band widths (see the module docstring)."""
    band_floor: float = 0.0
    """Added to every band width before it scales the widening [target unit]."""


#: The smallest number of training rows worth fitting a booster on.
MIN_TRAIN_ROWS = 96
#: Calendar columns that describe the season, used only with a year of training rows.
SEASONAL_COLUMNS: tuple[str, ...] = ("day_of_year",)
#: Columns the renewable models leave out: they describe a site's working pattern.
OPERATING_COLUMNS: tuple[str, ...] = (
    "operating_kind_last",
    "operating_kind_median",
    "operating_kind_level",
)


#: Band widths [target unit] below this count as no band (night-time PV, say).
MIN_BAND_WIDTH = 1e-6


def conformal_scales(
    matrix: np.ndarray,
    target: np.ndarray,
    calibrate: np.ndarray,
    columns: Sequence[str],
    levels: Sequence[float],
    params: GbmParams,
    categorical: Sequence[str] = (),
) -> tuple[dict[float, float], float]:
    """Widening of each tail level, in band widths, from rows held out of a tail-only fit.

    Parameters
    ----------
    matrix, target : numpy.ndarray
        Design matrix and target of the whole training window.
    calibrate : numpy.ndarray
        Boolean mask of the held-out (latest) rows.
    columns, levels, params, categorical
        As for :func:`train_boosters`.

    Returns
    -------
    tuple
        ``({level: scale}, floor)``. ``floor`` [target unit] is the mean band width on the
        held-out rows; ``scale`` is, for every level other than 0.5, the level's empirical
        quantile of ``(actual - tail) / (upper - lower tail + floor)`` on the held-out rows,
        kept only where it widens the band (0 otherwise). The floor keeps rows with a near-zero
        band (a calm hour of a wind farm) from dominating the scores. ``({}, 0.0)`` when there
        are fewer than two tail levels or too few rows on either side of the split.
    """
    tails = sorted(float(q) for q in levels if q != 0.5)
    held, fit = int(calibrate.sum()), int((~calibrate).sum())
    if len(tails) < 2 or held < MIN_TRAIN_ROWS or fit < MIN_TRAIN_ROWS:
        return {}, 0.0
    boosters = train_boosters(
        matrix[~calibrate], target[~calibrate], columns, tails, params, categorical
    )
    held_rows = matrix[calibrate]
    values = np.sort(np.column_stack([boosters[q].predict(held_rows) for q in tails]), axis=1)
    width = np.clip(values[:, -1] - values[:, 0], 0.0, None)
    floor = float(width.mean())
    if not floor > MIN_BAND_WIDTH:
        return {}, 0.0
    actual = target[calibrate]
    scales = {}
    for j, level in enumerate(tails):
        score = float(np.quantile((actual - values[:, j]) / (width + floor), level))
        scales[level] = min(score, 0.0) if level < 0.5 else max(score, 0.0)
    return scales, floor


#: Settings of the PV and wind boosters: the season stays a feature (the sun and the wind
#: follow it) and a site's working pattern does not; the 240-day window they were tuned on.
#: Their bands are calibrated on the last 28 days: over the benchmark year that lifted the
#: daylight P10-P90 coverage of UNISOLAR site 25 (no weather) from 0.678 to 0.767 and of
#: La Haute Borne (ERA5) from 0.685 to 0.737, with pinball within 1 %.
RENEWABLE_GBM = GbmParams(
    train_days=240,
    min_seasonal_days=0,
    drop_features=OPERATING_COLUMNS,
    conformal_days=28,
)


def unused_columns(rows: Sequence[pd.DatetimeIndex], params: GbmParams) -> set[str]:
    """Feature columns left out of a fit on training rows ``rows`` (one index per series)."""
    drop = set(params.drop_features)
    starts = [r[0] for r in rows if len(r)]
    ends = [r[-1] for r in rows if len(r)]
    if not starts or max(ends) - min(starts) < pd.Timedelta(days=params.min_seasonal_days):
        drop.update(SEASONAL_COLUMNS)
    return drop


def training_rows(known: KnownHistory, train_days: int) -> pd.DatetimeIndex:
    """Interval starts of known, non-missing target values in the training window."""
    y = known.known_y
    window = y.loc[y.index >= known.issue_time - pd.Timedelta(days=train_days)]
    return pd.DatetimeIndex(window.dropna().index)


def _design(
    known: KnownHistory, index: pd.DatetimeIndex, lags: Sequence[int], country: str | None
) -> pd.DataFrame:
    return build_features(index, known, lags, country)


def train_boosters(
    matrix: np.ndarray,
    target: np.ndarray,
    columns: Sequence[str],
    levels: Sequence[float],
    params: GbmParams,
    categorical: Sequence[str] = (),
) -> dict[float, lgb.Booster]:
    """One quantile booster per level on a ready design matrix (rows x ``columns``)."""
    boosters = {}
    for level in levels:
        settings = {
            "objective": "quantile",
            "alpha": float(level),
            "num_leaves": params.num_leaves,
            "learning_rate": params.learning_rate,
            "min_data_in_leaf": params.min_data_in_leaf,
            "lambda_l2": params.lambda_l2,
            "feature_fraction": params.feature_fraction,
            "seed": params.seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": params.num_threads,
            "verbosity": -1,
            **params.extra,
        }
        dataset = lgb.Dataset(
            matrix,
            label=target,
            feature_name=list(columns),
            categorical_feature=list(categorical) if categorical else "auto",
            free_raw_data=True,
        )
        boosters[float(level)] = lgb.train(
            settings, dataset, num_boost_round=params.num_boost_round
        )
    return boosters


def fit_gbm(
    histories: Sequence[KnownHistory],
    levels: Sequence[float],
    holidays_country: str | None = None,
    params: GbmParams | None = None,
    series_ids: Sequence[str] = (),
) -> FittedGbm:
    """Fit one quantile booster per level on one or many series known at the same issue time.

    Parameters
    ----------
    histories : sequence of KnownHistory
        One history per series, all cut at the same issue time with the same lead.
    levels : sequence of float
        Quantile levels to fit.
    holidays_country : str or None
        ISO code of the holiday calendar for the calendar features.
    params : GbmParams, optional
        Hyper-parameters and left-out columns (see :func:`unused_columns`); defaults to
        :class:`GbmParams`.
    series_ids : sequence of str
        Names of the series for a global model (one per history); empty for a single series.

    Returns
    -------
    FittedGbm

    Raises
    ------
    ForecastUnavailableError
        Fewer than :data:`MIN_TRAIN_ROWS` known target values in the training window.
    """
    params = params or GbmParams()
    lags = allowed_lags(histories[0])
    frames, targets, indexes = [], [], []
    issue = histories[0].issue_time
    for position, known in enumerate(histories):
        rows = training_rows(known, params.train_days)
        design = _design(known, rows, lags, holidays_country)
        if series_ids:
            design["series_id"] = float(position)
        frames.append(design)
        indexes.append(rows)
        targets.append(known.y.reindex(rows).to_numpy(dtype=float))
    design = pd.concat(frames) if frames else pd.DataFrame()
    design = design.drop(columns=sorted(unused_columns(indexes, params) & set(design.columns)))
    target = np.concatenate(targets) if targets else np.array([])
    if len(target) < MIN_TRAIN_ROWS:
        raise ForecastUnavailableError(
            f"only {len(target)} known values of {histories[0].target} to train LightGBM on",
            hint=f"give at least {MIN_TRAIN_ROWS} intervals of history before the issue time",
        )
    columns = tuple(design.columns)
    categorical = ("series_id",) if series_ids else ()
    matrix = design.to_numpy(dtype=float)
    boosters = train_boosters(matrix, target, columns, levels, params, categorical)
    scales: dict[float, float] = {}
    floor = 0.0
    if params.conformal_days > 0:
        cut = issue - pd.Timedelta(days=params.conformal_days)
        calibrate = np.concatenate([np.asarray(rows >= cut, dtype=bool) for rows in indexes])
        scales, floor = conformal_scales(
            matrix, target, calibrate, columns, levels, params, categorical
        )
    return FittedGbm(
        boosters=boosters,
        columns=columns,
        lags=lags,
        holidays_country=holidays_country,
        issue_time=issue,
        series_ids=tuple(series_ids),
        band_scales=scales,
        band_floor=floor,
    )


def predict_gbm(
    fitted: FittedGbm, known: KnownHistory, series_id: str | None = None
) -> pd.DataFrame:
    """Quantile forecast of day D from a fitted model and history known at a later issue time.

    Parameters
    ----------
    fitted : FittedGbm
        Boosters trained at or before ``known.issue_time``.
    known : KnownHistory
        History cut at the forecast's issue time.
    series_id : str, optional
        Which series of a global model this history belongs to.

    Returns
    -------
    pandas.DataFrame
        Sorted (non-crossing) quantiles per interval of day D [target unit].
    """
    if fitted.issue_time > known.issue_time:
        raise ForecastUnavailableError(
            "the LightGBM model was trained after this forecast's issue time",
            hint="refit on history known at the issue time",
        )
    design = _design(known, known.horizon, fitted.lags, fitted.holidays_country)
    if fitted.series_ids:
        design["series_id"] = float(fitted.series_ids.index(series_id or fitted.series_ids[0]))
    matrix = design[list(fitted.columns)].to_numpy(dtype=float)
    levels = sorted(fitted.boosters)
    values = np.column_stack([np.asarray(fitted.boosters[q].predict(matrix)) for q in levels])
    if fitted.band_scales:
        tails = values[:, [j for j, level in enumerate(levels) if level != 0.5]]
        width = np.clip(tails.max(axis=1) - tails.min(axis=1), 0.0, None) + fitted.band_floor
        for j, level in enumerate(levels):
            values[:, j] += fitted.band_scales.get(level, 0.0) * width
    return quantile_frame(values, known.horizon, levels)


def forecast_gbm(
    known: KnownHistory,
    levels: Sequence[float],
    holidays_country: str | None = None,
    params: GbmParams | None = None,
) -> pd.DataFrame:
    """Fit on history known at issue time and forecast day D (see :func:`fit_gbm`)."""
    fitted = fit_gbm([known], levels, holidays_country, params)
    return predict_gbm(fitted, known)


class GbmCache:
    """Reuse a fitted model for later issue times, refitting every ``refit_days`` days.

    A backtest over many days need not retrain daily: a model trained at an earlier issue time
    saw only data older than every later issue time, so reusing it cannot leak the future.
    """

    def __init__(self, refit_days: int = 7, params: GbmParams | None = None) -> None:
        self.refit_days = refit_days
        self.params = params or GbmParams()
        self.fitted: FittedGbm | None = None

    def forecast(
        self, known: KnownHistory, levels: Sequence[float], holidays_country: str | None
    ) -> pd.DataFrame:
        """Quantiles of day D from the cached model, refitted when stale or incompatible."""
        fitted = self.fitted
        stale = (
            fitted is None
            or fitted.issue_time > known.issue_time
            or known.issue_time - fitted.issue_time >= pd.Timedelta(days=self.refit_days)
            or fitted.lags != allowed_lags(known)
            or sorted(fitted.boosters) != sorted(float(q) for q in levels)
            or fitted.holidays_country != holidays_country
        )
        if stale:
            fitted = fit_gbm([known], levels, holidays_country, self.params)
            self.fitted = fitted
        assert fitted is not None
        return predict_gbm(fitted, known)
