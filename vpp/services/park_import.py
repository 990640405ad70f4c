"""``vpp park import``: a park file written into the service database, idempotently.

A park file is an import, never a runtime input: the running service bids from what is stored.
The import applies the enrolment rules the API applies (a nomination above the asset's physical
flexibility is refused) and never overwrites what users changed since:

* a new park is stored with its tenants, their declared loads and its forecast issue time; an
  existing park keeps its stored definition and only gains the tenants it lacks;
* assets, contracts and consent records are added when missing and otherwise kept as stored
  (an operator's verification, an enterprise's nomination stay as they are);
* series: market prices are upserted (public facts), tenant loads and metered generation are
  added only where no reading exists (a tenant without a metered column gets its declared
  consumption, flagged ``declared``), and weather columns become day-ahead weather forecasts
  issued at the park's forecast issue time of the day before (a recorded or reanalysed series
  then stands in for the forecast a weather service would have sent).

Everything goes through one :class:`~vpp.domain.ports.EnrolmentStore` in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from vpp.domain.declared_baseline import asset_baseline
from vpp.domain.errors import InvalidInputError
from vpp.domain.park import Enterprise, Park
from vpp.domain.park_data import ParkData
from vpp.domain.ports import (
    DAY_AHEAD_PRICE,
    PARK_WEATHER_SITE,
    EnrolmentStore,
    reserve_price_series,
)
from vpp.domain.timegrid import zone
from vpp.services.enrolment import check_nomination
from vpp.services.park_meters import FLEXIBLE_LOADS

WEATHER_SITE = PARK_WEATHER_SITE


@dataclass
class ImportReport:
    """What an import wrote and what it found already stored."""

    park_id: str
    created: dict[str, list[str]] = field(default_factory=dict)
    kept: dict[str, list[str]] = field(default_factory=dict)
    values: dict[str, int] = field(default_factory=dict)

    def note(self, kind: str, item: str, *, created: bool) -> None:
        """Count ``item`` of ``kind`` as created or kept."""
        (self.created if created else self.kept).setdefault(kind, []).append(item)


def park_to_store(data: ParkData) -> Park:
    """The park as stored: tenants carry their declared loads, the park its issue time."""
    declared = {
        load.enterprise_id: load.declared for load in data.definition.loads if load.declared
    }
    tenants = [
        e.model_copy(update={"declared_load": declared.get(e.id, e.declared_load)})
        for e in data.park.enterprises
    ]
    return data.park.model_copy(
        update={"enterprises": tenants, "forecast_issue": data.definition.forecast_issue}
    )


def weather_issues(data: ParkData, tz: str) -> pd.DataFrame:
    """The file's weather columns as forecasts issued at the forecast issue time of D-1."""
    columns = {v: data.series[c] for v, c in data.definition.weather.items()}
    frame = pd.DataFrame(columns).dropna(how="all")
    if frame.empty:
        return frame
    days = frame.index.tz_convert(zone(tz)).date
    issue = {d: data.definition.forecast_issue.on(d, tz) for d in sorted(set(days))}
    frame["issued_at"] = [issue[d] for d in days]
    return frame


def declared_consumption(data: ParkData, tz: str) -> dict[str, pd.Series]:
    """Consumption of each tenant without metered history over the file's span [MW, >= 0]:
    its declared load plus its flexible loads' declared baselines. Stored flagged
    ``declared``, so reports can say so and forecasts keep treating the tenant as a cold start.
    """
    index = data.series.index
    result: dict[str, pd.Series] = {}
    for load in data.definition.loads:
        if load.declared is None:
            continue
        parts = [load.declared.profile(index, tz)]
        parts.extend(
            -asset_baseline(a.spec, index, tz)
            for a in data.portfolio.assets
            if a.enterprise_id == load.enterprise_id and isinstance(a.spec, FLEXIBLE_LOADS)
        )
        result[load.enterprise_id] = pd.concat(parts, axis=1).sum(axis=1).clip(lower=0)
    return result


def import_park(
    data: ParkData, store: EnrolmentStore, *, tz: str, actor: str = "park import"
) -> ImportReport:
    """Write ``data`` through ``store`` (see the module docstring); ``tz`` is the market's."""
    park = park_to_store(data)
    report = ImportReport(park.id)
    stored = store.find_park(park.id)
    if stored is None:
        store.save_park(park)
        report.note("park", park.id, created=True)
    else:
        if stored.market_id != park.market_id:
            raise InvalidInputError(
                f"park {park.id} is stored in market {stored.market_id}; the file says "
                f"{park.market_id}",
                hint="a park changes market through the API, not by import",
            )
        have = {e.id for e in stored.enterprises}
        missing: list[Enterprise] = [e for e in park.enterprises if e.id not in have]
        if missing:
            store.save_park(
                stored.model_copy(update={"enterprises": [*stored.enterprises, *missing]})
            )
        report.note("park", park.id, created=False)
        for enterprise in park.enterprises:
            report.note("enterprise", enterprise.id, created=enterprise in missing)
    for asset in data.portfolio.assets:
        exists = store.has_asset(asset.spec.id)
        if not exists:
            check_nomination(asset.spec, asset.nominated_mw)
            store.add_asset(asset)
        report.note("asset", asset.spec.id, created=not exists)
    for contract in data.portfolio.contracts:
        exists = store.has_contract(contract.enterprise_id, contract.id)
        if not exists:
            store.add_contract(contract)
        report.note("contract", contract.id, created=not exists)
    for consent in data.portfolio.consents:
        exists = consent in store.consents(consent.enterprise_id)
        if not exists:
            store.add_consent(consent)
        report.note("consent", f"{consent.enterprise_id}/{consent.contract_id}", created=not exists)
    _import_series(data, store, report, tz)
    store.audit(
        actor,
        "park.import",
        "park",
        park.id,
        {"source": data.source, "created": report.created, "values": report.values},
    )
    return report


def _import_series(data: ParkData, store: EnrolmentStore, report: ImportReport, tz: str) -> None:
    series, definition = data.series, data.definition
    prices = {DAY_AHEAD_PRICE: series[definition.prices.day_ahead]}
    prices.update(
        {reserve_price_series(p): series[c] for p, c in definition.prices.reserves.items()}
    )
    report.values["market series"] = store.write_market_series(
        data.park.market_id, pd.DataFrame(prices)
    )
    weather = weather_issues(data, tz)
    if not weather.empty:
        report.values["weather forecasts"] = store.write_weather(
            data.park.id, WEATHER_SITE, weather
        )
    consumption = 0
    for load in definition.loads:
        if load.column is not None:
            consumption += store.add_consumption(
                data.park.id, load.enterprise_id, series[load.column].dropna()
            )
    report.values["tenant consumption readings"] = consumption
    declared = 0
    for enterprise_id, draw in declared_consumption(data, tz).items():
        declared += store.add_consumption(data.park.id, enterprise_id, draw, quality="declared")
    report.values["declared consumption readings"] = declared
    generation = 0
    for asset_id, column in definition.generation.items():
        generation += store.add_telemetry(asset_id, series[column].dropna())
    report.values["generation readings"] = generation
