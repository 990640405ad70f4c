"""The monthly zero-carbon report: the park's indicators against the thresholds in its profile.

Zero-carbon park acceptance (发改环资〔2025〕910号, market-rules §1.2) turns on a few ratios:
carbon per unit of energy consumed (tCO2/tce), the clean-energy share of consumption, and how
much on-site renewable output the park uses itself (share of generation and share of load).
They are computed here from metered interval series so the settlement team can show them
beside the money each month. Only electricity is counted unless the caller adds the park's
other emissions and energy; green certificates (1 GEC = ``mwh_per_cert`` MWh) and green-power
contracts green grid imports, never more than was imported. When an input is missing (no
consumption meter, gaps in the generation meters) the indicators carry no value and say why:
:func:`unavailable_report` builds that report, so a caller never has to invent a number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pandas as pd

from vpp.domain.errors import InvalidInputError
from vpp.domain.market import CarbonGreen


@dataclass(frozen=True)
class Indicator:
    """One indicator, its value and the profile's threshold."""

    key: str
    label: str
    label_zh: str
    value: float | None
    threshold: float | None
    bound: Literal["min", "max"]
    unit: str
    reason: str | None = None
    """Why ``value`` is None, in words an operator can act on."""

    @property
    def met(self) -> bool | None:
        """Whether the value satisfies the threshold; None without a value or threshold."""
        if self.value is None or self.threshold is None:
            return None
        if self.bound == "min":
            return self.value >= self.threshold - 1e-12
        return self.value <= self.threshold + 1e-12

    @property
    def status(self) -> Literal["pass", "fail", "not available", "no threshold"]:
        """The verdict as a word for tables and files."""
        if self.value is None:
            return "not available"
        if self.met is None:
            return "no threshold"
        return "pass" if self.met else "fail"

    def format(self, number: float | None) -> str:
        """``number`` in this indicator's unit: shares as percent, ratios with their unit."""
        if number is None:
            return ""
        return f"{number:.1%}" if self.unit == "-" else f"{number:.3f} {self.unit}"

    @property
    def threshold_text(self) -> str:
        """The threshold with its direction, e.g. ``>= 60.0%``; empty without one."""
        if self.threshold is None:
            return ""
        return f"{'>=' if self.bound == 'min' else '<='} {self.format(self.threshold)}"


@dataclass(frozen=True)
class ZeroCarbonReport:
    """Energy balance of the month [MWh], its emissions [tCO2] and the indicators."""

    load_mwh: float | None
    generation_mwh: float | None
    self_consumed_mwh: float | None
    grid_import_mwh: float | None
    export_mwh: float | None
    green_mwh: float | None
    """Grid imports covered by certificates and green-power contracts [MWh]."""
    emissions_t: float | None
    energy_tce: float | None
    indicators: list[Indicator]
    notes: tuple[str, ...] = ()
    """What a reader must know about the inputs (e.g. simulated telemetry)."""

    def indicator(self, key: str) -> Indicator:
        """The indicator named ``key``."""
        for item in self.indicators:
            if item.key == key:
                return item
        raise InvalidInputError(
            f"no indicator {key!r}", hint=f"known: {', '.join(i.key for i in self.indicators)}"
        )


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole > 0 else None


