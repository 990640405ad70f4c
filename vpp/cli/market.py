"""``vpp market ...``: list, show and validate market profiles."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vpp.domain.market import available_markets, load_market_profile
from vpp.domain.timegrid import zone

app = typer.Typer(
    help="Inspect and validate market profiles (config/markets).", no_args_is_help=True
)


@app.command("list")
def list_markets() -> None:
    """List the shipped market profiles."""
    table = Table("id", "name", "timezone", "currency", "products", "unverified")
    for market_id in available_markets():
        profile = load_market_profile(market_id)
        products = ", ".join(p.id for p in profile.enabled_products())
        table.add_row(
            profile.market_id,
            profile.name,
            profile.timezone,
            profile.currency,
            products,
            str(len(profile.unverified())),
        )
    Console().print(table)


@app.command("show")
def show(
    market: Annotated[str, typer.Argument(help="Profile id (e.g. cn-shandong) or a YAML path.")],
    day: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Delivery day for gate times.")
    ] = None,
) -> None:
    """Show one profile: timing for a delivery day, bid rules, products, unverified fields."""
    profile = load_market_profile(market)
    delivery = day.date() if day else datetime.now(zone(profile.timezone)).date()
    console = Console()
    console.print(f"[bold]{profile.name}[/] ({profile.market_id}, version {profile.version})")
    intervals = profile.day_intervals(delivery)
    closure = profile.gate_closure(delivery).tz_convert(profile.timezone)
    console.print(
        f"delivery {delivery}: {len(intervals)} intervals of {profile.interval_minutes} min "
        f"in {profile.timezone}; day-ahead gate closes {closure:%Y-%m-%d %H:%M %Z}"
    )
    bounds = profile.day_ahead.price_bounds
    rules = profile.bid_format
    console.print(
        f"bids: {rules.type}, {rules.min_segments}-{rules.max_segments} segments, prices "
        f"{bounds.bid_min}..{bounds.bid_max} {profile.price_unit}, tick {rules.price_tick}, "
        f"quantity tick {rules.qty_tick_mw} MW, minimum {rules.min_bid_mw} MW"
    )
    table = Table("product", "kind", "direction", "block h", "min MW", "sustain min", "enabled")
    for p in profile.products:
        table.add_row(
            p.id,
            p.kind,
            p.direction,
            str(p.product_length_h or "-"),
            str(p.min_bid_mw),
            str(p.activation.min_sustain_min or "-"),
            "yes" if p.enabled else "no",
        )
    console.print(table)
    unverified = profile.unverified()
    if unverified:
        console.print(
            f"[yellow]{len(unverified)} sections still flagged verify:[/] " + ", ".join(unverified)
        )


@app.command("validate")
def validate(path: Annotated[Path, typer.Argument(help="A market profile YAML file.")]) -> None:
    """Validate a profile file; exit 2 with the named field and value when it is wrong."""
    profile = load_market_profile(path)
    Console().print(f"[green]ok[/] {path}: {profile.market_id} version {profile.version}")
