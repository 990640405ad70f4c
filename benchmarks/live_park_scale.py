"""A park of 50 enterprises and 500 dissimilar assets, built through the API of a real
``vpp serve`` on a fresh PostgreSQL database: how long forecast and bid of one day take, and
how much memory the server needs for it.

The acceptance criterion measured: "a park of 50 enterprises and 500 assets, built through
the API, runs forecast and bid for one day in <= 60 s and <= 2 GB on this machine, on
PostgreSQL". A flattering fleet is not a result, so the fleet is a seeded random mix of six
asset kinds with varied sizes, durations, windows and sessions, and the history comes from real
data (shared/data, read in place, never copied):

* DE-LU day-ahead prices (green-dcc, hourly, naive CET/CEST) and German FCR capacity prices
  (regelleistung.net 2021, EUR/MW per 4-h block, divided by 4 to EUR/MW/h);
* each tenant's consumption from the UCI steel-plant load (2018, 15-min), shifted by whole
  weeks (weekdays kept) and a clock offset per tenant, and scaled to its own base and peak;
* each PV asset's output from UNISOLAR site 25 (Melbourne, 2021, 15-min, marked with a warning
  sign in the data README: read in place only), moved half a year so its season matches the
  northern spring, aligned on solar noon at 5.6 E, shifted by weeks and azimuth per asset and
  scaled to its capacity.

Only the ``advance`` call at the forecast instant is measured; setup and upload times are
reported beside it. Peak memory is the server's ``VmHWM``, reset (``clear_refs``) just before
the call, plus any child process; the whole-life peak including uploads is reported too.

    .venv/bin/python benchmarks/live_park_scale.py            # 50 x 10 on PostgreSQL, once
    .venv/bin/python benchmarks/live_park_scale.py --runs 2   # median and worst of two
    .venv/bin/python benchmarks/live_park_scale.py --smoke --out /tmp/s   # 3 x 3, SQLite
"""

from __future__ import annotations

import argparse
import json
import math
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import sqlalchemy as sa
from forecasting_datasets import SHARED, machine, read_steel_load

