"""Parks with their tenant enterprises and sites, saved and loaded as one aggregate."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col, select

from vpp.db.engine import conflicts_as
from vpp.db.tables import EnterpriseRow, ParkRow, SiteRow
from vpp.domain.errors import ConflictError, InvalidInputError, NotFoundError
from vpp.domain.park import AGGREGATOR_ID, Enterprise, Park, Site


class ParkRepository:
    """Store a :class:`Park` so that :meth:`get` returns what was last saved.

    Enterprises and sites come back ordered by id. Saving replaces the park's enterprises and
    sites with the given ones; removing one that still has assets, contracts or statements
    raises :class:`ConflictError`.
    """

    def __init__(self, session: Session) -> None:
        self.session = session

    def save(self, park: Park) -> None:
        """Insert or update ``park`` with its enterprises and sites."""
        _refuse_duplicates(park)
        row = self.session.get(ParkRow, park.id)
        if row is None:
            row = ParkRow(id=park.id, name="", market_id="", import_limit_mw=0, export_limit_mw=0)
        row.name = park.name
        row.market_id = park.market_id
        row.import_limit_mw = park.import_limit_mw
        row.export_limit_mw = park.export_limit_mw
        row.forecast_issue = (
            None if park.forecast_issue is None else park.forecast_issue.model_dump(mode="json")
        )
        self.session.add(row)
        self.session.flush()  # parents before children: no ORM relationship orders the inserts

        keep = {e.id for e in park.enterprises}
        stored = self.session.exec(
            select(EnterpriseRow).where(col(EnterpriseRow.park_id) == park.id)
        )
        # the aggregator's statement holder is the service's, not part of a user's park body
        dropped = [e.id for e in stored if e.id not in keep and e.id != AGGREGATOR_ID]
        with conflicts_as(
            f"cannot save park {park.id}",
            hint="an enterprise or site that was left out still has assets, contracts or statements",
        ):
            self.session.flush()
            if dropped:
                self.session.execute(
                    sa.delete(SiteRow).where(col(SiteRow.enterprise_id).in_(dropped))
                )
                self.session.execute(
                    sa.delete(EnterpriseRow).where(col(EnterpriseRow.id).in_(dropped))
                )
            for enterprise in park.enterprises:
                self._save_enterprise(park.id, enterprise)
            self.session.flush()

    def _save_enterprise(self, park_id: str, enterprise: Enterprise) -> None:
        row = self.session.get(EnterpriseRow, enterprise.id)
        if row is not None and row.park_id != park_id:
            raise ConflictError(
                f"enterprise {enterprise.id} already belongs to park {row.park_id}",
                hint="enterprise ids are unique across parks",
            )
        if row is None:
            row = EnterpriseRow(id=enterprise.id, park_id=park_id, name="")
        row.name = enterprise.name
        row.name_zh = enterprise.name_zh
        row.declared_load = (
            None
            if enterprise.declared_load is None
            else enterprise.declared_load.model_dump(mode="json")
        )
        self.session.add(row)
        self.session.flush()

        keep = {s.id for s in enterprise.sites}
        self.session.execute(
            sa.delete(SiteRow).where(
                col(SiteRow.enterprise_id) == enterprise.id, col(SiteRow.id).not_in(keep)
            )
        )
        for site in enterprise.sites:
            site_row = self.session.get(SiteRow, (enterprise.id, site.id)) or SiteRow(
                enterprise_id=enterprise.id, id=site.id, name=""
            )
            site_row.name = site.name
            site_row.latitude = site.latitude
            site_row.longitude = site.longitude
            site_row.connection_kva = site.connection_kva
            self.session.add(site_row)

    def get(self, park_id: str) -> Park:
        """The park ``park_id`` with its enterprises and sites."""
        row = self.session.get(ParkRow, park_id)
        if row is None:
            raise NotFoundError(f"park {park_id} not found")
        enterprises = self.session.exec(
            select(EnterpriseRow)
            .where(col(EnterpriseRow.park_id) == park_id)
            .order_by(col(EnterpriseRow.id))
        ).all()
        ids = [e.id for e in enterprises]
        sites = self.session.exec(
            select(SiteRow).where(col(SiteRow.enterprise_id).in_(ids)).order_by(col(SiteRow.id))
        ).all()
        return Park(
            id=row.id,
            name=row.name,
            market_id=row.market_id,
            import_limit_mw=row.import_limit_mw,
            export_limit_mw=row.export_limit_mw,
            forecast_issue=row.forecast_issue,
            enterprises=[
                _enterprise(e, [s for s in sites if s.enterprise_id == e.id]) for e in enterprises
            ],
        )

    def get_enterprise(self, enterprise_id: str) -> Enterprise:
        """One enterprise with its sites."""
        row = self.session.get(EnterpriseRow, enterprise_id)
        if row is None:
            raise NotFoundError(f"enterprise {enterprise_id} not found")
        sites = self.session.exec(
            select(SiteRow)
            .where(col(SiteRow.enterprise_id) == enterprise_id)
            .order_by(col(SiteRow.id))
        ).all()
        return _enterprise(row, list(sites))

    def delete(self, park_id: str) -> None:
        """Remove ``park_id`` with its enterprises and sites; refused (ConflictError) while
        anything else (assets, contracts, meters, statements, weather) still refers to them."""
        if self.session.get(ParkRow, park_id) is None:
            raise NotFoundError(f"park {park_id} not found")
        ids = list(
            self.session.exec(
                select(col(EnterpriseRow.id)).where(col(EnterpriseRow.park_id) == park_id)
            ).all()
        )
        with conflicts_as(
            f"cannot delete park {park_id}",
            hint="it still has assets, contracts, meters, statements or weather; "
            "only a park with nothing enrolled can be deleted",
        ):
            if ids:
                self.session.execute(sa.delete(SiteRow).where(col(SiteRow.enterprise_id).in_(ids)))
                self.session.execute(sa.delete(EnterpriseRow).where(col(EnterpriseRow.id).in_(ids)))
            self.session.execute(sa.delete(ParkRow).where(col(ParkRow.id) == park_id))
            self.session.flush()

    def list_ids(self) -> list[str]:
        """Ids of every stored park."""
        return list(self.session.exec(select(col(ParkRow.id)).order_by(col(ParkRow.id))).all())


def _refuse_duplicates(park: Park) -> None:
    ids = [e.id for e in park.enterprises]
    if len(ids) != len(set(ids)):
        raise InvalidInputError(f"park {park.id} lists an enterprise id twice: {sorted(ids)}")
    for enterprise in park.enterprises:
        site_ids = [s.id for s in enterprise.sites]
        if len(site_ids) != len(set(site_ids)):
            raise InvalidInputError(f"enterprise {enterprise.id} lists a site id twice")


def _enterprise(row: EnterpriseRow, sites: list[SiteRow]) -> Enterprise:
    return Enterprise(
        id=row.id,
        name=row.name,
        name_zh=row.name_zh,
        declared_load=row.declared_load,
        sites=[
            Site(
                id=s.id,
                name=s.name,
                latitude=s.latitude,
                longitude=s.longitude,
                connection_kva=s.connection_kva,
            )
            for s in sites
        ],
    )
