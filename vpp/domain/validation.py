"""Turning schema errors into messages a person can act on.

pydantic reports where and why a value was refused; this module words that as
``<file>: <path> = <value>: <reason>`` and wraps it in the right error of our tree, so a profile
or fleet file with a typo names the file, the field and the value at load time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml

from vpp.domain.errors import InvalidInputError

M = TypeVar("M", bound=pydantic.BaseModel)


def describe_errors(error: pydantic.ValidationError, source: str) -> list[str]:
    """One line per problem: ``source: field.path = value: reason``."""
    lines = []
    for item in error.errors(include_url=False):
        path = _path(item["loc"], item.get("input"))
        reason = str(item["msg"]).removeprefix("Value error, ")
        value = item.get("input")
        if item["type"] == "missing":
            lines.append(f"{source}: {path}: required field is missing")
        elif item["type"] == "extra_forbidden":
            lines.append(f"{source}: {path}: unknown field (check the spelling)")
        elif isinstance(value, Mapping):
            lines.append(f"{source}: {path}: {reason}")
        else:
            lines.append(f"{source}: {path} = {_short(value)}: {reason}")
    return lines


def _path(loc: tuple[int | str, ...], value: Any) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    if isinstance(value, Mapping) and "id" in value:
        text += f" (id {value['id']!r})"
    return text or "(top level)"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def validate_model(
    model: type[M],
    data: Any,
    source: str,
    error: Callable[..., InvalidInputError] = InvalidInputError,
) -> M:
    """Validate ``data`` as ``model``; raise ``error`` listing every problem otherwise."""
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        problems = describe_errors(exc, source)
        raise error(
            "; ".join(problems) if len(problems) <= 3 else "\n  " + "\n  ".join(problems),
            hint="fix the named fields and load again",
        ) from None


def read_yaml_mapping(
    path: str | Path, error: Callable[..., InvalidInputError] = InvalidInputError
) -> Mapping[str, Any]:
    """Read a YAML file that must hold a mapping; errors name the file and the line."""
    file = Path(path)
    if not file.is_file():
        raise error(f"{file}: no such file")
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise error(f"{file}:{where} is not valid YAML ({exc})") from None
    if not isinstance(data, Mapping):
        raise error(f"{file}: expected a mapping at the top level, found {type(data).__name__}")
    return data
