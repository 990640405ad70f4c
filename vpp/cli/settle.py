"""``vpp settle``: settle a month from the service database, issue statements, export them.

The composition root of monthly settlement: it reads the settings, opens the database and, park
by park (``--park`` for one), binds the settlement ports to one transaction
(``vpp.db.repositories.settlement_stores``) and runs the use case
(``vpp.services.settle_park_month``), which loads the park's stored month, settles it and
issues its statements; only then are the export files written. Each park is settled on its
own, and within a park each enterprise: an enterprise without a contract, or with incomplete
data, is listed with the reason and skipped; a park whose own data is incomplete issues
nothing, unless an operator overrides with ``--override-incomplete --by NAME``, which the
statements and the audit log record. The command ends non-zero when anything was skipped, after
issuing everything else. The park's zero-carbon indicators are printed and exported beside the
money, computed from the same stored month (park consumption from the stored consumption
meters); an indicator whose inputs are not stored says so instead of a number.
Demand-response events of the month are listed with their metered baseline's performance and pay.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import Engine

from adapters.exports.statements import write_month_statements, write_reconciliation
from vpp.db.engine import make_engine, session_scope
from vpp.db.migrate import upgrade
from vpp.db.repositories.settlement_stores import settlement_stores
from vpp.domain.errors import ConflictError, InvalidInputError, NotFoundError, VppError
from vpp.domain.market import MarketProfile, load_market_profile
from vpp.domain.zero_carbon import ZeroCarbonReport
from vpp.services.settle_month import (
    MonthSettlement,
    award_amounts,
    month_days,
    reconcile_operator,
    zero_carbon_month,
)
from vpp.services.settle_park_month import ParkMonth, settle_park_month
from vpp.settings import get_settings

Settled = tuple[MarketProfile, ParkMonth, ZeroCarbonReport]


def settle(
    month: Annotated[str, typer.Option(help="Month to settle, YYYY-MM.")],
    export: Annotated[Path | None, typer.Option(help="Folder for the statements.")] = None,
    override_incomplete: Annotated[
        bool,
        typer.Option(
            "--override-incomplete", help="Issue even though data is missing (needs --by)."
        ),
    ] = False,
    by: Annotated[str | None, typer.Option(help="Who authorises the override.")] = None,
    reconcile: Annotated[
        Path | None,
        typer.Option(help="Market operator's statement CSV (day,product_id,amount) to compare."),
    ] = None,
    park: Annotated[
        str | None, typer.Option(help="Settle only this park (default: every park).")
    ] = None,
) -> None:
    """Settle a month from the service database and export statements."""
    month_days(month)
    if override_incomplete and not (by and by.strip()):
        raise InvalidInputError(
            "--override-incomplete needs --by NAME", hint="name who authorises issuing"
        )
    override_by = by.strip() if override_incomplete and by else None
    console = Console()
    settings = get_settings()
    url = settings.database_url
    upgrade(url)
    engine = make_engine(url)
    done: list[Settled] = []
    failed: dict[str, str] = {}
    try:
        for park_id in _park_ids(engine, park):
            try:
                with session_scope(engine) as session:
                    stores = settlement_stores(session)
                    market_id = stores.parks.get(park_id).market_id
                    profile = load_market_profile(market_id, settings.config_dir)
                    outcome = settle_park_month(
                        stores, park_id, month, profile, override_by=override_by
                    )
            except VppError as error:  # this park only: the others go on
                failed[park_id] = str(error)
                continue
            zero = zero_carbon_month(outcome.settlement.inputs, profile.carbon_green)
            done.append((profile, outcome, zero))
    finally:
        engine.dispose()
    for profile, outcome, zero in done:
        report_park(console, profile, outcome, zero, export, reconcile)
    print_skipped(console, month, [o for _, o, _ in done], failed)
    refused = [o.park_id for _, o, _ in done if o.refused]
    skipped = sum(len(o.skipped) for _, o, _ in done if not o.refused)
    if failed or refused or skipped:
        raise ConflictError(
            f"{month}: not everything was settled: {len(failed) + len(refused)} park(s) "
            f"issued nothing, {skipped} enterprise(s) were skipped",
            hint="everything else was issued; the list above says why",
        )


def _park_ids(engine: Engine, only: str | None) -> list[str]:
    """Every park's id, or only ``only`` (which must exist)."""
    with session_scope(engine) as session:
        park_ids = settlement_stores(session).parks.list_ids()
    if not park_ids:
        raise NotFoundError(
            "the database holds no park", hint="run `vpp demo` or import a park first"
        )
    if only is not None and only not in park_ids:
        raise NotFoundError(f"park {only} not found", hint=f"parks: {', '.join(park_ids)}")
    return park_ids if only is None else [only]


