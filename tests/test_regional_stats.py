"""Tests of kzspatial.datasets.regional_stats.

Unit tests build tiny workbooks in code with synthetic numbers laid out like the BNS
files; ``data`` tests read the registered files through the public loaders.
"""

import hashlib
import math

import openpyxl
import pandas as pd
import pytest

from kzspatial._errors import ValidationError
from kzspatial.datasets import population
from kzspatial.datasets import regional_stats as rs
from kzspatial.datasets.regions import HUB_IDS, configuration_ids

# Row labels in the order and spelling of the BNS population workbook.
POPULATION_LABELS = [
    "Абай",
    "Акмолинская",
    "Актюбинская",
    "Алматинская",
    "Атырауская",
    "Западно-Казахстанская",
    "Жамбылская",
    "Жетісу",
    "Карагандинская",
    "Костанайская",
    "Кызылординская",
    "Мангистауская",
    "Павлодарская",
    "Северо-Казахстанская",
    "Туркестанская 1",
    "Ұлытау",
    "Восточно-Казахстанская",
    "г. Астана",
    "г. Алматы",
    "г. Шымкент",
]
CITY_LABELS = {"г. Астана", "г. Алматы", "г. Шымкент"}
SPLIT_2022 = {"Абай", "Жетісу", "Ұлытау"}
YEARS = (2007, 2016, 2017, 2022)  # each border configuration; both urban definitions


def exists(label, year):
    """Whether a unit has its own figures in the BNS workbook for ``year``."""
    if label in SPLIT_2022:
        return year >= 2022
    if label == "г. Шымкент":
        return year >= 2017
    return True


def synthetic_counts(i, label, year):
    total = 10_000 + 100 * i + (year - 2000)
    urban = total if label in CITY_LABELS else total * 3 // 5
    return {"total": total, "urban": urban, "rural": total - urban}


