"""Benchmark SecureBoost on default-credit: AUC/KS against the twin, seconds per tree, ours vs phe.

Run from the repository root (``scripts/bench-secureboost`` sets the environment)::

    scripts/bench-secureboost                        20 trees, depth 3, 32 bins, 2048-bit keys
    scripts/bench-secureboost --quick                600 rows, 512-bit keys, 2 trees: a smoke run
    scripts/bench-secureboost --trees 10 --json out.json

The guest holds ``y`` and the 13 guest columns, the host columns are split into ``--hosts``
parties (default 2). Rows are split 80/20 (seeded). It prints, side by side: the federated
run with our Paillier (AUC, KS against the 0.45 target, seconds per tree), the centralised
twin with the same trees, depth, bins and learning rate (and whether the federated trees and
probabilities equal it), sklearn's ``HistGradientBoostingClassifier`` with the same settings,
and the same protocol with phe. phe is measured on ``--phe-rows`` training rows for
``--phe-trees`` trees, next to ours on the same subset; its full-size seconds per tree are
extrapolated as ``ours_full * phe_subset / ours_subset`` (both grow about linearly in rows;
the ratio is the measured one). All parties run as threads of one process (one core at a
time under the GIL): seconds per tree are the sum of the guest's and the hosts' work.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from fl_node.evaluation import ks_statistic, roc_auc
from fl_node.vertical.data import dataset_files
from fl_node.vertical.protocol.boost import (
    BOOST_CODEC,
    BoostConfig,
    SecureBoostGuest,
    SecureBoostHost,
    fit_twin,
    guest_predict,
    host_answer_predict,
    make_cipher,
    predict_twin,
)
from fl_node.vertical.transport import LocalNetwork, Transport

KS_TARGET = 0.45


@dataclass
class FedRun:
    """One federated run."""

    cipher: str
    rows: int
    trees: int
    key_bits: int
    auc: float
    ks: float
    seconds_per_tree: float
    tree_seconds: list[float]
    equals_twin: bool


def load(
    quick: bool, hosts: int, seed: int
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """Parties' features (guest first), labels, train and test indices."""
    guest_csv, host_csv = dataset_files("default-credit")
    g = np.genfromtxt(guest_csv, delimiter=",", skip_header=1)
    h = np.genfromtxt(host_csv, delimiter=",", skip_header=1)
    if not np.array_equal(g[:, 0], h[:, 0]):
        sys.exit("the guest and host files are not aligned by id")
    y, xg, xh = g[:, 1], g[:, 2:], h[:, 1:]
    parts = [xg, *np.array_split(xh, hosts, axis=1)]
    order = np.random.default_rng(seed).permutation(y.size)
    if quick:
        order = order[:750]
    cut = int(0.8 * order.size)
    return parts, y, np.sort(order[:cut]), np.sort(order[cut:])


def federate(
    parts: list[np.ndarray], y: np.ndarray, train: np.ndarray, test: np.ndarray, cfg: BoostConfig
) -> tuple[Any, np.ndarray]:
    """Train and predict with one guest and ``len(parts) - 1`` host threads."""
    hosts = [f"host{k}" for k in range(1, len(parts))]
    cipher = make_cipher(cfg.cipher, cfg.key_bits)
    net = LocalNetwork(["guest", *hosts], codec=BOOST_CODEC, timeout=3600.0)
    out: dict[str, Any] = {}

    def guest(t: Transport) -> None:
        fit = SecureBoostGuest(
            parts[0][train], y[train], cfg, cipher, hosts=hosts, session="b"
        ).fit(t)
        out["fit"] = fit
        out["prob"] = guest_predict(t, fit.model, parts[0][test], hosts=hosts, session="b")

    def host(k: int, t: Transport) -> None:
        model = SecureBoostHost(parts[k][train], cfg, session="b").fit(t)
        host_answer_predict(t, model, parts[k][test])

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(parts)) as pool:
        futures = [pool.submit(guest, net.transport("guest"))]
        futures += [pool.submit(host, k, net.transport(f"host{k}")) for k in range(1, len(parts))]
        for f in futures:
            f.result()
    return out["fit"], out["prob"]


