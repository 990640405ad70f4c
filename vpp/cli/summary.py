"""The printed summary of a day-ahead cycle: the figures an operator checks first."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from vpp.services.day_ahead_cycle import CycleResult
from vpp.services.park_file import ParkData


def print_summary(
    console: Console, data: ParkData, result: CycleResult, files: dict[str, Path], stored: str
) -> None:
    """Print what happened, every number from the run."""
    cur = result.profile.currency
    market = result.market
    console.print(
        f"[bold]{data.park.name}[/] — {result.profile.name}, delivery {result.day} ({len(result.realised_price)} intervals)"
    )
    console.print(
        f"forecasts issued {result.forecasts.issue_time.tz_convert(result.profile.timezone):%Y-%m-%d %H:%M %Z}; bids receipt {result.receipt}"
    )
    table = Table("item", "value", title="Day-ahead cycle")
    sold, bought = result.energy_awarded_mwh()
    table.add_row("energy awarded", f"sold {sold:.2f} MWh, bought {bought:.2f} MWh")
    for product, amount in market.reserves.items():
        mw = max((a.quantity_mw for a in result.awards if a.product_id == product), default=0.0)
        table.add_row(f"{product} awarded", f"up to {mw:.1f} MW, {amount} {cur}")
    table.add_row("expected result when bid", f"{result.bids.expected_revenue:,.2f} {cur}")
    table.add_row("market: energy", f"{market.energy} {cur}")
    table.add_row("market: imbalance", f"{market.imbalance} {cur} ({market.imbalance_mwh:.2f} MWh)")
    table.add_row("market total", f"{market.total} {cur}")
    table.add_row("park at baseline", f"{result.settlement.baseline_value} {cur}")
    table.add_row(
        "[bold]flexibility value[/]", f"[bold]{result.settlement.flexibility_total} {cur}[/]"
    )
    console.print(table)
    shares = Table("statement", f"total [{cur}]", title="Day statements")
    for statement in result.settlement.statements:
        shares.add_row(statement.enterprise_id, str(statement.total))
    console.print(shares)
    verdict = (
        "[green]reconcile to the cent[/]"
        if result.settlement.reconciles
        else "[red]DO NOT reconcile[/]"
    )
    console.print(f"statements {verdict}; stored in {stored}")
    for note in result.notes:
        console.print(f"[yellow]note:[/] {note}")
    console.print(
        f"artefacts in {files['chart_png'].parent}: " + ", ".join(p.name for p in files.values())
    )
