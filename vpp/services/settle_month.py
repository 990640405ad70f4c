"""Settle a month: turn the days the service stored into monthly statements that reconcile.

Each delivery day already carries issued day statements (``settle_day``): per enterprise the
value its assets earned per product, and for the aggregator the imbalance and deviation. The
month re-runs the contract on the month's totals, because guarantees, capacity fees and shares
are monthly terms: market revenue per enterprise and product is summed from the day lines that
name a product; what the day results hold beyond that (the deviation) is a penalty when
negative, attributed to whoever under-delivered pro rata to shortfall, and stays with the
aggregator when positive. Shortfall and performance come from the dispatch setpoints against
the device meters (device metering, baseline zero for batteries: market-rules §4.1).

Demand-response events stored for the month are settled on the tenant's consumption meter
against the product's metered baseline (``vpp.services.settle_measured``) and their pay or
penalty joins that tenant's revenue; AGC awards are valued on the market side with the K value
of the measured response.

A month is complete when every day has its statements, every committed interval has a
meter value and nothing the month needs measured (DR events, AGC, shared savings) is missing;
otherwise :attr:`MonthSettlement.complete` is False and the caller must not issue unless an
operator overrides, which the statements then say. Problems are told apart by whom they
concern: an enterprise's own (its meters, DR events, shared savings) only hold up that
enterprise, which can be skipped, while the park's (a day without statements, AGC, park-wide
DR events) hold up every statement. An enterprise without a contract in force is always
skipped; a skipped enterprise's revenue and part of the penalties are held back, on nobody's
statement. This module takes the stored data as arguments and returns draft statements;
storing them is the caller's job.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd

from vpp.domain.assets import AssetSpec, PvSpec, WindSpec
from vpp.domain.bids import Award, Statement, StatementLine
from vpp.domain.declared_baseline import asset_baseline
from vpp.domain.demand_response import DrEvent, DrResult
from vpp.domain.errors import InvalidInputError
from vpp.domain.market import CarbonGreen, Product
from vpp.domain.park import Contract, Enterprise
from vpp.domain.settlement import allocate_cents, to_money
from vpp.domain.timegrid import local_midnight
from vpp.domain.waterfall import EnterpriseMonth, Waterfall, build_waterfall
from vpp.domain.zero_carbon import ZeroCarbonReport, unavailable_report, zero_carbon_report
from vpp.services.settle_day import AGGREGATOR, IMBALANCE_LABEL, IMBALANCE_PRODUCT
from vpp.services.settle_measured import settle_dr_events

ZERO = Decimal("0.00")


def month_days(month: str) -> list[date]:
    """Every calendar day of ``month`` given as ``YYYY-MM``."""
    try:
        year, number = (int(part) for part in month.split("-"))
        last = calendar.monthrange(year, number)[1]
    except (ValueError, calendar.IllegalMonthError) as exc:
        raise InvalidInputError(
            f"month {month!r} is not YYYY-MM", hint="e.g. --month 2026-03"
        ) from exc
    first = date(year, number, 1)
    return [first + timedelta(days=k) for k in range(last)]


@dataclass(frozen=True)
class MonthInputs:
    """Everything stored for one park and month, as domain objects."""

    month: str
    market_id: str
    currency: str
    timezone: str
    interval_minutes: int
    enterprises: list[Enterprise]
    contracts: Mapping[str, Contract]
    day_statements: Mapping[date, list[Statement]]
    """Issued day statements by delivery day, the aggregator's included."""
    asset_owner: Mapping[str, str]
    nominated_mw: Mapping[str, float] = field(default_factory=dict)
    committed_mw: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Dispatch setpoints per UTC interval (rows) and asset (columns) [MW]."""
    metered_mw: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Device meter readings on the same grid [MW]; NaN or absent = missing."""
    product_labels: Mapping[str, str] = field(default_factory=dict)
    asset_specs: Mapping[str, AssetSpec] = field(default_factory=dict)
    """Specs for the declared baselines; an asset without one is device-metered (baseline 0)."""
    awards: Mapping[date, list[Award]] = field(default_factory=dict)
    """Market awards by delivery day, for reconciliation with the operator's statement."""
    energy_products: frozenset[str] = frozenset()
    """Ids of the profile's energy products (awards signed by side)."""
    btm_savings: Mapping[str, Decimal] = field(default_factory=dict)
    """Behind-the-meter bill savings per enterprise (``waterfall.btm_savings``) [currency]."""
    generation_mw: pd.DataFrame | None = None
    """Metered output of the on-site PV and wind assets on every interval of the month (rows)
    per asset (columns) [MW]; NaN = no reading; None = not read."""
    load_mw: pd.Series | None = None
    """Park consumption on every interval of the month, >= 0 [MW]; NaN = no reading;
    None = the park has no consumption meter."""
    telemetry_quality: frozenset[str] = frozenset()
    """Quality flags of the generation readings (``measured``, ``simulated`` ...)."""
    load_quality: frozenset[str] = frozenset()
    """Quality flags of the consumption readings."""
    consumption_mw: Mapping[str | None, pd.Series] = field(default_factory=dict)
    """Consumption meter per enterprise (None = the park) from the DR baselines' look-back to
    the month's end, >= 0 [MW]; NaN = no reading."""
    dr_events: list[DrEvent] = field(default_factory=list)
    """Demand-response events starting in the month."""
    dr_history: list[DrEvent] = field(default_factory=list)
    """Every stored event from the start of the look-back: their days leave the baselines."""
    dr_products: Mapping[str, Product] = field(default_factory=dict)
    """The profile's DR products by id (their ``mv`` sections)."""
    agc_products: frozenset[str] = frozenset()
    """Ids of the profile's AGC products paid by mileage x price x K."""
    agc_amounts: Mapping[tuple[date, str], Decimal] = field(default_factory=dict)
    """AGC mileage pay from measured K per (local day, product) [currency]."""
    data_problems: tuple[str, ...] = ()
    """What the loader could not measure for the park as a whole (AGC performance ...), one
    line each."""
    enterprise_problems: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """What the loader could not measure for one enterprise (its BTM savings ...), by id."""
    park_id: str | None = None
    """The park settled; it names the aggregator's statement of the park (None: the market's)."""


