"""compose.yaml, the Dockerfile and .env.example describe the service as it is deployed.

No Docker engine runs where the tests do, so these read the files: the three services and how
they wait for each other, the environment the service reads (names checked against the
settings classes, so a typo cannot slip through), and the command the image runs.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from vpp.api.config import ApiSettings
from vpp.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SECRETS = ("VPP_ADMIN_KEY", "VPP_JWT_SECRET")


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    found: dict[str, Any] = compose["services"]
    return found


def env_files(service: dict[str, Any]) -> list[str]:
    """The paths of a service's ``env_file`` (a string, or a list of strings or mappings)."""
    entries = service.get("env_file", [])
    entries = [entries] if isinstance(entries, str) else entries
    return [entry if isinstance(entry, str) else entry["path"] for entry in entries]


def settings_variables() -> set[str]:
    """Every ``VPP_*`` variable the service reads."""
    fields = {*Settings.model_fields, *ApiSettings.model_fields}
    return {f"VPP_{name.upper()}" for name in fields}


def image_command() -> list[str]:
    """ENTRYPOINT + CMD of the Dockerfile's last stage, as the container runs them."""
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    instructions = [
        line.strip().split(maxsplit=1)
        for line in text.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    last_stage = max(i for i, (word, *_) in enumerate(instructions) if word.upper() == "FROM")
    parts: dict[str, list[str]] = {"ENTRYPOINT": [], "CMD": []}
    for word, argument in instructions[last_stage:]:
        if word.upper() in parts:
            exec_form = argument.startswith("[")
            parts[word.upper()] = json.loads(argument) if exec_form else shlex.split(argument)
    return parts["ENTRYPOINT"] + parts["CMD"]


def test_the_three_services(services: dict[str, Any]) -> None:
    assert set(services) == {"api", "postgres", "redis"}
    assert services["api"]["build"] == "."
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")


def test_api_waits_for_healthy_postgres_and_redis(services: dict[str, Any]) -> None:
    for name in ("postgres", "redis"):
        assert services["api"]["depends_on"][name]["condition"] == "service_healthy"
        check = services[name]["healthcheck"]["test"]
        assert check[0] in {"CMD", "CMD-SHELL"} and len(check) > 1, name


def test_postgres_keeps_its_data_in_a_named_volume(services: dict[str, Any]) -> None:
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    mounts = [m.split(":") for m in services["postgres"]["volumes"]]
    assert ["pgdata", "/var/lib/postgresql/data"] in mounts
    assert "pgdata" in compose["volumes"]


def test_api_reaches_postgres_and_redis_by_service_name(services: dict[str, Any]) -> None:
    environment = services["api"]["environment"]
    database = urlsplit(environment["VPP_DATABASE_URL"])
    assert (database.scheme, database.hostname) == ("postgresql+psycopg", "postgres")
    postgres = services["postgres"]["environment"]
    assert database.username == postgres["POSTGRES_USER"]
    assert database.password == postgres["POSTGRES_PASSWORD"]
    assert database.path == f"/{postgres['POSTGRES_DB']}"
    redis = urlsplit(environment["VPP_REDIS_URL"])
    assert (redis.scheme, redis.hostname) == ("redis", "redis")
    assert set(environment) <= settings_variables()


def test_secrets_come_from_the_env_file(services: dict[str, Any]) -> None:
    assert env_files(services["api"]) == [".env"]
    assert not set(SECRETS) & set(services["api"].get("environment", {}))
    assert ".env" in (REPO / ".gitignore").read_text().splitlines()


def test_env_example_names_the_secrets_and_holds_none() -> None:
    lines = (REPO / ".env.example").read_text().splitlines()
    assignments = dict(
        line.split("=", 1) for line in lines if line.strip() and not line.startswith("#")
    )
    assert set(assignments) == set(SECRETS)
    assert set(assignments) <= settings_variables()
    assert all(value == "" for value in assignments.values())
    assert any("secrets.token_urlsafe" in line for line in lines)


def test_image_serves_on_all_interfaces_at_the_published_port(services: dict[str, Any]) -> None:
    command = image_command()
    assert command[:2] == ["vpp", "serve"]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    port = command[command.index("--port") + 1]
    assert f"8000:{port}" in services["api"]["ports"]
