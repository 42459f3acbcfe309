"""Published-figure check: validation errors, concepts, and the study's Table 6."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kzspatial._errors import ValidationError
from kzspatial.study.published import (
    check_published,
    published_from_wide,
    read_published,
    validate_published,
)
from kzspatial.study.trends import BETWEEN_REGIONS, WITHIN_REPUBLIC

EXAMPLES = Path(__file__).parents[1] / "examples" / "published"


def _national():
    return pd.DataFrame(
        {
            "year": [2023, 2024],
            "period": "full year",
            "od_status": "checked",
            "moves_between_regions": [400.0, 500.0],
            "moves_within_republic": [1000.0, np.nan],
            "share_to_three_cities": [0.5, 0.5],
            "arrivals_share_three_cities": [0.4, np.nan],
            "urban_share": [0.6, np.nan],
        }
    )


def test_validation_names_line_and_column(tmp_path):
    path = tmp_path / "figures.csv"
    path.write_text(
        "year,variable,value,unit,region\n"
        "2023,internal_migration,abc,thousand,\n"
        "20x3,urban_share,61,%,\n"
        "2023,migration,1,thousand,\n"
        "2023,urban_share,61,thousand,\n"
        "2023,urban_share,61,%,Karaganda\n"
        "2023,net_migration,5,persons,Atlantis\n",
        encoding="utf-8",
    )
    with pytest.raises(ValidationError) as err:
        read_published(path)
    message = str(err.value)
    for expected in (
        "line 2, column 'value'",
        "line 3, column 'year'",
        "line 4, column 'variable'",
        "line 5, column 'unit'",
        "line 6, column 'region': urban_share is national only",
        "line 7, column 'region'",
    ):
        assert expected in message


def test_missing_columns_and_duplicates():
    with pytest.raises(ValidationError, match=r"missing column\(s\) \['unit'\]"):
        validate_published(pd.DataFrame({"year": [1], "variable": ["x"], "value": [1]}))
    table = pd.DataFrame(
        {"year": [2023, 2023], "variable": "urban_share", "value": 60, "unit": "%"}
    )
    with pytest.raises(ValidationError, match="lines 2, 3"):
        validate_published(table)


def test_closest_concept_and_flags():
    table = pd.DataFrame(
        {
            "year": [2023, 2024],
            "variable": "internal_migration",
            "value": [1.01, 1.0],
            "unit": "thousand",
        }
    )
    out = check_published(table, national=_national(), tolerance=0.05)
    y23 = out[out["year"] == 2023].set_index("concept")
    assert bool(y23.at[WITHIN_REPUBLIC, "closest"])
    assert not y23.at[WITHIN_REPUBLIC, "flagged"]
    assert y23.at[BETWEEN_REGIONS, "flagged"]
    assert y23.at[BETWEEN_REGIONS, "official"] == 0.4  # thousand
    assert y23["verdict"].iat[0].startswith("matches all moves within the republic")
    y24 = out[out["year"] == 2024]
    assert (
        "no official figure for all moves within the republic" in y24["verdict"].iat[0]
    )


def test_wide_to_long():
    wide = pd.DataFrame({"year": [2010], "urban_share_pct": [57.4]})
    out = published_from_wide(wide, {"urban_share_pct": ("urban_share", "%")})
    assert out.to_dict("records") == [
        {"year": 2010, "variable": "urban_share", "value": 57.4, "unit": "%"}
    ]


@pytest.mark.data
def test_study_internal_migration_2022_2024_flagged_under_both_concepts():
    wide = pd.read_csv(EXAMPLES / "study_table6_national_series.csv")
    out = check_published(published_from_wide(wide))
    rows = out[
        (out["variable"] == "internal_migration") & out["year"].between(2022, 2024)
    ]
    assert set(rows["concept"]) == {BETWEEN_REGIONS, WITHIN_REPUBLIC}
    assert len(rows) == 6 and rows["flagged"].all()
    assert rows["official"].notna().all()
    # the committed long example is the wide table converted, not typed in
    long = read_published(EXAMPLES / "study_table6_published_figures.csv")
    assert len(long) == len(published_from_wide(wide))


@pytest.mark.data
def test_official_national_with_a_given_population_equals_the_loaded_one():
    from kzspatial.datasets.population import load_population
    from kzspatial.study.published import load_official_national

    population = load_population()
    before = population.copy()
    given = load_official_national(population)
    pd.testing.assert_frame_equal(given, load_official_national())
    pd.testing.assert_frame_equal(population, before)  # the caller's frame is untouched
