"""The inputs of one day-ahead bidding problem, checked and put into array form.

``BidProblem`` is what a caller fills in (the demo service, the backtester, a test); it holds
domain objects and plain arrays and knows nothing of the solver. :func:`prepare` turns it into a
:class:`Prepared` problem: prices as a (scenarios x intervals) array, weights summing to one,
each reserve product with its direction, blocks and sustain time, and the local clock minute of
every interval (asset windows are in market time). The model is built from ``Prepared`` only.

Sign convention (``vpp.domain``): power > 0 flows into the grid (sell, discharge), < 0 is drawn
from it (buy, charge). ``base_load_mw`` is a consumption magnitude (>= 0).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from vpp.domain.assets import AssetSpec, BatterySpec
from vpp.domain.errors import InvalidInputError
from vpp.domain.market import MarketProfile, Product
from vpp.domain.timegrid import zone

#: Default AGC mileage per MW of capacity per hour [MW-mileage/(MW h)] — an assumption for a
#: storage unit following AGC in a Chinese province; verify against the province's statistics.
AGC_MILEAGE_PER_MW_H = 4.0
#: Default AGC performance index K used in pay [-]; Hunan caps K at 2 and admits from 0.3.
AGC_K = 1.0

RESERVE_KINDS = ("fcr", "afrr", "mfrr", "agc_fr", "dr", "reserve")


@dataclass
class BidProblem:
    """One day-ahead bidding problem for a portfolio of flexible assets.

    Parameters
    ----------
    profile : MarketProfile
        The market's rules.
    assets : sequence of AssetSpec
        Flexible assets of the park.
    intervals : pandas.DatetimeIndex
        UTC starts of the delivery day's intervals (``profile.day_intervals(day)``).
    price_scenarios : numpy.ndarray
        (S, T) day-ahead energy price scenarios [currency/MWh]; S = 1 is deterministic.
    scenario_weights : numpy.ndarray, optional
        (S,) probabilities; equal weights when omitted.
    base_load_mw : numpy.ndarray, optional
        (T,) or (S, T) inflexible park consumption, magnitude >= 0 [MW].
    renewable_mw : mapping
        Asset id -> (T,) forecast available output of each PV/wind asset [MW].
    reserve_prices : mapping
        Product id -> (T,) expected capacity price [currency/MW/h] (AGC: mileage price
        [currency/MW-mileage]). Only products given a price are offered.
    import_limit_mw, export_limit_mw : float
        Park connection limits on drawing from / feeding into the grid [MW].
    soc_initial : mapping
        Asset id -> state of charge at the start of the day [fraction]; overrides the spec.
    risk_weight : float
        Weight of CVaR of profit added to the expected profit [-].
    cvar_alpha : float
        CVaR confidence level [-]; the worst ``1 - alpha`` share of scenarios is averaged.
    solver : str
        MathOpt solver name (``highs`` default).
    agc_mileage_per_mw_h : float
        AGC mileage per MW of capacity per hour [MW/(MW h)].
    agc_k : float
        AGC performance index used in pay [-].
    aggregate : bool
        Merge batteries that are scaled copies of each other into one (exact), and, per
        ``virtual_groups``, cluster the rest into virtual batteries.
    virtual_groups : int, optional
        About how many virtual batteries to model batteries that are not scaled copies with
        (an inner approximation: every member's plan stays feasible; some flexibility is given
        up). 0 never; ``None`` (default) only beyond 2,000 batteries after the exact merge.
    reserve_groups : int, optional
        With virtual batteries and reserve products: decide the reserves on about this many
        coarse virtual batteries (each a union of whole fine ones), then fix each fine battery's
        share and re-plan energy on the fine model, which stays fast however many batteries
        there are. 0 decides reserves on the fine model directly (slow beyond ~50 virtual
        batteries); ``None`` (default): ``bidding.aggregation.RESERVE_GROUPS``.
    time_limit_s : float, optional
        Solver time limit [s].
    exact_mip : bool or None
        How reserve increments are solved: ``True`` as an exact MIP, ``False`` by relax-and-fix
        (fast; can lose a whole increment per block), ``None`` (default) the MIP within a few
        seconds, falling back to the better of it and relax-and-fix.
    reserve_eligible : mapping, optional
        Asset id -> the reserve products it may hold (e.g. what its owner consented to); an asset
        missing from the mapping holds none. ``None`` (default): every asset may hold every
        reserve product its physics allows.
    deliverable_curves : bool
        With several price scenarios: constrain the batteries so that any mix of the scenarios'
        positions over the day (what hour-by-hour curves can clear) stays inside the SoC
        window, keeps the sustain energy of the reserves held and ends at the end-of-day
        target, so awards never need re-dispatch (default). Not applied in the fine stage of a
        two-stage virtual fleet with reserves (``reserve_groups``), where it made the LP
        hundreds of times slower. ``False`` only makes each scenario's own path feasible: more
        expected revenue in the model, but a realised mix can leave a battery short and the
        difference is settled as imbalance.
    exact_events : bool
        Devices switch on and off (binaries, a MIP; default): curtailable loads in at most
        ``max_events_per_day`` events, none longer than ``max_duration_min``; backup generators
        between their minimum stable output and rating while on, on for at most
        ``max_run_h_per_day``. ``False`` relaxes the rules to energy and rolling-window limits
        (an LP; faster for many such devices, but the plan may curtail a little in many
        separate intervals or idle a generator below its minimum).
    decompose : bool or None
        Solve asset by asset (``bidding.decompose``): each asset group as its own price-taking
        model, reserve offers rounded on the park, the joint model only when the summed plan
        breaks a park connection limit. Linear in the number of assets; gives up the joint
        optimum's freedom to let one asset's bid-curve step offset another's. ``None``
        (default): beyond ``bidding.decompose.DECOMPOSE_ABOVE`` model groups, without a risk
        term or whole lots.
    whole_lots : bool
        Optimise the energy position in whole quantity ticks (a MIP; HiGHS can take seconds
        to tens of seconds on flat-price days) instead of rounding the LP's positions to the
        nearest tick afterwards (default).
    """

    profile: MarketProfile
    assets: Sequence[AssetSpec]
    intervals: pd.DatetimeIndex
    price_scenarios: np.ndarray
    scenario_weights: np.ndarray | None = None
    base_load_mw: np.ndarray | None = None
    renewable_mw: Mapping[str, np.ndarray] = field(default_factory=dict)
    reserve_prices: Mapping[str, np.ndarray] = field(default_factory=dict)
    import_limit_mw: float = np.inf
    export_limit_mw: float = np.inf
    soc_initial: Mapping[str, float] = field(default_factory=dict)
    risk_weight: float = 0.0
    cvar_alpha: float = 0.9
    solver: str = "highs"
    agc_mileage_per_mw_h: float = AGC_MILEAGE_PER_MW_H
    agc_k: float = AGC_K
    aggregate: bool = True
    virtual_groups: int | None = None
    reserve_groups: int | None = None
    block_reserves: bool = False
    time_limit_s: float | None = None
    exact_mip: bool | None = None
    reserve_eligible: Mapping[str, Collection[str]] | None = None
    deliverable_curves: bool = True
    exact_events: bool = True
    decompose: bool | None = None
    whole_lots: bool = False


@dataclass(frozen=True)
class ReserveProduct:
    """A reserve product as the model needs it."""

    id: str
    kind: str
    up: bool
    down: bool
    sustain_h: float
    activation_share: float
    block: np.ndarray  # (T,) block number of each interval
    increment_mw: float | None
    min_bid_mw: float
    value_per_mw_h: np.ndarray  # (T,) expected revenue per MW held per hour [currency/MW/h]
    offer_price: np.ndarray  # (T,) price written on the offer
    pay_as_bid: bool

    @property
    def n_blocks(self) -> int:
        """Number of constant-capacity blocks in the day."""
        return int(self.block.max()) + 1 if self.block.size else 0


@dataclass(frozen=True)
class Prepared:
    """A checked problem in array form."""

    problem: BidProblem
    day: date
    intervals: pd.DatetimeIndex
    dt_h: float
    prices: np.ndarray  # (S, T)
    weights: np.ndarray  # (S,)
    base_load: np.ndarray  # (S, T)
    minute_of_day: np.ndarray  # (T,) local clock minute of each interval start
    assets: tuple[AssetSpec, ...]
    reserves: tuple[ReserveProduct, ...]
    minutes_after_gate: np.ndarray  # (T,) minutes from gate closure to interval start
    lots: bool = False  # positions in whole quantity ticks
    export_headroom_mw: np.ndarray | None = None
    """(S, T) export limit of one asset's model when the park's connection is shared out
    (``bidding.decompose``); ``None``: the park's ``export_limit_mw``."""
    import_headroom_mw: np.ndarray | None = None
    """(S, T) import limit likewise; ``None``: the park's ``import_limit_mw``."""

    @property
    def n_scenarios(self) -> int:
        """S."""
        return int(self.prices.shape[0])

    @property
    def n_intervals(self) -> int:
        """T."""
        return int(self.prices.shape[1])


