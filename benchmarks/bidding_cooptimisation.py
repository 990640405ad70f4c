"""Energy + reserve co-optimisation against energy only, beside the stacking anchors O6 and O7.

A 1 MW / 2 MWh battery (85 % round trip, SoC window 0-100 %, 50 % at the start, each day ending
at >= 50 %) is replayed day by day through the full pipeline (``bidding.backtest``: bid, clear
at realised prices, re-dispatch, settle, SoC carried over) in three set-ups per market:

- ``energy``: day-ahead energy only;
- ``reserve``: reserve capacity only (the energy price is set to zero in forecast and settlement,
  so the battery has no reason to trade energy and earns only capacity payments);
- ``joint``: energy and reserves co-optimised (reserves need power and energy headroom).

Each set-up runs a naive chain (energy: epftoolbox standard naive; reserve prices: persistence of
D-1) and, beside it, perfect foresight. Uplift = joint / energy - 1; the "sum" column is
energy + reserve, the value if the services did not compete for the battery.

Markets:

- ``de-lu``: DE-LU 2021, greendcc hourly day-ahead prices spread to 15 min (the market's MTU since
  Oct 2025; in 2021 it was hourly), German FCR settlement capacity prices 2021 (regelleistung,
  tender 1, EUR/MW per 4-h block -> per hour), the ``de-lu`` profile (FCR symmetric, 4-h blocks,
  1 MW minimum and increment, 15 min sustain). 2021-04-30 is missing from the price file, so the
  year runs as two stretches (SoC reset to 50 % on 2021-05-01).
- ``ercot``: 2023-2024, HB_HUBAVG DAM SPP and DAM AS MCPC for REGUP, REGDN, RRS
  (``benchmarks/profiles/ercot.yaml``: hourly products, 1 h sustain assumed for all three, no
  deployment energy modelled).

Run: ``.venv/bin/python benchmarks/bidding_cooptimisation.py [--markets de-lu ercot]
[--days N] [--smoke]`` (``--smoke``: 14 days per market). Writes
``benchmarks/results/bidding_cooptimisation.{md,json}`` (``_smoke`` suffix for smoke runs).
"""

from __future__ import annotations

import argparse
import functools
import json
import platform
import time
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
from bidding_capture_epftoolbox import reference_battery
from bidding_speed_flexmeasures import machine

import bidding.backtest
from bidding.backtest import BacktestInputs, run_backtest
from bidding.problem import BidProblem
from vpp.domain.market import MarketProfile, load_market_profile
from vpp.domain.timegrid import to_grid

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DATA = SHARED / "data"
RESULTS = ROOT / "benchmarks" / "results"
ERCOT_PROFILE = ROOT / "benchmarks" / "profiles" / "ercot.yaml"
SETUPS = ("energy", "reserve", "joint")
SOLVES = ("exact_mip", "relax_and_fix", "auto")
EXACT_MIP = {"exact_mip": True, "relax_and_fix": False, "auto": None}
"""``BidProblem.exact_mip`` of each solve mode."""
# ERCOT's 0.1 MW increments make the exact MIP slow (~2 s a day) for at most 0.1 MW per hour
# and product of difference; it runs there only with --exact-mip-everywhere
MARKET_SOLVES = {"de-lu": SOLVES, "ercot": ("relax_and_fix", "auto")}
ERCOT_AS = {"regup": "REGUP ", "regdn": "REGDN", "rrs": "RRS"}  # product id -> column (verbatim)


