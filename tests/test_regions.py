import pytest

from kzspatial._errors import RegionNameError, ValidationError
from kzspatial.datasets.regions import (
    HUB_IDS,
    configuration_ids,
    get_region,
    parent_in,
    region_table,
    resolve,
    resolve_many,
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # OD file (Diar299/kz-migration)
        ("Almaty_city", "KZ-75"),
        ("East_Kaz", "KZ-63"),
        ("Turkestan", "KZ-61"),
        ("North_Kaz", "KZ-59"),
        ("Astana_city", "KZ-71"),
        ("Almaty", "KZ-19"),
        # monthly file
        ("Abay", "KZ-10"),
        ("Ulutay", "KZ-62"),
        ("Qyzylorda", "KZ-43"),
        ("Almaty region", "KZ-19"),
        ("Jambyl", "KZ-31"),
        # BNS Russian names, with a footnote marker
        ("г. Алматы", "KZ-75"),
        ("Туркестанская 1", "KZ-61"),
        ("Восточно-Казахстанская область", "KZ-63"),
        ("Алматинская", "KZ-19"),
        # geokz
        ("Almaty (city)", "KZ-75"),
        ("Нур-Султан", "KZ-71"),
        ("KZ71", "KZ-71"),
        ("Солтүстiк Қазақстан", "KZ-59"),
        ("Алматы облысы", "KZ-19"),
        # transliterations, case, punctuation, diacritics
        ("Aqmola", "KZ-11"),
        ("Zhetysu", "KZ-33"),
        ("Jetisu", "KZ-33"),
        ("Karagandy", "KZ-35"),
        ("Qaraghandy", "KZ-35"),
        ("  WEST-kazakhstan ", "KZ-27"),
        ("kz-79", "KZ-79"),
        ("Ақтөбе", "KZ-15"),
    ],
)
def test_resolve_spellings(name, expected):
    assert resolve(name) == expected


def test_every_current_name_resolves_to_itself():
    for rid in configuration_ids("2024"):
        r = get_region(rid)
        for name in (r.id, r.name_en, r.name_kk, r.name_ru, *r.aliases):
            assert resolve(name) == rid, name


def test_unknown_name_lists_candidates():
    with pytest.raises(
        RegionNameError, match=r"Almatty.*closest known spellings.*KZ-75"
    ):
        resolve("Almatty")


def test_historical_unit_in_new_borders_fails():
    with pytest.raises(RegionNameError, match="South Kazakhstan.*crosswalk"):
        resolve("Южно-Казахстанская")
    assert resolve("Южно-Казахстанская", configuration="2010") == "KZ-51"


def test_resolve_into_older_configuration():
    assert resolve("Abay", configuration="2018") == "KZ-63-2018"
    assert resolve("Zhetysu", configuration="2018") == "KZ-19-2018"
    assert resolve("Shymkent", configuration="2018") == "KZ-79"
    assert resolve("Shymkent", configuration="2010") == "KZ-51"
    with pytest.raises(ValidationError, match="unknown border configuration"):
        resolve("Abay", configuration="2019")


def test_configurations_partition_current_units():
    for conf, n in (("2024", 20), ("2018", 17), ("2010", 16)):
        ids = configuration_ids(conf)
        assert len(ids) == n
        covered = sorted(p for r in ids for p in get_region(r).parts)
        assert covered == sorted(configuration_ids("2024"))
        assert {parent_in(r, conf) for r in configuration_ids("2024")} == set(ids)


def test_resolve_many_reports_all_problems():
    with pytest.raises(RegionNameError, match=r"(?s)2 region name\(s\).*row 1.*row 3"):
        resolve_many(["Astana", "Atlantis", "Abay", "Narnia"], source="test.csv")


def test_catalogue_fields():
    rows = {r["region_id"]: r for r in region_table()}
    assert {rows[h]["kind"] for h in HUB_IDS} == {"city"}
    assert rows["KZ-71"]["kato"] == "71"
    assert sum(r["kind"] == "oblast" for r in rows.values()) == 17
