"""``vpp market ...``: list, show and validate market profiles; fetch published market data.

``vpp market fetch`` reads its ENTSO-E security token from ``VPP_ENTSOE_TOKEN`` only, so the
token never shows in a command line or a shell history.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vpp.domain.errors import InvalidInputError
from vpp.domain.market import available_markets, load_market_profile
from vpp.domain.timegrid import local_midnight, zone

app = typer.Typer(
    help="Inspect and validate market profiles (config/markets); fetch published market data.",
    no_args_is_help=True,
)

ENTSOE_TOKEN_ENV = "VPP_ENTSOE_TOKEN"


class Source(StrEnum):
    """Where published market data come from."""

    ENTSOE = "entsoe"


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


@app.command("fetch")
def fetch(
    area: Annotated[str, typer.Option(help="Bidding zone at the source, e.g. DE_LU.")],
    market: Annotated[str, typer.Option(help="Market profile the prices belong to, e.g. de-lu.")],
    start: Annotated[
        datetime, typer.Option(formats=["%Y-%m-%d"], help="First delivery day (market time).")
    ],
    end: Annotated[
        datetime, typer.Option(formats=["%Y-%m-%d"], help="Last delivery day (market time).")
    ],
    source: Annotated[Source, typer.Option(help="Where to fetch from.")] = Source.ENTSOE,
    base_url: Annotated[
        str | None, typer.Option(hidden=True, envvar="VPP_ENTSOE_URL", help="API endpoint.")
    ] = None,
) -> None:
    """Fetch day-ahead prices into the service database (token: VPP_ENTSOE_TOKEN)."""
    # Imported here so that list, show and validate do not load the HTTP client, entsoe-py and
    # the database stack (they double the group's start-up time).
    from adapters.market_data.entsoe import ENTSOE_URL, EntsoeFeed
    from vpp.db.engine import make_engine, session_scope
    from vpp.db.migrate import upgrade
    from vpp.db.repositories.market_data import MarketSeriesRepository
    from vpp.domain.ports import DAY_AHEAD_PRICE
    from vpp.settings import get_settings

    profile = load_market_profile(market)
    if end < start:
        raise InvalidInputError(f"--end {end:%Y-%m-%d} is before --start {start:%Y-%m-%d}")
    if profile.currency != "EUR":
        raise InvalidInputError(
            f"{source} publishes prices in EUR, market {profile.market_id} is in "
            f"{profile.currency}",
            hint="store the prices under a market profile priced in EUR",
        )
    token = os.environ.get(ENTSOE_TOKEN_ENV, "")
    if not token:
        raise InvalidInputError(
            f"{ENTSOE_TOKEN_ENV} is not set",
            hint=f"export {ENTSOE_TOKEN_ENV}=<your ENTSO-E Transparency Platform token>",
        )
    first = local_midnight(start.date(), profile.timezone)
    stop = local_midnight(end.date() + timedelta(days=1), profile.timezone)
    with EntsoeFeed(token, base_url=base_url or ENTSOE_URL) as feed:
        prices = feed.day_ahead_prices(area, first, stop)
    url = get_settings().database_url
    upgrade(url)
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            written = MarketSeriesRepository(session).upsert(profile.market_id, prices.to_frame())
    finally:
        engine.dispose()
    typer.echo(
        f"wrote {written} {DAY_AHEAD_PRICE} values of {profile.market_id} "
        f"({area}, {start:%Y-%m-%d}..{end:%Y-%m-%d}) from {source}"
    )