REPO = Path(__file__).resolve().parents[1]
DATA = SHARED / "data"
PRICE_FILE = DATA / "prices" / "greendcc_DE-LU_2020_2024.csv.gz"
FCR_FILE = DATA / "ancillary" / "regelleistung_fcr_results_2021.csv.gz"
PV_FILE = DATA / "pv" / "unisolar_generation_site25_2021_15min.csv.gz"
PV_SITE_KWP = 384.0
TZ = "Europe/Berlin"
DAY = date(2021, 5, 5)
FORECAST_AT = pd.Timestamp("2021-05-04T08:00:00+02:00")  # pipeline.yaml de-lu: D-1 08:00
PARK_ID = "scale-1"
POSTGRES_ADMIN_URL = os.environ.get(
    "VPP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
TARGET_SECONDS = 60.0
TARGET_GB = 2.0
KIND_WEIGHTS = {
    "battery": 0.20,
    "curtailable_load": 0.20,
    "shiftable_load": 0.15,
    "thermal": 0.15,
    "ev_fleet": 0.12,
    "pv": 0.18,
}
CALL_TIMEOUT = httpx.Timeout(1800.0, connect=10.0)


# -- the fleet -------------------------------------------------------------------------------------


@dataclass
class Tenant:
    """One enterprise: its site, assets, and how its real load history is transformed."""

    id: str
    site: dict[str, Any]
    assets: list[dict[str, Any]]
    load_base_mw: float
    load_peak_mw: float
    load_weeks: int
    load_shift_min: int
    history_days: int
    contract_share: float


@dataclass
class Fleet:
    """The park body and its tenants."""

    park: dict[str, Any]
    tenants: list[Tenant]
    unverified: set[str] = field(default_factory=set)

    def assets(self) -> list[dict[str, Any]]:
        return [a for t in self.tenants for a in t.assets]


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _r(value: float, digits: int = 3) -> float:
    return round(float(value), digits)


def battery(rng: np.random.Generator, asset_id: str) -> dict[str, Any]:
    power = rng.uniform(0.2, 5.0)
    soc_min, soc_max = rng.uniform(0.0, 0.15), rng.uniform(0.85, 1.0)
    spec: dict[str, Any] = {
        "type": "battery",
        "id": asset_id,
        "power_mw": _r(power),
        "charge_power_mw": _r(power * rng.uniform(0.5, 1.0)),
        "energy_mwh": _r(power * rng.uniform(1.0, 4.0)),
        "round_trip_efficiency": _r(rng.uniform(0.78, 0.93)),
        "soc_min": _r(soc_min),
        "soc_max": _r(soc_max),
        "soc_initial": _r(rng.uniform(soc_min + 0.05, soc_max - 0.05)),
        "degradation_cost_per_mwh": _r(rng.uniform(0.0, 15.0), 2),
    }
    if rng.random() < 0.3:  # some only on site hours
        spec["availability"] = [{"start": _clock(int(rng.integers(4, 9)) * 60), "end": "22:00"}]
    return {"spec": spec, "nominated_mw": _r(power * rng.uniform(0.6, 1.0))}


def curtailable(rng: np.random.Generator, asset_id: str) -> dict[str, Any]:
    curtail = rng.uniform(0.1, 4.0)
    spec = {
        "type": "curtailable_load",
        "id": asset_id,
        "max_curtail_mw": _r(curtail),
        "max_duration_min": int(rng.choice([15, 30, 60, 120, 240])),
        "max_events_per_day": int(rng.integers(1, 5)),
        "notice_min": int(rng.choice([0, 15, 30, 60])),
        "rebound_fraction": _r(rng.uniform(0.0, 0.5)),
        "cost_per_mwh": _r(rng.uniform(0.0, 150.0), 2),
    }
    return {"spec": spec, "nominated_mw": _r(curtail * rng.uniform(0.5, 1.0))}


def shiftable(rng: np.random.Generator, asset_id: str) -> dict[str, Any]:
    power = rng.uniform(0.1, 3.0)
    start_h = int(rng.integers(0, 15))
    length_h = int(rng.integers(4, min(12, 24 - start_h) + 1))
    spec = {
        "type": "shiftable_load",
        "id": asset_id,
        "power_mw": _r(power),
        "energy_mwh": _r(power * length_h * rng.uniform(0.2, 0.8)),
        "window": {"start": _clock(start_h * 60), "end": _clock((start_h + length_h) * 60)},
    }
    return {"spec": spec, "nominated_mw": _r(power * rng.uniform(0.5, 1.0))}


def thermal(rng: np.random.Generator, asset_id: str) -> dict[str, Any]:
    top = rng.uniform(0.1, 2.5)
    spec = {
        "type": "thermal",
        "id": asset_id,
        "max_power_mw": _r(top),
        "min_power_mw": _r(top * rng.uniform(0.0, 0.2)),
        "baseline_power_mw": _r(top * rng.uniform(0.3, 0.7)),
        "energy_capacity_mwh": _r(rng.uniform(0.3, 4.0)),
        "soc_initial": _r(rng.uniform(0.3, 0.7)),
        "standing_loss_per_h": rng.uniform(0.01, 0.05),
    }
    # a device must be able to hold its stored energy (the enrolment refuses it otherwise):
    # at most 90 % of the draw above the baseline goes to the standing loss
    held = spec["soc_initial"] * spec["energy_capacity_mwh"]
    room = spec["max_power_mw"] - spec["baseline_power_mw"]
    spec["standing_loss_per_h"] = (
        math.floor(min(spec["standing_loss_per_h"], 0.9 * room / held) * 1e4) / 1e4
    )
    return {"spec": spec, "nominated_mw": _r(top * rng.uniform(0.5, 1.0))}


def ev_fleet(rng: np.random.Generator, asset_id: str) -> dict[str, Any]:
    chargers = int(rng.integers(4, 61))
    charger_mw = float(rng.choice([0.011, 0.022, 0.05, 0.15]))
    efficiency = _r(rng.uniform(0.88, 0.95))
    sessions = []
    for arrive, leave in [((17, 22), (5, 8)), ((7, 10), (15, 18)), ((11, 13), (16, 20))][
        : int(rng.integers(1, 4))
    ]:
        arrival = int(rng.integers(*arrive)) * 60 + int(rng.choice([0, 15, 30, 45]))
        departure = int(rng.integers(*leave)) * 60 + int(rng.choice([0, 15, 30, 45]))
        plugged = (departure - arrival) % 1440
        most = charger_mw * plugged / 60 * efficiency
        sessions.append(
            {
                "arrival": _clock(arrival),
                "departure": _clock(departure),
                "energy_mwh": _r(most * rng.uniform(0.25, 0.8), 4),
                "vehicles": int(rng.integers(1, chargers + 1)),
            }
        )
    spec = {
        "type": "ev_fleet",
        "id": asset_id,
        "chargers": chargers,
        "charger_power_mw": charger_mw,
        "charging_efficiency": efficiency,
        "sessions": sessions,
    }
    return {"spec": spec, "nominated_mw": _r(chargers * charger_mw * rng.uniform(0.5, 1.0))}


def pv(rng: np.random.Generator, asset_id: str) -> dict[str, Any]:
    capacity = rng.uniform(0.1, 5.0)
    spec = {
        "type": "pv",
        "id": asset_id,
        "capacity_mw": _r(capacity),
        "latitude": _r(48.4 + rng.uniform(-0.15, 0.15), 4),
        "longitude": _r(5.6 + rng.uniform(-0.15, 0.15), 4),
        "tilt_deg": _r(rng.uniform(5.0, 40.0), 1),
        "azimuth_deg": _r(rng.uniform(100.0, 260.0), 1),
    }
    return {"spec": spec, "nominated_mw": _r(capacity)}


MAKERS = {
    "battery": battery,
    "curtailable_load": curtailable,
    "shiftable_load": shiftable,
    "thermal": thermal,
    "ev_fleet": ev_fleet,
    "pv": pv,
}


def build_fleet(
    enterprises: int, per_enterprise: int, seed: int, history_days: tuple[int, int], unverified: int
) -> Fleet:
    """A seeded, dissimilar park: each tenant draws its own mix of kinds and sizes."""
    rng = np.random.default_rng(seed)
    kinds, weights = list(KIND_WEIGHTS), np.array(list(KIND_WEIGHTS.values()))
    tenants = []
    for e in range(enterprises):
        tenant_id = f"ent-{e:02d}"
        drawn = rng.choice(kinds, size=per_enterprise, p=weights / weights.sum())
        if per_enterprise >= 3 and e < len(kinds):  # every kind appears however small the park
            drawn[0] = kinds[e]
        assets = []
        for k, kind in enumerate(drawn):
            asset = MAKERS[str(kind)](rng, f"{tenant_id}-{kind.replace('_', '')}-{k}")
            asset["site_id"] = f"{tenant_id}-site"
            assets.append(asset)
        peak = rng.uniform(0.3, 12.0)
        flex = sum(_flex_mw(a["spec"]) for a in assets)
        site = {
            "id": f"{tenant_id}-site",
            "name": f"Site of {tenant_id}",
            "latitude": _r(48.4 + rng.uniform(-0.15, 0.15), 4),
            "longitude": _r(5.6 + rng.uniform(-0.15, 0.15), 4),
            "connection_kva": round((peak + flex) * 1300.0),
        }
        tenants.append(
            Tenant(
                id=tenant_id,
                site=site,
                assets=assets,
                load_base_mw=_r(peak * rng.uniform(0.05, 0.5)),
                load_peak_mw=_r(peak),
                load_weeks=int(rng.integers(0, 21)),
                load_shift_min=int(rng.integers(-12, 13)) * 15,
                history_days=int(rng.integers(history_days[0], history_days[1] + 1)),
                contract_share=_r(rng.uniform(0.1, 0.35), 2),
            )
        )
    imports = sum(t.load_peak_mw + sum(_draw_mw(a["spec"]) for a in t.assets) for t in tenants)
    exports = sum(sum(_feed_mw(a["spec"]) for a in t.assets) for t in tenants)
    park = {
        "id": PARK_ID,
        "name": f"Scale park {enterprises} x {per_enterprise}",
        "market_id": "de-lu",
        "import_limit_mw": _r(imports * 0.8, 1),
        "export_limit_mw": _r(max(exports * 0.8, 1.0), 1),
        "enterprises": [
            {"id": t.id, "name": f"Enterprise {t.id}", "sites": [t.site]} for t in tenants
        ],
    }
    ids = [a["spec"]["id"] for t in tenants for a in t.assets]
    skipped = set(rng.choice(ids, size=unverified, replace=False)) if unverified else set()
    return Fleet(park=park, tenants=tenants, unverified={str(s) for s in skipped})


def _draw_mw(spec: dict[str, Any]) -> float:
    """Largest draw from the grid the asset can add [MW]."""
    match spec["type"]:
        case "battery":
            return float(spec["charge_power_mw"])
        case "shiftable_load":
            return float(spec["power_mw"])
        case "thermal":
            return float(spec["max_power_mw"])
        case "ev_fleet":
            return float(spec["chargers"] * spec["charger_power_mw"])
    return 0.0


def _feed_mw(spec: dict[str, Any]) -> float:
    """Largest feed into the grid [MW]."""
    match spec["type"]:
        case "battery":
            return float(spec["power_mw"])
        case "pv":
            return float(spec["capacity_mw"])
    return 0.0


def _flex_mw(spec: dict[str, Any]) -> float:
    return max(_draw_mw(spec), _feed_mw(spec), float(spec.get("max_curtail_mw", 0.0)))


# -- the real series --------------------------------------------------------------------------------


def price_csvs(days: int) -> list[str]:
    """Day-ahead prices (gap-free pieces) and FCR prices, ``days`` market days up to D+1."""
    raw = pd.read_csv(PRICE_FILE)
    naive = pd.to_datetime(raw["Datetime"])
    first = pd.Timestamp(DAY) - pd.Timedelta(days=days)
    keep = (naive >= first) & (naive < pd.Timestamp(DAY) + pd.Timedelta(days=2))
    local = naive[keep].dt.tz_localize(TZ, ambiguous="NaT", nonexistent="NaT")
    prices = pd.Series(raw.loc[keep, "Price (EUR/MWh)"].to_numpy(float), index=local.to_numpy())
    prices = prices[prices.index.notna()]
    prices.index = pd.DatetimeIndex(prices.index).tz_convert("UTC")
    prices = prices[~prices.index.duplicated()].sort_index()
    bodies = []
    steps = prices.index.to_series().diff().iloc[1:]
    breaks = list(np.flatnonzero((steps != pd.Timedelta(hours=1)).to_numpy()) + 1)
    for first_at, end_at in zip([0, *breaks], [*breaks, len(prices)], strict=True):
        piece = prices.iloc[first_at:end_at]
        bodies.append(_csv(piece.rename("day_ahead_price_per_mwh").to_frame()))
    fcr = fcr_prices(first, pd.Timestamp(DAY) + pd.Timedelta(days=2))
    bodies.append(_csv(fcr.rename("fcr_price_per_mw_h").to_frame()))
    return bodies


def fcr_prices(first: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    """German FCR settlement price per hour [EUR/MW/h] (block price / 4), first tender."""
    raw = pd.read_csv(FCR_FILE, sep=";")
    raw = raw[(raw["TENDER_NUMBER"] == 1) & (raw["PRODUCT_TYPE"] == "FCR")]
    price = pd.to_numeric(raw["DE_SETTLEMENTCAPACITY_PRICE_[EUR/MW]"], errors="coerce")
    day = pd.to_datetime(raw["DATE_FROM"], format="%d-%m-%Y")
    start_h = raw["PRODUCTNAME"].str.slice(7, 9).astype(int)
    hours: dict[pd.Timestamp, float] = {}
    for d, h, p in zip(day, start_h, price, strict=True):
        if not first <= d < end or p != p:
            continue
        block = pd.date_range(
            d.tz_localize(TZ) + pd.Timedelta(hours=h), periods=4, freq="1h"
        )  # local block start; on DST days the block still ends at the next local boundary
        for ts in block:
            hours[ts.tz_convert("UTC")] = float(p) / 4.0
    series = pd.Series(hours).sort_index()
    grid = pd.date_range(series.index[0], series.index[-1], freq="1h")
    return series.reindex(grid).ffill()


def _csv(frame: pd.DataFrame, header: str = "timestamp") -> str:
    lines = [header + "," + ",".join(frame.columns)]
    lines += [
        ts.isoformat() + "," + ",".join(f"{float(v):.4f}" for v in row)
        for ts, row in zip(frame.index, frame.to_numpy(), strict=True)
    ]
    return "\n".join(lines) + "\n"


def history_end() -> pd.Timestamp:
    """The last metered instant (exclusive) the forecast may know: the forecast instant."""
    return FORECAST_AT.tz_convert("UTC")


def consumption_csv(steel: pd.Series, tenant: Tenant) -> str:
    """The tenant's load [MW >= 0]: the steel plant's shape moved to its weeks and clock."""
    end = history_end()
    grid = pd.date_range(end - pd.Timedelta(days=tenant.history_days), end, freq="15min")[:-1]
    # 2018-01-01 and 2021-01-04 are both Mondays (157 weeks apart); Seoul 08:00 -> Berlin 08:00
    offset = pd.Timedelta(weeks=157 - tenant.load_weeks, hours=8, minutes=tenant.load_shift_min)
    source = steel.reindex(grid - offset).interpolate(limit_direction="both").to_numpy()
    shape = (source - np.nanmin(source)) / (np.nanmax(source) - np.nanmin(source))
    power = tenant.load_base_mw + (tenant.load_peak_mw - tenant.load_base_mw) * shape
    frame = pd.DataFrame({"power_mw": np.clip(power, 0.0, None)}, index=grid)
    return _csv(frame)


def pv_shape() -> pd.Series:
    """UNISOLAR site 25 output as a share of its 384 kWp [-], moved to solar time at 5.6 E.

    Melbourne (145 E) local clock -> UTC -> + 9 h 15 min puts its solar noon on the park's;
    night NaN reads as 0, daytime gaps stay gaps.
    """
    raw = pd.read_csv(PV_FILE)
    local = pd.to_datetime(raw["Timestamp"]).dt.tz_localize(
        "Australia/Melbourne", ambiguous="NaT", nonexistent="NaT"
    )
    share = raw["SolarGeneration"].to_numpy(float) * 4.0 / PV_SITE_KWP
    series = pd.Series(share, index=pd.DatetimeIndex(local).tz_convert("UTC"))
    series = series[series.index.notna()]
    series = series[~series.index.duplicated()].sort_index()
    series.index = series.index + pd.Timedelta(hours=9, minutes=15)
    hour = series.index.tz_convert("Australia/Melbourne").hour
    night = (hour < 6) | (hour >= 20)
    return series.where(~(series.isna() & night), 0.0)


def pv_csv(shape: pd.Series, spec: dict[str, Any], weeks: int, days: int) -> str:
    """A PV asset's metered output [MW >= 0]: half a year on (season), its weeks and azimuth."""
    end = history_end()
    grid = pd.date_range(end - pd.Timedelta(days=days), end, freq="15min")[:-1]
    azimuth_min = round((spec["azimuth_deg"] - 180.0) / 80.0 * 60.0 / 15.0) * 15
    offset = pd.Timedelta(days=182 - 7 * weeks, minutes=-azimuth_min)
    tilt_loss = 1.0 - 0.004 * abs(spec["tilt_deg"] - 30.0)
    share = shape.reindex(grid + offset).to_numpy() * tilt_loss
    power = pd.Series(np.clip(share * spec["capacity_mw"], 0.0, spec["capacity_mw"]), index=grid)
    return _csv(power.dropna().to_frame("power_mw"), header="ts")


# -- the server ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards."""
    admin = sa.create_engine(
        POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool
    )
    name = f"vpp_live_scale_{secrets.token_hex(5)}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        url = sa.engine.make_url(POSTGRES_ADMIN_URL).set(database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class Server:
    """A running ``vpp serve --no-scheduler``."""

    process: subprocess.Popen[bytes]
    base: str
    admin: dict[str, str]
    log: Path

    def call(self, method: str, path: str, headers: dict[str, str], **kw: Any) -> Any:
        with httpx.Client(base_url=self.base, timeout=CALL_TIMEOUT) as client:
            answer = client.request(method, path, headers=headers, **kw)
        if answer.status_code >= 400:
            raise RuntimeError(
                f"{method} {path}: {answer.status_code} {answer.text[:2000]}\n"
                f"server log tail:\n{self.log.read_text(errors='replace')[-3000:]}"
            )
        return answer.json() if answer.content else None


@contextmanager
def serve(url: str, workdir: Path) -> Iterator[Server]:
    """``vpp serve --no-scheduler`` on ``url``; ready on /readyz, SIGINT afterwards."""
    admin_key = "scale-admin-" + secrets.token_urlsafe(32)
    port = free_port()
    env = {
        **os.environ,
        "VPP_DATABASE_URL": url,
        "VPP_ADMIN_KEY": admin_key,
        "VPP_JWT_SECRET": secrets.token_urlsafe(32),
        "VPP_RATE_LIMIT_PER_MINUTE": "1000000",
        "VPP_LOG_LEVEL": "INFO",
    }
    for name in ("VPP_EXCHANGE_URL", "VPP_REDIS_URL", "VPP_DEVICES", "VPP_PARKS"):
        env.pop(name, None)
    log = workdir / "serve.log"
    command = [sys.executable, "-m", "vpp", "serve", "--no-scheduler", "--port", str(port)]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=sink, cwd=REPO)
    server = Server(process, f"http://127.0.0.1:{port}", {"X-API-Key": admin_key}, log)
    try:
        with httpx.Client(base_url=server.base, timeout=2) as client:
            for _ in range(480):
                if process.poll() is not None:
                    raise RuntimeError(f"vpp serve exited:\n{log.read_text()[-3000:]}")
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.25)
            else:
                raise RuntimeError(f"vpp serve not ready:\n{log.read_text()[-3000:]}")
        yield server
    finally:
        kept = os.environ.get("LIVE_SCALE_KEEP_LOG")
        if kept:
            Path(kept).write_bytes(log.read_bytes())
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants, from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(parents.get(current, []))
    return tree


