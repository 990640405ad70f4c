"""Dispatch over OpenADR 3.1.0: setpoints become DISPATCH_SETPOINT events, reports confirm them.

For every asset and delivery day in a batch of setpoints, :class:`OpenAdrChannel` creates (or
updates, merging by interval start) one event in the asset's program, targeted at the asset's
VEN - or at one resource of it - with one interval per setpoint. The payload is
``DISPATCH_SETPOINT`` in kW of *consumption*, as OpenADR defines it, so the service's power
(MW, positive = into the grid) is negated and scaled by 1000: a battery discharging 1.5 MW
receives -1500 kW, a furnace consuming 3 MW receives 3000 kW. The interval length is the
setpoints' spacing (15 min for quarter-hourly plans; ``default_step`` for a single setpoint),
and each interval also carries its own ``intervalPeriod`` so gaps in a plan stay explicit.

Confirmation. An asset counts as confirmed when, for each of its events, the VEN registered
under the asset's ``ven_name`` (matched by the VEN object's ``clientID``) has posted a report
referencing the event *after this send wrote it*, within ``confirm_timeout_s``. The event asks
for that report with a ``SETPOINT`` report descriptor. "The VEN fetched the event" would be
weaker and invisible in the data (a GET leaves no object, and polling VENs fetch everything);
a report is the VEN's own statement, survives in the VTN and is what OpenADR uses for
acknowledgement and settlement. Unconfirmed assets are left out of the answer, as the port
requires; non-delivery is recorded upstream.

The channel writes to the VTN's store in-process rather than calling the VTN over HTTP as a BL
client: it runs in the same service as the VTN, so HTTP would add a token round trip and
serialisation without adding a boundary. The store's change notification still fires, so
webhook subscribers hear about events the channel writes, and a VEN sees them on its next poll.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from itertools import pairwise

from adapters.dispatch.openadr3.models import EventBody
from adapters.dispatch.openadr3.store import JsonObject, VtnStore
from vpp.domain.bids import Setpoint

log = logging.getLogger(__name__)

PAYLOAD_TYPE = "DISPATCH_SETPOINT"
ACK_REPORT_TYPE = "SETPOINT"
UNITS = "KW"


@dataclass(frozen=True)
class OpenAdrTarget:
    """Where an asset's setpoints go: a VEN (optionally one resource of it) within a program."""

    ven_name: str
    program_name: str
    resource_name: str | None = None

    @property
    def target(self) -> str:
        """The event target string: the resource name if given, else the VEN name."""
        return self.resource_name or self.ven_name


@dataclass(frozen=True)
class _Published:
    """One event this send wrote, and who must acknowledge it."""

    asset_id: str
    event_id: str
    revision: int
    client_ids: frozenset[str]


def consumption_kw(power_mw: float) -> float:
    """The service's power [MW, + into the grid] as OpenADR consumption [kW, + from the grid]."""
    return round(-power_mw * 1000.0, 3) + 0.0  # + 0.0 turns -0.0 into 0.0


def event_name(asset_id: str, day: date) -> str:
    """The name that identifies the event of one asset and delivery day."""
    return f"parkvpp/{asset_id}/{day.isoformat()}"