def run(
    cfg: BoostConfig, parts: list[np.ndarray], y: np.ndarray, train: np.ndarray, test: np.ndarray
) -> FedRun:
    """One federated run, checked against the twin."""
    fit, prob = federate(parts, y, train, test, cfg)
    twin = fit_twin([p[train] for p in parts], y[train], cfg)
    twin_prob = predict_twin(twin.model, [p[test] for p in parts])
    secs = list(fit.tree_seconds)
    return FedRun(
        cfg.cipher,
        int(train.size),
        cfg.n_trees,
        cfg.key_bits,
        roc_auc(y[test], prob),
        ks_statistic(y[test], prob),
        float(np.mean(secs)),
        secs,
        bool(np.array_equal(prob, twin_prob)),
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse the options, run, print the table; return the figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="750 rows, 512-bit keys, 2 trees")
    ap.add_argument("--trees", type=int, default=20)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--bins", type=int, default=32)
    ap.add_argument("--learning-rate", type=float, default=0.3)
    ap.add_argument("--hosts", type=int, default=2)
    ap.add_argument("--key-bits", type=int, default=2048)
    ap.add_argument("--phe-rows", type=int, default=1500, help="training rows of the phe run")
    ap.add_argument("--phe-trees", type=int, default=1)
    ap.add_argument("--skip-phe", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", metavar="FILE", help="write the figures here")
    args = ap.parse_args(argv)
    if args.quick:
        args.trees, args.key_bits, args.phe_rows, args.phe_trees = 2, 512, 200, 1
    parts, y, train, test = load(args.quick, args.hosts, args.seed)
    cfg = BoostConfig(
        n_trees=args.trees,
        max_depth=args.depth,
        max_bins=args.bins,
        learning_rate=args.learning_rate,
        key_bits=args.key_bits,
    )
    t0 = time.perf_counter()
    twin = fit_twin([p[train] for p in parts], y[train], cfg)
    twin_s = time.perf_counter() - t0
    twin_prob = predict_twin(twin.model, [p[test] for p in parts])
    from sklearn.ensemble import HistGradientBoostingClassifier

    sk = HistGradientBoostingClassifier(
        max_iter=args.trees,
        max_depth=args.depth + 1,
        learning_rate=args.learning_rate,
        max_bins=args.bins,
        l2_regularization=cfg.reg_lambda,
        min_samples_leaf=1,
        max_leaf_nodes=None,
        early_stopping=False,
    ).fit(np.hstack([p[train] for p in parts]), y[train])
    sk_prob = sk.predict_proba(np.hstack([p[test] for p in parts]))[:, 1]
    ours = run(cfg, parts, y, train, test)
    result: dict[str, Any] = {
        "command": "scripts/bench-secureboost " + " ".join(sys.argv[1:] if argv is None else argv),
        "config": asdict(cfg),
        "hosts": args.hosts,
        "train_rows": int(train.size),
        "test_rows": int(test.size),
        "ks_target": KS_TARGET,
        "ours": asdict(ours),
        "twin": {
            "auc": roc_auc(y[test], twin_prob),
            "ks": ks_statistic(y[test], twin_prob),
            "seconds": twin_s,
        },
        "sklearn_hgb": {"auc": roc_auc(y[test], sk_prob), "ks": ks_statistic(y[test], sk_prob)},
        "load_average": os.getloadavg()[0],
    }
    if not args.skip_phe:
        result["phe"] = _phe(args, cfg, parts, y, train, test, ours)
    _print(result)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=2)
    return result


def _phe(
    args: Any,
    cfg: BoostConfig,
    parts: list[np.ndarray],
    y: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    ours: FedRun,
) -> dict[str, Any]:
    """The same protocol with phe on a subset, ours on the same subset, the extrapolation."""
    sub = train[: args.phe_rows]
    small = BoostConfig(**{**asdict(cfg), "n_trees": args.phe_trees})
    phe_run = run(BoostConfig(**{**asdict(small), "cipher": "phe"}), parts, y, sub, test)
    ours_sub = run(small, parts, y, sub, test)
    ratio = phe_run.seconds_per_tree / ours_sub.seconds_per_tree
    return {
        "subset": asdict(phe_run),
        "ours_subset": asdict(ours_sub),
        "ratio": ratio,
        "extrapolated_seconds_per_tree": ours.seconds_per_tree * ratio,
    }


def _out(line: str = "") -> None:
    sys.stdout.write(line + "\n")


def _print(r: dict[str, Any]) -> None:
    o, tw, sk, c = r["ours"], r["twin"], r["sklearn_hgb"], r["config"]
    _out(
        f"SecureBoost on default-credit: {r['train_rows']} train / {r['test_rows']} test rows, "
        f"1 guest + {r['hosts']} hosts, {o['trees']} trees, depth {c['max_depth']}, "
        f"{c['max_bins']} bins, lr {c['learning_rate']}, {o['key_bits']}-bit key"
    )
    _out(f"{'model':<34}{'AUC':>8}{'KS':>8}{'s/tree':>10}")
    fed = f"{o['auc']:>8.4f}{o['ks']:>8.4f}{o['seconds_per_tree']:>10.2f}"
    _out(f"{'federated, our Paillier':<34}{fed}")
    _out(f"{'centralised twin':<34}{tw['auc']:>8.4f}{tw['ks']:>8.4f}")
    _out(f"{'sklearn HistGradientBoosting':<34}{sk['auc']:>8.4f}{sk['ks']:>8.4f}")
    if "phe" in r:
        p = r["phe"]
        _out(f"{'federated, phe (extrapolated)':<50}{p['extrapolated_seconds_per_tree']:>10.2f}")
        _out(
            f"  subset of {p['subset']['rows']} rows: phe {p['subset']['seconds_per_tree']:.2f}"
            f" s/tree, ours {p['ours_subset']['seconds_per_tree']:.2f} s/tree,"
            f" ratio {p['ratio']:.1f}x"
        )
    _out(
        f"|AUC federated - twin| = {abs(o['auc'] - tw['auc']):.6f} (target < 0.005); "
        f"identical probabilities: {o['equals_twin']}; KS {o['ks']:.3f} vs {r['ks_target']}"
    )
    _out(f"load average {r['load_average']:.2f}")


if __name__ == "__main__":
    main()
