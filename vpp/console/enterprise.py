"""The enterprise's console: its assets, consents, meter data, earnings and statements.

Every page is under ``/console/enterprises/{enterprise_id}/...`` and starts with the API's tenant
rule (:func:`~vpp.console.web.tenant_access`): an enterprise session reaches its own enterprise
only, any other id answers 404 like one that does not exist; operator and admin sessions may
open any (a park-limited key only those of its parks). Every read and every change goes through
the API's own route functions (``vpp.api.routes``) with a :class:`~vpp.api.deps.TenantCall`, so
the console checks, stores and audits exactly what the API does: enrolment and its nomination
check, consent and its product check, the telemetry parser and row checks, statement files.

Forms are plain HTML forms (keyboard usable, labels bound to inputs); a refused form comes back
with each error next to its field (``aria-invalid`` and a ``field-error`` paragraph) and what
the user typed kept. Times show in the market's time zone, money in the statement's currency.
"""

from __future__ import annotations

import typing
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

import pandas as pd
import sqlalchemy as sa
from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from vpp.api.deps import EngineDep, ParkCall, TenantCall, park_access
from vpp.api.errors import RowsRejectedError
from vpp.api.routes import agreements, assets, settlements, statements, telemetry
from vpp.api.schemas.agreements import ConsentCreate, ConsentPublic
from vpp.api.schemas.assets import AssetCreate, AssetPublic, AssetUpdate, OutageCreate
from vpp.api.schemas.statements import StatementSummaryPublic
from vpp.console import i18n
from vpp.console.session import ConsoleUser, Csrf, User, check_csrf
from vpp.console.web import console_router, local, render, tenant_access
from vpp.db.engine import session_scope
from vpp.db.repositories import ParkRepository
from vpp.db.repositories.telemetry import TELEMETRY
from vpp.db.tables import EnterpriseRow
from vpp.domain.assets import ASSET_TYPES, AssetSpec
from vpp.domain.errors import ConflictError, InvalidInputError, NotFoundError, VppError
from vpp.domain.market import MarketProfile, load_market_profile
from vpp.domain.park import Contract, Enterprise, Park
from vpp.services.settle_month import statement_id as monthly_statement_id

router = console_router()
PAGE_LIMIT = 500
"""Items per call when a page reads a whole listing from a paginated route."""
SESSION_ROWS = 3
"""Rows of a list of nested records (an EV fleet's charging sessions) in the asset form."""
READINGS_WINDOW = timedelta(hours=24)
"""How far back from the newest reading the telemetry page draws."""
EARNINGS_MONTHS = 12
"""Months the earnings page shows unless asked for a range."""
FORM_ERROR = "_form"
"""Key of errors that belong to no single field (shown at the top of the form)."""


# --- the tenant behind a page ---------------------------------------------------------------


@dataclass(frozen=True)
class Tenant:
    """The enterprise of a page, its park and market, and the API call made on its behalf."""

    enterprise: Enterprise
    park: Park
    profile: MarketProfile
    call: TenantCall

    @property
    def id(self) -> str:
        return self.enterprise.id

    @property
    def tz(self) -> str:
        return self.profile.timezone

    @property
    def base(self) -> str:
        return f"/console/enterprises/{self.enterprise.id}"


def _tenant(
    request: Request, engine: Any, user: ConsoleUser, enterprise_id: str, scope: str
) -> Tenant:
    """Admit ``user`` to ``enterprise_id`` with ``scope`` (the API's tenant rule) and load it."""
    tenant_access(user, enterprise_id, scope)
    with session_scope(engine) as session:
        row = session.get(EnterpriseRow, enterprise_id)
        if row is None:
            raise NotFoundError(f"enterprise {enterprise_id} not found")
        park = ParkRepository(session).get(row.park_id)
    park_access(user.principal, park.id)  # a park-limited operator key: only its parks
    enterprise = next(e for e in park.enterprises if e.id == enterprise_id)
    profile = load_market_profile(park.market_id, request.app.state.settings.config_dir)
    return Tenant(enterprise, park, profile, TenantCall(user.principal, enterprise_id))


async def _form(request: Request) -> AsyncIterator[FormData]:
    """The posted form (read once; the CSRF check reads the same parsed form), closed after."""
    form = await request.form()
    try:
        yield form
    finally:
        await form.close()


FormDep = Annotated[FormData, Depends(_form)]


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _all_pages(fetch: Callable[[str | None], Any]) -> list[Any]:
    """Every item of a paginated API listing."""
    items: list[Any] = []
    cursor: str | None = None
    while True:
        page = fetch(cursor)
        items.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return items


def _page(
    request: Request,
    user: ConsoleUser,
    tenant: Tenant,
    name: str,
    context: Mapping[str, Any],
    *,
    status: int = 200,
) -> HTMLResponse:
    return render(
        request,
        user,
        f"enterprise/{name}",
        {
            "tenant": tenant,
            "tz": tenant.tz,
            "own": user.principal.enterprise_id == tenant.id,
            "type_names": TYPE_NAMES,
            "enterprise_name": (
                tenant.enterprise.name_zh
                if user.language == "zh" and tenant.enterprise.name_zh
                else tenant.enterprise.name
            ),
            **context,
        },
        status=status,
    )


# --- errors next to their fields -------------------------------------------------------------

MESSAGES = {
    "missing": "Required.",
    "float_parsing": "Enter a number.",
    "float_type": "Enter a number.",
    "finite_number": "Enter a number.",
    "int_parsing": "Enter a whole number.",
    "int_type": "Enter a whole number.",
    "int_from_float": "Enter a whole number.",
    "greater_than": "Must be more than {gt}.",
    "greater_than_equal": "Must be at least {ge}.",
    "less_than": "Must be less than {lt}.",
    "less_than_equal": "Must be at most {le}.",
    "string_too_short": "Required.",
    "string_too_long": "At most {max_length} characters.",
    "string_pattern_mismatch": "Use letters, digits and . _ : - only, starting with a letter or digit.",
    "too_short": "Choose at least one.",
    "too_long": "Too many entries (at most {max_length}).",
    "bool_parsing": "Choose yes or no.",
    "datetime_parsing": "Enter a date and time.",
    "datetime_from_date_parsing": "Enter a date and time.",
    "timezone_aware": "Enter a date and time.",
    "union_tag_invalid": "Choose an asset type.",
    "extra_forbidden": "Not expected here.",
}
"""Pydantic error types as the console words them (translated); others show pydantic's text."""


def _plain(value: float) -> str:
    """A number as an input shows it: every digit it has (it must survive an edit), no ``.0``."""
    text = repr(float(value))
    return text.removesuffix(".0")


def _message(error: Mapping[str, Any], t: i18n.Translate) -> str:
    """One pydantic error in the reader's language (a domain rule's own text as it is)."""
    template = MESSAGES.get(error["type"])
    if template is None:
        text = str(error["msg"])
        return text.removeprefix("Value error, ")
    ctx = {k: _plain(v) if isinstance(v, float) else v for k, v in (error.get("ctx") or {}).items()}
    return t(template).format(**ctx)