def status_kb(pid: int, key: str) -> int:
    """A ``/proc/<pid>/status`` field such as ``VmHWM`` [kB]; 0 once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def reset_peak(pid: int) -> None:
    """Reset ``VmHWM`` of the tree to the current RSS (``clear_refs`` 5)."""
    for member in process_tree(pid):
        with suppress(OSError):
            Path(f"/proc/{member}/clear_refs").write_text("5")


# -- build, upload, measure --------------------------------------------------------------------------


def build_park(server: Server, fleet: Fleet) -> dict[str, Any]:
    """Park, keys, assets, contracts, consents and verification, all through the API."""
    started = time.perf_counter()
    server.call("PUT", f"/v1/parks/{PARK_ID}", server.admin, json=fleet.park)
    body = {"role": "operator", "label": "scale desk"}
    operator = {"X-API-Key": server.call("POST", "/v1/api-keys", server.admin, json=body)["key"]}
    keys: dict[str, dict[str, str]] = {}
    for tenant in fleet.tenants:
        body = {"role": "enterprise", "enterprise_id": tenant.id, "label": f"{tenant.id} EMS"}
        keys[tenant.id] = {
            "X-API-Key": server.call("POST", "/v1/api-keys", server.admin, json=body)["key"]
        }
        base = f"/v1/enterprises/{tenant.id}"
        for asset in tenant.assets:
            server.call("POST", f"{base}/assets", keys[tenant.id], json=asset)
        contract = {
            "id": f"c-{tenant.id}",
            "scheme": "percentage_split",
            "aggregator_share": tenant.contract_share,
            "currency": "EUR",
            "valid_from": "2021-01-01T00:00:00+01:00",
        }
        server.call("POST", f"{base}/contracts", keys[tenant.id], json=contract)
        consent = {
            "asset_ids": [a["spec"]["id"] for a in tenant.assets],
            "agreed_by": f"energy manager of {tenant.id}",
            "agreed_at": "2021-01-15T09:00:00+01:00",
            "contract_id": f"c-{tenant.id}",
            "terms_version": "1",
            "products": ["da_energy", "fcr"],
        }
        server.call("POST", f"{base}/consents", keys[tenant.id], json=consent)
        for asset in tenant.assets:
            if asset["spec"]["id"] in fleet.unverified:
                continue
            path = f"{base}/assets/{asset['spec']['id']}"
            server.call("PATCH", path, operator, json={"verification": "passed"})
    return {"operator": operator, "tenants": keys, "seconds": time.perf_counter() - started}


def upload_data(
    server: Server, fleet: Fleet, keys: dict[str, Any], price_days: int
) -> dict[str, Any]:
    """Prices, tenant consumption and PV telemetry through the upload endpoints."""
    started = time.perf_counter()
    csv_type = {"Content-Type": "text/csv"}
    price_rows = 0
    seconds: dict[str, float] = {}
    for body in price_csvs(price_days):
        answer = server.call(
            "POST", "/v1/markets/de-lu/prices", {**keys["operator"], **csv_type}, content=body
        )
        price_rows += answer["rows"]
    seconds["prices"] = time.perf_counter() - started
    steel = read_steel_load()["load_kw"]
    shape = pv_shape()
    rng = np.random.default_rng(len(fleet.tenants))
    load_rows = pv_rows = pv_assets = 0
    for tenant in fleet.tenants:
        tenant_headers = {**keys["tenants"][tenant.id], **csv_type}
        body = consumption_csv(steel, tenant)
        path = f"/v1/enterprises/{tenant.id}/consumption"
        at = time.perf_counter()
        load_rows += server.call("POST", path, tenant_headers, content=body)["rows"]
        seconds["consumption"] = seconds.get("consumption", 0.0) + time.perf_counter() - at
        for asset in tenant.assets:
            spec = asset["spec"]
            if spec["type"] != "pv":
                continue
            body = pv_csv(shape, spec, int(rng.integers(-3, 4)), tenant.history_days)
            path = f"/v1/enterprises/{tenant.id}/assets/{spec['id']}/telemetry"
            at = time.perf_counter()
            answer = server.call("POST", path, tenant_headers, content=body)
            seconds["pv"] = seconds.get("pv", 0.0) + time.perf_counter() - at
            if answer["rejected"]:
                raise RuntimeError(f"{spec['id']}: telemetry rejected {answer['rejected'][:3]}")
            pv_rows += answer["written"]
            pv_assets += 1
    return {
        "seconds": time.perf_counter() - started,
        "seconds_by_kind": {k: round(v, 1) for k, v in seconds.items()},
        "price_rows": price_rows,
        "consumption_rows": load_rows,
        "pv_assets": pv_assets,
        "pv_rows": pv_rows,
    }


def measure(server: Server, fleet: Fleet, operator: dict[str, str]) -> dict[str, Any]:
    """Advance at the forecast instant; time it, sample the server's memory, read the bids."""
    pid = server.process.pid
    before_kb = sum(status_kb(p, "VmRSS") for p in process_tree(pid))
    life_peak_kb = sum(status_kb(p, "VmHWM") for p in process_tree(pid))
    reset_peak(pid)
    samples: list[tuple[float, int]] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            kb = sum(status_kb(p, "VmRSS") for p in process_tree(pid))
            samples.append((time.perf_counter(), kb))
            stop.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    sampler.start()
    body = {"day": DAY.isoformat(), "at": FORECAST_AT.isoformat()}
    result = server.call("POST", f"/v1/parks/{PARK_ID}/pipeline/advance", operator, json=body)
    wall = time.perf_counter() - started
    stop.set()
    sampler.join()
    tree = process_tree(pid)
    # the forecast's worker processes are gone by now (their VmHWM with them): the peak is
    # the larger of the survivors' high-water marks and the largest sampled sum of the tree
    peak_kb = max(
        sum(status_kb(p, "VmHWM") for p in tree), max((kb for _, kb in samples), default=0)
    )
    runs = server.call(
        "GET", "/v1/jobs/runs", operator, params={"run_id": result["run_id"], "limit": 200}
    )
    stage_ms = {r["stage"]: r["duration_ms"] for r in runs["items"]}
    forecast_s = (stage_ms.get("forecast") or 0.0) / 1000
    in_forecast = [kb for t, kb in samples if t - started <= forecast_s]
    after_forecast = [kb for t, kb in samples if t - started > forecast_s]
    bids = server.call("GET", f"/v1/parks/{PARK_ID}/days/{DAY}/bids", operator)
    enrolled = {a["spec"]["id"] for a in fleet.assets()}
    bid_assets = set(bids["assets"])
    return {
        "wall_s": round(wall, 2),
        "load_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "outcomes": [(o["stage"], o["status"], o["message"][:300]) for o in result["outcomes"]],
        "run_status": result["status"],
        "stage_ms": stage_ms,
        "processes": len(tree),
        "rss_before_mb": round(before_kb / 1024, 1),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "peak_rss_forecast_mb": round(max(in_forecast, default=0) / 1024, 1),
        "peak_rss_after_forecast_mb": round(max(after_forecast, default=0) / 1024, 1),
        "life_peak_before_advance_mb": round(life_peak_kb / 1024, 1),
        "offered_mwh": bids.get("offered_mwh"),
        "bid_assets": sorted(bid_assets),
        "bid_asset_count": len(bid_assets),
        "products": {p: len(c) for p, c in bids["products"].items()},
        "excluded": bids.get("excluded", {}),
        "missing_from_bid": sorted(enrolled - bid_assets),
    }


