"""Market profiles: everything market-specific, as validated data.

A profile (``config/markets/<id>.yaml``) holds a market's identity, timezone, gate times, bid
format, settlement rules, products, participation rules, behind-the-meter tariff, carbon rules
and default revenue-sharing terms. Code reads the profile; it never hard-codes market numbers.
Any section may carry ``source`` (where the value comes from) and ``verify: true`` (not yet
confirmed against the official rules); ``MarketProfile.unverified()`` lists them.
"""

from __future__ import annotations

from datetime import date, time
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from vpp.domain.assets import DailyWindow, clock_minutes
from vpp.domain.errors import InvalidInputError, NotFoundError, ProfileError
from vpp.domain.timegrid import day_intervals, market_time, zone
from vpp.domain.validation import read_yaml_mapping, validate_model


class Section(BaseModel):
    """Base of every profile section: provenance next to the values."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str | None = Field(default=None, description="Where these values come from.")
    verify: bool = Field(default=False, description="True while not confirmed officially.")


class MarketTime(Section):
    """A clock time in market time relative to the delivery day (``day_offset=-1``: D-1)."""

    day_offset: Annotated[int, Field(le=0, ge=-30)]
    time: str

    @field_validator("time")
    @classmethod
    def _clock(cls, value: str) -> str:
        time.fromisoformat(value)
        return value

    def on(self, delivery_day: date, tz: str) -> pd.Timestamp:
        """The UTC instant this time falls on for ``delivery_day``."""
        return market_time(delivery_day, self.day_offset, self.time, tz)

    def minutes_before_delivery(self) -> int:
        """How long before the start of the delivery day it falls [min] (DST ignored)."""
        return -self.day_offset * 1440 - clock_minutes(self.time)


class PriceBounds(Section):
    """Bid and clearing price limits [currency/MWh]."""

    bid_min: float
    bid_max: float
    clear_min: float | None = None
    clear_max: float | None = None
    dynamic_rule: str = "none"

    @model_validator(mode="after")
    def _ordered(self) -> PriceBounds:
        if self.bid_min >= self.bid_max:
            raise ValueError(f"bid_min ({self.bid_min}) must be below bid_max ({self.bid_max})")
        if (
            self.clear_min is not None
            and self.clear_max is not None
            and self.clear_min >= self.clear_max
        ):
            raise ValueError(
                f"clear_min ({self.clear_min}) must be below clear_max ({self.clear_max})"
            )
        return self


class TimeRules(Section):
    """The market's interval grid."""

    interval_minutes: Literal[5, 15, 30, 60] = 15
    dst_handling: Literal["none", "variable_intervals"] = "none"


class DayAhead(Section):
    """Day-ahead auction timing, resolutions and price limits."""

    enabled: bool = True
    gate_open: MarketTime | None = None
    gate_closure: MarketTime
    results_time: MarketTime | None = None
    clearing_resolution_min: Literal[5, 15, 30, 60] = 15
    bid_resolution_min: Literal[5, 15, 30, 60] = 15
    pricing: Literal["nodal", "zonal", "uniform_settlement_point"] = "zonal"
    price_bounds: PriceBounds

    @model_validator(mode="after")
    def _times_ordered(self) -> DayAhead:
        closure = self.gate_closure.minutes_before_delivery()
        if closure <= 0:
            raise ValueError("gate_closure must fall before the delivery day starts")
        if self.gate_open is not None and self.gate_open.minutes_before_delivery() <= closure:
            raise ValueError("gate_open must come before gate_closure")
        if self.results_time is not None and self.results_time.minutes_before_delivery() >= closure:
            raise ValueError("results_time must come after gate_closure")
        return self


class Monotonic(Section):
    """Required direction of prices along a curve, per side."""

    sell: Literal["non_decreasing"] = "non_decreasing"
    buy: Literal["non_increasing"] = "non_increasing"