def zero_carbon_report(
    load_mw: pd.Series,
    renewable_mw: pd.Series,
    carbon: CarbonGreen,
    interval_minutes: int,
    *,
    certificates: float = 0.0,
    green_contract_mwh: float = 0.0,
    year: int | None = None,
    other_emissions_t: float = 0.0,
    other_energy_tce: float = 0.0,
) -> ZeroCarbonReport:
    """Green-power share, self-consumption and carbon intensity for one month.

    Parameters
    ----------
    load_mw : pandas.Series
        Park consumption per UTC interval start, >= 0 [MW].
    renewable_mw : pandas.Series
        On-site renewable generation on the same intervals, >= 0 [MW].
    carbon : CarbonGreen
        The profile's ``carbon_green``: grid emission factor [tCO2/MWh], ``tce_per_mwh``
        [tce/MWh], certificate size [MWh/cert] and the thresholds.
    interval_minutes : int
        Interval length [min].
    certificates : float
        Green certificates retired for the month [certificates].
    green_contract_mwh : float
        Green power bought under contract (PPA, green trading) [MWh].
    year : int, optional
        Report year; from 2030 the stricter share-of-load threshold applies when set.
    other_emissions_t, other_energy_tce : float
        Non-electric emissions [tCO2] and energy [tce] of the park, if known.

    Returns
    -------
    ZeroCarbonReport
        Energy balance, emissions and indicators with their thresholds.

    Raises
    ------
    InvalidInputError
        Missing intervals in either series, or no grid emission factor in the profile.
    """
    frame = pd.concat({"load": load_mw, "gen": renewable_mw}, axis=1)
    if frame.isna().any().any():
        gaps = int(frame.isna().any(axis=1).sum())
        raise InvalidInputError(
            f"{gaps} intervals lack load or generation data",
            hint="import the missing meter data before the zero-carbon report",
        )
    if carbon.grid_emission_factor_t_per_mwh is None:
        raise InvalidInputError(
            "the profile has no carbon_green.grid_emission_factor_t_per_mwh",
            hint="set the year's grid emission factor in the market profile",
        )
    hours = interval_minutes / 60
    load, gen = frame["load"].clip(lower=0), frame["gen"].clip(lower=0)
    self_used = pd.concat([load, gen], axis=1).min(axis=1)
    load_mwh = float(load.sum() * hours)
    gen_mwh = float(gen.sum() * hours)
    self_mwh = float(self_used.sum() * hours)
    import_mwh = float((load - self_used).sum() * hours)
    export_mwh = float((gen - self_used).sum() * hours)
    per_cert = carbon.certificate.mwh_per_cert if carbon.certificate else 1.0
    green_mwh = min(import_mwh, certificates * per_cert + green_contract_mwh)
    emissions = (import_mwh - green_mwh) * carbon.grid_emission_factor_t_per_mwh
    emissions += other_emissions_t
    energy_tce = load_mwh * carbon.tce_per_mwh + other_energy_tce
    values = {
        "carbon_per_tce": _ratio(emissions, energy_tce),
        "clean_energy_share": _ratio(self_mwh + green_mwh, load_mwh),
        "self_use_of_generation": _ratio(self_mwh, gen_mwh),
        "share_of_load": _ratio(self_mwh, load_mwh),
        "export_share": _ratio(export_mwh, gen_mwh),
    }
    reasons = {
        "self_use_of_generation": "no on-site renewable generation this month",
        "export_share": "no on-site renewable generation this month",
    }
    if load_mwh <= 0:
        reasons = dict.fromkeys(values, "no consumption this month")
    indicators = _indicators(carbon, year, values, reasons)
    return ZeroCarbonReport(
        load_mwh=load_mwh,
        generation_mwh=gen_mwh,
        self_consumed_mwh=self_mwh,
        grid_import_mwh=import_mwh,
        export_mwh=export_mwh,
        green_mwh=green_mwh,
        emissions_t=emissions,
        energy_tce=energy_tce,
        indicators=indicators,
    )


def unavailable_report(
    carbon: CarbonGreen,
    reason: str,
    *,
    generation_mwh: float | None = None,
    year: int | None = None,
    notes: tuple[str, ...] = (),
) -> ZeroCarbonReport:
    """The report when its inputs are missing: every indicator without a value, saying why.

    Parameters
    ----------
    carbon : CarbonGreen
        The profile's ``carbon_green``, for the thresholds.
    reason : str
        What is missing and what to do about it.
    generation_mwh : float, optional
        On-site renewable generation, when that alone is known [MWh].
    year : int, optional
        Report year, for the threshold that tightens from 2030.
    notes : tuple of str
        Further remarks on the inputs.
    """
    values: dict[str, float | None] = dict.fromkeys(INDICATOR_KEYS)
    return ZeroCarbonReport(
        load_mwh=None,
        generation_mwh=generation_mwh,
        self_consumed_mwh=None,
        grid_import_mwh=None,
        export_mwh=None,
        green_mwh=None,
        emissions_t=None,
        energy_tce=None,
        indicators=_indicators(carbon, year, values, dict.fromkeys(values, reason)),
        notes=notes,
    )


INDICATOR_KEYS = (
    "carbon_per_tce",
    "clean_energy_share",
    "self_use_of_generation",
    "share_of_load",
    "export_share",
)


def _indicators(
    carbon: CarbonGreen,
    year: int | None,
    values: dict[str, float | None],
    reasons: dict[str, str],
) -> list[Indicator]:
    rules, park = carbon.self_consumption_rules, carbon.park_indicators
    share_min = rules.min_share_of_load
    if year is not None and year >= 2030 and rules.min_share_of_load_from_2030_new is not None:
        share_min = rules.min_share_of_load_from_2030_new
    terms: dict[str, tuple[str, str, float | None, Literal["min", "max"], str]] = {
        "carbon_per_tce": (
            "Carbon per unit energy",
            "单位能耗碳排放",
            park.carbon_per_tce_max,
            "max",
            "tCO2/tce",
        ),
        "clean_energy_share": (
            "Clean-energy share of consumption",
            "清洁能源消费占比",
            park.clean_energy_share_min,
            "min",
            "-",
        ),
        "self_use_of_generation": (
            "On-site renewables self-consumed",
            "新能源自发自用比例",
            rules.min_self_use_of_generation,
            "min",
            "-",
        ),
        "share_of_load": (
            "On-site renewables share of load",
            "新能源占用电量比例",
            share_min,
            "min",
            "-",
        ),
        "export_share": (
            "Renewable output exported",
            "新能源上网比例",
            rules.max_export_share,
            "max",
            "-",
        ),
    }
    out = []
    for key in INDICATOR_KEYS:
        label, label_zh, threshold, bound, unit = terms[key]
        value = values[key]
        reason = reasons.get(key) if value is None else None
        out.append(Indicator(key, label, label_zh, value, threshold, bound, unit, reason))
    return out
