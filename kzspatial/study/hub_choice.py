"""The calibrated hub-choice model on the real flows: fit, agreement, sensitivity, change.

Out-migrants of every non-hub region who moved to Astana, Almaty or Shymkent chose
among the three; :func:`calibrate_hubs` fits the Huff/MCI model to those choices
(:func:`kzspatial.core.huff.fit_hub_choice`). :func:`agreement_tables` compares the
observed shares with the calibrated model (every OD year, in-sample and fitted on the
previous OD year) and with the mass-only Huff of the gravity model (focus year);
:func:`centre_sensitivity` refits under the three zone-centre choices;
:func:`catchment_changes` lists the regions whose leading hub changed. Tables only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kzspatial._constants import YEAR
from kzspatial.core.huff import (
    HubChoiceFit,
    check_hub_choice_models,
    choice_loglik,
    fit_hub_choice,
)
from kzspatial.datasets.macro_regions import load_macro_regions
from kzspatial.datasets.regions import HUB_NAMES
from kzspatial.study.inputs import StudyData

__all__ = [
    "CENTRE_METHODS",
    "CLEAR_LEAD",
    "DEFAULT_CENTRES",
    "MIN_COST_KM",
    "agreement_tables",
    "calibrate_hubs",
    "catchment_changes",
    "centre_sensitivity",
    "hub_choice_counts",
    "hub_params_table",
    "model_checks",
]

MIN_COST_KM = 5.0
"""Distance floor of the power decay (a hub city is not a point)."""

CENTRE_METHODS = {
    "population": "population-weighted GeoNames centres",
    "admin": "administrative centres",
    "representative": "polygon representative points",
}
"""Zone-centre choices for distances, by the name :func:`region_centres` takes."""

DEFAULT_CENTRES = "population"

CLEAR_LEAD = 0.10
"""A region's observed leading hub is clear when its share exceeds the second's by this."""

CALIBRATED = "calibrated Huff"
MASS_ONLY = "mass-only Huff"


def _hub_names() -> list[str]:
    return list(HUB_NAMES.values())


def hub_choice_counts(
    data: StudyData, year: int
) -> tuple[np.ndarray, list[str], list[int]]:
    """Movers from every non-hub region to each hub in ``year``.

    Returns
    -------
    counts : numpy.ndarray, shape (n_origins, 3)
        Columns in the order of :data:`HUB_NAMES`.
    origins : list of str
        Non-hub region ids, in ``data.ids`` order.
    rows : list of int
        Their positions in ``data.ids``.
    """
    ids = list(data.ids)
    hub_pos = [ids.index(h) for h in HUB_NAMES]
    rows = [i for i in range(len(ids)) if i not in hub_pos]
    F = data.matrix(year)
    F = F.toarray() if hasattr(F, "toarray") else np.asarray(F, dtype=float)
    return F[np.ix_(rows, hub_pos)], [ids[i] for i in rows], rows


def _hub_costs(D: np.ndarray, data: StudyData, rows: list[int]) -> np.ndarray:
    ids = list(data.ids)
    return D[np.ix_(rows, [ids.index(h) for h in HUB_NAMES])]


def calibrate_hubs(data: StudyData, D: np.ndarray, year: int) -> HubChoiceFit:
    """Fit hub attractiveness and power decay to the hub choices of ``year``.

    Parameters
    ----------
    data : StudyData
        In the 2024 borders.
    D : numpy.ndarray, shape (n_regions, n_regions)
        Distances (km) between the zone centres.
    year : int
        OD year.

    Returns
    -------
    HubChoiceFit
        Astana is the reference hub (``A = 1``); distances floored at 5 km.
    """
    counts, origins, rows = hub_choice_counts(data, year)
    return fit_hub_choice(
        counts,
        _hub_costs(D, data, rows),
        _hub_names(),
        origins=origins,
        cost_func="pow",
        min_cost=MIN_COST_KM,
    )


def _agreement_rows(
    year: int, model: str, counts, probabilities, origins, centres: str
) -> pd.DataFrame:
    hubs = _hub_names()
    total = counts.sum(axis=1, keepdims=True)
    observed = np.divide(
        counts, total, out=np.full(counts.shape, np.nan), where=total > 0
    )
    frame = pd.DataFrame({YEAR: year, "model": model, "region_id": origins})
    frame["movers_to_hubs"] = total[:, 0]
    for k, hub in enumerate(hubs):
        frame[f"observed_{hub.lower()}"] = observed[:, k]
    for k, hub in enumerate(hubs):
        frame[f"p_{hub.lower()}"] = probabilities[:, k]
    ordered = np.sort(np.nan_to_num(observed), axis=1)
    frame["observed_lead"] = ordered[:, -1] - ordered[:, -2]
    frame["observed_hub"] = np.asarray(hubs, dtype=object)[np.argmax(counts, axis=1)]
    frame["predicted_hub"] = np.asarray(hubs, dtype=object)[
        np.argmax(probabilities, axis=1)
    ]
    frame["agree"] = frame["observed_hub"] == frame["predicted_hub"]
    frame["loglik"] = choice_loglik(counts, probabilities)
    frame["mean_abs_share_error"] = np.abs(observed - probabilities).mean(axis=1)
    frame["centres"] = centres
    return frame


def agreement_tables(
    data: StudyData,
    D: np.ndarray,
    mass_only: tuple[dict[str, float], float],
    *,
    focus_year: int,
    centres: str = DEFAULT_CENTRES,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[int, HubChoiceFit]]:
    """Observed hub shares against the model probabilities, every region and OD year.

    Models: ``calibrated Huff`` fitted on the same year (in-sample), ``calibrated Huff,
    fitted on <previous OD year>`` (out-of-sample) and, for ``focus_year``, the
    ``mass-only Huff`` whose attractiveness and decay come from the gravity model.

    Parameters
    ----------
    data : StudyData
    D : numpy.ndarray
        Distances (km) between the zone centres.
    mass_only : (dict of hub name to float, float)
        Attractiveness and ``beta`` of the mass-only Huff.
    focus_year : int
    centres : str
        Zone-centre choice, recorded in every row.

    Returns
    -------
    regions : pandas.DataFrame
        ``year, model, region_id, movers_to_hubs, observed_<hub>, p_<hub>,
        observed_lead, observed_hub, predicted_hub, agree, loglik,
        mean_abs_share_error, centres``; observed shares are among the three hubs.
    summary : pandas.DataFrame
        Per year and model: ``fitted_on, n_regions, n_agree, loglik, loglik_null,
        mean_abs_share_error, beta, beta_se, beta_se_quasi, A_<hub>, dispersion,
        centres``.
    fits : dict of int to HubChoiceFit
        The in-sample fit of every OD year.
    """
    from kzspatial.core.catchments import huff_probabilities

    fits = {year: calibrate_hubs(data, D, year) for year in data.years}
    parts, summary = [], []
    previous = None
    for year in data.years:
        counts, origins, rows = hub_choice_counts(data, year)
        cost = _hub_costs(D, data, rows)
        models = [(CALIBRATED, year, fits[year])]
        if previous is not None:
            models.append(
                (f"{CALIBRATED}, fitted on {previous}", previous, fits[previous])
            )
        for model, fitted_on, fit in models:
            prob = np.asarray(fit.predict(cost).probabilities, dtype=float)
            parts.append(_agreement_rows(year, model, counts, prob, origins, centres))
            summary.append(_summary_row(parts[-1], fitted_on, fit, counts))
        if year == focus_year:
            attractiveness, beta = mass_only
            prob = huff_probabilities(
                cost,
                [attractiveness[h] for h in _hub_names()],
                beta,
                "pow",
                hubs=_hub_names(),
                min_cost=MIN_COST_KM,
                dtype=np.float64,
            ).probabilities
            parts.append(
                _agreement_rows(year, MASS_ONLY, counts, prob, origins, centres)
            )
            summary.append(_summary_row(parts[-1], year, None, counts, mass_only))
        previous = year
    regions = pd.concat(parts, ignore_index=True)
    return regions, pd.DataFrame(summary), fits


def _summary_row(frame, fitted_on, fit, counts, mass_only=None) -> dict:
    row = {
        YEAR: int(frame[YEAR].iloc[0]),
        "model": frame["model"].iloc[0],
        "fitted_on": fitted_on,
        "n_regions": len(frame),
        "n_agree": int(frame["agree"].sum()),
        "loglik": float(frame["loglik"].sum()),
        "loglik_null": float(counts.sum() * -np.log(counts.shape[1])),
        "mean_abs_share_error": float(frame["mean_abs_share_error"].mean()),
    }
    if fit is not None:
        se, se_q = (
            dict(zip(fit.param_names, fit.se, strict=True)),
            dict(zip(fit.param_names, fit.se_quasi, strict=True)),
        )
        row.update(beta=fit.beta, beta_se=se["beta"], beta_se_quasi=se_q["beta"])
        for hub, a in fit.attractiveness.items():
            row[f"A_{hub.lower()}"] = a
        row["dispersion"] = fit.dispersion
    else:
        attractiveness, beta = mass_only
        ref = attractiveness[_hub_names()[0]]
        row.update(beta=beta, beta_se=np.nan, beta_se_quasi=np.nan)
        for hub in _hub_names():
            row[f"A_{hub.lower()}"] = attractiveness[hub] / ref
        row["dispersion"] = np.nan
    row["centres"] = frame["centres"].iloc[0]
    return row


def hub_params_table(fit: HubChoiceFit, year: int, centres: str) -> pd.DataFrame:
    """Estimates of the calibrated model with both kinds of standard error, long."""
    return pd.DataFrame(
        {
            YEAR: year,
            "parameter": fit.param_names,
            "estimate": fit.params,
            "se": fit.se,
            "se_quasi": fit.se_quasi,
            "dispersion": fit.dispersion,
            "reference_hub": fit.reference,
            "centres": centres,
        }
    )


def catchment_changes(agreement: pd.DataFrame, first: int, last: int) -> pd.DataFrame:
    """Leading hub of every non-hub region in ``first`` and ``last``, observed and model.

    Parameters
    ----------
    agreement : pandas.DataFrame
        The ``regions`` table of :func:`agreement_tables`.
    first, last : int
        OD years compared.

    Returns
    -------
    pandas.DataFrame
        ``region_id, observed_<first>, observed_<last>, observed_changed,
        model_<first>, model_<last>, model_changed, share_astana_<first>, ...`` (model =
        calibrated Huff fitted on each year).
    """
    calibrated = agreement[agreement["model"] == CALIBRATED].set_index(
        [YEAR, "region_id"]
    )
    a, b = calibrated.loc[first], calibrated.loc[last]
    out = pd.DataFrame(index=a.index)
    out[f"observed_{first}"] = a["observed_hub"]
    out[f"observed_{last}"] = b["observed_hub"]
    out["observed_changed"] = out[f"observed_{first}"] != out[f"observed_{last}"]
    out[f"model_{first}"] = a["predicted_hub"]
    out[f"model_{last}"] = b["predicted_hub"]
    out["model_changed"] = out[f"model_{first}"] != out[f"model_{last}"]
    for hub in _hub_names():
        col = f"observed_{hub.lower()}"
        out[f"share_{hub.lower()}_{first}"] = a[col]
        out[f"share_{hub.lower()}_{last}"] = b[col]
    out["centres"] = a["centres"]
    return out.reset_index()


def centre_sensitivity(
    data: StudyData, *, focus_year: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Distance decay and catchments under the three zone-centre choices.

    Parameters
    ----------
    data : StudyData
        In the 2024 borders.
    focus_year : int

    Returns
    -------
    params : pandas.DataFrame
        ``centres, centres_method, model, parameter, estimate, se, default``: beta of
        the doubly-constrained power gravity model (robust SE) and beta and hub
        attractiveness of the calibrated Huff (quasi-likelihood SE), plus the number of
        non-hub regions whose leading hub the calibrated model gets right.
    regions : pandas.DataFrame
        ``centres, region_id, observed_hub, predicted_hub, p_<hub>``.
    """
    from kzspatial.study.gravity_suite import centre_distances, fit_model

    params, regions = [], []
    for centres, method in CENTRE_METHODS.items():
        _, D = centre_distances(data, centres=centres)
        gravity = fit_model(data, D, focus_year, "doubly", "pow")
        fit = calibrate_hubs(data, D, focus_year)
        counts, origins, rows = hub_choice_counts(data, focus_year)
        prob = np.asarray(fit.predict(_hub_costs(D, data, rows)).probabilities, float)
        table = _agreement_rows(focus_year, CALIBRATED, counts, prob, origins, centres)
        base = {"centres": centres, "centres_method": method}
        params.append(
            {
                **base,
                "model": "doubly/pow gravity",
                "parameter": "beta",
                "estimate": gravity.params["beta"],
                "se": gravity.bse_robust["beta"],
            }
        )
        for name, est, se in zip(
            fit.param_names, fit.params, fit.se_quasi, strict=True
        ):
            params.append(
                {
                    **base,
                    "model": CALIBRATED,
                    "parameter": name,
                    "estimate": est,
                    "se": se,
                }
            )
        params.append(
            {
                **base,
                "model": CALIBRATED,
                "parameter": "regions_leading_hub_right",
                "estimate": float(table["agree"].sum()),
                "se": np.nan,
            }
        )
        keep = ["region_id", "observed_hub", "predicted_hub"]
        keep += [c for c in table.columns if c.startswith("p_")]
        regions.append(table[keep].assign(centres=centres))
    params_frame = pd.DataFrame(params)
    params_frame[YEAR] = focus_year
    params_frame["default"] = params_frame["centres"] == DEFAULT_CENTRES
    return params_frame, pd.concat(regions, ignore_index=True)


