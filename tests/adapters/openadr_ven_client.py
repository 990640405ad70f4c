"""A VEN built on the third-party ``openadr3-client`` (ElaadNL), run against our VTN by the tests.

``openadr3-client`` needs Python >= 3.12 while parkvpp runs on 3.11, so this script is not
imported by the suite: ``tests/adapters/test_openadr3_vtn.py`` runs it with ``.venv-ven``'s
interpreter as a subprocess and reads one JSON object from its stdout. It uses only the
client's public VEN factory and its OpenADR 3.1.0 models; the token URL is discovered through
the VTN's ``/auth/server`` endpoint, as a 3.1.0 VEN does.

Modes:

* ``dispatch``: read the program by name, poll (bounded by ``--wait-s``) until events of that
  program targeted at this VEN appear, print their intervals, and post one ``SETPOINT`` report
  per event echoing the values it will hold.
* ``probe``: list the events visible to this VEN and try to read ``--event-id`` and report on
  it, printing the HTTP status of each attempt (for the targeting and credentials tests).

The VTN listens on plain HTTP on loopback in the tests, so HTTPS enforcement of the 3.1.0
client (``allow_insecure_http``) and of oauthlib (``OAUTHLIB_INSECURE_TRANSPORT``) is relaxed
here, and only for loopback URLs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any
from urllib.parse import urlparse

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _period(period: Any) -> dict[str, Any] | None:
    """An IntervalPeriod as JSON-friendly values (ISO start, duration in seconds)."""
    if period is None:
        return None
    return {"start": period.start.isoformat(), "duration_s": period.duration.total_seconds()}


def _status(exc: BaseException) -> int | None:
    """The HTTP status behind a requests or oauthlib error, if any."""
    response = getattr(exc, "response", None)
    if response is not None and getattr(response, "status_code", None) is not None:
        return int(response.status_code)
    code = getattr(exc, "status_code", None)
    return int(code) if code is not None else None


def _client(args: argparse.Namespace) -> Any:
    """An authenticated OpenADR 3.1.0 VEN client for the VTN at ``args.base_url``."""
    from openadr3_client.ven.http_factory import VirtualEndNodeHttpClientFactory
    from openadr3_client.version import OADRVersion

    loopback = urlparse(args.base_url).hostname in LOOPBACK
    if loopback:
        os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    return VirtualEndNodeHttpClientFactory.create_http_ven_client(
        vtn_base_url=args.base_url,
        client_id=args.client_id,
        client_secret=args.client_secret,
        token_url=None,  # discovered via GET /auth/server
        allow_insecure_http=loopback,
        version=OADRVersion.OADR_310,
    )


def _report_for(event: Any, client_name: str) -> Any:
    """A SETPOINT report echoing, per interval, the DISPATCH_SETPOINT the VEN will hold."""
    from openadr3_client.oadr310.models.report.report import (
        Interval,
        NewReport,
        ReportResource,
    )
    from openadr3_client.oadr310.models.report.report_payload import (
        ReportPayload,
        ReportPayloadType,
    )

    intervals = tuple(
        Interval(
            id=interval.id,
            interval_period=interval.interval_period or event.interval_period,
            payloads=tuple(
                ReportPayload(type=ReportPayloadType.SETPOINT, values=payload.values)
                for payload in interval.payloads
                if payload.type == "DISPATCH_SETPOINT"
            ),
        )
        for interval in event.intervals or ()
    )
    resource_name = (event.targets or (client_name,))[0]
    return NewReport(
        event_id=event.id,
        client_name=client_name,
        report_name=f"ack {event.event_name}",
        resources=(ReportResource(resource_name=resource_name, intervals=intervals),),
    )


def dispatch(args: argparse.Namespace) -> dict[str, Any]:
    """Read the program and its events for this VEN, report on each event."""
    client = _client(args)
    programs = client.programs.get_programs(target=None, pagination=None)
    program = next((p for p in programs if p.program_name == args.program_name), None)
    deadline = time.monotonic() + args.wait_s
    while program is None and time.monotonic() < deadline:
        time.sleep(0.1)
        programs = client.programs.get_programs(target=None, pagination=None)
        program = next((p for p in programs if p.program_name == args.program_name), None)
    if program is None:
        return {"error": f"program {args.program_name!r} not found"}
    events = client.events.get_events(target=None, pagination=None, program_id=program.id)
    while not events and time.monotonic() < deadline:
        time.sleep(0.1)
        events = client.events.get_events(target=None, pagination=None, program_id=program.id)
    out_events = []
    report_ids = []
    for event in events:
        out_events.append(
            {
                "id": event.id,
                "eventName": event.event_name,
                "targets": list(event.targets or ()),
                "intervalPeriod": _period(event.interval_period),
                "payloadDescriptors": [
                    {"payloadType": str(d.payload_type), "units": str(d.units)}
                    for d in event.payload_descriptors or ()
                ],
                "intervals": [
                    {
                        "id": interval.id,
                        "period": _period(interval.interval_period or event.interval_period),
                        "payloads": [
                            {"type": str(p.type), "values": list(p.values)}
                            for p in interval.payloads
                        ],
                    }
                    for interval in event.intervals or ()
                ],
            }
        )
        report = client.reports.create_report(_report_for(event, args.client_name))
        report_ids.append(report.id)
    return {
        "program": {"id": program.id, "programName": program.program_name},
        "events": out_events,
        "reports": report_ids,
    }


def probe(args: argparse.Namespace) -> dict[str, Any]:
    """List visible events; try to read and to report on ``--event-id``; return the statuses."""
    client = _client(args)
    try:
        visible = client.events.get_events(target=None, pagination=None, program_id=None)
    except Exception as exc:
        return {"list_error": type(exc).__name__, "list_status": _status(exc)}
    result: dict[str, Any] = {"visible_event_ids": [e.id for e in visible]}
    if args.event_id:
        try:
            client.events.get_event_by_id(args.event_id)
            result["get_status"] = 200
        except Exception as exc:
            result["get_status"] = _status(exc)
    return result


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the mode, print one JSON object on stdout."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["dispatch", "probe"])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--client-name", default="parkvpp-test-ven")
    parser.add_argument("--program-name", default="")
    parser.add_argument("--event-id", default="")
    parser.add_argument("--wait-s", type=float, default=15.0)
    args = parser.parse_args(argv)
    try:
        result = dispatch(args) if args.mode == "dispatch" else probe(args)
    except Exception as exc:
        result = {"error": f"{type(exc).__name__}: {exc}", "status": _status(exc)}
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