@dataclass(frozen=True)
class MonthSettlement:
    """The month's waterfall, its draft statements and what data was missing."""

    inputs: MonthInputs
    waterfall: Waterfall
    statements: list[Statement]
    daily: pd.DataFrame
    """Committed and delivered energy per enterprise and local day [MWh]."""
    missing_days: list[date]
    missing_meter: dict[str, int]
    """Committed intervals without a meter value, per asset."""
    dr_results: list[DrResult] = field(default_factory=list)
    """Each DR event of the month with its baseline and performance."""
    measure_problems: list[str] = field(default_factory=list)
    """What could not be measured (loader problems and DR events)."""
    enterprise_problems: dict[str, list[str]] = field(default_factory=dict)
    """The problems that concern one enterprise only (its meters, DR events, BTM savings)."""
    skipped: dict[str, str] = field(default_factory=dict)
    """Enterprises left without a statement this time, with the reason (no contract in force,
    or incomplete data when settled with ``skip_incomplete``)."""
    held_back: dict[str, Decimal] = field(default_factory=dict)
    """What each skipped enterprise's statement would carry before its contract: its market
    revenue and its part of the penalties [currency]; on no statement until it is settled."""

    @property
    def complete(self) -> bool:
        """Every day settled, every committed interval metered, every measurement possible."""
        return not self.missing_days and not self.missing_meter and not self.measure_problems

    @property
    def market_total(self) -> Decimal:
        """The month's market result: the issued statements' total plus what is held back."""
        return self.waterfall.market_total + sum(self.held_back.values(), ZERO)

    def problems(self) -> list[str]:
        """What is missing, one readable line each."""
        out = [f"no day statements for {d.isoformat()}" for d in self.missing_days]
        out += [
            f"{a}: {n} committed intervals without meter data"
            for a, n in sorted(self.missing_meter.items())
        ]
        return out + self.measure_problems

    def park_problems(self) -> list[str]:
        """What is missing for the park as a whole (days, park meters, AGC, park DR events):
        every statement of the month depends on it."""
        mine = {line for lines in self.enterprise_problems.values() for line in lines}
        return [p for p in self.problems() if p not in mine]

    def blocking_problems(self) -> list[str]:
        """The park's problems and those of every enterprise that gets a statement."""
        issued = [e for e in self.enterprise_problems if e not in self.skipped]
        return self.park_problems() + [p for e in issued for p in self.enterprise_problems[e]]