class BidFormat(Section):
    """What a valid day-ahead bid looks like."""

    type: Literal["pq_curve", "hourly_qty_price_with_bounds", "blocks"] = "pq_curve"
    side: Literal["buy", "sell", "both"] = "both"
    min_segments: Annotated[int, Field(ge=1)] = 1
    max_segments: Annotated[int, Field(ge=1)] = 10
    monotonic: Monotonic = Field(default_factory=Monotonic)
    curve_shape: Literal["step", "linear", "linear_or_step"] = "step"
    price_tick: Annotated[float, Field(gt=0)] = 0.01
    qty_tick_mw: Annotated[float, Field(gt=0)] = 0.1
    min_bid_mw: Annotated[float, Field(ge=0)] = 0.0
    order_types: list[str] = Field(default_factory=lambda: ["curve"])
    same_node_required: bool = False

    @model_validator(mode="after")
    def _segments(self) -> BidFormat:
        if self.min_segments > self.max_segments:
            raise ValueError(
                f"min_segments ({self.min_segments}) exceeds max_segments ({self.max_segments})"
            )
        return self


class RealTime(Section):
    """Real-time market participation."""

    enabled: bool = True
    participation: Literal["price_taker", "bids"] = "price_taker"
    gate_closure_minutes_before: Annotated[int, Field(ge=0)] | None = None
    dispatch_interval_min: Annotated[int, Field(gt=0)] = 15


class Deviation(Section):
    """Penalty on the gap between day-ahead position and delivery."""

    tolerance_pct: Annotated[float, Field(ge=0, le=100)] | None = None
    penalty_rule: Literal["none", "price_factor", "fixed_price"] | None = None
    penalty_price_factor: Annotated[float, Field(ge=0)] | None = None
    penalty_price_per_mwh: Annotated[float, Field(ge=0)] | None = None
    applies_to: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> Deviation:
        if self.penalty_rule == "price_factor" and self.penalty_price_factor is None:
            raise ValueError("penalty_rule price_factor needs penalty_price_factor")
        if self.penalty_rule == "fixed_price" and self.penalty_price_per_mwh is None:
            raise ValueError("penalty_rule fixed_price needs penalty_price_per_mwh")
        return self


class Settlement(Section):
    """How the market settles energy and deviations."""

    scheme: Literal["two_settlement", "single"] = "two_settlement"
    da_price_ref: str | None = None
    rt_price_ref: str | None = None
    settlement_resolution_min: Literal[5, 15, 30, 60] = 15
    imbalance_period_min: Literal[5, 15, 30, 60] | None = None
    deviation: Deviation = Field(default_factory=Deviation)
    statement_cycle: str = "monthly"


class Activation(Section):
    """How a reserve product is activated and how long it must be sustained."""

    signal: str | None = None
    response_start_s: Annotated[float, Field(ge=0)] | None = None
    full_activation_s: Annotated[float, Field(ge=0)] | None = None
    setpoint_cycle_s: Annotated[float, Field(gt=0)] | None = None
    min_sustain_min: Annotated[float, Field(ge=0)] | None = None
    expected_activation_share: Annotated[float, Field(ge=0, le=1)] = Field(
        default=0.0,
        description="Expected share of offered capacity activated as energy over time [-].",
    )
    full_activation_dev_mhz: float | None = None
    deadband_mhz: float | None = None


class Performance(Section):
    """Performance scoring (e.g. the Chinese AGC K value)."""

    method: Literal["none", "k_value", "ratio"] = "none"
    params: dict[str, Any] = Field(default_factory=dict)


class MeasurementVerification(Section):
    """Baseline and pay curve for measured delivery (demand response)."""

    baseline: Literal["xofy", "cn_similar_days", "meter_before_after", "device"] = "xofy"
    params: dict[str, Any] = Field(default_factory=dict)
    floor: Annotated[float, Field(ge=0, le=1)] | None = None
    cap: Annotated[float, Field(ge=1)] | None = None
    penalty: str | None = None


class ProductPriceBounds(Section):
    """Offer price limits of an ancillary product, in its own unit."""

    min: float | None = None
    max: float | None = None
    unit: str | None = None


ProductKind = Literal["energy", "fcr", "afrr", "mfrr", "agc_fr", "dr", "peak_reg", "reserve"]