def report_park(
    console: Console,
    profile: MarketProfile,
    outcome: ParkMonth,
    zero: ZeroCarbonReport,
    export: Path | None,
    reconcile: Path | None,
) -> None:
    """Print one park's month, write its files and its reconciliation."""
    result = outcome.settlement
    if outcome.refused:
        print_problems(console, outcome.park_id, result, outcome.refused)
        console.print(
            f"[red]{outcome.park_id} {outcome.month}: nothing was issued[/] "
            "(import the missing data, or pass --override-incomplete --by NAME)"
        )
        return
    files = (
        write_month_statements(
            export,
            result,
            [i.statement for i in outcome.issued],
            profile,
            zero_carbon=zero,
            workers=min(2, os.cpu_count() or 1),
            park_id=outcome.park_id,
        )
        if export is not None
        else []
    )
    print_month(console, outcome, files)
    print_dr_events(console, result)
    print_zero_carbon(console, result, zero)
    if reconcile is not None:
        operator = read_operator_csv(reconcile)
        report = reconcile_operator(award_amounts(result.inputs), operator)
        print_reconciliation(console, report, result.inputs.currency)
        if export is not None:
            name = f"{outcome.park_id}_{outcome.month}_reconciliation.csv".replace(":", "_")
            console.print(f"wrote {write_reconciliation(export / name, report)}")


def print_problems(
    console: Console, park: str, result: MonthSettlement, problems: list[str]
) -> None:
    """List what is missing for the park's month."""
    console.print(f"[bold]{park}[/] {result.inputs.month}: {len(problems)} data gaps")
    for line in problems[:20]:
        console.print(f"  - {line}")
    if len(problems) > 20:
        console.print(f"  ... and {len(problems) - 20} more")


def print_month(console: Console, outcome: ParkMonth, files: list[Path]) -> None:
    """The market total, each enterprise's and the aggregator's total, and the reconciliation."""
    result = outcome.settlement
    inputs, w = result.inputs, result.waterfall
    cur = inputs.currency
    names = {e.id: e.name for e in inputs.enterprises}
    table = Table(
        "statement",
        "name",
        f"total [{cur}]",
        "version",
        "action",
        title=f"{outcome.park_id} ({inputs.market_id}) {inputs.month} monthly settlement",
    )
    for item in outcome.issued:
        s = item.statement
        table.add_row(
            s.enterprise_id,
            names.get(s.enterprise_id, "aggregator"),
            f"{s.total:,.2f}",
            f"v{s.version}",
            item.action,
        )
    console.print(table)
    console.print(f"market total: {result.market_total:,.2f} {cur}")
    console.print(f"aggregator total: {w.aggregator_total:,.2f} {cur}")
    held = ""
    if result.held_back:
        held = f" + {outcome.held_back_total:,.2f} {cur} held back for skipped enterprises"
    console.print(
        f"statements sum: {outcome.issued_total:,.2f} {cur}{held} — "
        + (
            "[green]reconciles to the cent[/]"
            if outcome.reconciles
            else "[red]DOES NOT reconcile[/]"
        )
    )
    if outcome.override_by is not None and result.blocking_problems():
        gaps = len(result.blocking_problems())
        console.print(f"[yellow]issued with {gaps} data gaps (override)[/]")
    for path in files:
        console.print(f"wrote {path}")


