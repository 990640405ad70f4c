"""The day-ahead forecast entry point: pick a model, apply it to what was known, flag caveats.

:func:`forecast_day_ahead` is what the service, the demo and the bid optimiser call. It cuts
the history at the issue time (:mod:`forecasting.history`), chooses a model (``"auto"``: LightGBM,
or the PV models when a site is given; with under two weeks of history a declared schedule or
a mean profile, or PV smart persistence), runs it and returns a
:class:`vpp.domain.forecast.Forecast` whose flags say what a user must know: cold start,
gaps in the history, intervals filled by a fallback.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import numpy as np
import pandas as pd

from forecasting.coldstart import COLD_START_DAYS, declared_forecast, profile_forecast
from forecasting.gbm import GbmCache, forecast_gbm
from forecasting.history import KnownHistory, build_known_history
from forecasting.naive import NAIVE_MODELS, forecast_naive
from forecasting.pv import PV_MODELS, PvSystem, forecast_pv, forecast_pv_global
from forecasting.stats import STATS_MODELS, forecast_stats
from forecasting.uncertainty import check_levels, quantile_frame
from forecasting.wind import WIND_MODELS, forecast_wind
from vpp.domain.errors import ForecastUnavailableError, InvalidInputError
from vpp.domain.forecast import Forecast

MODELS: tuple[str, ...] = ("auto", *NAIVE_MODELS, "lgbm", *STATS_MODELS, *PV_MODELS, *WIND_MODELS)
#: Models that run on a few days of history (the naive rules and PV smart persistence).
SHORT_HISTORY_MODELS = (*NAIVE_MODELS, "pv_physics")
#: Model name of PV forecasts from one LightGBM shared by a park's plants.
PV_GLOBAL_MODEL = "pv_lgbm_global"
#: Days of history from which ``auto`` trusts a trained model [d].
AUTO_TRAINED_DAYS = COLD_START_DAYS


def choose_model(model: str, known: KnownHistory, pv_system: PvSystem | None) -> str:
    """The model to run: ``model`` itself, or what ``"auto"`` picks for this history.

    ``"auto"`` picks ``pv_lgbm`` for a PV site with four weeks of history (``pv_physics``
    before that) and ``lgbm`` otherwise; :func:`forecast_known` then swaps in a cold-start
    forecast when the history is shorter than two weeks.
    """
    if model not in MODELS:
        raise InvalidInputError(f"unknown forecast model {model!r}", hint=f"use one of {MODELS}")
    if model != "auto":
        return model
    if pv_system is not None:
        return "pv_lgbm" if known.known_days >= 2 * AUTO_TRAINED_DAYS else "pv_physics"
    return "lgbm"


def run_model(
    name: str,
    known: KnownHistory,
    levels: Sequence[float],
    holidays_country: str | None,
    pv_system: PvSystem | None,
    gbm_cache: GbmCache | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Run one named model on ``known``; return its quantiles and any flags it raises.

    ``gbm_cache`` lets a backtest reuse an ``lgbm`` model fitted at an earlier issue time.
    """
    if name in NAIVE_MODELS:
        return forecast_naive(known, name, levels), []
    if name == "lgbm":
        if gbm_cache is not None:
            return gbm_cache.forecast(known, levels, holidays_country), []
        return forecast_gbm(known, levels, holidays_country), []
    if name in STATS_MODELS:
        return forecast_stats(known, name, levels)
    if name in PV_MODELS:
        if pv_system is None:
            raise InvalidInputError(f"model {name!r} needs pv_system (site and capacity)")
        return forecast_pv(known, name, levels, pv_system, holidays_country)
    if name in WIND_MODELS:
        return forecast_wind(known, name, levels)
    raise InvalidInputError(f"unknown forecast model {name!r}", hint=f"use one of {MODELS}")


def _cold_start(
    known: KnownHistory, levels: Sequence[float], declared: pd.Series | None
) -> tuple[pd.DataFrame, str, list[str]]:
    if declared is not None:
        frame, flags = declared_forecast(known, levels, declared)
        return frame, "declared_schedule", ["cold_start:declared_schedule", *flags]
    return profile_forecast(known, levels), "profile", ["cold_start:profile"]


def _fill_missing(
    frame: pd.DataFrame, known: KnownHistory, levels: Sequence[float], flags: list[str]
) -> pd.DataFrame:
    """Fill intervals a model left empty from the mean profile, and flag how many."""
    missing = frame[0.5].isna().to_numpy()
    if not missing.any():
        return frame
    backup = profile_forecast(known, levels).to_numpy()
    values = frame.to_numpy().copy()
    values[missing] = backup[missing]
    flags.append(f"fallback:profile:{int(missing.sum())}")
    return quantile_frame(values, known.horizon, levels)


