"""An OpenADR 3.1.0 VTN (virtual top node) as a FastAPI application factory.

What it serves, with the spec's paths and JSON field names:

* ``GET /auth/server`` (3.1.0 discovery: ``{"tokenURL": ...}``) and ``POST /auth/token``
  (OAuth 2.0 client credentials, form-encoded, client authenticated by HTTP Basic or by
  ``client_id``/``client_secret`` in the form; answers an RFC 6749 token or error).
* ``/programs``, ``/events``, ``/reports``, ``/subscriptions``, ``/vens``, ``/resources``, each
  with list/create on the collection and read/replace/delete by id, and the query filters the
  spec defines (``programID``, ``eventID``, ``clientName``, ``venName``, ``resourceName``,
  ``venID``, ``objects``, ``targets`` - all must match - and ``skip``/``limit`` up to 50).

Who may do what (spec §"Security" roles): BL clients write programs, events, VENs and
resources and read everything; VEN clients read programs and events *targeted at them*, write
and read their own reports, register and read their own VEN and resources, and manage their own
subscriptions. "Targeted at" a VEN means: the object has no targets, or one of its targets is
the VEN's name, one of the VEN's targets, or the name or a target of one of the VEN's resources.
A VEN reading another VEN's event by id gets 403; lists simply leave such objects out.

Errors are RFC 9457 / OpenADR ``Problem`` objects (``type``, ``title``, ``status``,
``detail``, ``instance``): 400 for malformed bodies or queries (the detail names each bad
field), 401 without a valid bearer token, 403 for a role or targeting refusal, 404 for an
unknown id, 409 for a duplicate name.

Store calls are in-memory and short, so handlers are async and call the store directly; a
store that does I/O should be wrapped with ``run_in_threadpool`` here.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import Enum
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, unquote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from adapters.dispatch.openadr3.auth import (
    ClientCredential,
    Principal,
    Role,
    TokenError,
    TokenIssuer,
)
from adapters.dispatch.openadr3.models import (
    EventBody,
    ProgramBody,
    ReportBody,
    ResourceBody,
    SpecModel,
    SubscriptionBody,
    VenBody,
)
from adapters.dispatch.openadr3.store import JsonObject, Kind, VtnStore
from adapters.dispatch.openadr3.webhooks import WebhookNotifier

MAX_LIMIT = 50
PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """An error answered as an OpenADR ``Problem`` object."""

    def __init__(self, status: int, detail: str, headers: Mapping[str, str] | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = dict(headers or {})


def problem_response(
    status: int, detail: str, instance: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """A ``Problem`` JSON response."""
    body = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def describe_validation_error(exc: ValidationError | RequestValidationError) -> str:
    """One line per bad field: ``intervals.0.payloads: List should have at least 1 item``."""
    parts = []
    for error in exc.errors():
        location = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        parts.append(f"{location}: {error.get('msg', 'invalid')}")
    return "; ".join(parts)


@dataclass(frozen=True)
class Collection:
    """Per-collection policy: body model, who reads and writes, list filters."""

    kind: Kind
    body: type[SpecModel]
    readers: frozenset[Role]
    writers: frozenset[Role]
    #: query parameter -> field of the stored object it must equal
    filters: Mapping[str, str]


BOTH = frozenset({Role.BL, Role.VEN})
BL_ONLY = frozenset({Role.BL})
VEN_ONLY = frozenset({Role.VEN})

COLLECTIONS: tuple[Collection, ...] = (
    Collection("programs", ProgramBody, BOTH, BL_ONLY, {}),
    Collection("events", EventBody, BOTH, BL_ONLY, {"programID": "programID"}),
    Collection(
        "reports",
        ReportBody,
        BOTH,
        VEN_ONLY,
        {"programID": "programID", "eventID": "eventID", "clientName": "clientName"},
    ),
    Collection(
        "subscriptions",
        SubscriptionBody,
        BOTH,
        BOTH,
        {"programID": "programID", "clientName": "clientName"},
    ),
    Collection("vens", VenBody, BOTH, BOTH, {"venName": "venName"}),
    Collection(
        "resources", ResourceBody, BOTH, BOTH, {"resourceName": "resourceName", "venID": "venID"}
    ),
)


class Vtn:
    """The request logic behind the routes: authorisation, targeting, validation, storage."""

    def __init__(self, store: VtnStore, issuer: TokenIssuer) -> None:
        self.store = store
        self.issuer = issuer

    # -- authentication -------------------------------------------------------------------

    def principal(self, request: Request) -> Principal:
        """The caller named by the request's bearer token; 401 otherwise."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Problem(401, "a bearer token is required", {"WWW-Authenticate": "Bearer"})
        try:
            return self.issuer.verify(token.strip())
        except TokenError as exc:
            raise Problem(
                401, str(exc), {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            ) from exc

    # -- targeting and ownership ----------------------------------------------------------

    def ven_target_names(self, client_id: str) -> set[str]:
        """Names an object may target to reach the VEN client ``client_id``."""
        vens = [v for v in self.store.list("vens") if v.get("clientID") == client_id]
        ven_ids = {v["id"] for v in vens}
        names: set[str] = set()
        for ven in vens:
            names.add(ven["venName"])
            names.update(ven.get("targets") or [])
        for resource in self.store.list("resources"):
            if resource.get("venID") in ven_ids or resource.get("clientID") == client_id:
                names.add(resource["resourceName"])
                names.update(resource.get("targets") or [])
        return names

    def visible(self, who: Principal, kind: Kind, obj: JsonObject) -> bool:
        """Whether ``who`` may read ``obj``."""
        if who.role is Role.BL:
            return True
        if kind in ("programs", "events"):
            targets = obj.get("targets") or []
            return not targets or bool(set(targets) & self.ven_target_names(who.client_id))
        if kind == "resources":
            own_vens = {
                v["id"] for v in self.store.list("vens") if v.get("clientID") == who.client_id
            }
            return obj.get("clientID") == who.client_id or obj.get("venID") in own_vens
        return obj.get("clientID") == who.client_id

    def client_can_see(self, client_id: str, kind: Kind, obj: JsonObject) -> bool:
        """Whether the configured client ``client_id`` may read ``obj`` (for webhooks)."""
        role = self.issuer.role_of(client_id)
        return role is not None and self.visible(Principal(client_id, role), kind, obj)

    # -- collection operations -------------------------------------------------------------

    def list(self, who: Principal, spec: Collection, query: Mapping[str, list[str]]) -> list[Any]:
        """Objects of a collection the caller may see, filtered and paginated."""
        self.require(who, spec.readers, f"read {spec.kind}")
        skip = _int_param(query, "skip", 0, minimum=0)
        limit = _int_param(query, "limit", MAX_LIMIT, minimum=0, maximum=MAX_LIMIT)
        wanted_targets = set(query.get("targets", []))
        objects_filter = set(query.get("objects", []))
        selected = []
        for obj in self.store.list(spec.kind):
            if any(
                param in query and obj.get(field) not in query[param]
                for param, field in spec.filters.items()
            ):
                continue
            if wanted_targets and not wanted_targets <= set(obj.get("targets") or []):
                continue
            if objects_filter and not objects_filter & {
                o for op in obj.get("objectOperations", []) for o in op.get("objects", [])
            }:
                continue
            if self.visible(who, spec.kind, obj):
                selected.append(obj)
        return selected[skip : skip + limit]

    def read(self, who: Principal, spec: Collection, object_id: str) -> JsonObject:
        """One object by id: 404 when absent, 403 when not the caller's to see."""
        self.require(who, spec.readers, f"read {spec.kind}")
        obj = self.store.get(spec.kind, object_id)
        if obj is None:
            raise Problem(404, f"no {spec.kind[:-1]} with id {object_id!r}")
        if not self.visible(who, spec.kind, obj):
            raise Problem(403, f"{spec.kind[:-1]} {object_id!r} is not targeted at this client")
        return obj

    def create(self, who: Principal, spec: Collection, payload: Any) -> JsonObject:
        """Validate and store a new object."""
        self.require(who, spec.writers, f"create {spec.kind}")
        body = self.prepare(who, spec, payload, existing=None)
        return self.store.create(spec.kind, body)

    def replace(self, who: Principal, spec: Collection, object_id: str, payload: Any) -> JsonObject:
        """Validate and replace an existing object the caller may write."""
        self.require(who, spec.writers, f"update {spec.kind}")
        existing = self.read(who, spec, object_id)
        if isinstance(payload, dict) and payload.get("id") not in (None, object_id):
            raise Problem(400, f"body id {payload['id']!r} does not match the path id")
        body = self.prepare(who, spec, payload, existing=existing)
        replaced = self.store.replace(spec.kind, object_id, body)
        if replaced is None:
            raise Problem(404, f"no {spec.kind[:-1]} with id {object_id!r}")
        return replaced

    def delete(self, who: Principal, spec: Collection, object_id: str) -> JsonObject:
        """Delete an object the caller may write; answer the deleted object."""
        self.require(who, spec.writers, f"delete {spec.kind}")
        self.read(who, spec, object_id)
        deleted = self.store.delete(spec.kind, object_id)
        if deleted is None:
            raise Problem(404, f"no {spec.kind[:-1]} with id {object_id!r}")
        return deleted

    @staticmethod
    def require(who: Principal, roles: frozenset[Role], action: str) -> None:
        """403 unless the caller's role is in ``roles``."""
        if who.role not in roles:
            raise Problem(403, f"{who.role.value} clients may not {action}")

    def prepare(
        self, who: Principal, spec: Collection, payload: Any, existing: JsonObject | None
    ) -> JsonObject:
        """Validate ``payload`` and apply the collection's reference and ownership rules."""
        if not isinstance(payload, dict):
            raise Problem(400, f"the body must be a JSON object, got {type(payload).__name__}")
        try:
            model = spec.body.model_validate(payload)
        except ValidationError as exc:
            raise Problem(400, describe_validation_error(exc)) from exc
        body = model.to_json()
        handler: Callable[[Principal, JsonObject, JsonObject | None], None] = getattr(
            self, f"_check_{spec.kind}"
        )
        handler(who, body, existing)
        return body

    def _unique(self, kind: Kind, field: str, value: Any, existing: JsonObject | None) -> None:
        """409 when another object of ``kind`` already has ``field == value``."""
        own_id = existing["id"] if existing else None
        for other in self.store.list(kind):
            if other.get(field) == value and other["id"] != own_id:
                raise Problem(409, f"a {kind[:-1]} with {field} {value!r} already exists")

    def _check_programs(
        self, who: Principal, body: JsonObject, existing: JsonObject | None
    ) -> None:
        self._unique("programs", "programName", body["programName"], existing)

    def _check_events(self, who: Principal, body: JsonObject, existing: JsonObject | None) -> None:
        if self.store.get("programs", body["programID"]) is None:
            raise Problem(400, f"programID {body['programID']!r} does not name a program")

    def _check_reports(self, who: Principal, body: JsonObject, existing: JsonObject | None) -> None:
        event = self.store.get("events", body["eventID"])
        if event is None:
            raise Problem(400, f"eventID {body['eventID']!r} does not name an event")
        if not self.visible(who, "events", event):
            raise Problem(403, f"event {body['eventID']!r} is not targeted at this client")
        body["clientID"] = who.client_id
        body["programID"] = event["programID"]

    def _check_subscriptions(
        self, who: Principal, body: JsonObject, existing: JsonObject | None
    ) -> None:
        program_id = body.get("programID")
        if program_id and self.store.get("programs", program_id) is None:
            raise Problem(400, f"programID {program_id!r} does not name a program")
        body["clientID"] = existing["clientID"] if existing else who.client_id

    def _check_vens(self, who: Principal, body: JsonObject, existing: JsonObject | None) -> None:
        if who.role is Role.VEN:
            # A VEN registers itself; only BL clients assign client ids and targets.
            body["clientID"] = who.client_id
            body.pop("targets", None)
            if existing and existing.get("targets"):
                body["targets"] = existing["targets"]
        elif not body.get("clientID"):
            raise Problem(400, "clientID: required when a BL client creates or updates a VEN")
        self._unique("vens", "venName", body["venName"], existing)

    def _check_resources(
        self, who: Principal, body: JsonObject, existing: JsonObject | None
    ) -> None:
        ven = self.store.get("vens", body["venID"])
        if ven is None:
            raise Problem(400, f"venID {body['venID']!r} does not name a VEN")
        if who.role is Role.VEN:
            if ven.get("clientID") != who.client_id:
                raise Problem(403, f"VEN {body['venID']!r} is not this client's")
            body.pop("targets", None)
            if existing and existing.get("targets"):
                body["targets"] = existing["targets"]
        body["clientID"] = ven.get("clientID", who.client_id)
        own_id = existing["id"] if existing else None
        for other in self.store.list("resources"):
            if (
                other["venID"] == body["venID"]
                and other["resourceName"] == body["resourceName"]
                and other["id"] != own_id
            ):
                raise Problem(409, f"VEN {body['venID']!r} already has a resource with that name")


def _int_param(
    query: Mapping[str, list[str]],
    name: str,
    default: int,
    *,
    minimum: int,
    maximum: int | None = None,
) -> int:
    """An integer query parameter within bounds; 400 otherwise."""
    raw = query.get(name)
    if not raw:
        return default
    try:
        value = int(raw[-1])
    except ValueError as exc:
        raise Problem(400, f"{name}: must be an integer, got {raw[-1]!r}") from exc
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise Problem(400, f"{name}: must be {bound}, got {value}")
    return value


def _oauth_error(status: int, error: str, description: str, basic: bool) -> JSONResponse:
    """An RFC 6749 §5.2 error response of the token endpoint."""
    headers = {"Cache-Control": "no-store"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="vtn"' if basic else "Bearer"
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=status, headers=headers
    )


def create_vtn_app(
    store: VtnStore,
    clients: Mapping[str, ClientCredential],
    *,
    signing_key: str | None = None,
    token_ttl_s: int = 3600,
    webhooks: bool = True,
    webhook_timeout_s: float = 2.0,
) -> FastAPI:
    """Build the VTN application over ``store``.

    ``clients`` maps OAuth client ids to their secret and role. With ``webhooks`` the app, while
    its lifespan runs, posts subscription notifications for every store write (including writes
    made in-process, e.g. by :class:`~adapters.dispatch.openadr3.channel.OpenAdrChannel`).
    """
    issuer = TokenIssuer(clients, signing_key=signing_key, ttl_s=token_ttl_s)
    vtn = Vtn(store, issuer)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        notifier = (
            WebhookNotifier(store, can_see=vtn.client_can_see, timeout_s=webhook_timeout_s)
            if webhooks
            else None
        )
        app.state.notifier = notifier
        try:
            yield
        finally:
            if notifier is not None:
                notifier.close()

    app = FastAPI(title="parkvpp OpenADR 3.1.0 VTN", version="3.1.0", lifespan=lifespan)
    app.state.vtn = vtn

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.detail, request.url.path, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(400, describe_validation_error(exc), request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(exc.status_code, str(exc.detail), request.url.path, exc.headers)

    @app.get("/auth/server", tags=["auth"])
    async def auth_server(request: Request) -> dict[str, str]:
        """OpenADR 3.1.0 discovery: where to fetch access tokens."""
        return {"tokenURL": str(request.url_for("token"))}

    @app.post("/auth/token", name="token", tags=["auth"])
    async def token(request: Request) -> JSONResponse:
        """OAuth 2.0 client credentials grant (RFC 6749 §4.4)."""
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        grant_type = form.get("grant_type", [""])[0]
        client_id = form.get("client_id", [""])[0]
        client_secret = form.get("client_secret", [""])[0]
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        basic = scheme.lower() == "basic"
        if basic:
            try:
                decoded = base64.b64decode(encoded.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return _oauth_error(401, "invalid_client", "malformed Basic credentials", True)
            user, _, password = decoded.partition(":")
            client_id, client_secret = unquote(user), unquote(password)
        if grant_type != "client_credentials":
            return _oauth_error(
                400, "unsupported_grant_type", "only client_credentials is supported", basic
            )
        principal = issuer.authenticate(client_id, client_secret)
        if principal is None:
            return _oauth_error(401, "invalid_client", "unknown client or wrong secret", basic)
        return JSONResponse(
            {
                "access_token": issuer.issue(principal),
                "token_type": "Bearer",
                "expires_in": issuer.ttl_s,
            },
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    for spec in COLLECTIONS:
        _add_routes(app, vtn, spec)
    return app


def _add_routes(app: FastAPI, vtn: Vtn, spec: Collection) -> None:
    """Register list/create and read/replace/delete routes for one collection."""
    path = f"/{spec.kind}"
    tag: list[str | Enum] = [spec.kind]

    async def json_body(request: Request) -> Any:
        try:
            return await request.json()
        except ValueError as exc:
            raise Problem(400, f"the body is not valid JSON: {exc}") from exc

    async def list_objects(request: Request) -> list[Any]:
        query = {k: request.query_params.getlist(k) for k in request.query_params}
        return vtn.list(vtn.principal(request), spec, query)

    async def create_object(request: Request) -> JSONResponse:
        who = vtn.principal(request)
        return JSONResponse(vtn.create(who, spec, await json_body(request)), status_code=201)

    async def read_object(request: Request, object_id: str) -> JsonObject:
        return vtn.read(vtn.principal(request), spec, object_id)

    async def replace_object(request: Request, object_id: str) -> JsonObject:
        who = vtn.principal(request)
        return vtn.replace(who, spec, object_id, await json_body(request))

    async def delete_object(request: Request, object_id: str) -> JsonObject:
        return vtn.delete(vtn.principal(request), spec, object_id)

    singular = spec.kind[:-1]
    app.add_api_route(path, list_objects, methods=["GET"], tags=tag, summary=f"list {spec.kind}")
    app.add_api_route(
        path, create_object, methods=["POST"], tags=tag, summary=f"create a {singular}"
    )
    item = f"{path}/{{object_id}}"
    app.add_api_route(item, read_object, methods=["GET"], tags=tag, summary=f"read a {singular}")
    app.add_api_route(
        item, replace_object, methods=["PUT"], tags=tag, summary=f"replace a {singular}"
    )
    app.add_api_route(
        item, delete_object, methods=["DELETE"], tags=tag, summary=f"delete a {singular}"
    )