def write_population_workbook(path, *, years=YEARS, edit=None):
    """Three sheets as in population_source.xlsx, sums consistent by construction."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)

    def rows(kind, share, labels):
        out, national = [], [0] * len(years)
        for label in labels:
            i = POPULATION_LABELS.index(label)
            cells = []
            for k, year in enumerate(years):
                if exists(label, year):
                    value = share(synthetic_counts(i, label, year)[kind])
                    national[k] += value
                    cells.append(value)
                else:
                    cells.append("-")
            out.append([label, *cells])
        return [["Республика Казахстан ", *national], *out]

    def male(v):
        return v // 2

    def female(v):
        return v - v // 2

    ws = wb.create_sheet("Все население")
    ws.append([None, *years])
    for row in rows("total", lambda v: v, POPULATION_LABELS):
        ws.append(row)
    for sheet, share, title in (
        ("Мужчины", male, "Мужчины"),
        ("Женщины", female, "Женщины"),
    ):
        ws = wb.create_sheet(sheet)
        ws.append([])
        ws.append([f"Численность ({sheet})"])
        ws.append([])
        ws.append([])
        ws.append([None] * len(years) + ["человек, на начало года"])
        ws.append([None, *years])
        for block, kind, labels in (
            (title, "total", POPULATION_LABELS),
            ("Городское население", "urban", POPULATION_LABELS),
            (
                "Сельское население",
                "rural",
                [lb for lb in POPULATION_LABELS if lb not in CITY_LABELS],
            ),
        ):
            ws.append([block])
            for row in rows(kind, share, labels):
                ws.append(row)
        ws.append(["1) Данные за 2000-2016гг. по Южно-Казахстанской области."])
    if edit:
        edit(wb)
    wb.save(path)
    return path


def row_of(ws, label, *, start=1):
    for r in range(start, ws.max_row + 1):
        if ws.cell(r, 1).value == label:
            return r
    raise AssertionError(label)


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- population


def test_population_configurations_inferred_per_year(tmp_path):
    df = population.load_population(path=write_population_workbook(tmp_path / "p.xlsx"))
    assert list(df.columns[:3]) == ["region_id", "year", "configuration"]
    by_year = df.groupby("year")
    for year, conf in {2016: "2010", 2017: "2018", 2022: "2024"}.items():
        part = by_year.get_group(year)
        assert set(part["configuration"]) == {conf}
        assert sorted(part["region_id"]) == sorted(configuration_ids(conf))
    assert df.attrs["configuration_by_year"] == {
        2007: "2010",
        2016: "2010",
        2017: "2018",
        2022: "2024",
    }
    # the footnote-marked «Туркестанская 1» is South Kazakhstan before the split
    assert "KZ-51" in set(by_year.get_group(2016)["region_id"])
    assert "KZ-61" in set(by_year.get_group(2017)["region_id"])


def test_population_counts_add_up(tmp_path):
    df = population.load_population(path=write_population_workbook(tmp_path / "p.xlsx"))
    assert (df["urban"] + df["rural"] == df["population"]).all()
    assert df["urban_share"].between(0, 1).all()
    cities = df[df["region_id"].isin(HUB_IDS)]
    assert (cities["rural"] == 0).all() and (cities["urban_share"] == 1).all()
    expected = {
        r["year"]: r["national"]
        for r in df.attrs["national_check"]
        if r["sheet"] == "Все население"
    }
    assert df.groupby("year")["population"].sum().to_dict() == expected
    assert set(df.loc[df["year"] < 2008, "urban_definition"]) == {"pre-2008"}
    assert set(df.loc[df["year"] >= 2008, "urban_definition"]) == {"2008"}
    assert df.attrs["source"]["key"] == "population_source.xlsx"
    assert df.attrs["source"]["unit"]


@pytest.mark.parametrize(
    ("measure", "columns"),
    [
        ("total", ["population"]),
        ("urban", ["urban"]),
        ("rural", ["rural"]),
        ("all", ["population", "urban", "rural", "urban_share", "urban_definition"]),
    ],
    ids=["total", "urban", "rural", "all"],
)
def test_population_measure_selects_columns(tmp_path, measure, columns):
    path = write_population_workbook(tmp_path / "p.xlsx")
    df = population.load_population(measure=measure, path=path)
    assert list(df.columns) == ["region_id", "year", "configuration", *columns]


def test_population_unknown_measure(tmp_path):
    with pytest.raises(ValidationError, match="measure='men'"):
        population.load_population(measure="men", path=tmp_path / "never-read.xlsx")


def test_population_missing_sheet_names_file_and_sheet(tmp_path):
    path = write_population_workbook(
        tmp_path / "p.xlsx", edit=lambda wb: wb.remove(wb["Женщины"])
    )
    with pytest.raises(
        ValidationError, match=r"p\.xlsx[\s\S]*sheet 'Женщины'.*missing"
    ):
        population.load_population(path=path)


def test_population_reports_all_problems_at_once(tmp_path):
    def corrupt(wb):
        ws = wb["Все население"]
        ws.cell(row_of(ws, "Акмолинская"), 2).value = "n/a"
        ws.cell(row_of(ws, "Павлодарская"), 1).value = "Атлантида"

    path = write_population_workbook(tmp_path / "p.xlsx", edit=corrupt)
    before = sha256(path)
    with pytest.raises(ValidationError) as info:
        population.load_population(path=path)
    message = str(info.value)
    assert str(path) in message
    assert "row 4, cell B4 (2007): 'n/a' is not a number" in message
    wb = openpyxl.load_workbook(path)
    row = row_of(wb["Все население"], "Атлантида")
    assert f"row {row}: unknown region name 'Атлантида'" in message
    assert "Fix:" in message
    assert sha256(path) == before  # the input is never modified


def test_population_regions_must_sum_to_national(tmp_path):
    def inflate(wb):
        ws = wb["Все население"]
        ws.cell(row_of(ws, "Атырауская"), 4).value += 1

    path = write_population_workbook(tmp_path / "p.xlsx", edit=inflate)
    with pytest.raises(
        ValidationError, match=r"Все население.*2017: national population"
    ):
        population.load_population(path=path)


def test_population_year_without_a_configuration(tmp_path):
    def drop_unit(wb):  # 2022 loses Ulytau: 19 units are no border configuration
        ws = wb["Все население"]
        ws.cell(row_of(ws, "Ұлытау"), 5).value = "-"

    path = write_population_workbook(tmp_path / "p.xlsx", edit=drop_unit)
    with pytest.raises(ValidationError, match=r"column\(s\) 2022.*missing \['KZ-62'\]"):
        population.load_population(path=path)


def test_population_csv_cross_check(tmp_path):
    path = write_population_workbook(tmp_path / "p.xlsx")
    df = population.load_population(path=path)
    long = pd.DataFrame(
        {
            "Область": ["г. Астана", "Туркестанская 1"],
            "Год": [2017, 2016],
            "Население": [
                float(
                    df.query("year == 2017 and region_id == 'KZ-71'")[
                        "population"
                    ].iloc[0]
                ),
                float(
                    df.query("year == 2016 and region_id == 'KZ-51'")[
                        "population"
                    ].iloc[0]
                ),
            ],
        }
    )
    long.to_csv(tmp_path / "ok.csv")
    checked = population.load_population(path=path, csv_path=tmp_path / "ok.csv")
    assert checked.attrs["csv_cross_check"]["rows_compared"] == 2
    long.loc[0, "Население"] += 5
    long.to_csv(tmp_path / "bad.csv")
    with pytest.raises(ValidationError, match=r"bad\.csv[\s\S]*differ"):
        population.load_population(path=path, csv_path=tmp_path / "bad.csv")


# --------------------------------------------------------------------------- GRP

GRP_LABELS_2018 = [
    lb.replace("Туркестанская 1", "Туркестанская2)").replace(
        "г. Шымкент", "г.Шымкент2)"
    )
    for lb in POPULATION_LABELS
]


def write_grp_workbook(path, *, edit=None):
    """Two sheets, cumulative quarterly columns plus '<year> год'; 2017 and 2018."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    header = [
        None,
        "I квартал 2017 года",
        "2017 год",
        "I квартал 2018 года",
        "2018 год",
    ]
    for sheet, scale in (("тыс.тенге", 1.0), ("в долларах США", 3.0)):
        ws = wb.create_sheet(sheet)
        ws.append(["Валовой региональный продукт на душу населения1)"])
        ws.append([None, None, None, None, "тыс.тенге"])
        ws.append(header)
        ws.append(
            ["Республика Казахстан", 50 * scale, 105 * scale, 60 * scale, 115 * scale]
        )
        for i, label in enumerate(GRP_LABELS_2018):
            values = [None] * 4  # units created in 2022
            if label in {"Туркестанская2)", "г.Шымкент2)"}:
                values = [None, None, 12 * scale, (120 + i) * scale]
            elif label not in SPLIT_2022:
                values = [10 * scale, (100 + i) * scale, 11 * scale, (110 + i) * scale]
            ws.append([label, *values])
        ws.append(["Южно-Казахстанская", 9 * scale, 95 * scale, 9 * scale, None])
        ws.append([])
        ws.append(
            [
                "2) c 1990 по 2018 годы Туркестанская область и город Шымкент были "
                "в составе Южно-Казахстанской области."
            ]
        )
    if edit:
        edit(wb)
    wb.save(path)
    return path


