"""Columns of numpy arrays to a pandas DataFrame, for the ``to_frame()`` of results.

Outside the core so that the core never imports pandas; pandas is imported only when a
frame is asked for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd  # noqa: TID251 (this module is where pandas may enter)

__all__ = ["to_frame"]


def to_frame(columns: Mapping[str, Any], index: Sequence[str] = ()) -> pd.DataFrame:
    """DataFrame of ``columns`` (in order) with the ``index`` columns as its index.

    Parameters
    ----------
    columns : mapping of str to array_like, each shape (n,)
        Column name to values.
    index : sequence of str
        Names of the columns that become the index (a MultiIndex for several).

    Returns
    -------
    pandas.DataFrame
    """
    import pandas as pd  # noqa: TID251 (this module is where pandas may enter)

    frame = pd.DataFrame(dict(columns))
    return frame.set_index(list(index)) if index else frame