def print_skipped(
    console: Console, month: str, outcomes: list[ParkMonth], failed: dict[str, str]
) -> None:
    """Every park that issued nothing and every enterprise skipped, with the reason."""
    rows = [(p, "—", why) for p, why in failed.items()]
    for o in outcomes:
        if o.refused:
            more = f" and {len(o.refused) - 1} more" if len(o.refused) > 1 else ""
            rows.append((o.park_id, "—", f"park data incomplete: {o.refused[0]}{more}"))
            continue
        rows += [(o.park_id, e, why) for e, why in o.skipped.items()]
    if not rows:
        return
    table = Table("park", "enterprise", "reason", title=f"{month}: not settled")
    for row in rows:
        table.add_row(*row)
    console.print(table)


def print_dr_events(console: Console, result: MonthSettlement) -> None:
    """Each DR event of the month: who, when, the delivery ratio and what it earned."""
    if not result.dr_results:
        return
    inputs = result.inputs
    table = Table(
        "event",
        "enterprise",
        "product",
        "start",
        "baseline days",
        "ratio",
        f"amount [{inputs.currency}]",
        title=f"{inputs.market_id} {inputs.month} demand-response events 需求响应",
    )
    for r in result.dr_results:
        table.add_row(
            str(r.event.id),
            r.event.enterprise_id or "park",
            r.event.product_id,
            pd.Timestamp(r.event.start).tz_convert(inputs.timezone).strftime("%Y-%m-%d %H:%M"),
            str(len(r.baseline.days_used)),
            f"{r.performance.ratio:.1%}",
            f"{r.performance.amount:,.2f}",
        )
    console.print(table)


def print_zero_carbon(console: Console, result: MonthSettlement, report: ZeroCarbonReport) -> None:
    """The park's zero-carbon indicators against their thresholds, and why any is missing."""
    inputs = result.inputs
    table = Table(
        "indicator",
        "value",
        "threshold",
        "result",
        title=f"{inputs.market_id} {inputs.month} zero-carbon indicators 零碳园区指标",
    )
    style = {"pass": "green", "fail": "red"}
    for item in report.indicators:
        status = item.status
        table.add_row(
            f"{item.label} {item.label_zh}",
            item.format(item.value) or "—",
            item.threshold_text or "—",
            f"[{style.get(status, 'yellow')}]{status}[/]",
        )
    console.print(table)
    for reason in sorted({i.reason for i in report.indicators if i.reason}):
        console.print(f"not available: {reason}")
    if report.generation_mwh is not None:
        console.print(f"on-site renewable generation: {report.generation_mwh:,.3f} MWh")
    for note in report.notes:
        console.print(f"note: {note}")


def read_operator_csv(path: Path) -> pd.DataFrame:
    """The operator's amounts: columns ``day`` (YYYY-MM-DD), ``product_id``, ``amount``."""
    if not path.is_file():
        raise NotFoundError(f"no operator statement at {path}", hint="give the CSV's path")
    frame = pd.read_csv(path, dtype=str)
    frame.columns = [c.strip() for c in frame.columns]
    return frame


def print_reconciliation(console: Console, report: pd.DataFrame, currency: str) -> None:
    """Rows that differ, then the count that match."""
    off = report[~report["matches"]]
    table = Table(
        "day",
        "product",
        f"ours [{currency}]",
        f"operator [{currency}]",
        "difference",
        title="Reconciliation with the market operator",
    )
    for row in off.itertuples(index=False):
        table.add_row(
            str(row.day),
            row.product_id,
            f"{row.ours:,.2f}",
            f"{row.operator:,.2f}",
            f"{row.difference:,.2f}",
        )
    if len(off):
        console.print(table)
    console.print(
        f"reconciliation: {len(report) - len(off)} of {len(report)} day/product rows "
        "match to the cent"
    )
