"""Device bindings: which protocol reaches each asset, read from a YAML file, and the live network.

``VPP_DEVICES`` names a file like ``config/devices.example.yaml``::

    modbus:                       # SunSpec over Modbus TCP (batteries, PV inverters)
      devices:
        bess-park: {host: 10.0.0.21, port: 502, unit_id: 1, rated_w: 2000000, model: 704}
    mqtt:                         # site gateways on a broker
      host: 127.0.0.1
      port: 1883
      prefix: parkvpp
      gateways: {dc-cooling: site-a}
    ocpp:                         # this service is the central system; chargers connect to it
      host: 0.0.0.0
      port: 9000
      chargers: {ev-depot: {station_id: depot-1, evse_id: 1}}
    openadr:                      # this service is the VTN; tenant energy managers are VENs
      host: 127.0.0.1
      port: 8081
      clients: {steelco-ems: {secret_env: VPP_OADR_STEELCO_SECRET, role: ven}}
      assets: {arc-furnace: {ven_name: steelco-ems, program_name: parkvpp-dispatch}}

Every section is optional; an asset bound nowhere goes to the fallback channel (in the demo and
replays, the recording channel). Secrets are never in the file: ``secret_env`` names the
environment variable that holds one. :class:`DeviceNetwork` starts what the bindings need (the
OCPP central system, the OpenADR VTN, the MQTT client) and stops it again.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

from adapters.dispatch.mqtt import MqttChannel
from adapters.dispatch.ocpp201 import Csms, OcppChannel, OcppTarget
from adapters.dispatch.openadr3 import (
    ClientCredential,
    InMemoryVtnStore,
    OpenAdrChannel,
    OpenAdrTarget,
    Role,
    VtnServer,
    create_vtn_app,
)
from adapters.dispatch.routing import RoutingChannel
from adapters.dispatch.sunspec_modbus import SunSpecAddress, SunSpecModbusChannel
from vpp.domain.errors import InvalidInputError
from vpp.domain.ports import DispatchChannel
from vpp.domain.timegrid import zone
from vpp.domain.validation import read_yaml_mapping, validate_model

Port = Annotated[int, Field(ge=0, le=65535)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModbusDevice(_Section):
    host: str
    port: Port = 502
    unit_id: Annotated[int, Field(ge=0, le=247)]
    rated_w: Annotated[float, Field(gt=0)]
    model: Literal[704, 124] = 704
    max_charge_w: Annotated[float, Field(ge=0)] | None = None
    revert_timeout_s: Annotated[int, Field(gt=0)] = 900
    unit_id_offset: int = 0
    base_address: int = 40000


class ModbusSection(_Section):
    timeout_s: Annotated[float, Field(gt=0)] = 1.0
    retries: Annotated[int, Field(ge=0, le=10)] = 1
    devices: dict[str, ModbusDevice] = Field(default_factory=dict)


class MqttSection(_Section):
    host: str = "127.0.0.1"
    port: Port = 1883
    prefix: str = "parkvpp"
    default_gateway: str = "site"
    timeout_s: Annotated[float, Field(gt=0)] = 5.0
    gateways: dict[str, str] = Field(default_factory=dict, description="asset id -> gateway")


class Charger(_Section):
    station_id: str
    evse_id: Annotated[int, Field(ge=0)] = 1


class OcppSection(_Section):
    host: str = "127.0.0.1"
    port: Port = 9000
    timeout_s: Annotated[float, Field(gt=0)] = 10.0
    chargers: dict[str, Charger] = Field(default_factory=dict)


class OadrClient(_Section):
    secret_env: str
    role: Literal["ven", "bl"] = "ven"


class OadrAsset(_Section):
    ven_name: str
    program_name: str = "parkvpp-dispatch"
    resource_name: str | None = None


class OpenAdrSection(_Section):
    host: str = "127.0.0.1"
    port: Port = 8081
    confirm_timeout_s: Annotated[float, Field(gt=0)] = 30.0
    timezone: str = Field(default="UTC", description="Market zone: one event per local day.")
    clients: dict[str, OadrClient] = Field(default_factory=dict)
    assets: dict[str, OadrAsset] = Field(default_factory=dict)


class DeviceBindings(_Section):
    """The whole bindings file."""

    modbus: ModbusSection | None = None
    mqtt: MqttSection | None = None
    ocpp: OcppSection | None = None
    openadr: OpenAdrSection | None = None

    def bound_assets(self) -> dict[str, str]:
        """Asset id -> the protocol it is bound to; an asset bound twice is an error."""
        seen: dict[str, str] = {}
        sections: list[tuple[str, Any]] = [
            ("modbus", self.modbus.devices if self.modbus else {}),
            ("mqtt", self.mqtt.gateways if self.mqtt else {}),
            ("ocpp", self.ocpp.chargers if self.ocpp else {}),
            ("openadr", self.openadr.assets if self.openadr else {}),
        ]
        for protocol, assets in sections:
            for asset_id in assets:
                if asset_id in seen:
                    raise InvalidInputError(
                        f"asset {asset_id} is bound to both {seen[asset_id]} and {protocol}",
                        hint="bind each asset to one protocol",
                    )
                seen[asset_id] = protocol
        return seen


def load_bindings(path: Path) -> DeviceBindings:
    """Read and validate a bindings file; errors name the file, field and value."""
    data = read_yaml_mapping(path, InvalidInputError)
    bindings: DeviceBindings = validate_model(DeviceBindings, data, str(path), InvalidInputError)
    bindings.bound_assets()
    return bindings


class DeviceNetwork:
    """The live channels of a bindings file, routed per asset, with their servers running.

    Use as a context manager; :attr:`channel` is the :class:`RoutingChannel` to dispatch through.
    """

    def __init__(
        self,
        bindings: DeviceBindings,
        fallback: DispatchChannel | None = None,
        environ: dict[str, str] | None = None,
    ) -> None:
        self.bindings = bindings
        self.fallback = fallback
        self.environ = dict(os.environ if environ is None else environ)
        self._stops: list[Any] = []
        self.channel = RoutingChannel({}, default=fallback)
        self.vtn_url: str | None = None
        self.csms: Csms | None = None

    def start(self) -> Self:
        """Start the servers and clients the bindings need and build the routes."""
        routes: dict[str, DispatchChannel] = {}
        try:
            self._start_into(routes)
        except BaseException:
            self.stop()
            raise
        self.channel = RoutingChannel(routes, default=self.fallback)
        return self

    def _start_into(self, routes: dict[str, DispatchChannel]) -> None:
        b = self.bindings
        if b.modbus and b.modbus.devices:
            modbus = SunSpecModbusChannel(
                {a: SunSpecAddress(**d.model_dump()) for a, d in b.modbus.devices.items()},
                timeout_s=b.modbus.timeout_s,
                retries=b.modbus.retries,
            )
            routes.update(dict.fromkeys(b.modbus.devices, modbus))
        if b.mqtt and b.mqtt.gateways:
            mqtt = MqttChannel(
                b.mqtt.host,
                b.mqtt.port,
                prefix=b.mqtt.prefix,
                gateways=b.mqtt.gateways,
                default_gateway=b.mqtt.default_gateway,
                timeout_s=b.mqtt.timeout_s,
            )
            mqtt.start()
            self._stops.append(mqtt.stop)
            routes.update(dict.fromkeys(b.mqtt.gateways, mqtt))
        if b.ocpp and b.ocpp.chargers:
            csms = Csms(b.ocpp.host, b.ocpp.port)
            csms.start()
            self._stops.append(csms.stop)
            self.csms = csms
            ocpp = OcppChannel(
                csms,
                {a: OcppTarget(c.station_id, c.evse_id) for a, c in b.ocpp.chargers.items()},
                timeout_s=b.ocpp.timeout_s,
            )
            routes.update(dict.fromkeys(b.ocpp.chargers, ocpp))
        if b.openadr and b.openadr.assets:
            store = InMemoryVtnStore()
            clients = {
                name: ClientCredential(self._secret(c.secret_env), Role(c.role.upper()))
                for name, c in b.openadr.clients.items()
            }
            server = VtnServer(create_vtn_app(store, clients), b.openadr.host, b.openadr.port)
            self.vtn_url = server.start().url
            self._stops.append(server.stop)
            openadr = OpenAdrChannel(
                store,
                {
                    a: OpenAdrTarget(t.ven_name, t.program_name, t.resource_name)
                    for a, t in b.openadr.assets.items()
                },
                confirm_timeout_s=b.openadr.confirm_timeout_s,
                delivery_tz=zone(b.openadr.timezone),
            )
            routes.update(dict.fromkeys(b.openadr.assets, openadr))

    def _secret(self, name: str) -> str:
        secret = self.environ.get(name)
        if not secret:
            raise InvalidInputError(
                f"environment variable {name} (an OpenADR client secret) is not set",
                hint=f"export {name}=... before starting the service",
            )
        return secret

    def stop(self) -> None:
        """Stop everything that :meth:`start` started, newest first."""
        while self._stops:
            self._stops.pop()()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
