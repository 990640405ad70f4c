"""Bid XML for manual upload: it round-trips exactly and its layout is checked when read."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from adapters.exports.bid_files import read_bid_xml, write_bid_json, write_bid_xml
from vpp.domain.bids import BidCurve, BidSegment, BidSet
from vpp.domain.errors import InvalidInputError
from vpp.domain.market import load_market_profile

PROFILE = load_market_profile("de-lu")
DAY = date(2021, 3, 28)  # spring DST change in Europe/Berlin: 92 intervals, two offsets


def bids() -> BidSet:
    intervals = PROFILE.day_intervals(DAY)
    curves = [
        BidCurve(
            product_id="da_energy",
            interval_start=start,
            side="sell" if k % 2 == 0 else "buy",
            segments=[
                BidSegment(price=0.1 + k / 3, quantity_mw=1 / 3),
                BidSegment(price=(0.1 + k / 3) * (1.5 if k % 2 == 0 else 0.5), quantity_mw=2.0),
            ],
        )
        for k, start in enumerate(intervals)
    ]
    curves.append(
        BidCurve(
            product_id="fcr",
            interval_start=intervals[0].tz_convert("Europe/Berlin"),
            side="sell",
            segments=[BidSegment(price=-12.5, quantity_mw=0.0)],
        )
    )
    return BidSet(
        id="bids-2021-03-28",
        market_id="de-lu",
        delivery_day=DAY,
        created_at=pd.Timestamp("2021-03-27T08:15:00+01:00"),
        status="approved",
        curves=curves,
    )


def test_xml_round_trips_exactly(tmp_path: Path) -> None:
    original = bids()
    path = write_bid_xml(original, tmp_path / "bids.xml", PROFILE.timezone)
    back = read_bid_xml(path)
    assert back == original
    assert back.model_dump_json() == read_bid_xml(path).model_dump_json()
    again = write_bid_xml(back, tmp_path / "again.xml", PROFILE.timezone)
    assert again.read_bytes() == path.read_bytes()


def test_xml_layout(tmp_path: Path) -> None:
    original = bids()
    root = ET.parse(write_bid_xml(original, tmp_path / "bids.xml", PROFILE.timezone)).getroot()
    assert root.tag == "BidSet"
    assert root.attrib == {
        "format": "1",
        "id": "bids-2021-03-28",
        "market": "de-lu",
        "delivery_day": "2021-03-28",
        "created_at": "2021-03-27T08:15:00+01:00",
        "status": "approved",
        "timezone": "Europe/Berlin",
    }
    curves = list(root)
    assert [c.tag for c in curves] == ["Curve"] * len(original.curves)
    assert len(curves) == 92 + 1
    first, last_energy = curves[0], curves[91]
    assert first.attrib == {
        "product": "da_energy",
        "side": "sell",
        "interval_start_utc": "2021-03-27T23:00:00+00:00",
        "interval_start_local": "2021-03-28T00:00:00+01:00",
    }
    assert last_energy.attrib["interval_start_local"] == "2021-03-28T23:45:00+02:00"
    assert curves[-1].attrib["interval_start_utc"] == "2021-03-27T23:00:00+00:00"
    for curve in curves:
        segments = list(curve)
        assert segments
        assert all(s.tag == "Segment" for s in segments)
        assert [s.attrib["step"] for s in segments] == [str(k) for k in range(len(segments))]
        assert all(set(s.attrib) == {"step", "price", "quantity_mw"} for s in segments)
    assert first[0].attrib == {"step": "0", "price": "0.1", "quantity_mw": repr(1 / 3)}


def test_existing_json_export_is_unchanged(tmp_path: Path) -> None:
    original = bids()
    path = write_bid_json(original, tmp_path / "bids.json")
    assert BidSet.model_validate_json(path.read_text(encoding="utf-8")) == original


BROKEN = {
    "not xml": ("<BidSet", "not well-formed"),
    "wrong root": ("<Bids/>", "expected <BidSet>"),
    "missing attribute": (
        '<BidSet id="a" market="de-lu" created_at="2021-03-27T08:00:00+00:00"/>',
        "missing attribute.*delivery_day",
    ),
    "unknown attribute": (
        '<BidSet id="a" market="de-lu" delivery_day="2021-03-28" '
        'created_at="2021-03-27T08:00:00+00:00" colour="red"/>',
        "unexpected attribute.*colour",
    ),
    "stray element": (
        '<BidSet id="a" market="de-lu" delivery_day="2021-03-28" '
        'created_at="2021-03-27T08:00:00+00:00"><Note/></BidSet>',
        "unexpected element <Note>",
    ),
    "future format": (
        '<BidSet format="2" id="a" market="de-lu" delivery_day="2021-03-28" '
        'created_at="2021-03-27T08:00:00+00:00"/>',
        "format '2' is not supported",
    ),
}

CURVE = (
    '<BidSet id="a" market="de-lu" delivery_day="2021-03-28" '
    'created_at="2021-03-27T08:00:00+00:00" timezone="Europe/Berlin">'
    '<Curve product="da_energy" side="{side}" interval_start_utc="2021-03-27T23:00:00+00:00" '
    'interval_start_local="{local}">{segments}</Curve></BidSet>'
)
GOOD_LOCAL = "2021-03-28T00:00:00+01:00"
ONE = '<Segment step="0" price="10" quantity_mw="1"/>'
CURVES = {
    "no segments": (CURVE.format(side="sell", local=GOOD_LOCAL, segments=""), "segments"),
    "steps out of order": (
        CURVE.format(
            side="sell",
            local=GOOD_LOCAL,
            segments='<Segment step="1" price="10" quantity_mw="1"/>',
        ),
        "out of order",
    ),
    "negative quantity": (
        CURVE.format(
            side="sell",
            local=GOOD_LOCAL,
            segments='<Segment step="0" price="10" quantity_mw="-1"/>',
        ),
        "Segment 0",
    ),
    "not a number": (
        CURVE.format(
            side="sell",
            local=GOOD_LOCAL,
            segments='<Segment step="0" price="ten" quantity_mw="1"/>',
        ),
        "'ten' is not a number",
    ),
    "unknown side": (CURVE.format(side="hold", local=GOOD_LOCAL, segments=ONE), "side"),
    "local instant differs": (
        CURVE.format(side="sell", local="2021-03-28T01:00:00+01:00", segments=ONE),
        "not the same instant",
    ),
    "local offset wrong for zone": (
        CURVE.format(side="sell", local="2021-03-28T01:00:00+02:00", segments=ONE),
        "wrong offset for Europe/Berlin",
    ),
}


@pytest.mark.parametrize(
    "text, error", [*BROKEN.values(), *CURVES.values()], ids=[*BROKEN, *CURVES]
)
def test_malformed_xml_is_refused_with_a_reason(tmp_path: Path, text: str, error: str) -> None:
    path = tmp_path / "bids.xml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidInputError, match=error):
        read_bid_xml(path)


def test_minimal_hand_written_file_reads(tmp_path: Path) -> None:
    path = tmp_path / "bids.xml"
    path.write_text(CURVE.format(side="sell", local=GOOD_LOCAL, segments=ONE), encoding="utf-8")
    read = read_bid_xml(path)
    assert read.status == "draft"
    assert read.curves[0].segments == [BidSegment(price=10.0, quantity_mw=1.0)]