def de_lu_prices() -> pd.Series:
    """greendcc DE-LU day-ahead [EUR/MWh] 2020-2021 on the 15-min UTC grid.

    Naive CET/CEST hours: the non-existent spring 02:00 row is dropped; the autumn 02:00 hour
    appears twice with one value 0.0 (an artefact), so both UTC hours take the other value.
    """
    frame = pd.read_csv(DATA / "prices" / "greendcc_DE-LU_2020_2024.csv.gz")
    naive = pd.DatetimeIndex(pd.to_datetime(frame["Datetime"]))
    price = frame["Price (EUR/MWh)"].to_numpy(float)
    keep = (naive.year <= 2021) & ~(naive.duplicated(keep=False) & (price == 0.0))
    local = naive[keep].tz_localize("Europe/Berlin", ambiguous=True, nonexistent="NaT")
    hourly = pd.Series(price[keep], index=local)
    hourly = hourly[hourly.index.notna()].tz_convert("UTC")
    hourly = hourly[~hourly.index.duplicated()]
    grid = pd.date_range(hourly.index[0], hourly.index[-1], freq="60min")
    # the standard-time instance of the repeated autumn hour (and one hour of any gap) is filled
    # from the hour before; a missing day stays incomplete and is skipped
    return to_grid(hourly.reindex(grid).ffill(limit=1), 15)


def de_fcr_prices() -> pd.DataFrame:
    """German FCR settlement capacity price 2021 [EUR/MW/h] on the 15-min UTC grid (column fcr)."""
    frame = pd.read_csv(DATA / "ancillary" / "regelleistung_fcr_results_2021.csv.gz", sep=";")
    frame = frame[frame["TENDER_NUMBER"] == 1]
    values: dict[pd.Timestamp, float] = {}
    profile = load_market_profile("de-lu")
    for _, row in frame.iterrows():
        day = pd.to_datetime(row["DATE_FROM"], format="%d-%m-%Y").date()
        first, last = (int(h) for h in row["PRODUCTNAME"].split("_")[1:3])
        per_h = float(str(row["DE_SETTLEMENTCAPACITY_PRICE_[EUR/MW]"]).replace(",", ".")) / 4
        for stamp in profile.day_intervals(day):
            local = stamp.tz_convert("Europe/Berlin")
            if first <= local.hour < last:
                values[stamp] = per_h
    return pd.DataFrame({"fcr": pd.Series(values).sort_index()})


def _ercot_start(day: pd.Series, hour_ending: pd.Series, repeated: pd.Series) -> pd.DatetimeIndex:
    """UTC interval starts from ERCOT's hour-ending local clock (repeated hour = standard time)."""
    hours = hour_ending.str.slice(0, 2).astype(int)
    naive = pd.DatetimeIndex(pd.to_datetime(day) + pd.to_timedelta(hours - 1, unit="h"))
    local = naive.tz_localize(
        "America/Chicago", ambiguous=~repeated.to_numpy(bool), nonexistent="NaT"
    )
    return local.tz_convert("UTC")


def ercot_prices() -> pd.Series:
    """HB_HUBAVG DAM SPP [USD/MWh] on the hourly UTC grid.

    Hour-ending naive Central time; the file has no row for the repeated autumn hour, which
    takes the price of the first occurrence.
    """
    frame = pd.read_csv(
        DATA / "prices" / "ercot_dam_spp_hubs_zones_2022_2025.csv.gz",
        usecols=["datetime_col", "HB_HUBAVG"],
    )
    end = pd.to_datetime(frame["datetime_col"])
    day = (end - pd.Timedelta(seconds=1)).dt.normalize()
    hour_ending = ((end - day) / pd.Timedelta(hours=1)).astype(int).map("{:02d}:00".format)
    start = _ercot_start(day, hour_ending, pd.Series(False, index=frame.index))
    series = pd.Series(frame["HB_HUBAVG"].to_numpy(float), index=start)
    series = series[series.index.notna()].sort_index()
    grid = pd.date_range(series.index[0], series.index[-1], freq="60min")
    return series.reindex(grid).ffill(limit=1)


