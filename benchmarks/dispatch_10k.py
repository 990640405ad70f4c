"""Dispatch benchmark: award to setpoints sent and confirmed for 10,000 simulated devices.

Target (issue: dispatch at fleet scale): from an award in hand (a day of 96 quarter-hour setpoints
per device, as a :class:`~vpp.domain.bids.DispatchPlan`) to every device's setpoint sent **and
confirmed** in 2 s or less for 10,000 devices.

Fleet, all on loopback:

* Modbus: SunSpec model 704 batteries on :class:`~adapters.dispatch.sunspec_server.SunSpecServer`
  simulators, ``--per-port`` unit ids per TCP port, the ports spread over ``--sim-procs``
  separate simulator processes. :class:`~adapters.dispatch.sunspec_modbus.SunSpecModbusChannel`
  writes each device's current setpoint and confirms it by reading it back.
* MQTT: site devices behind ``--gateways`` simulated gateways
  (:class:`~adapters.dispatch.mqtt_gateway_sim.GatewaySimulator`) in a separate process, on the
  Mosquitto broker at ``--broker``. :class:`~adapters.dispatch.mqtt.MqttChannel` publishes one
  message per gateway (chunks of up to 1,000 devices, each with its 96 intervals) and confirms
  each device by the gateway's per-device status in its ack.

Scenarios: ``mixed`` (half the devices over each protocol, both channels sending concurrently
from one process), ``modbus`` (all devices over Modbus) and ``mqtt`` (all over MQTT). Each is
timed ``--runs`` times after one untimed warm-up send (which performs the Modbus SunSpec
discovery; later sends use the cached register maps, as a long-lived channel does). Every run
sends a different interval's values (the Modbus channel's clock moves one quarter-hour per run),
so a read-back can only confirm what this run wrote.

Breakdown per channel: ``plan`` (award to the channel's setpoints: split of the plan by channel
and the channel's own preparation, up to its first request), ``send`` (until the last write or
publish left the client) and ``confirm`` (from there until the last read-back or ack arrived).

The simulators run in other processes, but on the same cores as the channels (the report
states how many); Mosquitto shares them too.

Run: ``.venv/bin/python benchmarks/dispatch_10k.py [--devices 10000] [--runs 5] [--smoke]``;
writes ``benchmarks/results/dispatch_10k.{md,json}`` (``dispatch_10k_smoke.*`` with ``--smoke``).
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing as mp
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from importlib.metadata import version
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dispatch_10k_timing import (  # noqa: E402
    ChannelResult,
    Marks,
    TimedMqttChannel,
    _instrument_modbus,
    run_once,
)

from adapters.dispatch.sunspec_modbus import SunSpecAddress, SunSpecModbusChannel  # noqa: E402
from vpp.domain.bids import DispatchPlan, Setpoint  # noqa: E402
from vpp.domain.ports import FixedClock  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
TARGET_S = 2.0
DAY = date(2026, 11, 24)
INTERVALS = 96
RATED_W = 100_000.0
LOOPBACK = "127.0.0.1"

console = Console(stderr=True)


# --------------------------------------------------------------------------------------------
# Simulators, each in its own process
# --------------------------------------------------------------------------------------------


def _modbus_simulators(n_devices: int, per_port: int, conn: Connection) -> None:
    """Child process: host ``n_devices`` SunSpec 704 devices, report the ports, wait for stop."""
    from adapters.dispatch.sunspec_server import (
        SimulatedDeviceConfig,
        SimulatorThread,
        spread_over_servers,
    )

    configs = [
        SimulatedDeviceConfig(unit_id=1 + i % per_port, model=704, rated_w=RATED_W)
        for i in range(n_devices)
    ]
    servers = spread_over_servers(configs, per_server=per_port, host=LOOPBACK)
    with SimulatorThread(servers, start_timeout_s=60.0):
        conn.send([s.port for s in servers])
        conn.recv()  # stop
        conn.send(sum(d.writes for s in servers for d in s.devices.values()))
    conn.close()


def _mqtt_gateways(
    host: str, port: int, prefix: str, gateways: Sequence[int], conn: Connection
) -> None:
    """Child process: run the simulated site gateways ``gw{g}`` that ack every setpoint."""
    from adapters.dispatch.mqtt_gateway_sim import GatewaySimulator

    sims = [
        GatewaySimulator(host, port, prefix=prefix, gateway=f"gw{g}", keep_payloads=False)
        for g in gateways
    ]
    try:
        for sim in sims:
            sim.start()
        conn.send("ready")
        conn.recv()  # stop
        conn.send(sum(sim.setpoint_messages for sim in sims))
    finally:
        for sim in sims:
            sim.stop()
        conn.close()


@dataclass
class Child:
    """A simulator process and the pipe to it."""

    process: mp.process.BaseProcess
    conn: Connection

    def stop(self) -> Any:
        """Ask the child to stop; return what it reports (its message/write count)."""
        reported = None
        try:
            self.conn.send("stop")
            if self.conn.poll(30):
                reported = self.conn.recv()
        except (BrokenPipeError, EOFError, OSError):
            pass
        self.process.join(30)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()
        return reported


def start_child(target: Callable[..., None], *args: Any) -> tuple[Child, Any]:
    """Start ``target(*args, conn)`` in a spawned process; return it and its first message."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=target, args=(*args, child), daemon=True)
    process.start()
    child.close()
    if not parent.poll(120):
        process.kill()
        raise RuntimeError(f"{target.__name__} did not start")
    return Child(process, parent), parent.recv()


