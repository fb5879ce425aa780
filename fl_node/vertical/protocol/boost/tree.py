"""Trees, the level-wise grower and the boosting loop, shared by the twin and the guest.

The grower asks a :class:`LevelOracle` for each level's histograms and for the partition of
the nodes it splits. The twin's oracle holds every party's bins in plaintext; the guest's
oracle builds its own histograms and obtains the hosts' through the protocol. Everything else
(gradients, the split search, leaf weights, the score update) is this one code, so the two
produce the same trees from the same histograms.

Node ``0`` is the root; children are numbered in creation order. A guest-owned (or twin) node
holds ``party, feature, bin, threshold``; a host-owned node in the guest's model holds
``party`` (the host) and ``record`` (the host's private record id) only.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from fl_node.vertical.protocol.boost.config import BoostConfig, FloatArray, IntArray
from fl_node.vertical.protocol.boost.gh import GHPacking
from fl_node.vertical.protocol.boost.histogram import SplitChoice, best_splits, leaf_weight

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class TreeNode:
    """One node of a boosted tree.

    Attributes
    ----------
    node_id : int
        Position in the tree (root 0).
    depth : int
        Root 0.
    weight : float
        Shrunk weight ``-lr G / (H + lambda)`` (used at leaves).
    left, right : int
        Children (``-1`` at a leaf).
    party : int
        Owner of the split: 0 guest, ``k`` host ``k``.
    feature, bin : int
        The owner's feature and bin (``-1`` at host nodes in the guest's model).
    threshold : float
        ``x <= threshold`` goes left (``nan`` where unknown to the holder).
    record : int
        The host's record id (``-1`` unless host-owned in the guest's model).
    gain : float
        Gain of the split.
    """

    node_id: int
    depth: int
    weight: float
    left: int = -1
    right: int = -1
    party: int = 0
    feature: int = -1
    bin: int = -1
    threshold: float = math.nan
    record: int = -1
    gain: float = 0.0

    @property
    def is_leaf(self) -> bool:
        """Whether the node is a leaf."""
        return self.left < 0


@dataclass(frozen=True)
class BoostModel:
    """A boosted ensemble: ``sigmoid(init_score + sum of the rows' leaf weights)``.

    Attributes
    ----------
    init_score : float
        Log-odds of the training labels.
    trees : tuple of tuple of TreeNode
        The trees.
    max_depth : int
        Depth limit they were grown with.
    """

    init_score: float
    trees: tuple[tuple[TreeNode, ...], ...]
    max_depth: int


@dataclass(frozen=True)
class NodeSplit:
    """How the oracle split one node: its description and which of its rows go left.

    Attributes
    ----------
    node : TreeNode
        The split node as the guest records it (children filled in by the grower).
    left : ndarray of bool
        Per row of the node (ascending row order): goes left.
    """

    node: TreeNode
    left: BoolArray


class LevelOracle(ABC):
    """Where a level's histograms and partitions come from (twin or federated guest)."""

    @abstractmethod
    def start_tree(self, tree: int, gi: IntArray, hi: IntArray) -> None:
        """A tree starts with these quantised gradients and hessians."""

    @abstractmethod
    def histograms(
        self, tree: int, depth: int, node_of_row: IntArray, n_nodes: int
    ) -> list[FloatArray]:
        """Cumulative histograms of every party (guest first) for the level's nodes."""

    @abstractmethod
    def partition(
        self,
        tree: int,
        depth: int,
        node_of_row: IntArray,
        chosen: Sequence[tuple[int, SplitChoice]],
    ) -> list[NodeSplit]:
        """Apply the chosen splits ``(level node, choice)``; one :class:`NodeSplit` each."""

    def end_tree(self, tree: int, depth: int) -> None:  # noqa: B027 - optional hook
        """The tree stopped growing before ``max_depth`` (nothing left to split at ``depth``)."""


def _sums(gh: FloatArray, node_of_row: IntArray, n_nodes: int) -> FloatArray:
    active = node_of_row >= 0
    return np.stack(
        [
            np.bincount(node_of_row[active], weights=gh[active, ch], minlength=n_nodes)
            for ch in range(3)
        ],
        axis=1,
    )


def grow_tree(
    oracle: LevelOracle,
    tree: int,
    gh: FloatArray,
    bins: Sequence[Sequence[int]],
    config: BoostConfig,
) -> tuple[tuple[TreeNode, ...], IntArray]:
    """Grow one tree level by level; return its nodes and every training row's leaf.

    Parameters
    ----------
    oracle : LevelOracle
        Histograms and partitions.
    tree : int
        Tree index.
    gh : ndarray of shape (n, 3)
        ``gi, hi, 1`` per training row.
    bins : sequence of sequence of int
        Every party's bins per feature (guest first).
    config : BoostConfig
        Split rules.
    """
    n = gh.shape[0]
    leaf_of_row = np.zeros(n, dtype=np.int64)
    root_sums = _sums(gh, np.zeros(n, dtype=np.int64), 1)
    nodes: list[TreeNode] = [TreeNode(0, 0, float(leaf_weight(root_sums, config)[0]))]
    level = [0]
    for depth in range(config.max_depth):
        if not level:
            oracle.end_tree(tree, depth)
            break
        lookup = np.full(len(nodes), -1, dtype=np.int64)
        lookup[level] = np.arange(len(level))
        node_of_row = lookup[leaf_of_row]
        totals = _sums(gh, node_of_row, len(level))
        hists = oracle.histograms(tree, depth, node_of_row, len(level))
        choices = best_splits(hists, bins, totals, config)
        chosen = [(i, c) for i, c in enumerate(choices) if c is not None]
        splits = oracle.partition(tree, depth, node_of_row, chosen) if chosen else []
        parents, level = level, []
        for (i, _), split in zip(chosen, splits, strict=True):
            rows = np.flatnonzero(node_of_row == i)
            left_id, right_id = len(nodes), len(nodes) + 1
            child_rows = (rows[split.left], rows[~split.left])
            for child, child_ids in zip((left_id, right_id), child_rows, strict=True):
                sums = gh[child_ids].sum(axis=0, keepdims=True)
                nodes.append(TreeNode(child, depth + 1, float(leaf_weight(sums, config)[0])))
                leaf_of_row[child_ids] = child
                level.append(child)
            node_id = parents[i]
            nodes[node_id] = replace(
                split.node,
                node_id=node_id,
                depth=depth,
                weight=nodes[node_id].weight,
                left=left_id,
                right=right_id,
            )
    return tuple(nodes), leaf_of_row


def sigmoid(z: FloatArray) -> FloatArray:
    """Numerically stable logistic function.

    Parameters
    ----------
    z : ndarray
        Scores.
    """
    out: FloatArray = np.empty_like(z, dtype=np.float64)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def boost(
    oracle: LevelOracle, y: FloatArray, bins: Sequence[Sequence[int]], config: BoostConfig
) -> BoostModel:
    """Fit ``config.n_trees`` trees to the logistic loss through ``oracle``.

    Parameters
    ----------
    oracle : LevelOracle
        Histograms and partitions (twin or federated).
    y : ndarray of shape (n,)
        0/1 labels (the guest's).
    bins : sequence of sequence of int
        Every party's bins per feature (guest first).
    config : BoostConfig
        Hyper-parameters.
    """
    labels = np.asarray(y, dtype=np.float64)
    config.check_rows(labels.size)
    rate = float(np.clip(labels.mean(), 1e-6, 1 - 1e-6))
    init = math.log(rate / (1.0 - rate))
    score = np.full(labels.size, init)
    packing = GHPacking(config.precision_bits, labels.size)
    trees = []
    for t in range(config.n_trees):
        p = sigmoid(score)
        gi, hi = packing.quantise(p - labels, p * (1.0 - p))
        oracle.start_tree(t, gi, hi)
        gh = np.stack([gi, hi, np.ones_like(gi)], axis=1).astype(np.float64)
        nodes, leaf_of_row = grow_tree(oracle, t, gh, bins, config)
        trees.append(nodes)
        score += np.array([n.weight for n in nodes])[leaf_of_row]
    return BoostModel(init, tuple(trees), config.max_depth)


Decide = Callable[[IntArray, IntArray, FloatArray, IntArray, IntArray], BoolArray]
"""``(party, feature, threshold, record, rows) -> goes left`` for a batch of (node, row) pairs."""


def walk(model: BoostModel, n_rows: int, decide: Decide) -> FloatArray:
    """Raw scores of ``n_rows`` rows: every tree walked level by level, one batch per level.

    Parameters
    ----------
    model : BoostModel
        The ensemble.
    n_rows : int
        Rows to score.
    decide : callable
        Branch decisions for a batch of pairs (see :data:`Decide`).
    """
    n_trees = len(model.trees)
    width = max((len(t) for t in model.trees), default=1)
    fields = ("left", "right", "party", "feature", "record")
    table = {f: np.full((n_trees, width), -1, dtype=np.int64) for f in fields}
    threshold = np.full((n_trees, width), math.nan)
    weight = np.zeros((n_trees, width))
    for t, nodes in enumerate(model.trees):
        for node in nodes:
            for f in fields:
                table[f][t, node.node_id] = getattr(node, f)
            threshold[t, node.node_id] = node.threshold
            weight[t, node.node_id] = node.weight
    pos = np.zeros((n_trees, n_rows), dtype=np.int64)
    for _ in range(model.max_depth):
        t_idx, r_idx = np.nonzero(np.take_along_axis(table["left"], pos, axis=1) >= 0)
        if t_idx.size == 0:
            break
        at = pos[t_idx, r_idx]
        cols = {f: table[f][t_idx, at] for f in ("party", "feature", "record")}
        go_left = decide(
            cols["party"], cols["feature"], threshold[t_idx, at], cols["record"], r_idx
        )
        pos[t_idx, r_idx] = np.where(go_left, table["left"][t_idx, at], table["right"][t_idx, at])
    leaf = np.take_along_axis(weight, pos, axis=1)
    return np.asarray(model.init_score + leaf.sum(axis=0), dtype=np.float64)
