"""The ENTSO-E Transparency Platform as a market data feed.

:class:`EntsoeFeed` implements :class:`vpp.domain.ports.MarketDataFeed` (day-ahead prices) and
also reads the platform's day-ahead forecasts of a bidding zone's load and of its wind and solar
generation. entsoe-py's :class:`~entsoe.EntsoeRawClient` builds the queries (document and
process types, the EIC codes of bidding zones) and its parsers read the XML; this module sends
the queries to a configurable endpoint, turns the platform's refusals into
:mod:`vpp.domain.errors`, checks the units every TimeSeries states and renames the series after
:data:`SERIES`, the one table that says how an ENTSO-E series becomes ours.

What comes back
---------------
UTC-indexed series whose labels are interval starts, at the resolution ENTSO-E published (one
hour, or 15 minutes, e.g. DE-LU prices since 2025-10-01): a DST day in Europe/Berlin has 23 or 25
hours, 92 or 100 quarter-hours. Curve type A03 documents leave out positions whose value repeats;
the parsers fill them with the value before. A price published both at a coarse and a fine
resolution keeps the fine one.

Errors
------
No published data is :class:`~vpp.domain.errors.NotFoundError` (prices) or
:class:`~vpp.domain.errors.ForecastUnavailableError` (forecasts); a refused token, any other
refusal, an HTTP error, an unreachable endpoint, an unexpected unit or an unreadable document is
an :class:`~vpp.domain.errors.AdapterError`. Nothing is retried: the caller (a CLI user, a
scheduled job) repeats. The token never appears in a message.
"""

from __future__ import annotations

import warnings
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Self, TypeVar

import numpy as np
import pandas as pd
import requests
from bs4 import XMLParsedAsHTMLWarning
from entsoe.entsoe import EntsoeRawClient
from entsoe.exceptions import NoMatchingDataError
from entsoe.mappings import PSRTYPE_MAPPINGS, Area, lookup_area
from entsoe.parsers import parse_generation, parse_loads, parse_prices

from vpp.domain.errors import (
    AdapterError,
    ForecastUnavailableError,
    InvalidInputError,
    NotFoundError,
    VppError,
)
from vpp.domain.ports import DAY_AHEAD_PRICE

Values = TypeVar("Values", pd.Series, pd.DataFrame)

# entsoe-py's parsers, typed as this module calls them.
_parse_prices: Callable[[str], dict[str, pd.Series]] = parse_prices
_parse_loads: Callable[..., pd.DataFrame] = parse_loads

ENTSOE_URL = "https://web-api.tp.entsoe.eu/api"
"""The platform's RESTful API endpoint."""

#: Canonical names of a bidding zone's day-ahead forecasts [MW].
ZONE_LOAD_FORECAST = "zone_load_forecast_mw"
ZONE_SOLAR_FORECAST = "zone_solar_forecast_mw"
ZONE_WIND_ONSHORE_FORECAST = "zone_wind_onshore_forecast_mw"
ZONE_WIND_OFFSHORE_FORECAST = "zone_wind_offshore_forecast_mw"


@dataclass(frozen=True)
class EntsoeSeries:
    """How one ENTSO-E series becomes one of ours."""

    document_type: str
    """ENTSO-E ``documentType`` of the query (A44 prices, A65 load, A69 wind and solar)."""
    psr_type: str | None
    """``MktPSRType/psrType`` telling the series of a document apart (A69 only)."""
    value_element: str
    """The ``Point`` element holding the value."""
    entsoe_unit: str
    """The unit every TimeSeries must state: ``EUR/MWH`` (currency per price measure unit) or
    ``MAW`` (megawatt, ``quantity_Measure_Unit.name``)."""
    name: str
    """Our canonical series name."""
    unit: str
    """Our unit."""


#: ENTSO-E series -> ours. Forecasts are the day-ahead ones (processType A01).
SERIES: tuple[EntsoeSeries, ...] = (
    EntsoeSeries("A44", None, "price.amount", "EUR/MWH", DAY_AHEAD_PRICE, "EUR/MWh"),
    EntsoeSeries("A65", None, "quantity", "MAW", ZONE_LOAD_FORECAST, "MW"),
    EntsoeSeries("A69", "B16", "quantity", "MAW", ZONE_SOLAR_FORECAST, "MW"),
    EntsoeSeries("A69", "B19", "quantity", "MAW", ZONE_WIND_ONSHORE_FORECAST, "MW"),
    EntsoeSeries("A69", "B18", "quantity", "MAW", ZONE_WIND_OFFSHORE_FORECAST, "MW"),
)

#: Where a TimeSeries states the unit of each kind of value, joined by "/".
UNIT_ELEMENTS = {
    "price.amount": ("currency_Unit.name", "price_Measure_Unit.name"),
    "quantity": ("quantity_Measure_Unit.name",),
}

