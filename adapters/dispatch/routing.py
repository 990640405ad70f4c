"""A dispatch channel that routes each asset's setpoints to the channel its device speaks.

A park mixes protocols (SunSpec Modbus batteries, OCPP chargers, OpenADR tenant energy
managers, MQTT site gateways); the pipeline sees one :class:`~vpp.domain.ports.DispatchChannel`.
The routes are sent to concurrently, one thread per channel, so a slow protocol does not hold
up the others. A channel that fails as a whole (its broker or server is down) leaves only its
own assets unconfirmed; the outbox retries them. An asset with no route goes to ``default``
when one is given, and is otherwise left unconfirmed with a log line naming it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from vpp.domain.bids import Setpoint
from vpp.domain.errors import InvalidInputError, VppError
from vpp.domain.ports import DispatchChannel

log = logging.getLogger(__name__)


class RoutingChannel:
    """Sends each asset's setpoints through ``routes[asset_id]`` (or ``default``)."""

    def __init__(
        self, routes: Mapping[str, DispatchChannel], default: DispatchChannel | None = None
    ) -> None:
        self.routes = dict(routes)
        self.default = default
        self.refused: dict[str, str] = {}
        """Assets whose setpoints the last :meth:`send` had refused as invalid, and why."""

    def send(self, setpoints: Sequence[Setpoint]) -> Sequence[str]:
        """Split ``setpoints`` by channel, send the parts concurrently, merge the confirmations.

        When a channel refuses its part as invalid, the other parts are still delivered; the
        refused assets and the reason are kept in :attr:`refused` (the outbox fails them at once
        instead of retrying).
        """
        self.refused = {}
        groups: dict[int, tuple[DispatchChannel, list[Setpoint]]] = {}
        unrouted: set[str] = set()
        for setpoint in setpoints:
            channel = self.routes.get(setpoint.asset_id, self.default)
            if channel is None:
                unrouted.add(setpoint.asset_id)
                continue
            groups.setdefault(id(channel), (channel, []))[1].append(setpoint)
        if unrouted:
            log.warning("no dispatch route for %s; not sent", ", ".join(sorted(unrouted)))
        if not groups:
            return []
        confirmed: set[str] = set()
        with ThreadPoolExecutor(max_workers=len(groups)) as pool:
            futures = {
                pool.submit(channel.send, part): (type(channel).__name__, part)
                for channel, part in groups.values()
            }
            for future, (name, part) in futures.items():
                try:
                    confirmed.update(future.result())
                except InvalidInputError as exc:
                    log.error("%s refused its setpoints: %s", name, exc)
                    self.refused.update({s.asset_id: f"{name}: {exc}" for s in part})
                except VppError as exc:
                    log.error("%s failed: %s", name, exc)
        return sorted(confirmed)
