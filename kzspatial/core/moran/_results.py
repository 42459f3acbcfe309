"""Frozen result objects of the Moran statistics, and how they read.

Attribute names follow ``esda`` (``I``, ``EI``, ``VI_norm``, ``z_norm``, ``p_norm``,
``VI_rand``, ``p_rand``, ``sim``, ``p_sim``, ``z_sim``) :cite:`rey2010pysal`. Every
result has a short ``repr`` and a ``summary()`` text table (statistic, expectation,
variance, z and p under normality, randomisation and permutation; for local results
the counts per quadrant and cluster). Local results also give ``table()``, a dict of
numpy columns, and ``to_frame()``, the same as a pandas DataFrame (pandas is imported
only then, outside the core, by :func:`kzspatial._frames.table_to_frame`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kzspatial._constants import DESTINATION, ORIGIN
from kzspatial.core.moran._inference import PERMUTATION_STATS

__all__ = [
    "FlowMoranResult",
    "LocalFlowMoranResult",
    "LocalMoranResult",
    "MoranBVResult",
    "MoranResult",
]

_QUADRANTS = {1: "High-High", 2: "Low-High", 3: "Low-Low", 4: "High-Low"}
# columns of the local tables, in order: result attribute names
_LOCAL_COLUMNS = ("Is", "q", *PERMUTATION_STATS, "significant", "labels")


def _num(value: Any) -> str:
    """Format a number for a text table: 4 significant digits, "-" when absent."""
    return "-" if value is None else f"{float(value):.4g}"


def _grid(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    """Left-aligned first column, right-aligned others, widths from the content."""
    table = [header, *rows]
    widths = [max(len(row[k]) for row in table) for k in range(len(header))]
    return [
        "  ".join(
            cell.ljust(widths[k]) if k == 0 else cell.rjust(widths[k])
            for k, cell in enumerate(row)
        )
        for row in table
    ]


def _p_sim_meaning(alternative: str) -> str:
    if alternative in ("greater", "less"):
        return f"one-sided, {alternative}"
    return "one-sided in the direction of the statistic, as esda"


class _GlobalResult:
    """``repr`` and ``summary`` of the global results (mixin of frozen dataclasses)."""

    _title = "Moran's I"
    I: float
    n: int
    alternative: str
    permutations: int | None
    p_sim: float | None
    p_sim_two_sided: float | None
    seed: int | None
    transformation: str
    dropped_ids: tuple[str, ...]

    def _repr_extra(self) -> list[str]:
        return []

    def __repr__(self) -> str:
        parts = [f"I={self.I:.3f}"]
        if hasattr(self, "EI"):
            parts.append(f"EI={self.EI:.3f}")
        parts.append("p_sim=None" if self.p_sim is None else f"p_sim={self.p_sim:.3g}")
        parts += [
            f"permutations={self.permutations}",
            f"alternative={self.alternative!r}",
            *self._repr_extra(),
        ]
        return f"{type(self).__name__}({', '.join(parts)})"

    def _inference_rows(self) -> list[tuple[str, ...]]:
        rows = []
        if hasattr(self, "VI_norm"):
            for name, var, z, p in (
                ("normality", "VI_norm", "z_norm", "p_norm"),
                ("randomisation", "VI_rand", "z_rand", "p_rand"),
            ):
                rows.append(
                    (
                        name,
                        _num(self.I),
                        _num(self.EI),  # type: ignore[attr-defined]
                        _num(getattr(self, var)),
                        _num(getattr(self, z)),
                        _num(getattr(self, p)),
                    )
                )
        if self.permutations is not None:
            sim = self  # the permutation fields are set together
            rows.append(
                (
                    f"permutation ({self.permutations})",
                    _num(self.I),
                    _num(sim.EI_sim),  # type: ignore[attr-defined]
                    _num(sim.VI_sim),  # type: ignore[attr-defined]
                    _num(sim.z_sim),  # type: ignore[attr-defined]
                    _num(sim.p_z_sim),  # type: ignore[attr-defined]
                )
            )
        return rows

    def _summary_extra(self) -> list[str]:
        return []

    def summary(self) -> str:
        """Text table of the statistic under each null, with the pseudo p-values.

        Returns
        -------
        str
            One row per null (normality, randomisation, permutation): statistic,
            expectation, variance, z and p (for ``alternative``), followed by
            ``p_sim`` and ``p_sim_two_sided``.
        """
        lines = [
            f"{self._title}: n = {self.n}, transformation {self.transformation!r}, "
            f"alternative {self.alternative!r}",
            *self._summary_extra(),
            *_grid(
                ("null", "statistic", "expectation", "variance", "z", "p"),
                self._inference_rows(),
            ),
        ]
        if self.permutations is not None:
            lines.append(
                f"pseudo p: p_sim = {_num(self.p_sim)} "
                f"({_p_sim_meaning(self.alternative)}), "
                f"p_sim_two_sided = {_num(self.p_sim_two_sided)}; seed {self.seed}"
            )
        if self.dropped_ids:
            lines.append(f"dropped islands: {', '.join(self.dropped_ids)}")
        return "\n".join(lines)


class _LocalResult:
    """``repr``, ``summary``, ``table`` and ``to_frame`` of the local results."""

    _title = "Local Moran's I"
    ids: tuple[str, ...]
    q: NDArray[np.int64]
    significant: NDArray[np.bool_]
    labels: NDArray[np.str_]
    alpha: float
    fdr: float | None
    alternative: str
    permutations: int
    seed: int | None

    def _included(self) -> NDArray[np.bool_]:
        """Units (or flows) that carry a statistic."""
        return np.ones(self.q.shape, dtype=bool)

    def _index_columns(self) -> dict[str, NDArray[Any]]:
        return {"id": np.asarray(self.ids, dtype=object)}

    def _repr_extra(self) -> list[str]:
        return []

    def __repr__(self) -> str:
        parts = [
            *self._repr_extra(),
            f"n={int(self._included().sum())}",
            f"significant={int(self.significant.sum())}",
            f"permutations={self.permutations}",
            f"alternative={self.alternative!r}",
            f"alpha={self.alpha}" if self.fdr is None else f"fdr={self.fdr}",
        ]
        return f"{type(self).__name__}({', '.join(parts)})"

    def summary(self) -> str:
        """Return counts per quadrant and significant cluster, and the test settings.

        Returns
        -------
        str
        """
        included = self._included()
        q, sig = self.q[included], self.significant[included]
        rows = [
            (name, str(int((q == code).sum())), str(int((sig & (q == code)).sum())))
            for code, name in _QUADRANTS.items()
        ]
        rows.append(("Island", str(int((q == 0).sum())), "-"))
        rows.append(("total", str(int(q.size)), str(int(sig.sum()))))
        tested = "p_sim_two_sided" if self.alternative == "two-sided" else "p_sim"
        rule = (
            f"{tested} <= {self.alpha}"
            if self.fdr is None
            else f"Benjamini-Hochberg at FDR {self.fdr} on {tested}"
        )
        return "\n".join(
            [
                f"{self._title}: {q.size} {self._unit_name}, {self.permutations} "
                f"conditional permutations, alternative {self.alternative!r}, "
                f"seed {self.seed}",
                f"significant: {rule}",
                *_grid(("quadrant", "count", "significant"), rows),
            ]
        )

    _unit_name = "units"

    def table(self) -> dict[str, NDArray[Any]]:
        """Return the per-unit results as columns.

        Returns
        -------
        dict of str to numpy.ndarray
            The id column(s) (``id``; ``origin`` and ``destination`` for flows), then
            ``Is``, ``q``, ``p_sim``, ``p_sim_two_sided``, ``EI_sim``, ``VI_sim``,
            ``seI_sim``, ``z_sim``, ``p_z_sim``, ``significant``, ``labels``; one row
            per unit (per included flow).
        """
        included = self._included()
        return {
            **self._index_columns(),
            **{name: getattr(self, name)[included] for name in _LOCAL_COLUMNS},
        }

    def to_frame(self) -> Any:  # pandas.DataFrame; the core does not import pandas
        """:meth:`table` as a pandas DataFrame indexed by the id column(s).

        Returns
        -------
        pandas.DataFrame
        """
        from kzspatial._frames import table_to_frame  # pandas stays out of the core

        return table_to_frame(self.table(), index=tuple(self._index_columns()))


@dataclass(frozen=True, eq=False, repr=False)
class MoranResult(_GlobalResult):
    """Global Moran's I with analytic and permutation inference.

    Attributes
    ----------
    I : float
        Moran's I.
    EI : float
        Expected I under the null, ``-1 / (n - 1)``.
    VI_norm, seI_norm, z_norm, p_norm : float
        Variance, standard error, z-score and p-value under normality.
    VI_rand, seI_rand, z_rand, p_rand : float
        The same under randomisation (all permutations of the values equally likely).
    n : int
        Number of observations used.
    alternative : str
        Alternative hypothesis of every p-value (see :func:`pseudo_p_value`).
    permutations : int or None
        Number of permutations (None: analytic inference only).
    sim : numpy.ndarray or None, shape (permutations,)
        I under each permutation.
    p_sim : float or None
        One-sided pseudo p-value ``(larger + 1) / (permutations + 1)``: esda's
        ``p_sim`` (``larger`` counts the simulated values at or beyond ``I`` in the
        tail ``I`` falls in) for ``alternative`` "two-sided" or "directed"; in the
        stated direction for "greater" / "less".
    p_sim_two_sided : float or None
        Two-sided pseudo p-value, twice the smaller one-sided one (capped at 1).
    EI_sim, VI_sim, seI_sim, z_sim, p_z_sim : float or None
        Mean, variance (ddof 0) and standard deviation of ``sim``, the z-score of ``I``
        against them and its normal p-value.
    seed : int or None
        Seed that reproduces the permutations (None when a Generator was passed).
    transformation : str
        Weights transformation used (``"r"``, ``"b"`` or ``"o"``).
    dropped_ids : tuple of str
        Units removed by ``islands="drop"``.
    null : str
        Description of the permutation null.
    """

    I: float
    EI: float
    VI_norm: float
    seI_norm: float
    z_norm: float
    p_norm: float
    VI_rand: float
    seI_rand: float
    z_rand: float
    p_rand: float
    n: int
    alternative: str
    permutations: int | None
    sim: NDArray[np.float64] | None
    p_sim: float | None
    p_sim_two_sided: float | None
    EI_sim: float | None
    VI_sim: float | None
    seI_sim: float | None
    z_sim: float | None
    p_z_sim: float | None
    seed: int | None
    transformation: str
    dropped_ids: tuple[str, ...]
    null: str


@dataclass(frozen=True, eq=False, repr=False)
class FlowMoranResult(MoranResult):
    """Global Moran's I over origin-destination flows.

    Attributes are those of :class:`MoranResult` (``n`` is the number of flows used),
    plus:

    Attributes
    ----------
    kind : str
        ``"origin"``, ``"destination"`` or ``"od"`` flow weights.
    diagonal : str
        ``"exclude"`` or ``"include"`` intra-zonal flows.
    n_zones : int
        Number of zones.
    island_flows : int
        Flows without any neighbour (kept with zero lag under ``islands="keep"``).
    s0, s1, s2 : float
        Weight sums of the implicit flow weights (closed form).
    """

    kind: str
    diagonal: str
    n_zones: int
    island_flows: int
    s0: float
    s1: float
    s2: float

    _title = "Flow Moran's I"

    def _repr_extra(self) -> list[str]:
        return [f"kind={self.kind!r}"]

    def _summary_extra(self) -> list[str]:
        return [
            f"flows: kind {self.kind!r}, diagonal {self.diagonal!r}, {self.n_zones} "
            f"zones, {self.island_flows} flows without neighbours; null: {self.null}"
        ]


@dataclass(frozen=True, eq=False, repr=False)
class MoranBVResult(_GlobalResult):
    """Global bivariate Moran's I of ``x`` against the spatial lag of ``y``.

    Attributes
    ----------
    I : float
        ``(n / s0) * zx' W zy / (n - 1)`` with ``zx, zy`` standardised (ddof 1); equals
        esda's ``Moran_BV.I`` for row-standardised weights.
    n : int
    alternative : str
    permutations : int or None
    sim, p_sim, p_sim_two_sided, EI_sim, VI_sim, seI_sim, z_sim, p_z_sim
        As in :class:`MoranResult`; ``y`` is permuted, ``x`` fixed.
    seed : int or None
    transformation : str
    dropped_ids : tuple of str
    """

    I: float
    n: int
    alternative: str
    permutations: int | None
    sim: NDArray[np.float64] | None
    p_sim: float | None
    p_sim_two_sided: float | None
    EI_sim: float | None
    VI_sim: float | None
    seI_sim: float | None
    z_sim: float | None
    p_z_sim: float | None
    seed: int | None
    transformation: str
    dropped_ids: tuple[str, ...]

    _title = "Bivariate Moran's I"


@dataclass(frozen=True, eq=False, repr=False)
class LocalMoranResult(_LocalResult):
    """Local Moran's I (LISA), univariate or bivariate.

    Attributes
    ----------
    ids : tuple of str, length n
        Units the arrays refer to, in order.
    Is : numpy.ndarray, shape (n,)
        Local statistics ``(n - 1) zx_i (W zy)_i / sum(zx^2)`` (``zx = zy = z`` for the
        univariate case; values standardised with ddof 0), as in esda.
    q : numpy.ndarray of int, shape (n,)
        Quadrant: 1 HH, 2 LH, 3 LL, 4 HL (0 for an island kept with zero lag).
    p_sim : numpy.ndarray, shape (n,)
        Conditional-permutation pseudo p-values (NaN for kept islands), one-sided as
        :attr:`MoranResult.p_sim` (esda's ``p_sim``).
    p_sim_two_sided : numpy.ndarray, shape (n,)
        Two-sided pseudo p-values.
    sim : numpy.ndarray or None, shape (permutations, n)
        Simulated local statistics (None when not kept).
    EI_sim, VI_sim, seI_sim, z_sim, p_z_sim : numpy.ndarray, shape (n,)
        Moments of the simulated statistics, z-score and its normal p-value.
    significant : numpy.ndarray of bool, shape (n,)
        The p-value of ``alternative`` (``p_sim_two_sided`` for "two-sided",
        ``p_sim`` otherwise) ``<= alpha``, or Benjamini-Hochberg significant at level
        ``fdr``.
    labels : numpy.ndarray of str, shape (n,)
        "High-High", "Low-High", "Low-Low", "High-Low", "Insignificant" or "Island".
    alpha : float
    fdr : float or None
    alternative : str
    permutations : int
    seed : int or None
    transformation : str
    dropped_ids : tuple of str
    """

    ids: tuple[str, ...]
    Is: NDArray[np.float64]
    q: NDArray[np.int64]
    p_sim: NDArray[np.float64]
    p_sim_two_sided: NDArray[np.float64]
    sim: NDArray[np.float64] | None
    EI_sim: NDArray[np.float64]
    VI_sim: NDArray[np.float64]
    seI_sim: NDArray[np.float64]
    z_sim: NDArray[np.float64]
    p_z_sim: NDArray[np.float64]
    significant: NDArray[np.bool_]
    labels: NDArray[np.str_]
    alpha: float
    fdr: float | None
    alternative: str
    permutations: int
    seed: int | None
    transformation: str
    dropped_ids: tuple[str, ...]


@dataclass(frozen=True, eq=False, repr=False)
class LocalFlowMoranResult(_LocalResult):
    """Local Moran's I for every flow, as ``(n_zones, n_zones)`` matrices.

    Row = origin, column = destination, in ``ids`` order; excluded flows (the
    diagonal under ``diagonal="exclude"``) hold NaN (``q`` 0, ``labels`` "").

    Attributes
    ----------
    ids : tuple of str, length n_zones
    kind, diagonal : str
    Is, p_sim, p_sim_two_sided, EI_sim, VI_sim, seI_sim, z_sim, p_z_sim : numpy.ndarray, shape (n, n)
        As in :class:`LocalMoranResult`, per flow.
    q : numpy.ndarray of int, shape (n, n)
    significant : numpy.ndarray of bool, shape (n, n)
    labels : numpy.ndarray of str, shape (n, n)
    alpha, fdr, alternative, permutations, seed, transformation
        As in :class:`LocalMoranResult`.
    null : str
        Description of the permutation null.
    """

    ids: tuple[str, ...]
    kind: str
    diagonal: str
    Is: NDArray[np.float64]
    q: NDArray[np.int64]
    p_sim: NDArray[np.float64]
    p_sim_two_sided: NDArray[np.float64]
    EI_sim: NDArray[np.float64]
    VI_sim: NDArray[np.float64]
    seI_sim: NDArray[np.float64]
    z_sim: NDArray[np.float64]
    p_z_sim: NDArray[np.float64]
    significant: NDArray[np.bool_]
    labels: NDArray[np.str_]
    alpha: float
    fdr: float | None
    alternative: str
    permutations: int
    seed: int | None
    transformation: str
    null: str

    _title = "Local flow Moran's I"
    _unit_name = "flows"

    def _included(self) -> NDArray[np.bool_]:
        return self.labels != ""  # excluded flows (the diagonal) carry no label

    def _index_columns(self) -> dict[str, NDArray[Any]]:
        ids = np.asarray(self.ids, dtype=object)
        origin, destination = np.nonzero(self._included())
        return {ORIGIN: ids[origin], DESTINATION: ids[destination]}

    def _repr_extra(self) -> list[str]:
        return [f"kind={self.kind!r}"]
