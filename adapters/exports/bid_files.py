"""Bid sets as files: a flat CSV for people and manual upload, and JSON for machines.

CSV layout (one row per curve segment): ``product_id, interval_start_utc, interval_start_local,
side, step, price, quantity_mw``; prices in the market's currency per MWh (reserve products: per
MW per hour), quantities in MW over the interval.
"""

from __future__ import annotations

from pathlib import Path

from vpp.domain.bids import BidSet
from vpp.domain.timegrid import zone


def write_bid_csv(bids: BidSet, path: Path, tz: str) -> Path:
    """Write ``bids`` as CSV with UTC and market-local interval starts."""
    frame = bids.frame()
    frame.insert(2, "interval_start_local", frame["interval_start"].dt.tz_convert(zone(tz)))
    frame = frame.rename(columns={"interval_start": "interval_start_utc"})
    for column in ("interval_start_utc", "interval_start_local"):
        frame[column] = frame[column].map(lambda t: t.isoformat())
    frame.to_csv(path, index=False, float_format="%.6g")
    return path


def write_bid_json(bids: BidSet, path: Path) -> Path:
    """Write ``bids`` as JSON in the domain schema."""
    path.write_text(bids.model_dump_json(indent=2), encoding="utf-8")
    return path
