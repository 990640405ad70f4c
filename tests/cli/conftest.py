"""Running the real `vpp` command in a subprocess, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

RunVpp = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def run_vpp() -> RunVpp:
    """A function running ``python -m vpp ARGS`` in ``cwd`` with extra ``env``; never raises."""

    def run(
        *args: str, cwd: Path, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        environment = {**os.environ, **(env or {}), "COLUMNS": "200"}
        return subprocess.run(
            [sys.executable, "-m", "vpp", *args],
            cwd=cwd,
            env=environment,
            capture_output=True,
            text=True,
            check=False,
            timeout=1200,
        )

    return run
