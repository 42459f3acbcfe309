"""The weights value object: ordered region ids next to a sparse ``(n, n)`` matrix.

:class:`SpatialWeights` is immutable: named constructors convert existing data
(``from_sparse``, ``from_adjacency``, ``from_libpysal``) and ``transform`` returns a new
object; :func:`as_spatial_weights` accepts libpysal ``Graph`` and ``W`` by duck typing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse
from scipy.sparse import csgraph

from kzspatial._errors import AlignmentError, ValidationError

__all__ = ["ISLAND_POLICIES", "SpatialWeights", "WeightsSummary", "as_spatial_weights"]

#: Valid values of the ``islands=`` policy accepted by the statistics.
ISLAND_POLICIES = ("raise", "drop", "keep")

_TRANSFORMATIONS = ("o", "r", "b")


def _libpysal_kind(obj: Any) -> str | None:
    """``"graph"`` or ``"w"`` for libpysal weights (duck typed), None otherwise."""
    if not hasattr(obj, "sparse"):
        return None
    if hasattr(obj, "unique_ids"):
        return "graph"
    return "w" if hasattr(obj, "id_order") else None


def _as_ids(ids: Iterable[Any], name: str = "ids") -> tuple[str, ...]:
    out = tuple(ids)
    bad = [i for i in out if not isinstance(i, str)]
    if bad:
        raise ValidationError(
            f"{name} must be strings (region codes keep their leading zeros); got "
            f"{type(bad[0]).__name__} values such as {bad[0]!r}. Convert them with "
            "str() first."
        )
    if len(set(out)) != len(out):
        unique, counts = np.unique(np.asarray(out, dtype=object), return_counts=True)
        raise ValidationError(
            f"{name} contain duplicates: {unique[counts > 1][:10].tolist()}"
        )
    return out


@dataclass(frozen=True)
class WeightsSummary:
    """Descriptive summary of a :class:`SpatialWeights` object.

    Attributes
    ----------
    n : int
        Number of units.
    n_links : int
        Number of non-zero weights (directed links, self-links included).
    transformation : str
        ``"o"`` (as built), ``"r"`` (row-standardised) or ``"b"`` (binary).
    min_neighbors, max_neighbors : int
        Smallest and largest neighbour count.
    mean_neighbors : float
        Mean neighbour count.
    islands : tuple of str
        Ids of units without neighbours.
    one_neighbor : tuple of str
        Ids of units with exactly one neighbour (e.g. enclaves).
    n_components : int
        Number of connected components (links treated as undirected).
    component_sizes : tuple of int
        Units per component, largest first.
    is_symmetric : bool
        Whether the matrix equals its transpose.
    s0, s1, s2 : float
        Moran's I weight sums (see :class:`SpatialWeights`).
    """

    n: int
    n_links: int
    transformation: str
    min_neighbors: int
    max_neighbors: int
    mean_neighbors: float
    islands: tuple[str, ...]
    one_neighbor: tuple[str, ...]
    n_components: int
    component_sizes: tuple[int, ...]
    is_symmetric: bool
    s0: float
    s1: float
    s2: float

    def __str__(self) -> str:
        """Return the summary as readable lines."""
        lines = [
            f"units: {self.n}, links: {self.n_links}, "
            f"transformation: {self.transformation}",
            f"neighbours: min {self.min_neighbors}, mean {self.mean_neighbors:.2f}, "
            f"max {self.max_neighbors}",
            f"islands: {', '.join(self.islands) or 'none'}",
            f"one-neighbour units: {', '.join(self.one_neighbor) or 'none'}",
            f"connected components: {self.n_components} "
            f"(sizes {', '.join(map(str, self.component_sizes))})",
            f"symmetric: {self.is_symmetric}; s0={self.s0:.6g}, s1={self.s1:.6g}, "
            f"s2={self.s2:.6g}",
        ]
        return "\n".join(lines)


@dataclass(frozen=True, eq=False)
class SpatialWeights:
    r"""Spatial weights between ``n`` units: ordered ids plus a sparse matrix.

    Entry ``(i, j)`` is the weight of unit ``ids[j]`` in the spatial lag of ``ids[i]``;
    a unit whose row has no non-zero entry is an *island*.

    Parameters
    ----------
    ids : tuple of str, length n
        Unit ids, in matrix order. Unique strings.
    sparse : scipy.sparse.csr_array, shape (n, n)
        Non-negative, finite weights. Explicit zeros are removed and indices sorted.
    transformation : {"o", "r", "b"}, default "o"
        How the weights were derived: ``"o"`` as built, ``"r"`` row-standardised,
        ``"b"`` binary.

    Raises
    ------
    ValidationError
        Non-square or mismatched shapes, negative or non-finite weights, non-string or
        duplicate ids, unknown transformation.

    Notes
    -----
    The Moran sums are

    .. math::

        s_0 = \sum_{ij} w_{ij},\quad
        s_1 = \tfrac12 \sum_{ij} (w_{ij} + w_{ji})^2,\quad
        s_2 = \sum_i (w_{i\cdot} + w_{\cdot i})^2 .

    Use the named constructors rather than the class directly when converting data.
    """

    ids: tuple[str, ...]
    sparse: sparse.csr_array
    transformation: str = "o"

    def __post_init__(self) -> None:
        """Validate ids, transformation and matrix; store them normalised."""
        ids = _as_ids(self.ids)
        if self.transformation not in _TRANSFORMATIONS:
            raise ValidationError(
                f"transformation must be one of {_TRANSFORMATIONS}, "
                f"got {self.transformation!r}"
            )
        if not sparse.issparse(self.sparse):
            raise ValidationError(
                "sparse must be a scipy.sparse array; use SpatialWeights.from_sparse "
                f"for {type(self.sparse).__name__} input"
            )
        mat = sparse.csr_array(self.sparse, dtype=np.float64, copy=True)
        n = len(ids)
        if mat.shape != (n, n):
            raise ValidationError(
                f"weights matrix has shape {mat.shape} but {n} ids were given; "
                "expected a square (n, n) matrix"
            )
        if not np.all(np.isfinite(mat.data)):
            raise ValidationError("weights contain NaN or infinite values")
        if np.any(mat.data < 0):
            raise ValidationError("weights must be non-negative")
        mat.sum_duplicates()
        mat.eliminate_zeros()
        mat.sort_indices()
        # freeze the buffers as well as the attributes
        for arr in (mat.data, mat.indices, mat.indptr):
            arr.flags.writeable = False
        object.__setattr__(self, "ids", ids)
        object.__setattr__(self, "sparse", mat)

    def __repr__(self) -> str:
        """Return a one-line description: size, links, transformation, first ids."""
        head = ", ".join(self.ids[:5]) + (", ..." if self.n > 5 else "")
        return (
            f"<SpatialWeights of {self.n} units and {self.sparse.nnz} links, "
            f"transformation {self.transformation!r}, ids [{head}]>"
        )

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_sparse(
        cls,
        matrix: Any,
        ids: Sequence[str],
        *,
        transformation: Literal["o", "r", "b"] = "o",
    ) -> SpatialWeights:
        """Wrap a sparse or dense ``(n, n)`` matrix and its ordered ids.

        Parameters
        ----------
        matrix : scipy.sparse array/matrix or array_like, shape (n, n)
            Weights; row ``i`` holds the neighbours of ``ids[i]``.
        ids : sequence of str, length n
            Unit ids in matrix order.
        transformation : {"o", "r", "b"}, default "o"
            Recorded transformation of ``matrix``.

        Returns
        -------
        SpatialWeights
        """
        mat = (
            matrix if sparse.issparse(matrix) else np.asarray(matrix, dtype=np.float64)
        )
        if not sparse.issparse(mat) and mat.ndim != 2:
            raise ValidationError(f"matrix must be 2-D, got shape {mat.shape}")
        return cls(tuple(ids), sparse.csr_array(mat), transformation)

    @classmethod
    def from_adjacency(
        cls,
        adjacency: Mapping[str, Sequence[str]] | tuple[ArrayLike, ArrayLike],
        *,
        weights: Mapping[str, Sequence[float]] | ArrayLike | None = None,
        ids: Sequence[str] | None = None,
    ) -> SpatialWeights:
        """Build weights from neighbour lists or from edge arrays.

        Parameters
        ----------
        adjacency : mapping or tuple of two arrays
            Either ``{focal_id: [neighbour ids]}`` (neighbour lists), or a tuple
            ``(focal, neighbor)`` of equal-length arrays of ids, one entry per directed
            link (edge arrays).
        weights : mapping or array_like, optional
            Link weights, parallel to ``adjacency``: ``{focal_id: [weights]}`` for
            neighbour lists, shape ``(n_links,)`` for edge arrays. Default 1 (binary).
        ids : sequence of str, optional
            Order (and full set) of units. Default: the mapping's keys in order, or the
            sorted unique ids of the edge arrays. Pass it to include islands in edge
            form.

        Returns
        -------
        SpatialWeights

        Raises
        ------
        AlignmentError
            A neighbour id is not among ``ids``.
        ValidationError
            Lengths of links and weights differ.

        Examples
        --------
        >>> w = SpatialWeights.from_adjacency({"a": ["b"], "b": ["a", "c"], "c": ["b"]})
        >>> w.cardinalities.tolist()
        [1, 2, 1]
        """
        if isinstance(adjacency, Mapping):
            focal_list: list[str] = []
            neigh_list: list[str] = []
            weight_list: list[float] = []
            for focal, neighbours in adjacency.items():
                neighbours = list(neighbours)
                focal_list.extend([focal] * len(neighbours))
                neigh_list.extend(neighbours)
                if weights is not None:
                    wts = list(weights[focal])  # type: ignore[index]
                    if len(wts) != len(neighbours):
                        raise ValidationError(
                            f"unit {focal!r} has {len(neighbours)} neighbours but "
                            f"{len(wts)} weights"
                        )
                    weight_list.extend(wts)
            order = list(adjacency.keys()) if ids is None else list(ids)
            focal_arr = np.asarray(focal_list, dtype=object)
            neigh_arr = np.asarray(neigh_list, dtype=object)
            wt_arr = (
                np.ones(len(focal_list))
                if weights is None
                else np.asarray(weight_list, dtype=np.float64)
            )
        else:
            if len(adjacency) != 2:
                raise ValidationError(
                    "edge-form adjacency must be a tuple (focal, neighbor) of arrays"
                )
            focal_arr = np.asarray(adjacency[0], dtype=object).ravel()
            neigh_arr = np.asarray(adjacency[1], dtype=object).ravel()
            if focal_arr.shape != neigh_arr.shape:
                raise ValidationError(
                    f"focal and neighbor differ in length: {focal_arr.size} vs "
                    f"{neigh_arr.size}"
                )
            wt_arr = (
                np.ones(focal_arr.size)
                if weights is None
                else np.asarray(weights, dtype=np.float64).ravel()
            )
            if wt_arr.shape != focal_arr.shape:
                raise ValidationError(
                    f"weights has {wt_arr.size} entries for {focal_arr.size} links"
                )
            order = (
                sorted(set(focal_arr) | set(neigh_arr)) if ids is None else list(ids)
            )
        order_t = _as_ids(order)
        position = {uid: k for k, uid in enumerate(order_t)}
        unknown = sorted({str(u) for u in (*focal_arr, *neigh_arr)} - position.keys())
        if unknown:
            raise AlignmentError(
                f"{len(unknown)} link ids are not among the {len(order_t)} unit ids, "
                f"e.g. {unknown[:5]}; pass ids= with every unit"
            )
        rows = np.fromiter((position[u] for u in focal_arr), np.int64, focal_arr.size)
        cols = np.fromiter((position[u] for u in neigh_arr), np.int64, neigh_arr.size)
        n = len(order_t)
        mat = sparse.coo_array((wt_arr, (rows, cols)), shape=(n, n)).tocsr()
        return cls(order_t, mat)

    @classmethod
    def from_libpysal(cls, w: Any) -> SpatialWeights:
        """Convert a ``libpysal.weights.W`` or ``libpysal.graph.Graph``.

        Ids are converted with ``str()``; the recorded transformation is taken from the
        libpysal object (``"r"``, ``"b"``, otherwise ``"o"``). Graph isolates (zero
        self-loops) become islands. The objects are recognised by their attributes
        (``unique_ids`` and ``sparse`` for a Graph, ``id_order`` and ``sparse`` for a
        W), so the core never imports libpysal; the way back is
        :func:`kzspatial.geo.weights.to_libpysal_graph` / ``to_libpysal_w``.

        Parameters
        ----------
        w : libpysal.weights.W or libpysal.graph.Graph

        Returns
        -------
        SpatialWeights
        """
        kind = _libpysal_kind(w)
        if kind == "graph":
            ids = [str(i) for i in w.unique_ids]
            how = str(getattr(w, "transformation", "o")).lower()
        elif kind == "w":
            ids = [str(i) for i in w.id_order]
            how = str(getattr(w, "transform", "o")).lower()
        else:
            raise ValidationError(
                "expected a libpysal.weights.W or libpysal.graph.Graph, got "
                f"{type(w).__name__}"
            )
        return cls(
            tuple(ids),
            sparse.csr_array(w.sparse),
            how if how in _TRANSFORMATIONS else "o",
        )

    # ------------------------------------------------------------------ derived values
    @property
    def n(self) -> int:
        """Number of units."""
        return len(self.ids)

    @cached_property
    def cardinalities(self) -> NDArray[np.int64]:
        """Neighbour count per unit, shape (n,) (self-links count as neighbours)."""
        out = np.diff(self.sparse.indptr).astype(np.int64)
        out.flags.writeable = False
        return out

    @cached_property
    def islands(self) -> tuple[str, ...]:
        """Ids of units without any neighbour."""
        return tuple(self.ids[i] for i in np.flatnonzero(self.cardinalities == 0))

    @cached_property
    def _components(self) -> tuple[int, NDArray[np.int64]]:
        count, labels = csgraph.connected_components(
            self.sparse, directed=True, connection="weak"
        )
        labels = labels.astype(np.int64)
        labels.flags.writeable = False
        return int(count), labels

    @property
    def n_components(self) -> int:
        """Number of connected components (links treated as undirected)."""
        return self._components[0]

    @property
    def component_labels(self) -> NDArray[np.int64]:
        """Component index per unit, shape (n,)."""
        return self._components[1]

    @cached_property
    def s0(self) -> float:
        """Sum of all weights."""
        return float(self.sparse.data.sum())

    @cached_property
    def s1(self) -> float:
        """Half the sum of squared symmetrised weights."""
        sym = self.sparse + self.sparse.T
        return float(0.5 * (sym.data**2).sum())

    @cached_property
    def s2(self) -> float:
        """Sum over units of (row sum + column sum) squared."""
        rows = np.asarray(self.sparse.sum(axis=1)).ravel()
        cols = np.asarray(self.sparse.sum(axis=0)).ravel()
        return float(((rows + cols) ** 2).sum())

    @cached_property
    def is_symmetric(self) -> bool:
        """Whether ``w_ij == w_ji`` for all pairs (to 1e-12 absolute)."""
        diff = self.sparse - self.sparse.T
        return bool(diff.nnz == 0 or np.abs(diff.data).max() <= 1e-12)

    # ------------------------------------------------------------------ operations
    def transform(self, how: Literal["r", "b"]) -> SpatialWeights:
        """Return transformed weights as a new object.

        Parameters
        ----------
        how : {"r", "b"}
            ``"r"`` divides each row by its sum (island rows stay zero); ``"b"`` sets
            every non-zero weight to 1.

        Returns
        -------
        SpatialWeights
        """
        mat = self.sparse.copy()
        if how == "r":
            row_sums = np.asarray(mat.sum(axis=1)).ravel()
            # repeat each row's sum over its stored entries
            mat.data = mat.data / np.repeat(row_sums, np.diff(mat.indptr))
        elif how == "b":
            mat.data = np.ones_like(mat.data)
        else:
            raise ValidationError(f"how must be 'r' or 'b', got {how!r}")
        return SpatialWeights(self.ids, mat, how)

    def lag(self, y: ArrayLike) -> NDArray[np.float64]:
        """Spatial lag ``W @ y``.

        Parameters
        ----------
        y : array_like, shape (n,) or (n, k)
            Values in ``ids`` order.

        Returns
        -------
        numpy.ndarray, shape like ``y``
        """
        arr = np.asarray(y, dtype=np.float64)
        if arr.ndim not in (1, 2) or arr.shape[0] != self.n:
            raise AlignmentError(
                f"y has shape {arr.shape} but the weights have {self.n} units; "
                "pass one value (row) per unit in ids order"
            )
        return self.sparse @ arr

    def subset(self, ids: Sequence[str]) -> SpatialWeights:
        """Weights restricted to ``ids`` (links to other units are removed).

        The transformation is recorded as ``"o"`` because row sums change; transform
        again if needed.

        Parameters
        ----------
        ids : sequence of str
            Units to keep, in the order of the result.

        Returns
        -------
        SpatialWeights
        """
        keep = _as_ids(ids)
        position = {uid: k for k, uid in enumerate(self.ids)}
        missing = [u for u in keep if u not in position]
        if missing:
            raise AlignmentError(f"ids not in the weights: {missing[:10]}")
        idx = np.fromiter((position[u] for u in keep), np.int64, len(keep))
        return SpatialWeights(keep, self.sparse[idx][:, idx], "o")

    def summary(self) -> WeightsSummary:
        """Neighbour counts, islands, one-neighbour units and connected components.

        Returns
        -------
        WeightsSummary
        """
        card = self.cardinalities
        _, labels = self._components
        sizes = np.sort(np.bincount(labels))[::-1]
        return WeightsSummary(
            n=self.n,
            n_links=int(self.sparse.nnz),
            transformation=self.transformation,
            min_neighbors=int(card.min()) if self.n else 0,
            max_neighbors=int(card.max()) if self.n else 0,
            mean_neighbors=float(card.mean()) if self.n else 0.0,
            islands=self.islands,
            one_neighbor=tuple(self.ids[i] for i in np.flatnonzero(card == 1)),
            n_components=self.n_components,
            component_sizes=tuple(int(s) for s in sizes),
            is_symmetric=self.is_symmetric,
            s0=self.s0,
            s1=self.s1,
            s2=self.s2,
        )


def as_spatial_weights(w: Any, name: str = "w") -> SpatialWeights:
    """Return ``w`` as :class:`SpatialWeights`, converting libpysal weights.

    Parameters
    ----------
    w : SpatialWeights, libpysal.graph.Graph or libpysal.weights.W
        Weights as accepted by every statistic.
    name : str, default "w"
        Argument name used in the error message.

    Returns
    -------
    SpatialWeights
        ``w`` itself, or :meth:`SpatialWeights.from_libpysal` of it.

    Raises
    ------
    ValidationError
        ``w`` is none of the accepted kinds.
    """
    if isinstance(w, SpatialWeights):
        return w
    if _libpysal_kind(w) is not None:
        return SpatialWeights.from_libpysal(w)
    raise ValidationError(
        f"{name} must be a SpatialWeights, libpysal.graph.Graph or libpysal.weights.W, "
        f"got {type(w).__name__}; build one with kzspatial.core.weights.build_knn (and "
        "friends) or kzspatial.geo.weights.weights_from_geodataframe"
    )


def _resolve_islands(
    w: SpatialWeights, islands: str
) -> tuple[SpatialWeights, tuple[str, ...]]:
    """Apply an islands policy before computing a statistic.

    Parameters
    ----------
    w : SpatialWeights
    islands : {"raise", "drop", "keep"}
        ``"raise"`` errors if any unit has no neighbour; ``"drop"`` removes islands
        (repeatedly, since removing a unit can strand another in asymmetric weights);
        ``"keep"`` keeps them with a zero spatial lag (esda's convention).

    Returns
    -------
    weights : SpatialWeights
        Weights on the retained units.
    dropped : tuple of str
        Ids removed by ``"drop"`` (empty otherwise).

    Raises
    ------
    ValidationError
        ``islands="raise"`` and islands exist, or an unknown policy.
    """
    if islands not in ISLAND_POLICIES:
        raise ValidationError(
            f"islands must be one of {ISLAND_POLICIES}, got {islands!r}"
        )
    if not w.islands or islands == "keep":
        return w, ()
    if islands == "raise":
        raise ValidationError(
            f"{len(w.islands)} unit(s) have no neighbours: {list(w.islands[:10])}. "
            "A statistic for them would be spurious. Fix the weights (e.g. contiguity "
            "from real topology, or k-nearest neighbours), or pass islands='drop' to "
            "exclude them or islands='keep' to keep them with a zero lag."
        )
    dropped: list[str] = []
    current = w
    while current.islands:
        dropped.extend(current.islands)
        keep = [u for u in current.ids if u not in set(current.islands)]
        current = current.subset(keep)
    return current, tuple(dropped)
