"""Asset-by-asset bidding against the joint model on dissimilar park fleets.

The fleets are those of ``benchmarks/live_park_scale.py`` (every kind, continuous parameter
spread, one seed), at 10 assets per enterprise, with synthetic forecasts of the scale
benchmark's day: a DE-LU-shaped price day with 9 comonotone scenarios, FCR at 9 EUR/MW/h for
every asset, clear-sky PV, the tenants' mid load as base load, the park limits of the fleet.

For each size: the decomposed bid (``decompose=True``, else the service's defaults; by default
the service decomposes beyond 40 model groups) and, side by side in the same run, the joint model's LP relaxation (every integer relaxed:
reserve increments and curtailment events) as the upper bound on what any bid can expect to
earn, with a time limit; at every size, also the separable bound (each asset alone, no coupling
row, relaxed event rules: another relaxation, not nested with the joint LP's, and it solves at
any size); the gap to the lower of the two bounds is the one to quote. The gap is reported on the *flexibility value*: expected revenue
minus that of the same park with no flexible asset (its base load bought at the expected
price), since the base load's cost is the same for every bid.

    python benchmarks/bidding_decomposition.py --sizes 20 50 100 500 --joint-limit 600
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import TypeAdapter
from scipy.stats import norm

sys.path.insert(0, str(Path(__file__).resolve().parent))

from forecasting_datasets import machine
from live_park_scale import build_fleet

from bidding import BidProblem, solve_day_ahead
from bidding.aggregation import group_assets
from bidding.decompose import piece_prep
from bidding.model import build_model
from bidding.model.backend import solve_lp
from bidding.problem import prepare
from vpp.domain.assets import AssetSpec
from vpp.domain.market import load_market_profile

DAY = date(2021, 5, 5)
SEED = 20210505
OUT = Path(__file__).resolve().parent / "results" / "bidding_decomposition"


def problem_for(assets_per_park: int, seed: int = SEED) -> BidProblem:
    """The scale fleet of ``assets_per_park`` assets and its synthetic day."""
    fleet = build_fleet(max(1, assets_per_park // 10), 10, seed, (60, 90), 0)
    adapter = TypeAdapter(AssetSpec)
    assets = [adapter.validate_python(a["spec"]) for a in fleet.assets()][:assets_per_park]
    profile = load_market_profile("de-lu")
    intervals = profile.day_intervals(DAY)
    hours = np.arange(len(intervals)) / 4
    price = 60 + 25 * np.sin((hours - 8) / 24 * 2 * np.pi) + 15 * np.cos(hours / 12 * 2 * np.pi)
    levels = np.linspace(0.1, 0.9, 9)
    scenarios = np.array([price + 12 * norm.ppf(q) for q in levels])
    sun = np.clip(np.sin((hours - 6) / 14 * np.pi), 0, None)
    renewables = {a.id: a.capacity_mw * 0.8 * sun for a in assets if a.type == "pv"}
    base = sum(t.load_base_mw + 0.5 * (t.load_peak_mw - t.load_base_mw) for t in fleet.tenants)
    return BidProblem(
        profile=profile,
        assets=assets,
        intervals=intervals,
        price_scenarios=scenarios,
        base_load_mw=np.full(len(intervals), base),
        renewable_mw=renewables,
        reserve_prices={"fcr": np.full(len(intervals), 9.0)},
        import_limit_mw=fleet.park["import_limit_mw"],
        export_limit_mw=fleet.park["export_limit_mw"],
        reserve_eligible={a.id: {"fcr"} for a in assets},
    )


def joint_bound(problem: BidProblem, limit_s: float) -> tuple[float | None, float]:
    """The joint model's LP relaxation value (``None`` if not solved in ``limit_s``) and time."""
    prep = prepare(problem)
    groups = group_assets(prep.assets, True, problem.reserve_eligible, None)
    started = time.perf_counter()
    ctx = build_model(prep, groups)
    solution = solve_lp(ctx.lp, problem.solver, limit_s, relax_integers=True)
    seconds = time.perf_counter() - started
    if solution.status != "optimal":
        return None, seconds
    return ctx.expected_profit(solution.x), seconds