def forecast_day_ahead(
    history: pd.DataFrame,
    target: str,
    day: date,
    tz: str,
    issue_time: pd.Timestamp,
    *,
    model: str = "auto",
    exog: Sequence[str] = (),
    interval_minutes: int = 15,
    quantiles: Sequence[float] = (0.1, 0.5, 0.9),
    holidays_country: str | None = None,
    pv_system: PvSystem | None = None,
    declared_profile: pd.Series | None = None,
) -> Forecast:
    """Quantile forecast of every interval of market day ``day``, issued at ``issue_time``.

    Parameters
    ----------
    history : pandas.DataFrame
        UTC DatetimeIndex with a regular step; the ``target`` column and optional ``exog``
        columns. NaN marks gaps. Target rows at or after ``issue_time`` are never used.
    target : str
        Column to forecast; its unit is the forecast's unit (``load_mw``, ``price_per_mwh``).
    day : date
        Market day D to forecast (all its intervals in ``tz``: 92/96/100 quarter-hours).
    tz : str
        IANA timezone of the market.
    issue_time : pandas.Timestamp
        Tz-aware instant the forecast is made, at or before the start of D.
    model : str
        ``"auto"`` or one of :data:`MODELS`: ``naive_daily``, ``naive_weekly``, ``naive_epf``,
        ``lgbm``, ``ets``, ``mstl``, ``pv_physics``, ``pv_lgbm``, ``wind_curve``, ``wind_lgbm``.
    exog : sequence of str
        Columns of forecasts known in advance (weather, system load ...); their values on D
        are used.
    interval_minutes : int
        Forecast interval [min].
    quantiles : sequence of float
        Quantile levels; 0.5 is always added.
    holidays_country : str, optional
        ISO code of the holiday calendar for calendar features ("CN" includes make-up workdays).
    pv_system : PvSystem, optional
        Site and capacity for PV models.
    declared_profile : pandas.Series, optional
        An enterprise's declared schedule, used when history is shorter than
        :data:`~forecasting.coldstart.COLD_START_DAYS` days.

    Returns
    -------
    Forecast
        Non-crossing quantiles of D, the issue time, the model used and flags such as
        ``"cold_start:profile"``, ``"cold_start:declared_schedule"``, ``"history_gaps:N"``.

    Raises
    ------
    ForecastUnavailableError
        No target value known before the issue time and no declared schedule.
    InvalidInputError
        A bad model name, quantile level, column, timezone or issue time.
    """
    levels = check_levels(quantiles)
    known = build_known_history(history, target, day, tz, issue_time, exog, interval_minutes)
    return forecast_known(known, model, levels, holidays_country, pv_system, declared_profile)


def forecast_known(
    known: KnownHistory,
    model: str,
    levels: Sequence[float],
    holidays_country: str | None = None,
    pv_system: PvSystem | None = None,
    declared_profile: pd.Series | None = None,
    gbm_cache: GbmCache | None = None,
) -> Forecast:
    """:func:`forecast_day_ahead` on history already cut at issue time (for backtests)."""
    target, day = known.target, known.day
    flags: list[str] = []
    if known.gaps:
        flags.append(f"history_gaps:{known.gaps}")
    name = choose_model(model, known, pv_system)
    short = known.known_days < COLD_START_DAYS
    if known.known_days == 0 and declared_profile is None:
        raise ForecastUnavailableError(
            f"no value of {target} is known before {known.issue_time.isoformat()}",
            hint="give at least one day of metered history or a declared schedule "
            "(declared_profile)",
        )
    if short and name in SHORT_HISTORY_MODELS and declared_profile is None:
        # Physics and persistence need a day or two, not weeks: run them, but say so.
        frame, extra = run_model(name, known, levels, holidays_country, pv_system, gbm_cache)
        if name == "pv_physics":
            extra = ["cold_start:pv_physics", *extra]
    elif short and (model == "auto" or name not in NAIVE_MODELS):
        frame, name, extra = _cold_start(known, levels, declared_profile)
    else:
        frame, extra = run_model(name, known, levels, holidays_country, pv_system, gbm_cache)
    flags.extend(extra)
    frame = _fill_missing(frame, known, levels, flags)
    if not np.isfinite(frame.to_numpy()).all():
        raise ForecastUnavailableError(f"model {name} left intervals of {day} without a value")
    return Forecast(
        target=target,
        issue_time=known.issue_time,
        quantiles=frame,
        model=name,
        flags=tuple(flags),
    )


def forecast_pv_fleet_day_ahead(
    histories: Mapping[str, pd.DataFrame],
    target: str,
    day: date,
    tz: str,
    issue_time: pd.Timestamp,
    systems: Mapping[str, PvSystem],
    interval_minutes: int = 15,
    quantiles: Sequence[float] = (0.1, 0.5, 0.9),
    holidays_country: str | None = None,
    threads: int = 1,
) -> dict[str, Forecast]:
    """Day-ahead forecasts of many PV plants, issued together.

    Plants for which ``"auto"`` picks ``pv_lgbm`` share one model
    (:func:`forecasting.pv.forecast_pv_global`, model name :data:`PV_GLOBAL_MODEL`); the others
    (short histories) get :func:`forecast_known` on their own. Same inputs and flags as
    :func:`forecast_day_ahead`, per plant: ``histories[k]`` holds ``target`` in the unit of
    ``systems[k].capacity_mw``. ``threads``: LightGBM threads of the shared fit.
    """
    levels = check_levels(quantiles)
    knowns = {
        k: build_known_history(frame, target, day, tz, issue_time, (), interval_minutes)
        for k, frame in histories.items()
    }
    shared = [
        k for k, known in knowns.items() if choose_model("auto", known, systems[k]) == "pv_lgbm"
    ]
    out: dict[str, Forecast] = {}
    if len(shared) >= 2:
        frames = forecast_pv_global(
            {k: knowns[k] for k in shared}, systems, levels, holidays_country, threads
        )
        for k in shared:
            known = knowns[k]
            flags = [f"history_gaps:{known.gaps}"] if known.gaps else []
            frame = _fill_missing(frames[k], known, levels, flags)
            out[k] = Forecast(
                target=target,
                issue_time=known.issue_time,
                quantiles=frame,
                model=PV_GLOBAL_MODEL,
                flags=tuple(flags),
            )
    for k, known in knowns.items():
        if k not in out:
            out[k] = forecast_known(known, "auto", levels, holidays_country, systems[k])
    return {k: out[k] for k in histories}
