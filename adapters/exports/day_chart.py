"""The day chart: what we expected, what we scheduled and what prices did, in market time.

Three stacked panels sharing the time axis: (1) the day-ahead price forecast with its P10-P90
band against the realised price; (2) the park's forecast net load and the scheduled net position
(sign convention of ``vpp.domain``: > 0 export); (3) battery state of charge.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd

from vpp.domain.forecast import Forecast
from vpp.domain.timegrid import zone


def write_day_chart(
    path: Path,
    *,
    tz: str,
    currency: str,
    title: str,
    price_forecast: Forecast,
    realised_price: pd.Series,
    net_load_forecast: pd.Series,
    scheduled_position: pd.Series,
    delivered_position: pd.Series | None = None,
    soc_mwh: pd.DataFrame | None = None,
) -> Path:
    """Draw the day chart to ``path`` (PNG) and return it.

    Parameters
    ----------
    price_forecast : Forecast
        Day-ahead price forecast [currency/MWh] with quantiles 0.1, 0.5, 0.9.
    realised_price : pandas.Series
        Realised day-ahead price [currency/MWh].
    net_load_forecast : pandas.Series
        Forecast park net load without flexibility [MW] (> 0 means consumption).
    scheduled_position : pandas.Series
        Awarded net position [MW] (> 0 export, < 0 import).
    delivered_position : pandas.Series, optional
        Metered net position [MW].
    soc_mwh : pandas.DataFrame, optional
        Battery state of charge per asset [MWh].
    """
    local = zone(tz)

    def on_local(series: pd.Series | pd.DataFrame) -> pd.Series | pd.DataFrame:
        return series.set_axis(series.index.tz_convert(local))

    panels = 3 if soc_mwh is not None and not soc_mwh.empty else 2
    fig, axes = plt.subplots(panels, 1, figsize=(11, 3.2 * panels), sharex=True)
    q = on_local(price_forecast.quantiles)
    ax = axes[0]
    ax.fill_between(q.index, q[0.1], q[0.9], step="post", alpha=0.25, label="forecast P10-P90")
    ax.step(q.index, q[0.5], where="post", label="forecast P50")
    ax.step(
        on_local(realised_price).index,
        on_local(realised_price),
        where="post",
        color="black",
        lw=1.2,
        label="realised",
    )
    ax.set_ylabel(f"price [{currency}/MWh]")
    ax.legend(loc="upper left", fontsize=8, ncol=3)
    ax.grid(alpha=0.3)

    ax = axes[1]
    ax.step(
        on_local(net_load_forecast).index,
        -on_local(net_load_forecast),
        where="post",
        ls="--",
        label="inflexible net position (forecast)",
    )
    ax.step(
        on_local(scheduled_position).index,
        on_local(scheduled_position),
        where="post",
        lw=1.6,
        label="awarded position",
    )
    if delivered_position is not None:
        ax.step(
            on_local(delivered_position).index,
            on_local(delivered_position),
            where="post",
            lw=1,
            color="black",
            label="delivered (metered)",
        )
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_ylabel("park position [MW]\n> 0 export, < 0 import")
    ax.legend(loc="upper left", fontsize=8, ncol=3)
    ax.grid(alpha=0.3)

    if panels == 3 and soc_mwh is not None:
        ax = axes[2]
        for column in soc_mwh.columns:
            ax.plot(on_local(soc_mwh[column]).index, on_local(soc_mwh[column]), label=str(column))
        ax.set_ylabel("state of charge [MWh]")
        ax.legend(loc="upper left", fontsize=8)
        ax.grid(alpha=0.3)

    axes[-1].xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=local))
    axes[-1].set_xlabel(f"market time ({tz})")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
