"""The files a day-ahead cycle leaves behind for people to read and systems to load.

``bids.csv``/``bids.json`` (the bid set), ``awards.csv``, ``setpoints.csv`` (MW per asset, market
time), ``forecasts.csv`` (P10/P50/P90 of every forecast), ``day_chart.png``, ``statements.csv`` and
``statements.json`` (the day's statements) and ``summary.json`` (the figures the CLI prints).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from adapters.exports.bid_files import write_bid_csv, write_bid_json
from adapters.exports.day_chart import write_day_chart
from vpp.domain.settlement import awarded_energy_mw
from vpp.domain.timegrid import zone
from vpp.services.day_ahead_cycle import CycleResult, battery_soc_mwh
from vpp.services.park_file import ParkData


def _local(frame: pd.DataFrame | pd.Series, tz: str) -> pd.DataFrame | pd.Series:
    out = frame.copy()
    out.index = out.index.tz_convert(zone(tz)).map(lambda t: t.isoformat())
    out.index.name = "timestamp"
    return out


def summary_figures(result: CycleResult) -> dict[str, Any]:
    """The cycle's headline figures, as plain numbers."""
    market = result.market
    awarded_sell, awarded_buy = result.energy_awarded_mwh()
    return {
        "day": result.day.isoformat(),
        "market_id": result.profile.market_id,
        "currency": result.profile.currency,
        "intervals": len(result.profile.day_intervals(result.day)),
        "issue_time": result.forecasts.issue_time.isoformat(),
        "expected_revenue": round(float(result.bids.expected_revenue), 2),
        "awarded_sell_mwh": round(awarded_sell, 3),
        "awarded_buy_mwh": round(awarded_buy, 3),
        "market_energy": str(market.energy),
        "market_reserves": {k: str(v) for k, v in market.reserves.items()},
        "market_imbalance": str(market.imbalance),
        "imbalance_mwh": round(market.imbalance_mwh, 3),
        "market_total": str(market.total),
        "baseline_value": str(result.settlement.baseline_value),
        "flexibility_value": str(result.settlement.flexibility_total),
        "statements": {s.enterprise_id: str(s.total) for s in result.settlement.statements},
        "reconciles": result.settlement.reconciles,
        "confirmed_assets": result.confirmed,
        "notes": result.notes,
        "binding": result.bids.binding,
    }


def write_day_artefacts(out: Path, data: ParkData, result: CycleResult) -> dict[str, Path]:
    """Write every artefact of ``result`` into ``out`` (created if needed)."""
    out.mkdir(parents=True, exist_ok=True)
    tz = result.profile.timezone
    files = {
        "bids_csv": write_bid_csv(result.bid_set, out / "bids.csv", tz),
        "bids_json": write_bid_json(result.bid_set, out / "bids.json"),
    }
    awards = pd.DataFrame([a.model_dump() for a in result.awards])
    awards.to_csv(out / "awards.csv", index=False)
    files["awards_csv"] = out / "awards.csv"
    _local(result.plan.frame(), tz).to_csv(out / "setpoints.csv", float_format="%.4f")
    files["setpoints_csv"] = out / "setpoints.csv"
    columns = {}
    for key, forecast in result.forecasts.all().items():
        for level in (0.1, 0.5, 0.9):
            if level in forecast.quantiles.columns:
                columns[f"{key} p{int(level * 100)}"] = forecast.quantiles[level]
    _local(pd.DataFrame(columns), tz).to_csv(out / "forecasts.csv", float_format="%.4f")
    files["forecasts_csv"] = out / "forecasts.csv"
    files["chart_png"] = write_day_chart(
        out / "day_chart.png",
        tz=tz,
        currency=result.profile.currency,
        title=f"{data.park.name} - {result.profile.market_id} delivery {result.day}",
        price_forecast=result.forecasts.price,
        realised_price=result.realised_price,
        net_load_forecast=_net_load_forecast(result),
        scheduled_position=awarded_energy_mw(
            result.awards, result.profile.day_intervals(result.day), result.profile
        ),
        delivered_position=result.delivered_net_mw,
        soc_mwh=battery_soc_mwh(result.plan, data, result.profile.interval_minutes),
    )
    rows = [
        {
            "statement": s.id,
            "enterprise_id": s.enterprise_id,
            "currency": s.currency,
            "label": line.label,
            "label_zh": line.label_zh,
            "product_id": line.product_id,
            "amount": str(line.amount),
        }
        for s in result.settlement.statements
        for line in s.lines
    ]
    pd.DataFrame(rows).to_csv(out / "statements.csv", index=False)
    files["statements_csv"] = out / "statements.csv"
    payload = [
        s.model_dump(mode="json") | {"total": str(s.total)} for s in result.settlement.statements
    ]
    (out / "statements.json").write_text(
        json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8"
    )
    files["statements_json"] = out / "statements.json"
    (out / "summary.json").write_text(
        json.dumps(summary_figures(result), indent=2), encoding="utf-8"
    )
    files["summary_json"] = out / "summary.json"
    return files


def _net_load_forecast(result: CycleResult) -> pd.Series:
    load = result.forecasts.inflexible_load_mw()
    generation = sum(
        (f.median for f in result.forecasts.generation.values()), pd.Series(0.0, index=load.index)
    )
    return load - generation
