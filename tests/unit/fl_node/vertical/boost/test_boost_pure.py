"""SecureBoost's pure parts against brute force: bins, histograms, split search, packing, twin."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from fl_node.vertical.protocol.boost import (
    BoostConfig,
    BoostConfigError,
    BoostPeerError,
    GHPacking,
    best_splits,
    fit_twin,
    plain_histograms,
    predict_twin,
    quantile_edges,
)

CFG = BoostConfig(n_trees=3, max_depth=3, max_bins=6, min_child_weight=0.01, learning_rate=0.5)


def _data(n: int = 60, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    guest = np.column_stack([rng.integers(0, 5, n), rng.normal(size=n)])
    host = np.column_stack([rng.normal(size=n), rng.integers(0, 3, n), np.full(n, 2.0)])
    logit = 1.2 * guest[:, 1] - 1.5 * host[:, 0] + 0.8 * (host[:, 1] == 2)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    return [guest, host], y


def test_bins_send_x_at_most_the_edge_left_and_respect_max_bins() -> None:
    rng = np.random.default_rng(1)
    x = np.column_stack([rng.normal(size=500), rng.integers(0, 4, 500), np.ones(500)])
    edges = quantile_edges(x, 8)
    assert edges.n_bins[0] <= 8 and edges.n_bins[1] == 4 and edges.n_bins[2] == 1
    binned = edges.transform(x)
    for j, b in itertools.product(range(2), range(3)):
        t = edges.threshold(j, b)
        assert np.array_equal(binned[:, j] <= b, x[:, j] <= t)
    with pytest.raises(BoostConfigError):
        edges.transform(np.array([[np.nan, 0.0, 1.0]]))


def _brute_gain(g: np.ndarray, h: np.ndarray, left: np.ndarray, cfg: BoostConfig) -> float:
    lam = cfg.reg_lambda

    def score(mask: np.ndarray) -> float:
        return float(g[mask].sum() ** 2 / (h[mask].sum() + lam))

    if h[left].sum() < cfg.min_child_weight or h[~left].sum() < cfg.min_child_weight:
        return -math.inf
    if left.all() or not left.any():
        return -math.inf
    return 0.5 * (score(left) + score(~left) - score(np.ones_like(left)))


def test_split_search_equals_brute_force_over_every_threshold() -> None:
    parts, _ = _data(80, seed=3)
    rng = np.random.default_rng(4)
    pack = GHPacking(CFG.precision_bits, 80)
    gi, hi = pack.quantise(rng.uniform(-1, 1, 80), rng.uniform(0, 0.25, 80))
    gh = np.stack([gi, hi, np.ones(80)], axis=1).astype(float)
    node_of_row = rng.integers(-1, 3, 80)
    edges = [quantile_edges(p, CFG.max_bins) for p in parts]
    binned = [e.transform(p) for e, p in zip(edges, parts, strict=True)]
    hists = [
        plain_histograms(b, e.n_bins, node_of_row, 3, gh)
        for b, e in zip(binned, edges, strict=True)
    ]
    totals = np.stack([gh[node_of_row == i].sum(axis=0) for i in range(3)])
    got = best_splits(hists, [e.n_bins for e in edges], totals, CFG)
    g, h = gi / 2.0**CFG.precision_bits, hi / 2.0**CFG.precision_bits
    for i in range(3):
        rows = node_of_row == i
        best = (-math.inf, None)
        for k, (x, e) in enumerate(zip(parts, edges, strict=True)):
            for j in range(x.shape[1]):
                for b, t in enumerate(e.edges[j]):
                    gain = _brute_gain(g[rows], h[rows], x[rows, j] <= t, CFG)
                    if gain > best[0] + 1e-12:
                        best = (gain, (k, j, b))
        choice = got[i]
        if best[0] <= CFG.min_gain:
            assert choice is None
        else:
            assert choice is not None and (choice.party, choice.feature, choice.bin) == best[1]
            assert choice.gain == pytest.approx(best[0], rel=1e-9)


def test_histograms_equal_loops() -> None:
    parts, _ = _data(50, seed=5)
    edges = quantile_edges(parts[1], 5)
    binned = edges.transform(parts[1])
    rng = np.random.default_rng(6)
    gh = np.stack([rng.integers(-9, 9, 50), rng.integers(0, 5, 50), np.ones(50)], axis=1).astype(
        float
    )
    node_of_row = rng.integers(-1, 2, 50)
    hist = plain_histograms(binned, edges.n_bins, node_of_row, 2, gh)
    start = 0
    for j, nb in enumerate(edges.n_bins):
        for node, b in itertools.product(range(2), range(nb)):
            mask = (node_of_row == node) & (binned[:, j] <= b)
            assert np.array_equal(hist[node, start + b], gh[mask].sum(axis=0))
        start += nb


def test_gh_packing_round_trips_sums_and_refuses_out_of_bound_slots() -> None:
    pack = GHPacking(32, 1000)
    rng = np.random.default_rng(7)
    gi, hi = pack.quantise(rng.uniform(-1, 1, 1000), rng.uniform(0, 0.25, 1000))
    rows = pack.pack_rows(gi, hi)
    subset = rng.random(1000) < 0.4
    total = sum(r for r, s in zip(rows, subset, strict=True) if s)
    assert pack.unpack(total) == (int(gi[subset].sum()), int(hi[subset].sum()), int(subset.sum()))
    assert pack.unpack(sum(rows)) == (int(gi.sum()), int(hi.sum()), 1000)
    per = pack.per_plaintext(1024)
    sums = [sum(rows[i::7]) for i in range(7)]
    assert pack.split_compressed(pack.compress_plain(sums, per), 7, per) == sums
    with pytest.raises(BoostPeerError):
        pack.unpack(1001)  # count above max_rows
    with pytest.raises(BoostPeerError):
        pack.unpack((1 << (pack.count_bits + pack.h_bits)) * (1 << 40) + 1)  # g slot of one row
    with pytest.raises(BoostConfigError):
        pack.quantise(np.array([1.5]), np.array([0.1]))
    with pytest.raises(BoostConfigError):
        GHPacking(40, 1 << 20).check_key(128)


def test_twin_learns_and_its_thresholds_reproduce_its_training_leaves() -> None:
    parts, y = _data(300, seed=8)
    fit = fit_twin(parts, y, BoostConfig(n_trees=5, max_depth=3, max_bins=8))
    p = predict_twin(fit.model, parts)
    assert len(fit.model.trees) == 5 and any(len(t) > 1 for t in fit.model.trees)
    base = -np.mean(y * np.log(y.mean()) + (1 - y) * np.log(1 - y.mean()))
    loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert loss < base - 0.05
    owners = {n.party for t in fit.model.trees for n in t if not n.is_leaf}
    assert owners == {0, 1}


def test_config_refuses_out_of_range_values() -> None:
    with pytest.raises(BoostConfigError):
        BoostConfig(max_depth=0)
    with pytest.raises(BoostConfigError):
        BoostConfig(learning_rate=float("nan"))
    with pytest.raises(BoostConfigError):
        BoostConfig(precision_bits=40).check_rows(1 << 14)


def test_coalitions_keep_the_guest_and_drop_absent_hosts() -> None:
    from fl_node.vertical.protocol.boost import coalition_value, fit_coalition

    parts, y = _data(300, seed=9)
    cfg = BoostConfig(n_trees=4, max_depth=2, max_bins=8)
    alone = fit_coalition(parts, y, [], cfg)
    assert {n.party for t in alone.model.trees for n in t} == {0}
    valid, y_valid = _data(300, seed=10)
    with_host = coalition_value(parts, y, valid, y_valid, [1], cfg)
    assert with_host > coalition_value(parts, y, valid, y_valid, [], cfg) + 0.05
    with pytest.raises(BoostConfigError):
        fit_coalition(parts, y, [2], cfg)
