"""Speed of the bidding optimiser against FlexMeasures' scheduler on the identical problem.

The peer (``../shared/peers/flexmeasures_fleet.py``) runs FlexMeasures' ``device_scheduler`` on N
batteries (p = 0.5 + 0.1 (i mod 5) MW, stock window +-0.45 e in FlexMeasures' per-step stock
units with e = 2p, 95 % efficiency each way, back to the initial stock at the end) arbitraging
one 96 x 15-min price curve. Here the same fleet is written as BatterySpecs: FlexMeasures' stock is
in MW x step (its scheduler does not multiply by the step length), so the equivalent battery has
``energy_mwh = 0.25 * e`` with the 5-95 % window, RTE 0.95^2; its cost is -(our revenue)/0.25 h.
Both run in the same invocation, the optimal costs are compared (relative 1e-6), and wall time
is reported for our default (exact aggregation of scaled copies) and with ``aggregate=False``
(every battery its own variables). A second table: 10,000 batteries with energy + FCR + aFRR+.

The peer needs its own venv: ``python3 -m venv .fm-venv && .fm-venv/bin/pip install flexmeasures
highspy``. Run: ``.venv/bin/python benchmarks/bidding_speed_flexmeasures.py [--sizes 10 100 300
1000] [--smoke]``. Writes ``benchmarks/results/bidding_speed_flexmeasures.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import time
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np

from bidding import BidProblem, solve_day_ahead
from vpp.domain.assets import BatterySpec
from vpp.domain.market import load_market_profile

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
PEER = SHARED / "peers" / "flexmeasures_fleet.py"
FM_PYTHON = ROOT / ".fm-venv" / "bin" / "python"
RESULTS = ROOT / "benchmarks" / "results"
ANCHORS = {100: 5.5, 300: 12.0}  # FlexMeasures 1.0.1 + highspy, 2-core machine (peers/README.md)
DT_H = 0.25


def peer_prices() -> np.ndarray:
    """The peer's price curve, drawn exactly as the peer script draws it [EUR/MWh]."""
    rng = np.random.default_rng(0)
    hours = np.arange(96) / 4
    return 80 + 40 * np.sin((hours - 9) / 24 * 2 * np.pi) + rng.normal(0, 8, 96)


def fleet(n: int) -> list[BatterySpec]:
    """The peer's N batteries in our schema (see the module docstring for the unit mapping)."""
    out = []
    for i in range(n):
        p = 0.5 + (i % 5) * 0.1
        e = 2 * p
        out.append(
            BatterySpec(
                id=f"b{i}",
                power_mw=p,
                energy_mwh=e * DT_H,
                round_trip_efficiency=0.95**2,
                soc_min=0.05,
                soc_max=0.95,
                soc_initial=0.5,
            )
        )
    return out


def run_ours(n: int, aggregate: bool, reserves: bool = False) -> dict[str, float]:
    profile = load_market_profile("de-lu")
    intervals = profile.day_intervals(date(2024, 6, 3))
    prices = peer_prices()
    reserve_prices = {"fcr": np.full(96, 12.0), "afrr_pos": np.full(96, 6.0)} if reserves else {}
    t0 = time.perf_counter()
    problem = BidProblem(
        profile,
        fleet(n),
        intervals,
        prices[None, :],
        aggregate=aggregate,
        reserve_prices=reserve_prices,
    )
    result = solve_day_ahead(problem)
    seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    _ = result.setpoints
    setpoint_s = time.perf_counter() - t1
    return {
        "seconds": seconds,
        "solve_seconds": result.seconds["solve"],
        "setpoints_seconds": setpoint_s,
        "revenue": result.expected_revenue,
        "cost_fm_units": -result.expected_revenue / DT_H,
    }


def run_peer(n: int, timeout_s: float) -> dict[str, float] | None:
    if not FM_PYTHON.exists():
        return None
    try:
        out = subprocess.run(
            [str(FM_PYTHON), str(PEER), str(n), "highspy"],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=True,
        ).stdout
    except (subprocess.TimeoutExpired, subprocess.CalledProcessError) as exc:
        return {"error": str(exc)[:200]}  # type: ignore[dict-item]
    match = re.search(r"seconds=([\d.]+) cost=(-?[\d.]+)", out)
    if not match:
        return {"error": "no result line"}  # type: ignore[dict-item]
    return {"seconds": float(match.group(1)), "cost": float(match.group(2))}