def _field_of(path: str, names: list[str], message: str) -> str:
    """The form field an error at ``path`` (dotted, as the form names fields) belongs to.

    The field itself, else the field that holds it (a window list), else the first field inside
    it (a nested record); an error of a whole record goes to the first field its message names.
    """
    if path in names:
        return path
    holders = [n for n in names if path.startswith(n + ".")]
    if holders:
        return max(holders, key=len)
    inside = [n for n in names if n.startswith(path + ".")]
    words = set(message.replace("(", " ").replace(")", " ").replace(",", " ").split())
    named = [n for n in (inside or names) if n.rsplit(".", 1)[-1] in words]
    if named:
        return named[0]
    if inside and path.count(".") > 1:
        return inside[0]
    return FORM_ERROR


def _errors(
    exc: ValidationError,
    names: list[str],
    t: i18n.Translate,
    strip: Callable[[tuple[Any, ...]], tuple[Any, ...]],
) -> dict[str, list[str]]:
    """Errors of ``exc`` by form field name."""
    found: dict[str, list[str]] = defaultdict(list)
    for error in exc.errors():
        loc = strip(tuple(error["loc"]))
        text = _message(error, t)
        found[_field_of(".".join(str(p) for p in loc), names, text)].append(text)
    return dict(found)


def _validate(model: type[BaseModel], payload: Any) -> tuple[Any, ValidationError | None]:
    try:
        return model.model_validate(payload), None
    except ValidationError as exc:
        return None, exc


# --- the asset form --------------------------------------------------------------------------

SPEC_MODELS: dict[str, type[BaseModel]] = {
    model.model_fields["type"].default: model
    for model in typing.get_args(typing.get_args(AssetSpec)[0])
}
"""Each asset type's spec model (the union the enrolment API accepts)."""

TYPE_NAMES = {
    "battery": "Battery",
    "pv": "PV plant",
    "wind": "Wind",
    "curtailable_load": "Curtailable load",
    "shiftable_load": "Shiftable load",
    "thermal": "Heating and cooling",
    "ev_fleet": "EV fleet",
    "backup_generator": "Backup generator",
}

LABELS: dict[str, tuple[str, str | None]] = {
    "id": ("Asset id", None),
    "name": ("Name", None),
    "availability": ("Availability windows", "HH:MM-HH:MM"),
    "power_mw": ("Power", "MW"),
    "battery.power_mw": ("Discharge power", "MW"),
    "shiftable_load.power_mw": ("Power while running", "MW"),
    "backup_generator.power_mw": ("Rated output", "MW"),
    "charge_power_mw": ("Charge power (empty = discharge power)", "MW"),
    "energy_mwh": ("Usable energy", "MWh"),
    "shiftable_load.energy_mwh": ("Energy per day within the window", "MWh"),
    "round_trip_efficiency": ("Round-trip efficiency", "0–1"),
    "soc_min": ("Lowest state of charge", "0–1"),
    "soc_max": ("Highest state of charge", "0–1"),
    "soc_initial": ("State of charge at the start of a day", "0–1"),
    "thermal.soc_initial": ("Stored share at the start of a day", "0–1"),
    "soc_final": ("State of charge at the end of a day (empty = at least the start)", "0–1"),
    "degradation_cost_per_mwh": ("Degradation cost", "{currency}/MWh"),
    "capacity_mw": ("Capacity", "MW"),
    "latitude": ("Latitude", "°N"),
    "longitude": ("Longitude", "°E"),
    "tilt_deg": ("Panel tilt", "°"),
    "azimuth_deg": ("Panel azimuth (180 = south)", "°"),
    "curtailable": ("Curtailable", None),
    "hub_height_m": ("Hub height", "m"),
    "max_curtail_mw": ("Largest reduction", "MW"),
    "max_duration_min": ("Longest curtailment", "min"),
    "max_events_per_day": ("Curtailments per day, at most", None),
    "notice_min": ("Notice needed", "min"),
    "rebound_fraction": ("Share consumed again afterwards", "0–1"),
    "cost_per_mwh": ("Cost of not consuming", "{currency}/MWh"),
    "window.start": ("Window opens", "HH:MM"),
    "window.end": ("Window closes", "HH:MM"),
    "max_power_mw": ("Largest draw", "MW"),
    "min_power_mw": ("Smallest draw", "MW"),
    "backup_generator.min_power_mw": ("Minimum stable output", "MW"),
    "baseline_power_mw": ("Draw that holds the set-point", "MW"),
    "energy_capacity_mwh": ("Storable energy", "MWh"),
    "standing_loss_per_h": ("Standing loss", "1/h"),
    "chargers": ("Chargers", None),
    "charger_power_mw": ("Power per charger", "MW"),
    "charging_efficiency": ("Charging efficiency", "0–1"),
    "sessions.arrival": ("Arrival", "HH:MM"),
    "sessions.departure": ("Departure (earlier = next day)", "HH:MM"),
    "sessions.energy_mwh": ("Energy per vehicle", "MWh"),
    "sessions.vehicles": ("Vehicles", None),
    "fuel_cost_per_mwh": ("Fuel cost", "{currency}/MWh"),
    "emission_factor_t_per_mwh": ("Emission factor", "tCO2/MWh"),
    "max_run_h_per_day": ("Run time per day, at most", "h"),
}
"""Label and unit of each spec field (``type.field`` where the meaning differs by type)."""

HELP = {
    "availability": "Daily, in market time, e.g. 08:00-12:00, 13:00-22:00; empty = always.",
}
"""A hint under the input of some spec fields."""

KEY_FIGURES: dict[str, tuple[tuple[str, str], ...]] = {
    "battery": (("power_mw", "MW"), ("energy_mwh", "MWh")),
    "pv": (("capacity_mw", "MW"),),
    "wind": (("capacity_mw", "MW"),),
    "curtailable_load": (("max_curtail_mw", "MW"), ("max_duration_min", "min")),
    "shiftable_load": (("power_mw", "MW"), ("energy_mwh", "MWh")),
    "thermal": (("max_power_mw", "MW"), ("energy_capacity_mwh", "MWh")),
    "ev_fleet": (("chargers", "×"), ("charger_power_mw", "MW")),
    "backup_generator": (("power_mw", "MW"), ("fuel_cost_per_mwh", "{currency}/MWh")),
}
"""The spec figures the asset table shows, with their units."""


Kind = Literal["number", "integer", "text", "clock", "bool", "windows"]


@dataclass(frozen=True)
class FormField:
    """One input of the asset form: its name (dotted path), label, unit and kind."""

    name: str
    label: str
    unit: str | None
    kind: Kind
    required: bool
    default: str = ""
    group: str | None = None
    """Rows of a nested list share a group (``sessions.0``) shown as one fieldset."""

    @property
    def help(self) -> str | None:
        return HELP.get(self.name.rsplit(".", 1)[-1])

    @property
    def id(self) -> str:
        return "f-" + self.name.replace(".", "-")


def _label(asset_type: str, key: str) -> tuple[str, str | None]:
    return LABELS.get(f"{asset_type}.{key}") or LABELS.get(key) or (key, None)


def _scalar_kind(prop: Mapping[str, Any]) -> tuple[Kind, bool]:
    """The input kind of a JSON-schema property and whether it may be empty (null)."""
    options = prop.get("anyOf", [prop])
    nullable = any(o.get("type") == "null" for o in options)
    types = {o.get("type") for o in options} - {"null"}
    for json_type, kind in (("number", "number"), ("integer", "integer"), ("boolean", "bool")):
        if json_type in types:
            return typing.cast(Kind, kind), nullable
    return "text", nullable


def _default(prop: Mapping[str, Any]) -> str:
    value = prop.get("default")
    if value is None or isinstance(value, list):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return _plain(value) if isinstance(value, float) else str(value)


