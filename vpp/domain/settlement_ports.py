"""Ports of monthly settlement: what the settlement use cases read and write, as Protocols.

Settlement reads what the day-ahead cycles and the meters stored for a park (its enterprises,
contracts, enrolled assets, dispatch setpoints, awards, device and consumption meters, DR
events, AGC commands) and writes statements and audit entries. The use cases in
``vpp.services`` take a :class:`SettlementStores` bundle of these ports; the database
repositories implement them and the composition roots (the ``vpp settle`` command, the
settlement API) build the bundle around one transaction. Every method mirrors a repository
method of the same name, so the repositories satisfy the ports structurally.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from vpp.domain.bids import Award, DispatchPlan, Statement
from vpp.domain.demand_response import DrEvent
from vpp.domain.park import Contract, EnrolledAsset, Park


@runtime_checkable
class ParkDirectory(Protocol):
    """Parks with their enterprises."""

    def list_ids(self) -> list[str]:
        """Ids of every park, sorted."""
        ...

    def get(self, park_id: str) -> Park:
        """The park with its enterprises; raises ``NotFoundError`` when absent."""
        ...


@runtime_checkable
class ContractBook(Protocol):
    """Revenue-sharing contracts."""

    def active(self, enterprise_id: str, at: datetime) -> list[Contract]:
        """Contracts of ``enterprise_id`` in force at instant ``at``, oldest first."""
        ...


@runtime_checkable
class AssetRegistry(Protocol):
    """Enrolled assets."""

    def list_for_park(self, park_id: str) -> list[EnrolledAsset]:
        """Every asset enrolled by an enterprise of ``park_id``."""
        ...


@runtime_checkable
class DispatchLog(Protocol):
    """Dispatch setpoints as planned per market and delivery day."""

    def get(self, market_id: str, delivery_day: date) -> DispatchPlan:
        """The plan of one market and day (every park on it); empty when none was saved."""
        ...


@runtime_checkable
class AwardLog(Protocol):
    """Market awards per market and delivery day."""

    def list_for_day(self, market_id: str, delivery_day: date) -> list[Award]:
        """The awards of ``delivery_day`` on ``market_id``."""
        ...


@runtime_checkable
class DeviceMeters(Protocol):
    """Device telemetry of enrolled assets [MW]."""

    def read(self, asset_id: str, start: datetime, end: datetime) -> pd.Series:
        """Power [MW] of ``asset_id`` at instants in ``[start, end)``, UTC-indexed."""
        ...

    def read_frame(self, asset_id: str, start: datetime, end: datetime) -> pd.DataFrame:
        """Columns ``power_mw`` [MW], ``energy_mwh`` [MWh] and ``quality`` on ``[start, end)``."""
        ...


class ConsumptionMeter(Protocol):
    """One consumption meter: a tenant's (``kind="tenant"``) or the park connection's."""

    @property
    def id(self) -> str:
        """The meter id."""
        ...

    @property
    def kind(self) -> str:
        """``tenant`` or ``park``."""
        ...

    @property
    def enterprise_id(self) -> str | None:
        """The tenant a tenant meter reads; None for the park meter."""
        ...


@runtime_checkable
class ConsumptionMeters(Protocol):
    """Consumption meters of a park and their readings [MW consumed, >= 0]."""

    def meters(self, park_id: str) -> Sequence[ConsumptionMeter]:
        """The park's meters, by id."""
        ...

    def read(self, meter_id: str, start: datetime, end: datetime) -> pd.Series:
        """Readings of ``meter_id`` at instants in ``[start, end)`` [MW], UTC-indexed."""
        ...

    def qualities(self, meter_ids: list[str], start: datetime, end: datetime) -> frozenset[str]:
        """Quality flags of the readings of ``meter_ids`` in ``[start, end)``."""
        ...


@runtime_checkable
class DrEventLog(Protocol):
    """Demand-response events."""

    def list_for_park(self, park_id: str, start: datetime, end: datetime) -> list[DrEvent]:
        """Events of the park starting in ``[start, end)``, by start."""
        ...


@runtime_checkable
class AgcCommandLog(Protocol):
    """AGC commands sent to assets (seconds resolution) [MW]."""

    def asset_ids(self, start: datetime, end: datetime) -> list[str]:
        """Assets with at least one AGC command in ``[start, end)``."""
        ...

    def read(self, asset_id: str, start: datetime, end: datetime) -> pd.Series:
        """Commands of ``asset_id`` in ``[start, end)`` [MW], UTC-indexed."""
        ...


@runtime_checkable
class StatementStore(Protocol):
    """Statements: drafts, issue, corrections as new versions."""

    def get(self, enterprise_id: str, statement_id: str, version: int | None = None) -> Statement:
        """A version of a statement (the newest when None); raises ``NotFoundError``."""
        ...

    def versions(self, enterprise_id: str, statement_id: str) -> list[Statement]:
        """Every version of a statement, oldest first; raises ``NotFoundError``."""
        ...

    def list_for_enterprise(
        self, enterprise_id: str, *, include_superseded: bool = False
    ) -> list[Statement]:
        """Statements of one enterprise by period, then id and version."""
        ...

    def save_draft(self, statement: Statement) -> None:
        """Insert a new draft (version 1) or replace the stored draft of the same version."""
        ...

    def issue(self, enterprise_id: str, statement_id: str, *, at: datetime) -> Statement:
        """Issue the draft of ``statement_id``."""
        ...

    def correct(self, corrected: Statement, *, at: datetime) -> Statement:
        """Issue ``corrected`` as the next version and supersede the issued one."""
        ...


@runtime_checkable
class AuditLog(Protocol):
    """The append-only audit trail."""

    def record(
        self,
        actor: str,
        action: str,
        entity: str,
        entity_id: str,
        *,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> int:
        """Append an entry; returns its id."""
        ...


@dataclass(frozen=True)
class SettlementStores:
    """Every port monthly settlement reads or writes, bound to one transaction."""

    parks: ParkDirectory
    contracts: ContractBook
    assets: AssetRegistry
    dispatch: DispatchLog
    awards: AwardLog
    telemetry: DeviceMeters
    consumption: ConsumptionMeters
    dr_events: DrEventLog
    agc: AgcCommandLog
    statements: StatementStore
    audit: AuditLog
