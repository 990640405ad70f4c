"""The portfolio only offers assets whose owners consented, and its references are consistent."""

from __future__ import annotations

import copy
from typing import Any

import pandas as pd
import pytest
from pydantic import ValidationError

from vpp.domain.portfolio import Portfolio

BASE: dict[str, Any] = {
    "park": {
        "id": "p",
        "name": "Park",
        "market_id": "cn-shandong",
        "import_limit_mw": 20,
        "export_limit_mw": 5,
        "enterprises": [{"id": "steel", "name": "Steel"}, {"id": "dc", "name": "DC"}],
    },
    "assets": [
        {
            "enterprise_id": "steel",
            "verification": "passed",
            "spec": {
                "id": "furnace",
                "type": "curtailable_load",
                "max_curtail_mw": 3,
                "max_duration_min": 60,
            },
        },
        {
            "enterprise_id": "dc",
            "verification": "passed",
            "spec": {"id": "bess", "type": "battery", "power_mw": 1, "energy_mwh": 2},
        },
    ],
    "contracts": [
        {
            "id": "c1",
            "enterprise_id": "steel",
            "currency": "CNY",
            "valid_from": "2026-01-01T00:00:00+08:00",
        },
        {
            "id": "c2",
            "enterprise_id": "dc",
            "currency": "CNY",
            "valid_from": "2026-01-01T00:00:00+08:00",
        },
    ],
    "consents": [
        {
            "enterprise_id": "steel",
            "asset_ids": ["furnace"],
            "agreed_by": "Zhang Min",
            "agreed_at": "2026-01-05T10:00:00+08:00",
            "contract_id": "c1",
            "terms_version": "1",
            "products": ["dr_peak_shaving"],
        },
    ],
}


def test_assets_without_consent_are_never_offered() -> None:
    portfolio = Portfolio.model_validate(BASE)
    after = pd.Timestamp("2026-02-01T00:00Z")
    assert [a.id for a in portfolio.offerable("dr_peak_shaving", after)] == ["furnace"]
    assert portfolio.offerable("spot_energy", after) == []
    assert "no consent of dc" in portfolio.excluded("dr_peak_shaving", after)["bess"]
    before = pd.Timestamp("2026-01-01T00:00Z")
    assert portfolio.offerable("dr_peak_shaving", before) == []


@pytest.mark.parametrize("status", ["unverified", "scheduled", "failed"])
def test_unverified_capacity_is_never_offered(status: str) -> None:
    data = copy.deepcopy(BASE)
    data["assets"][0]["verification"] = status
    portfolio = Portfolio.model_validate(data)
    after = pd.Timestamp("2026-02-01T00:00Z")
    assert portfolio.offerable("dr_peak_shaving", after) == []
    assert portfolio.excluded("dr_peak_shaving", after)["furnace"] == (
        f"verification {status}, not passed"
    )


def test_revoked_consent_stops_offers() -> None:
    data = {
        **BASE,
        "consents": [{**BASE["consents"][0], "revoked_at": "2026-03-01T00:00:00+08:00"}],
    }
    portfolio = Portfolio.model_validate(data)
    assert portfolio.offerable("dr_peak_shaving", pd.Timestamp("2026-03-02T00:00Z")) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["assets"][0].update(enterprise_id="ghost"), "unknown enterprise 'ghost'"),
        (lambda d: d["consents"][0].update(contract_id="c9"), "unknown contract 'c9'"),
        (
            lambda d: d["consents"][0].update(asset_ids=["turbine"]),
            "unknown assets \\['turbine'\\]",
        ),
        (lambda d: d["consents"][0].update(agreed_at="2026-01-05T10:00:00"), "timezone"),
    ],
)
def test_broken_references_are_refused(change: Any, message: str) -> None:
    data = copy.deepcopy(BASE)
    change(data)
    with pytest.raises(ValidationError, match=message):
        Portfolio.model_validate(data)
