"""A dispatch channel that keeps what it is sent: the simulated device fleet of the demo.

It implements :class:`vpp.domain.ports.DispatchChannel` like the protocol channels do (SunSpec
Modbus, OCPP, OpenADR, MQTT), so the demo's dispatch goes through the same port. Every setpoint
is accepted and confirmed; ``refuse`` lists asset ids that stay silent, to exercise the
non-delivery path.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from vpp.domain.bids import Setpoint


class RecordingChannel:
    """Accepts setpoints, records them, and confirms every asset not listed in ``refuse``."""

    def __init__(self, refuse: Iterable[str] = ()) -> None:
        self.refuse = set(refuse)
        self.sent: list[Setpoint] = []

    def send(self, setpoints: Sequence[Setpoint]) -> Sequence[str]:
        """Record ``setpoints``; return the ids of the assets that confirmed them."""
        self.sent.extend(setpoints)
        return sorted({s.asset_id for s in setpoints} - self.refuse)
