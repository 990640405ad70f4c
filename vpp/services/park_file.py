"""Reading a park definition: the portfolio plus where its time series live.

A park file (the bundled sample is ``vpp/samples/sample_park/park.yaml``) holds the park, its
enrolled assets, contracts and consents, and a mapping from canonical-CSV columns to what they
measure: prices per product, tenant loads (metered, or a declared schedule for tenants without
history), generation per asset and weather. Loading validates all of it and checks that every
named column exists, so a broken file fails before any work starts.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from vpp.domain.errors import InvalidInputError
from vpp.domain.park_data import DeclaredLoad, LoadSource, ParkData, ParkFile, PriceColumns
from vpp.domain.portfolio import Portfolio
from vpp.domain.series import read_series_csv
from vpp.domain.validation import read_yaml_mapping, validate_model

__all__ = [
    "SAMPLE_PARK",
    "DeclaredLoad",
    "LoadSource",
    "ParkData",
    "ParkFile",
    "PriceColumns",
    "load_park",
]

SAMPLE_PARK = Path(__file__).resolve().parents[1] / "samples" / "sample_park" / "park.yaml"


def load_park(path: str | Path = SAMPLE_PARK) -> ParkData:
    """Load and cross-check a park definition and its series file.

    Raises
    ------
    InvalidInputError
        The file or the series is malformed, or names an enterprise, asset or column that does
        not exist; the message names the file and the field.
    """
    file = Path(path)
    data = read_yaml_mapping(file)
    definition = validate_model(ParkFile, data, str(file))
    portfolio = validate_model(
        Portfolio,
        {
            "park": definition.park,
            "assets": definition.assets,
            "contracts": definition.contracts,
            "consents": definition.consents,
        },
        str(file),
    )
    series_path = (file.parent / definition.series).resolve()
    series = read_series_csv(series_path, name=f"{file.name}: series {definition.series}")
    _check_columns(definition, portfolio, series, file)
    return ParkData(definition, portfolio, series, str(file))


def _check_columns(
    definition: ParkFile, portfolio: Portfolio, series: pd.DataFrame, file: Path
) -> None:
    named = {
        "prices.day_ahead": definition.prices.day_ahead,
        **{f"prices.reserves.{k}": v for k, v in definition.prices.reserves.items()},
        **{f"weather.{k}": v for k, v in definition.weather.items()},
        **{f"generation.{k}": v for k, v in definition.generation.items()},
        **{
            f"loads[{i}].column": load.column
            for i, load in enumerate(definition.loads)
            if load.column is not None
        },
    }
    for field, column in named.items():
        if column not in series.columns:
            raise InvalidInputError(
                f"{file}: {field} names column {column!r}, which {definition.series} lacks",
                hint=f"its columns are {', '.join(series.columns)}",
            )
    asset_ids = {a.spec.id for a in portfolio.assets}
    for asset_id in definition.generation:
        if asset_id not in asset_ids:
            raise InvalidInputError(f"{file}: generation names unknown asset {asset_id!r}")
    tenants = {e.id for e in portfolio.park.enterprises}
    for i, load in enumerate(definition.loads):
        if load.enterprise_id not in tenants:
            raise InvalidInputError(
                f"{file}: loads[{i}] names unknown enterprise {load.enterprise_id!r}"
            )