def ercot_reserves() -> pd.DataFrame:
    """DAM AS MCPC [USD/MW/h] for REGUP, REGDN, RRS on the hourly UTC grid."""
    frame = pd.read_csv(DATA / "ancillary" / "ercot_dam_as_mcpc_2022_2025.csv.gz")
    start = _ercot_start(
        frame["Delivery Date"].map(lambda s: pd.to_datetime(s, format="%m/%d/%Y")),
        frame["Hour Ending"],
        frame["Repeated Hour Flag"] == "Y",
    )
    out = pd.DataFrame(
        {pid: frame[col].to_numpy(float) for pid, col in ERCOT_AS.items()}, index=start
    )
    return out[out.index.notna()].sort_index()


def stretches(prices: pd.Series, profile: MarketProfile, first: date, last: date) -> list:
    """Contiguous runs of days whose realised prices are complete."""
    runs: list[list[date]] = []
    day = first
    while day <= last:
        values = prices.reindex(profile.day_intervals(day))
        if values.notna().all():
            if runs and runs[-1][1] == day - timedelta(days=1):
                runs[-1][1] = day
            else:
                runs.append([day, day])
        day += timedelta(days=1)
    return runs


def run_setup(
    profile: MarketProfile,
    prices: pd.Series,
    reserves: pd.DataFrame,
    setup: str,
    runs: list,
    exact_mip: bool | None,
) -> dict[str, object]:
    """Naive and perfect-foresight chains of one set-up, summed over the stretches.

    ``exact_mip`` is ``BidProblem.exact_mip``: True solves the reserve increments as a MIP,
    False by relax-and-fix (LP, round capacity down to whole increments, LP again), None is the
    product default (the MIP for a few seconds, else the better of both). ``BacktestInputs`` has
    no switch for it, so the backtester's ``BidProblem`` is wrapped for the run.
    """
    energy = prices * 0.0 if setup == "reserve" else prices
    original = bidding.backtest.BidProblem
    bidding.backtest.BidProblem = functools.partial(BidProblem, exact_mip=exact_mip)  # type: ignore[misc]
    try:
        return _run_stretches(profile, energy, reserves, setup, runs)
    finally:
        bidding.backtest.BidProblem = original  # type: ignore[misc]


def _run_stretches(
    profile: MarketProfile, energy: pd.Series, reserves: pd.DataFrame, setup: str, runs: list
) -> dict[str, object]:
    total: dict[str, float] = {}
    by_product: dict[str, float] = {}
    t0 = time.perf_counter()
    for first, last in runs:
        result = run_backtest(
            BacktestInputs(
                profile=profile,
                assets=[reference_battery()],
                prices=energy,
                start=first,
                end=last,
                forecast="naive",
                reserve_prices=None if setup == "energy" else reserves,
            )
        )
        for key in (
            "days",
            "revenue",
            "perfect_foresight_revenue",
            "violations",
            "cycles",
            "perfect_foresight_cycles",
            "deviation_mwh",
        ):
            total[key] = total.get(key, 0.0) + float(result[key])  # type: ignore[arg-type]
        for key, value in result["revenue_by_product"].items():  # type: ignore[union-attr]
            by_product[key] = by_product.get(key, 0.0) + value
    total["seconds"] = time.perf_counter() - t0
    return {
        **total,
        "revenue_by_product": by_product,
        "stretches": [[a.isoformat(), b.isoformat()] for a, b in runs],
    }


def run_market(market: str, days: int | None, solves: tuple[str, ...]) -> dict[str, object]:
    if market == "de-lu":
        profile = load_market_profile("de-lu")
        prices, reserves = de_lu_prices(), de_fcr_prices()
        first, last = date(2021, 1, 1), date(2021, 12, 31)
    else:
        profile = load_market_profile(ERCOT_PROFILE)
        prices, reserves = ercot_prices(), ercot_reserves()
        first, last = date(2023, 1, 1), date(2024, 12, 31)
    if days is not None:
        last = min(last, first + timedelta(days=days - 1))
    runs = stretches(prices, profile, first, last)
    out: dict[str, object] = {
        "market": market,
        "currency": profile.currency,
        "start": first.isoformat(),
        "end": last.isoformat(),
        "products": list(reserves.columns),
    }
    out["solves"] = list(solves)
    for solve in solves:
        block: dict[str, object] = {}
        for setup in SETUPS:
            if setup == "energy" and solve != solves[0]:
                block[setup] = out[solves[0]]["energy"]  # type: ignore[index]
                continue  # no integer variables without reserves: the same run
            block[setup] = row = run_setup(profile, prices, reserves, setup, runs, EXACT_MIP[solve])
            print(
                market,
                solve,
                setup,
                f"naive {row['revenue']:.0f}",
                f"perfect {row['perfect_foresight_revenue']:.0f}",
                f"violations {row['violations']:.0f}",
                f"{row['seconds']:.0f}s",
                flush=True,
            )
        out[solve] = block
    return out