def run_once(url: str, fleet: Fleet, price_days: int, workdir: Path) -> dict[str, Any]:
    """One fresh server on ``url``: build, upload, measure."""
    with serve(url, workdir) as server:
        built = build_park(server, fleet)
        uploaded = upload_data(server, fleet, built, price_days)
        measured = measure(server, fleet, built["operator"])
    return {"build_s": round(built["seconds"], 1), "upload": uploaded, **measured}


# -- report -------------------------------------------------------------------------------------------


def fleet_table(fleet: Fleet) -> list[dict[str, Any]]:
    """Per kind: count and the spread of its main size."""
    size_key = {
        "battery": ("power_mw", "MW"),
        "curtailable_load": ("max_curtail_mw", "MW curtail"),
        "shiftable_load": ("power_mw", "MW"),
        "thermal": ("max_power_mw", "MW max"),
        "ev_fleet": ("chargers", "chargers"),
        "pv": ("capacity_mw", "MW"),
    }
    rows = []
    counts = Counter(a["spec"]["type"] for a in fleet.assets())
    for kind, count in sorted(counts.items()):
        key, unit = size_key[kind]
        sizes = [a["spec"][key] for a in fleet.assets() if a["spec"]["type"] == kind]
        extra = ""
        specs = [a["spec"] for a in fleet.assets() if a["spec"]["type"] == kind]
        if kind == "battery":
            hours = [s["energy_mwh"] / s["power_mw"] for s in specs]
            rte = [s["round_trip_efficiency"] for s in specs]
            extra = f"{min(hours):.1f}-{max(hours):.1f} h, RTE {min(rte):.2f}-{max(rte):.2f}"
        elif kind == "curtailable_load":
            extra = "durations " + ",".join(
                str(d) for d in sorted({s["max_duration_min"] for s in specs})
            )
            extra += f" min, {min(s['max_events_per_day'] for s in specs)}-"
            extra += f"{max(s['max_events_per_day'] for s in specs)} events/day"
        elif kind == "shiftable_load":
            extra = f"windows {min(s['window']['start'] for s in specs)}.."
            extra += f"{max(s['window']['end'] for s in specs)}, 4-12 h"
        elif kind == "ev_fleet":
            extra = f"{sum(len(s['sessions']) for s in specs)} sessions"
        elif kind == "pv":
            extra = f"azimuth {min(s['azimuth_deg'] for s in specs):.0f}-"
            extra += f"{max(s['azimuth_deg'] for s in specs):.0f}, tilt "
            extra += (
                f"{min(s['tilt_deg'] for s in specs):.0f}-{max(s['tilt_deg'] for s in specs):.0f}"
            )
        elif kind == "thermal":
            cap = [s["energy_capacity_mwh"] for s in specs]
            extra = f"{min(cap):.1f}-{max(cap):.1f} MWh band"
        rows.append(
            {
                "kind": kind,
                "count": count,
                "size": f"{min(sizes):g}-{max(sizes):g} {unit}",
                "total_mw": round(sum(_flex_mw(s) for s in specs), 1),
                "spread": extra,
            }
        )
    return rows