DAY_AHEAD_PROCESS = "A01"
"""ENTSO-E ``processType`` of day-ahead forecasts."""

SDAC_SEQUENCE = {"DE_LU": 1, "AT": 1}
"""Areas publishing several day-ahead auctions under A44; classification sequence 1 is SDAC."""

MAX_QUERY_DAYS = 31
"""Longest span asked in one query [d]; A44 answers at most 100 daily documents at once."""

TOKEN_HINT = (
    "check the ENTSO-E security token (VPP_ENTSOE_TOKEN for the CLI); tokens are issued on "
    "transparency.entsoe.eu under My Account Settings once the helpdesk granted API access"
)


def _series(document_type: str, psr_type: str | None) -> EntsoeSeries:
    for series in SERIES:
        if (series.document_type, series.psr_type) == (document_type, psr_type):
            return series
    raise AdapterError(
        f"ENTSO-E's {document_type} answer has a series of unknown kind {psr_type!r}",
        hint="add it to SERIES in adapters/market_data/entsoe.py",
    )


class _EndpointClient(EntsoeRawClient):
    """entsoe-py's raw client, asking ``base_url`` and reading the answer strictly.

    entsoe-py takes its endpoint from a module constant read at import, retries connection
    errors with sleeps, and lets some refusals through as ``requests`` errors; the one method
    overridden here sends each query to this instance's endpoint, once, and checks the answer.
    """

    def __init__(self, token: str, base_url: str, timeout_s: float) -> None:
        super().__init__(api_key=token, retry_count=1, retry_delay=0)
        self.base_url = base_url
        self.timeout_s = timeout_s

    def _base_request(
        self, params: dict[str, Any], start: pd.Timestamp, end: pd.Timestamp
    ) -> requests.Response:
        query = {
            **params,
            "securityToken": self.api_key,
            "periodStart": start.tz_convert("UTC").floor("h").strftime("%Y%m%d%H%M"),
            "periodEnd": end.tz_convert("UTC").ceil("h").strftime("%Y%m%d%H%M"),
        }
        try:
            response = self.session.get(self.base_url, params=query, timeout=self.timeout_s)
        except requests.RequestException as exc:
            # The exception's text holds the URL, and with it the token: name its kind only.
            raise AdapterError(
                f"ENTSO-E at {self.base_url} did not answer ({type(exc).__name__})",
                hint="check the network and the endpoint; retry later",
            ) from exc
        _check_answer(response)
        return response


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml_root(content: bytes) -> ET.Element | None:
    try:
        return ET.fromstring(content)
    except ET.ParseError:
        return None


def _check_answer(response: requests.Response) -> None:
    """Raise unless ``response`` is a data document; "no matching data" is NoMatchingDataError."""
    root = _xml_root(response.content)
    if root is not None and _local(root.tag) == "Acknowledgement_MarketDocument":
        reasons = [el.text or "" for el in root.iter() if _local(el.tag) == "text"]
        if any("No matching data found" in text for text in reasons):
            raise NoMatchingDataError("; ".join(reasons))
        status = response.status_code
        raise AdapterError(
            f"ENTSO-E refused the query (HTTP {status}): {'; '.join(reasons) or 'no reason'}",
            hint=TOKEN_HINT if status in (401, 403) else "check the area, the dates and the query",
        )
    if response.status_code in (401, 403):
        raise AdapterError(
            f"ENTSO-E refused the security token (HTTP {response.status_code})", hint=TOKEN_HINT
        )
    if response.status_code == 429:
        raise AdapterError(
            "ENTSO-E rate limit reached (HTTP 429)",
            hint="the platform allows 400 queries a minute per token; wait a minute",
        )
    if response.status_code >= 400:
        raise AdapterError(
            f"ENTSO-E answered HTTP {response.status_code}",
            hint="the platform may be down or in maintenance; retry later",
        )
    if root is None or _local(root.tag) not in ("Publication_MarketDocument", "GL_MarketDocument"):
        found = "no XML document" if root is None else _local(root.tag)
        raise AdapterError(
            f"ENTSO-E answered with {found} instead of market data",
            hint="check that the endpoint is the ENTSO-E Transparency Platform API",
        )


def _check_units(text: str, document_type: str) -> None:
    """Refuse a TimeSeries whose stated unit differs from :data:`SERIES`."""
    root = _xml_root(text.encode())
    if root is None:
        raise AdapterError(f"ENTSO-E's {document_type} answer is not XML")
    for series in (el for el in root if _local(el.tag) == "TimeSeries"):
        fields = {_local(el.tag): (el.text or "").strip() for el in series.iter()}
        expected = _series(document_type, fields.get("psrType"))
        stated = "/".join(fields.get(e, "?") for e in UNIT_ELEMENTS[expected.value_element])
        if stated != expected.entsoe_unit:
            raise AdapterError(
                f"ENTSO-E states {stated} for {expected.name}, expected {expected.entsoe_unit}",
                hint=f"this feed reads {expected.name} in {expected.unit} only",
            )