def machine() -> dict[str, object]:
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 300, 1000])
    parser.add_argument("--big", type=int, default=10_000, help="fleet size with reserves")
    parser.add_argument("--peer-timeout", type=float, default=600.0)
    parser.add_argument("--smoke", action="store_true", help="N = 10 and 100 only, no big run")
    args = parser.parse_args()
    sizes = [10, 100] if args.smoke else args.sizes
    rows = []
    for n in sizes:
        peer = run_peer(n, args.peer_timeout)
        ours = run_ours(n, aggregate=True)
        flat = run_ours(n, aggregate=False)
        row: dict[str, object] = {
            "n": n,
            "ours": ours,
            "ours_no_aggregation": flat,
            "flexmeasures": peer,
        }
        if peer and "cost" in peer:
            ref = abs(peer["cost"])
            row["cost_rel_diff"] = abs(ours["cost_fm_units"] - peer["cost"]) / ref
            row["cost_rel_diff_no_aggregation"] = abs(flat["cost_fm_units"] - peer["cost"]) / ref
            row["speedup"] = peer["seconds"] / ours["seconds"]
            row["speedup_no_aggregation"] = peer["seconds"] / flat["seconds"]
        rows.append(row)
        print(json.dumps(row))
    big = None
    if not args.smoke and args.big:
        big = {"n": args.big, **run_ours(args.big, aggregate=True, reserves=True)}
        print(json.dumps(big))
    report = {"machine": machine(), "anchors_flexmeasures_s": ANCHORS, "rows": rows, "big": big}
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "bidding_speed_flexmeasures" + ("_smoke" if args.smoke else "")
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2))
    (RESULTS / f"{name}.md").write_text(markdown(report))


def _fmt(value: object, pattern: str = "{:.3f}") -> str:
    return "—" if value is None else pattern.format(value)


def markdown(report: dict[str, object]) -> str:
    info = report["machine"]
    assert isinstance(info, dict)
    lines = [
        "# Bidding optimiser vs FlexMeasures device_scheduler (N batteries, 96 x 15 min arbitrage)",
        "",
        f"Run {info['date_utc']} UTC on {info['cpu']}, {info['cores']} cores (shared with other "
        f"jobs), Python {info['python']}. Same problem, same run; FlexMeasures 1.0.1 with highspy.",
        "",
        "| N | FlexMeasures [s] | anchor [s] | ours, aggregated [s] | speed-up | ours, one model "
        "battery per asset [s] | speed-up | cost FM | cost ours | rel. diff |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows = report["rows"]
    assert isinstance(rows, list)
    for row in rows:
        peer = row["flexmeasures"] or {}
        lines.append(
            f"| {row['n']} | {_fmt(peer.get('seconds'), '{:.2f}')} | "
            f"{_fmt(ANCHORS.get(row['n']), '{:.1f}')} | {row['ours']['seconds']:.3f} | "
            f"{_fmt(row.get('speedup'), '{:.0f}x')} | {row['ours_no_aggregation']['seconds']:.3f} | "
            f"{_fmt(row.get('speedup_no_aggregation'), '{:.1f}x')} | {_fmt(peer.get('cost'), '{:.2f}')} | "
            f"{row['ours']['cost_fm_units']:.2f} | {_fmt(row.get('cost_rel_diff'), '{:.1e}')} |"
        )
    big = report.get("big")
    if isinstance(big, dict):
        lines += [
            "",
            f"{big['n']} batteries, energy + FCR + aFRR up (target <= 10 s): "
            f"{big['seconds']:.2f} s to bids, schedule and per-asset plans "
            f"(+{big['setpoints_seconds']:.2f} s to materialise {big['n'] * 96} Setpoint objects).",
        ]
    lines += [
        "",
        "Times: FlexMeasures = its build + solve (printed by the peer script); ours = "
        "`solve_day_ahead` end to end (input checks, build, HiGHS, bid curves checked against the "
        "profile, per-asset plans). The peer's batteries are scaled copies in five sizes, so our "
        "default aggregation merges them exactly into one model battery; the 'one model battery "
        "per asset' column switches that off and is the like-for-like model size. FlexMeasures "
        "also adds a binary per device and step against simultaneous charge and discharge; our LP "
        "has none and reaches the same optimum on this (positive-price) problem.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