def prepare(problem: BidProblem) -> Prepared:
    """Check ``problem`` and return it in array form.

    Raises
    ------
    InvalidInputError
        Shapes that disagree, non-finite prices, negative weights, a PV/wind asset without a
        forecast, a reserve price for a product the market does not have.
    """
    profile = problem.profile
    intervals = pd.DatetimeIndex(problem.intervals)
    if intervals.tz is None or len(intervals) == 0:
        raise InvalidInputError("intervals must be a non-empty tz-aware DatetimeIndex")
    intervals = intervals.tz_convert("UTC")
    n = len(intervals)
    local = intervals.tz_convert(zone(profile.timezone))
    day = local[0].date()
    prices = np.atleast_2d(np.asarray(problem.price_scenarios, dtype=float))
    if prices.shape[1] != n:
        raise InvalidInputError(
            f"price_scenarios has {prices.shape[1]} intervals, the day has {n}",
            hint="give an (S, T) array on profile.day_intervals(day)",
        )
    if not np.isfinite(prices).all():
        raise InvalidInputError("price_scenarios contains NaN or infinite prices")
    weights = _weights(problem.scenario_weights, prices.shape[0])
    base = _base_load(problem.base_load_mw, prices.shape[0], n)
    assets = tuple(_with_soc(a, problem.soc_initial) for a in problem.assets)
    ids = [a.id for a in assets]
    if len(set(ids)) != len(ids):
        raise InvalidInputError("asset ids must be unique")
    if problem.virtual_groups is not None and problem.virtual_groups < 0:
        raise InvalidInputError(
            f"virtual_groups must be >= 0, not {problem.virtual_groups}",
            hint="0 models every battery exactly; None picks a count for large fleets",
        )
    if problem.reserve_groups is not None and problem.reserve_groups < 0:
        raise InvalidInputError(
            f"reserve_groups must be >= 0, not {problem.reserve_groups}",
            hint="0 decides reserves on the fine virtual batteries; None picks the default",
        )
    for asset in assets:
        if asset.type in {"pv", "wind"}:
            forecast = problem.renewable_mw.get(asset.id)
            if forecast is None or np.shape(forecast) != (n,):
                raise InvalidInputError(
                    f"{asset.type} asset {asset.id} needs a forecast of {n} values in renewable_mw"
                )
    dt_h = profile.interval_minutes / 60
    minute = np.asarray(local.hour * 60 + local.minute, dtype=np.int64)
    reserves = tuple(
        _reserve(profile, pid, p, problem, local) for pid, p in problem.reserve_prices.items()
    )
    gate = profile.gate_closure(day)
    after_gate = np.asarray((intervals - gate) / pd.Timedelta(minutes=1), dtype=float)
    lots = bool(problem.whole_lots)
    return Prepared(
        problem,
        day,
        intervals,
        dt_h,
        prices,
        weights,
        base,
        minute,
        assets,
        reserves,
        after_gate,
        lots,
    )