def write_report(report: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    runs = report["runs"]
    walls = [r["wall_s"] for r in runs]
    peaks = [r["peak_rss_mb"] for r in runs]
    stage = {s: [(r["stage_ms"].get(s) or 0) / 1000 for r in runs] for s in ("forecast", "bid")}
    m = report["machine"]
    lines = [
        "# Live park at scale: forecast and bid of one day through `vpp serve`",
        "",
        f"Run {m['date_utc']} UTC on {m['machine']}, {m['nproc']} cores, Python {m['python']}; "
        f"database {report['database']}; `python benchmarks/live_park_scale.py "
        f"{' '.join(report['argv'])}`.",
        "",
        f"Park `{PARK_ID}` in de-lu, delivery day {DAY}, advanced at {FORECAST_AT.isoformat()} "
        f"(forecast, bid; approval then waits). {report['enterprises']} enterprises, "
        f"{report['assets']} assets (seed {report['seed']}), {len(runs)} run(s), each on a "
        "fresh database and a fresh server.",
        "",
        "| figure | target | median | worst |",
        "|---|---|---|---|",
        f"| advance wall time [s] | <= {TARGET_SECONDS:g} | {statistics.median(walls):.1f} | "
        f"{max(walls):.1f} |",
        f"| forecast stage [s] | | {statistics.median(stage['forecast']):.1f} | "
        f"{max(stage['forecast']):.1f} |",
        f"| bid stage [s] | | {statistics.median(stage['bid']):.1f} | {max(stage['bid']):.1f} |",
        f"| server peak RSS during advance [MB] | <= {TARGET_GB * 1024:.0f} | "
        f"{statistics.median(peaks):.0f} | {max(peaks):.0f} |",
        "",
        "| run | wall s | forecast s | bid s | RSS before MB | peak forecast MB | "
        "peak bid MB | peak MB | life peak before MB | bid assets | build s | upload s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for k, r in enumerate(runs, 1):
        lines.append(
            f"| {k} | {r['wall_s']:.1f} | {(r['stage_ms'].get('forecast') or 0) / 1000:.1f} | "
            f"{(r['stage_ms'].get('bid') or 0) / 1000:.1f} | {r['rss_before_mb']:.0f} | "
            f"{r['peak_rss_forecast_mb']:.0f} | {r['peak_rss_after_forecast_mb']:.0f} | "
            f"{r['peak_rss_mb']:.0f} | {r['life_peak_before_advance_mb']:.0f} | "
            f"{r['bid_asset_count']} | {r['build_s']:.0f} | {r['upload']['seconds']:.0f} |"
        )
    last = runs[-1]
    lines += [
        "",
        f"Stages of the last run: {', '.join(f'{s} {st}' for s, st, _ in last['outcomes'])}. "
        f"Products bid: {last['products']}. Offered {last['offered_mwh']} MWh.",
        f"Assets missing from the bid: {len(last['missing_from_bid'])}"
        + (f" ({', '.join(last['missing_from_bid'][:20])})" if last["missing_from_bid"] else "")
        + f"; `excluded`: {json.dumps(last['excluded'])[:1500]}.",
        "",
        f"Data uploaded per run: {last['upload']['price_rows']} price rows, "
        f"{last['upload']['consumption_rows']} consumption rows ({report['enterprises']} tenants), "
        f"{last['upload']['pv_rows']} PV telemetry rows ({last['upload']['pv_assets']} assets).",
        "",
        "## Fleet",
        "",
        "| kind | count | size range | total flexible MW | spread |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['kind']} | {r['count']} | {r['size']} | {r['total_mw']} | {r['spread']} |"
        for r in report["fleet"]
    ]
    lines += ["", *report.get("notes", [])]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="3 x 3 assets on SQLite")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=20210505)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/live_park_scale")
    args = parser.parse_args()
    if args.smoke:
        enterprises, per, history, price_days, unverified = 3, 3, (21, 28), 35, 1
    else:
        enterprises, per, history, price_days, unverified = 50, 10, (60, 90), 100, 0
    fleet = build_fleet(enterprises, per, args.seed, history, unverified)
    runs = []
    for k in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="live-scale-") as work:
            if args.smoke:
                run = run_once(f"sqlite:///{work}/scale.sqlite", fleet, price_days, Path(work))
            else:
                with postgres_database() as url:
                    run = run_once(url, fleet, price_days, Path(work))
        print(
            f"run {k + 1}: wall {run['wall_s']} s, stages {run['stage_ms']}, "
            f"peak {run['peak_rss_mb']} MB, bid assets {run['bid_asset_count']}",
            flush=True,
        )
        runs.append(run)
    report = {
        "machine": machine(),
        "argv": sys.argv[1:],
        "database": "SQLite file" if args.smoke else "PostgreSQL 127.0.0.1:5432 (fresh database)",
        "seed": args.seed,
        "enterprises": enterprises,
        "assets": len(fleet.assets()),
        "verified": sorted({a["spec"]["id"] for a in fleet.assets()} - fleet.unverified),
        "unverified": sorted(fleet.unverified),
        "fleet": fleet_table(fleet),
        "runs": runs,
    }
    write_report(report, args.out)


if __name__ == "__main__":
    main()