def model_checks(
    data: StudyData, D: np.ndarray, *, centres: str = DEFAULT_CENTRES
) -> pd.DataFrame:
    """Richer hub-choice models against the calibrated one, every OD year.

    For each year, :func:`kzspatial.core.huff.check_hub_choice_models` fits the
    calibrated model (common decay), hub-specific decays and hub preferences by
    macro-region (kzspatial's five-zone grouping, fixed before looking at the choices),
    and tests the added parameters with the quasi-likelihood F test. Each row also
    counts the regions with a clear observed leader (lead above :data:`CLEAR_LEAD`)
    and which of them the model gets wrong, so a user can see whether a model that
    gets a region right is one the data support.

    Parameters
    ----------
    data : StudyData
        In the 2024 borders.
    D : numpy.ndarray
        Distances (km) between the zone centres.
    centres : str
        Zone-centre choice, recorded in every row.

    Returns
    -------
    pandas.DataFrame
        ``year, model, n_params, loglik, dispersion, df_extra, df_resid, f_stat,
        p_value, n_clear_leaders, n_clear_right, clear_missed, centres``.
    """
    zone = load_macro_regions().set_index("region_id")["macro_region"]
    rows = []
    for year in data.years:
        counts, origins, positions = hub_choice_counts(data, year)
        shares = counts / counts.sum(axis=1, keepdims=True)
        ordered = np.sort(shares, axis=1)
        clear = ordered[:, -1] - ordered[:, -2] > CLEAR_LEAD
        checks = check_hub_choice_models(
            counts,
            _hub_costs(D, data, positions),
            _hub_names(),
            origins=origins,
            origin_groups=zone.loc[origins].to_list(),
            cost_func="pow",
            min_cost=MIN_COST_KM,
        )
        for check in checks:
            wrong = clear & (
                np.argmax(counts, axis=1) != np.argmax(check.probabilities, axis=1)
            )
            rows.append(
                {
                    YEAR: year,
                    "model": check.model,
                    "n_params": check.n_params,
                    "loglik": check.loglik,
                    "dispersion": check.dispersion,
                    "df_extra": check.df_extra,
                    "df_resid": check.df_resid,
                    "f_stat": check.f_stat,
                    "p_value": check.p_value,
                    "n_clear_leaders": int(clear.sum()),
                    "n_clear_right": int(clear.sum() - wrong.sum()),
                    "clear_missed": ", ".join(np.asarray(origins)[wrong]),
                    "centres": centres,
                }
            )
    return pd.DataFrame(rows)