class Product(Section):
    """One tradable product: energy, a reserve, frequency regulation or demand response."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]
    kind: ProductKind
    enabled: bool = True
    direction: Literal["up", "down", "symmetric", "both"] = "both"
    product_length_h: Annotated[float, Field(gt=0, le=24)] | None = None
    gate_open: MarketTime | None = None
    gate_closure: MarketTime | None = None
    notice: str | None = None
    min_bid_mw: Annotated[float, Field(ge=0)] = 0.0
    bid_increment_mw: Annotated[float, Field(gt=0)] | None = None
    divisible: bool = True
    capacity_pricing: Literal["pay_as_bid", "pay_as_cleared", "none"] = "none"
    energy_pricing: str | None = None
    energy_gate_closure_min: Annotated[int, Field(ge=0)] | None = None
    energy_product_min: Annotated[int, Field(gt=0)] | None = None
    price_bounds: ProductPriceBounds | None = None
    activation: Activation = Field(default_factory=Activation)
    performance: Performance = Field(default_factory=Performance)
    mv: MeasurementVerification | None = None
    prequalification: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Product:
        if self.product_length_h is not None and (24 / self.product_length_h) % 1:
            raise ValueError(f"product_length_h ({self.product_length_h}) must divide 24 hours")
        if self.kind == "fcr" and self.direction != "symmetric":
            raise ValueError("an FCR product is symmetric; set direction: symmetric")
        if self.kind in {"fcr", "afrr", "mfrr", "reserve"} and self.capacity_pricing == "none":
            raise ValueError(f"a {self.kind} product needs capacity_pricing")
        return self

    @property
    def sustain_hours(self) -> float:
        """Hours a full activation must be held, for energy headroom [h]."""
        minutes = self.activation.min_sustain_min
        return 0.0 if minutes is None else minutes / 60


class Telemetry(Section):
    """Telemetry the market requires of a participant."""

    resolution_s: Annotated[float, Field(gt=0)] | None = None
    protocol: str | None = None


class Participation(Section):
    """Who may take part and at what size."""

    entity_type: str
    min_adjustable_mw: Annotated[float, Field(ge=0)] = 0.0
    min_sustain_h: Annotated[float, Field(ge=0)] = 0.0
    min_share_of_load: Annotated[float, Field(ge=0, le=1)] | None = None
    one_aggregator_per_user: bool = False
    pooling: str | None = None
    telemetry: Telemetry = Field(default_factory=Telemetry)
    prequalification: str | None = None


class TouPeriod(Section):
    """One time-of-use band with its price [currency/MWh] and daily windows."""

    name: str
    price_per_mwh: float
    windows: list[DailyWindow] = Field(min_length=1)


class DemandCharge(Section):
    """Monthly demand (capacity) charge."""

    basis: Literal["max_demand_kw", "capacity_kva"] = "max_demand_kw"
    rate_per_kw_month: Annotated[float, Field(ge=0)] | None = None
    window_min: Annotated[int, Field(gt=0)] = 15
    discount_if_kwh_per_kva_ge: float | None = None
    discount: Annotated[float, Field(ge=0, le=1)] | None = None


class BtmTariff(Section):
    """Behind-the-meter tariff a tenant pays: time-of-use bands and demand charge."""

    tou_periods: list[TouPeriod] = Field(default_factory=list)
    min_peak_valley_ratio: Annotated[float, Field(ge=1)] | None = None
    demand_charge: DemandCharge | None = None
    two_part_threshold_kva: Annotated[float, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _tou_covers_day(self) -> BtmTariff:
        if not self.tou_periods:
            return self
        minutes = sorted(
            (clock_minutes(w.start), clock_minutes(w.end), p.name)
            for p in self.tou_periods
            for w in p.windows
        )
        cursor = 0
        for start, end, name in minutes:
            if start != cursor:
                what = "overlaps" if start < cursor else "leaves a gap before"
                raise ValueError(
                    f"time-of-use period {name!r} {what} {start // 60:02d}:{start % 60:02d}; "
                    "periods must cover 00:00-24:00 exactly once"
                )
            cursor = end
        if cursor != 24 * 60:
            raise ValueError("time-of-use periods must reach 24:00")
        prices = [p.price_per_mwh for p in self.tou_periods]
        if self.min_peak_valley_ratio is not None and min(prices) > 0:
            ratio = max(prices) / min(prices)
            if ratio < self.min_peak_valley_ratio - 1e-9:
                raise ValueError(
                    f"peak:valley ratio {ratio:.2f} is below the required "
                    f"{self.min_peak_valley_ratio}"
                )
        return self

    def price_series(self, index: pd.DatetimeIndex, tz: str) -> pd.Series:
        """The time-of-use price [currency/MWh] of each UTC interval start in ``index``."""
        local = index.tz_convert(zone(tz))
        minute = pd.Index(local.hour * 60 + local.minute)
        prices = pd.Series(float("nan"), index=index)
        for period in self.tou_periods:
            for window in period.windows:
                inside = (minute >= clock_minutes(window.start)) & (
                    minute < clock_minutes(window.end)
                )
                prices[inside] = period.price_per_mwh
        return prices


class Certificate(Section):
    """Green certificates (GEC in China, GO in Europe)."""

    type: str
    mwh_per_cert: Annotated[float, Field(gt=0)] = 1.0


class SelfConsumption(Section):
    """On-site renewable self-consumption rules."""

    min_self_use_of_generation: Annotated[float, Field(ge=0, le=1)] | None = None
    min_share_of_load: Annotated[float, Field(ge=0, le=1)] | None = None
    min_share_of_load_from_2030_new: Annotated[float, Field(ge=0, le=1)] | None = None
    max_export_share: Annotated[float, Field(ge=0, le=1)] | None = None


class ParkIndicators(Section):
    """Zero-carbon park thresholds."""

    carbon_per_tce_max: Annotated[float, Field(gt=0)] | None = None
    clean_energy_share_min: Annotated[float, Field(ge=0, le=1)] | None = None


class CarbonGreen(Section):
    """Grid emission factor, certificates and park indicators."""

    grid_emission_factor_t_per_mwh: Annotated[float, Field(ge=0)] | None = None
    tce_per_mwh: Annotated[float, Field(gt=0)] = Field(
        default=0.1229, description="Electricity to standard coal, calorific equivalent [tce/MWh]."
    )
    certificate: Certificate | None = None
    self_consumption_rules: SelfConsumption = Field(default_factory=SelfConsumption)
    park_indicators: ParkIndicators = Field(default_factory=ParkIndicators)


class RevenueSharingDefaults(Section):
    """Default revenue-sharing terms offered to tenants (commercial, not a rule)."""

    scheme: str = "percentage_split"
    aggregator_share: Annotated[float, Field(ge=0, le=1)] = 0.2
    penalty_pass_through: str = "pro_rata_shortfall"
    min_guarantee: float | None = None


class MarketProfile(Section):
    """Everything market-specific about one market, validated at load."""

    market_id: Annotated[str, Field(pattern=r"^[a-z0-9-]+$")]
    name: str
    country: Annotated[str, Field(min_length=2, max_length=2)]
    operator: str | None = None
    version: str
    valid_from: date
    valid_to: date | None = None
    timezone: str
    currency: Annotated[str, Field(min_length=3, max_length=3)]
    price_unit: str
    energy_unit: Literal["MWh"] = "MWh"
    time: TimeRules = Field(default_factory=TimeRules)
    day_ahead: DayAhead
    bid_format: BidFormat = Field(default_factory=BidFormat)
    real_time: RealTime = Field(default_factory=RealTime)
    settlement: Settlement = Field(default_factory=Settlement)
    products: list[Product] = Field(min_length=1)
    participation: Participation
    btm_tariff: BtmTariff | None = None
    carbon_green: CarbonGreen = Field(default_factory=CarbonGreen)
    revenue_sharing: RevenueSharingDefaults = Field(default_factory=RevenueSharingDefaults)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            zone(value)
        except InvalidInputError as exc:
            raise ValueError(exc.message) from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> MarketProfile:
        if self.valid_to is not None and self.valid_to <= self.valid_from:
            raise ValueError(f"valid_to ({self.valid_to}) must be after valid_from")
        if not self.price_unit.startswith(self.currency):
            raise ValueError(f"price_unit {self.price_unit!r} is not in currency {self.currency}")
        ids = [p.id for p in self.products]
        if len(ids) != len(set(ids)):
            raise ValueError(f"product ids must be unique: {ids}")
        if not any(p.kind == "energy" for p in self.products):
            raise ValueError("a profile needs an energy product")
        step = self.time.interval_minutes
        for name in ("clearing_resolution_min", "bid_resolution_min"):
            value = getattr(self.day_ahead, name)
            if value % step:
                raise ValueError(f"day_ahead.{name} ({value}) is not a multiple of {step} min")
        if self.settlement.settlement_resolution_min % step:
            raise ValueError("settlement_resolution_min is not a multiple of interval_minutes")
        observes_dst = _observes_dst(self.timezone)
        if observes_dst and self.time.dst_handling == "none":
            raise ValueError(
                f"{self.timezone} observes DST; set time.dst_handling: variable_intervals"
            )
        return self

    @property
    def interval_minutes(self) -> int:
        """The market's interval length [min]."""
        return self.time.interval_minutes

    def day_intervals(self, day: date) -> pd.DatetimeIndex:
        """UTC interval starts of delivery day ``day``."""
        return day_intervals(day, self.timezone, self.interval_minutes)

    def gate_closure(self, day: date) -> pd.Timestamp:
        """UTC instant of the day-ahead gate closure for delivery day ``day``."""
        return self.day_ahead.gate_closure.on(day, self.timezone)

    def product(self, product_id: str) -> Product:
        """The product with ``product_id``."""
        for product in self.products:
            if product.id == product_id:
                return product
        raise NotFoundError(
            f"market {self.market_id} has no product {product_id!r}",
            hint=f"its products are {', '.join(p.id for p in self.products)}",
        )

    def enabled_products(self, *kinds: str) -> list[Product]:
        """Enabled products, optionally only of the given kinds."""
        return [p for p in self.products if p.enabled and (not kinds or p.kind in kinds)]

    def unverified(self) -> list[str]:
        """Dotted paths of every section flagged ``verify: true``."""
        found: list[str] = []
        _collect_unverified(self, "", found)
        return found


