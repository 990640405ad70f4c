"""``vpp forecast ...``: forecasting commands (rolling-origin backtests)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from forecasting import MODELS, backtest_day_ahead
from forecasting.report import write_report_json, write_report_png
from vpp.domain.errors import InvalidInputError
from vpp.domain.series import read_series_csv

app = typer.Typer(
    help="Forecast load, PV, wind and prices; measure forecast accuracy.", no_args_is_help=True
)


def _day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInputError(
            f"{option} {value!r} is not a date", hint="write YYYY-MM-DD"
        ) from None


def _clock(value: str) -> str:
    parts = value.split(":")
    if (
        len(parts) != 2
        or not all(p.isdigit() for p in parts)
        or int(parts[0]) > 23
        or int(parts[1]) > 59
    ):
        raise InvalidInputError(f"--issue-time {value!r} is not a clock time", hint="write HH:MM")
    return f"{int(parts[0]):02d}:{int(parts[1]):02d}"


def _table(report: dict[str, object]) -> Table:
    table = Table(title=f"day-ahead backtest of {report['target']} over {report['days']} days")
    table.add_column("model")
    for metric in ("mae", "rmse", "smape", "rmae", "pinball", "coverage_80"):
        table.add_column(metric, justify="right")
    models = report["models"]
    assert isinstance(models, dict)
    for name, values in models.items():
        cells = [values[m] for m in ("mae", "rmse", "smape", "rmae", "pinball", "coverage_80")]
        table.add_row(name, *("-" if c is None else f"{c:.4g}" for c in cells))
    return table


@app.command("backtest")
def backtest(
    series: Annotated[Path, typer.Option(help="Canonical time-series CSV (timestamp + columns).")],
    target: Annotated[str, typer.Option(help="Column to forecast.")],
    tz: Annotated[str, typer.Option(help="Market IANA timezone, e.g. Asia/Shanghai.")],
    start: Annotated[str, typer.Option(help="First market day forecast (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option(help="Last market day forecast (YYYY-MM-DD).")],
    out: Annotated[Path, typer.Option(help="REPORT.json to write; a PNG is written beside it.")],
    exog: Annotated[
        list[str] | None, typer.Option(help="Exogenous forecast column (repeatable).")
    ] = None,
    issue_time: Annotated[
        str, typer.Option(help="Issue clock time on the day before, market time (HH:MM).")
    ] = "08:00",
    model: Annotated[
        list[str] | None,
        typer.Option(help=f"Model to compare (repeatable): {', '.join(MODELS)}."),
    ] = None,
    holidays: Annotated[
        str | None, typer.Option(help="ISO country code of the holiday calendar, e.g. CN.")
    ] = None,
    refit_days: Annotated[int, typer.Option(help="LightGBM refit period [days].")] = 7,
) -> None:
    """Rolling-origin day-ahead backtest: forecast each day from data known at the issue time."""
    frame = read_series_csv(series)
    report = backtest_day_ahead(
        frame,
        target,
        tz,
        _day(start, "--start"),
        _day(end, "--end"),
        issue_clock=_clock(issue_time),
        models=model or ["lgbm"],
        exog=exog or (),
        holidays_country=holidays,
        refit_days=refit_days,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    write_report_json(report, out)
    png = write_report_png(report, out.with_suffix(".png"))
    console = Console()
    console.print(_table(report.report()))
    for name, failed in report.failures.items():
        if failed:
            console.print(f"[yellow]{name} failed on {len(failed)} day(s):[/] {failed[0]}")
    console.print(f"wrote {out} and {png}")


@app.command("models")
def models() -> None:
    """List the forecast model names."""
    for name in MODELS:
        typer.echo(name)
