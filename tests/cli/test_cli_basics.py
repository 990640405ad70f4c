"""The `vpp` command's quick paths: help, market profiles, and clear errors on bad input."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import yaml

from vpp.domain.market import markets_dir

RunVpp = Callable[..., subprocess.CompletedProcess[str]]


def test_help_lists_the_command_groups(tmp_path: Path, run_vpp: RunVpp) -> None:
    result = run_vpp("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("demo", "serve", "forecast", "bid", "backtest", "settle", "market", "db"):
        assert command in result.stdout


def test_market_list_and_show(tmp_path: Path, run_vpp: RunVpp) -> None:
    listed = run_vpp("market", "list", cwd=tmp_path)
    assert listed.returncode == 0 and "cn-shandong" in listed.stdout and "de-lu" in listed.stdout
    shown = run_vpp("market", "show", "de-lu", "--day", "2021-10-31", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "100 intervals of 15 min" in shown.stdout
    assert "2021-10-30 12:00 CEST" in shown.stdout


def test_bad_profile_exits_2_naming_file_field_value(tmp_path: Path, run_vpp: RunVpp) -> None:
    data = yaml.safe_load((markets_dir() / "cn-shandong.yaml").read_text())
    data["day_ahead"]["price_bounds"]["bid_min"] = 2000
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    result = run_vpp("market", "validate", str(path), cwd=tmp_path)
    assert result.returncode == 2
    assert (
        "bad.yaml: day_ahead.price_bounds: bid_min (2000.0) must be below bid_max (1500.0)"
        in " ".join(result.stderr.split())
    )
    assert "Traceback" not in result.stderr


def test_bad_park_file_is_refused_before_any_work(tmp_path: Path, run_vpp: RunVpp) -> None:
    park = yaml.safe_load(
        (Path(__file__).resolve().parents[2] / "vpp/samples/sample_park/park.yaml").read_text()
    )
    park["series"] = str(
        Path(__file__).resolve().parents[2] / "vpp/samples/sample_park/series.csv.gz"
    )
    park["loads"][0]["column"] = "stell_load_mw"
    path = tmp_path / "park.yaml"
    path.write_text(yaml.safe_dump(park, allow_unicode=True))
    result = run_vpp("demo", "--park", str(path), "--out", "out", cwd=tmp_path)
    assert result.returncode == 2
    assert "loads[0].column names column 'stell_load_mw'" in " ".join(result.stderr.split())
    assert not (tmp_path / "out").exists() and not (tmp_path / "parkvpp.sqlite").exists()


def test_malformed_dates_are_usage_errors_not_tracebacks(tmp_path: Path, run_vpp: RunVpp) -> None:
    for args in (
        ("demo", "--day", "yesterday"),
        ("market", "show", "de-lu", "--day", "2021-02-30"),
    ):
        result = run_vpp(*args, cwd=tmp_path)
        assert result.returncode == 2, args
        assert "Invalid value for '--day'" in result.stderr
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "parkvpp.sqlite").exists()
