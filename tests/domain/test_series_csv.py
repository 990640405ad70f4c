"""The canonical time-series CSV: what it accepts and how it refuses the rest."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from vpp.domain.errors import TimeSeriesError
from vpp.domain.series import read_series_csv, write_series_csv


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "series.csv"
    path.write_text(text)
    return path


def test_reads_offsets_and_z_into_utc_with_missing_cells(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "timestamp,load_mw,price_per_mwh\n"
        "2024-03-01T00:00:00+08:00,1.5,300\n"
        "2024-03-01T00:15:00+08:00,,310\n"
        "2024-02-29T16:30:00Z,2,\n",
    )
    frame = read_series_csv(path)
    assert frame.index[0] == pd.Timestamp("2024-02-29T16:00Z")
    assert frame["load_mw"].isna().tolist() == [False, True, False]
    assert frame["price_per_mwh"].iloc[1] == 310.0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "timestamp,x\n2024-03-01T00:00:00,1\n2024-03-01T00:15:00,2\n",
            "row 2, column 'timestamp'.*no UTC offset",
        ),
        (
            "timestamp,x\n2024-03-01T00:00Z,1\n2024-03-01T00:15Z,abc\n",
            "row 3, column 'x': 'abc' is not a number",
        ),
        ("timestamp,x\n2024-03-01T00:00Z,1\n2024-03-01T00:00Z,2\n", "row 3: duplicate timestamp"),
        (
            "timestamp,x\n2024-03-01T00:00Z,1\n2024-03-01T00:15Z,2\n2024-03-01T00:45Z,2\n2024-03-01T01:00Z,2\n",
            "irregular step",
        ),
        ("time,x\n2024-03-01T00:00Z,1\n", "first column must be named 'timestamp'"),
        (
            "timestamp,x\nyesterday,1\n2024-03-01T00:15Z,2\n",
            "row 2.*'yesterday' is not an ISO 8601 timestamp",
        ),
    ],
)
def test_refuses_bad_files_naming_row_and_column(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(TimeSeriesError, match=message):
        read_series_csv(write(tmp_path, body))


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(TimeSeriesError, match="no such file"):
        read_series_csv(tmp_path / "absent.csv")


def test_round_trip_in_market_time(tmp_path: Path) -> None:
    index = pd.date_range(
        pd.Timestamp("2021-03-28T00:00+01:00").tz_convert("UTC"), periods=92, freq="15min"
    )
    frame = pd.DataFrame({"price_per_mwh": range(92)}, index=index, dtype=float)
    path = write_series_csv(frame, tmp_path / "out.csv", tz="Europe/Berlin")
    assert "+02:00" in path.read_text()
    pd.testing.assert_frame_equal(read_series_csv(path), frame, check_names=False, check_freq=False)