class OpenAdrChannel:
    """A :class:`vpp.domain.ports.DispatchChannel` that publishes OpenADR 3 events."""

    def __init__(
        self,
        store: VtnStore,
        targets: Mapping[str, OpenAdrTarget],
        *,
        confirm_timeout_s: float = 30.0,
        delivery_tz: tzinfo = UTC,
        default_step: timedelta = timedelta(minutes=15),
        create_programs: bool = True,
    ) -> None:
        if confirm_timeout_s < 0:
            raise ValueError(f"confirm_timeout_s must be >= 0, got {confirm_timeout_s}")
        if default_step <= timedelta(0):
            raise ValueError(f"default_step must be positive, got {default_step}")
        self.store = store
        self.targets = dict(targets)
        self.confirm_timeout_s = confirm_timeout_s
        self.delivery_tz = delivery_tz
        self.default_step = default_step
        self.create_programs = create_programs

    def send(self, setpoints: Sequence[Setpoint]) -> Sequence[str]:
        """Publish ``setpoints`` as events; return the assets whose VEN reported on them in time."""
        groups: dict[tuple[str, date], list[Setpoint]] = defaultdict(list)
        for setpoint in setpoints:
            day = setpoint.interval_start.astimezone(self.delivery_tz).date()
            groups[(setpoint.asset_id, day)].append(setpoint)

        published: list[_Published] = []
        failed: set[str] = set()
        for (asset_id, day), group in sorted(groups.items()):
            target = self.targets.get(asset_id)
            if target is None:
                log.warning("OpenADR: no VEN mapped for asset %s; not dispatched", asset_id)
                failed.add(asset_id)
                continue
            program = self._program(target.program_name)
            if program is None:
                log.warning("OpenADR: program %r does not exist", target.program_name)
                failed.add(asset_id)
                continue
            event_id = self._upsert_event(asset_id, day, group, target, program)
            revision = self.store.revision("events", event_id)
            client_ids = frozenset(
                v["clientID"]
                for v in self.store.list("vens")
                if v.get("venName") == target.ven_name and v.get("clientID")
            )
            if not client_ids:
                log.warning(
                    "OpenADR: VEN %r is not registered; asset %s cannot confirm",
                    target.ven_name,
                    asset_id,
                )
            published.append(_Published(asset_id, event_id, revision or 0, client_ids))

        acknowledged = self._await_reports(published)
        confirmed = {p.asset_id for p in published} - failed
        confirmed -= {p.asset_id for p in published if p.event_id not in acknowledged}
        return sorted(confirmed)

    def _program(self, name: str) -> JsonObject | None:
        """The program called ``name``, created with a DISPATCH_SETPOINT descriptor if allowed."""
        for program in self.store.list("programs"):
            if program.get("programName") == name:
                return program
        if not self.create_programs:
            return None
        descriptor = {
            "objectType": "EVENT_PAYLOAD_DESCRIPTOR",
            "payloadType": PAYLOAD_TYPE,
            "units": UNITS,
        }
        return self.store.create(
            "programs", {"programName": name, "payloadDescriptors": [descriptor]}
        )

    def _upsert_event(
        self,
        asset_id: str,
        day: date,
        setpoints: list[Setpoint],
        target: OpenAdrTarget,
        program: JsonObject,
    ) -> str:
        """Create the asset's event for ``day`` or merge ``setpoints`` into it; return its id."""
        name = event_name(asset_id, day)
        existing = next(
            (
                e
                for e in self.store.list("events")
                if e.get("programID") == program["id"] and e.get("eventName") == name
            ),
            None,
        )
        values: dict[datetime, float] = {}
        if existing is not None:
            for interval in existing.get("intervals", []):
                period = interval.get("intervalPeriod")
                payload = next(
                    (p for p in interval.get("payloads", []) if p.get("type") == PAYLOAD_TYPE),
                    None,
                )
                if period and payload and payload.get("values"):
                    start = datetime.fromisoformat(period["start"].replace("Z", "+00:00"))
                    values[start.astimezone(UTC)] = float(payload["values"][0])
        for setpoint in setpoints:
            values[setpoint.interval_start.astimezone(UTC)] = consumption_kw(setpoint.power_mw)

        starts = sorted(values)
        gaps = [b - a for a, b in pairwise(starts)]
        step = min(gaps) if gaps else self.default_step
        body = EventBody.model_validate(
            {
                "programID": program["id"],
                "eventName": name,
                "priority": 0,
                "targets": [target.target],
                "payloadDescriptors": [
                    {"payloadType": PAYLOAD_TYPE, "units": UNITS},
                ],
                "reportDescriptors": [
                    {"payloadType": ACK_REPORT_TYPE, "units": UNITS, "targets": [target.target]},
                ],
                "intervalPeriod": {"start": starts[0], "duration": step},
                "intervals": [
                    {
                        "id": index,
                        "intervalPeriod": {"start": start, "duration": step},
                        "payloads": [{"type": PAYLOAD_TYPE, "values": [values[start]]}],
                    }
                    for index, start in enumerate(starts)
                ],
            }
        ).to_json()
        if existing is not None:
            replaced = self.store.replace("events", existing["id"], body)
            if replaced is not None:
                return str(replaced["id"])
        return str(self.store.create("events", body)["id"])

    def _acknowledged(self, published: Sequence[_Published]) -> set[str]:
        """Ids of published events with a report from their VEN written after the event."""
        done: set[str] = set()
        reports = self.store.list("reports")
        for item in published:
            for report in reports:
                if report.get("eventID") != item.event_id:
                    continue
                if report.get("clientID") not in item.client_ids:
                    continue
                revision = self.store.revision("reports", report["id"])
                if revision is not None and revision > item.revision:
                    done.add(item.event_id)
                    break
        return done

    def _await_reports(self, published: Sequence[_Published]) -> set[str]:
        """Wait up to ``confirm_timeout_s`` for every published event to be acknowledged."""
        awaitable = [p for p in published if p.client_ids]
        if not awaitable:
            return set()
        wanted = {p.event_id for p in awaitable}
        self.store.wait_until(
            lambda: wanted <= self._acknowledged(awaitable), timeout_s=self.confirm_timeout_s
        )
        return self._acknowledged(awaitable)
