"""The Dask backend gives the same forecasts as running the meter groups here, in turn."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pandas as pd
import pytest

from forecasting.distributed import forecast_groups
from forecasting.gbm import GbmParams
from forecasting.global_gbm import GlobalParams
from forecasting.panel import KnownPanel, build_known_panel
from vpp.domain.errors import InvalidInputError

distributed = pytest.importorskip("distributed")

TZ = "Asia/Shanghai"
DAY = date(2024, 2, 20)
ISSUE = pd.Timestamp("2024-02-19 08:00", tz=TZ)
LEVELS = (0.1, 0.5, 0.9)
FAST = GlobalParams(
    gbm=GbmParams(train_days=30, num_boost_round=30, learning_rate=0.1), max_train_rows=4_000
)
GROUPS = {"north": ["m0", "m1", "m2"], "south": ["m3", "m4", "m5"]}


@pytest.fixture(scope="module")
def panel(make_load: Callable[..., pd.DataFrame]) -> KnownPanel:
    """Six synthetic meters [MW] of sizes 1 to 6."""
    loads = pd.DataFrame(
        {f"m{i}": make_load(days=45, seed=i)["load_mw"] * (i + 1) for i in range(6)}
    )
    return build_known_panel(loads, DAY, TZ, ISSUE)


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """Two single-threaded workers in this process."""
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as dask_client,
    ):
        yield dask_client


def test_dask_result_equals_the_local_one(panel: KnownPanel, client: Any) -> None:
    local = forecast_groups(panel, GROUPS, LEVELS, "CN", FAST)
    remote = forecast_groups(panel, GROUPS, LEVELS, "CN", FAST, client=client)
    assert sorted(remote) == sorted(local) == sorted(panel.series_ids)
    for series_id, frame in local.items():
        pd.testing.assert_frame_equal(remote[series_id], frame, check_exact=True)


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ({"a": ["m0", "m1", "m2", "m3", "m4"]}, "leave out"),
        ({"a": ["m0", "m1", "m2"], "b": ["m2", "m3", "m4", "m5"]}, "more than one group"),
        ({"a": list(GROUPS["north"] + GROUPS["south"]), "b": []}, "is empty"),
    ],
)
def test_groups_must_cover_each_meter_once(
    panel: KnownPanel, groups: dict[str, list[str]], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        forecast_groups(panel, groups, LEVELS, "CN", FAST)