def test_grp_annual_columns_and_glued_footnotes(tmp_path):
    df = rs.load_grp_per_capita(path=write_grp_workbook(tmp_path / "g.xlsx"))
    assert sorted(df["year"].unique()) == [2017, 2018]
    assert df.attrs["configuration_by_year"] == {2017: "2010", 2018: "2018"}
    y2018 = df[df["year"] == 2018].set_index("region_id")
    assert {"KZ-61", "KZ-79"} <= set(y2018.index) and "KZ-51" not in y2018.index
    assert "KZ-51" in set(df.loc[df["year"] == 2017, "region_id"])
    ratio = df["grp_per_capita_usd"] / df["grp_per_capita_thousand_kzt"]
    assert ratio.round(12).eq(3.0).all()  # both sheets aligned row by row


def test_grp_sheets_must_agree(tmp_path):
    def drop(wb):
        ws = wb["в долларах США"]
        ws.cell(row_of(ws, "Павлодарская"), 5).value = None

    path = write_grp_workbook(tmp_path / "g.xlsx", edit=drop)
    with pytest.raises(
        ValidationError,
        match=r"в долларах США', column\(s\) 2018.*"
        r"nearest is 2018.*missing \['KZ-55'\]",
    ):
        rs.load_grp_per_capita(path=path)


