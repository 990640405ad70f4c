"""The global model: one LightGBM per quantile for many meters, scale-free, issue-time safe."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import numpy as np
import pandas as pd
import pytest

from forecasting.gbm import GbmParams
from forecasting.global_gbm import (
    GlobalParams,
    fit_global_gbm,
    forecast_global_gbm,
    predict_global_gbm,
    sample_rows,
)
from forecasting.panel import build_known_panel
from forecasting.panel_features import build_grid_context, panel_design
from vpp.domain.errors import ForecastUnavailableError, InvalidInputError

TZ = "Asia/Shanghai"
DAY = date(2024, 2, 20)
ISSUE = pd.Timestamp("2024-02-19 08:00", tz=TZ)
LEVELS = (0.1, 0.5, 0.9)
FAST = GlobalParams(
    gbm=GbmParams(train_days=40, num_boost_round=60, learning_rate=0.1), max_train_rows=8_000
)
SIZES = {"small": 0.1, "mid": 1.0, "large": 10.0, "huge": 100.0}


@pytest.fixture(scope="module")
def loads(make_load: Callable[..., pd.DataFrame]) -> pd.DataFrame:
    """Four meters of very different sizes [MW], each with its own noise."""
    return pd.DataFrame(
        {name: make_load(seed=i)["load_mw"] * size for i, (name, size) in enumerate(SIZES.items())}
    )


def test_one_model_serves_meters_of_every_size(loads: pd.DataFrame) -> None:
    panel = build_known_panel(loads, DAY, TZ, ISSUE)
    frames = forecast_global_gbm(panel, LEVELS, "CN", FAST)
    assert list(frames) == list(SIZES)
    for name, frame in frames.items():
        assert list(frame.columns) == list(LEVELS) and len(frame) == 96
        assert (np.diff(frame.to_numpy(), axis=1) >= 0).all()
        actual = loads[name].reindex(frame.index).to_numpy()
        naive = loads[name].reindex(frame.index - pd.Timedelta(days=7)).to_numpy()
        mae = np.mean(np.abs(frame[0.5].to_numpy() - actual))
        assert mae < 1.2 * np.mean(np.abs(naive - actual)), name
    ratio = frames["huge"][0.5].mean() / frames["small"][0.5].mean()
    assert 500 < ratio < 2000


def test_values_after_issue_time_change_nothing(loads: pd.DataFrame) -> None:
    future = loads.copy()
    future.loc[future.index >= ISSUE.tz_convert("UTC")] *= 50.0
    a = forecast_global_gbm(build_known_panel(loads, DAY, TZ, ISSUE), LEVELS, "CN", FAST)
    b = forecast_global_gbm(build_known_panel(future, DAY, TZ, ISSUE), LEVELS, "CN", FAST)
    for name in SIZES:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True)


def test_a_training_row_reads_only_what_its_own_issue_time_knew(loads: pd.DataFrame) -> None:
    panel = build_known_panel(loads, DAY, TZ, ISSUE)
    context = build_grid_context(panel, "CN")
    day = date(2024, 2, 10)
    rows = np.flatnonzero(panel.index.tz_convert(TZ).date == day)
    series = np.repeat(np.arange(len(SIZES)), len(rows))
    positions = np.tile(rows, len(SIZES))
    before, scale = panel_design(panel.values, context, series, positions)
    row_issue = pd.Timestamp("2024-02-09 08:00", tz=TZ)
    spoiled = panel.values.copy()
    spoiled[:, panel.index >= row_issue] *= 50.0
    after, spoiled_scale = panel_design(spoiled, context, series, positions)
    np.testing.assert_array_equal(before, after)
    np.testing.assert_array_equal(scale, spoiled_scale)
    earlier = panel.values.copy()
    earlier[:, panel.index < row_issue] *= 2.0
    assert not np.allclose(panel_design(earlier, context, series, positions)[1], scale)


def test_a_series_sample_does_not_depend_on_its_neighbours(loads: pd.DataFrame) -> None:
    panel = build_known_panel(loads, DAY, TZ, ISSUE)
    series, positions = sample_rows(panel, FAST, total_series=4)
    _, alone_positions = sample_rows(panel.select(["large"]), FAST, 4, offset=2)
    np.testing.assert_array_equal(positions[series == 2], alone_positions)
    assert len(positions[series == 2]) == FAST.max_train_rows // 4


def test_a_later_model_cannot_forecast_an_earlier_issue(loads: pd.DataFrame) -> None:
    later = build_known_panel(loads, date(2024, 2, 22), TZ, pd.Timestamp("2024-02-21 08:00", tz=TZ))
    fitted = fit_global_gbm(later, LEVELS, "CN", FAST)
    with pytest.raises(ForecastUnavailableError, match="after this forecast's issue time"):
        predict_global_gbm(fitted, build_known_panel(loads, DAY, TZ, ISSUE))


def test_a_dst_day_gets_its_92_intervals(make_load: Callable[..., pd.DataFrame]) -> None:
    tz = "Europe/Berlin"
    frame = make_load(start="2024-02-01", days=60, tz=tz)
    loads = pd.DataFrame({"a": frame["load_mw"], "b": 2.0 * frame["load_mw"]})
    issue = pd.Timestamp("2024-03-30 12:00", tz=tz)
    panel = build_known_panel(loads, date(2024, 3, 31), tz, issue)
    frames = forecast_global_gbm(panel, LEVELS, "DE", FAST)
    assert all(len(f) == 92 and np.isfinite(f.to_numpy()).all() for f in frames.values())


@pytest.mark.parametrize(
    ("columns", "issue", "message"),
    [
        ([], ISSUE, "at least one column"),
        (["a", "a"], ISSUE, "unique column names"),
        (["a"], pd.Timestamp("2024-02-20 08:00", tz=TZ), "after the start of day"),
    ],
)
def test_bad_panels_are_refused(
    loads: pd.DataFrame, columns: list[str], issue: pd.Timestamp, message: str
) -> None:
    frame = pd.DataFrame(
        np.ones((len(loads), len(columns))), index=loads.index, columns=pd.Index(columns)
    )
    with pytest.raises(InvalidInputError, match=message):
        build_known_panel(frame, DAY, TZ, issue)
