"""Day-ahead PV and wind forecasts on real plants, scored against published anchors.

Two rolling-origin backtests with the service's own models and backtest code
(:func:`forecasting.backtest_day_ahead`), issued at 10:00 local time on D-1, hourly:

* PV: UNISOLAR site 25 (La Trobe University, Bundoora, 384.12 kWp), 2021, with the dataset's
  hourly GHI for the Bundoora campus as the weather input. That GHI is *measured* (or
  satellite-estimated) irradiance for the day itself, not a forecast issued on D-1, so the
  weather-driven scores are an optimistic upper bound; a run of ``pv_lgbm`` without weather and
  the clear-sky-index persistence (``pv_physics``) are the honest day-ahead figures.
* Wind: ENGIE La Haute Borne (4 x 2.05 MW = 8.2 MW), 2014-2015, farm power = sum of the four
  turbines. Weather input: ERA5 100 m wind speed at the site (reanalysis, i.e. the analysed
  weather of the day, not a forecast: still flattering, but less than the turbines' own
  anemometers, which are run as a second, clearly labelled variant).

Errors are normalised by nameplate capacity (nMAE, nRMSE, pinball). Skill is
``1 - RMSE / RMSE_ref`` against persistence (wind: the last hourly value before the issue time
held over D; PV: ``naive_daily``, the same clock time on the latest known earlier day) and,
for PV, against smart persistence (clear-sky-index persistence, the library's ``pv_physics``).
Anchors F11, F12, F14, F15 come from reference/performance-anchors.md.

Run: ``.venv/bin/python benchmarks/forecasting_renewables.py`` (``--smoke`` runs two weeks of
each). Writes ``benchmarks/results/forecasting_renewables.{md,json,png}``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from forecasting_datasets import machine
from forecasting_renewables_data import (
    PV_CAPACITY_KW,
    PV_SITE,
    PV_TZ,
    WIND_CAPACITY_MW,
    WIND_TZ,
    last_value_persistence,
    read_pv,
    read_wind,
    score_variant,
)
from matplotlib.figure import Figure

from forecasting import BacktestResult, backtest_day_ahead
from forecasting.pv import clearsky_power

RESULTS = Path(__file__).resolve().parent / "results"
ISSUE_CLOCK = "10:00"
QUANTILES = (0.1, 0.5, 0.9)

#: Published anchors (reference/performance-anchors.md), shown next to our figures.
ANCHORS: list[dict[str, str]] = [
    {
        "id": "F12",
        "what": "PV day-ahead point forecast with NWP, two 1 MWp plants, California 2011-2014 "
        "(Larson et al. 2016)",
        "value": "nRMSE 10.3-14.0 % of nameplate; skill 13-23 % vs persistence",
    },
    {
        "id": "F11",
        "what": "GEFCom2014 solar, 3 small Australian systems, hourly, ECMWF NWP, pinball "
        "averaged over 99 percentiles",
        "value": "pinball 0.012 of capacity (winner), benchmark 0.038",
    },
    {
        "id": "F15",
        "what": "GEFCom2014 wind, 10 Australian farms, deterministic day-ahead",
        "value": "nMAE 0.108, nRMSE 0.160 of capacity",
    },
    {
        "id": "F14",
        "what": "GEFCom2014 wind, 10 farms, ECMWF u/v 10 m & 100 m, pinball over 99 percentiles",
        "value": "pinball 0.037 of capacity (winner), benchmark 0.087",
    },
]


#: What differs from the anchors, printed under the table.
NOTES: list[str] = [
    "Weather inputs are not forecasts. PV uses the dataset's hourly GHI and cloud opacity "
    "for day D itself (measured or satellite-estimated actuals), wind uses ERA5 reanalysis "
    "(main) or the turbines' own anemometers (second block). Anchors F11, F12, F14, F15 "
    "use NWP forecasts issued the day before. The weather-driven rows are therefore an "
    "upper bound on day-ahead skill; the SCADA-wind rows especially (the power curve of "
    "the farm's own anemometers is close to a nowcast).",
    "Honest day-ahead PV figures without weather: `pv_physics` (clear-sky-index "
    "persistence, = smart persistence) and `pv_lgbm` in the `none` block.",
    "Persistence: PV `naive_daily` (same clock time on the latest day known at the issue "
    "time); wind: the last hourly farm value before the 10:00 D-1 issue held flat over D "
    "(14-38 h ahead). Smart persistence (PV): clear-sky-index persistence, the library's "
    "`pv_physics`. Skills are RMSE-based like F12 (Larson et al. use RMSE skill).",
    "Sites: one 384 kWp rooftop system in Melbourne (F12: two 1 MWp plants in California, "
    "F11: three small Australian systems); one 8.2 MW French farm of 4 turbines (F14/F15: "
    "10 Australian farms). Single-site errors are larger than farm or regional aggregates.",
    "Resolution hourly for both targets (PV measured at 15 min, summed to hourly kW means; "
    "wind 10-min SCADA averaged to hourly farm MW). F11/F14/F15 are hourly too.",
    "Pinball: ours is the mean over three quantiles (P10, P50, P90); GEFCom2014 averages 99 "
    "percentiles (1..99). For a calibrated Gaussian forecast the three-level mean is 12 % "
    "lower than the 99-percentile mean, so our pinball flatters us by about that much. PV "
    "`all` includes night hours (error about 0 for every model, which dilutes normalised "
    "errors); `day` drops hours with the sun below the horizon.",
    f"PV orientation is not in the site file: tilt {PV_SITE.tilt_deg:.0f} deg, azimuth "
    f"{PV_SITE.azimuth_deg:.0f} deg (north) is assumed for the clear-sky model. PV night "
    "NaNs are read as 0; daytime NaNs are gaps (hour kept only if all four quarter-hours "
    "exist). Wind hours count only if all four turbines report all six 10-min values; "
    "no curtailment or availability filter is applied (the plant-meter file has them).",
    "ERA5 speeds are instantaneous on the hour; each hourly interval gets the mean of its two "
    "bounding values. Farm power correlates slightly better with ERA5 one hour later (0.831 "
    "vs 0.819), a small phase offset of the reanalysis that was left uncorrected.",
    "Training uses only data before each issue time; PV history starts 2021-01-01, so "
    "early test days train on 2-3 months only. Wind trains on 2014 onward (LightGBM on "
    "the last 240 days, the power curve on the last 90 days).",
]


@dataclass(frozen=True)
class Variant:
    """One backtest run: a target, its weather input and the models to compare."""

    key: str
    label: str
    target: str
    tz: str
    exog: tuple[str, ...]
    models: tuple[str, ...]
    weather: str


def _cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (or the platform string)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


# --------------------------------------------------------------------------- report


def _pct(value: float | None) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{100 * value:.1f}"


def _num(value: float | None, digits: int = 4) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def _model(payload: dict[str, Any], key: str, subset: str, name: str) -> dict[str, Any]:
    """Scores of model ``name`` in variant ``key`` on ``subset`` hours."""
    variant = next(v for v in payload["variants"] if v["key"] == key)
    scores: dict[str, Any] = variant["scores"][subset]["models"][name]
    return scores


def findings(payload: dict[str, Any]) -> list[str]:
    """Plain-language reading of the headline numbers against the anchors."""
    honest = _model(payload, "pv_none", "all_hours", "pv_lgbm")
    honest_day = _model(payload, "pv_none", "daylight", "pv_lgbm")
    smart = _model(payload, "pv_none", "all_hours", "pv_physics")
    ghi = _model(payload, "pv_ghi", "all_hours", "pv_lgbm")
    curve = _model(payload, "wind_era5", "all_hours", "wind_curve")
    lgbm = _model(payload, "wind_era5", "all_hours", "wind_lgbm")
    scada = _model(payload, "wind_scada", "all_hours", "wind_curve")
    return [
        f"PV without weather (an honest day-ahead set-up): `pv_lgbm` nRMSE "
        f"{_pct(honest['nrmse'])} % of nameplate over all hours ({_pct(honest_day['nrmse'])} % "
        f"over daylight hours), skill {_pct(honest['skill_vs_persistence'])} % vs persistence "
        f"and {_pct(honest['skill_vs_smart_persistence'])} % vs smart persistence; smart "
        f"persistence (`pv_physics`) alone: nRMSE {_pct(smart['nrmse'])} %, skill "
        f"{_pct(smart['skill_vs_persistence'])} % vs persistence. The all-hours numbers sit "
        "inside F12's 10.3-14.0 % / 13-23 % band although F12 had NWP and we have none; "
        "whether F12 counts night hours is not recorded in the anchor file, and the daylight "
        "figures are well above it, so treat the match as loose. Pinball "
        f"{_num(honest['pinball'])} vs F11 0.012 (NWP-driven winner) and 0.038 (benchmark).",
        f"PV with the measured GHI of day D: `pv_lgbm` nRMSE {_pct(ghi['nrmse'])} %, pinball "
        f"{_num(ghi['pinball'])}. This is a nowcast of power from same-hour irradiance, not a "
        "day-ahead forecast; it shows the irradiance-to-power mapping works, not forecast "
        "skill, and must not be compared with F11/F12.",
        f"Wind with ERA5 speed of D: `wind_curve` nMAE {_pct(curve['nmae'])} %, nRMSE "
        f"{_pct(curve['nrmse'])} %, pinball {_num(curve['pinball'])}, skill "
        f"{_pct(curve['skill_vs_persistence'])} % vs persistence; `wind_lgbm` nMAE "
        f"{_pct(lgbm['nmae'])} %, nRMSE {_pct(lgbm['nrmse'])} %. Both are better than F15 "
        "(10.8 % / 16.0 %) and F14 (0.037), which is what reanalysis instead of a day-ahead "
        "NWP forecast buys; a real forecast would add its own wind-speed error. The "
        "LightGBM correction does not beat the plain empirical power curve here.",
        f"Wind with the turbines' own anemometers: `wind_curve` nRMSE {_pct(scada['nrmse'])} "
        "% - a near-identity between measured wind and power, reported only to show how "
        "much measured inputs flatter the scores.",
        f"P10-P90 coverage is below the nominal 0.80 where it matters: wind "
        f"{_num(curve['coverage_80'], 3)} (`wind_curve`, ERA5), PV daylight "
        f"{_num(honest_day['coverage_80'], 3)} (`pv_lgbm`, no weather); PV all-hours coverage "
        "is inflated by night hours, which every band covers.",
    ]


def _markdown(payload: dict[str, Any]) -> str:
    run = payload["run"]
    lines = [
        "# Day-ahead PV and wind forecasts on real plants vs published anchors",
        "",
        f"Run {run['date']} ({run['date_utc']} UTC) on {run['cpu']}, {run['nproc']} cores "
        f"(shared), Python {run['python']}; {payload['seconds']:.0f} s wall in total.",
        f"Reproduce: `{payload['command']}`",
        "",
        f"Rolling origin, one forecast per market day D issued at {ISSUE_CLOCK} local time on "
        "D-1 from history cut at the issue time (`forecasting.backtest_day_ahead`); hourly "
        "intervals; LightGBM models refit at every issue time on the 240 days before it. "
        "Quantiles P10/P50/P90; point scores use the P50. n-scores are % of nameplate over "
        "the hours where every model of that block and the actual exist (night hours "
        "included for PV in `all`, excluded in `day`). Skill = 1 - RMSE / RMSE of the "
        "reference on the same hours. Pinball = mean over P10/P50/P90, divided by capacity.",
        "",
        "| target | period (days) | weather input on D | model | hours | nMAE % | nRMSE % "
        "| pinball / cap | P10-P90 cover | skill vs persistence % | skill vs smart pers. % |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for variant in payload["variants"]:
        for subset, block in variant["scores"].items():
            tag = "all" if subset == "all_hours" else "day"
            for name, m in block["models"].items():
                smart = m.get("skill_vs_smart_persistence")
                lines.append(
                    f"| {variant['label']} | {variant['start']}..{variant['end']} "
                    f"({variant['days']}) | {variant['weather']} | {name} | {tag} "
                    f"{block['rows']} | {_pct(m['nmae'])} | {_pct(m['nrmse'])} "
                    f"| {_num(m['pinball'])} | {_num(m['coverage_80'], 3)} "
                    f"| {_pct(m.get('skill_vs_persistence'))} | {_pct(smart)} |"
                )
    lines += [
        "",
        "Published anchors (reference/performance-anchors.md):",
        "",
        "| anchor | set-up | value |",
        "|---|---|---|",
    ]
    for anchor in ANCHORS:
        lines.append(f"| {anchor['id']} | {anchor['what']} | {anchor['value']} |")
    lines += ["", "## Reading", ""]
    lines += [f"- {line}" for line in findings(payload)]
    lines += ["", "## What differs from the anchors", ""]
    lines += [f"- {note}" for note in payload["notes"]]
    lines.append("")
    return "\n".join(lines)


def _plot(results: dict[str, BacktestResult], path: Path) -> None:
    """Last week of each target: actual, P50 of each model, P10-P90 of the LightGBM model."""
    figure = Figure(figsize=(11, 7.5), layout="constrained")
    axes = figure.subplots(len(results), 1, squeeze=False)[:, 0]
    for axis, (key, result) in zip(axes, results.items(), strict=True):
        shown = set(result.days[-7:])
        local = result.actual.index.tz_convert(result.tz)
        mask = np.array([t.date() in shown for t in local])
        times = local[mask].tz_localize(None)
        lgbm = next((n for n in result.forecasts if n.endswith("lgbm")), None)
        if lgbm is not None:
            band = result.forecasts[lgbm]
            axis.fill_between(
                times,
                band[0.1].to_numpy()[mask],
                band[0.9].to_numpy()[mask],
                alpha=0.25,
                label=f"{lgbm} P10-P90",
            )
        axis.plot(times, result.actual.to_numpy()[mask], color="black", lw=1.4, label="actual")
        for name, frame in result.forecasts.items():
            axis.plot(times, frame[0.5].to_numpy()[mask], lw=0.9, label=f"{name} P50")
        axis.set_title(f"{key}: day-ahead, issued {result.issue_clock} D-1 ({result.tz})")
        axis.set_ylabel(result.target)
        axis.legend(fontsize=7, ncols=3)
    figure.savefig(path, dpi=90)


# --------------------------------------------------------------------------- main


def _daylight(result: BacktestResult) -> np.ndarray:
    sky = clearsky_power(PV_SITE, pd.DatetimeIndex(result.actual.index), 60)
    daylight: np.ndarray = (sky["zenith_deg"] < 90.0).to_numpy()
    return daylight


def main() -> None:
    """Run the PV and wind backtests and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pv-start", default="2021-03-01")
    parser.add_argument("--pv-end", default="2021-12-31")
    parser.add_argument("--wind-start", default="2015-01-01")
    parser.add_argument("--wind-end", default="2015-12-31")
    parser.add_argument("--smoke", action="store_true", help="two weeks of each target")
    parser.add_argument("--out", type=Path, default=RESULTS / "forecasting_renewables")
    parser.add_argument(
        "--report-only", action="store_true", help="rewrite the .md from the saved .json"
    )
    args = parser.parse_args()
    if args.report_only:
        saved = json.loads(args.out.with_suffix(".json").read_text())
        saved["notes"] = NOTES
        args.out.with_suffix(".json").write_text(json.dumps(saved, indent=2) + "\n")
        args.out.with_suffix(".md").write_text(_markdown(saved))
        print(args.out.with_suffix(".md").read_text())
        return
    if args.smoke:
        args.pv_end, args.wind_end = "2021-03-14", "2015-01-14"
    began = time.perf_counter()
    pv = read_pv()
    wind = read_wind()
    load_seconds = time.perf_counter() - began

    variants = [
        Variant(
            "pv_ghi",
            "PV UNISOLAR site 25",
            "pv_kw",
            PV_TZ,
            ("ghi_csi", "ghi_wm2", "cloud_opacity"),
            ("naive_daily", "pv_physics", "pv_lgbm"),
            "measured GHI of D (dataset irradiance, not a forecast)",
        ),
        Variant(
            "pv_none",
            "PV UNISOLAR site 25",
            "pv_kw",
            PV_TZ,
            (),
            ("pv_lgbm",),
            "none (history and clear-sky only)",
        ),
        Variant(
            "wind_era5",
            "Wind La Haute Borne",
            "wind_mw",
            WIND_TZ,
            ("ws_era5",),
            ("naive_daily", "wind_curve", "wind_lgbm"),
            "ERA5 100 m wind speed of D (reanalysis, not a forecast)",
        ),
        Variant(
            "wind_scada",
            "Wind La Haute Borne",
            "wind_mw",
            WIND_TZ,
            ("ws_scada",),
            ("wind_curve", "wind_lgbm"),
            "measured nacelle wind speed of D (turbines' own anemometers)",
        ),
    ]
    results: dict[str, BacktestResult] = {}
    firsts: dict[str, BacktestResult] = {}
    out_variants = []
    for v in variants:
        frame = pv if v.target == "pv_kw" else wind
        start, end = (
            (args.pv_start, args.pv_end)
            if v.target == "pv_kw"
            else (args.wind_start, args.wind_end)
        )
        tick = time.perf_counter()
        result = backtest_day_ahead(
            frame[[v.target, *v.exog]],
            v.target,
            v.tz,
            start,
            end,
            issue_clock=ISSUE_CLOCK,
            models=v.models,
            exog=v.exog,
            quantiles=QUANTILES,
            pv_system=PV_SITE if v.target == "pv_kw" else None,
            progress=False,
        )
        seconds = time.perf_counter() - tick
        results[v.key] = result
        # The second block of a target reuses the first block's reference forecasts (the
        # naive rules and pv_physics do not read the weather input), on the same days.
        first = firsts.setdefault(v.target, result)
        for name, forecast in first.forecasts.items():
            result.forecasts.setdefault(name, forecast)
        if v.target == "pv_kw":
            capacity = PV_CAPACITY_KW
            extra = {"persistence": result.forecasts["naive_daily"][0.5]}
            refs = ["persistence", "smart_persistence"]
            extra["smart_persistence"] = result.forecasts["pv_physics"][0.5]
            daylight: np.ndarray | None = _daylight(result)
        else:
            capacity = WIND_CAPACITY_MW
            extra = {"persistence": last_value_persistence(result, frame[v.target])}
            refs = ["persistence"]
            daylight = None
        scores = score_variant(result, capacity, extra, refs, daylight)
        for block in scores.values():
            # naive_daily / pv_physics are the references themselves; keep them once.
            for alias in ("persistence", "smart_persistence"):
                if alias != "persistence" or v.target == "pv_kw":
                    block["models"].pop(alias, None)
        report = result.report()
        out_variants.append(
            {
                "key": v.key,
                "label": v.label,
                "target": v.target,
                "weather": v.weather,
                "exog": list(v.exog),
                "capacity": capacity,
                "start": report["start"],
                "end": report["end"],
                "days": report["days"],
                "seconds": round(seconds, 1),
                "scores": scores,
                "failures": {k: len(x) for k, x in result.failures.items()},
                "flags": {k: x["flags"] for k, x in report["models"].items()},
            }
        )
        print(f"{v.key}: {report['days']} days in {seconds:.0f} s", flush=True)

    info = machine()
    payload = {
        "run": {
            **info,
            "date": str(info.get("date_utc", ""))[:10],
            "cpu": _cpu_model(),
            "python": platform.python_version(),
        },
        "command": ".venv/bin/python benchmarks/forecasting_renewables.py",
        "seconds": round(time.perf_counter() - began, 1),
        "load_seconds": round(load_seconds, 1),
        "issue_clock": ISSUE_CLOCK,
        "quantiles": list(QUANTILES),
        "variants": out_variants,
        "anchors": ANCHORS,
        "notes": NOTES,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(payload, indent=2, default=float) + "\n")
    args.out.with_suffix(".md").write_text(_markdown(payload))
    _plot(
        {"PV (measured GHI)": results["pv_ghi"], "Wind (ERA5)": results["wind_era5"]},
        args.out.with_suffix(".png"),
    )
    print(args.out.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