def uplift(block: dict[str, dict[str, float]], key: str) -> dict[str, float]:
    """Joint against energy only, against the best single service and against their sum."""
    energy, reserve, joint = (float(block[s][key]) for s in SETUPS)
    return {
        "energy": energy,
        "reserve": reserve,
        "joint": joint,
        "sum": energy + reserve,
        "uplift_vs_energy": joint / energy - 1 if energy > 0 else float("nan"),
        "uplift_vs_best_single": joint / max(energy, reserve) - 1,
        "joint_over_sum": joint / (energy + reserve),
    }


ANCHORS = (
    "| O6 | energy + frequency regulation co-optimisation | bill -12 % (v3; -15 % in another "
    "version), joint gain superlinear (joint > sum of parts) | [P] | commercial/data-centre "
    "load, peak shaving + PJM-style regulation signal: a different set-up |\n"
    "| O7 | stacking uplift, NPV per EUR invested | peak shaving + FCR 1.00 -> + intraday "
    "arbitrage 1.24 (+24 %) | [S] | German BTM battery with degradation model, rolling horizon: "
    "a different set-up |"
)


def markdown(report: dict[str, object]) -> str:
    info = report["machine"]
    assert isinstance(info, dict)
    lines = [
        "# Energy + reserve co-optimisation vs energy only (1 MW / 2 MWh battery, 85 % RTE)",
        "",
        f"Run {info['date_utc']} UTC on {info['cpu']} ({info['arch']}), {info['cores']} cores "
        f"(shared), Python {info['python']}. Full pipeline per day: bid, clear at realised "
        "prices, re-dispatch, settle; SoC carried day to day.",
        "",
        "| market | period | days | reserve solve | forecast | energy only | reserve only "
        "| energy + reserve | uplift vs energy | uplift vs best single "
        "| joint / (energy + reserve) | violations |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    runs = report["runs"]
    assert isinstance(runs, list)
    for run in runs:
        for solve in run["solves"]:
            block = run[solve]
            violations = sum(int(block[s]["violations"]) for s in SETUPS)
            for label, key in (("perfect", "perfect_foresight_revenue"), ("naive", "revenue")):
                u = uplift(block, key)
                lines.append(
                    f"| {run['market']} | {run['start']} – {run['end']} | "
                    f"{block['energy']['days']:.0f} | {solve} | {label} | "
                    f"{u['energy']:,.0f} {run['currency']} | {u['reserve']:,.0f} | "
                    f"{u['joint']:,.0f} | {100 * u['uplift_vs_energy']:+.1f} % | "
                    f"{100 * u['uplift_vs_best_single']:+.1f} % | {u['joint_over_sum']:.2f} | "
                    f"{violations} |"
                )
    lines += [
        "",
        "Revenue by line, naive chain (currency), equivalent full cycles, wall time:",
        "",
        "| market | solve | set-up | lines | cycles | s |",
        "|---|---|---|---|---|---|",
    ]
    for run in runs:
        for solve in run["solves"]:
            for setup in SETUPS:
                row = run[solve][setup]
                parts = ", ".join(f"{k} {v:,.0f}" for k, v in row["revenue_by_product"].items())
                lines.append(
                    f"| {run['market']} | {solve} | {setup} | {parts} | {row['cycles']:.0f} | "
                    f"{row['seconds']:.0f} |"
                )
    lines += [
        "",
        "## Anchors (not the same set-up: compare the direction and rough size only)",
        "",
        "| # | metric | published value | tag | why it differs |",
        "|---|---|---|---|---|",
        ANCHORS,
        "",
        "## Assumptions",
        "",
        *[f"- {note}" for note in report["notes"]],  # type: ignore[union-attr]
        "",
    ]
    return "\n".join(lines)


NOTES = [
    "`exact_mip`: reserve capacity in whole increments solved as a MIP (BidProblem.exact_mip); "
    "`relax_and_fix`: LP, capacity rounded down to whole increments, LP again. With a 1 MW "
    "battery and FCR's 1 MW increment, rounding down drops the whole offer whenever the relaxed "
    "optimum holds 0 < FCR < 1 MW. `auto` (the product default since 2026-11-23): the MIP "
    "within 5 s per day; if not proven optimal by then, the better of it and relax-and-fix.",
    "`reserve only` sets the energy price to zero in forecast and settlement; the battery then "
    "holds the reserve it can (capacity payments only). No activation energy is settled.",
    "DE-LU: 2021 hourly day-ahead prices spread to 15 min (each quarter-hour takes its hour's "
    "price); the de-lu profile's 15-min MTU, 0.1 MW tick and FCR rules (4-h blocks, 1 MW minimum "
    "and increment, 15 min sustain at both ends of every interval, no expected activation energy) "
    "are today's, applied to 2021 prices. FCR price = DE settlement capacity price, tender 1, "
    "divided by 4 h. 2021-04-30 is missing from the price file: the year runs as two stretches.",
    "DE-LU naive chain, 2021-01-01: no FCR price of 2020-12-31 to persist, so no FCR offered that "
    "day in the naive chain (perfect foresight has it).",
    "ERCOT: HB_HUBAVG DAM SPP and DAM MCPC for REGUP, REGDN, RRS (USD/MW per hour), hour-ending "
    "Central time converted to UTC interval starts; the repeated autumn hour missing from the "
    "SPP file takes the first occurrence's price. Sustain 1 h for REGUP, REGDN and RRS is an "
    "assumption (ERCOT's ESR duration rule under RTC+B), as is zero expected deployment energy "
    "(regulation energy roughly nets out; RRS deploys only in frequency events). ECRS and "
    "Non-Spin are not offered. Deviations settle at the DAM price (no RT series).",
    "Reserve offers are pay-as-cleared at the product's price floor, so they always clear; the "
    "naive chain forecasts reserve prices by persistence of D-1.",
    "Perfect foresight of reserve prices is unrealistic for the ERCOT spikes (up to ~4,000 "
    "USD/MW·h); the naive rows show what persistence captures.",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markets", nargs="+", default=["de-lu", "ercot"])
    parser.add_argument("--days", type=int, default=None, help="first N days per market")
    parser.add_argument("--smoke", action="store_true", help="14 days per market")
    parser.add_argument("--exact-mip-everywhere", action="store_true")
    parser.add_argument("--name", default=None, help="result file stem (default by mode)")
    args = parser.parse_args()
    days = 14 if args.smoke else args.days
    runs = [
        run_market(m, days, SOLVES if args.exact_mip_everywhere else MARKET_SOLVES[m])
        for m in args.markets
    ]
    info = {**machine(), "arch": platform.machine()}
    report = {"machine": info, "days_limit": days, "runs": runs, "notes": NOTES}
    for run in runs:
        run["uplift"] = {
            solve: {
                "perfect": uplift(run[solve], "perfect_foresight_revenue"),
                "naive": uplift(run[solve], "revenue"),
            }
            for solve in run["solves"]
        }
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = args.name or ("bidding_cooptimisation" + ("_smoke" if args.smoke else ""))
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2, default=str))
    (RESULTS / f"{name}.md").write_text(markdown(report))


if __name__ == "__main__":
    main()