# --------------------------------------------------------------------------------------------
# The award
# --------------------------------------------------------------------------------------------


def build_plan(modbus_ids: Sequence[str], mqtt_ids: Sequence[str]) -> DispatchPlan:
    """A day of 96 quarter-hour setpoints per device, within +-50 % of the device's rating.

    Built as :func:`bidding.setpoints.dispatch_plan` builds the re-dispatch plan
    (``Setpoint.model_construct``, asset-major); consecutive intervals of a device differ.
    """
    start = datetime.combine(DAY, datetime.min.time(), tzinfo=UTC)
    stamps = [start + timedelta(minutes=15 * t) for t in range(INTERVALS)]
    step_mw = RATED_W / 1e6 / 20.0
    setpoints = [
        Setpoint.model_construct(
            asset_id=asset,
            interval_start=stamps[t],
            power_mw=((t + j) % 21 - 10) * step_mw,
            reserve_up_mw=0.0,
            reserve_down_mw=0.0,
        )
        for j, asset in enumerate([*modbus_ids, *mqtt_ids])
        for t in range(INTERVALS)
    ]
    return DispatchPlan(market_id="bench", delivery_day=DAY, setpoints=setpoints)


# --------------------------------------------------------------------------------------------
# Scenarios
# --------------------------------------------------------------------------------------------


@dataclass
class Fleet:
    """Every simulated device's address, started once for all scenarios."""

    modbus: dict[str, SunSpecAddress]
    mqtt_gateway: dict[str, str]
    children: list[Child]


