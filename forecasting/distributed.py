"""Optional Dask backend: fan the global models of many meter groups out over a cluster.

A park that outgrows one machine splits its meters into groups (by region, tenant type or
just by count); each group gets its own global model (:mod:`forecasting.global_gbm`), and
the groups are independent, so they run as one Dask task each on a ``dask.distributed``
client. The result is the same, value for value, as running the groups one after another
here (:func:`forecast_groups` with no client): training is deterministic and a series'
training sample depends only on its position in its group.

Dask is an optional extra (``pip install parkvpp[dask]``): the caller builds the client
(``distributed.Client(LocalCluster(...))`` or a scheduler address) and this module only calls
its ``submit``/``gather``, importing Dask for type checking alone, so the package imports and
runs without it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import pandas as pd

from forecasting.global_gbm import GlobalParams, forecast_global_gbm
from forecasting.panel import KnownPanel
from vpp.domain.errors import InvalidInputError

if TYPE_CHECKING:
    from distributed import Client


def check_groups(panel: KnownPanel, groups: Mapping[str, Sequence[str]]) -> None:
    """Raise unless every series of ``panel`` is in exactly one non-empty group."""
    seen: list[str] = [s for members in groups.values() for s in members]
    empty = [name for name, members in groups.items() if not members]
    if empty:
        raise InvalidInputError(f"meter group {empty[0]!r} is empty")
    if len(seen) != len(set(seen)):
        twice = next(s for s in seen if seen.count(s) > 1)
        raise InvalidInputError(f"series {twice!r} is in more than one group")
    missing = set(panel.series_ids) - set(seen)
    unknown = set(seen) - set(panel.series_ids)
    if missing or unknown:
        raise InvalidInputError(
            f"groups leave out {sorted(missing)[:3]} and name unknown {sorted(unknown)[:3]}",
            hint="list every series of the panel in exactly one group",
        )


def forecast_groups(
    panel: KnownPanel,
    groups: Mapping[str, Sequence[str]],
    levels: Sequence[float],
    holidays_country: str | None = None,
    params: GlobalParams | None = None,
    client: Client | None = None,
) -> dict[str, pd.DataFrame]:
    """Fit one global model per group of series and forecast day D of every series.

    Parameters
    ----------
    panel : KnownPanel
        All series, cut at the issue time.
    groups : mapping of str to sequence of str
        Group name to the ids of its series; every series in exactly one group.
    levels : sequence of float
        Quantile levels.
    holidays_country : str or None
        ISO code of the holiday calendar.
    params : GlobalParams, optional
        Settings of each group's model.
    client : distributed.Client, optional
        Run each group as a task on this Dask client; None runs them here, in turn.

    Returns
    -------
    dict of str to pandas.DataFrame
        Per series id, quantiles per interval of D [target unit].
    """
    check_groups(panel, groups)
    parts = [panel.select(list(members)) for members in groups.values()]
    if client is None:
        results = [forecast_global_gbm(p, levels, holidays_country, params) for p in parts]
    else:
        futures = [
            client.submit(forecast_global_gbm, p, levels, holidays_country, params, pure=False)
            for p in parts
        ]
        results = client.gather(futures)  # type: ignore[no-untyped-call]
    return {series: frame for result in results for series, frame in result.items()}
