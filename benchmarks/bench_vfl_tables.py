"""German credit brought as a bank would: preflight, suggested id rule, centralised twin.

Run from the repository root (``scripts/bench-vfl-tables`` sets ``FEDMARKET_DATA_DIR``)::

    FEDMARKET_DATA_DIR=../shared/data .venv/bin/python benchmarks/bench_vfl_tables.py
    FEDMARKET_DATA_DIR=../shared/data .venv/bin/python benchmarks/bench_vfl_tables.py --quick

Steps: write the guest / two-host split of the raw UCI file
(:func:`fedmarket.demo.german_tables.write_german_split`: ids ``cust-0001`` / ``0001`` /
``C1``, each party lacking its own ~10 % of customers, shuffled), read each party's CSV with
inferred kinds, run the preflight with no id rule (it must fail on the formats and suggest a
rule), run it again with the suggested rule (it must pass), prepare each party with the
default :class:`~fl_node.vertical.tables.PrepRules` and score the centralised twin: logistic
regression, stratified 5-fold cross-validated AUC on the joined table, for ``--cv-seeds``
fold shuffles (their spread is the noise any federated-vs-twin comparison sits in).
``--quick``: 2 folds, one shuffle.

``--federated``: also the whole run through ``run_vfl`` (what ``fedmarket vfl --guest ...
--host ... --host ...`` does): SecureBoost with the guest and both hosts as separate processes
over mutual TLS, stratified k-fold cross-validation scored by federated prediction, against the
plaintext SecureBoost twin fitted by the auditor on the same folds with the same preprocessing,
then Shapley per party and the on-chain record (in-process chain). ``--trees``, ``--key-bits``.
``--algorithm lr``: hetero LR instead (guest, both hosts and the arbiter; ``DEFAULT_LR``),
against scikit-learn's LR on the joined table standardised and clipped per fold (the twin)
and the plaintext Taylor-LR reference on the same folds.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from fedmarket.demo.german_tables import write_german_split
from fl_node.vertical.tables import (
    NO_RULES,
    PrepRules,
    SchemaSpec,
    centralised_cv_auc,
    compare_reports,
    join_prepared,
    party_report,
    prepare_party,
    read_table,
)

NAMES = ("guest", "host-1", "host-2")


def run(seed: int, folds: int, cv_seeds: int, blank_share: float) -> dict[str, object]:
    """The whole check; returns the figures as a JSON-ready dict."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        split = write_german_split(Path(folder), seed=seed, blank_share=blank_share)
        spec = SchemaSpec(id_column=split.id_column, label_column=split.label_column)
        tables = [read_table(split.guest, spec, role="guest")]
        tables += [read_table(path, spec, role="host") for path in split.hosts]
    first = [party_report(t, NO_RULES, n) for t, n in zip(tables, NAMES, strict=True)]
    before = compare_reports(first[0], first[1:])
    rules = before.suggested_rules
    if rules is None:
        raise SystemExit("the preflight suggested no id rule")
    second = [party_report(t, rules, n) for t, n in zip(tables, NAMES, strict=True)]
    after = compare_reports(second[0], second[1:])
    prep = PrepRules()
    prepared = [prepare_party(t, rules, prep) for t in tables]
    joined = join_prepared(prepared[0], prepared[1:])
    aucs = [centralised_cv_auc(joined, folds=folds, seed=s).auc for s in range(cv_seeds)]
    return {
        "split_seed": seed,
        "rows": [t.rows for t in tables],
        "preflight_without_rules": {"ok": before.ok, "findings": before.text().splitlines()},
        "suggested_id_rules": rules.canonical(),
        "preflight_with_rules_ok": after.ok,
        "prep_rules": prep.canonical(),
        "joined_rows": int(joined.labels.size),
        "features": len(joined.feature_names),
        "folds": folds,
        "twin_auc_per_cv_seed": [round(a, 4) for a in aucs],
        "twin_auc_mean": round(float(np.mean(aucs)), 4),
        "twin_auc_sd": round(float(np.std(aucs)), 4),
        "seconds": round(time.perf_counter() - start, 2),
    }


def federated(
    seed: int, folds: int, trees: int, key_bits: int, algorithm: str = "secureboost"
) -> dict[str, object]:
    """The federated run (SecureBoost or hetero LR) with the suggested rule, against its twin."""
    from fl_node.vertical.protocol.boost import BoostConfig
    from fl_node.vertical.runner import VflSettings, run_vfl
    from fl_node.vertical.runner.inputs import VflTables
    from fl_node.vertical.tables import IdRules

    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        split = write_german_split(Path(folder) / "data", seed=seed)
        tables = VflTables.of(
            split.guest,
            list(split.hosts),
            schema=SchemaSpec(id_column=split.id_column, label_column=split.label_column),
            id_rules=IdRules.parse('prefix="cust-"|prefix="C"|lstrip0'),
            boost=BoostConfig(n_trees=trees),
            algorithm=algorithm,
            name="german-credit",
        )
        settings = VflSettings(key_bits=key_bits, cv_folds=folds, seed=seed)
        summary = run_vfl(tables, Path(folder) / "out", settings=settings)
    per_fold = summary["cv"]["per_fold"]
    unit = "tree" if algorithm == "secureboost" else "epoch"
    return {
        f"{algorithm}_config": summary["config"],
        "federated_fold_aucs": [round(f["metrics"]["auc"], 4) for f in per_fold],
        "twin_fold_aucs": [round(f["twin_auc"], 4) for f in per_fold],
        "reference_fold_aucs": [round(f.get("reference_auc", f["twin_auc"]), 4) for f in per_fold],
        "federated_auc": round(summary["metrics"]["auc"], 4),
        "federated_ks": round(summary["metrics"]["ks"], 4),
        "twin_auc": round(summary["twin_auc"], 4),
        "auc_gap": summary["auc_gap"],
        f"{unit}s_anchored": summary[f"{unit}s"],
        f"seconds_per_{unit}": round(summary[f"seconds_per_{unit}"], 3),
        "shapley": summary["shapley"]["values"],
        "run_seconds": round(time.perf_counter() - start, 1),
    }


def main(argv: list[str] | None = None) -> dict[str, object]:
    """Command line; prints the figures and returns them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 folds, one fold shuffle")
    parser.add_argument("--seed", type=int, default=0, help="seed of the German split")
    parser.add_argument("--cv-seeds", type=int, default=5, help="fold shuffles to average")
    parser.add_argument("--blank-share", type=float, default=0.0, help="feature cells emptied")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--federated", action="store_true", help="also the SecureBoost run")
    parser.add_argument("--trees", type=int, default=30, help="SecureBoost trees")
    parser.add_argument("--key-bits", type=int, default=2048, help="Paillier key size")
    parser.add_argument(
        "--algorithm", choices=("secureboost", "lr"), default="secureboost", help="--federated's"
    )
    args = parser.parse_args(argv)
    folds, cv_seeds = (2, 1) if args.quick else (5, args.cv_seeds)
    figures = run(args.seed, folds, cv_seeds, args.blank_share)
    if args.federated:
        trees, bits = (2, 512) if args.quick else (args.trees, args.key_bits)
        figures[f"federated_{args.algorithm}"] = federated(
            args.seed, folds, trees, bits, args.algorithm
        )
    text = json.dumps(figures, indent=2)
    print(text)  # noqa: T201 - a benchmark's output
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return figures


if __name__ == "__main__":
    main()