def _weights(weights: np.ndarray | None, s: int) -> np.ndarray:
    if weights is None:
        return np.full(s, 1.0 / s)
    w = np.asarray(weights, dtype=float)
    if w.shape != (s,) or (w < 0).any() or w.sum() <= 0:
        raise InvalidInputError(f"scenario_weights must be {s} non-negative numbers")
    normalised: np.ndarray = w / w.sum()
    return normalised


def _base_load(base: np.ndarray | None, s: int, n: int) -> np.ndarray:
    if base is None:
        return np.zeros((s, n))
    b = np.asarray(base, dtype=float)
    if b.shape == (n,):
        b = np.broadcast_to(b, (s, n)).copy()
    if b.shape != (s, n) or not np.isfinite(b).all():
        raise InvalidInputError(f"base_load_mw must be finite with shape ({n},) or ({s}, {n})")
    if (b < 0).any():
        raise InvalidInputError("base_load_mw is a consumption magnitude and must be >= 0")
    return b


def _with_soc(asset: AssetSpec, soc: Mapping[str, float]) -> AssetSpec:
    if asset.id not in soc:
        return asset
    value = float(soc[asset.id])
    if isinstance(asset, BatterySpec):
        # a carried-over SoC may sit a hair outside the window after rounding
        value = min(max(value, asset.soc_min), asset.soc_max)
        return asset.model_copy(update={"soc_initial": value})
    if asset.type == "thermal":
        return asset.model_copy(update={"soc_initial": min(max(value, 0.0), 1.0)})
    raise InvalidInputError(f"soc_initial given for {asset.id}, which stores no energy")