def statement_id(owner: str, market_id: str, month: str, park_id: str | None = None) -> str:
    """The id under which the monthly statement of ``owner`` is stored and versioned.

    Enterprise ids are unique across parks; the aggregator has one statement per park, so with
    ``park_id`` its id names the park (``aggregator:<park>:<market>:<month>``).
    """
    if owner == AGGREGATOR and park_id is not None:
        return f"{owner}:{park_id}:{market_id}:{month}"
    return f"{owner}:{market_id}:{month}"


def measure_delivery(inputs: MonthInputs) -> tuple[pd.DataFrame, dict[str, int]]:
    """Committed and delivered energy per enterprise and local day, and missing meter counts.

    The commitment is the setpoint minus the asset's baseline (zero for device-metered
    batteries), delivery the meter minus the same baseline; per interval the delivery counts in
    the committed direction up to the commitment, so over-delivery earns nothing extra. PV and
    wind setpoints are curtailment caps, not commitments, and are left out. Returns a frame
    indexed by ``(enterprise_id, day)`` with ``committed_mwh``, ``delivered_mwh`` and
    ``shortfall_mwh`` [MWh], and the count of committed intervals without a meter value.
    """
    columns = ["committed_mwh", "delivered_mwh", "shortfall_mwh"]
    specs = inputs.asset_specs
    keep = [
        a for a in inputs.committed_mw.columns if not isinstance(specs.get(a), PvSpec | WindSpec)
    ]
    committed = inputs.committed_mw[keep]
    if committed.empty:
        empty = pd.MultiIndex.from_tuples([], names=["enterprise_id", "day"])
        return pd.DataFrame(columns=columns, index=empty, dtype=float), {}
    hours = inputs.interval_minutes / 60
    index = pd.DatetimeIndex(committed.index)
    baseline = pd.DataFrame(
        {
            a: asset_baseline(specs[a], index, inputs.timezone) if a in specs else 0.0
            for a in committed.columns
        },
        index=index,
    )
    metered = inputs.metered_mw.reindex(index=index, columns=committed.columns)
    c = (committed - baseline).where(committed.notna(), 0.0).to_numpy()
    m = (metered - baseline).to_numpy()
    active = np.abs(c) > 1e-9
    gaps = active & np.isnan(m)
    toward = np.clip(np.nan_to_num(m, nan=0.0) * np.sign(c), 0.0, np.abs(c))
    per_asset = {
        "committed_mwh": pd.DataFrame(
            np.where(active, np.abs(c), 0.0) * hours, index=index, columns=committed.columns
        ),
        "delivered_mwh": pd.DataFrame(
            np.where(active, toward, 0.0) * hours, index=index, columns=committed.columns
        ),
    }
    days = committed.index.tz_convert(inputs.timezone).date
    owners = [inputs.asset_owner.get(a, a) for a in committed.columns]
    parts = {
        name: frame.T.groupby(owners).sum().T.groupby(days).sum().stack()
        for name, frame in per_asset.items()
    }
    daily = pd.DataFrame(parts)
    daily.index = daily.index.set_names(["day", "enterprise_id"])
    daily = daily.swaplevel().sort_index()
    daily["shortfall_mwh"] = (daily["committed_mwh"] - daily["delivered_mwh"]).clip(lower=0)
    missing = {a: int(n) for a, n in zip(committed.columns, gaps.sum(axis=0), strict=True) if n}
    return daily[columns], missing