def test_grp_national_outside_regional_range(tmp_path):
    def bump(wb):
        wb["тыс.тенге"].cell(4, 3).value = 10_000

    path = write_grp_workbook(tmp_path / "g.xlsx", edit=bump)
    with pytest.raises(ValidationError, match="outside|span"):
        rs.load_grp_per_capita(path=path)


# ------------------------------------------------------------------------- unemployment

UNEMPLOYMENT_LABELS = {  # English transliterations as in the BNS workbook
    "Abai": "KZ-10",
    "Akmolinskaya": "KZ-11",
    "Aktubinskaya": "KZ-15",
    "Almatinskaya": "KZ-19",
    "Atyrauskaya": "KZ-23",
    "West Kazakhstan": "KZ-27",
    "Zhambylskaya": "KZ-31",
    "Zhetisu ": "KZ-33",
    "Karagandinskaya": "KZ-35",
    "Kostanaiskaya": "KZ-39",
    "Kyzylordinskaya": "KZ-43",
    "Mangistauskaya": "KZ-47",
    "South Kazakhstan": "KZ-51",
    "Pavlodarskaya": "KZ-55",
    "North Kazakhstan": "KZ-59",
    "Turkestanskaya 3)": "KZ-61",
    "Ulytau": "KZ-62",
    "East Kazakhstan": "KZ-63",
    "Astana city": "KZ-71",
    "Almaty city": "KZ-75",
    "Shimkent city 3)": "KZ-79",
}


