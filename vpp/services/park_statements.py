"""A park's monthly statements as the settlement team reads them: list, one, one with its month.

The park's statements of a month are those of its enterprises and the aggregator's statement of
the park (:func:`~vpp.services.settle_month.statement_id`). A statement id of another park, or a
day statement, is not found here. For file exports the month is settled again from the stored
data (nothing is issued): the XLSX and PDF show the daily committed and delivered energy and the
aggregator's PDF the park's zero-carbon indicators beside the stored statement.
"""

from __future__ import annotations

from vpp.domain.bids import Statement
from vpp.domain.errors import NotFoundError
from vpp.domain.market import MarketProfile
from vpp.domain.park import Park
from vpp.domain.settlement_ports import SettlementStores
from vpp.services.park_month_inputs import load_park_month
from vpp.services.settle_day import AGGREGATOR
from vpp.services.settle_month import MonthSettlement, month_days, settle_month
from vpp.services.settle_month import statement_id as monthly_id


def park_statements(stores: SettlementStores, park_id: str, month: str) -> list[Statement]:
    """The latest version of each monthly statement of ``park_id`` for ``month``, the
    enterprises' by id, then the aggregator's."""
    month_days(month)
    park = stores.parks.get(park_id)
    found = []
    for owner in _owners(park):
        try:
            found.append(stores.statements.get(owner, _id(park, owner, month)))
        except NotFoundError:
            continue
    return found


def park_statement(
    stores: SettlementStores, park_id: str, statement_id: str, version: int | None = None
) -> Statement:
    """One monthly statement of the park (latest version unless ``version``)."""
    park = stores.parks.get(park_id)
    for owner in _owners(park):
        if not statement_id.startswith(f"{owner}:"):
            continue
        try:
            statement = stores.statements.get(owner, statement_id, version)
        except NotFoundError:
            continue
        if statement_id == _id(park, owner, month_of(statement)):
            return statement
    shown = "" if version is None else f" v{version}"
    raise NotFoundError(f"statement {statement_id}{shown} not found in park {park_id}")


def statement_with_month(
    stores: SettlementStores,
    park_id: str,
    statement_id: str,
    profile: MarketProfile,
    version: int | None = None,
) -> tuple[Statement, MonthSettlement]:
    """The statement and its month settled again from the stored data (for file exports)."""
    statement = park_statement(stores, park_id, statement_id, version)
    inputs = load_park_month(stores, park_id, month_of(statement), profile)
    return statement, settle_month(inputs)


def month_of(statement: Statement) -> str:
    """``YYYY-MM`` of the statement's period start."""
    return statement.period_start.strftime("%Y-%m")


def _owners(park: Park) -> list[str]:
    return [*(e.id for e in park.enterprises if e.id != AGGREGATOR), AGGREGATOR]


def _id(park: Park, owner: str, month: str) -> str:
    return monthly_id(owner, park.market_id, month, park.id)