def settle_month(inputs: MonthInputs, *, skip_incomplete: bool = False) -> MonthSettlement:
    """Aggregate the stored days of a month into monthly draft statements.

    An enterprise without a contract in force at the month's start gets no statement; with
    ``skip_incomplete`` neither does one whose own data is incomplete (its meters, DR events,
    BTM savings). A skipped enterprise is listed with the reason in
    :attr:`MonthSettlement.skipped`; its market revenue and its pro-rata part of the penalties
    are held back (:attr:`MonthSettlement.held_back`), so the others' statements and the
    aggregator's are exactly what they would be with it settled.

    Parameters
    ----------
    inputs : MonthInputs
        The month's stored day statements, contracts, setpoints and meter readings.
    skip_incomplete : bool
        Leave out enterprises with data problems of their own instead of issuing them.

    Returns
    -------
    MonthSettlement
        Waterfall, one draft statement per settled enterprise plus the aggregator's, the daily
        committed/delivered energy [MWh] and what was missing.
    """
    days = month_days(inputs.month)
    ids = [e.id for e in inputs.enterprises]
    revenue, gains, losses, missing_days = _day_results(inputs, days, ids)
    dr_results, dr_problems = _dr_by_owner(inputs)
    for result in dr_results:
        owner, amount = result.event.enterprise_id, result.performance.amount
        if owner in revenue:
            per = revenue[owner]
            per[result.event.product_id] = per.get(result.event.product_id, ZERO) + amount
        elif amount > 0:
            gains += amount  # a park-wide event has no tenant to attribute it to
        else:
            losses += amount
    daily, missing_meter = measure_delivery(inputs)
    months = _enterprise_months(inputs, ids, revenue, daily)
    own = _own_problems(inputs, ids, missing_meter, dr_problems)
    skipped = {e: f"no contract in force on {days[0].isoformat()}" for e in ids}
    skipped = {e: why for e, why in skipped.items() if e not in inputs.contracts}
    if skip_incomplete:
        for e in ids:
            if own.get(e) and e not in skipped:
                skipped[e] = f"incomplete data: {'; '.join(own[e][:3])}" + (
                    f" and {len(own[e]) - 3} more" if len(own[e]) > 3 else ""
                )
    held_penalties = _penalties_held_back(to_money(losses), months, skipped)
    waterfall = build_waterfall(
        [m for m in months if m.enterprise_id not in skipped],
        inputs.contracts,
        penalties=to_money(losses) - sum(held_penalties.values(), ZERO),
        unattributed=to_money(gains),
        product_labels=inputs.product_labels,
    )
    held_back = {
        m.enterprise_id: sum((to_money(v) for v in m.revenue.values()), ZERO)
        + held_penalties.get(m.enterprise_id, ZERO)
        for m in months
        if m.enterprise_id in skipped
    }
    statements = [
        _statement(e, inputs, days, waterfall.enterprise_lines[e]) for e in ids if e not in skipped
    ]
    statements.append(_statement(AGGREGATOR, inputs, days, waterfall.aggregator_lines))
    problems = [
        *(p for e in ids for p in inputs.enterprise_problems.get(e, ())),
        *inputs.data_problems,
        *(line for _, line in dr_problems),
    ]
    return MonthSettlement(
        inputs,
        waterfall,
        statements,
        daily,
        missing_days,
        missing_meter,
        dr_results,
        problems,
        enterprise_problems={e: lines for e, lines in own.items() if lines},
        skipped=skipped,
        held_back=held_back,
    )


