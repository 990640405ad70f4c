"""Repositories: each maps one concept's rows to and from domain objects.

A repository wraps a session from :func:`vpp.db.engine.session_scope`; it flushes but never
commits, so a use case that touches several repositories commits or rolls back as a whole.
Missing objects raise :class:`~vpp.domain.errors.NotFoundError`, clashes with stored state
:class:`~vpp.domain.errors.ConflictError`.
"""

from vpp.db.repositories.agreements import ConsentRepository, ContractRepository
from vpp.db.repositories.assets import AssetRepository
from vpp.db.repositories.audit import AuditEntry, AuditRepository
from vpp.db.repositories.bids import ALLOWED_TRANSITIONS, AwardRepository, BidRepository
from vpp.db.repositories.dispatch import DispatchRepository
from vpp.db.repositories.forecasts import ForecastRepository, PreparedRepository
from vpp.db.repositories.market_data import MarketSeriesRepository, WeatherRepository
from vpp.db.repositories.metering import (
    AgcSetpointRepository,
    ConsumptionRepository,
    DrEventRepository,
)
from vpp.db.repositories.parks import ParkRepository
from vpp.db.repositories.statements import StatementRepository
from vpp.db.repositories.telemetry import TelemetryPoint, TelemetryRepository

__all__ = [
    "ALLOWED_TRANSITIONS",
    "AgcSetpointRepository",
    "AssetRepository",
    "AuditEntry",
    "AuditRepository",
    "AwardRepository",
    "BidRepository",
    "ConsentRepository",
    "ConsumptionRepository",
    "ContractRepository",
    "DispatchRepository",
    "DrEventRepository",
    "ForecastRepository",
    "MarketSeriesRepository",
    "ParkRepository",
    "PreparedRepository",
    "StatementRepository",
    "TelemetryPoint",
    "TelemetryRepository",
    "WeatherRepository",
]