def write_unemployment_workbook(path, *, edit=None):
    """Years over five merged columns (four quarters + 'year'); 2009, 2015."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Regions_quarter"
    ws.append([])
    ws.append(["Unemployment rate1)"])
    ws.append([None, None, None, None, None, "in percent"])
    ws.append([None, 2009, None, None, None, None, 2015])
    ws.merge_cells("B4:F4")
    ws.merge_cells("G4:K4")
    quarters = ["I quarter", "II quarter", "III quarter", "IV quarter"]
    ws.append([None, *quarters, "year", *quarters, "year2)"])
    ws.append(["Republic of Kazakhstan", *[5.0] * 10])
    for i, label in enumerate(UNEMPLOYMENT_LABELS):
        rate = 4.0 + i / 10
        if label in {"Abai", "Zhetisu ", "Ulytau"}:
            cells = ["-"] * 10
        elif label == "South Kazakhstan":
            cells = [rate] * 5 + [rate] * 4 + ["-"]
        elif label.endswith("3)"):
            cells = ["-"] * 4 + ["-"] + ["-"] * 4 + [rate]
        else:
            cells = [rate] * 10
        ws.append([label, *cells])
    ws.append([])
    ws.append(["1) The data was generated based on the results of a sample survey."])
    ws.append(
        [
            "2)Hereinafter data are created according to new standards of "
            "employment (the 19th ICLS of the ILO)"
        ]
    )
    ws.append(
        [
            "3) Data for the Turkestan region and the city of Shymkent from 2010 to "
            "2017 estimates based on data from SKO"
        ]
    )
    if edit:
        edit(wb)
    wb.save(path)
    return path


def test_unemployment_annual_break_and_estimates(tmp_path):
    df = rs.load_unemployment(path=write_unemployment_workbook(tmp_path / "u.xlsx"))
    assert df.attrs["configuration_by_year"] == {2009: "2010", 2015: "2018"}
    assert df.attrs["methodology_break_year"] == 2015
    assert set(df.loc[df["year"] == 2009, "methodology"]) == {"pre-2015"}
    assert set(df.loc[df["year"] == 2015, "methodology"]) == {"19th ICLS"}
    estimated = df.loc[df["estimated"], ["region_id", "year"]]
    assert set(map(tuple, estimated.to_numpy())) == {("KZ-61", 2015), ("KZ-79", 2015)}
    expected = {
        UNEMPLOYMENT_LABELS[lb]: 4.0 + i / 10
        for i, lb in enumerate(UNEMPLOYMENT_LABELS)
    }
    got = df[df["year"] == 2015].set_index("region_id")["unemployment_rate"]
    compared = [math.isclose(v, expected[k]) for k, v in got.items() if k in expected]
    assert len(compared) == 14 and all(compared)  # 17 units less the 3 pre-2022 extents


def test_unemployment_bad_value_and_missing_sheet(tmp_path):
    def corrupt(wb):
        ws = wb["Regions_quarter"]
        ws.cell(row_of(ws, "Pavlodarskaya"), 11).value = "five"

    path = write_unemployment_workbook(tmp_path / "u.xlsx", edit=corrupt)
    with pytest.raises(
        ValidationError, match=r"cell K\d+ \(2015\): 'five' is not a number"
    ):
        rs.load_unemployment(path=path)

    def rename(wb):
        wb["Regions_quarter"].title = "Sheet1"

    path = write_unemployment_workbook(tmp_path / "u2.xlsx", edit=rename)
    with pytest.raises(ValidationError, match="sheet 'Regions_quarter'.*missing"):
        rs.load_unemployment(path=path)


# --------------------------------------------------------------------------- wages

WAGE_HEADER = [
    "Регионы",
    "Всего персонала",
    "руководители и государственные служащие",
    "специалисты-профессионалы",
    "специалисты-техники и иной вспомогательный профессиональный персонал",
    "служащие в области администрирования",
    "работники сферы услуг и продаж",
    "фермеры и рабочие сельского и лесного хозяйства, рыбоводства и рыболовства",
    "рабочие промышленности, строительства, транспорта и других родственных занятий",
    "операторы производственного оборудования, сборщики и водители",
    "неквалифицированные рабочие",
    "работники, не входящие в другие группы ",
]
WAGE_REGIONS = [
    "Abay Region",
    "Akmola Region",
    "Aktobe Region",
    "Almaty Region",
    "Atyrau Region",
    "West Kazakhstan Region",
    "Zhambyl Region",
    "Zhetysu Region",
    "Karaganda Region",
    "Kostanay Region",
    "Kyzylorda Region",
    "Mangystau Region",
    "Pavlodar Region",
    "North Kazakhstan Region",
    "Turkestan Region",
    "Ulytau Region",
    "East Kazakhstan Region",
    "Astana city",
    "Almaty city",
    "Shymkent city",
]


def write_wages_workbook(path, *, corrupt_row=True, edit=None):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(WAGE_HEADER)
    ws.append(["The Republic Of Kazakhstan", *[110_000.0 + k for k in range(11)]])
    rows = [
        [name, *[100_000.0 + 1000 * i + k for k in range(11)]]
        for i, name in enumerate(WAGE_REGIONS)
    ]
    if corrupt_row:  # like the BNS file: cells copied from neighbouring rows
        pavlodar = rows[12]
        rows.insert(
            12, ["South Kazakhstan Region", rows[13][1], *pavlodar[3:], rows[15][-1]]
        )
    for row in rows:
        ws.append(row)
    if edit:
        edit(wb)
    wb.save(path)
    return path


def test_wages_drop_the_corrupt_south_kazakhstan_row(tmp_path):
    df = rs.load_wages_2022(path=write_wages_workbook(tmp_path / "w.xlsx"))
    assert sorted(df["region_id"]) == sorted(configuration_ids("2024"))
    assert set(df["year"]) == {2022} and set(df["configuration"]) == {"2024"}
    (dropped,) = df.attrs["dropped_rows"]
    assert dropped["label"] == "South Kazakhstan Region"
    assert dropped["share_of_values_found_in_other_rows"] == 1.0
    assert df.set_index("region_id").loc["KZ-55", "average_wage"] == 112_000.0


def test_wages_missing_column_and_unknown_region(tmp_path):
    def drop_column(wb):
        wb.active.delete_cols(3)

    path = write_wages_workbook(tmp_path / "w.xlsx", edit=drop_column)
    with pytest.raises(ValidationError, match="missing column 'руководители"):
        rs.load_wages_2022(path=path)

    def rename(wb):
        wb.active.cell(5, 1).value = "Narnia Region"

    path = write_wages_workbook(tmp_path / "w2.xlsx", edit=rename)
    with pytest.raises(
        ValidationError, match=r"row 5: unknown region name 'Narnia Region'"
    ):
        rs.load_wages_2022(path=path)


# --------------------------------------------------------------------------- real data


@pytest.mark.data
def test_real_population_borders_and_totals():
    df = population.load_population()
    assert df["year"].min() == 2000 and df["year"].max() == 2023
    configurations = df.groupby("year")["configuration"].agg(set)
    assert configurations.map(len).eq(1).all()
    for year, part in df.groupby("year"):
        (conf,) = set(part["configuration"])
        assert sorted(part["region_id"]) == sorted(configuration_ids(conf)), year
    y2023 = df[df["year"] == 2023]
    assert len(y2023) == 20 and set(y2023["configuration"]) == {"2024"}
    assert "KZ-51" in set(df.loc[df["year"] == 2016, "region_id"])
    # configurations only move forward in time: 2010 -> 2018 -> 2024
    order = df.drop_duplicates("year")["configuration"].map(
        {"2010": 0, "2018": 1, "2024": 2}
    )
    assert order.is_monotonic_increasing
    totals = {
        (c["sheet"], c["block"], c["year"]): c["difference"]
        for c in df.attrs["national_check"]
    }
    assert totals[("Все население", "total", 2023)] == 0
    assert all(v == 0 for v in totals.values())
    assert df.attrs["csv_cross_check"]["mismatches"] == 0
    assert (df["urban"] + df["rural"] == df["population"]).all()


@pytest.mark.data
def test_real_population_urban_break_is_2008():
    df = population.load_population()
    national = df.groupby("year")[["urban", "population"]].sum()
    share = national["urban"] / national["population"]
    assert share.diff().idxmin() == 2008  # the reclassification, as documented


@pytest.mark.data
def test_real_grp_years_and_borders():
    df = rs.load_grp_per_capita()
    assert sorted(df["year"].unique()) == list(range(2008, 2023))
    y2022 = df[df["year"] == 2022]
    assert len(y2022) == 20 and set(y2022["configuration"]) == {"2024"}
    assert (df[["grp_per_capita_thousand_kzt", "grp_per_capita_usd"]] > 0).all().all()
    assert {c["sheet"] for c in df.attrs["national_check"]} == set(rs._GRP_SHEETS)


@pytest.mark.data
def test_real_unemployment_break_and_estimates():
    df = rs.load_unemployment()
    assert df["year"].min() == 2001
    assert df.attrs["methodology_break_year"] == 2015
    assert df["unemployment_rate"].between(0, 100).all()
    flagged = df[df["estimated"]]
    assert set(flagged["region_id"]) <= {"KZ-61", "KZ-79"}
    assert flagged["year"].max() < 2018  # estimates precede the 2018 split
    for year, part in df.groupby("year"):
        (conf,) = set(part["configuration"])
        assert sorted(part["region_id"]) == sorted(configuration_ids(conf)), year


@pytest.mark.data
def test_real_wages_corrupt_row_is_dropped():
    df = rs.load_wages_2022()
    assert sorted(df["region_id"]) == sorted(configuration_ids("2024"))
    (dropped,) = df.attrs["dropped_rows"]
    assert dropped["share_of_values_found_in_other_rows"] == 1.0