def _day_results(
    inputs: MonthInputs, days: list[date], ids: list[str]
) -> tuple[dict[str, dict[str, Decimal]], Decimal, Decimal, list[date]]:
    """Market revenue per enterprise and product from the day statements, the days' residual
    gains and losses (deviation) [currency], and the days without statements.

    Every enterprise of the park counts here, skipped or not, so the deviation is the same
    whoever gets a statement.
    """
    revenue: dict[str, dict[str, Decimal]] = {e: {} for e in ids}
    gains, losses = ZERO, ZERO
    missing_days = []
    for day in days:
        stored = inputs.day_statements.get(day, [])
        owners = {s.enterprise_id for s in stored}
        if not stored or AGGREGATOR not in owners:
            missing_days.append(day)
            continue
        attributed = ZERO
        for s in stored:
            for line in s.lines:
                if s.enterprise_id in revenue and line.product_id is not None:
                    per = revenue[s.enterprise_id]
                    per[line.product_id] = per.get(line.product_id, ZERO) + line.amount
                    attributed += line.amount
        residual = sum((s.total for s in stored), ZERO) - attributed
        gains, losses = (gains + residual, losses) if residual > 0 else (gains, losses + residual)
    return revenue, gains, losses, missing_days


def _enterprise_months(
    inputs: MonthInputs,
    ids: list[str],
    revenue: dict[str, dict[str, Decimal]],
    daily: pd.DataFrame,
) -> list[EnterpriseMonth]:
    totals = daily.groupby(level="enterprise_id").sum() if len(daily) else daily
    months = []
    for e in ids:
        committed = float(totals["committed_mwh"].get(e, 0.0)) if len(totals) else 0.0
        delivered = float(totals["delivered_mwh"].get(e, 0.0)) if len(totals) else 0.0
        months.append(
            EnterpriseMonth(
                enterprise_id=e,
                revenue=revenue[e],
                shortfall_mwh=max(0.0, committed - delivered),
                nominated_mw=inputs.nominated_mw.get(e, 0.0),
                performance_ratio=delivered / committed if committed > 0 else None,
                btm_savings=inputs.btm_savings.get(e),
            )
        )
    return months


def _own_problems(
    inputs: MonthInputs,
    ids: list[str],
    missing_meter: dict[str, int],
    dr_problems: list[tuple[str | None, str]],
) -> dict[str, list[str]]:
    """Per enterprise: its assets' meter gaps, its BTM savings and DR events that failed."""
    own: dict[str, list[str]] = {e: [] for e in ids}
    for asset, n in sorted(missing_meter.items()):
        owner = inputs.asset_owner.get(asset)
        if owner in own:
            own[owner].append(f"{asset}: {n} committed intervals without meter data")
    for e in ids:
        own[e] += inputs.enterprise_problems.get(e, ())
    for owner, line in dr_problems:
        if owner in own:
            own[owner].append(line)
    return own


def _penalties_held_back(
    penalties: Decimal, months: list[EnterpriseMonth], skipped: Mapping[str, str]
) -> dict[str, Decimal]:
    """The part of ``penalties`` [currency, <= 0] each skipped enterprise would bear: the
    penalties split pro rata to every enterprise's shortfall, as the waterfall splits them."""
    short = {m.enterprise_id: m.shortfall_mwh for m in months if m.shortfall_mwh > 0}
    if penalties == 0 or not short or not set(short) & set(skipped):
        return {}
    split = allocate_cents(penalties, short)
    return {e: amount for e, amount in split.items() if e in skipped}


def measure_dr_events(inputs: MonthInputs) -> tuple[list[DrResult], list[str]]:
    """The month's DR events settled on their consumption meters, and what was missing."""
    results, problems = _dr_by_owner(inputs)
    return results, [line for _, line in problems]


