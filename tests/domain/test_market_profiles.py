"""Market profiles load, validate, and refuse contradictions naming file, field and value."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from vpp.domain.errors import NotFoundError, ProfileError
from vpp.domain.market import available_markets, load_market_profile, markets_dir


def test_shipped_profiles_load() -> None:
    assert {"cn-shandong", "de-lu"} <= set(available_markets())
    for market_id in available_markets():
        assert load_market_profile(market_id).market_id == market_id


def test_cn_shandong_has_the_products_and_rules_the_park_needs() -> None:
    profile = load_market_profile("cn-shandong")
    assert profile.timezone == "Asia/Shanghai" and profile.currency == "CNY"
    kinds = {p.kind for p in profile.enabled_products()}
    assert {"energy", "agc_fr", "dr"} <= kinds
    assert profile.settlement.scheme == "two_settlement"
    assert profile.carbon_green.park_indicators.carbon_per_tce_max == 0.20
    assert profile.carbon_green.self_consumption_rules.min_self_use_of_generation == 0.60
    agc = profile.product("agc_fr")
    assert agc.performance.method == "k_value"
    assert agc.performance.params["weights"] == [0.4, 0.3, 0.3]
    assert profile.btm_tariff is not None
    prices = profile.btm_tariff.price_series(
        profile.day_intervals(date(2026, 3, 2)), profile.timezone
    )
    assert prices.notna().all()
    assert prices.max() / prices.min() >= 3.0
    # Peak at 18:00 local, valley at 03:00 local.
    local = prices.index.tz_convert("Asia/Shanghai")
    assert prices[(local.hour == 18)].iloc[0] == 1000 and prices[(local.hour == 3)].iloc[0] == 250


def test_de_lu_fcr_afrr_and_sdac() -> None:
    profile = load_market_profile("de-lu")
    fcr = profile.product("fcr")
    assert fcr.direction == "symmetric" and fcr.product_length_h == 4 and fcr.min_bid_mw == 1
    assert {p.id for p in profile.enabled_products("afrr")} == {"afrr_pos", "afrr_neg"}
    assert profile.day_ahead.price_bounds.bid_min == -500
    assert profile.day_ahead.price_bounds.bid_max == 4000
    assert profile.gate_closure(date(2025, 10, 27)) == pd.Timestamp("2025-10-26T11:00Z")
    assert len(profile.day_intervals(date(2025, 10, 26))) == 100


def test_uncertain_values_keep_source_and_verify_flag() -> None:
    profile = load_market_profile("cn-shandong")
    unverified = profile.unverified()
    assert "day_ahead.gate_closure" in unverified
    assert "products[agc_fr]" in unverified
    assert profile.day_ahead.gate_closure.source


def test_unknown_market_lists_the_available_ones() -> None:
    with pytest.raises(NotFoundError, match=r"available: .*cn-shandong"):
        load_market_profile("xx-nowhere")


def _broken(tmp_path: Path, edit: Any) -> Path:
    data = yaml.safe_load((markets_dir() / "de-lu.yaml").read_text())
    edit(data)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.pop("timezone"), r"broken.yaml: timezone: required field is missing"),
        (
            lambda d: d.update(timezone="Europe/Atlantis"),
            r"timezone = 'Europe/Atlantis': unknown timezone",
        ),
        (
            lambda d: d["day_ahead"]["price_bounds"].update(bid_min=5000),
            r"day_ahead.price_bounds: bid_min \(5000.0\) must be below bid_max",
        ),
        (
            lambda d: d["bid_format"].update(min_segments=300),
            r"min_segments \(300\) exceeds max_segments",
        ),
        (
            lambda d: d["day_ahead"]["gate_closure"].update(day_offset=0, time="00:00"),
            r"gate_closure must fall before",
        ),
        (
            lambda d: d["products"][1].update(direction="up"),
            r"products\[1\] \(id 'fcr'\): an FCR product is symmetric",
        ),
        (
            lambda d: d["products"][1].update(product_length_h=5),
            r"product_length_h \(5.0\) must divide 24",
        ),
        (lambda d: d["time"].update(dst_handling="none"), r"observes DST; set time.dst_handling"),
        (lambda d: d["time"].update(interval_minutes=7), r"time.interval_minutes = 7"),
        (lambda d: d.update(currency="CNY"), r"price_unit 'EUR/MWh' is not in currency CNY"),
        (lambda d: d["products"].append(dict(d["products"][1])), r"product ids must be unique"),
        (lambda d: d["bid_format"].update(max_segmnts=3), r"bid_format.max_segmnts: unknown field"),
    ],
)
def test_contradictions_are_refused_at_load(tmp_path: Path, edit: Any, message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        load_market_profile(_broken(tmp_path, edit))


def test_time_of_use_periods_must_tile_the_day(tmp_path: Path) -> None:
    data = yaml.safe_load((markets_dir() / "cn-shandong.yaml").read_text())
    data["btm_tariff"]["tou_periods"][2]["windows"] = [{"start": "16:00", "end": "21:00"}]
    path = tmp_path / "gap.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    with pytest.raises(
        ProfileError,
        match=r"gap.yaml: btm_tariff: time-of-use period 'flat' leaves a gap before 22:00",
    ):
        load_market_profile(path)


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("market_id: x\nname: [unclosed\n")
    with pytest.raises(ProfileError, match=r"bad.yaml: line \d+ is not valid YAML"):
        load_market_profile(path)
