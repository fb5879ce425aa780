"""Per-feature quantile bins, computed by each party on its own columns (pure functions).

A feature with edges ``e_0 < e_1 < ... < e_{B-2}`` has ``B`` bins; ``bin(x)`` is the number of
edges strictly below ``x``, so ``bin(x) <= b`` exactly when ``x <= e_b``. A split "at bin ``b``"
sends ``x <= e_b`` left: the edge is the split's threshold, and the same rule applies to rows
never seen in training. Edges are data values (lower quantiles), at most ``max_bins - 1`` per
feature, without the feature's maximum (a split there would leave the right child empty).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fl_node.vertical.protocol.boost._errors import BoostConfigError
from fl_node.vertical.protocol.boost.config import FloatArray

BinArray = npt.NDArray[np.int32]


@dataclass(frozen=True)
class BinEdges:
    """One party's bin edges, feature by feature.

    Attributes
    ----------
    edges : tuple of ndarray
        Strictly increasing thresholds of each feature.
    """

    edges: tuple[FloatArray, ...]

    @property
    def n_features(self) -> int:
        """Features."""
        return len(self.edges)

    @property
    def n_bins(self) -> tuple[int, ...]:
        """Bins per feature (edges + 1)."""
        return tuple(int(e.size) + 1 for e in self.edges)

    def transform(self, x: FloatArray) -> BinArray:
        """Bin indices of ``x`` (shape ``(n, n_features)``).

        Parameters
        ----------
        x : ndarray of shape (n, n_features)
            Finite feature values.
        """
        arr = _check_matrix(x, self.n_features)
        out = np.empty(arr.shape, dtype=np.int32)
        for j, edges in enumerate(self.edges):
            out[:, j] = np.searchsorted(edges, arr[:, j], side="left")
        return out

    def threshold(self, feature: int, bin_index: int) -> float:
        """The threshold of a split at ``bin_index`` (``x <= threshold`` goes left).

        Parameters
        ----------
        feature : int
            Feature index.
        bin_index : int
            Bin in ``[0, n_bins[feature] - 2]``.
        """
        return float(self.edges[feature][bin_index])


def _check_matrix(x: FloatArray, n_features: int | None = None) -> FloatArray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or (n_features is not None and arr.shape[1] != n_features):
        raise BoostConfigError(f"expected a matrix with {n_features} columns, got {arr.shape}")
    if not np.isfinite(arr).all():
        raise BoostConfigError("features must be finite (impute missing values first)")
    return arr


def quantile_edges(x: FloatArray, max_bins: int) -> BinEdges:
    """Quantile bin edges of every column of ``x`` (one party's own features).

    Parameters
    ----------
    x : ndarray of shape (n, F)
        The party's training features.
    max_bins : int
        Bins per feature at most (2..256).

    Returns
    -------
    BinEdges
        Edges that are data values; a constant feature gets none (one bin).
    """
    if not 2 <= max_bins <= 256:
        raise BoostConfigError("max_bins must be in [2, 256]")
    arr = _check_matrix(x)
    if arr.shape[0] == 0:
        raise BoostConfigError("no rows to bin")
    levels = np.linspace(0.0, 1.0, max_bins + 1)[1:-1]
    edges = []
    for j in range(arr.shape[1]):
        col = arr[:, j]
        distinct = np.unique(col)
        if distinct.size <= max_bins:
            cuts = distinct[:-1]
        else:
            cuts = np.unique(np.quantile(col, levels, method="lower"))
            cuts = cuts[cuts < distinct[-1]]
        edges.append(np.ascontiguousarray(cuts, dtype=np.float64))
    return BinEdges(tuple(edges))