def _reserve(
    profile: MarketProfile,
    product_id: str,
    prices: np.ndarray,
    problem: BidProblem,
    local: pd.DatetimeIndex,
) -> ReserveProduct:
    product: Product = profile.product(product_id)
    if product.kind not in RESERVE_KINDS or not product.enabled:
        raise InvalidInputError(
            f"reserve_prices names {product_id}, which is not an enabled reserve product"
        )
    value = np.asarray(prices, dtype=float)
    if value.shape != (len(local),) or not np.isfinite(value).all():
        raise InvalidInputError(f"reserve_prices[{product_id}] must be {len(local)} finite values")
    up = product.direction in {"up", "symmetric", "both"}
    down = product.direction in {"down", "symmetric", "both"}
    if product.product_length_h:
        hours = (local.hour + local.minute / 60).to_numpy()
        block = np.floor(hours / product.product_length_h).astype(np.int64)
    else:
        block = np.arange(len(local), dtype=np.int64)
    per_mw_h = value.copy()
    if product.kind == "agc_fr":
        per_mw_h = value * problem.agc_mileage_per_mw_h * problem.agc_k
    bounds = product.price_bounds
    floor = bounds.min if bounds is not None and bounds.min is not None else 0.0
    pay_as_bid = product.capacity_pricing == "pay_as_bid"
    offer = (
        np.maximum(np.floor(value * 100) / 100, floor) if pay_as_bid else np.full_like(value, floor)
    )
    if pay_as_bid:  # one price per block: the lowest expected price inside it
        for b in np.unique(block):
            offer[block == b] = offer[block == b].min()
    return ReserveProduct(
        id=product.id,
        kind=product.kind,
        up=up,
        down=down,
        sustain_h=product.sustain_hours,
        activation_share=0.0
        if product.direction == "symmetric"
        else product.activation.expected_activation_share,
        block=block,
        increment_mw=product.bid_increment_mw,
        min_bid_mw=product.min_bid_mw,
        value_per_mw_h=per_mw_h,
        offer_price=offer,
        pay_as_bid=pay_as_bid,
    )
