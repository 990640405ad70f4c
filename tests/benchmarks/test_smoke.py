"""Smoke runs of the benchmarks: they start, read the real data and write their tables.

The full benchmarks run outside CI (see benchmarks/); these check on a few days that the scripts
still work end to end and produce the fields their committed result tables have.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / script), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )


def test_load_forecast_benchmark_smoke(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "load"
    result = run("forecasting_load.py", "--smoke", "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(out.with_suffix(".json").read_text())
    text = json.dumps(report)
    assert "naive_weekly" in text and "lgbm" in text
    assert out.with_suffix(".md").read_text().strip()


def test_scale_forecast_benchmark_smoke(shared_data: Path, tmp_path: Path) -> None:
    """Five series derived from the steel-plant load: one global model, timed and scored."""
    out = tmp_path / "scale"
    result = run("forecasting_scale.py", "--smoke", "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(out.with_suffix(".json").read_text())
    (size,) = report["sizes"]
    assert size["series"] == 5 and size["seconds"] > 0
    assert 0 < size["rmae_pooled"] < 1.5
    assert "| 5 |" in out.with_suffix(".md").read_text()


def test_price_forecast_and_own_capture_benchmarks_smoke(shared_data: Path, tmp_path: Path) -> None:
    """Price forecasts on 14 NP days, saved, then bid through the capture pipeline."""
    out, saved = tmp_path / "prices", tmp_path / "forecasts"
    result = run(
        "forecasting_prices.py", "--smoke", "--out", str(out), "--save-forecasts", str(saved)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    text = out.with_suffix(".json").read_text()
    assert "NP" in text and "DNN" in text.upper()
    assert "ours: lear" in text and "ours: lear+lgbm" in text
    capture = tmp_path / "own"
    args = ["--forecasts", str(saved), "--markets", "NP", "--out", str(capture)]
    result = run("bidding_capture_own.py", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    runs = json.loads(capture.with_suffix(".json").read_text())["runs"]
    assert {r["forecast_name"] for r in runs} >= {"DNN Ensemble", "ours: lear+lgbm"}
    for r in runs:
        assert r["days"] == 14 and r["violations"] == 0 and 0.0 < r["capture_ratio"] <= 1.0


def test_capture_benchmark_smoke(shared_data: Path, tmp_path: Path) -> None:
    """Both epftoolbox file sets on the anchor's days: captures in range, no violations."""
    out = tmp_path / "capture"
    args = ["--smoke", "--markets", "FR", "--variants", "lp", "stoch", "--files", "current", "2020"]
    result = run("bidding_capture_epftoolbox.py", *args, "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    runs = json.loads(out.with_suffix(".json").read_text())["runs"]
    assert [(r["forecast_files"], r["variant"]) for r in runs] == [
        ("current", "lp"),
        ("current", "stoch"),
        ("2020", "lp"),
        ("2020", "stoch"),
    ]
    for r in runs:
        assert r["violations"] == 0 and 0.5 < r["capture_ratio"] <= 1.0
        assert r["start"] == "2015-01-11"  # the anchor's first day: the 8th test day
    table = out.with_suffix(".md").read_text()
    assert "| FR | current | lp |" in table and "| FR | current | stoch |" in table


def test_cooptimisation_benchmark_smoke(shared_data: Path) -> None:
    result = run("bidding_cooptimisation.py", "--smoke")
    assert result.returncode == 0, result.stdout + result.stderr
    text = (REPO / "benchmarks" / "results" / "bidding_cooptimisation_smoke.json").read_text()
    assert '"violations"' in text and "ercot" in text and "de-lu" in text


def test_china_benchmark_smoke(shared_data: Path) -> None:
    result = run("bidding_china.py", "--smoke")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "violations 0" in result.stdout


def test_dispatch_10k_benchmark_smoke(tmp_path: Path) -> None:
    """200 devices over SunSpec Modbus and MQTT, one run: every device confirms its setpoint."""
    import socket

    try:
        socket.create_connection(("127.0.0.1", 1883), timeout=1.0).close()
    except OSError:
        pytest.skip("no MQTT broker on 127.0.0.1:1883")
    out = tmp_path / "dispatch_10k_smoke"
    result = run("dispatch_10k.py", "--smoke", "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(out.with_suffix(".json").read_text())
    assert {s["scenario"] for s in report["scenarios"]} == {"mixed", "modbus", "mqtt"}
    for s in report["scenarios"]:
        assert s["devices"] > 0 and s["confirmed_min"] == s["devices"], s
        assert s["warmup_confirmed"] == s["devices"], s
    assert "| mixed |" in out.with_suffix(".md").read_text()


def test_virtual_battery_benchmark_smoke(shared_data: Path, tmp_path: Path) -> None:
    """Unlike batteries on a real DE-LU day: exact vs virtual, energy only and with FCR."""
    out = tmp_path / "virtual"
    result = run("bidding_virtual.py", "--smoke", "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(out.with_suffix(".json").read_text())
    exact, *virtual = report["loss"]
    assert exact["groups"] == "exact" and [r["groups"] for r in virtual] == [4, 8]
    for row in report["loss"]:
        assert row["violations"] == 0  # every member's derived plan is feasible on its own
    # an inner approximation: never above the exact revenue
    assert all(r["revenue_eur"] <= exact["revenue_eur"] + 1e-6 for r in virtual)
    exact_fcr, *two_stage = report["loss_fcr"]
    assert exact_fcr["groups"] == "exact" and len(two_stage) == 1
    assert two_stage[0]["violations"] == 0
    assert two_stage[0]["revenue_eur"] <= exact_fcr["revenue_eur"] * (1 + 1e-9)
    assert two_stage[0]["revenue_eur"] > 0.5 * exact_fcr["revenue_eur"]


def test_capacity_price_forecast_benchmark_smoke(shared_data: Path, tmp_path: Path) -> None:
    """ERCOT REGUP/REGDN/RRS and German FCR, a week each: every model scored on every series."""
    out = tmp_path / "capacity"
    result = run("forecasting_capacity_prices.py", "--smoke", "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    series = json.loads(out.with_suffix(".json").read_text())["series"]
    assert set(series) == {"ERCOT REGUP", "ERCOT REGDN", "ERCOT RRS", "DE FCR"}
    for res in series.values():
        assert res["days"] == 7 and res["hours_scored"] >= 7 * 23
        assert set(res["models"]) == {"naive_weekly", "naive_daily", "lgbm", "mstl"}
        assert res["models"]["naive_daily"]["vs_daily"] == 1.0
        assert all(0.0 < m["mae"] < 10 * res["mean_price"] for m in res["models"].values())


def test_live_park_scale_benchmark_smoke(shared_data: Path, tmp_path: Path) -> None:
    """3 enterprises, 9 assets built through a real ``vpp serve`` on SQLite, one left
    unverified: forecast and bid run, and the bid names exactly the verified assets."""
    out = tmp_path / "live_scale"
    result = run("live_park_scale.py", "--smoke", "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["enterprises"] == 3 and report["assets"] == 9
    (unverified,) = report["unverified"]
    (measured,) = report["runs"]
    assert [(stage, status) for stage, status, _ in measured["outcomes"]][:2] == [
        ("forecast", "succeeded"),
        ("bid", "succeeded"),
    ], measured["outcomes"]
    assert measured["bid_assets"] == report["verified"]
    assert unverified in measured["excluded"] and unverified not in measured["bid_assets"]
    assert measured["peak_rss_mb"] > 0 and measured["stage_ms"]["bid"] > 0
    assert "| advance wall time [s] | <= 60 |" in out.with_suffix(".md").read_text()


def test_bidding_decomposition_benchmark_smoke(tmp_path: Path) -> None:
    """20 dissimilar assets: the decomposed bid is worth no more than either upper bound."""
    out = tmp_path / "decomposition"
    result = run(
        "bidding_decomposition.py", "--sizes", "20", "--joint-limit", "300", "--out", str(out)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (row,) = json.loads(out.with_suffix(".json").read_text())["rows"]
    assert row["assets"] == 20 and row["joint_bound_eur"] is not None
    assert not row["joint_fallback"]
    assert row["flexibility_value_eur"] <= row["joint_bound_eur"] + 1e-2
    assert row["flexibility_value_eur"] <= row["separable_bound_eur"] + 1e-2
    assert 0.0 <= row["gap_to_best_bound"] < 0.1
    assert out.with_suffix(".md").read_text().count("| 20 |") == 1


def test_console_day_view_benchmark_smoke(tmp_path: Path) -> None:
    out = tmp_path / "console"
    result = run("console_day_view.py", "--smoke", "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(out.with_suffix(".json").read_text())["result"]
    assert report["intervals"] == 96 and report["assets_dispatched"] == 20
    assert report["charts"] == 5 and report["median_s"] > 0
    assert "median of 1 warm loads" in out.with_suffix(".md").read_text()
