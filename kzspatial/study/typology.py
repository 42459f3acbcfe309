"""Regional balance typology: persistent gainers, losers, neutral and volatile units.

Also a check of published statements about the balance of groups of regions.

The rule (thresholds configurable, defaults in brackets), applied to the net rate of
moves between regions per 1,000 residents over the years with a rate:

1. **persistent gainer**: the rate is positive in at least ``persistence`` [0.8] of
   the years and its mean is at least ``threshold`` [1.0];
2. **persistent loser**: negative in at least ``persistence`` of the years and a mean
   of at most ``-threshold``;
3. **volatile**: otherwise, if the rate reaches ``+threshold`` in some year and
   ``-threshold`` in another (swings both ways);
4. **neutral**: otherwise (a small or non-persistent balance).

Units with fewer than ``min_years`` [3] rates are "not enough years". By default the
years are the OD years of :data:`kzspatial.datasets.migration.DEFAULT_OD_YEARS` (2022,
whose nets contradict the official ones, and the 2025 part year are left out).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from kzspatial._constants import YEAR
from kzspatial._errors import RegionNameError, ValidationError
from kzspatial.datasets.macro_regions import MACRO_REGION_ORDER
from kzspatial.datasets.migration import DEFAULT_OD_YEARS
from kzspatial.datasets.regions import configuration_ids, get_region, resolve
from kzspatial.study.trends import group_rates

__all__ = [
    "BALANCE_CLASSES",
    "STUDY_TABLE2_GROUPS",
    "balance_typology",
    "check_balance_claims",
    "classify_balance",
]

BALANCE_CLASSES = (
    "persistent gainer",
    "neutral",
    "persistent loser",
    "volatile",
)
_ASSERTED = {
    "positive": "persistent gainer",
    "gainer": "persistent gainer",
    "negative": "persistent loser",
    "loser": "persistent loser",
    "neutral": "neutral",
    "volatile": "volatile",
}
_COMPASS = {
    "north": "north",
    "northern": "north",
    "south": "south",
    "southern": "south",
    "west": "west",
    "western": "west",
    "east": "east",
    "eastern": "east",
    "centre": "centre",
    "center": "centre",
    "central": "centre",
}

# How the rows of the study's Table 2 are read (a judgement, stated in the output).
STUDY_TABLE2_GROUPS: dict[str, tuple[tuple[str, ...], str]] = {
    "Almaty, Astana": (
        ("KZ-75", "KZ-71"),
        "Almaty city and Astana (the row names services and finance: the cities)",
    ),
    "Karaganda region": (
        ("KZ-35", "KZ-62"),
        "Karaganda in its borders before June 2022, with Ulytau: populations of "
        "2010-2021 exist only for that unit",
    ),
}


def _rule_text(threshold: float, persistence: float, min_years: int) -> str:
    return (
        f"gainer: net rate > 0 in >= {persistence:.0%} of years and mean >= "
        f"{threshold:g} per 1,000; loser: < 0 in >= {persistence:.0%} of years and "
        f"mean <= -{threshold:g}; volatile: otherwise, if some year >= +{threshold:g} "
        f"and another <= -{threshold:g}; neutral: otherwise; at least {min_years} years"
    )


def _classify(rates: np.ndarray, threshold, persistence, min_years) -> str:
    if len(rates) < min_years:
        return "not enough years"
    mean = rates.mean()
    if np.mean(rates > 0) >= persistence and mean >= threshold:
        return "persistent gainer"
    if np.mean(rates < 0) >= persistence and mean <= -threshold:
        return "persistent loser"
    if rates.max() >= threshold and rates.min() <= -threshold:
        return "volatile"
    return "neutral"


def classify_balance(
    rates: pd.DataFrame,
    *,
    threshold: float = 1.0,
    persistence: float = 0.8,
    min_years: int = 3,
    years: Sequence[int] | None = None,
    unit_col: str = "unit",
    rate_col: str = "net_rate",
) -> pd.DataFrame:
    """Classify each unit by the module's rule.

    Parameters
    ----------
    rates : pandas.DataFrame
        One row per unit and year with ``year``, ``unit_col`` and ``rate_col`` (net
        rate per 1,000; NaN where unknown), e.g. :func:`kzspatial.study.trends.group_rates`.
    threshold : float, default 1.0
        Rate per 1,000 that counts as a material gain or loss.
    persistence : float, default 0.8
        Share of years with the same sign needed for "persistent" (0.5 < p <= 1).
    min_years : int, default 3
    years : sequence of int, optional
        Years to use; default :data:`kzspatial.datasets.migration.DEFAULT_OD_YEARS`.

    Returns
    -------
    pandas.DataFrame
        ``unit, class, n_years, years, years_gain, years_loss, mean_rate, min_rate,
        max_rate, rates, rule``; ``rates`` lists ``year: rate`` for reading.

    Raises
    ------
    ValidationError
        Thresholds out of range or columns missing.
    """
    if not 0.5 < persistence <= 1.0:
        raise ValidationError(f"persistence must be in (0.5, 1], got {persistence}")
    if threshold < 0 or not math.isfinite(threshold):
        raise ValidationError(f"threshold must be >= 0, got {threshold}")
    if int(min_years) < 1:
        raise ValidationError(f"min_years must be >= 1, got {min_years}")
    need = {YEAR, unit_col, rate_col} - set(rates.columns)
    if need:
        raise ValidationError(f"rates lacks columns {sorted(need)}")
    wanted = set(DEFAULT_OD_YEARS if years is None else years)
    use = rates[rates[YEAR].isin(wanted) & np.isfinite(rates[rate_col])]
    rule = _rule_text(threshold, persistence, min_years)
    rows = []
    for unit in dict.fromkeys(rates[unit_col]):
        part = use[use[unit_col] == unit].sort_values(YEAR)
        r = part[rate_col].to_numpy(float)
        rows.append(
            {
                "unit": unit,
                "class": _classify(r, threshold, persistence, int(min_years)),
                "n_years": len(r),
                "years": ", ".join(str(int(y)) for y in part[YEAR]),
                "years_gain": int(np.sum(r > 0)),
                "years_loss": int(np.sum(r < 0)),
                "mean_rate": r.mean() if len(r) else np.nan,
                "min_rate": r.min() if len(r) else np.nan,
                "max_rate": r.max() if len(r) else np.nan,
                "rates": "; ".join(
                    f"{int(y)}: {v:+.2f}" for y, v in zip(part[YEAR], r, strict=True)
                ),
                "rule": rule,
            }
        )
    return pd.DataFrame(rows)


def _macro_of(macro_regions: pd.DataFrame) -> dict[str, str]:
    return dict(
        zip(macro_regions["region_id"], macro_regions["macro_region"], strict=True)
    )


def balance_typology(
    od: pd.DataFrame,
    population: pd.DataFrame,
    macro_regions: pd.DataFrame,
    **rule,
) -> pd.DataFrame:
    """Typology of every region (today's borders) and every macro-region.

    Parameters
    ----------
    od, population : pandas.DataFrame
        As for :func:`kzspatial.study.trends.group_rates`.
    macro_regions : pandas.DataFrame
        :func:`kzspatial.datasets.macro_regions.load_macro_regions`.
    **rule
        ``threshold``, ``persistence``, ``min_years``, ``years`` of
        :func:`classify_balance`.

    Returns
    -------
    pandas.DataFrame
        :func:`classify_balance` columns plus ``level`` ("region" or "macro-region"),
        ``name`` and ``members``. A region split in 2018 or 2022 has rates only for the
        years whose population is in today's borders; a macro-region has none in years
        whose population units straddle it (the south and the three cities before 2017).
    """
    ids = configuration_ids("2024")
    regions = classify_balance(group_rates(od, population, {r: r for r in ids}), **rule)
    regions.insert(0, "level", "region")
    regions.insert(2, "name", [get_region(r).name_en for r in regions["unit"]])
    regions.insert(3, "members", regions["unit"])
    groups = _macro_of(macro_regions)
    macro = classify_balance(group_rates(od, population, groups), **rule)
    order = {m: k for k, m in enumerate(MACRO_REGION_ORDER)}
    macro = macro.sort_values("unit", key=lambda s: s.map(order), ignore_index=True)
    macro.insert(0, "level", "macro-region")
    macro.insert(2, "name", macro["unit"])
    macro.insert(
        3,
        "members",
        [
            ", ".join(get_region(r).name_en for r, g in groups.items() if g == m)
            for m in macro["unit"]
        ],
    )
    return pd.concat([macro, regions], ignore_index=True)


def _claim_group(
    label: str, macro: Mapping[str, str], groups: Mapping
) -> tuple[tuple[str, ...], str] | None:
    """Region ids and reading of a claim's group label, or None if not understood."""
    if label in groups:
        return groups[label]
    words = re.findall(r"[a-z]+", label.casefold())
    if len(words) <= 3 and words and words[0] in _COMPASS:
        zone = _COMPASS[words[0]]
        ids = tuple(r for r, m in macro.items() if m == zone)
        return (
            ids,
            f"macro-region {zone}: {', '.join(get_region(r).name_en for r in ids)}",
        )
    try:
        ids = tuple(resolve(p) for p in re.split(r",|\band\b", label) if p.strip())
    except RegionNameError:
        return None
    return ids, ", ".join(get_region(r).name_en for r in ids) + " (today's borders)"


def check_balance_claims(
    claims: pd.DataFrame,
    od: pd.DataFrame,
    population: pd.DataFrame,
    macro_regions: pd.DataFrame,
    *,
    groups: Mapping[str, tuple[Sequence[str], str]] | None = None,
    **rule,
) -> pd.DataFrame:
    """Set each claimed balance of a group of regions beside the data.

    Parameters
    ----------
    claims : pandas.DataFrame
        ``region_group`` and ``asserted_migration_balance`` (positive, negative,
        neutral or volatile), e.g. the study's Table 2.
    od, population, macro_regions : pandas.DataFrame
        As for :func:`balance_typology`.
    groups : mapping, optional
        ``{label: (region ids, reading)}`` for labels the parser cannot read; default
        :data:`STUDY_TABLE2_GROUPS`. Other labels are read as compass macro-regions
        ("Northern regions") or comma-separated region names.
    **rule
        As for :func:`classify_balance`.

    Returns
    -------
    pandas.DataFrame
        ``region_group, asserted, reading, class, verdict`` (supported, refuted or not
        testable) and the numbers: ``n_years, years_gain, years_loss, mean_rate,
        min_rate, max_rate, rates, rule``.
    """
    need = {"region_group", "asserted_migration_balance"} - set(claims.columns)
    if need:
        raise ValidationError(
            f"claims lack columns {sorted(need)}; expected region_group and "
            "asserted_migration_balance"
        )
    groups = STUDY_TABLE2_GROUPS if groups is None else groups
    macro = _macro_of(macro_regions)
    rows = []
    for k, claim in enumerate(claims.itertuples(index=False)):
        label = str(claim.region_group).strip()
        asserted = str(claim.asserted_migration_balance).strip().casefold()
        row = {"region_group": label, "asserted": asserted}
        found = _claim_group(label, macro, groups)
        if found is None or asserted not in _ASSERTED:
            row["reading"] = (
                f"row {k + 1}: group not understood (pass groups=)"
                if found is None
                else f"row {k + 1}: balance {asserted!r} is not one of "
                f"{sorted(set(_ASSERTED))}"
            )
            row.update({"class": "", "verdict": "not testable"})
            rows.append(row)
            continue
        ids, reading = found
        label_of = {r: ("group" if r in ids else r) for r in configuration_ids("2024")}
        table = classify_balance(group_rates(od, population, label_of), **rule)
        stats = table[table["unit"] == "group"].iloc[0].to_dict()
        stats.pop("unit")
        if stats["class"] == "not enough years":
            verdict = "not testable"
        else:
            verdict = (
                "supported" if stats["class"] == _ASSERTED[asserted] else "refuted"
            )
        rows.append({**row, "reading": reading, **stats, "verdict": verdict})
    columns = ["region_group", "asserted", "reading", "class", "verdict"]
    out = pd.DataFrame(rows)
    return out[columns + [c for c in out.columns if c not in columns]]
