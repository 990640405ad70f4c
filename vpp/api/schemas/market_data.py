"""Bodies of the market-data routes: the outcome of an upload and stored series read back."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field


class UploadResult(BaseModel):
    """How many CSV data rows were written."""

    rows: int = Field(description="Data rows of the CSV written (header not counted).")


class SeriesRow(BaseModel):
    """One instant: ``timestamp`` (UTC interval start) and one number or null per series."""

    model_config = ConfigDict(extra="allow")

    timestamp: str = Field(description="ISO 8601 interval start, UTC.")


class SeriesTable(BaseModel):
    """Series per timestamp, the JSON twin of the canonical CSV."""

    columns: list[str] = Field(description="Series names, in the order of each row's values.")
    rows: list[SeriesRow]

    @staticmethod
    def rows_of(frame: pd.DataFrame) -> list[SeriesRow]:
        """Rows of a UTC-indexed frame; NaN becomes null."""
        names = [str(c) for c in frame.columns]
        return [
            SeriesRow(
                timestamp=pd.Timestamp(ts).tz_convert("UTC").isoformat(),
                **{c: (None if v != v else float(v)) for c, v in zip(names, values, strict=True)},
            )
            for ts, values in zip(frame.index, frame.itertuples(index=False), strict=True)
        ]


class PricesPublic(SeriesTable):
    """A market's stored prices: energy [currency/MWh], reserve capacity [currency/MW/h]."""

    market_id: str
    currency: str


class WeatherPublic(SeriesTable):
    """Per instant, the latest forecast issued by ``as_of`` (columns as in the upload)."""

    park_id: str
    site_id: str
    as_of: datetime


class ConsumptionPublic(SeriesTable):
    """A tenant's metered consumption [MW, >= 0]."""

    enterprise_id: str
    meter_id: str
