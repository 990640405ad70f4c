"""Fixtures shared by the whole suite.

``shared_data`` points at ``../shared/data`` beside the checkout (CI always has it). On a user's
fresh clone it is absent, and the tests that need it skip with that reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The ``../shared`` folder; skip the test when it is absent."""
    if not (SHARED_DIR / "data").is_dir():
        pytest.skip(f"../shared/data is absent beside the checkout ({SHARED_DIR} not found)")
    return SHARED_DIR


@pytest.fixture(scope="session")
def shared_data(shared_dir: Path) -> Path:
    """The ``../shared/data`` folder of real public datasets."""
    return shared_dir / "data"