def start_fleet(args: argparse.Namespace, prefix: str) -> Fleet:
    """Start the Modbus simulator processes and the MQTT gateway process."""
    n = args.devices
    children: list[Child] = []
    modbus: dict[str, SunSpecAddress] = {}
    try:
        procs = max(1, args.sim_procs)
        share = [n // procs + (1 if k < n % procs else 0) for k in range(procs)]
        index = 0
        for k, count in enumerate(share):
            if not count:
                continue
            child, ports = start_child(_modbus_simulators, count, args.per_port)
            children.append(child)
            for i in range(count):
                modbus[f"bat-{index:05d}"] = SunSpecAddress(
                    LOOPBACK, ports[i // args.per_port], 1 + i % args.per_port, RATED_W
                )
                index += 1
            console.log(f"modbus simulator process {k}: {count} devices on {len(ports)} ports")
        host, port = args.broker.rsplit(":", 1)
        for k in range(max(1, args.gateway_procs)):
            mine = list(range(k, args.gateways, max(1, args.gateway_procs)))
            if mine:
                child, _ = start_child(_mqtt_gateways, host, int(port), prefix, mine)
                children.append(child)
                console.log(f"mqtt gateway process {k}: {len(mine)} gateways")
    except BaseException:
        for child in children:
            child.stop()
        raise
    mqtt_gateway = {f"dev-{i:05d}": f"gw{i % args.gateways}" for i in range(n)}
    return Fleet(modbus, mqtt_gateway, children)


def scenario(
    name: str,
    fleet: Fleet,
    n_modbus: int,
    n_mqtt: int,
    args: argparse.Namespace,
    prefix: str,
) -> dict[str, Any]:
    """Time ``args.runs`` sends of a fresh plan to ``n_modbus`` + ``n_mqtt`` devices."""
    modbus_ids = sorted(fleet.modbus)[:n_modbus]
    mqtt_ids = sorted(fleet.mqtt_gateway)[:n_mqtt]
    t = time.perf_counter()
    plan = build_plan(modbus_ids, mqtt_ids)
    build_s = time.perf_counter() - t
    day0 = pd.Timestamp(DAY, tz="UTC")
    clock = FixedClock(day0 + pd.Timedelta(minutes=5))
    modbus = None
    if modbus_ids:
        modbus = SunSpecModbusChannel(
            {a: fleet.modbus[a] for a in modbus_ids},
            clock=clock,
            timeout_s=10.0,
            retries=1,
            max_connections=args.max_connections,
        )
    mqtt = None
    host, port = args.broker.rsplit(":", 1)
    if mqtt_ids:
        mqtt = TimedMqttChannel(
            host,
            int(port),
            prefix=prefix,
            gateways={a: fleet.mqtt_gateway[a] for a in mqtt_ids},
            timeout_s=60.0,
            window=args.window,
            slot_timeout_s=5.0,
        )
        mqtt.marks = Marks()
        mqtt.start()
    walls: list[float] = []
    parts: list[list[ChannelResult]] = []
    try:
        for r in range(args.runs + 1):
            clock.instant = day0 + pd.Timedelta(minutes=15 * r + 5)
            wall, res = run_once(plan, modbus, frozenset(modbus_ids), mqtt, frozenset(mqtt_ids))
            label = "warm-up (Modbus discovery)" if r == 0 else f"run {r}"
            summary = ", ".join(
                f"{c.protocol} {c.confirmed}/{c.devices} in {c.total_s:.2f} s" for c in res
            )
            console.log(f"{name}: {label}: {wall:.2f} s ({summary})")
            if r == 0:
                warm = (wall, res)
                continue
            walls.append(wall)
            parts.append(res)
    finally:
        if mqtt is not None:
            mqtt.stop()
    protocols: dict[str, dict[str, Any]] = {}
    for k, first in enumerate(parts[0]):
        runs = [p[k] for p in parts]
        protocols[first.protocol] = {
            "devices": first.devices,
            "confirmed_min": min(c.confirmed for c in runs),
            "median_s": statistics.median(c.total_s for c in runs),
            "p90_s": _p90([c.total_s for c in runs]),
            "plan_s": statistics.median(c.plan_s for c in runs),
            "send_s": statistics.median(c.send_s for c in runs),
            "confirm_s": statistics.median(c.confirm_s for c in runs),
        }
    return {
        "scenario": name,
        "devices": n_modbus + n_mqtt,
        "modbus_devices": n_modbus,
        "mqtt_devices": n_mqtt,
        "setpoints_in_plan": len(plan.setpoints),
        "plan_build_s": build_s,
        "runs_s": walls,
        "median_s": statistics.median(walls),
        "p90_s": _p90(walls),
        "warmup_s": warm[0],
        "warmup_confirmed": sum(c.confirmed for c in warm[1]),
        "confirmed_min": min(sum(c.confirmed for c in p) for p in parts),
        "protocols": protocols,
    }


def _p90(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.9 * len(ordered) + 0.5) - 1))]


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """Cores, CPU model, Python and library versions."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "pymodbus": version("pymodbus"),
        "paho-mqtt": version("paho-mqtt"),
    }


def markdown(report: dict[str, Any]) -> str:
    """The result table."""
    m = report["machine"]
    cfg = report["config"]
    lines = [
        "# Dispatch benchmark: award to setpoints sent and confirmed, 10,000 devices",
        "",
        f"Run {report['date']} on {m['cpu']}, {m['cores']} cores shared by the channels, the "
        f"device simulators ({cfg['sim_procs']} Modbus simulator processes, "
        f"{cfg['gateway_procs']} MQTT gateway processes with {cfg['gateways']} gateways in "
        f"all) and Mosquitto; Python {m['python']}, "
        f"pymodbus {m['pymodbus']}, paho-mqtt {m['paho-mqtt']}. Median and p90 of "
        f"{cfg['runs']} runs after one warm-up send; {cfg['per_port']} Modbus unit ids per "
        f"TCP port; a day of {INTERVALS} setpoints per device. Confirmed = read back (Modbus) "
        "or acknowledged by the gateway (MQTT).",
        "",
        "| scenario | Modbus devices | MQTT devices | median [s] | p90 [s] | target [s] "
        "| confirmed | cold first send [s] |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in report["scenarios"]:
        lines.append(
            f"| {s['scenario']} | {s['modbus_devices']:,} | {s['mqtt_devices']:,} "
            f"| {s['median_s']:.2f} | {s['p90_s']:.2f} | {TARGET_S:.1f} "
            f"| {s['confirmed_min']:,}/{s['devices']:,} | {s['warmup_s']:.2f} |"
        )
    lines += [
        "",
        "Per channel (medians; plan = award to the channel's first request, send = first to "
        "last request out, confirm = last request out to last confirmation):",
        "",
        "| scenario | protocol | devices | median [s] | p90 [s] | plan [s] | send [s] "
        "| confirm [s] |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in report["scenarios"]:
        for protocol, p in s["protocols"].items():
            lines.append(
                f"| {s['scenario']} | {protocol} | {p['devices']:,} | {p['median_s']:.2f} "
                f"| {p['p90_s']:.2f} | {p['plan_s']:.2f} | {p['send_s']:.2f} "
                f"| {p['confirm_s']:.2f} |"
            )
    if report.get("notes"):
        lines += ["", *report["notes"]]
    return "\n".join(lines) + "\n"


def print_table(report: dict[str, Any]) -> None:
    """The scenarios as a rich table on stderr."""
    table = Table(title="award -> setpoints confirmed")
    for column in ("scenario", "modbus", "mqtt", "median s", "p90 s", "target s", "confirmed"):
        table.add_column(column)
    for s in report["scenarios"]:
        table.add_row(
            s["scenario"],
            str(s["modbus_devices"]),
            str(s["mqtt_devices"]),
            f"{s['median_s']:.2f}",
            f"{s['p90_s']:.2f}",
            f"{TARGET_S:.1f}",
            f"{s['confirmed_min']}/{s['devices']}",
        )
    console.print(table)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="200 devices, 1 run")
    parser.add_argument("--out", type=Path, help="result path without suffix")
    parser.add_argument(
        "--scenarios", default="mixed,modbus,mqtt", help="comma-separated: mixed,modbus,mqtt"
    )
    parser.add_argument("--per-port", type=int, default=100, help="Modbus unit ids per port")
    parser.add_argument("--sim-procs", type=int, default=2, help="Modbus simulator processes")
    parser.add_argument("--max-connections", type=int, default=128)
    parser.add_argument("--gateways", type=int, default=10, help="simulated MQTT gateways")
    parser.add_argument("--gateway-procs", type=int, default=2, help="MQTT gateway processes")
    parser.add_argument("--window", type=int, default=500, help="MQTT unacked messages")
    parser.add_argument("--broker", default=f"{LOOPBACK}:1883")
    parser.add_argument(
        "--switch-interval",
        type=float,
        default=None,
        help="sys.setswitchinterval for the channels' process (default: Python's 0.005 s)",
    )
    parser.add_argument("--note", action="append", default=[], help="sentence for the report")
    args = parser.parse_args(argv)
    if args.smoke:
        args.devices, args.runs = min(args.devices, 200), 1
    out = args.out or RESULTS / ("dispatch_10k_smoke" if args.smoke else "dispatch_10k")
    logging.basicConfig(level=logging.WARNING)
    _instrument_modbus()
    if args.switch_interval is not None:
        sys.setswitchinterval(args.switch_interval)
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    n = args.devices
    plans = {"mixed": (n // 2, n - n // 2), "modbus": (n, 0), "mqtt": (0, n)}
    fleet = start_fleet(args, prefix)
    scenarios = []
    try:
        for name in args.scenarios.split(","):
            n_modbus, n_mqtt = plans[name]
            scenarios.append(scenario(name, fleet, n_modbus, n_mqtt, args, prefix))
    finally:
        counts = [child.stop() for child in fleet.children]
    report = {
        "benchmark": "dispatch_10k",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "config": {
            "devices": n,
            "runs": args.runs,
            "per_port": args.per_port,
            "sim_procs": args.sim_procs,
            "max_connections": args.max_connections,
            "gateways": args.gateways,
            "gateway_procs": args.gateway_procs,
            "window": args.window,
            "smoke": args.smoke,
            "switch_interval_s": sys.getswitchinterval(),
        },
        "target_s": TARGET_S,
        "simulator_counts": counts,
        "scenarios": scenarios,
        "notes": args.note,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(report))
    print_table(report)
    for s in scenarios:
        print(f"{s['scenario']}: confirmed {s['confirmed_min']}/{s['devices']}")
    return 0 if all(s["confirmed_min"] == s["devices"] for s in scenarios) else 1


if __name__ == "__main__":
    raise SystemExit(main())