def _dr_by_owner(inputs: MonthInputs) -> tuple[list[DrResult], list[tuple[str | None, str]]]:
    """The month's DR events settled, and what was missing with the event's owner (None =
    the park), in event order."""
    results: list[DrResult] = []
    problems: list[tuple[str | None, str]] = []
    for event in inputs.dr_events:
        settled, missing = settle_dr_events(
            [event],
            inputs.dr_history,
            inputs.consumption_mw,
            inputs.dr_products,
            inputs.timezone,
            inputs.interval_minutes,
        )
        results += settled
        problems += [(event.enterprise_id, line) for line in missing]
    return results, problems


def with_override_note(statement: Statement, by: str, problems: list[str]) -> Statement:
    """The statement with a zero-amount line saying who issued it despite missing data."""
    note = StatementLine(
        label=f"Issued with {len(problems)} data gaps; override by {by}"[:200],
        label_zh=f"数据不完整（{len(problems)} 处），批准人：{by}"[:200],
        amount=ZERO,
    )
    return statement.model_copy(update={"lines": [*statement.lines, note]})


def _statement(
    owner: str, inputs: MonthInputs, days: list[date], lines: list[StatementLine]
) -> Statement:
    return Statement(
        id=statement_id(owner, inputs.market_id, inputs.month, inputs.park_id),
        enterprise_id=owner,
        market_id=inputs.market_id,
        period_start=days[0],
        period_end=days[-1],
        currency=inputs.currency,
        lines=lines,
    )


NO_LOAD = (
    "park consumption is not stored: the park has no consumption meter (tenant or "
    "grid-connection), so self-consumption, shares and carbon cannot be computed"
)


def zero_carbon_month(inputs: MonthInputs, carbon: CarbonGreen) -> ZeroCarbonReport:
    """The park's zero-carbon indicators for the month, from its stored meter data.

    Every indicator needs the park's consumption per interval beside on-site renewable output
    (self-consumption is their interval-wise minimum); when either is missing or has gaps the
    report carries no values and says what is missing. Only electricity is counted and no
    green certificates are stored yet, so grid imports count at the profile's emission factor.
    """
    year = int(inputs.month[:4])
    generation = inputs.generation_mw
    notes = tuple(
        f"on-site generation readings are {q}, not measured"
        for q in sorted(inputs.telemetry_quality - {"measured"})
    ) + tuple(
        f"consumption readings are {q}, not measured"
        for q in sorted(inputs.load_quality - {"measured"})
    )
    if generation is None:
        return unavailable_report(
            carbon, "on-site generation was not read for the month", year=year, notes=notes
        )
    hours = inputs.interval_minutes / 60
    gaps = int(generation.isna().any(axis=1).sum())
    gen = generation.sum(axis=1, min_count=0).clip(lower=0)
    gen_mwh = None if gaps else float(gen.sum() * hours)
    reasons = []
    if inputs.load_mw is None:
        reasons.append(NO_LOAD)
    elif int(inputs.load_mw.reindex(generation.index).isna().sum()):
        missing = int(inputs.load_mw.reindex(generation.index).isna().sum())
        reasons.append(f"{missing} of {len(generation)} intervals lack park consumption data")
    if gaps:
        reasons.append(f"{gaps} of {len(generation)} intervals lack on-site generation readings")
    if carbon.grid_emission_factor_t_per_mwh is None:
        reasons.append("the market profile has no grid emission factor")
    if reasons:
        return unavailable_report(
            carbon, "; ".join(reasons), generation_mwh=gen_mwh, year=year, notes=notes
        )
    assert inputs.load_mw is not None
    report = zero_carbon_report(
        inputs.load_mw.reindex(generation.index), gen, carbon, inputs.interval_minutes, year=year
    )
    return replace(report, notes=notes)


