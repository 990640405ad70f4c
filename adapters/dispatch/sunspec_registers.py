"""SunSpec register maps: the layout of a model's points and their encoding in registers.

The layout (point offsets, types, scale-factor names) comes from the model definitions bundled
with pysunspec2, never from hand-typed offsets. This module also holds the constants of the
SunSpec scan and of the control points written, and the register block of a model 704 write.
Both the channel (:mod:`adapters.dispatch.sunspec_modbus`) and the device simulator
(:mod:`adapters.dispatch.sunspec_server`) read and write registers through it.
"""

from __future__ import annotations

import functools
import itertools
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import sunspec2.device as sunspec_device
import sunspec2.mb as sunspec_mb

#: The two registers "SunS" that open every SunSpec register map.
SUNS_MARKER = (0x5375, 0x6E53)
#: The standard base address of the SunSpec map (SunSpec also allows 0 and 50000).
STANDARD_BASE_ADDRESS = 40000
#: Model id of the end marker that closes the chain of models.
END_MODEL_ID = 0xFFFF
#: More models than this in one map means the chain is corrupt.
MAX_MODELS = 64

#: 704 ``WSetEna``/``WSetEnaRvrt`` ENABLED and ``WSetMod`` WATTS.
ENABLED = 1
WSET_MOD_WATTS = 1
#: 124 ``StorCtl_Mod`` bits.
STORCTL_CHARGE = 0x1
STORCTL_DISCHARGE = 0x2

#: struct formats of the integer SunSpec types, decoded exactly as pysunspec2 decodes them.
_INTEGER_FORMATS = {
    "int16": ">h",
    "sunssf": ">h",
    "uint16": ">H",
    "enum16": ">H",
    "bitfield16": ">H",
    "count": ">H",
    "pad": ">H",
    "int32": ">i",
    "uint32": ">I",
    "enum32": ">I",
    "bitfield32": ">I",
    "acc32": ">I",
}


@dataclass(frozen=True)
class PointLayout:
    """Where one SunSpec point sits in its model block."""

    name: str
    #: Offset from the model's ``ID`` register [registers].
    offset: int
    #: SunSpec type name (``int16``, ``uint32``, ``sunssf``, ``string`` ...).
    type: str
    #: Length [registers].
    size: int
    #: ``R`` or ``RW``.
    access: str
    #: Name of the scale-factor point (or a fixed exponent), if the point is scaled.
    sf: str | int | None

    def encode(self, value: int | str) -> list[int]:
        """Registers holding ``value`` (a raw, unscaled integer or a string)."""
        info = sunspec_mb.point_type_info[self.type]
        data = info.to_data(value, self.size * 2) if self.type == "string" else info.to_data(value)
        return list(struct.unpack(f">{self.size}H", data))

    def decode(self, registers: Sequence[int]) -> int | str:
        """The raw value held in ``registers`` (starting at this point)."""
        fast = _INTEGER_FORMATS.get(self.type)
        if fast is not None:  # the common integer types, without pysunspec2's dispatch
            if fast == ">H":
                return int(registers[0])
            if fast == ">h":
                raw = int(registers[0])
                return raw - 0x10000 if raw & 0x8000 else raw
            value: int = struct.unpack(fast, struct.pack(">2H", *registers[:2]))[0]
            return value
        data = struct.pack(f">{self.size}H", *registers[: self.size])
        decoded: int | str = sunspec_mb.point_type_info[self.type].data_to(data)
        return decoded

    def unimplemented(self) -> list[int]:
        """Registers holding SunSpec's 'not implemented' value for this point's type."""
        size = self.size * 2 if self.type == "string" else None
        data = sunspec_mb.create_unimpl_value(self.type, size)
        return list(struct.unpack(f">{self.size}H", data))


@dataclass(frozen=True)
class ModelLayout:
    """The points of one SunSpec model, flattened in register order."""

    model_id: int
    #: The model's ``L``: registers after the ``ID`` and ``L`` headers.
    length: int
    points: Mapping[str, PointLayout]

    @property
    def size(self) -> int:
        """Registers taken by the model, headers included."""
        return self.length + 2

    def point(self, name: str) -> PointLayout:
        """The point called ``name`` (nested groups as ``Group.Point``)."""
        try:
            return self.points[name]
        except KeyError:
            raise KeyError(f"SunSpec model {self.model_id} has no point {name!r}") from None

    def block(self, values: Mapping[str, int]) -> tuple[int, list[int]]:
        """Offset and registers of a write covering exactly the contiguous points ``values``."""
        points = sorted((self.point(n) for n in values), key=lambda p: p.offset)
        registers: list[int] = []
        for before, after in itertools.pairwise(points):
            if before.offset + before.size != after.offset:
                raise ValueError(f"points {before.name} and {after.name} are not contiguous")
        for p in points:
            registers.extend(p.encode(values[p.name]))
        return points[0].offset, registers


def _flatten(
    group: Mapping[str, Any], prefix: str, offset: int, out: dict[str, PointLayout]
) -> int:
    for p in group.get("points", []):
        size = sunspec_mb.point_type_info[p["type"]].len or int(p["size"])
        name = prefix + p["name"]
        out[name] = PointLayout(name, offset, p["type"], size, p.get("access", "R"), p.get("sf"))
        offset += size
    for sub in group.get("groups", []):
        if sub.get("count") not in (None, 1):
            raise ValueError(f"repeating group {sub['name']!r} is not supported")
        offset = _flatten(sub, f"{prefix}{sub['name']}.", offset, out)
    return offset


@functools.cache
def model_layout(model_id: int) -> ModelLayout:
    """The register layout of SunSpec model ``model_id`` from pysunspec2's bundled definitions."""
    definition = sunspec_device.get_model_def(model_id)
    points: dict[str, PointLayout] = {}
    total = _flatten(definition["group"], "", 0, points)
    declared = points["L"]
    length = total - 2
    fixed = definition["group"]["points"][1].get("value")
    if declared.offset != 1 or (fixed is not None and int(fixed) != length):
        raise ValueError(f"SunSpec model {model_id}: length {length} disagrees with its definition")
    return ModelLayout(model_id, length, MappingProxyType(points))


def scaled(raw: int, sf: int) -> float:
    """``raw * 10**sf``: a register value in engineering units."""
    return raw * 10.0**sf


def _point(layout: ModelLayout, block: Sequence[int], name: str) -> int:
    """Decode numeric point ``name`` from ``block``, the model's registers from its ID on."""
    p = layout.point(name)
    return int(p.decode(block[p.offset : p.offset + p.size]))


def _wset_values(raw: int, revert_timeout_s: int) -> dict[str, int]:
    """The model 704 points written for a setpoint of ``raw`` (scaled) watts."""
    return {
        "WSetEna": ENABLED,
        "WSetMod": WSET_MOD_WATTS,
        "WSet": raw,
        "WSetRvrt": 0,
        "WSetPct": 0,
        "WSetPctRvrt": 0,
        "WSetEnaRvrt": ENABLED,
        "WSetRvrtTms": revert_timeout_s,
    }


@functools.cache
def _wset_block(revert_timeout_s: int) -> tuple[int, tuple[int, ...]]:
    """Offset and registers of the 704 write with ``WSet`` 0 (the caller encodes ``WSet``)."""
    offset, registers = model_layout(704).block(_wset_values(0, revert_timeout_s))
    return offset, tuple(registers)
