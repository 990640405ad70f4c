"""Settings come from ``VPP_*`` variables; ``vpp db`` migrates and reports the revision."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from vpp.settings import Settings, get_settings


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("VPP_DATABASE_URL", "VPP_CONFIG_DIR", "VPP_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    settings = get_settings()
    assert settings.database_url == "sqlite:///./parkvpp.sqlite"
    assert settings.config_dir == Path(__file__).resolve().parents[2] / "config"
    assert (settings.config_dir / "markets").is_dir()
    assert settings.log_level == "INFO"


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VPP_DATABASE_URL", "postgresql+psycopg://vpp@db.example/vpp")
    monkeypatch.setenv("VPP_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("VPP_LOG_LEVEL", "DEBUG")
    settings = get_settings()
    assert settings == Settings(
        database_url="postgresql+psycopg://vpp@db.example/vpp",
        config_dir=tmp_path,
        log_level="DEBUG",
    )


def test_db_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = pytest.importorskip(
        "vpp.cli.db", reason="the vpp.cli package does not import yet", exc_type=ImportError
    )
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    monkeypatch.setenv("VPP_DATABASE_URL", url)
    runner = CliRunner()
    before = runner.invoke(db.app, ["current"])
    assert before.exit_code == 0, before.output
    assert "revision none" in before.output
    upgraded = runner.invoke(db.app, ["upgrade", "--url", url])
    assert upgraded.exit_code == 0, upgraded.output
    assert "0007_park_scopes" in upgraded.output
    after = runner.invoke(db.app, ["current"])
    assert "revision 0007_park_scopes, up to date" in after.output
