"""API read latency at a fixed request rate, and peak requests/s, against PostgreSQL, 2 workers.

Starts ``vpp serve --workers 2`` (the same :class:`api_throughput.Server`) on a fresh PostgreSQL
database with the Redis rate-limit store (``VPP_REDIS_URL``, default the local Redis), enrols an
enterprise with 8 verified, consented batteries through the API, then measures

1. fixed rate: ``GET`` of the operator portfolio and of one asset, each at its own rate for
   ``--seconds`` s, by an open-loop load generator running in a *separate process* (this script
   with ``--generate``). Latency is counted from the instant each request was *scheduled*, so a
   stalled server cannot hide its queueing (no coordinated omission, as in wrk2);
2. peak: ``wrk`` (closed loop, ``--connections`` connections, 2 threads) on ``/healthz`` (a small
   JSON answer, no auth, no database) and on the asset ``GET`` (key auth + Redis token bucket +
   one indexed query) -> requests/s and wrk's p50/p99.

wrk: ``apt-get install -y wrk`` (Debian/Ubuntu) or build https://github.com/wg/wrk; without it
the peak step is skipped and says so. wrk 4 has no fixed-rate mode, hence the generator above.

Anchor (issue 5): FastAPI serves about 5,900 JSON requests/s on a 2-vCPU runner, p50 8 ms.
Server, load generator and wrk share the same 2 cores here, which the report states.

Run: ``.venv/bin/python benchmarks/api_latency.py [--seconds 20]`` (about 2 minutes; ``--smoke
--out /tmp/x`` checks the script in under a minute); writes
``benchmarks/results/api_latency.{md,json}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from api_throughput import Server, bootstrap, drop_postgres, fresh_postgres

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
ANCHOR = "FastAPI ~5,900 JSON req/s on 2 vCPU, p50 8 ms"
PORTFOLIO = "/v1/parks/bench-park/portfolio?day=2024-01-02&product=spot_energy"
ASSET = "/v1/enterprises/ent-a/assets/bess-0"
WRK_LATENCY = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)


async def open_loop(
    base: str, path: str, key: str, rate: float, seconds: float
) -> dict[str, float]:
    """GET ``path`` at ``rate`` per second for ``seconds``; latency from each scheduled instant."""
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=128, max_keepalive_connections=128)
    async with httpx.AsyncClient(
        base_url=base, timeout=30, headers={"X-API-Key": key}, limits=limits
    ) as client:

        async def one(due: float) -> None:
            nonlocal errors
            answer = await client.get(path)
            latencies.append(time.perf_counter() - due)
            errors += answer.status_code != 200

        for _ in range(8):  # warm the connection pool and the server's caches
            await client.get(path)
        n = int(rate * seconds)
        t0 = time.perf_counter()
        tasks = []
        for i in range(n):
            due = t0 + i / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.append(asyncio.create_task(one(due)))
        await asyncio.gather(*tasks)
        wall = time.perf_counter() - t0
    q = statistics.quantiles(latencies, n=100)
    return {
        "requests": n,
        "target_rate": rate,
        "achieved_rate": round(n / wall, 1),
        "p50_ms": round(q[49] * 1000, 2),
        "p99_ms": round(q[98] * 1000, 2),
        "errors": errors,
    }


def generate(base: str, path: str, key: str, rate: float, seconds: float) -> dict[str, float]:
    """Run :func:`open_loop` in a child process of its own and return its summary."""
    command = [sys.executable, __file__, "--generate", base, path, key, str(rate), str(seconds)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=True)
    summary: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return summary


def wrk(base: str, path: str, headers: dict[str, str], seconds: int, connections: int) -> dict:
    """Peak requests/s and wrk's p50 / p99 for ``path`` (closed loop)."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-T10s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    done = subprocess.run(
        [*command, base + path], capture_output=True, text=True, timeout=seconds + 30, check=True
    )
    out = done.stdout
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    quantiles = {q: float(v) * scale[u] for q, v, u in WRK_LATENCY.findall(out)}
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": round(quantiles["50"], 2),
        "p99_ms": round(quantiles["99"], 2),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "connections": connections,
        "seconds": seconds,
    }


def machine() -> dict[str, object]:
    """Where the run happened."""
    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"model name\s*:\s*(.+)", cpuinfo.read_text())
        model = found.group(1).strip() if found else model
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": platform.machine(),
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "load_1min": round(os.getloadavg()[0], 2),
    }


