"""``vpp forecast backtest`` end to end on a small canonical CSV."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from vpp.cli.forecast import app
from vpp.domain.errors import InvalidInputError, TimeSeriesError
from vpp.domain.series import write_series_csv


@pytest.fixture
def series_csv(tmp_path: Path, make_load: Callable[..., pd.DataFrame]) -> Path:
    return write_series_csv(make_load(days=35), tmp_path / "load.csv", tz="Asia/Shanghai")


def test_backtest_writes_report_and_png(series_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "report" / "REPORT.json"
    result = CliRunner().invoke(
        app,
        [
            "backtest",
            "--series",
            str(series_csv),
            "--target",
            "load_mw",
            "--tz",
            "Asia/Shanghai",
            "--start",
            "2024-01-29",
            "--end",
            "2024-02-02",
            "--issue-time",
            "8:00",
            "--model",
            "lgbm",
            "--model",
            "naive_epf",
            "--exog",
            "temp_c",
            "--holidays",
            "CN",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["target"] == "load_mw"
    assert report["interval_minutes"] == 15
    assert report["days"] == 5
    assert set(report["models"]) == {"naive_weekly", "lgbm", "naive_epf"}
    for metrics in report["models"].values():
        assert {"mae", "rmse", "smape", "rmae", "pinball", "coverage_80"} <= set(metrics)
    assert report["models"]["naive_weekly"]["rmae"] == 1.0
    png = out.with_suffix(".png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "lgbm" in result.output


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"--target": "price"}, InvalidInputError, "no column 'price'"),
        ({"--start": "2024-13-01"}, InvalidInputError, "not a date"),
        ({"--issue-time": "8h"}, InvalidInputError, "not a clock time"),
        ({"--tz": "Mars/Olympus"}, InvalidInputError, "unknown timezone"),
        ({"--model": "prophet"}, InvalidInputError, "unknown forecast model"),
        ({"--series": "missing.csv"}, TimeSeriesError, "no such file"),
    ],
)
def test_bad_input_raises_a_vpp_error(
    series_csv: Path, tmp_path: Path, change: dict[str, str], error: type, message: str
) -> None:
    options = {
        "--series": str(series_csv),
        "--target": "load_mw",
        "--tz": "Asia/Shanghai",
        "--start": "2024-01-29",
        "--end": "2024-01-29",
        "--out": str(tmp_path / "r.json"),
    }
    options.update(change)
    args = ["backtest", *[part for pair in options.items() for part in pair]]
    result = CliRunner().invoke(app, args)
    assert isinstance(result.exception, error)
    assert message in str(result.exception)


def test_naive_timestamps_in_the_csv_are_refused(
    tmp_path: Path, make_load: Callable[..., pd.DataFrame]
) -> None:
    path = tmp_path / "naive.csv"
    frame = make_load(days=2)
    frame.index = frame.index.tz_localize(None)
    frame.to_csv(path)
    result = CliRunner().invoke(
        app,
        [
            "backtest",
            "--series",
            str(path),
            "--target",
            "load_mw",
            "--tz",
            "UTC",
            "--start",
            "2024-01-02",
            "--end",
            "2024-01-02",
            "--out",
            str(tmp_path / "r.json"),
        ],
    )
    assert isinstance(result.exception, TimeSeriesError)
    assert "no UTC offset" in str(result.exception)


def test_models_lists_the_names() -> None:
    result = CliRunner().invoke(app, ["models"])
    assert result.exit_code == 0
    assert "naive_epf" in result.output.split()
    assert pd.Index(result.output.split()).is_unique
