"""The centralised twin: the same boosting, in plaintext, with every party's bins in one place.

It is the reference the federated run must equal (same bins, same quantised gradients, same
split search: the same trees and scores) and the model behind the contribution estimate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fl_node.vertical.protocol.boost._errors import BoostConfigError
from fl_node.vertical.protocol.boost.binning import BinArray, BinEdges, quantile_edges
from fl_node.vertical.protocol.boost.config import BoostConfig, FloatArray, IntArray
from fl_node.vertical.protocol.boost.histogram import SplitChoice, plain_histograms
from fl_node.vertical.protocol.boost.tree import (
    BoolArray,
    BoostModel,
    LevelOracle,
    NodeSplit,
    TreeNode,
    boost,
    sigmoid,
    walk,
)


class TwinOracle(LevelOracle):
    """Every party's binned features in plaintext.

    Parameters
    ----------
    binned : sequence of ndarray
        Each party's bin indices (guest first).
    edges : sequence of BinEdges
        Each party's edges.
    """

    def __init__(self, binned: Sequence[BinArray], edges: Sequence[BinEdges]) -> None:
        self.binned = list(binned)
        self.edges = list(edges)
        self.gh = np.zeros((0, 3))

    def start_tree(self, tree: int, gi: IntArray, hi: IntArray) -> None:
        """Keep this tree's quantised gradients."""
        self.gh = np.stack([gi, hi, np.ones_like(gi)], axis=1).astype(np.float64)

    def histograms(
        self, tree: int, depth: int, node_of_row: IntArray, n_nodes: int
    ) -> list[FloatArray]:
        """Every party's plaintext histograms."""
        return [
            plain_histograms(b, e.n_bins, node_of_row, n_nodes, self.gh)
            for b, e in zip(self.binned, self.edges, strict=True)
        ]

    def partition(
        self,
        tree: int,
        depth: int,
        node_of_row: IntArray,
        chosen: Sequence[tuple[int, SplitChoice]],
    ) -> list[NodeSplit]:
        """Split in plaintext (the twin records every split's owner, feature and threshold)."""
        out = []
        for i, c in chosen:
            rows = np.flatnonzero(node_of_row == i)
            left: BoolArray = self.binned[c.party][rows, c.feature] <= c.bin
            threshold = self.edges[c.party].threshold(c.feature, c.bin)
            node = TreeNode(
                0,
                depth,
                0.0,
                party=c.party,
                feature=c.feature,
                bin=c.bin,
                threshold=threshold,
                gain=c.gain,
            )
            out.append(NodeSplit(node, left))
        return out


@dataclass(frozen=True)
class TwinFit:
    """A fitted twin: the model and every party's bin edges.

    Attributes
    ----------
    model : BoostModel
        The ensemble (every node with owner, feature, bin and threshold).
    edges : tuple of BinEdges
        Each party's edges (guest first).
    """

    model: BoostModel
    edges: tuple[BinEdges, ...]


def fit_twin(
    parts: Sequence[FloatArray],
    y: FloatArray,
    config: BoostConfig,
    edges: Sequence[BinEdges] | None = None,
) -> TwinFit:
    """Fit the plaintext histogram GBDT on the parties' features side by side.

    Parameters
    ----------
    parts : sequence of ndarray
        Each party's training features (guest first), rows aligned.
    y : ndarray
        0/1 labels.
    config : BoostConfig
        Hyper-parameters.
    edges : sequence of BinEdges or None
        Each party's edges (default: :func:`quantile_edges` of its own part).
    """
    if not parts or len({p.shape[0] for p in parts} | {np.asarray(y).size}) != 1:
        raise BoostConfigError("every part needs one row per label")
    bin_edges = tuple(
        edges if edges is not None else (quantile_edges(p, config.max_bins) for p in parts)
    )
    binned = [e.transform(p) for e, p in zip(bin_edges, parts, strict=True)]
    oracle = TwinOracle(binned, bin_edges)
    model = boost(oracle, np.asarray(y, dtype=np.float64), [e.n_bins for e in bin_edges], config)
    return TwinFit(model, bin_edges)


def predict_twin(model: BoostModel, parts: Sequence[FloatArray]) -> FloatArray:
    """Probabilities of the rows of ``parts`` (every party's features, guest first).

    Parameters
    ----------
    model : BoostModel
        A twin model (thresholds known at every node).
    parts : sequence of ndarray
        Each party's features of the rows to score.
    """
    cols = [np.asarray(p, dtype=np.float64) for p in parts]

    def decide(
        party: IntArray, feature: IntArray, threshold: FloatArray, record: IntArray, rows: IntArray
    ) -> BoolArray:
        left = np.zeros(rows.size, dtype=bool)
        for k, x in enumerate(cols):
            mine = party == k
            left[mine] = x[rows[mine], feature[mine]] <= threshold[mine]
        return left

    return sigmoid(walk(model, cols[0].shape[0], decide))
