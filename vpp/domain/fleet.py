"""A fleet: the set of enrolled assets a backtest or bid run works on, and its YAML file form.

The file holds ``assets:``, a list of asset specifications in exactly the schema of the
enrolment API (``vpp.domain.assets``).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vpp.domain.assets import AssetSpec
from vpp.domain.errors import AssetSpecError
from vpp.domain.validation import read_yaml_mapping, validate_model


class Fleet(BaseModel):
    """Assets with unique ids."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    assets: list[AssetSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> Fleet:
        repeated = [k for k, n in Counter(a.id for a in self.assets).items() if n > 1]
        if repeated:
            raise ValueError(f"asset ids must be unique; repeated: {', '.join(repeated)}")
        return self

    def of_type(self, kind: str) -> list[AssetSpec]:
        """The assets whose ``type`` is ``kind``."""
        return [a for a in self.assets if a.type == kind]

    def get(self, asset_id: str) -> AssetSpec:
        """The asset with ``asset_id``; KeyError if there is none."""
        for asset in self.assets:
            if asset.id == asset_id:
                return asset
        raise KeyError(asset_id)


def load_fleet(path: str | Path) -> Fleet:
    """Read and validate a fleet YAML file; errors name the file, the field and the value."""
    data = read_yaml_mapping(path, AssetSpecError)
    return validate_model(Fleet, data, str(path), AssetSpecError)
