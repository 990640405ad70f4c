"""Bid sets as files: a flat CSV for people, XML for manual upload, and JSON for machines.

CSV layout (one row per curve segment): ``product_id, interval_start_utc, interval_start_local,
side, step, price, quantity_mw``; prices in the market's currency per MWh (reserve products: per
MW per hour), quantities in MW over the interval.

The XML layout (:func:`write_bid_xml`, read back by :func:`read_bid_xml`) is for markets without
an API, where an operator uploads a file by hand; it keeps the curve structure that the flat CSV
spreads over rows.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
from pydantic import ValidationError

from vpp.domain.bids import BidCurve, BidSegment, BidSet
from vpp.domain.errors import InvalidInputError
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


#: Version of the XML layout written by :func:`write_bid_xml`.
XML_FORMAT_VERSION = "1"
_ROOT_ATTRS = {"id", "market", "delivery_day", "created_at", "status", "timezone", "format"}
_CURVE_ATTRS = {"product", "side", "interval_start_utc", "interval_start_local"}
_SEGMENT_ATTRS = {"step", "price", "quantity_mw"}


def _number(value: float) -> str:
    """Shortest text that reads back as the same float."""
    return repr(float(value))


def write_bid_xml(bids: BidSet, path: Path, tz: str) -> Path:
    """Write ``bids`` as XML for manual upload; ``tz`` is the market's IANA timezone.

    Layout (UTF-8, one ``Curve`` per product, interval and side, in the bid set's order)::

        <BidSet format="1" id="..." market="de-lu" delivery_day="2021-05-05"
                created_at="2021-05-04T07:00:00+00:00" status="approved"
                timezone="Europe/Berlin">
          <Curve product="da_energy" side="sell"
                 interval_start_utc="2021-05-04T22:00:00+00:00"
                 interval_start_local="2021-05-05T00:00:00+02:00">
            <Segment step="0" price="30.0" quantity_mw="0.5"/>
            <Segment step="1" price="55.0" quantity_mw="1.0"/>
          </Curve>
        </BidSet>

    Units and meanings:

    * ``delivery_day``: the market-local delivery day, ``YYYY-MM-DD``.
    * ``created_at``, ``interval_start_utc``, ``interval_start_local``: ISO 8601 with offset;
      the two interval starts are the same instant (UTC and market-local time in ``timezone``),
      the start of the interval the curve is for (its length is the market's interval).
    * ``side``: ``sell`` (offered) or ``buy`` (bid).
    * ``step``: position along the curve from 0; a sell curve's prices never fall along it, a
      buy curve's never rise.
    * ``price``: currency per MWh for energy products, currency per MW per hour for reserve
      capacity products (the market profile's currency).
    * ``quantity_mw``: MW over the interval, >= 0, for this step alone (not cumulative).
    * Numbers are written in the shortest form that reads back exactly (``repr`` of a float).
    """
    local = zone(tz)
    root = ET.Element(
        "BidSet",
        {
            "format": XML_FORMAT_VERSION,
            "id": bids.id,
            "market": bids.market_id,
            "delivery_day": bids.delivery_day.isoformat(),
            "created_at": bids.created_at.isoformat(),
            "status": bids.status,
            "timezone": tz,
        },
    )
    for curve in bids.curves:
        start = pd.Timestamp(curve.interval_start).tz_convert("UTC")
        element = ET.SubElement(
            root,
            "Curve",
            {
                "product": curve.product_id,
                "side": curve.side,
                "interval_start_utc": start.isoformat(),
                "interval_start_local": start.tz_convert(local).isoformat(),
            },
        )
        for step, segment in enumerate(curve.segments):
            ET.SubElement(
                element,
                "Segment",
                {
                    "step": str(step),
                    "price": _number(segment.price),
                    "quantity_mw": _number(segment.quantity_mw),
                },
            )
    tree = ET.ElementTree(root)
    ET.indent(tree, space="  ")
    tree.write(path, encoding="utf-8", xml_declaration=True)
    return path


def _attrs(element: ET.Element, allowed: set[str], where: str) -> dict[str, str]:
    """The element's attributes, refusing unknown ones and missing required ones."""
    unknown = sorted(set(element.attrib) - allowed)
    if unknown:
        raise InvalidInputError(
            f"{where}: unexpected attribute(s) {', '.join(unknown)}",
            hint=f"allowed: {', '.join(sorted(allowed))}",
        )
    optional = {"status", "timezone", "format"}
    missing = sorted(allowed - optional - set(element.attrib))
    if missing:
        raise InvalidInputError(f"{where}: missing attribute(s) {', '.join(missing)}")
    return dict(element.attrib)


def _float(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InvalidInputError(f"{where}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise InvalidInputError(f"{where}: {text!r} is not a finite number")
    return value


def _instant(text: str, where: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(text)
    except ValueError:
        raise InvalidInputError(f"{where}: {text!r} is not an ISO 8601 time") from None
    if stamp.tzinfo is None:
        raise InvalidInputError(f"{where}: {text!r} has no UTC offset")
    return stamp


def _read_curve(element: ET.Element, where: str, tz: str | None) -> BidCurve:
    attrs = _attrs(element, _CURVE_ATTRS, where)
    start = _instant(attrs["interval_start_utc"], f"{where} interval_start_utc")
    local = _instant(attrs["interval_start_local"], f"{where} interval_start_local")
    if local != start:
        raise InvalidInputError(
            f"{where}: interval_start_local {local.isoformat()} is not the same instant as "
            f"interval_start_utc {start.isoformat()}"
        )
    if tz is not None and local.utcoffset() != start.tz_convert(zone(tz)).utcoffset():
        raise InvalidInputError(
            f"{where}: interval_start_local {local.isoformat()} has the wrong offset for {tz}"
        )
    segments: list[BidSegment] = []
    for step, child in enumerate(element):
        at = f"{where} Segment {step}"
        if child.tag != "Segment":
            raise InvalidInputError(f"{at}: unexpected element <{child.tag}>")
        seg = _attrs(child, _SEGMENT_ATTRS, at)
        if seg["step"] != str(step):
            raise InvalidInputError(
                f"{at}: step {seg['step']!r} out of order", hint="steps count 0, 1, 2 ..."
            )
        try:
            segments.append(
                BidSegment(
                    price=_float(seg["price"], f"{at} price"),
                    quantity_mw=_float(seg["quantity_mw"], f"{at} quantity_mw"),
                )
            )
        except ValidationError as exc:
            raise InvalidInputError(f"{at}: {exc.errors()[0]['msg']}") from exc
    try:
        return BidCurve.model_validate(
            {
                "product_id": attrs["product"],
                "interval_start": start.tz_convert("UTC").to_pydatetime(),
                "side": attrs["side"],
                "segments": segments,
            }
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in error["loc"])
        raise InvalidInputError(f"{where}: {field}: {error['msg']}") from exc


def read_bid_xml(path: Path) -> BidSet:
    """Read a bid set written by :func:`write_bid_xml`, checking the layout as it goes.

    Refuses (``InvalidInputError`` naming the element) malformed XML, a root other than
    ``BidSet``, unknown or missing attributes, elements other than ``Curve``/``Segment``, a
    curve without segments, steps out of order, non-finite numbers, negative quantities, and
    local interval starts that are not the UTC instant in the declared timezone. Only read
    files you trust: ElementTree resolves no external entities, but it is not a hardened parser.
    """
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise InvalidInputError(f"{path}: not well-formed XML: {exc}") from exc
    if root.tag != "BidSet":
        raise InvalidInputError(f"{path}: root element is <{root.tag}>, expected <BidSet>")
    attrs = _attrs(root, _ROOT_ATTRS, f"{path} BidSet")
    version = attrs.get("format", XML_FORMAT_VERSION)
    if version != XML_FORMAT_VERSION:
        raise InvalidInputError(
            f"{path}: bid XML format {version!r} is not supported",
            hint=f"this version reads format {XML_FORMAT_VERSION!r}",
        )
    tz = attrs.get("timezone")
    if tz is not None:
        zone(tz)
    curves: list[BidCurve] = []
    for k, child in enumerate(root):
        where = f"{path} Curve {k}"
        if child.tag != "Curve":
            raise InvalidInputError(f"{path}: unexpected element <{child.tag}> at position {k}")
        curves.append(_read_curve(child, where, tz))
    try:
        return BidSet.model_validate(
            {
                "id": attrs["id"],
                "market_id": attrs["market"],
                "delivery_day": attrs["delivery_day"],
                "created_at": attrs["created_at"],
                "status": attrs.get("status", "draft"),
                "curves": curves,
            }
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in error["loc"])
        raise InvalidInputError(f"{path} BidSet: {field}: {error['msg']}") from exc