def _ref(prop: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any] | None:
    ref = prop.get("$ref")
    return defs[ref.rsplit("/", 1)[-1]] if ref else None


def asset_fields(asset_type: str) -> list[FormField]:
    """The inputs of ``asset_type``'s spec, from its model's JSON schema (nested records
    flattened: a daily window as two clock inputs, a list of windows as one text input, a
    list of records as :data:`SESSION_ROWS` rows)."""
    schema = SPEC_MODELS[asset_type].model_json_schema()
    defs = schema.get("$defs", {})
    required = set(schema.get("required", []))
    found: list[FormField] = []
    for key, prop in schema["properties"].items():
        if key in ("type", "enterprise_id"):
            continue
        name = f"spec.{key}"
        record = _ref(prop, defs)
        items = prop.get("items") if prop.get("type") == "array" else None
        if record is not None:  # one nested record (a shiftable load's window)
            for sub, sub_prop in record["properties"].items():
                kind: Kind = "clock" if sub in ("start", "end") else _scalar_kind(sub_prop)[0]
                label, unit = _label(asset_type, f"{key}.{sub}")
                found.append(FormField(f"{name}.{sub}", label, unit, kind, key in required))
        elif items is not None and (row := _ref(items, defs)) is not None:
            if set(row["properties"]) == {"start", "end"}:  # daily windows: one text input
                label, unit = _label(asset_type, key)
                found.append(FormField(name, label, unit, "windows", key in required))
                continue
            row_required = set(row.get("required", []))
            for k in range(SESSION_ROWS):
                for sub, sub_prop in row["properties"].items():
                    kind, _ = _scalar_kind(sub_prop)
                    if sub in ("arrival", "departure"):
                        kind = "clock"
                    label, unit = _label(asset_type, f"{key}.{sub}")
                    needed = k == 0 and key in required and sub in row_required
                    found.append(
                        FormField(
                            f"{name}.{k}.{sub}",
                            label,
                            unit,
                            kind,
                            needed,
                            _default(sub_prop) if k == 0 else "",  # an untouched row is empty
                            group=f"{key}.{k}",
                        )
                    )
        else:
            kind, nullable = _scalar_kind(prop)
            label, unit = _label(asset_type, key)
            needed = key in required and not nullable
            found.append(FormField(name, label, unit, kind, needed, _default(prop)))
    return found


def _windows(text: str) -> list[dict[str, str]]:
    """``08:00-12:00, 13:00-22:00`` as window records (malformed parts left for the model)."""
    windows = []
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        start, _, end = part.replace("–", "-").partition("-")
        windows.append({"start": start.strip(), "end": end.strip()})
    return windows


def _set(target: dict[str, Any], path: list[str], value: Any) -> None:
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = value


def _lists(value: Any) -> Any:
    """Dicts keyed by row numbers as lists (rows up to the last one filled in)."""
    if not isinstance(value, dict):
        return value
    if value and all(k.isdigit() for k in value):
        last = max(int(k) for k in value)
        return [_lists(value.get(str(k), {})) for k in range(last + 1)]
    return {k: _lists(v) for k, v in value.items()}


def spec_payload(
    asset_type: str, fields: list[FormField], form: Mapping[str, str]
) -> dict[str, Any]:
    """The spec the form describes, as the API's JSON body would carry it (empty = omitted)."""
    spec: dict[str, Any] = {"type": asset_type}
    for f in fields:
        raw = form.get(f.name, "").strip()
        if raw == "":
            continue
        value: Any = raw
        if f.kind == "windows":
            value = _windows(raw)
        elif f.kind == "bool":
            value = raw == "yes"
        _set(spec, f.name.split(".")[1:], value)
    return typing.cast(dict[str, Any], _lists(spec))


def spec_values(spec: AssetSpec, fields: list[FormField]) -> dict[str, str]:
    """The form's values for a stored spec (to edit it)."""
    data = spec.model_dump(mode="json")
    values: dict[str, str] = {}
    for f in fields:
        value: Any = data
        for part in f.name.split(".")[1:]:
            if isinstance(value, list):
                value = value[int(part)] if int(part) < len(value) else None
            elif isinstance(value, dict):
                value = value.get(part)
            if value is None:
                break
        if f.kind == "windows":
            values[f.name] = ", ".join(f"{w['start']}-{w['end']}" for w in value or [])
        elif isinstance(value, bool):
            values[f.name] = "yes" if value else "no"
        elif isinstance(value, float):
            values[f.name] = _plain(value)
        else:
            values[f.name] = "" if value is None else str(value)
    return values


