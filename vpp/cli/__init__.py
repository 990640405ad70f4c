"""The ``vpp`` command line: one typer app, one module per command group.

Each command's module is imported when that command runs, not when ``vpp`` starts: ``vpp
pipeline status`` must not wait for the forecasting and bidding stack (LightGBM, OR-Tools,
statsmodels, pvlib) that ``vpp backtest`` needs. ``vpp --help`` imports them all, to list each
command with its own help line.

Errors from the service's error tree are printed as one readable line (with the hint) and
exit with status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterator, MutableMapping
from typing import Any

import typer
from rich.console import Console
from typer.core import TyperGroup
from typer.main import get_command, get_group

from vpp.domain.errors import VppError

COMMANDS: dict[str, str] = {
    "demo": "vpp.cli.demo:demo",
    "serve": "vpp.cli.serve:serve",
    "backtest": "vpp.cli.backtest:backtest",
    "settle": "vpp.cli.settle:settle",
    "forecast": "vpp.cli.forecast:app",
    "bid": "vpp.cli.bid:app",
    "market": "vpp.cli.market:app",
    "db": "vpp.cli.db:app",
    "pipeline": "vpp.cli.pipeline:app",
    "park": "vpp.cli.park:app",
}
"""Command name -> ``module:attribute``: a typer app (a command group) or a command function.

In listing order. A command whose module is not part of this installation is not offered.
"""


class LazyCommands(MutableMapping[str, Any]):
    """The commands by name; each is built from its module (see COMMANDS) when first looked up.

    Listing the names imports nothing, so typer's "did you mean ..." stays cheap.
    """

    def __init__(self, targets: dict[str, str]) -> None:
        self._targets = targets
        self._built: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            target = self._targets.get(name)
            if target is None or not _installed(target):
                raise KeyError(name)
            self._built[name] = load_command(name, target)
        return self._built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        if name not in set(self):
            raise KeyError(name)
        self._built.pop(name, None)
        self._targets = {n: t for n, t in self._targets.items() if n != name}

    def __iter__(self) -> Iterator[str]:
        names = [n for n, target in self._targets.items() if _installed(target)]
        return iter([*names, *(n for n in self._built if n not in names)])

    def __len__(self) -> int:
        return sum(1 for _ in self)


class LazyGroup(TyperGroup):
    """The ``vpp`` group, whose commands are imported only when they are used."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = LazyCommands(COMMANDS)

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)  # the names alone: TyperGroup's own would build them all


def load_command(name: str, target: str) -> Any:
    """The click command ``name`` made from ``target`` (``module:attribute``), imported now."""
    module, _, attribute = target.partition(":")
    loaded = getattr(importlib.import_module(module), attribute)
    if isinstance(loaded, typer.Typer):
        group = get_group(loaded)  # a group even with one command, as add_typer made it
        group.name = name
        return group
    single = typer.Typer(add_completion=False)
    single.command(name)(loaded)
    return get_command(single)


def _installed(target: str) -> bool:
    return importlib.util.find_spec(target.partition(":")[0]) is not None


app = typer.Typer(
    name="vpp",
    cls=LazyGroup,
    help="parkvpp: virtual power plant aggregation and market bidding for industrial parks.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def vpp() -> None:
    # The commands come from LazyGroup; a typer app needs a callback to be a group without them.
    pass


def main() -> None:
    """Entry point of the ``vpp`` console script."""
    try:
        app()
    except VppError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)
