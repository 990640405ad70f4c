"""Instrumented channels and one timed send of the dispatch benchmark (:mod:`dispatch_10k`).

The channels are timed from the outside, without changing them: :class:`TimedMqttChannel`
marks every publish and every ack, and :func:`_instrument_modbus` wraps the SunSpec Modbus
channel module's request helpers (``_read``, ``_write``, ``_write_read``) so the
:class:`Marks` of the current run sees every request and answer. :func:`run_once` sends a
plan over both channels concurrently and splits each channel's time from the award in hand
into ``plan``, ``send`` and ``confirm`` (:class:`ChannelResult`).
"""

from __future__ import annotations

import itertools
import operator
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from adapters.dispatch import sunspec_modbus
from adapters.dispatch.mqtt import MqttChannel
from adapters.dispatch.sunspec_modbus import SunSpecModbusChannel
from vpp.domain.bids import DispatchPlan, Setpoint

_ASSET = operator.attrgetter("asset_id")


# --------------------------------------------------------------------------------------------
# Instrumented channels
# --------------------------------------------------------------------------------------------


@dataclass
class Marks:
    """Monotonic instants of one channel's send: first and last request, last answer."""

    first_out: float | None = None
    last_out: float = 0.0
    last_in: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def out(self) -> None:
        now = time.perf_counter()
        with self.lock:
            if self.first_out is None:
                self.first_out = now
            self.last_out = now

    def answer(self) -> None:
        now = time.perf_counter()
        with self.lock:
            self.last_in = max(self.last_in, now)


class TimedMqttChannel(MqttChannel):
    """:class:`MqttChannel` that records when it publishes and when acks arrive."""

    marks: Marks

    def publish(self, topic_name: str, payload: bytes | str, qos: int = 1) -> None:
        self.marks.out()
        super().publish(topic_name, payload, qos)

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        super()._on_message(client, userdata, message)
        self.marks.answer()


_MODBUS_MARKS: list[Marks] = []


def _instrument_modbus() -> None:
    """Wrap the channel module's request helpers so the current :class:`Marks` sees them."""
    for name in ("_read", "_write", "_write_read"):
        original = getattr(sunspec_modbus, name, None)
        if original is None or getattr(original, "_timed", False):
            continue

        def timed(*args: Any, _original: Any = original, _name: str = name) -> Any:
            async def run() -> Any:
                marks = _MODBUS_MARKS[-1] if _MODBUS_MARKS else None
                if marks is not None and _name != "_read":
                    marks.out()
                result = await _original(*args)
                if marks is not None:
                    marks.answer()
                return result

            return run()

        timed._timed = True  # type: ignore[attr-defined]
        setattr(sunspec_modbus, name, timed)


# --------------------------------------------------------------------------------------------
# One timed send
# --------------------------------------------------------------------------------------------


@dataclass
class ChannelResult:
    """One channel's part of one run [s from the award in hand]."""

    protocol: str
    devices: int
    confirmed: int
    total_s: float
    plan_s: float
    send_s: float
    confirm_s: float


def _split(plan: DispatchPlan, ids: frozenset[str]) -> list[Setpoint]:
    """The plan's setpoints for ``ids`` (the plan is asset-major: one test per asset run)."""
    out: list[Setpoint] = []
    for asset_id, run in itertools.groupby(plan.setpoints, key=_ASSET):
        if asset_id in ids:
            out.extend(run)
    return out


def run_once(
    plan: DispatchPlan,
    modbus: SunSpecModbusChannel | None,
    modbus_ids: frozenset[str],
    mqtt: TimedMqttChannel | None,
    mqtt_ids: frozenset[str],
) -> tuple[float, list[ChannelResult]]:
    """Send ``plan`` over the channels concurrently; return the wall time and per-channel parts."""
    results: list[ChannelResult] = []
    errors: list[BaseException] = []
    t0 = time.perf_counter()

    def go(
        protocol: str, ids: frozenset[str], send: Callable[[list[Setpoint]], Sequence[str]]
    ) -> None:
        marks = Marks()
        if protocol == "modbus":
            _MODBUS_MARKS.append(marks)
        else:
            assert mqtt is not None
            mqtt.marks = marks
        try:
            confirmed = send(_split(plan, ids))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            return
        end = time.perf_counter()
        first = marks.first_out or end
        last_out = marks.last_out or end
        results.append(
            ChannelResult(
                protocol,
                len(ids),
                len(set(confirmed) & ids),
                end - t0,
                first - t0,
                last_out - first,
                end - last_out,
            )
        )

    threads = []
    if modbus is not None:
        threads.append(threading.Thread(target=go, args=("modbus", modbus_ids, modbus.send)))
    if mqtt is not None:
        threads.append(threading.Thread(target=go, args=("mqtt", mqtt_ids, mqtt.send)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - t0
    _MODBUS_MARKS.clear()
    if errors:
        raise errors[0]
    return wall, sorted(results, key=lambda r: r.protocol)
