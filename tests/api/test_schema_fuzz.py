"""Schemathesis against the live OpenAPI schema: a bounded number of generated requests per
operation, as an admin on a seeded park, must never give a 5xx or break the documented schema.

Schema-valid bodies may still break a cross-field domain rule (an enterprise key without its
enterprise, a nomination above the asset's power), answered 422 by design, so the
"positive data accepted" check is left out; every other check runs. Operations are driven through schemathesis' Python API with Hypothesis directly (its pytest
plugin does not load under this pytest), one strategy per operation.
"""

from __future__ import annotations

from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.api.conftest import ADMIN, BATTERY, build_client, seed_world

EXAMPLES_PER_OPERATION = 8


def test_no_server_errors_and_the_schema_holds(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fuzz.sqlite'}"
    with build_client(url, rate_limit_per_minute=1_000_000) as client:
        world = seed_world(client)
        client.post("/v1/enterprises/ent-a/assets", json=BATTERY, headers=world.ent_a)
        schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 20
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            def run(case: schemathesis.Case) -> None:
                case.call_and_validate(headers=ADMIN, excluded_checks=[positive_data_acceptance])

            run()
