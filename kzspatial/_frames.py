"""Conversion of the core's numpy tables to pandas DataFrames.

The core (:mod:`kzspatial.core`) may not import pandas; its results offer tables as
dicts of numpy columns, and their ``to_frame`` methods convert them here, importing
pandas only when called.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from numpy.typing import NDArray

__all__ = ["table_to_frame"]


def table_to_frame(
    table: Mapping[str, NDArray[Any]], *, index_name: str | None = None
) -> Any:
    """A DataFrame from columns, the ``"index"`` entry becoming its index.

    Parameters
    ----------
    table : mapping of str to ndarray, each shape (m,)
        Columns in order; the optional ``"index"`` entry labels the rows.
    index_name : str, optional
        Name of the index.

    Returns
    -------
    pandas.DataFrame
        One column per entry except ``"index"``, in the order of ``table``.
    """
    # lazily, so that importing the core never imports pandas; the ruff ban on pandas
    # is meant for kzspatial.core, which this top-level module is not part of
    import pandas as pd  # noqa: TID251

    columns = {name: values for name, values in table.items() if name != "index"}
    index = None
    if "index" in table:
        index = pd.Index(table["index"], name=index_name)
    return pd.DataFrame(columns, index=index)
