"""Conversion of the core's numpy tables to pandas DataFrames.

The core (:mod:`kzspatial.core`) may not import pandas: its results give tables as
dicts of numpy columns (``table()``), and their ``to_frame()`` methods convert them
here, importing pandas only when called (declared in the import contracts).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["table_to_frame"]


def table_to_frame(
    table: Mapping[str, Any], *, index: Sequence[str] = ()
) -> pd.DataFrame:
    """Return ``table``'s columns, in order, as a DataFrame indexed by ``index``.

    Parameters
    ----------
    table : mapping of str to array_like, each shape (m,)
        Column name to values.
    index : sequence of str
        Names of the columns that become the index (a MultiIndex for several).

    Returns
    -------
    pandas.DataFrame
    """
    import pandas as pd

    frame = pd.DataFrame(dict(table))
    return frame.set_index(list(index)) if index else frame