@contextmanager
def _entsoe_parsing(document_type: str) -> Iterator[None]:
    # entsoe-py reads XML with BeautifulSoup's HTML parser on purpose (tags lower-cased), and its
    # parsers still pass pandas' deprecated ``inplace=``: neither touches the values read.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"entsoe\.")
        try:
            yield
        except (AttributeError, KeyError, NotImplementedError, TypeError, ValueError) as exc:
            raise AdapterError(
                f"could not read ENTSO-E's {document_type} document: {exc!r}",
                hint="the document format may have changed; update entsoe-py",
            ) from exc


def finest_first(by_step: dict[str, pd.Series]) -> pd.Series:
    """One series from series published at several resolutions, the finer ones winning.

    A value at a coarse step is dropped when a finer series has a value inside its interval.

    Parameters
    ----------
    by_step : dict of str to pandas.Series
        Values by resolution (pandas offset aliases such as ``"15min"``, ``"60min"``), each
        indexed by UTC interval starts.

    Returns
    -------
    pandas.Series
        The kept values, sorted by interval start.
    """
    kept = pd.Series(dtype="float64", index=pd.DatetimeIndex([], tz="UTC"))
    for step in sorted(by_step, key=pd.Timedelta):
        series = by_step[step]
        if series.empty:
            continue
        if not kept.empty:
            starts = series.index
            at = kept.index.searchsorted(starts)
            later = kept.index[np.minimum(at, len(kept) - 1)]
            covered = (at < len(kept)) & (later < starts + pd.Timedelta(step))
            series = pd.concat([kept, series[~covered]])
        kept = series.sort_index()
    return kept


def _unique(values: Values, what: str) -> Values:
    """``values`` with each interval once; refuses an interval given two different values."""
    repeated = values.index.duplicated(keep=False)
    if repeated.any():
        counts = values[repeated].groupby(level=0).nunique()
        clash = counts if isinstance(counts, pd.Series) else counts.max(axis=1)
        if (clash > 1).any():
            raise AdapterError(
                f"ENTSO-E gave two different {what} values for {clash.idxmax()}",
                hint="the area may publish several auctions or revisions; ask for one",
            )
        values = values[~values.index.duplicated(keep="first")]
    return values.sort_index()


def _query_span(start: pd.Timestamp, end: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp]:
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInputError(
            f"ENTSO-E query [{start}, {end}) has a naive bound", hint="pass tz-aware timestamps"
        )
    if start >= end:
        raise InvalidInputError(f"ENTSO-E query [{start}, {end}) is empty", hint="start < end")
    return start.tz_convert("UTC"), end.tz_convert("UTC")


def _blocks(start: pd.Timestamp, end: pd.Timestamp) -> Iterator[tuple[pd.Timestamp, pd.Timestamp]]:
    step = pd.Timedelta(days=MAX_QUERY_DAYS)
    while start < end:
        yield start, min(start + step, end)
        start += step


def _area(area: str) -> Area:
    try:
        return lookup_area(area)
    except ValueError as exc:
        raise InvalidInputError(
            f"unknown ENTSO-E area {area!r}",
            hint="use a bidding zone name such as DE_LU, FR or NL, or its EIC code",
        ) from exc


