"""Day-ahead forecasting of load, PV, wind and prices: pure functions on pandas data.

The public surface is small: :func:`forecast_day_ahead` (one quantile forecast of a market
day, issued at a given instant, using only what was known then), :func:`sample_scenarios`
(correlated paths for stochastic bidding), :func:`quantile_paths` (comonotone ones),
:func:`backtest_day_ahead` (rolling-origin evaluation), :func:`forecast_fleet_day_ahead`
(many meters from one global model) and :func:`forecast_pv_fleet_day_ahead` (a park's PV
plants from one model of the clear-sky index). This package never imports the service's web, database
or settings layers.
"""

from forecasting.backtest import BacktestResult, backtest_day_ahead
from forecasting.dayahead import MODELS, forecast_day_ahead, forecast_pv_fleet_day_ahead
from forecasting.fleet import forecast_fleet_day_ahead
from forecasting.pv import PvSystem
from forecasting.scenarios import quantile_paths, sample_scenarios

__all__ = [
    "MODELS",
    "BacktestResult",
    "PvSystem",
    "backtest_day_ahead",
    "forecast_day_ahead",
    "forecast_fleet_day_ahead",
    "forecast_pv_fleet_day_ahead",
    "quantile_paths",
    "sample_scenarios",
]
