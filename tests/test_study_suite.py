"""The study suite's inputs: the shipped claim tables and the user's files.

The end-to-end numbers are tested on the real run in ``test_pipeline.py``.
"""

from __future__ import annotations

import filecmp
from pathlib import Path

import pytest

from kzspatial._errors import DataFetchError, ValidationError
from kzspatial.datasets.published_examples import (
    STUDY_TABLE2,
    STUDY_TABLE6,
    example_path,
)
from kzspatial.study.study_suite import study_suite

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "published"


def test_shipped_claims_are_the_committed_examples():
    for name in (STUDY_TABLE2, STUDY_TABLE6):
        assert filecmp.cmp(example_path(name), EXAMPLES / name, shallow=False)


def test_unknown_example_is_refused():
    with pytest.raises(DataFetchError, match="'nope.csv' not found"):
        example_path("nope.csv")


def test_missing_or_bad_files_fail_before_any_work(tmp_path):
    # data=None: the files are checked before the data is touched
    with pytest.raises(
        ValidationError, match="claims file .*missing.csv does not exist"
    ):
        study_suite(None, None, claims_file=tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("year,variable,value,unit\n2024,internal_migration,1,furlongs\n")
    with pytest.raises(ValidationError, match="line 2, column 'unit'"):
        study_suite(None, None, published_file=bad)