def _strip_spec(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """``('spec', 'battery', 'power_mw')`` as the form names it: ``('spec', 'power_mw')``."""
    if len(loc) >= 2 and loc[0] == "spec" and loc[1] in SPEC_MODELS:
        return ("spec", *loc[2:])
    if loc == ("spec",):
        return ("type",)
    return loc


def key_figures(asset: AssetPublic, currency: str) -> list[tuple[float | int, str]]:
    spec = asset.spec
    return [
        (getattr(spec, name), unit.format(currency=currency))
        for name, unit in KEY_FIGURES.get(spec.type, ())
        if getattr(spec, name, None) is not None
    ]


# --- assets ----------------------------------------------------------------------------------


def _assets(tenant: Tenant, engine: Any) -> list[AssetPublic]:
    return _all_pages(
        lambda cursor: assets.list_assets(tenant.call, engine, PAGE_LIMIT, cursor, None)
    )


def _asset_form_context(
    tenant: Tenant,
    asset_type: str,
    values: Mapping[str, str] | None,
    errors: Mapping[str, list[str]],
) -> dict[str, Any]:
    fields = asset_fields(asset_type)
    shown = {f.name: f.default for f in fields} | {"site_id": "", "nominated_mw": ""}
    shown |= dict(values or {})
    return {
        "asset_type": asset_type,
        "fields": fields,
        "values": shown,
        "errors": errors,
        "currency": tenant.profile.currency,
        "sites": tenant.enterprise.sites,
    }


@router.get("/enterprises/{enterprise_id}/assets", response_class=HTMLResponse)
def assets_page(
    request: Request,
    enterprise_id: str,
    engine: EngineDep,
    user: User,
    type: Annotated[str, Query(max_length=32)] = "battery",
    enrolled: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """The enterprise's assets and the enrolment form of one asset type."""
    tenant = _tenant(request, engine, user, enterprise_id, "assets:read")
    asset_type = type if type in SPEC_MODELS else "battery"
    return _assets_page(request, user, tenant, engine, asset_type, None, {}, enrolled=enrolled)


def _assets_page(
    request: Request,
    user: ConsoleUser,
    tenant: Tenant,
    engine: Any,
    asset_type: str,
    values: Mapping[str, str] | None,
    errors: Mapping[str, list[str]],
    *,
    enrolled: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    listed = _assets(tenant, engine)
    return _page(
        request,
        user,
        tenant,
        "assets.html",
        {
            "assets": listed,
            "figures": {a.id: key_figures(a, tenant.profile.currency) for a in listed},
            "types": ASSET_TYPES,
            "enrolled": enrolled,
            "can_write": user.can("assets:write"),
            **_asset_form_context(tenant, asset_type, values, errors),
        },
        status=status,
    )


def _form_values(form: FormData, names: Iterable[str]) -> dict[str, str]:
    return {n: _text(form, n) for n in names}


@router.post(
    "/enterprises/{enterprise_id}/assets", response_class=HTMLResponse, dependencies=[Csrf]
)
def enrol(
    request: Request, enterprise_id: str, engine: EngineDep, user: User, form: FormDep
) -> Response:
    """Enrol an asset through the API's route; a refused form shows each error at its field."""
    tenant = _tenant(request, engine, user, enterprise_id, "assets:write")
    asset_type = _text(form, "type")
    if asset_type not in SPEC_MODELS:
        refused = {"type": [user.t("Choose an asset type.")]}
        return _assets_page(request, user, tenant, engine, "battery", None, refused, status=422)
    fields = asset_fields(asset_type)
    names = [f.name for f in fields] + ["site_id", "nominated_mw", "type"]
    values = _form_values(form, names)
    payload = {
        "spec": spec_payload(asset_type, fields, values),
        "site_id": values["site_id"] or None,
        "nominated_mw": values["nominated_mw"] or None,
    }
    body, invalid = _validate(AssetCreate, payload)
    errors: dict[str, list[str]] = {}
    if invalid is not None:
        errors = _errors(invalid, names, user.t, _strip_spec)
    else:
        try:
            assets.enrol_asset(body, tenant.call, engine)
        except ConflictError as exc:
            errors = {"spec.id": [exc.message]}
        except InvalidInputError as exc:  # the nomination check
            errors = {
                "nominated_mw" if "nominated_mw" in exc.message else FORM_ERROR: [exc.message]
            }
    if errors:
        return _assets_page(request, user, tenant, engine, asset_type, values, errors, status=422)
    target = f"{tenant.base}/assets?enrolled={body.spec.id}#asset-{body.spec.id}"
    return RedirectResponse(target, status_code=303)


def _market_time(text: str, tz: str) -> datetime | str:
    """A ``datetime-local`` input read in market time (aware); unreadable text as it is."""
    try:
        at = pd.Timestamp(text)
    except ValueError:
        return text
    if at is pd.NaT or at.tzinfo is not None:
        return text
    try:
        aware: datetime = at.tz_localize(tz, ambiguous="raise", nonexistent="raise").to_pydatetime()
        return aware
    except (ValueError, OverflowError):
        return text


def _local_input(at: datetime | pd.Timestamp, tz: str) -> str:
    """An instant as a ``datetime-local`` input value in market time."""
    return str(pd.Timestamp(at).tz_convert(tz).strftime("%Y-%m-%dT%H:%M"))


def _asset_page(
    request: Request,
    user: ConsoleUser,
    tenant: Tenant,
    engine: Any,
    asset_id: str,
    *,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, list[str]] | None = None,
    outage_values: Mapping[str, str] | None = None,
    outage_errors: Mapping[str, list[str]] | None = None,
    saved: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    asset = assets.get_asset(asset_id, tenant.call, engine)
    outages = assets.list_outages(asset_id, tenant.call, engine)
    fields = asset_fields(asset.type)
    stored = spec_values(asset.spec, fields) | {
        "site_id": asset.site_id or "",
        "nominated_mw": "" if asset.nominated_mw is None else _plain(asset.nominated_mw),
    }
    tomorrow = pd.Timestamp.now(tz=tenant.tz).normalize() + pd.Timedelta(days=1)
    outage_shown = {
        "start": _local_input(tomorrow, tenant.tz),
        "end": _local_input(tomorrow + pd.Timedelta(hours=6), tenant.tz),
        "reason": "",
    } | dict(outage_values or {})
    return _page(
        request,
        user,
        tenant,
        "asset.html",
        {
            "asset": asset,
            "outages": outages,
            "figures": key_figures(asset, tenant.profile.currency),
            "saved": saved,
            "can_write": user.can("assets:write"),
            "outage_values": outage_shown,
            "outage_errors": outage_errors or {},
            **_asset_form_context(tenant, asset.type, stored | dict(values or {}), errors or {}),
        },
        status=status,
    )


@router.get("/enterprises/{enterprise_id}/assets/{asset_id}", response_class=HTMLResponse)
def asset_page(
    request: Request,
    enterprise_id: str,
    asset_id: str,
    engine: EngineDep,
    user: User,
    saved: Annotated[Literal["asset", "outage", "nothing"] | None, Query()] = None,
) -> Response:
    """One asset: change its figures and nomination, declare an outage."""
    tenant = _tenant(request, engine, user, enterprise_id, "assets:read")
    return _asset_page(request, user, tenant, engine, asset_id, saved=saved)


@router.post(
    "/enterprises/{enterprise_id}/assets/{asset_id}",
    response_class=HTMLResponse,
    dependencies=[Csrf],
)
def change_asset(
    request: Request,
    enterprise_id: str,
    asset_id: str,
    engine: EngineDep,
    user: User,
    form: FormDep,
) -> Response:
    """Change the spec, site or nomination through the API's patch route (verification resets)."""
    tenant = _tenant(request, engine, user, enterprise_id, "assets:write")
    asset = assets.get_asset(asset_id, tenant.call, engine)
    fields = asset_fields(asset.type)
    names = [f.name for f in fields] + ["site_id", "nominated_mw"]
    values = _form_values(form, names) | {"spec.id": asset_id}
    spec = spec_payload(asset.type, fields, values)
    shown = {f.name.split(".")[1] for f in fields}
    for key, value in asset.spec.model_dump(mode="json").items():  # what the form leaves out
        if key not in shown:
            spec.setdefault(key, value)
    payload = {
        "spec": spec,
        "site_id": values["site_id"] or None,
        "nominated_mw": values["nominated_mw"] or None,
    }
    body, invalid = _validate(AssetUpdate, payload)
    errors: dict[str, list[str]] = {}
    saved = "asset"
    if invalid is not None:
        errors = _errors(invalid, names, user.t, _strip_spec)
    else:
        # send only what changed, as a careful API client would: the patch route resets the
        # verification whenever the body carries a spec or a nomination, even an unchanged one
        now = {"spec": body.spec, "site_id": body.site_id, "nominated_mw": body.nominated_mw}
        stored = {"spec": asset.spec, "site_id": asset.site_id, "nominated_mw": asset.nominated_mw}
        changed = {k: v for k, v in now.items() if v != stored[k]}
        if not changed:
            saved = "nothing"
        try:
            if changed:
                assets.update_asset(asset_id, AssetUpdate(**changed), tenant.call, engine)
        except InvalidInputError as exc:
            errors = {
                "nominated_mw" if "nominated_mw" in exc.message else FORM_ERROR: [exc.message]
            }
    if errors:
        return _asset_page(
            request, user, tenant, engine, asset_id, values=values, errors=errors, status=422
        )
    return RedirectResponse(f"{tenant.base}/assets/{asset_id}?saved={saved}", status_code=303)


@router.post(
    "/enterprises/{enterprise_id}/assets/{asset_id}/outages",
    response_class=HTMLResponse,
    dependencies=[Csrf],
)
def declare_outage(
    request: Request,
    enterprise_id: str,
    asset_id: str,
    engine: EngineDep,
    user: User,
    form: FormDep,
) -> Response:
    """Declare a window when the asset is unavailable (times in market time)."""
    tenant = _tenant(request, engine, user, enterprise_id, "assets:write")
    values = _form_values(form, ("start", "end", "reason"))
    payload = {
        "start": _market_time(values["start"], tenant.tz),
        "end": _market_time(values["end"], tenant.tz),
        "reason": values["reason"],
    }
    body, invalid = _validate(OutageCreate, payload)
    errors: dict[str, list[str]] = {}
    if invalid is not None:
        errors = _errors(invalid, list(values), user.t, lambda loc: loc)
    else:
        try:
            assets.add_outage(asset_id, body, tenant.call, engine)
        except InvalidInputError:  # end not after start
            errors = {"end": [user.t("The end must be after the start.")]}
    if errors:
        return _asset_page(
            request,
            user,
            tenant,
            engine,
            asset_id,
            outage_values=values,
            outage_errors=errors,
            status=422,
        )
    return RedirectResponse(
        f"{tenant.base}/assets/{asset_id}?saved=outage#outages", status_code=303
    )


# --- consents --------------------------------------------------------------------------------


def _consents_page(
    request: Request,
    user: ConsoleUser,
    tenant: Tenant,
    engine: Any,
    *,
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, list[str]] | None = None,
    done: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    contracts: list[Contract] = _all_pages(
        lambda cursor: agreements.list_contracts(tenant.call, engine, PAGE_LIMIT, cursor)
    )
    consents: list[ConsentPublic] = _all_pages(
        lambda cursor: agreements.list_consents(tenant.call, engine, PAGE_LIMIT, cursor)
    )
    listed = _assets(tenant, engine)
    now = datetime.now(UTC)
    per_product = []
    for product in tenant.profile.products:
        covering = [
            c
            for c in consents
            if c.revoked_at is None or c.revoked_at > now
            if not c.products or product.id in c.products
        ]
        per_product.append(
            {
                "product": product,
                "assets": sorted({a for c in covering for a in c.asset_ids}),
                "consents": [c.id for c in covering],
            }
        )
    shown = {
        "asset_ids": [],
        "products": [],
        "contract_id": contracts[-1].id if contracts else "",
        "agreed_by": "",
        "agreed_at": _local_input(now, tenant.tz),
    } | dict(values or {})
    return _page(
        request,
        user,
        tenant,
        "consents.html",
        {
            "contracts": contracts,
            "consents": consents,
            "assets": listed,
            "per_product": per_product,
            "values": shown,
            "errors": errors or {},
            "done": done,
            "now": now,
            "can_write": user.can("agreements:write"),
        },
        status=status,
    )


@router.get("/enterprises/{enterprise_id}/consents", response_class=HTMLResponse)
def consents_page(
    request: Request,
    enterprise_id: str,
    engine: EngineDep,
    user: User,
    done: Annotated[Literal["recorded", "revoked"] | None, Query()] = None,
) -> Response:
    """Contracts, consents per product and the form to record a consent."""
    tenant = _tenant(request, engine, user, enterprise_id, "agreements:read")
    return _consents_page(request, user, tenant, engine, done=done)


@router.post(
    "/enterprises/{enterprise_id}/consents", response_class=HTMLResponse, dependencies=[Csrf]
)
def record_consent(
    request: Request, enterprise_id: str, engine: EngineDep, user: User, form: FormDep
) -> Response:
    """Record a consent through the API's route (its product and asset checks included)."""
    tenant = _tenant(request, engine, user, enterprise_id, "agreements:write")
    values: dict[str, Any] = {
        "asset_ids": [v for v in form.getlist("asset_ids") if isinstance(v, str)],
        "products": [v for v in form.getlist("products") if isinstance(v, str)],
        "contract_id": _text(form, "contract_id"),
        "agreed_by": _text(form, "agreed_by"),
        "agreed_at": _text(form, "agreed_at"),
    }
    contracts: list[Contract] = _all_pages(
        lambda cursor: agreements.list_contracts(tenant.call, engine, PAGE_LIMIT, cursor)
    )
    contract = next((c for c in contracts if c.id == values["contract_id"]), None)
    errors: dict[str, list[str]] = {}
    if contract is None:
        errors["contract_id"] = [user.t("Choose one of your contracts.")]
    payload = {
        "asset_ids": values["asset_ids"],
        "products": values["products"],
        "contract_id": values["contract_id"],
        "terms_version": contract.terms_version if contract else "",
        "agreed_by": values["agreed_by"],
        "agreed_at": _market_time(values["agreed_at"], tenant.tz),
    }
    body, invalid = _validate(ConsentCreate, payload)
    if invalid is not None:
        names = ["asset_ids", "products", "contract_id", "agreed_by", "agreed_at"]
        for name, texts in _errors(invalid, names, user.t, lambda loc: loc[:1]).items():
            errors.setdefault(name, []).extend(texts)
    if not errors:
        try:
            agreements.add_consent(body, tenant.call, engine, request)
        except InvalidInputError as exc:  # a product the market does not trade
            errors = {"products": [exc.message]}
        except NotFoundError as exc:  # an asset that is not the enterprise's
            errors = {"asset_ids": [exc.message]}
    if errors:
        return _consents_page(
            request, user, tenant, engine, values=values, errors=errors, status=422
        )
    return RedirectResponse(f"{tenant.base}/consents?done=recorded", status_code=303)


@router.post(
    "/enterprises/{enterprise_id}/consents/{consent_id}/revoke",
    response_class=HTMLResponse,
    dependencies=[Csrf],
)
def revoke_consent(
    request: Request, enterprise_id: str, consent_id: int, engine: EngineDep, user: User
) -> Response:
    """Revoke a consent through the API's route: its assets are no longer offered from now."""
    tenant = _tenant(request, engine, user, enterprise_id, "agreements:write")
    agreements.revoke_consent(consent_id, tenant.call, engine)
    return RedirectResponse(f"{tenant.base}/consents?done=revoked", status_code=303)


# --- telemetry -------------------------------------------------------------------------------


def latest_readings(tenant: Tenant, engine: Any, listed: list[AssetPublic]) -> dict[str, Any]:
    """Per asset its newest stored reading, and a chart of the last day of readings."""
    ids = [a.id for a in listed]
    newest: dict[str, pd.Timestamp] = {}
    if ids:
        query = (
            sa.select(TELEMETRY.c.asset_id, sa.func.max(TELEMETRY.c.ts))
            .where(TELEMETRY.c.asset_id.in_(ids))
            .group_by(TELEMETRY.c.asset_id)
        )
        with session_scope(engine) as session:
            for asset_id, at in session.execute(query).all():
                stamp = pd.Timestamp(at)
                newest[asset_id] = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
    rows: list[dict[str, Any]] = []
    chart: dict[str, Any] = {"labels": [], "series": {}, "unit": "MW"}
    if not newest:
        return {"rows": rows, "chart": chart}
    end = max(newest.values())
    start = end - READINGS_WINDOW
    series: dict[str, dict[str, float]] = {}
    for asset in listed:
        if asset.id not in newest:
            rows.append({"asset": asset, "latest": None, "count": 0})
            continue
        last = newest[asset.id]
        points = telemetry.read_telemetry(
            asset.id,
            tenant.call,
            engine,
            last - READINGS_WINDOW + timedelta(microseconds=1),
            last + timedelta(microseconds=1),
        )
        rows.append(
            {"asset": asset, "latest": points[-1] if points else None, "count": len(points)}
        )
        if last > start:
            series[asset.id] = {p.ts: p.power_mw for p in points if pd.Timestamp(p.ts) > start}
    stamps = sorted({pd.Timestamp(ts) for values in series.values() for ts in values})
    chart["labels"] = [local(ts, tenant.tz, "%m-%d %H:%M") for ts in stamps]
    for asset_id, values in sorted(series.items()):
        by_stamp = {pd.Timestamp(ts): v for ts, v in values.items()}
        chart["series"][asset_id] = [
            None if by_stamp.get(ts) is None else round(by_stamp[ts], 4) for ts in stamps
        ]
    return {"rows": rows, "chart": chart}


def _telemetry_context(tenant: Tenant, engine: Any, request: Request) -> dict[str, Any]:
    listed = _assets(tenant, engine)
    settings = request.app.state.api_settings
    return {
        "assets": listed,
        "readings": latest_readings(tenant, engine, listed),
        "max_rows": settings.max_telemetry_rows,
        "max_mb": settings.max_body_bytes / 1e6,
    }


@router.get("/enterprises/{enterprise_id}/telemetry", response_class=HTMLResponse)
def telemetry_page(request: Request, enterprise_id: str, engine: EngineDep, user: User) -> Response:
    """Upload a meter-data file; the latest readings per asset."""
    tenant = _tenant(request, engine, user, enterprise_id, "telemetry:read")
    context = _telemetry_context(tenant, engine, request)
    return _page(
        request,
        user,
        tenant,
        "telemetry.html",
        {**context, "result": None, "can_write": user.can("telemetry:write"), "chosen": ""},
    )


MEDIA = {".csv": "text/csv", ".json": "application/json"}


def _media_type(upload: UploadFile) -> str | None:
    name = (upload.filename or "").lower()
    for suffix, media in MEDIA.items():
        if name.endswith(suffix):
            return media
    declared = (upload.content_type or "").split(";")[0].strip().lower()
    return declared if declared in MEDIA.values() else None


async def _upload_through_api(
    request: Request,
    tenant: Tenant,
    engine: Any,
    asset_id: str,
    content: bytes,
    media: str,
    on_error: Literal["reject", "skip"],
) -> Any:
    """The API's upload route on ``content`` as if it were the request body: its parser, its
    row checks, its row cap and its all-or-nothing rule (``on_error``)."""
    scope = dict(request.scope)
    scope["headers"] = [
        (b"content-type", media.encode()),
        (b"content-length", str(len(content)).encode()),
    ]
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": content, "more_body": False}

    body_request = Request(scope, receive)
    return await telemetry.upload_telemetry(
        asset_id,
        body_request,
        tenant.call,
        engine,
        request.app.state.api_settings,
        on_error,
    )


@router.post("/enterprises/{enterprise_id}/telemetry", response_class=HTMLResponse)
async def upload(request: Request, enterprise_id: str, engine: EngineDep, user: User) -> Response:
    """Upload a CSV or JSON meter-data file of one asset through the API's upload route.

    The answer lists the rows written and every refused row with its reason. An htmx request
    gets the result part of the page (always 200, so htmx shows it); a plain form post gets the
    whole page with the API's status (422 when rows were refused)."""
    form = await request.form()
    try:
        return await _upload(request, enterprise_id, engine, user, form)
    finally:
        await form.close()


async def _upload(
    request: Request, enterprise_id: str, engine: Any, user: ConsoleUser, form: FormData
) -> Response:
    await check_csrf(request)
    tenant = await run_in_threadpool(
        _tenant, request, engine, user, enterprise_id, "telemetry:write"
    )
    asset_id = _text(form, "asset_id")
    on_error: Literal["reject", "skip"] = "skip" if _text(form, "on_error") == "skip" else "reject"
    file = form.get("file")
    result: dict[str, Any] = {"asset_id": asset_id, "on_error": on_error}
    status = 200
    if not asset_id:
        result["error"] = user.t("Choose the asset the readings belong to.")
        status = 422
    elif not isinstance(file, UploadFile) or not file.filename:
        result["error"] = user.t("Choose a file to upload.")
        status = 422
    elif (media := _media_type(file)) is None:
        result["error"] = user.t("Upload a .csv or .json file.")
        status = 422
    else:
        result["file"] = file.filename
        content = await file.read()
        try:
            outcome = await _upload_through_api(
                request, tenant, engine, asset_id, content, media, on_error
            )
            result |= {
                "received": outcome.received,
                "written": outcome.written,
                "rejected": [r.model_dump() for r in outcome.rejected],
            }
        except RowsRejectedError as exc:
            rejected = exc.problem_fields["rejected"]
            result |= {"error": exc.message, "rejected": rejected, "written": 0}
            status = exc.status
        except ValidationError as exc:  # a JSON body that is not a batch of points
            result["error"] = user.t("The file is not a batch of readings:")
            result["problems"] = [
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:20]
            ]
            status = 422
        except VppError as exc:  # an unreadable CSV, too many rows, an asset not found
            result |= {"error": exc.message, "hint": exc.hint}
            status = exc.status
    context = await run_in_threadpool(_telemetry_context, tenant, engine, request)
    context |= {"result": result, "can_write": True, "chosen": asset_id}
    if request.headers.get("HX-Request"):
        return _page(request, user, tenant, "_telemetry_live.html", context)
    return _page(request, user, tenant, "telemetry.html", context, status=status)


# --- earnings and statements -----------------------------------------------------------------


def _month(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date(int(text[:4]), int(text[5:7]), 1)
    except (ValueError, IndexError):
        return None


def _add_months(month: date, months: int) -> date:
    k = month.year * 12 + month.month - 1 + months
    try:
        return date(k // 12, k % 12 + 1, 1)
    except ValueError as exc:  # before year 1 or after 9999
        raise InvalidInputError(f"{month:%Y-%m} is too far out", hint="use YYYY-MM") from exc


def _is_monthly(s: StatementSummaryPublic, tenant: Tenant) -> bool:
    """Whether ``s`` is a monthly statement of the park (the ones with files to download)."""
    month = s.period_start.strftime("%Y-%m")
    return s.id == monthly_statement_id(tenant.id, s.market_id, month, tenant.park.id)


def _money(values: Iterable[Decimal]) -> float:
    return float(sum(values, Decimal("0")))


@router.get("/enterprises/{enterprise_id}/earnings", response_class=HTMLResponse)
def earnings_page(
    request: Request,
    enterprise_id: str,
    engine: EngineDep,
    user: User,
    from_month: Annotated[str | None, Query(alias="from", max_length=7)] = None,
    to_month: Annotated[str | None, Query(alias="to", max_length=7)] = None,
    month: Annotated[str | None, Query(max_length=7)] = None,
) -> Response:
    """Earnings per month (the API's earnings of issued statements) and per day of one month."""
    tenant = _tenant(request, engine, user, enterprise_id, "statements:read")
    summaries = statements.list_statements(tenant.call, engine)
    issued = [s for s in summaries if s.status == "issued"]
    latest = max((s.period_start for s in issued), default=None)
    today = pd.Timestamp.now(tz=tenant.tz).date()
    last = _month(to_month) or (latest or today).replace(day=1)
    first = _month(from_month) or _add_months(last, 1 - EARNINGS_MONTHS)
    if first > last:
        first, last = last, first
    earned = statements.earnings(tenant.call, engine, f"{first:%Y-%m}", f"{last:%Y-%m}")
    by_id = {s.id: s for s in issued}
    currencies = sorted({c for m in earned.months for c in m.totals}) or [tenant.profile.currency]
    rows = []
    monthly_chart: dict[str, Any] = {"labels": [], "series": {}, "unit": " · ".join(currencies)}
    for entry in earned.months:
        counted = [by_id[i] for i in entry.statements if i in by_id]
        row: dict[str, Any] = {"month": entry.month, "totals": entry.totals, "by": {}}
        for currency in currencies:
            of = [s for s in counted if s.currency == currency]
            row["by"][currency] = {
                "monthly": _money(s.total for s in of if _is_monthly(s, tenant)),
                "daily": _money(s.total for s in of if not _is_monthly(s, tenant)),
                "count": len(of),
            }
        rows.append(row)
        monthly_chart["labels"].append(entry.month)
    for currency in currencies:
        monthly_chart["series"][f"{user.t('Monthly statements')} [{currency}]"] = [
            round(r["by"][currency]["monthly"], 2) for r in rows
        ]
        monthly_chart["series"][f"{user.t('Day statements')} [{currency}]"] = [
            round(r["by"][currency]["daily"], 2) for r in rows
        ]
    shown_month = _month(month) or (latest.replace(day=1) if latest else today.replace(day=1))
    next_month = _add_months(shown_month, 1)
    days = [
        s
        for s in issued
        if s.period_start == s.period_end and shown_month <= s.period_start < next_month
    ]
    daily_chart: dict[str, Any] = {"labels": [], "series": {}, "unit": " · ".join(currencies)}
    per_day: dict[date, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for s in days:
        per_day[s.period_start][s.currency] += s.total
    for day in sorted(per_day):
        daily_chart["labels"].append(day.isoformat())
    for currency in sorted({c for v in per_day.values() for c in v}):
        daily_chart["series"][currency] = [
            round(float(per_day[d].get(currency, Decimal("0"))), 2) for d in sorted(per_day)
        ]
    has_any = any(r["totals"] for r in rows)
    return _page(
        request,
        user,
        tenant,
        "earnings.html",
        {
            "earned": earned,
            "rows": rows,
            "currencies": currencies,
            "monthly_chart": monthly_chart,
            "daily_chart": daily_chart,
            "has_any": has_any,
            "first": f"{first:%Y-%m}",
            "last": f"{last:%Y-%m}",
            "shown_month": f"{shown_month:%Y-%m}",
            "previous_month": f"{_add_months(shown_month, -1):%Y-%m}",
            "next_month": f"{next_month:%Y-%m}",
        },
    )


@router.get("/enterprises/{enterprise_id}/statements", response_class=HTMLResponse)
def statements_page(
    request: Request, enterprise_id: str, engine: EngineDep, user: User
) -> Response:
    """Every version of every statement; monthly ones with PDF, XLSX and CSV files."""
    tenant = _tenant(request, engine, user, enterprise_id, "statements:read")
    summaries = statements.list_statements(tenant.call, engine)
    monthly = [s for s in summaries if _is_monthly(s, tenant)]
    daily = [s for s in summaries if not _is_monthly(s, tenant)]
    return _page(
        request,
        user,
        tenant,
        "statements.html",
        {"monthly": monthly, "daily": daily, "formats": ("pdf", "xlsx", "csv")},
    )


@router.get("/enterprises/{enterprise_id}/statements/{statement_id}/export")
def download_statement(
    request: Request,
    enterprise_id: str,
    statement_id: str,
    engine: EngineDep,
    user: User,
    fmt: Annotated[Literal["csv", "xlsx", "pdf"], Query(alias="format")] = "pdf",
    version: Annotated[int | None, Query(ge=1, le=10_000)] = None,
) -> Response:
    """One monthly statement as a file, written by the settlement API's export route once the
    statement is known to be this enterprise's (another's answers 404 like a missing one)."""
    tenant = _tenant(request, engine, user, enterprise_id, "statements:read")
    statements.get_statement(statement_id, tenant.call, engine, version)  # 404 unless its own
    park_call = ParkCall(user.principal, tenant.park.id)
    return settlements.export_statement(statement_id, park_call, request, engine, fmt, version)


# --- Chinese ---------------------------------------------------------------------------------

i18n.register(
    {
        # page titles, navigation, empty states
        "Your assets": "我的资产",
        "Assets of {name}": "{name}的资产",
        "No assets enrolled yet.": "尚未登记资产。",
        "Enrol an asset": "登记资产",
        "Asset type": "资产类型",
        "Choose": "选择",
        "Enrol": "登记",
        "Asset {id} enrolled; it stays unverified until an operator verifies its capacity.": (
            "资产 {id} 已登记；在运营方核验容量之前保持“未核验”。"
        ),
        "Site": "站点",
        "No site": "无站点",
        "Nominated capacity": "申报容量",
        "Nominated capacity offered to the VPP; at most what the asset can deliver.": (
            "向虚拟电厂申报的容量，不得超过资产的实际能力。"
        ),
        "Key figures": "主要参数",
        "Edit": "编辑",
        "required": "必填",
        "Figures": "参数",
        "Session {n}": "充电时段 {n}",
        "Fill in the sessions vehicles need; leave the others empty.": (
            "填写车辆需要的充电时段，其余留空即可。"
        ),
        "The form has errors; they are shown next to each field.": "表单有误，错误显示在各字段旁。",
        "Nothing was stored.": "未保存任何内容。",
        "Change the asset": "修改资产",
        "Changing figures or the nomination resets verification to unverified.": (
            "修改参数或申报容量后，核验状态将重置为“未核验”。"
        ),
        "Save changes": "保存修改",
        "Changes saved.": "修改已保存。",
        "Nothing changed.": "没有修改。",
        "Outages": "停运",
        "Declare an outage": "申报停运",
        "Start": "开始",
        "End": "结束",
        "Declare": "申报",
        "No outages declared.": "尚未申报停运。",
        "Outage declared.": "停运已申报。",
        "The end must be after the start.": "结束时间必须晚于开始时间。",
        "All assets": "全部资产",
        "Times in {tz}.": "时间为 {tz}。",
        # asset types and fields
        "Battery": "电池储能",
        "PV plant": "光伏电站",
        "Wind": "风电",
        "Curtailable load": "可削减负荷",
        "Shiftable load": "可转移负荷",
        "Heating and cooling": "冷热负荷",
        "EV fleet": "电动车队",
        "Backup generator": "备用发电机",
        "Asset id": "资产编号",
        "Name": "名称",
        "Availability windows": "可用时段",
        "Daily, in market time, e.g. 08:00-12:00, 13:00-22:00; empty = always.": (
            "每日时段（市场时间），如 08:00-12:00, 13:00-22:00；留空表示全天可用。"
        ),
        "Power": "功率",
        "Discharge power": "放电功率",
        "Power while running": "运行功率",
        "Rated output": "额定出力",
        "Charge power (empty = discharge power)": "充电功率（留空则等于放电功率）",
        "Usable energy": "可用电量",
        "Energy per day within the window": "时段内每日电量",
        "Round-trip efficiency": "往返效率",
        "Lowest state of charge": "最低荷电状态",
        "Highest state of charge": "最高荷电状态",
        "State of charge at the start of a day": "每日初始荷电状态",
        "Stored share at the start of a day": "每日初始储能比例",
        "State of charge at the end of a day (empty = at least the start)": (
            "每日结束荷电状态（留空则不低于初始值）"
        ),
        "Degradation cost": "衰减成本",
        "Capacity": "装机容量",
        "Latitude": "纬度",
        "Longitude": "经度",
        "Panel tilt": "组件倾角",
        "Panel azimuth (180 = south)": "组件方位角（180 = 正南）",
        "Curtailable": "可削减",
        "Hub height": "轮毂高度",
        "Largest reduction": "最大削减功率",
        "Longest curtailment": "最长削减时长",
        "Curtailments per day, at most": "每日最多削减次数",
        "Notice needed": "所需提前通知",
        "Share consumed again afterwards": "事后反弹比例",
        "Cost of not consuming": "削减成本",
        "Window opens": "时段开始",
        "Window closes": "时段结束",
        "Largest draw": "最大用电功率",
        "Smallest draw": "最小用电功率",
        "Minimum stable output": "最小稳定出力",
        "Draw that holds the set-point": "维持设定点的用电功率",
        "Storable energy": "可存储电量",
        "Standing loss": "自损耗率",
        "Chargers": "充电桩数量",
        "Power per charger": "单桩功率",
        "Charging efficiency": "充电效率",
        "Arrival": "到达",
        "Departure (earlier = next day)": "离开（早于到达表示次日）",
        "Energy per vehicle": "每车电量",
        "Vehicles": "车辆数",
        "Fuel cost": "燃料成本",
        "Emission factor": "排放因子",
        "Run time per day, at most": "每日最长运行时间",
        # errors
        "Required.": "必填。",
        "Enter a number.": "请输入数字。",
        "Enter a whole number.": "请输入整数。",
        "Must be more than {gt}.": "必须大于 {gt}。",
        "Must be at least {ge}.": "不得小于 {ge}。",
        "Must be less than {lt}.": "必须小于 {lt}。",
        "Must be at most {le}.": "不得大于 {le}。",
        "At most {max_length} characters.": "最多 {max_length} 个字符。",
        "Use letters, digits and . _ : - only, starting with a letter or digit.": (
            "只能使用字母、数字和 . _ : -，且以字母或数字开头。"
        ),
        "Choose at least one.": "请至少选择一项。",
        "Too many entries (at most {max_length}).": "条目过多（最多 {max_length} 项）。",
        "Choose yes or no.": "请选择是或否。",
        "Enter a date and time.": "请输入日期和时间。",
        "Choose an asset type.": "请选择资产类型。",
        "Not expected here.": "此处不应填写。",
        # consents
        "Contracts": "合同",
        "No contracts yet; the aggregator records them with you.": "尚无合同；由聚合商与您共同录入。",
        "Contract": "合同",
        "Scheme": "分成方式",
        "Aggregator share": "聚合商分成",
        "Currency": "币种",
        "Valid from": "生效",
        "Valid to": "失效",
        "Terms version": "条款版本",
        "open-ended": "长期有效",
        "percentage_split": "按比例分成",
        "capacity_plus_performance": "容量费加绩效",
        "min_guarantee": "保底收益",
        "shared_savings": "节省分成",
        "Consents per product": "各产品的授权",
        "Products": "产品",
        "Consented assets": "已授权资产",
        "No active consent.": "无有效授权。",
        "not traded now": "暂未开放",
        "Consent records": "授权记录",
        "No consents recorded yet.": "尚无授权记录。",
        "Agreed by": "签署人",
        "Agreed at": "签署时间",
        "all products": "全部产品",
        "active": "有效",
        "revoked {at}": "已于 {at} 撤销",
        "Revoke": "撤销",
        "Record a consent": "录入授权",
        "Assets covered": "授权资产",
        "Products (none ticked = all products)": "产品（不勾选表示全部产品）",
        "Name and role of the signatory": "签署人姓名及职务",
        "Record consent": "录入授权",
        "Consent recorded.": "授权已录入。",
        "Consent revoked.": "授权已撤销。",
        "Choose one of your contracts.": "请选择您的合同之一。",
        "Enrol an asset first.": "请先登记资产。",
        "Record a contract first.": "请先录入合同。",
        "energy": "电能量",
        "fcr": "一次调频备用",
        "afrr": "二次调频备用",
        "mfrr": "三次调频备用",
        "agc_fr": "AGC 调频",
        "dr": "需求响应",
        "peak_reg": "调峰",
        "reserve": "备用",
        # telemetry
        "Upload meter data": "上传计量数据",
        "File": "文件",
        'CSV with the columns timestamp (or ts), power_mw and optionally energy_mwh and quality; or JSON {"points": [{"ts": ..., "power_mw": ...}]}. Timestamps need a UTC offset; power is positive into the grid [MW].': (
            "CSV 列为 timestamp（或 ts）、power_mw，可选 energy_mwh 和 quality；或 JSON "
            '{"points": [{"ts": ..., "power_mw": ...}]}。时间戳须带 UTC 偏移；功率以上网为正 [MW]。'
        ),
        "At most {rows} rows and {mb} MB per file.": "每个文件最多 {rows} 行、{mb} MB。",
        "Write the valid rows even if others are refused": "即使部分行被拒绝，也写入有效行",
        "Unticked, one refused row refuses the whole file and nothing is written.": (
            "不勾选时，只要有一行被拒绝，整个文件都不写入。"
        ),
        "Upload": "上传",
        "Upload progress": "上传进度",
        "Result": "结果",
        "{written} of {received} rows written to {asset}.": "{received} 行中的 {written} 行已写入 {asset}。",
        "Refused rows": "被拒绝的行",
        "Row": "行",
        "Field": "字段",
        "Row 1 is the first reading after the CSV header (or the first JSON point).": (
            "第 1 行为 CSV 表头之后的第一条读数（或 JSON 的第一个点）。"
        ),
        "Choose the asset the readings belong to.": "请选择读数所属的资产。",
        "Choose a file to upload.": "请选择要上传的文件。",
        "Upload a .csv or .json file.": "请上传 .csv 或 .json 文件。",
        "The file is not a batch of readings:": "文件不是一批读数：",
        "Latest readings": "最新读数",
        "Latest reading": "最新读数",
        "Readings in the 24 h up to it": "此前 24 小时内的读数",
        "Quality": "质量",
        "No readings yet.": "尚无读数。",
        "Metered power, last 24 h of data": "计量功率（数据最后 24 小时）",
        "Reload the page to see the latest readings.": "刷新页面以查看最新读数。",
        "measured": "实测",
        "estimated": "估算",
        "substituted": "替代",
        # earnings and statements
        "Earnings per month": "月度收益",
        "Earnings per day": "日收益",
        "From": "开始",
        "To": "结束",
        "Month": "月份",
        "Monthly statements": "月度结算单",
        "Day statements": "日结算单",
        "Issued statements only. A month's monthly statement settles the same deliveries as its day statements, so the two are shown side by side, not added.": (
            "仅含已出具的结算单。月度结算单与当月日结算单结算的是同一批交付，因此并列显示，不相加。"
        ),
        "No earnings yet: no statement has been issued.": "尚无收益：尚未出具任何结算单。",
        "No day statements in {month}.": "{month} 无日结算单。",
        "Day": "日期",
        "Total": "合计",
        "Previous month": "上个月",
        "Next month": "下个月",
        "No statements yet.": "尚无结算单。",
        "Statement": "结算单",
        "Period": "结算期",
        "Version": "版本",
        "Issued": "出具时间",
        "Download": "下载",
        "draft": "草稿",
        "issued": "已出具",
        "superseded": "已作废",
        "Files are available for monthly statements.": "月度结算单可下载文件。",
        "Day statements ({n})": "日结算单（{n}）",
        "Statement {id} version {version} as {format}": "结算单 {id} 第 {version} 版 {format} 文件",
    }
)
