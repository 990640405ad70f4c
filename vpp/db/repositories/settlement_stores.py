"""The settlement ports (``vpp.domain.settlement_ports``) implemented by this package's repositories.

:func:`settlement_stores` binds every repository monthly settlement needs to one session, so a
use case that reads a month and issues its statements commits or rolls back as a whole.
"""

from __future__ import annotations

from sqlmodel import Session

from vpp.db.repositories.agreements import ContractRepository
from vpp.db.repositories.assets import AssetRepository
from vpp.db.repositories.audit import AuditRepository
from vpp.db.repositories.bids import AwardRepository
from vpp.db.repositories.dispatch import DispatchRepository
from vpp.db.repositories.metering import (
    AgcSetpointRepository,
    ConsumptionRepository,
    DrEventRepository,
)
from vpp.db.repositories.parks import ParkRepository
from vpp.db.repositories.statements import StatementRepository
from vpp.db.repositories.telemetry import TelemetryRepository
from vpp.domain.settlement_ports import SettlementStores


def settlement_stores(session: Session) -> SettlementStores:
    """Every settlement port, backed by the repositories of ``session``."""
    return SettlementStores(
        parks=ParkRepository(session),
        contracts=ContractRepository(session),
        assets=AssetRepository(session),
        dispatch=DispatchRepository(session),
        awards=AwardRepository(session),
        telemetry=TelemetryRepository(session),
        consumption=ConsumptionRepository(session),
        dr_events=DrEventRepository(session),
        agc=AgcSetpointRepository(session),
        statements=StatementRepository(session),
        audit=AuditRepository(session),
    )
