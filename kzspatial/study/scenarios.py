"""What-if scenarios on the study's gravity model: flows and nets against the baseline.

:func:`run_scenario` fits the study's push-pull model (the 2023-2024 panel of moves
between the 20 regions, power decay over great-circle distances between
population-weighted centres, log population, log GRP per capita and unemployment of
origin and destination as the chosen constraint can identify them; see
:func:`kzspatial.study.gravity_suite.push_pull_covariates`), applies the changes of a
:class:`~kzspatial.study.scenario_file.Scenario` (the TOML format is documented in
:mod:`kzspatial.study.scenario_file`) to the baseline year, and predicts flows and
regional nets with intervals by parametric simulation from the coefficient covariance
(:mod:`kzspatial.core.scenario`).

Nothing here writes files: :class:`ScenarioResult` gives the CSV tables
(:meth:`~ScenarioResult.tables`), a GeoPackage layer
(:meth:`~ScenarioResult.regions_layer`), the study report's section
(:meth:`~ScenarioResult.report_section`) and a text summary for the CLI.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from kzspatial._constants import DESTINATION, ORIGIN
from kzspatial._errors import ValidationError
from kzspatial.core.gravity import GravityFit, fit_gravity
from kzspatial.core.scenario import (
    ScenarioForecast,
    ZoneState,
    simulate_scenario_from_fit,
)
from kzspatial.datasets.regions import get_region
from kzspatial.study.gravity_suite import centre_distances, push_pull_panel
from kzspatial.study.inputs import StudyData, load_study_data
from kzspatial.study.scenario_file import (
    IDENTIFIED_SIDES,
    SCENARIO_YEARS,
    VARIABLES,
    Scenario,
    load_scenario,
)

__all__ = [
    "Scenario",
    "ScenarioModel",
    "ScenarioResult",
    "fit_scenario_model",
    "load_scenario",
    "run_scenario",
    "run_scenario_file",
]


@dataclasses.dataclass(frozen=True, eq=False)
class ScenarioModel:
    """The fitted push-pull panel a scenario runs on.

    Attributes
    ----------
    fit : GravityFit
        Panel fit over :data:`~kzspatial.study.scenario_file.SCENARIO_YEARS`.
    distance_km : ndarray, shape (n, n)
        Great-circle distances between population-weighted centres.
    covariates : dict of int to dict of str to ndarray
        Zone covariates of each flow year (the same for origin and destination).
    covariate_years : dict of int to dict of str to int
        Which year of each covariate entered each flow year.
    observed : dict of int to ndarray, shape (n, n)
        Observed flows of each year.
    ids : tuple of str
    """

    fit: GravityFit
    distance_km: np.ndarray
    covariates: dict[int, dict[str, np.ndarray]]
    covariate_years: dict[int, dict[str, int]]
    observed: dict[int, np.ndarray]
    ids: tuple[str, ...]


def fit_scenario_model(data: StudyData, model: str) -> ScenarioModel:
    """Fit the study's push-pull panel under the constraint ``model``.

    Same flows, distances and covariates as the study's inequality model (the 2023-2024
    panel); the covariates enter on the sides the constraint identifies (origin for
    ``"attraction"``, destination for ``"production"``, both for ``"unconstrained"``,
    none for ``"doubly"``).

    Parameters
    ----------
    data : StudyData
        Loaded in the 2024 borders with the panel years.
    model : {"unconstrained", "production", "attraction", "doubly"}

    Returns
    -------
    ScenarioModel
    """
    missing = sorted(set(SCENARIO_YEARS) - set(data.years))
    if missing or data.borders != "2024":
        raise ValidationError(
            f"scenarios need the {'-'.join(map(str, SCENARIO_YEARS))} flows in the 2024 "
            f"borders; loaded years {data.years} in the {data.borders} borders"
        )
    _, distance = centre_distances(data, centres="population")
    years = list(SCENARIO_YEARS)
    flows, stacked, covariate_years = push_pull_panel(data, years)
    sides = IDENTIFIED_SIDES[model]
    fit = fit_gravity(
        flows,
        distance,
        constraint=model,
        cost_func="pow",
        ids=list(data.ids),
        years=years,
        origin_vars=stacked if "origin" in sides else None,
        destination_vars=stacked if "destination" in sides else None,
    )
    return ScenarioModel(
        fit=fit,
        distance_km=distance,
        covariates={
            y: {k: v[t] for k, v in stacked.items()} for t, y in enumerate(years)
        },
        covariate_years=covariate_years,
        observed={y: flows[t] for t, y in enumerate(years)},
        ids=tuple(data.ids),
    )


def _shocked_values(
    scenario: Scenario, base: dict[str, np.ndarray], ids: Sequence[str], side: str
) -> tuple[dict[str, np.ndarray], list[str], list[str]]:
    """Covariates of one side after the shocks; out-of-range problems; extrapolations."""
    out = {k: v.copy() for k, v in base.items()}
    problems, outside = [], []
    for shock in scenario.shocks:
        if side not in _sides(shock.side):
            continue
        var = VARIABLES[shock.variable]
        levels = np.exp(base[var.column]) if var.log else base[var.column]
        for region in shock.regions:
            i = ids.index(region)
            old = levels[i]
            new = (
                old * (1 + shock.change)
                if shock.change is not None
                else old + shock.add
            )
            below = new <= var.low if var.low_open else new < var.low
            if below or new > var.high:
                bound = "(" if var.low_open else "["
                problems.append(
                    f"{scenario.source}: {shock.entry}: {shock.variable} of "
                    f"{_name(region)} would be {new:.4g} {var.unit} (from {old:.4g}), "
                    f"outside {bound}{var.low:g}, {var.high:g}]; use a smaller change"
                )
                continue
            if not levels.min() <= new <= levels.max():
                # the fit has seen no region there: the prediction extrapolates
                outside.append(
                    f"{shock.variable} of {_name(region)} {new:.4g} "
                    f"(regions: {levels.min():.4g} to {levels.max():.4g} {var.unit})"
                )
            out[var.column][i] = np.log(new) if var.log else new
    return out, problems, outside


def _sides(side: str) -> tuple[str, ...]:
    return ("origin", "destination") if side == "both" else (side,)


def _scenario_state(
    scenario: Scenario, model: ScenarioModel
) -> tuple[ZoneState, ZoneState, tuple[str, ...]]:
    """Baseline and scenario zone states of the scenario year, and extrapolations."""
    ids = list(model.ids)
    base_vars = model.covariates[scenario.year]
    origin, p_o, x_o = _shocked_values(scenario, base_vars, ids, "origin")
    destination, p_d, x_d = _shocked_values(scenario, base_vars, ids, "destination")
    problems = sorted(set(p_o + p_d))
    if problems:
        raise ValidationError(
            problems[0]
            if len(problems) == 1
            else "shocked values out of range:\n- " + "\n- ".join(problems)
        )
    cost = model.distance_km.copy()
    for link in scenario.links:
        i, j = ids.index(link.between[0]), ids.index(link.between[1])
        for a, b in ((i, j), (j, i)):
            cost[a, b] = (
                link.cost_km if link.cost_km is not None else cost[a, b] * link.factor
            )
    mass = np.ones(len(ids))
    for hub in scenario.hubs:
        mass[ids.index(hub.region)] = hub.factor
    baseline = ZoneState(model.distance_km, base_vars, base_vars)
    extrapolated = tuple(dict.fromkeys(x_o + x_d))  # unique, in order
    return baseline, ZoneState(cost, origin, destination, mass), extrapolated


def run_scenario(
    scenario: Scenario,
    *,
    data: StudyData | None = None,
    model: ScenarioModel | None = None,
) -> ScenarioResult:
    """Predict flows and regional nets under a scenario, against the baseline.

    Parameters
    ----------
    scenario : Scenario
        From :func:`~kzspatial.study.scenario_file.load_scenario`.
    data : StudyData, optional
        Loaded study data (2024 borders, 2023 and 2024 flows); loaded when omitted.
    model : ScenarioModel, optional
        A fit of :func:`fit_scenario_model` under ``scenario.model`` to reuse.

    Returns
    -------
    ScenarioResult

    Raises
    ------
    ValidationError
        Shocked values out of range (e.g. unemployment below 0 %), a model of another
        constraint, or data without the panel years.
    """
    if model is None:
        if data is None:
            data = load_study_data(SCENARIO_YEARS, borders="2024")
        model = fit_scenario_model(data, scenario.model)
    if model.fit.constraint != scenario.model:
        raise ValidationError(
            f"the given model is {model.fit.constraint}-constrained but the scenario "
            f"asks for model = {scenario.model!r}; fit it with fit_scenario_model"
        )
    baseline, changed, extrapolated = _scenario_state(scenario, model)
    forecast = simulate_scenario_from_fit(
        model.fit,
        baseline,
        changed,
        year=scenario.year,
        cov=scenario.covariance,
        draws=scenario.draws,
        level=scenario.level,
        rng=scenario.seed,
    )
    return ScenarioResult(
        scenario=scenario,
        forecast=forecast,
        ids=model.ids,
        observed=model.observed[scenario.year],
        coefficients=_coefficients(model.fit, scenario),
        covariate_years=model.covariate_years[scenario.year],
        extrapolated=extrapolated,
    )


def run_scenario_file(
    path: str | Path, *, data: StudyData | None = None
) -> ScenarioResult:
    """:func:`load_scenario` then :func:`run_scenario` (the CLI's ``scenario FILE``)."""
    return run_scenario(load_scenario(path), data=data)


def _coefficients(fit: GravityFit, scenario: Scenario) -> pd.DataFrame:
    table = fit.table(cov=scenario.covariance, alpha=1 - scenario.level)
    frame = pd.DataFrame({k: v for k, v in table.items() if k != "index"})
    frame.insert(0, "parameter", table["index"])
    frame.insert(1, "model", f"{scenario.model}/pow, panel 2023-2024")
    frame["covariance"] = scenario.covariance
    return frame


_MODEL_LABEL = {
    "unconstrained": "unconstrained",
    "production": "production-constrained",
    "attraction": "attraction-constrained",
    "doubly": "doubly-constrained",
}


def _name(region_id: str) -> str:
    return get_region(region_id).name_en


@dataclasses.dataclass(frozen=True, eq=False)
class ScenarioResult:
    """Flows and nets of a scenario against the baseline, with intervals.

    Attributes
    ----------
    scenario : Scenario
    forecast : ScenarioForecast
        Arrays in the order of ``ids``.
    ids : tuple of str
    observed : ndarray, shape (n, n)
        Observed flows of the scenario year.
    coefficients : pandas.DataFrame
        The fitted coefficients with the covariance and level of the scenario.
    covariate_years : dict of str to int
        Which year of each covariate the baseline uses.
    extrapolated : tuple of str
        Shocked values outside the range the regions show (the fit has not seen them).
    """

    scenario: Scenario
    forecast: ScenarioForecast
    ids: tuple[str, ...]
    observed: np.ndarray
    coefficients: pd.DataFrame
    covariate_years: dict[str, int]
    extrapolated: tuple[str, ...] = ()

    @property
    def flows(self) -> pd.DataFrame:
        """One row per pair: observed, baseline and scenario flows, change, intervals."""
        f = self.forecast
        i, j = np.nonzero(~np.isnan(f.baseline))
        frame = pd.DataFrame(
            {
                ORIGIN: np.asarray(self.ids)[i],
                DESTINATION: np.asarray(self.ids)[j],
                "origin_name": [_name(self.ids[k]) for k in i],
                "destination_name": [_name(self.ids[k]) for k in j],
                "observed": self.observed[i, j],
                "baseline": f.baseline[i, j],
                "scenario": f.scenario[i, j],
                "scenario_low": f.scenario_low[i, j],
                "scenario_high": f.scenario_high[i, j],
                "change": f.change[i, j],
                "change_low": f.change_low[i, j],
                "change_high": f.change_high[i, j],
            }
        )
        frame["change_pct"] = 100 * frame["change"] / frame["baseline"]
        return frame

    @property
    def nets(self) -> pd.DataFrame:
        """One row per region: in-, out-flows and net, baseline and scenario, intervals."""
        f = self.forecast
        changed = self._changes_by_region()
        obs = np.where(np.eye(len(self.ids), dtype=bool), 0.0, self.observed)
        frame = pd.DataFrame(
            {
                "region_id": list(self.ids),
                "name": [_name(r) for r in self.ids],
                "changed": [changed.get(r, "") for r in self.ids],
                "out_baseline": np.nansum(f.baseline, axis=1),
                "out_scenario": np.nansum(f.scenario, axis=1),
                "in_baseline": np.nansum(f.baseline, axis=0),
                "in_scenario": np.nansum(f.scenario, axis=0),
                "net_observed": obs.sum(axis=0) - obs.sum(axis=1),
                "net_baseline": f.net_baseline,
                "net_scenario": f.net_scenario,
                "net_change": f.net_change,
                "net_change_low": f.net_change_low,
                "net_change_high": f.net_change_high,
            }
        )
        return frame

    def _changes_by_region(self) -> dict[str, str]:
        s = self.scenario
        notes: dict[str, list[str]] = {}
        for shock in s.shocks:
            amount = (
                f"{100 * shock.change:+g}%"
                if shock.change is not None
                else f"{shock.add:+g}"
            )
            side = "" if shock.side == "both" else f" ({shock.side} side)"
            for r in shock.regions:
                notes.setdefault(r, []).append(f"{shock.variable} {amount}{side}")
        for hub in s.hubs:
            notes.setdefault(hub.region, []).append(
                f"attractiveness {100 * (hub.factor - 1):+g}%"
            )
        for link in s.links:
            what = (
                f"{100 * (link.factor - 1):+g}%"
                if link.factor is not None
                else f"= {link.cost_km:g} km"
            )
            for a, b in (link.between, link.between[::-1]):
                notes.setdefault(a, []).append(f"distance to {_name(b)} {what}")
        return {r: "; ".join(v) for r, v in notes.items()}

    @property
    def note(self) -> str:
        """What the scenario does, what the model holds fixed, and how to read it."""
        s, f = self.scenario, self.forecast
        total = float(np.nansum(f.change))
        pct = round(100 * s.level)
        absorbed = [
            f"{shock.variable} ({shock.entry})"
            for shock in s.shocks
            if shock.side == "both" and len(IDENTIFIED_SIDES[s.model]) == 1
        ]
        parts = [
            f"{s.name}: {_MODEL_LABEL[s.model]} gravity model (power decay) of moves between "
            f"regions, fitted on the {'-'.join(map(str, SCENARIO_YEARS))} panel; baseline "
            f"{s.year} with GRP per capita of {self.covariate_years['grp_per_capita']} "
            f"and unemployment of {self.covariate_years['unemployment']}.",
            f"Held fixed: {f.held_fixed}",
        ]
        if absorbed:
            side = sorted(IDENTIFIED_SIDES[s.model])[0]
            parts.append(
                f"Only the {side} side of {', '.join(absorbed)} acts in this model."
            )
        if self.extrapolated:
            parts.append(
                "Outside the range of the data, so the prediction extrapolates: "
                + "; ".join(self.extrapolated)
                + "."
            )
        if s.model == "unconstrained":
            parts.append(
                f"Total moves change by {total:+,.0f} ({pct} % interval "
                f"{f.total_change_low:+,.0f} to {f.total_change_high:+,.0f})."
            )
        parts.append(
            "Intervals: "
            f"{f.draws} draws of the coefficients from their {s.covariance} covariance"
            + (" (negative eigenvalues set to zero)" if f.covariance_clipped else "")
            + f", seed {s.seed}; they cover coefficient uncertainty only, not the model's "
            "form. Associations, not causal effects."
        )
        return " ".join(parts)

    def report_section(self) -> dict[str, object]:
        """Return the study report's scenario section: ``{"title", "note", "table"}``."""
        nets = self.nets
        table = nets[
            ["name", "changed", "net_baseline", "net_scenario", "net_change"]
        ].copy()
        table["interval"] = [
            f"{lo:+,.0f} to {hi:+,.0f}"
            for lo, hi in zip(
                nets["net_change_low"], nets["net_change_high"], strict=True
            )
        ]
        for col in ("net_baseline", "net_scenario", "net_change"):
            table[col] = table[col].round(0)
        table = table.rename(
            columns={
                "name": "Region",
                "changed": "Change",
                "net_baseline": "Net, baseline",
                "net_scenario": "Net, scenario",
                "net_change": "Net change",
                "interval": f"{round(100 * self.scenario.level)} % interval",
            }
        )
        return {
            "title": f"Scenario: {self.scenario.name}",
            "note": self.note,
            "table": table,
        }

    def tables(self) -> dict[str, pd.DataFrame]:
        """CSV tables: ``scenario_flows``, ``scenario_nets``, ``scenario_coefficients``."""
        return {
            "scenario_flows": self.flows,
            "scenario_nets": self.nets,
            "scenario_coefficients": self.coefficients,
        }

    def regions_layer(self, regions: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """Region polygons with the nets, for a GeoPackage layer or a map.

        Parameters
        ----------
        regions : geopandas.GeoDataFrame
            With a ``region_id`` column (e.g. ``StudyData.regions``).

        Returns
        -------
        geopandas.GeoDataFrame
            ``region_id, geometry`` and the columns of :attr:`nets`.
        """
        nets = self.nets.drop(columns=["name"]) if "name" in regions else self.nets
        out = regions[
            ["region_id", *(["name"] if "name" in regions else []), "geometry"]
        ]
        return gpd.GeoDataFrame(
            out.merge(nets, on="region_id", how="inner", validate="1:1"),
            geometry="geometry",
            crs=regions.crs,
        )

    def summary(self) -> str:
        """Summarise as text: the note and the regions by size of net change."""
        nets = self.nets.reindex(
            self.nets["net_change"].abs().sort_values(ascending=False).index
        )
        lines = [self.note, "", f"{'region':<20}{'net change':>12}  interval"]
        lines += [
            f"{row.name:<20}{row.net_change:>+12,.0f}  "
            f"{row.net_change_low:+,.0f} to {row.net_change_high:+,.0f}"
            for row in nets.itertuples()
        ]
        return "\n".join(lines)
