"""Virtual batteries: revenue lost and time saved against the exact model, and 10k-100k fleets.

A fleet of unlike batteries (eight catalogue products: 0.1-2 MW, 1-4 h, RTE 0.82-0.90, each
member with its own initial state of charge drawn U(0.2, 0.8) and its own degradation cost)
bids one real DE-LU day (2021-05-05, day-ahead prices from greendcc, FCR from regelleistung)
with perfect foresight of that day's prices.

1. Loss: energy only, N = 2,000, solved exactly (every member its own variables after exact
   aggregation of identical members) and with K = 200, 400 and 800 virtual batteries. The
   virtual model is an inner approximation, so its revenue is never above the exact one; the
   table gives the loss in per cent, and checks every member's plan (SoC window, power,
   end-of-day target) on the derived schedules.
2. Scale: energy + FCR (or energy only, ``--scale-products energy``) for N = 10,000 and
   100,000 with the default K, timed end to end
   (grouping, solve, per-member disaggregation). Target: 100,000 batteries within 60 s at a
   loss of at most 1 %.

Run: ``.venv/bin/python benchmarks/bidding_virtual.py [--sizes 10000 100000] [--smoke]``.
Writes ``benchmarks/results/bidding_virtual.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
from bidding_cooptimisation import de_fcr_prices, de_lu_prices

from bidding import BidProblem, solve_day_ahead
from bidding.aggregation import VIRTUAL_GROUPS
from vpp.domain.assets import BatterySpec
from vpp.domain.market import MarketProfile, load_market_profile

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DAY = date(2021, 5, 5)
# (MW, hours, round-trip efficiency): a catalogue of commercial and industrial products
PRODUCTS = [
    (0.1, 2.0, 0.88),
    (0.25, 2.0, 0.88),
    (0.5, 1.0, 0.90),
    (0.5, 2.0, 0.87),
    (1.0, 2.0, 0.86),
    (1.0, 4.0, 0.85),
    (2.0, 2.0, 0.86),
    (2.0, 4.0, 0.82),
]


def fleet(n: int, seed: int = 0) -> list[BatterySpec]:
    """N batteries of the catalogue, each at its own initial SoC and degradation cost."""
    rng = np.random.default_rng(seed)
    kinds = rng.integers(0, len(PRODUCTS), n)
    soc = rng.uniform(0.2, 0.8, n)
    wear = rng.uniform(1.0, 8.0, n)
    out = []
    for i in range(n):
        p, hours, rte = PRODUCTS[int(kinds[i])]
        out.append(
            BatterySpec(
                id=f"b{i}",
                power_mw=p,
                energy_mwh=p * hours,
                round_trip_efficiency=rte,
                soc_min=0.1,
                soc_max=0.9,
                soc_initial=float(soc[i]),
                degradation_cost_per_mwh=float(np.round(wear[i], 1)),
            )
        )
    return out


def day_prices(profile: MarketProfile) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The day's DA prices [EUR/MWh] (one scenario) and FCR capacity price [EUR/MW/h]."""
    intervals = profile.day_intervals(DAY)
    da = de_lu_prices().reindex(intervals).to_numpy(float)
    fcr = de_fcr_prices()["fcr"].reindex(intervals).to_numpy(float)
    return da[None, :], {"fcr": fcr}


def problem(
    profile: MarketProfile,
    assets: list[BatterySpec],
    prices: np.ndarray,
    reserves: dict[str, np.ndarray],
    virtual_groups: int | None,
) -> BidProblem:
    limit = float(sum(a.power_mw for a in assets))
    return BidProblem(
        profile,
        assets,
        profile.day_intervals(DAY),
        prices,
        reserve_prices=reserves,
        import_limit_mw=limit,
        export_limit_mw=limit,
        virtual_groups=virtual_groups,
    )


def member_violations(assets: list[BatterySpec], result: object) -> int:
    """Members whose derived SoC leaves their window or ends below their start [count]."""
    soc = result.assets["soc_mwh"]  # type: ignore[attr-defined]
    power = result.assets["power_mw"]  # type: ignore[attr-defined]
    bad = 0
    for a in assets:
        s = soc[a.id].to_numpy(float)
        lo, hi = a.soc_min * a.energy_mwh, a.soc_max * a.energy_mwh
        outside = s.min() < lo - 1e-5 or s.max() > hi + 1e-5
        short = s[-1] < a.soc_initial * a.energy_mwh - 1e-5
        over = np.abs(power[a.id].to_numpy(float)).max() > a.power_mw + 1e-6
        bad += int(outside or short or over)
    return bad


