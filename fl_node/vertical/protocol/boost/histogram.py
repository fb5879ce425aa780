"""Cumulative (G, H, count) histograms and the second-order split search (pure functions).

A party's histogram of one level is an array of shape ``(n_nodes, total_bins, 3)``: for every
node being split and every bin of every feature (features one after the other), the sums of
the quantised ``gi``, ``hi`` and the row count over the node's rows with ``bin <= b`` in that
feature (cumulative within each feature). Its entries are integers held exactly in float64
(:meth:`~fl_node.vertical.protocol.boost.BoostConfig.max_rows`).

The gain of sending ``G_L, H_L`` left is XGBoost's
``1/2 [G_L^2/(H_L+lambda) + G_R^2/(H_R+lambda) - G^2/(H+lambda)]``; a candidate needs both
children's hessian sums at least ``min_child_weight`` and is taken when its gain exceeds
``min_gain``. Candidates are ranked in one fixed order (guest features, then each host's, bins
ascending) and the first best wins, so equal inputs give equal trees.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fl_node.vertical.protocol.boost._errors import BoostConfigError
from fl_node.vertical.protocol.boost.binning import BinArray
from fl_node.vertical.protocol.boost.config import BoostConfig, FloatArray, IntArray


@dataclass(frozen=True)
class SplitChoice:
    """The best split of one node.

    Attributes
    ----------
    party : int
        0 for the guest, ``k`` for host ``k``.
    feature : int
        The party's own feature index.
    bin : int
        Split bin (``bin <= b`` goes left).
    gain : float
        Its gain.
    """

    party: int
    feature: int
    bin: int
    gain: float


def offsets_of(n_bins: Sequence[int]) -> IntArray:
    """Start of each feature's bins in the flat histogram.

    Parameters
    ----------
    n_bins : sequence of int
        Bins per feature.
    """
    return np.concatenate([[0], np.cumsum(np.asarray(n_bins, dtype=np.int64))[:-1]]).astype(
        np.int64
    )


def cumulate(hist: FloatArray, n_bins: Sequence[int]) -> FloatArray:
    """Turn per-bin sums (``(n_nodes, total_bins, 3)``) into cumulative sums per feature.

    Parameters
    ----------
    hist : ndarray
        Per-bin sums.
    n_bins : sequence of int
        Bins per feature.
    """
    out = np.empty_like(hist)
    for start, width in zip(offsets_of(n_bins).tolist(), n_bins, strict=True):
        out[:, start : start + width] = np.cumsum(hist[:, start : start + width], axis=1)
    return out


def plain_histograms(
    binned: BinArray,
    n_bins: Sequence[int],
    node_of_row: IntArray,
    n_nodes: int,
    gh: FloatArray,
) -> FloatArray:
    """A party's cumulative histograms of the nodes being split, in plaintext.

    Parameters
    ----------
    binned : ndarray of shape (n, F)
        The party's bin indices.
    n_bins : sequence of int
        Bins per feature.
    node_of_row : ndarray of shape (n,)
        Level node of every row (``-1``: not being split).
    n_nodes : int
        Nodes being split.
    gh : ndarray of shape (n, 3)
        ``gi, hi, 1`` per row (integers as float64).
    """
    total = int(sum(n_bins))
    active = np.flatnonzero(node_of_row >= 0)
    width = binned.shape[1]
    idx = (node_of_row[active, None] * total + offsets_of(n_bins)[None, :] + binned[active]).ravel()
    hist = np.empty((n_nodes, total, 3), dtype=np.float64)
    for ch in range(3):
        weights = np.repeat(gh[active, ch], width)
        hist[:, :, ch] = np.bincount(idx, weights=weights, minlength=n_nodes * total).reshape(
            n_nodes, total
        )
    return cumulate(hist, n_bins)


def split_gains(
    cum: FloatArray, n_bins: Sequence[int], totals: FloatArray, config: BoostConfig
) -> FloatArray:
    """Gain of every candidate split of one party (``-inf`` where not allowed).

    Parameters
    ----------
    cum : ndarray of shape (n_nodes, total_bins, 3)
        The party's cumulative histograms.
    n_bins : sequence of int
        Bins per feature.
    totals : ndarray of shape (n_nodes, 3)
        Node sums ``G, H, count`` (quantised integers).
    config : BoostConfig
        ``reg_lambda``, ``min_child_weight``, ``precision_bits``.
    """
    scale = math.ldexp(1.0, -config.precision_bits)
    lam = config.reg_lambda
    g_left, h_left = cum[:, :, 0] * scale, cum[:, :, 1] * scale
    g_all, h_all = totals[:, 0:1] * scale, totals[:, 1:2] * scale
    g_right, h_right = g_all - g_left, h_all - h_left
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = 0.5 * (
            g_left**2 / (h_left + lam) + g_right**2 / (h_right + lam) - g_all**2 / (h_all + lam)
        )
    ok = (h_left >= config.min_child_weight) & (h_right >= config.min_child_weight)
    ok &= (cum[:, :, 2] > 0) & (cum[:, :, 2] < totals[:, 2:3])
    last = offsets_of(n_bins) + np.asarray(n_bins, dtype=np.int64) - 1
    ok[:, last] = False
    return np.where(ok & np.isfinite(gain), gain, -np.inf)


def best_splits(
    hists: Sequence[FloatArray],
    bins: Sequence[Sequence[int]],
    totals: FloatArray,
    config: BoostConfig,
) -> list[SplitChoice | None]:
    """The best split of every node over all parties' features (``None``: make it a leaf).

    Parameters
    ----------
    hists : sequence of ndarray
        Each party's cumulative histograms (guest first), ``(n_nodes, total_bins_k, 3)``.
    bins : sequence of sequence of int
        Each party's bins per feature.
    totals : ndarray of shape (n_nodes, 3)
        Node sums.
    config : BoostConfig
        Split rules.
    """
    if len(hists) != len(bins):
        raise BoostConfigError("one histogram per party")
    gains = [split_gains(h, b, totals, config) for h, b in zip(hists, bins, strict=True)]
    owner = np.concatenate([np.full(g.shape[1], k) for k, g in enumerate(gains)])
    local = np.concatenate([np.arange(g.shape[1]) for g in gains])
    flat = np.concatenate(gains, axis=1)
    out: list[SplitChoice | None] = []
    for i in range(totals.shape[0]):
        j = int(np.argmax(flat[i])) if flat.shape[1] else 0
        if not flat.shape[1] or not flat[i, j] > config.min_gain:
            out.append(None)
            continue
        party = int(owner[j])
        offs = offsets_of(bins[party])
        feature = int(np.searchsorted(offs, local[j], side="right") - 1)
        out.append(SplitChoice(party, feature, int(local[j] - offs[feature]), float(flat[i, j])))
    return out


def leaf_weight(totals: FloatArray, config: BoostConfig) -> FloatArray:
    """Shrunk leaf weights ``-lr * G / (H + lambda)`` of node sums ``(n, 3)``.

    Parameters
    ----------
    totals : ndarray of shape (n, 3)
        Node sums (quantised integers).
    config : BoostConfig
        ``learning_rate``, ``reg_lambda``, ``precision_bits``.
    """
    scale = math.ldexp(1.0, -config.precision_bits)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = (
            -config.learning_rate
            * (totals[:, 0] * scale)
            / (totals[:, 1] * scale + config.reg_lambda)
        )
    return np.where(np.isfinite(w), w, 0.0)