class EntsoeFeed:
    """Day-ahead prices and forecasts of a bidding zone from the ENTSO-E Transparency Platform.

    Parameters
    ----------
    token : str
        The platform's security token (the caller reads it from its configuration).
    base_url : str
        API endpoint; tests point it at a loopback server.
    timeout_s : float
        Timeout of each request [s].

    Close it (or use it as a context manager) to release its HTTP connections.
    """

    def __init__(self, token: str, *, base_url: str = ENTSOE_URL, timeout_s: float = 60.0) -> None:
        if not token:
            raise InvalidInputError("no ENTSO-E security token given", hint=TOKEN_HINT)
        self._client = _EndpointClient(token, base_url, timeout_s)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the HTTP connections."""
        self._client.session.close()

    def day_ahead_prices(self, area: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
        """Day-ahead (SDAC) prices of bidding zone ``area`` on ``[start, end)`` [EUR/MWh].

        Parameters
        ----------
        area : str
            Bidding zone, e.g. ``"DE_LU"``, or its EIC code.
        start, end : pandas.Timestamp
            Bounds of the span, tz-aware.

        Returns
        -------
        pandas.Series
            Prices [EUR/MWh] named ``day_ahead_price_per_mwh``, indexed by UTC interval start.
        """
        zone = _area(area)
        first, stop = _query_span(start, end)
        sequence = SDAC_SEQUENCE.get(zone.name)

        def read(a: pd.Timestamp, b: pd.Timestamp) -> pd.Series:
            # entsoe-py annotates ``sequence: int = None``; None asks for every auction.
            text = self._client.query_day_ahead_prices(
                zone,
                start=a,
                end=b,
                sequence=sequence,  # type: ignore[arg-type]
            )
            _check_units(text, "A44")
            with _entsoe_parsing("A44"):
                prices = finest_first(_parse_prices(text))
            if prices.empty:
                raise NoMatchingDataError("a price document without prices")
            return prices

        prices = self._collect(read, first, stop, "day-ahead prices", zone, NotFoundError)
        return prices.astype("float64").rename(DAY_AHEAD_PRICE)

    def load_forecast(self, area: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
        """Day-ahead forecast of the total load of bidding zone ``area`` on ``[start, end)`` [MW].

        Parameters
        ----------
        area : str
            Bidding zone, e.g. ``"DE_LU"``, or its EIC code.
        start, end : pandas.Timestamp
            Bounds of the span, tz-aware.

        Returns
        -------
        pandas.Series
            Load [MW] named ``zone_load_forecast_mw``, indexed by UTC interval start.
        """
        zone = _area(area)
        first, stop = _query_span(start, end)

        def read(a: pd.Timestamp, b: pd.Timestamp) -> pd.Series:
            text = self._client.query_load_forecast(
                zone, start=a, end=b, process_type=DAY_AHEAD_PROCESS
            )
            _check_units(text, "A65")
            with _entsoe_parsing("A65"):
                frame = _parse_loads(text, process_type=DAY_AHEAD_PROCESS)
                return frame["Forecasted Load"]

        load = self._collect(read, first, stop, "load forecast", zone, ForecastUnavailableError)
        return load.astype("float64").rename(ZONE_LOAD_FORECAST)

    def wind_solar_forecast(
        self, area: str, start: pd.Timestamp, end: pd.Timestamp
    ) -> pd.DataFrame:
        """Day-ahead forecasts of wind and solar generation of ``area`` on ``[start, end)`` [MW].

        Parameters
        ----------
        area : str
            Bidding zone, e.g. ``"DE_LU"``, or its EIC code.
        start, end : pandas.Timestamp
            Bounds of the span, tz-aware.

        Returns
        -------
        pandas.DataFrame
            Generation [MW] indexed by UTC interval start, one column per published kind among
            ``zone_solar_forecast_mw``, ``zone_wind_onshore_forecast_mw`` and
            ``zone_wind_offshore_forecast_mw`` (a zone without offshore wind has no such column).
        """
        zone = _area(area)
        first, stop = _query_span(start, end)
        ours = {PSRTYPE_MAPPINGS[s.psr_type]: s.name for s in SERIES if s.psr_type}

        def read(a: pd.Timestamp, b: pd.Timestamp) -> pd.DataFrame:
            text = self._client.query_wind_and_solar_forecast(
                zone, start=a, end=b, process_type=DAY_AHEAD_PROCESS
            )
            _check_units(text, "A69")
            with _entsoe_parsing("A69"):
                frame = parse_generation(text, nett=False)
            if isinstance(frame, pd.Series):
                frame = frame.to_frame()
            unknown = sorted(set(map(str, frame.columns)) - set(ours))
            if unknown:
                raise AdapterError(
                    f"ENTSO-E's wind and solar forecast has unknown series {unknown}",
                    hint="add them to SERIES in adapters/market_data/entsoe.py",
                )
            return frame.rename(columns=ours)

        frame = self._collect(
            read, first, stop, "wind and solar forecast", zone, ForecastUnavailableError
        )
        columns = [s.name for s in SERIES if s.psr_type and s.name in frame.columns]
        return frame[columns].astype("float64")

    def _collect(
        self,
        read: Callable[[pd.Timestamp, pd.Timestamp], Values],
        start: pd.Timestamp,
        stop: pd.Timestamp,
        what: str,
        zone: Area,
        missing: type[VppError],
    ) -> Values:
        """``read`` every block of ``[start, stop)``, joined, each interval once, cut to the span."""
        parts = []
        for a, b in _blocks(start, stop):
            try:
                parts.append(read(a, b))
            except NoMatchingDataError as exc:
                raise missing(
                    f"ENTSO-E has no {what} for {zone.name} on [{a}, {b})",
                    hint="check the area and the dates; day-ahead data appear on the day before",
                ) from exc
        values = _unique(pd.concat(parts), what)
        values.index = pd.DatetimeIndex(values.index).tz_convert("UTC")
        values = values[(values.index >= start) & (values.index < stop)]
        if values.empty:
            raise missing(
                f"ENTSO-E has no {what} for {zone.name} on [{start}, {stop})",
                hint="check the area and the dates",
            )
        return values