def _observes_dst(tz: str) -> bool:
    year = [pd.Timestamp(f"2021-{m:02d}-15", tz=zone(tz)).utcoffset() for m in (1, 7)]
    return bool(year[0] != year[1])


def _collect_unverified(node: Any, path: str, found: list[str]) -> None:
    if isinstance(node, Section):
        if node.verify:
            found.append(path or "(profile)")
        for name in type(node).model_fields:
            _collect_unverified(getattr(node, name), f"{path}.{name}" if path else name, found)
    elif isinstance(node, list):
        for k, item in enumerate(node):
            label = getattr(item, "id", k)
            _collect_unverified(item, f"{path}[{label}]", found)


CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"


def markets_dir(config_dir: Path | None = None) -> Path:
    """Folder holding the market profiles."""
    return (config_dir or CONFIG_DIR) / "markets"


def available_markets(config_dir: Path | None = None) -> list[str]:
    """Ids of the profiles shipped in ``config/markets``."""
    return sorted(p.stem for p in markets_dir(config_dir).glob("*.yaml"))


def load_market_profile(name_or_path: str | Path, config_dir: Path | None = None) -> MarketProfile:
    """Load and validate a market profile by id (``cn-shandong``) or by file path.

    Raises
    ------
    NotFoundError
        No profile of that id; the message lists the ones there are.
    ProfileError
        The file is malformed or self-contradictory; the message names file, field and value.
    """
    path = Path(name_or_path)
    if path.suffix not in {".yaml", ".yml"}:
        path = markets_dir(config_dir) / f"{name_or_path}.yaml"
        if not path.is_file():
            raise NotFoundError(
                f"no market profile {str(name_or_path)!r}",
                hint=f"available: {', '.join(available_markets(config_dir)) or 'none'}",
            )
    data = read_yaml_mapping(path, ProfileError)
    profile = validate_model(MarketProfile, data, str(path), ProfileError)
    if path.stem != profile.market_id and path.parent == markets_dir(config_dir):
        raise ProfileError(f"{path}: market_id {profile.market_id!r} differs from the file name")
    return profile
