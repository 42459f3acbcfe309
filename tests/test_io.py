import hashlib

import pandas as pd
import pytest

from kzspatial._errors import DataFetchError, ValidationError
from kzspatial.datasets.migration import read_od_csv

HEADER = "Year,region_emmigr,region_immigr,N\n"


def write(tmp_path, text, name="od.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_reads_bns_layout(tmp_path):
    path = write(
        tmp_path, HEADER + "2024,Almaty,Almaty_city,10\n2024,Abay,Astana_city,5\n"
    )
    before = path.read_bytes()
    od = read_od_csv(path)
    assert od.columns.tolist() == ["year", "origin", "destination", "flow"]
    assert od.origin.tolist() == ["KZ-10", "KZ-19"]
    assert od.flow.dtype.kind == "i"
    assert path.read_bytes() == before  # nothing the user gave is modified


def test_reports_every_problem_with_line_numbers(tmp_path):
    text = HEADER + (
        "2024,Almaty,Almaty_city,10\n"  # line 2 ok
        "2024,Atlantis,Astana,3\n"  # line 3 unknown region
        "2024,Abay,Astana,-4\n"  # line 4 negative
        "2024,Abay,Abay,7\n"  # line 5 self-flow
        "2024,Pavlodar,Astana,x\n"  # line 6 non-numeric
        "2024,Almaty,Almaty_city,11\n"  # line 7 duplicates line 2
        "2024,Akmola,Astana,2.5\n"  # line 8 non-integer
    )
    with pytest.raises(ValidationError) as info:
        read_od_csv(write(tmp_path, text))
    msg = str(info.value)
    assert "od.csv" in msg and "6 problem(s)" in msg
    for fragment in (
        "line 3: origin unknown region name 'Atlantis'",
        "line 4: count -4",
        "line 5: self-flow",
        "line 6: count 'x' is not a number",
        "lines 2, 7: pair KZ-19 -> KZ-75",
        "line 8: count 2.5 is not a whole",
    ):
        assert fragment in msg


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "file is empty"),
        (HEADER, "header but no rows"),
        ("Year,from,to,N\n2024,Abay,Astana,1\n", r"no origin column.*origin_col="),
    ],
)
def test_structural_errors(tmp_path, text, match):
    with pytest.raises(ValidationError, match=match):
        read_od_csv(write(tmp_path, text))


def test_wrong_encoding_names_line(tmp_path):
    text = "year,origin,destination,flow\n2024,Абай,Астана,1\n"
    with pytest.raises(ValidationError, match=r"line 2 is not valid UTF-8.*UTF-8"):
        read_od_csv(write(tmp_path, text, encoding="cp1251"))


def test_custom_columns_and_year(tmp_path):
    path = write(tmp_path, "from;to;persons\nAbay;Astana;4\n".replace(";", ","))
    od = read_od_csv(
        path, origin_col="from", destination_col="to", flow_col="persons", year=2023
    )
    assert od.year.tolist() == [2023] and od.destination.tolist() == ["KZ-71"]


def test_fetch_missing_mirror_file(tmp_path, monkeypatch):
    from kzspatial.datasets import fetch as data

    monkeypatch.setenv("KZSPATIAL_DATA_MIRROR", str(tmp_path / "empty-mirror"))
    monkeypatch.setenv("KZSPATIAL_CACHE", str(tmp_path / "cache"))
    with pytest.raises(
        DataFetchError,
        match=r"could not fetch https://.*KZSPATIAL_DATA_MIRROR"
        r".*cache",
    ):
        data.fetch("monthly_2024.csv")


def test_fetch_rejects_corrupt_mirror_and_cache(tmp_path, monkeypatch):
    from kzspatial.datasets import fetch as data

    entry = data.registry()["monthly_2024.csv"]
    mirror = tmp_path / "mirror"
    source = mirror / entry.relative_path
    source.parent.mkdir(parents=True)
    source.write_text("region,month\n")  # wrong content, wrong checksum
    monkeypatch.setenv("KZSPATIAL_DATA_MIRROR", str(mirror))
    monkeypatch.setenv("KZSPATIAL_CACHE", str(tmp_path / "cache"))
    with pytest.raises(DataFetchError, match="checksum mismatch.*not used"):
        data.fetch("monthly_2024.csv")
    # a corrupt file already in the cache is never returned
    cached = tmp_path / "cache" / entry.relative_path
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text("tampered")
    with pytest.raises(DataFetchError):
        data.fetch("monthly_2024.csv")


def test_unknown_registry_key():
    from kzspatial.datasets import fetch as data

    with pytest.raises(DataFetchError, match="not in the kzspatial data registry"):
        data.fetch("nope.csv")


def test_registry_entries_complete():
    from kzspatial.datasets import fetch as data

    files = data.registry()
    assert len(files) >= 41
    for entry in files.values():
        assert entry.url.startswith("https://raw.githubusercontent.com/")
        assert len(entry.sha256) == 64
        assert entry.licence and entry.citation and entry.concept and entry.unit


@pytest.mark.data
def test_mirror_copy_matches_registry_checksum():
    from kzspatial.datasets import fetch as data

    path = data.fetch("od_interregional.csv")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == data.registry()["od_interregional.csv"].sha256
    assert isinstance(pd.read_csv(path), pd.DataFrame)