def measure(args: argparse.Namespace) -> dict[str, object]:
    """One server on a fresh PostgreSQL database: fixed-rate reads, then wrk peaks."""
    os.environ["VPP_REDIS_URL"] = args.redis_url
    os.environ["VPP_RATE_LIMIT_PREFIX"] = f"vpp-bench:{secrets.token_hex(4)}:"
    url, name = fresh_postgres()
    server = Server(url, args.workers)
    try:
        ent_key, op_key = bootstrap(server)
        fixed = {
            "portfolio": generate(
                server.base, PORTFOLIO, op_key, args.portfolio_rate, args.seconds
            ),
            "asset": generate(server.base, ASSET, ent_key, args.rate, args.seconds),
        }
        peak: dict[str, object] = {"skipped": "wrk not installed (apt-get install -y wrk)"}
        if shutil.which("wrk"):
            peak = {
                "healthz": wrk(server.base, "/healthz", {}, args.wrk_seconds, args.connections),
                "asset": wrk(
                    server.base, ASSET, {"X-API-Key": ent_key}, args.wrk_seconds, args.connections
                ),
            }
    finally:
        server.stop()
        drop_postgres(name)
    return {"workers": args.workers, "fixed_rate": fixed, "peak": peak}


def markdown(result: dict, meta: dict[str, object], load_after: float) -> str:
    """The report."""
    lines = [
        "# API read latency and peak throughput (loopback, PostgreSQL)",
        "",
        f"Run {meta['date']} on {meta['machine']} ({meta['cpu']}), {meta['cores']} cores shared by "
        f"server ({result['workers']} uvicorn workers), load generator and wrk; Python "
        f"{meta['python']}. Rate limits in Redis (one token-bucket script call per request). "
        f"1-minute load {meta['load_1min']} before, {load_after} after (other work included).",
        "",
        "## Fixed request rate (open loop, separate process, latency from the scheduled instant)",
        "",
        "| endpoint | target [req/s] | achieved [req/s] | p50 [ms] | p99 [ms] | errors |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in result["fixed_rate"].items():
        lines.append(
            f"| {name} | {r['target_rate']:g} | {r['achieved_rate']:g} | {r['p50_ms']} "
            f"| {r['p99_ms']} | {r['errors']} |"
        )
    lines += ["", f"## Peak (wrk, closed loop) vs anchor: {ANCHOR}", ""]
    if "skipped" in result["peak"]:
        lines.append(f"Skipped: {result['peak']['skipped']}.")
    else:
        lines += [
            "| endpoint | connections | req/s | p50 [ms] | p99 [ms] | non-2xx |",
            "|---|---|---|---|---|---|",
        ]
        for name, r in result["peak"].items():
            lines.append(
                f"| {name} | {r['connections']} | {r['requests_per_s']:,.0f} | {r['p50_ms']} "
                f"| {r['p99_ms']} | {r['non_2xx']} |"
            )
    lines += [
        "",
        "Portfolio: the operator's flexibility envelope for one day (96 intervals, 8 assets); "
        "asset: one enrolled asset as its enterprise reads it. /healthz: small JSON, no auth, "
        "no database.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--generate":
        base, path, key, rate, seconds = sys.argv[2:7]
        print(json.dumps(asyncio.run(open_loop(base, path, key, float(rate), float(seconds)))))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=100.0, help="asset reads per second")
    parser.add_argument("--portfolio-rate", type=float, default=10.0, help="portfolio reads/s")
    parser.add_argument("--seconds", type=float, default=20.0, help="per fixed-rate endpoint")
    parser.add_argument("--wrk-seconds", type=int, default=10, help="per wrk endpoint")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument(
        "--redis-url", default=os.environ.get("VPP_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument("--smoke", action="store_true", help="3 s per step (checks the script)")
    parser.add_argument("--out", type=Path, default=RESULTS / "api_latency")
    args = parser.parse_args()
    if args.smoke:
        args.seconds, args.wrk_seconds = 3.0, 3
    meta = machine()
    result = measure(args)
    load_after = round(os.getloadavg()[0], 2)
    args.out.with_suffix(".json").write_text(
        json.dumps({"meta": {**meta, "load_1min_after": load_after}, **result}, indent=2) + "\n"
    )
    text = markdown(result, meta, load_after)
    args.out.with_suffix(".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
