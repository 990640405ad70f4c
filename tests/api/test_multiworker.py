"""The real service: ``vpp serve --workers 2`` on a fresh PostgreSQL database, sharing its rate
limits in Redis, answers correctly from both workers under concurrent reads and stops cleanly.

Bounded: start-up within 60 s, a few hundred requests, shutdown within 30 s. Skips with the
reason when PostgreSQL or Redis does not answer.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import BATTERY, FURNACE, PARK, RedisStore, postgres_database

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
WORKERS = 2
READS = 240
RACERS = 6


@dataclass(frozen=True)
class Service:
    """A running ``vpp serve``: its process, base URL and admin headers."""

    process: subprocess.Popen[bytes]
    base: str
    admin: dict[str, str]


def free_port() -> int:
    """A TCP port on loopback nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_ready(service: Service, log: Path, seconds: float = 60.0) -> None:
    """Poll /readyz until it answers 200; fail with the server's log otherwise."""
    with httpx.Client(base_url=service.base, timeout=2) as client:
        for _ in range(int(seconds / 0.25)):
            if service.process.poll() is not None:
                break
            try:
                if client.get("/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.25)
    pytest.fail(f"vpp serve did not become ready:\n{log.read_text()[-3000:]}")


@contextmanager
def serve(url: str, store: RedisStore, log: Path) -> Iterator[Service]:
    """``vpp serve --workers 2 --no-scheduler`` on ``url``; SIGINT and a clean exit afterwards."""
    admin_key = secrets.token_urlsafe(32)
    port = free_port()
    env = {
        **os.environ,
        "VPP_DATABASE_URL": url,
        "VPP_ADMIN_KEY": admin_key,
        "VPP_JWT_SECRET": secrets.token_urlsafe(32),
        "VPP_REDIS_URL": store.url,
        "VPP_RATE_LIMIT_PREFIX": store.prefix,
        "VPP_RATE_LIMIT_PER_MINUTE": "100000",
        "VPP_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "vpp", "serve", "--no-scheduler", "--port", str(port)]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*command, "--workers", str(WORKERS)], env=env, stdout=sink, stderr=sink
        )
        service = Service(process, f"http://127.0.0.1:{port}", {"X-API-Key": admin_key})
        try:
            wait_ready(service, log)
            yield service
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                pytest.fail("vpp serve did not stop within 30 s of SIGINT")


def enrol(service: Service) -> dict[str, str]:
    """Register the park, an enterprise key and two assets; return the enterprise's headers."""
    with httpx.Client(base_url=service.base, timeout=10) as client:
        client.put("/v1/parks/suzhou-1", json=PARK, headers=service.admin).raise_for_status()
        body = {"role": "enterprise", "label": "mw", "enterprise_id": "ent-a"}
        created = client.post("/v1/api-keys", json=body, headers=service.admin)
        tenant = {"X-API-Key": created.raise_for_status().json()["key"]}
        for asset in (BATTERY, FURNACE):
            answer = client.post("/v1/enterprises/ent-a/assets", json=asset, headers=tenant)
            assert answer.status_code == 201, answer.text
    return tenant


def read_once(base: str, tenant: dict[str, str], k: int) -> tuple[str, int, object]:
    """One read on a fresh connection (so the kernel may hand it to either worker)."""
    path = ("/healthz", "/v1/enterprises/ent-a/assets", "/v1/enterprises/ent-a/assets/a-bat-1")[
        k % 3
    ]
    answer = httpx.get(base + path, headers=tenant, timeout=10)
    return path, answer.status_code, answer.json()


def race_to_enrol(base: str, tenant: dict[str, str]) -> list[int]:
    """The same new asset enrolled by ``RACERS`` concurrent requests: one wins, none fails."""
    body = {**BATTERY, "spec": {**BATTERY["spec"], "id": "a-bat-race"}}

    def enrol_once(_: int) -> int:
        url = base + "/v1/enterprises/ent-a/assets"
        return httpx.post(url, json=body, headers=tenant, timeout=10).status_code

    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        return list(pool.map(enrol_once, range(RACERS)))


def test_two_workers_on_postgresql_serve_one_consistent_state(
    tmp_path: Path, redis_store: RedisStore
) -> None:
    with postgres_database() as url, serve(url, redis_store, tmp_path / "serve.log") as service:
        tenant = enrol(service)
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(lambda k: read_once(service.base, tenant, k), range(READS)))
        assert {status for _, status, _ in answers} == {200}
        pids = {body["worker_pid"] for path, _, body in answers if path == "/healthz"}  # type: ignore[index]
        assert len(pids) == WORKERS, pids
        listed = [body for path, _, body in answers if path.endswith("/assets")]
        assert {tuple(a["id"] for a in b["items"]) for b in listed} == {  # type: ignore[index]
            ("a-bat-1", "a-furnace-2")
        }
        one = [body for path, _, body in answers if path.endswith("a-bat-1")]
        assert {(b["id"], b["nominated_mw"]) for b in one} == {("a-bat-1", 1.5)}  # type: ignore[index]
        assert sorted(race_to_enrol(service.base, tenant)) == [201] + [409] * (RACERS - 1)
        ready = httpx.get(service.base + "/readyz", timeout=5)
        assert ready.json() == {"status": "ready", "database": "postgresql"}
        workers = {int(p) for p in pids}
    assert service.process.returncode == 0, (tmp_path / "serve.log").read_text()[-3000:]
    for pid in workers:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
