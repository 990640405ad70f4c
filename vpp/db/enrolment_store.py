"""The database side of :class:`vpp.domain.ports.EnrolmentStore`: repositories in one session.

The caller's session is one transaction, so a park import either lands whole or not at all.
"""

from __future__ import annotations

import pandas as pd
from pydantic import BaseModel
from sqlmodel import Session

from vpp.db.repositories import (
    AssetRepository,
    AuditRepository,
    ConsentRepository,
    ConsumptionRepository,
    ContractRepository,
    MarketSeriesRepository,
    ParkRepository,
    TelemetryRepository,
    WeatherRepository,
)
from vpp.db.tables import AssetRow
from vpp.domain.errors import NotFoundError
from vpp.domain.park import ConsentRecord, Contract, EnrolledAsset, Park, consumption_meter_id


class DatabaseEnrolment:
    """Writes parks, enrolments, agreements and measured series through ``session``."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def find_park(self, park_id: str) -> Park | None:
        """The stored park, or ``None``."""
        parks = ParkRepository(self.session)
        return parks.get(park_id) if park_id in parks.list_ids() else None

    def save_park(self, park: Park) -> None:
        """Insert or update the park with its enterprises and sites."""
        ParkRepository(self.session).save(park)

    def has_asset(self, asset_id: str) -> bool:
        """Whether any enterprise holds ``asset_id``."""
        return self.session.get(AssetRow, asset_id) is not None

    def add_asset(self, asset: EnrolledAsset) -> None:
        """Enrol ``asset``."""
        AssetRepository(self.session).add(asset)

    def has_contract(self, enterprise_id: str, contract_id: str) -> bool:
        """Whether the contract is stored."""
        try:
            ContractRepository(self.session).get(enterprise_id, contract_id)
        except NotFoundError:
            return False
        return True

    def add_contract(self, contract: Contract) -> None:
        """Store a signed contract."""
        ContractRepository(self.session).add(contract)

    def consents(self, enterprise_id: str) -> list[ConsentRecord]:
        """The enterprise's consent records."""
        return [c for _, c in ConsentRepository(self.session).list_for_enterprise(enterprise_id)]

    def add_consent(self, consent: ConsentRecord) -> None:
        """Record a consent."""
        ConsentRepository(self.session).add(consent)

    def write_market_series(self, market_id: str, frame: pd.DataFrame) -> int:
        """Upsert market series (canonical columns); return the values written."""
        return MarketSeriesRepository(self.session).upsert(market_id, frame)

    def write_weather(self, park_id: str, site_id: str, frame: pd.DataFrame) -> int:
        """Store weather forecasts (``issued_at`` column beside the variables)."""
        return WeatherRepository(self.session).upsert_issues(park_id, site_id, frame)

    def add_consumption(
        self, park_id: str, enterprise_id: str, power_mw: pd.Series, quality: str = "measured"
    ) -> int:
        """Store tenant consumption where no reading exists yet [MW, magnitude]."""
        meters = ConsumptionRepository(self.session)
        meter = consumption_meter_id(enterprise_id)
        meters.add_meter(meter, park_id, "tenant", enterprise_id)
        values = power_mw.dropna()
        if values.empty:
            return 0
        end = values.index[-1] + pd.Timedelta(microseconds=1)  # the last reading included
        stored = meters.read(meter, values.index[0].to_pydatetime(), end.to_pydatetime()).index
        fresh = values.drop(stored, errors="ignore")
        return meters.upsert_series(meter, fresh, quality=quality)

    def add_telemetry(self, asset_id: str, power_mw: pd.Series) -> int:
        """Store measured asset readings where no reading exists yet [MW]."""
        return TelemetryRepository(self.session).insert_missing(
            asset_id, power_mw, quality="measured"
        )

    def audit(self, actor: str, action: str, entity: str, entity_id: str, after: object) -> None:
        """Append to the audit log."""
        payload = after if isinstance(after, BaseModel | dict) else {"value": str(after)}
        AuditRepository(self.session).record(actor, action, entity, entity_id, after=payload)