def month_intervals(month: str, timezone: str, interval_minutes: int) -> pd.DatetimeIndex:
    """UTC starts of every interval of the market month ``month`` (``YYYY-MM``)."""
    days = month_days(month)
    start = local_midnight(days[0], timezone)
    end = local_midnight(days[-1] + timedelta(days=1), timezone)
    return pd.date_range(start, end, freq=f"{interval_minutes}min", inclusive="left")


RECONCILE_COLUMNS = ["day", "product_id", "ours", "operator", "difference", "matches"]


def award_amounts(inputs: MonthInputs) -> pd.DataFrame:
    """What the awards are worth per local day and product [currency], to the cent.

    Energy: signed MW (sell > 0) x price x hours; AGC products: mileage x price x K from the
    measured performance (``inputs.agc_amounts``; a day without it has no row, and the loader
    reported why); other products: MW x price x hours; DR events: their pay or penalty against
    the metered baseline; and the imbalance of each settled day (metered position against the
    award, as the aggregator's day statement records it) under the product ``imbalance``.
    """
    hours = Decimal(str(inputs.interval_minutes / 60))
    sums: dict[tuple[date, str], Decimal] = dict(inputs.agc_amounts)
    for result in measure_dr_events(inputs)[0]:
        key = (result.event.day(inputs.timezone), result.event.product_id)
        sums[key] = sums.get(key, ZERO) + result.performance.amount
    for day, awards in inputs.awards.items():
        for a in awards:
            if a.product_id in inputs.agc_products:
                continue
            mw = a.signed_mw if a.product_id in inputs.energy_products else a.quantity_mw
            key = (day, a.product_id)
            sums[key] = sums.get(key, ZERO) + Decimal(str(mw)) * Decimal(str(a.price)) * hours
    for day, statements in inputs.day_statements.items():
        for statement in statements:
            if statement.enterprise_id != AGGREGATOR:
                continue
            for line in statement.lines:
                if line.label == IMBALANCE_LABEL:
                    key = (day, IMBALANCE_PRODUCT)
                    sums[key] = sums.get(key, ZERO) + line.amount
    rows = [(d, p, to_money(v)) for (d, p), v in sorted(sums.items())]
    return pd.DataFrame(rows, columns=["day", "product_id", "amount"])


def reconcile_operator(ours: pd.DataFrame, operator: pd.DataFrame) -> pd.DataFrame:
    """Differences by day and product between our amounts and the market operator's.

    Parameters
    ----------
    ours, operator : pandas.DataFrame
        Columns ``day`` (date), ``product_id`` and ``amount`` (Decimal or text) [currency].

    Returns
    -------
    pandas.DataFrame
        One row per day and product present on either side: ``ours``, ``operator``,
        ``difference`` (ours - operator) and ``matches`` (to the cent). A side without the row
        counts as 0.00 and the row does not match unless the other side is 0.00 too.
    """
    for name, frame in (("ours", ours), ("operator", operator)):
        missing = {"day", "product_id", "amount"} - set(frame.columns)
        if missing:
            raise InvalidInputError(
                f"{name} amounts lack column(s) {', '.join(sorted(missing))}",
                hint="the operator CSV needs the columns day,product_id,amount",
            )

    def keyed(frame: pd.DataFrame) -> dict[tuple[date, str], Decimal]:
        out: dict[tuple[date, str], Decimal] = {}
        for day, product, amount in frame[["day", "product_id", "amount"]].itertuples(index=False):
            key = (pd.Timestamp(day).date(), str(product))
            out[key] = out.get(key, ZERO) + to_money(Decimal(str(amount)))
        return out

    mine, theirs = keyed(ours), keyed(operator)
    rows = []
    for key in sorted(set(mine) | set(theirs)):
        a, b = mine.get(key, ZERO), theirs.get(key, ZERO)
        rows.append((*key, a, b, a - b, a == b))
    return pd.DataFrame(rows, columns=RECONCILE_COLUMNS)
