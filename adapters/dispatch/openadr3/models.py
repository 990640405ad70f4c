"""Request bodies of the OpenADR 3.1.0 VTN, validated with pydantic and stored as spec JSON.

Field names follow the OpenADR 3.1.0 schema (camelCase: ``programName``, ``intervalPeriod``,
``payloadDescriptors``, ``programID``, ``eventID``, ``clientName`` ...). In 3.1.0 ``targets`` is
a plain list of strings (3.0.1 used ``valuesMap`` objects); intervals carry ``payloads`` of
``{type, values}``. The server-owned fields (``id``, ``createdDateTime``,
``modificationDateTime``, ``objectType``) are accepted on input, so a client may PUT back what it
read, and ignored: the store sets them. Unknown fields are refused, so a typo such as
``interval`` for ``intervals`` is a 400 that names the field rather than a silently empty event.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, HttpUrl, model_validator
from pydantic.alias_generators import to_camel

Name = Annotated[str, Field(min_length=1, max_length=128)]
PayloadValue = float | int | bool | str | dict[str, float]

#: Fields the store owns: accepted on input for round trips, dropped before storing.
SERVER_FIELDS = frozenset({"id", "createdDateTime", "modificationDateTime", "objectType"})


class SpecModel(BaseModel):
    """Base of every request body: camelCase aliases, unknown fields refused."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    id: str | None = None
    created_date_time: AwareDatetime | None = None
    modification_date_time: AwareDatetime | None = None

    def to_json(self) -> dict[str, Any]:
        """The body as spec JSON: aliases, ISO 8601 dates and durations, no nulls or server fields."""
        dumped = self.model_dump(by_alias=True, mode="json", exclude_none=True)
        return {k: v for k, v in dumped.items() if k not in SERVER_FIELDS}


class Part(BaseModel):
    """A nested spec object (no server fields)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class IntervalPeriod(Part):
    """Start and ISO 8601 duration of an interval (``PT0S`` = instantaneous or unbounded)."""

    start: AwareDatetime
    duration: timedelta
    randomize_start: timedelta | None = None


class ValuesMap(Part):
    """A ``{type, values}`` pair: an event or report payload, an attribute."""

    type: Name
    values: list[PayloadValue] = Field(min_length=1)


class Interval(Part):
    """One interval: an id, an optional own period, at least one payload."""

    id: int
    interval_period: IntervalPeriod | None = None
    payloads: list[ValuesMap] = Field(min_length=1)


class EventPayloadDescriptor(Part):
    """Describes one payload type of an event or program (units, currency)."""

    object_type: Literal["EVENT_PAYLOAD_DESCRIPTOR"] = "EVENT_PAYLOAD_DESCRIPTOR"
    payload_type: Name
    units: str | None = None
    currency: str | None = None


class ReportPayloadDescriptor(Part):
    """Describes one payload type of a report."""

    object_type: Literal["REPORT_PAYLOAD_DESCRIPTOR"] = "REPORT_PAYLOAD_DESCRIPTOR"
    payload_type: Name
    reading_type: str | None = None
    units: str | None = None
    accuracy: float | None = None
    confidence: int | None = Field(default=None, ge=0, le=100)


class ReportDescriptor(Part):
    """A request, carried by an event, for the VEN to report something."""

    payload_type: Name
    reading_type: str | None = None
    units: str | None = None
    targets: list[str] | None = None
    aggregate: bool = False
    start_interval: int = -1
    num_intervals: int = -1
    historical: bool = True
    frequency: int = -1
    repeat: int = 1
    report_intervals: str | None = None


class ProgramDescription(Part):
    """A link to human or machine readable program text."""

    url: HttpUrl = Field(alias="URL")


class ProgramBody(SpecModel):
    """A program: the frame (name, default period, payload types, targets) events belong to."""

    object_type: Literal["PROGRAM"] | None = None
    program_name: Name
    interval_period: IntervalPeriod | None = None
    program_descriptions: list[ProgramDescription] | None = None
    payload_descriptors: list[EventPayloadDescriptor] | None = None
    targets: list[str] | None = None
    attributes: list[ValuesMap] | None = None


class EventBody(SpecModel):
    """An event: intervals of payloads for the targeted VENs, within one program."""

    object_type: Literal["EVENT"] | None = None
    program_id: Name = Field(alias="programID")
    event_name: str | None = None
    priority: int | None = Field(default=None, ge=0)
    targets: list[str] | None = None
    payload_descriptors: list[EventPayloadDescriptor] | None = None
    report_descriptors: list[ReportDescriptor] | None = None
    interval_period: IntervalPeriod | None = None
    intervals: list[Interval] = Field(min_length=1)
    duration: timedelta | None = None

    @model_validator(mode="after")
    def _intervals_are_placed(self) -> EventBody:
        """Interval ids are unique and every interval has a period (its own or the event's)."""
        ids = [i.id for i in self.intervals]
        if len(set(ids)) != len(ids):
            raise ValueError(f"interval ids must be unique, got {ids}")
        if self.interval_period is None:
            unplaced = [i.id for i in self.intervals if i.interval_period is None]
            if unplaced:
                raise ValueError(
                    f"intervals {unplaced} have no intervalPeriod and the event has none either"
                )
        return self


class ReportResource(Part):
    """The intervals a report gives for one resource of the VEN."""

    resource_name: Name
    interval_period: IntervalPeriod | None = None
    intervals: list[Interval] = Field(min_length=1)


class ReportBody(SpecModel):
    """A report a VEN posts about an event (readings, the setpoint it holds ...)."""

    object_type: Literal["REPORT"] | None = None
    program_id: str | None = Field(default=None, alias="programID")
    event_id: Name = Field(alias="eventID")
    client_id: str | None = Field(default=None, alias="clientID")
    client_name: Name
    report_name: str | None = None
    payload_descriptors: list[EventPayloadDescriptor | ReportPayloadDescriptor] | None = None
    resources: list[ReportResource] = Field(min_length=1)


class ObjectOperation(Part):
    """Which objects and operations trigger a webhook, and where it goes."""

    objects: list[Literal["PROGRAM", "EVENT", "REPORT", "SUBSCRIPTION", "VEN", "RESOURCE"]] = Field(
        min_length=1
    )
    operations: list[Literal["GET", "POST", "PUT", "DELETE"]] = Field(min_length=1)
    callback_url: HttpUrl
    bearer_token: str | None = None


class SubscriptionBody(SpecModel):
    """A webhook subscription of a client to writes on objects (optionally of one program)."""

    object_type: Literal["SUBSCRIPTION"] | None = None
    client_name: Name
    program_id: str | None = Field(default=None, alias="programID")
    object_operations: list[ObjectOperation] = Field(min_length=1)
    targets: list[str] | None = None


class VenBody(SpecModel):
    """A VEN object; ``clientID`` and ``targets`` are honoured from BL clients only."""

    object_type: Literal["VEN", "VEN_VEN_REQUEST", "BL_VEN_REQUEST"] | None = None
    ven_name: Name
    attributes: list[ValuesMap] | None = None
    targets: list[str] | None = None
    client_id: str | None = Field(default=None, alias="clientID")


class ResourceBody(SpecModel):
    """A resource of a VEN; ``clientID`` and ``targets`` are honoured from BL clients only."""

    object_type: Literal["RESOURCE", "VEN_RESOURCE_REQUEST", "BL_RESOURCE_REQUEST"] | None = None
    resource_name: Name
    ven_id: Name = Field(alias="venID")
    attributes: list[ValuesMap] | None = None
    targets: list[str] | None = None
    client_id: str | None = Field(default=None, alias="clientID")
