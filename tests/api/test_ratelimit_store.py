"""The Redis rate-limit store: workers share one budget per credential; Redis down at start-up
is an error, Redis lost at runtime admits requests with a warning.

Against the real Redis on this machine (``VPP_TEST_REDIS_URL``), skipped with the reason when
none answers.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from tests.api.conftest import ADMIN, RedisStore, build_client
from vpp.api.errors import RateLimitStoreError
from vpp.api.ratelimit import RedisRateLimiter

UNREACHABLE = "redis://:hunter2@127.0.0.1:1/0"


def test_two_apps_sharing_redis_share_one_budget(tmp_path: Path, redis_store: RedisStore) -> None:
    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    shared = {
        "rate_limit_per_minute": 5,
        "redis_url": redis_store.url,
        "rate_limit_prefix": redis_store.prefix,
    }
    with build_client(url, **shared) as one, build_client(url, **shared) as two:
        codes = [one.get("/v1/api-keys", headers=ADMIN).status_code for _ in range(3)]
        codes += [two.get("/v1/api-keys", headers=ADMIN).status_code for _ in range(3)]
        assert codes == [200] * 5 + [429]
        limited = one.get("/v1/api-keys", headers=ADMIN)
        assert limited.status_code == 429
        assert limited.headers["content-type"] == "application/problem+json"
        assert 1 <= int(limited.headers["Retry-After"]) <= 12
        body = limited.json()
        assert body["type"].endswith("/rate-limited") and body["status"] == 429


def test_failed_guesses_are_limited_across_apps(tmp_path: Path, redis_store: RedisStore) -> None:
    url = f"sqlite:///{tmp_path / 'guess.sqlite'}"
    shared = {
        "rate_limit_per_minute": 4,
        "redis_url": redis_store.url,
        "rate_limit_prefix": redis_store.prefix,
    }
    wrong = {"X-API-Key": "vpp_knope.wrong"}
    with build_client(url, **shared) as one, build_client(url, **shared) as two:
        codes = [c.get("/v1/api-keys", headers=wrong).status_code for c in (one, two) * 3]
        assert codes == [401] * 4 + [429] * 2


def test_unreachable_redis_at_start_up_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RateLimitStoreError) as raised:
        build_client(f"sqlite:///{tmp_path / 'x.sqlite'}", redis_url=UNREACHABLE)
    assert "redis://***@127.0.0.1:1/0 is unreachable" in raised.value.message
    assert "hunter2" not in str(raised.value)


def test_redis_lost_at_runtime_fails_open_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    client = redis.Redis.from_url(UNREACHABLE, socket_connect_timeout=0.2)
    limiter = RedisRateLimiter(client, per_minute=1)
    with caplog.at_level(logging.WARNING, logger="vpp.api.ratelimit"):
        for _ in range(3):
            limiter.hit("k1")
    limiter.close()
    warnings = [r for r in caplog.records if "rate-limit store unavailable" in r.message]
    assert len(warnings) == 1


def test_serve_stops_before_any_worker_when_redis_is_unreachable(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "VPP_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite'}",
        "VPP_REDIS_URL": UNREACHABLE,
    }
    command = [sys.executable, "-m", "vpp", "serve", "--no-scheduler", "--port", "1"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "rate-limit store Redis" in done.stderr and "unreachable" in done.stderr
    assert not (tmp_path / "serve.sqlite").exists()  # stopped before migrating
