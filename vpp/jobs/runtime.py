"""Composition of the scheduled pipelines from the settings: parks, exchange, devices, alerts.

``VPP_PARKS`` names the park files to run (the bundled sample park when empty). With
``VPP_EXCHANGE_URL`` set, bids go to that exchange over HTTP (signed with
``VPP_EXCHANGE_SECRET``); otherwise a simulated exchange clears them against the park's
historical prices, which is what a replay of the sample park needs. With ``VPP_DEVICES`` set,
setpoints reach the devices over the protocols its bindings name (:func:`device_channel`);
otherwise, and for assets it does not bind, they are recorded.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import Engine

from adapters.dispatch.bindings import DeviceNetwork, load_bindings
from adapters.dispatch.recording import RecordingChannel
from adapters.market.http_gateway import HttpMarketGateway
from adapters.market.simulated import SimulatedExchange
from vpp.domain.errors import InvalidInputError
from vpp.domain.market import load_market_profile
from vpp.domain.pipeline import load_pipeline_policy
from vpp.domain.ports import DispatchChannel, MarketGateway
from vpp.jobs.alerts import Alerter
from vpp.jobs.pipeline import DayAheadPipeline
from vpp.services.park_file import SAMPLE_PARK, ParkData, load_park
from vpp.settings import Settings


def gateway_for(settings: Settings, data: ParkData) -> MarketGateway:
    """The exchange named by the settings, or a simulated one on ``data``'s prices."""
    if settings.exchange_url:
        if settings.exchange_secret is None:
            raise InvalidInputError(
                "VPP_EXCHANGE_URL is set but VPP_EXCHANGE_SECRET is not",
                hint="set the HMAC secret the exchange gave you",
            )
        return HttpMarketGateway(
            settings.exchange_url,
            settings.exchange_participant,
            settings.exchange_secret.get_secret_value(),
        )
    return SimulatedExchange.from_park(data)


def build_pipelines(
    settings: Settings,
    engine: Engine,
    *,
    channel: DispatchChannel | None = None,
    export_dir: Path | None = None,
) -> list[DayAheadPipeline]:
    """One pipeline per configured park."""
    alerter = Alerter(engine, settings.alert_webhook_url)
    pipelines = []
    for path in settings.parks or [SAMPLE_PARK]:
        data = load_park(path)
        profile = load_market_profile(data.park.market_id, settings.config_dir)
        policy = load_pipeline_policy(profile.market_id, settings.config_dir)
        park_alerter = (
            Alerter(engine, str(policy.webhook_url)) if policy.webhook_url is not None else alerter
        )
        pipelines.append(
            DayAheadPipeline(
                engine=engine,
                data=data,
                profile=profile,
                policy=policy,
                gateway=gateway_for(settings, data),
                channel=channel or RecordingChannel(),
                alerter=park_alerter,
                export_dir=export_dir,
            )
        )
    return pipelines


@contextmanager
def device_channel(settings: Settings) -> Iterator[DispatchChannel]:
    """The dispatch channel of ``VPP_DEVICES``, its servers running while the block runs."""
    fallback = RecordingChannel()
    if settings.devices is None:
        yield fallback
        return
    with DeviceNetwork(load_bindings(settings.devices), fallback) as network:
        yield network.channel