def timed(p: BidProblem) -> tuple[object, float]:
    start = time.perf_counter()
    result = solve_day_ahead(p)
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loss-size", type=int, default=2_000)
    parser.add_argument("--groups", type=int, nargs="+", default=[200, 400, 800])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument(
        "--scale-products",
        choices=["energy", "energy+fcr"],
        default="energy+fcr",
        help="what the scale runs offer",
    )
    parser.add_argument("--smoke", action="store_true", help="N=60, K=4/8, no scale run")
    parser.add_argument("--out", type=Path, default=RESULTS / "bidding_virtual")
    args = parser.parse_args()
    if args.smoke:
        args.loss_size, args.groups, args.sizes = 60, [4, 8], []
    profile = load_market_profile("de-lu")
    prices, fcr = day_prices(profile)
    loss_rows = []
    assets = fleet(args.loss_size)
    exact, t_exact = timed(problem(profile, assets, prices, {}, 0))
    loss_rows.append(
        {
            "groups": "exact",
            "revenue_eur": exact.expected_revenue,
            "seconds": t_exact,  # type: ignore[attr-defined]
            "loss_pct": 0.0,
            "violations": member_violations(assets, exact),
        }
    )
    print(f"exact N={args.loss_size}: {exact.expected_revenue:,.0f} EUR in {t_exact:.1f} s")  # type: ignore[attr-defined]
    for k in args.groups:
        virtual, seconds = timed(problem(profile, assets, prices, {}, k))
        revenue = virtual.expected_revenue  # type: ignore[attr-defined]
        loss = 100 * (1 - revenue / exact.expected_revenue)  # type: ignore[attr-defined]
        loss_rows.append(
            {
                "groups": k,
                "revenue_eur": revenue,
                "seconds": seconds,
                "loss_pct": loss,
                "violations": member_violations(assets, virtual),
            }
        )
        print(f"K={k}: {revenue:,.0f} EUR (-{loss:.2f} %) in {seconds:.1f} s")
    scale_rows: list[dict] = []
    write(args, loss_rows, scale_rows)
    for n in args.sizes:
        big = fleet(n, seed=1)
        start = time.perf_counter()
        reserves = fcr if args.scale_products == "energy+fcr" else {}
        result = solve_day_ahead(problem(profile, big, prices, reserves, None))
        seconds = time.perf_counter() - start
        fcr_mw = float(result.schedule.get("reserve_fcr_mw", np.zeros(1)).max())
        scale_rows.append(
            {
                "batteries": n,
                "products": args.scale_products,
                "groups": VIRTUAL_GROUPS,
                "seconds": seconds,
                "revenue_eur": result.expected_revenue,
                "fcr_max_mw": fcr_mw,
                "violations": member_violations(big, result),
            }
        )
        print(f"N={n}: {result.expected_revenue:,.0f} EUR in {seconds:.1f} s")
        write(args, loss_rows, scale_rows)  # each size as it finishes


def write(args: argparse.Namespace, loss_rows: list[dict], scale_rows: list[dict]) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    where = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    load = os.getloadavg()[0]
    lines = [
        "# Virtual batteries: loss against the exact model, and large fleets",
        "",
        f"Run {stamp} on {where}; 1-minute load {load:.2f} at the end. DE-LU {DAY}, real "
        "day-ahead and FCR prices, perfect foresight; batteries of eight catalogue products at "
        "their own initial SoC. `violations` = members whose derived plan leaves their SoC "
        "window, power range or end-of-day target (must be 0).",
        "",
        f"## Loss, energy only, N = {args.loss_size:,}",
        "",
        "| model | revenue [EUR] | loss [%] | seconds | violations |",
        "|---|---|---|---|---|",
    ]
    for r in loss_rows:
        name = "exact" if r["groups"] == "exact" else f"K = {r['groups']}"
        lines.append(
            f"| {name} | {r['revenue_eur']:,.0f} | {r['loss_pct']:.2f} | {r['seconds']:.1f} "
            f"| {r['violations']} |"
        )
    lines += [
        "",
        "## Scale, default K (target: 100,000 batteries <= 60 s)",
        "",
        "| batteries | products | K | seconds | revenue [EUR] | FCR max [MW] | violations |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in scale_rows:
        lines.append(
            f"| {r['batteries']:,} | {r['products']} | {r['groups']} | {r['seconds']:.1f} | {r['revenue_eur']:,.0f} "
            f"| {r['fcr_max_mw']:.1f} | {r['violations']} |"
        )
    out: Path = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    report = {
        "run": stamp,
        "machine": where,
        "day": DAY.isoformat(),
        "loss": loss_rows,
        "scale": scale_rows,
    }
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
