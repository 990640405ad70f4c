"""The Modbus requests the SunSpec channel makes, with their exception answers turned into errors.

Read holding registers (function 3), write multiple registers (16) and write with read-back
(23). A Modbus exception answer becomes :class:`DeviceAnswerError`; a missing answer is left to
pymodbus' own exceptions. :mod:`adapters.dispatch.sunspec_modbus` calls them through its own
namespace (see its docstring).
"""

from __future__ import annotations

from collections.abc import Sequence

from pymodbus.client import AsyncModbusTcpClient

#: Modbus exception code ILLEGAL_FUNCTION: the device does not implement the function code.
ILLEGAL_FUNCTION = 1


class DeviceAnswerError(Exception):
    """A device answered, but not in a way that lets the setpoint be confirmed."""


async def _read(client: AsyncModbusTcpClient, unit: int, address: int, count: int) -> list[int]:
    answer = await client.read_holding_registers(address, count=count, device_id=unit)
    if answer.isError():
        raise DeviceAnswerError(
            f"answered Modbus exception {getattr(answer, 'exception_code', '?')} "
            f"to reading {count} registers at {address}"
        )
    return list(answer.registers)


async def _write_read(
    client: AsyncModbusTcpClient,
    unit: int,
    write_address: int,
    registers: Sequence[int],
    read_address: int,
    count: int,
) -> list[int] | None:
    """Function 23: write, then read, in one request; ``None`` if the device lacks it."""
    answer = await client.readwrite_registers(
        read_address=read_address,
        read_count=count,
        write_address=write_address,
        values=list(registers),
        device_id=unit,
    )
    if answer.isError():
        code = getattr(answer, "exception_code", None)
        if code == ILLEGAL_FUNCTION:
            return None
        raise DeviceAnswerError(
            f"refused the write of {len(registers)} registers at {write_address} with read-back "
            f"(Modbus exception {code if code is not None else '?'})"
        )
    return list(answer.registers)


async def _write(
    client: AsyncModbusTcpClient, unit: int, address: int, registers: Sequence[int]
) -> None:
    answer = await client.write_registers(address, list(registers), device_id=unit)
    if answer.isError():
        raise DeviceAnswerError(
            f"refused the write of {len(registers)} registers at {address} "
            f"(Modbus exception {getattr(answer, 'exception_code', '?')})"
        )