def separable_bound(problem: BidProblem) -> tuple[float, float]:
    """An upper bound at any size: every asset alone with no coupling row (no park limit, no
    monotonicity), relaxed events, reserves in any MW and each scenario's own battery path
    (no deliverable-curve rows, which assume monotone positions). The joint model is this plus
    rows, so it can earn no more. Returns (value, seconds)."""
    relaxed = replace(
        problem,
        exact_events=False,
        deliverable_curves=False,
        import_limit_mw=np.inf,
        export_limit_mw=np.inf,
    )
    prep = prepare(relaxed)
    alone = piece_prep(prep)
    started = time.perf_counter()
    total = -float(prep.weights @ (prep.prices * prep.base_load * prep.dt_h).sum(axis=1))
    for group in group_assets(prep.assets, True, relaxed.reserve_eligible, None):
        ctx = build_model(alone, [group], monotone=False)
        solution = solve_lp(ctx.lp, relaxed.solver, None, relax_integers=True)
        assert solution.status == "optimal", (group.id, solution.status)
        total += ctx.expected_profit(solution.x)
    return total, time.perf_counter() - started


def measure(size: int, joint_limit_s: float) -> dict[str, Any]:
    problem = problem_for(size)
    idle = solve_day_ahead(replace(problem, assets=[], renewable_mw={})).expected_revenue
    started = time.perf_counter()
    result = solve_day_ahead(replace(problem, decompose=True))
    split_s = time.perf_counter() - started
    bound, joint_s = (None, 0.0) if joint_limit_s <= 0 else joint_bound(problem, joint_limit_s)
    value = result.expected_revenue - idle
    separable, separable_s = separable_bound(problem)
    best = separable if bound is None else min(bound, separable)
    row: dict[str, Any] = {
        "assets": size,
        "decomposed_s": round(split_s, 2),
        "flexibility_value_eur": round(value, 2),
        "fcr_offer_mwh": round(float(result.schedule["reserve_fcr_mw"].sum() / 4), 2),
        "joint_bound_eur": None if bound is None else round(bound - idle, 2),
        "joint_lp_s": round(joint_s, 2),
        "gap_to_bound": None
        if bound is None
        else round((bound - idle - value) / abs(bound - idle), 5),
        "separable_bound_eur": round(separable - idle, 2),
        "separable_s": round(separable_s, 2),
        "gap_to_separable": round((separable - idle - value) / abs(separable - idle), 5),
        "gap_to_best_bound": round((best - idle - value) / abs(best - idle), 5),
        "joint_fallback": any("joint model" in note for note in result.notes),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2),
    }
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 50, 100, 500])
    parser.add_argument("--joint-limit", type=float, default=600.0)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    rows = [measure(size, args.joint_limit if size <= 200 else 0.0) for size in args.sizes]
    report = {"machine": machine(), "argv": sys.argv[1:], "rows": rows}
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2))
    args.out.with_suffix(".md").write_text(markdown(report))


def markdown(report: dict[str, Any]) -> str:
    """The result table, with where and when it ran."""
    m = report["machine"]
    lines = [
        "# Asset-by-asset bidding against the joint model (dissimilar scale fleets)",
        "",
        f"Run {m.get('date_utc', '')} on {m.get('machine', '')}, {m.get('nproc', '')} cores, "
        f"Python {m.get('python', '')}: `python benchmarks/bidding_decomposition.py "
        f"{' '.join(report['argv'])}`. Fleets of `live_park_scale.py` (seed {SEED}), 9 price "
        "scenarios, FCR for every asset. Values are flexibility values [EUR/day]: expected "
        "revenue minus the park with no flexible asset (negative where the fleet's own loads "
        "cost more than it earns); gaps are over the bound's magnitude. Gaps are to the lower of the two upper "
        "bounds (the joint LP relaxation where it solves within the limit, the separable "
        "relaxation always).",
        "",
        "| assets | decomposed [s] | value | joint LP bound | joint LP [s] | separable bound "
        "| separable [s] | gap to best bound | FCR offered [MWh] | peak RSS [GB] |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["rows"]:
        joint = "not solved" if r["joint_bound_eur"] is None else f"{r['joint_bound_eur']:,.0f}"
        lines.append(
            f"| {r['assets']} | {r['decomposed_s']} | {r['flexibility_value_eur']:,.0f} | {joint} "
            f"| {r['joint_lp_s'] or '-'} | {r['separable_bound_eur']:,.0f} | {r['separable_s']} "
            f"| {100 * r['gap_to_best_bound']:.2f} % | {r['fcr_offer_mwh']} | {r['peak_rss_gb']} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
