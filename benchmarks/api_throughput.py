"""API benchmark: telemetry ingest throughput and read latency, on loopback, PostgreSQL and SQLite.

Starts ``vpp serve`` as a separate process (one worker; ``--workers 2`` for PostgreSQL with
``--pg-workers``), bootstraps an enterprise with assets through the API itself, then measures

1. ingest: CSV telemetry batches of ``--batch`` rows posted by ``--clients`` concurrent clients
   for ``--points`` points in total, through the full path (auth, parsing, per-row validation,
   idempotent upsert, audit entry) -> sustained points/s; plus the repository upsert alone;
2. reads: ``GET`` of the operator portfolio and of one asset at a fixed request rate for
   ``--seconds`` seconds -> p50 / p99 latency and achieved rate.

On PostgreSQL the ingest is measured twice, side by side: with the COPY bulk path the service
uses (``copy``), and with that path switched off (``executemany``: the ``INSERT ... ON CONFLICT``
executemany upsert used before, and still used on SQLite and for small batches). The second
server is the same app started by ``uvicorn`` with :data:`COPY_MIN_ROWS` raised out of reach
(:func:`executemany_app`); read latencies are measured on the ``copy`` server only.

Anchors (issue 5): ingest >= 50,000 points/s into PostgreSQL and >= 5,000/s into SQLite on 2 cores;
FastAPI serves about 5,900 JSON requests/s on a 2-vCPU runner (p50 8 ms). The load generator runs
on the same 2 cores as the server, which the report states.

Run: ``.venv/bin/python benchmarks/api_throughput.py [--smoke]``; writes
``benchmarks/results/api_throughput.{md,json}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pandas as pd
import sqlalchemy as sa
from fastapi import FastAPI

from vpp.db.engine import make_engine, session_scope
from vpp.db.migrate import upgrade
from vpp.db.repositories import TelemetryPoint, TelemetryRepository
from vpp.db.repositories import telemetry as telemetry_repository

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PG_ADMIN = os.environ.get(
    "VPP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
ASSETS = 8


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fresh_postgres() -> tuple[str, str]:
    name = f"vpp_bench_{secrets.token_hex(4)}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", name


def drop_postgres(name: str) -> None:
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def executemany_app() -> FastAPI:
    """The API with the COPY bulk path switched off (uvicorn factory for the ``executemany`` run)."""
    telemetry_repository.COPY_MIN_ROWS = sys.maxsize
    from vpp.api.app import create_app

    return create_app()


class Server:
    """``vpp serve`` in a child process, stopped on exit.

    With ``path="executemany"`` the same app is served by ``uvicorn`` through
    :func:`executemany_app` instead (no scheduler beside it; it is idle during the run anyway).
    """

    def __init__(self, url: str, workers: int, path: str = "copy") -> None:
        self.port = free_port()
        self.admin_key = secrets.token_urlsafe(32)
        env = {
            **os.environ,
            "VPP_DATABASE_URL": url,
            "VPP_ADMIN_KEY": self.admin_key,
            "VPP_JWT_SECRET": secrets.token_urlsafe(32),
            "VPP_RATE_LIMIT_PER_MINUTE": "10000000",
            "VPP_LOG_LEVEL": "WARNING",
        }
        upgrade(url)
        if path == "copy":
            command = [sys.executable, "-m", "vpp", "serve"]
        else:
            env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "benchmarks"), str(ROOT)])
            command = [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "api_throughput:executemany_app",
                "--log-level",
                "warning",
            ]
        self.process = subprocess.Popen(
            [*command, "--port", str(self.port), "--workers", str(workers)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(f"{self.base}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError("the API did not become ready within 60 s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()


def bootstrap(server: Server) -> tuple[str, str]:
    """Create a park, an enterprise with assets (verified, consented); return (ent key, op key)."""
    admin = {"X-API-Key": server.admin_key}
    with httpx.Client(base_url=server.base, timeout=30) as c:
        park = {
            "id": "bench-park",
            "name": "Bench park",
            "market_id": "cn-shandong",
            "import_limit_mw": 100,
            "export_limit_mw": 50,
            "enterprises": [
                {"id": "ent-a", "name": "Alpha", "sites": [{"id": "a-1", "name": "Main"}]}
            ],
        }
        c.put("/v1/parks/bench-park", json=park, headers=admin).raise_for_status()
        ent = c.post(
            "/v1/api-keys",
            json={"role": "enterprise", "enterprise_id": "ent-a", "label": "bench"},
            headers=admin,
        )
        op = c.post("/v1/api-keys", json={"role": "operator", "label": "bench-op"}, headers=admin)
        ent_key, op_key = ent.raise_for_status().json()["key"], op.raise_for_status().json()["key"]
        headers = {"X-API-Key": ent_key}
        for k in range(ASSETS):
            spec = {"type": "battery", "id": f"bess-{k}", "power_mw": 2.0, "energy_mwh": 4.0}
            c.post(
                "/v1/enterprises/ent-a/assets",
                json={"spec": spec, "site_id": "a-1", "nominated_mw": 2.0},
                headers=headers,
            ).raise_for_status()
            c.patch(
                f"/v1/enterprises/ent-a/assets/bess-{k}",
                json={"verification": "passed"},
                headers={"X-API-Key": op_key},
            ).raise_for_status()
        contract = {
            "id": "c-a",
            "scheme": "percentage_split",
            "aggregator_share": 0.2,
            "currency": "CNY",
            "valid_from": "2020-01-01T00:00:00+08:00",
        }
        c.post("/v1/enterprises/ent-a/contracts", json=contract, headers=headers).raise_for_status()
        consent = {
            "asset_ids": [f"bess-{k}" for k in range(ASSETS)],
            "agreed_by": "Bench",
            "agreed_at": "2020-01-02T00:00:00+08:00",
            "contract_id": "c-a",
            "terms_version": "1",
            "products": ["spot_energy"],
        }
        c.post("/v1/enterprises/ent-a/consents", json=consent, headers=headers).raise_for_status()
    return ent_key, op_key


def csv_batch(start: datetime, rows: int, seed: int) -> bytes:
    lines = ["ts,power_mw"]
    for i in range(rows):
        lines.append(
            f"{(start + timedelta(minutes=i)).isoformat()},{((i * 7 + seed) % 400) / 100 - 2:.2f}"
        )
    return ("\n".join(lines) + "\n").encode()


async def ingest(
    server: Server, key: str, points: int, batch: int, clients: int
) -> dict[str, float]:
    """Post ``points`` readings in CSV batches from ``clients`` concurrent clients."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    jobs = [
        (f"bess-{k % ASSETS}", start + timedelta(minutes=(k // ASSETS) * batch), k)
        for k in range(points // batch)
    ]
    bodies = [(asset, csv_batch(t0, batch, seed)) for asset, t0, seed in jobs]
    queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    for item in bodies:
        queue.put_nowait(item)
    written = 0

    async def worker() -> None:
        nonlocal written
        async with httpx.AsyncClient(
            base_url=server.base,
            timeout=120,
            headers={"X-API-Key": key, "Content-Type": "text/csv"},
        ) as c:
            while not queue.empty():
                asset, body = queue.get_nowait()
                r = await c.post(f"/v1/enterprises/ent-a/assets/{asset}/telemetry", content=body)
                r.raise_for_status()
                written += r.json()["written"]

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    seconds = time.perf_counter() - t0
    return {"points": written, "seconds": seconds, "points_per_s": written / seconds}


def repository_ingest(url: str, points: int, path: str = "copy") -> dict[str, float]:
    """The idempotent upsert alone, in batches of 20,000, one transaction each."""
    engine = make_engine(url)
    start = datetime(2030 if path == "copy" else 2032, 1, 1, tzinfo=UTC)
    rows = [
        TelemetryPoint(
            f"bess-{k % ASSETS}", start + timedelta(minutes=k // ASSETS), float(k % 4) - 2
        )
        for k in range(points)
    ]
    saved = telemetry_repository.COPY_MIN_ROWS
    if path != "copy":
        telemetry_repository.COPY_MIN_ROWS = sys.maxsize
    try:
        t0 = time.perf_counter()
        for i in range(0, points, 20_000):
            with session_scope(engine) as session:
                TelemetryRepository(session).upsert(rows[i : i + 20_000])
        seconds = time.perf_counter() - t0
    finally:
        telemetry_repository.COPY_MIN_ROWS = saved
        engine.dispose()
    return {"points": points, "seconds": seconds, "points_per_s": points / seconds}


async def fixed_rate(
    client: httpx.AsyncClient, path: str, rate: float, seconds: float
) -> dict[str, float]:
    """Issue GETs of ``path`` at ``rate`` per second (open loop) and summarise the latencies."""
    latencies: list[float] = []
    errors = 0

    async def one() -> None:
        nonlocal errors
        t = time.perf_counter()
        r = await client.get(path)
        latencies.append(time.perf_counter() - t)
        errors += r.status_code != 200

    await client.get(path)
    tasks = []
    t0 = time.perf_counter()
    n = int(rate * seconds)
    for i in range(n):
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - t0
    q = statistics.quantiles(latencies, n=100)
    return {
        "requests": n,
        "target_rate": rate,
        "achieved_rate": n / wall,
        "p50_ms": q[49] * 1000,
        "p99_ms": q[98] * 1000,
        "errors": errors,
    }


async def reads(
    server: Server, op_key: str, ent_key: str, rates: dict[str, float], seconds: float
) -> dict[str, dict[str, float]]:
    """Latency of the operator portfolio and of one asset read, each at its own fixed rate."""
    targets = {
        "portfolio": ("/v1/parks/bench-park/portfolio?day=2024-01-02&product=spot_energy", op_key),
        "asset": ("/v1/enterprises/ent-a/assets/bess-0", ent_key),
    }
    out: dict[str, dict[str, float]] = {}
    for name, (path, key) in targets.items():
        limits = httpx.Limits(max_connections=64)
        async with httpx.AsyncClient(
            base_url=server.base, timeout=30, headers={"X-API-Key": key}, limits=limits
        ) as c:
            out[name] = await fixed_rate(c, path, rates[name], seconds)
    return out


def run_database(
    label: str, url: str, workers: int, args: argparse.Namespace, path: str = "copy"
) -> dict[str, object]:
    """One server on a fresh database: HTTP ingest, reads (``copy`` only), repository upsert.

    The written path is ``copy`` on PostgreSQL unless ``path`` says otherwise; SQLite has only
    the ``executemany`` upsert.
    """
    server = Server(url, workers, path)
    latency: dict[str, dict[str, float]] = {}
    try:
        ent_key, op_key = bootstrap(server)
        http = asyncio.run(ingest(server, ent_key, args.points, args.batch, args.clients))
        if path == "copy":
            rates = {"portfolio": args.portfolio_rate, "asset": args.rate}
            latency = asyncio.run(reads(server, op_key, ent_key, rates, args.seconds))
    finally:
        server.stop()
    repo = repository_ingest(url, args.points, path)
    return {
        "database": label,
        "path": path if label == "postgresql" else "executemany",
        "workers": workers,
        "http_ingest": http,
        "repository_ingest": repo,
        "reads": latency,
    }


def markdown(results: list[dict[str, object]], meta: dict[str, object]) -> str:
    lines = [
        "# API benchmark: telemetry ingest and read latency (loopback)",
        "",
        f"Run {meta['date']} on {meta['machine']}, {meta['cores']} cores shared by server and load generator, "
        f"Python {meta['python']}. {meta['points']:,} points in CSV batches of {meta['batch']:,} from "
        f"{meta['clients']} clients; each read endpoint at a fixed rate for {meta['seconds']} s.",
        f"Machine load (1-minute average, other work included) {meta['load_1min_before']} "
        f"before and {meta['load_1min_after']} after the run.",
        "",
        "| database | write path | workers | HTTP ingest [points/s] | repository upsert [points/s] | target [points/s] | HTTP ingest meets target |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        goal = 50_000 if r["database"] == "postgresql" else 5_000
        http = r["http_ingest"]["points_per_s"]  # type: ignore[index]
        lines.append(
            f"| {r['database']} | {r['path']} | {r['workers']} | {http:,.0f} | "
            f"{r['repository_ingest']['points_per_s']:,.0f} | {goal:,} | "  # type: ignore[index]
            f"{'yes' if http >= goal else 'no'} |"
        )
    lines += [
        "",
        "| database | endpoint | target rate [req/s] | achieved [req/s] | p50 [ms] | p99 [ms] | errors | anchor |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for name, v in r["reads"].items():  # type: ignore[attr-defined]
            lines.append(
                f"| {r['database']} | {name} | {v['target_rate']:.0f} | {v['achieved_rate']:.0f} | "
                f"{v['p50_ms']:.1f} | {v['p99_ms']:.1f} | {v['errors']} | FastAPI ~5,900 req/s, p50 8 ms |"
            )
    lines += [
        "",
        "HTTP ingest is the full path: key auth, CSV parsing, per-row validation against the asset's "
        "physical limits, one idempotent upsert transaction per batch and an audit entry.",
        "Write path `copy`: binary COPY into a temporary staging table, then one "
        "`INSERT ... SELECT ... ON CONFLICT (asset_id, ts) DO UPDATE` (PostgreSQL, batches of "
        f"{meta['copy_min_rows']} points or more); `executemany`: the `INSERT ... ON CONFLICT` "
        "executemany upsert (SQLite, small batches, and PostgreSQL before the COPY path).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=400_000)
    parser.add_argument("--batch", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--rate", type=float, default=100.0, help="asset reads per second")
    parser.add_argument(
        "--portfolio-rate", type=float, default=10.0, help="portfolio reads per second"
    )
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--pg-workers", type=int, default=2)
    parser.add_argument(
        "--no-executemany",
        action="store_true",
        help="skip the PostgreSQL run with the COPY path switched off",
    )
    parser.add_argument("--smoke", action="store_true", help="40,000 points, 5 s of reads")
    parser.add_argument("--out", type=Path, default=RESULTS / "api_throughput")
    args = parser.parse_args()
    if args.smoke:
        args.points, args.seconds, args.rate, args.portfolio_rate = 40_000, 5.0, 50.0, 5.0
    results = []
    load_before = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
    paths = ["copy"] if args.no_executemany else ["copy", "executemany"]
    for path in paths:
        pg_url, pg_name = fresh_postgres()
        try:
            results.append(run_database("postgresql", pg_url, args.pg_workers, args, path))
        finally:
            drop_postgres(pg_name)
    sqlite = (
        Path(f"/tmp/vpp-bench-{secrets.token_hex(4)}.sqlite")
        if os.name == "posix"
        else Path("bench.sqlite")
    )
    try:
        results.append(run_database("sqlite", f"sqlite:///{sqlite}", 1, args))
    finally:
        sqlite.unlink(missing_ok=True)
    meta = {
        "date": pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%d %H:%M UTC"),
        "machine": platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "points": args.points,
        "batch": args.batch,
        "clients": args.clients,
        "rate": args.rate,
        "seconds": args.seconds,
        "copy_min_rows": telemetry_repository.COPY_MIN_ROWS,
        "load_1min_before": load_before,
        "load_1min_after": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(
        json.dumps({"meta": meta, "results": results}, indent=2) + "\n"
    )
    text = markdown(results, meta)
    args.out.with_suffix(".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
