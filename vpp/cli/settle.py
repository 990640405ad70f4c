"""``vpp settle``: settle a month from the service database, issue statements, export them.

The composition root of monthly settlement: it reads the settings, opens the database, loads
what the day-ahead cycles stored (``vpp.db.settlement_store``), runs the pure settlement
(``vpp.services.settle_month``), issues the statements in the same transaction and only then
writes the export files. A month with missing data is refused unless an operator overrides
with ``--override-incomplete --by NAME``, which the statements and the audit log record. The
park's zero-carbon indicators are printed and exported beside the money, computed from the
same stored month (park consumption from the stored consumption meters); an indicator whose
inputs are not stored says so instead of a number. Demand-response events of the month are
listed with their metered baseline's performance and pay.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from adapters.exports.statements import write_month_statements, write_reconciliation
from vpp.db.engine import make_engine, session_scope
from vpp.db.migrate import upgrade
from vpp.db.repositories import ParkRepository
from vpp.db.settlement_store import Issued, issue_month, load_month
from vpp.domain.errors import ConflictError, InvalidInputError, NotFoundError
from vpp.domain.market import MarketProfile, load_market_profile
from vpp.domain.zero_carbon import ZeroCarbonReport
from vpp.services.settle_month import (
    MonthSettlement,
    award_amounts,
    month_days,
    reconcile_operator,
    settle_month,
    zero_carbon_month,
)
from vpp.settings import get_settings


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
) -> None:
    """Settle a month from the service database and export statements."""
    month_days(month)
    if override_incomplete and not (by and by.strip()):
        raise InvalidInputError(
            "--override-incomplete needs --by NAME", hint="name who authorises issuing"
        )
    console = Console()
    settings = get_settings()
    url = settings.database_url
    upgrade(url)
    engine = make_engine(url)
    done: list[tuple[MarketProfile, MonthSettlement, list[Issued], ZeroCarbonReport]] = []
    try:
        with session_scope(engine) as session:
            parks = ParkRepository(session)
            park_ids = parks.list_ids()
            if not park_ids:
                raise NotFoundError(
                    "the database holds no park", hint="run `vpp demo` or import a park first"
                )
            for park_id in park_ids:
                park = parks.get(park_id)
                profile = load_market_profile(park.market_id, settings.config_dir)
                result = settle_month(load_month(session, park_id, month, profile))
                if not result.complete and not override_incomplete:
                    print_problems(console, park.name, result)
                    raise ConflictError(
                        f"{month} of {park_id} is incomplete; nothing was issued",
                        hint="import the missing data, or pass --override-incomplete --by NAME",
                    )
                issued = issue_month(
                    session, result, override_by=by.strip() if override_incomplete and by else None
                )
                zero = zero_carbon_month(result.inputs, profile.carbon_green)
                done.append((profile, result, issued, zero))
    finally:
        engine.dispose()
    for profile, result, issued, zero in done:
        files = (
            write_month_statements(
                export,
                result,
                [i.statement for i in issued],
                profile,
                zero_carbon=zero,
                workers=min(2, os.cpu_count() or 1),
            )
            if export is not None
            else []
        )
        print_month(console, result, issued, files)
        print_dr_events(console, result)
        print_zero_carbon(console, result, zero)
        if reconcile is not None:
            operator = read_operator_csv(reconcile)
            report = reconcile_operator(award_amounts(result.inputs), operator)
            print_reconciliation(console, report, result.inputs.currency)
            if export is not None:
                name = f"reconciliation_{result.inputs.market_id}_{result.inputs.month}.csv"
                console.print(f"wrote {write_reconciliation(export / name, report)}")


def print_problems(console: Console, park: str, result: MonthSettlement) -> None:
    """List what is missing for the month."""
    problems = result.problems()
    console.print(f"[bold]{park}[/] {result.inputs.month}: {len(problems)} data gaps")
    for line in problems[:20]:
        console.print(f"  - {line}")
    if len(problems) > 20:
        console.print(f"  ... and {len(problems) - 20} more")


def print_month(
    console: Console, result: MonthSettlement, issued: list[Issued], files: list[Path]
) -> None:
    """The market total, each enterprise's and the aggregator's total, and the reconciliation."""
    inputs, w = result.inputs, result.waterfall
    cur = inputs.currency
    names = {e.id: e.name for e in inputs.enterprises}
    table = Table(
        "statement",
        "name",
        f"total [{cur}]",
        "version",
        "action",
        title=f"{inputs.market_id} {inputs.month} monthly settlement",
    )
    for item in issued:
        s = item.statement
        table.add_row(
            s.enterprise_id,
            names.get(s.enterprise_id, "aggregator"),
            f"{s.total:,.2f}",
            f"v{s.version}",
            item.action,
        )
    console.print(table)
    parts = sum((i.statement.total for i in issued), start=w.market_total * 0)
    ok = parts == w.market_total and w.reconciles
    console.print(f"market total: {w.market_total:,.2f} {cur}")
    console.print(f"aggregator total: {w.aggregator_total:,.2f} {cur}")
    console.print(
        f"statements sum: {parts:,.2f} {cur} — "
        + ("[green]reconciles to the cent[/]" if ok else "[red]DOES NOT reconcile[/]")
    )
    if not result.complete:
        console.print(f"[yellow]issued with {len(result.problems())} data gaps (override)[/]")
    for path in files:
        console.print(f"wrote {path}")


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
