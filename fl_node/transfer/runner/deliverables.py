"""The files of an FTL run: summary, training log, loss curve, model config, report.

Written from reportable figures only (metrics, curves, sizes, hashes, transactions); nothing
here reads a rating or a parameter.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from fl_node.reporting.common import Series, dump_json, fmt, markdown_table, plot_lines, write_csv
from fl_node.transfer.experiment import recovered
from fl_node.transfer.runner.run import FtlRecord
from fl_node.transfer.runner.settings import PARTIES, ROLE_OF

ARTIFACTS = {
    "training_log": "training_log.csv",
    "loss_curve": "loss_curve.png",
    "model_config": "model_config.json",
    "report": "evaluation_report.md",
    "target_model": "target/model_target.npz",
    "source_model": "source/model_source.npz",
    "shared_model": "coordinator/shared_users.npz",
}
"""Artifact name -> path relative to the output folder."""
LOG_FIELDS = (
    "step",
    "federated_objective",
    "federated_valid_rmse",
    "centralised_objective",
    "centralised_valid_rmse",
    "target_only_valid_rmse",
)


def write_outputs(record: FtlRecord, seconds: float) -> dict[str, Any]:
    """Write every deliverable and ``summary.json``; return the summary."""
    from storage import canonical_json

    out = record.out
    write_training_log(record, out / ARTIFACTS["training_log"])
    plot_curves(record, out / ARTIFACTS["loss_curve"])
    dump_json(model_config(record), out / ARTIFACTS["model_config"])
    (out / ARTIFACTS["report"]).write_text(evaluation_report(record), encoding="utf-8")
    summary = summary_document(record)
    summary["seconds_total"] = seconds
    summary["artifacts"] = dict(ARTIFACTS)
    canonical_json(summary)  # refuses NaN and infinities before anything is written
    dump_json(summary, out / "summary.json")
    return summary


def write_training_log(record: FtlRecord, path: Path) -> Path:
    """Per step: each method's penalised objective and target validation RMSE (CSV)."""
    m = record.methods
    steps = max(len(m[k].valid_curve) for k in ("federated", "centralised", "target_only"))

    def at(values: tuple[float, ...], i: int) -> str:
        return f"{values[i]:.8f}" if i < len(values) else ""

    rows = [
        {
            "step": i + 1,
            "federated_objective": at(m["federated"].losses, i),
            "federated_valid_rmse": at(m["federated"].valid_curve, i),
            "centralised_objective": at(m["centralised"].losses, i),
            "centralised_valid_rmse": at(m["centralised"].valid_curve, i),
            "target_only_valid_rmse": at(m["target_only"].valid_curve, i),
        }
        for i in range(steps)
    ]
    return write_csv(rows, LOG_FIELDS, path)


def plot_curves(record: FtlRecord, path: Path) -> Path:
    """The target's validation RMSE per step for the three methods (PNG)."""
    series = [
        Series(label, [float(s) for s in range(1, len(r.valid_curve) + 1)], list(r.valid_curve))
        for label, r in (
            ("target only", record.methods["target_only"]),
            ("federated", record.methods["federated"]),
            ("centralised pooled", record.methods["centralised"]),
        )
    ]
    title = f"FTL on X-Wines, red -> other types (task {record.recorder.task_id})"
    return plot_lines(
        series, path, title=title, xlabel="full-batch Adam step", ylabel="target validation RMSE"
    )


def model_config(record: FtlRecord) -> dict[str, Any]:
    """The joint model: each part's file, CID, hash and commitment, and the hyperparameters."""
    parts = {
        name: {
            "file": ARTIFACTS[f"{'shared' if name == 'coordinator' else name}_model"],
            "cid": part.cid,
            "hash": part.hash,
            "bytes": part.bytes,
            "commit_tx": record.commits.get(name),
        }
        for name, part in record.parts.items()
    }
    return {
        "kind": "federated-transfer-mf-model",
        "task_id": record.recorder.task_id,
        "parts": parts,
        "config": record.settings.config.to_dict(),
        "shared_users": len(record.alignment.shared_ids),
        "note": "each party keeps its part; the target predicts with its part and the shared block",
    }


def summary_document(record: FtlRecord) -> dict[str, Any]:
    """``summary.json``: metrics, gain recovered, PSI, traffic, contribution, chain record."""
    m, a = record.methods, record.alignment
    wire = record.run.wire
    metrics = {
        k: {f: v for f, v in asdict(r).items() if f not in ("losses", "valid_curve")}
        for k, r in m.items()
    }
    return {
        "kind": "ftl",
        "dataset": record.dataset,
        "seed": record.settings.seed,
        "config": record.settings.config.to_dict(),
        "data": {
            "target_ratings": len(record.target.ratings),
            "source_ratings": len(record.source.ratings),
            "target_users": len(record.target.user_ids),
            "source_users": len(record.source.user_ids),
            "max_users": record.settings.max_users,
        },
        "metrics": metrics,
        "gain_recovered": recovered(
            m["target_only"].rmse, m["federated"].rmse, m["centralised"].rmse
        ),
        "psi": {
            "method": a.method,
            "intersection_size": len(a.shared_ids),
            "seconds": a.seconds,
            "bytes_sent": a.bytes_sent,
            "commitment": a.commitment,
        },
        "traffic": {"bytes_by_sender": wire.bytes_by_sender(), "messages": len(wire.records)},
        "contribution": {
            "rule": record.settings.task_spec(record.dataset)["contribution"],
            "utilities": record.contributions.utilities,
            "shapley": {
                "target": record.contributions.target,
                "source": record.contributions.source,
            },
        },
        "chain": _chain(record),
        "machine": {"cpus": os.cpu_count() or 1},
    }


def _chain(record: FtlRecord) -> dict[str, Any]:
    rec, rewards = record.recorder, record.rewards
    p = rec.parties
    return {
        "backend": p.backend.name,
        "chain_id": p.backend.chain_id,
        "task_id": rec.task_id,
        "contracts": p.deployment.to_dict(),
        "addresses": {name: rec.address(ROLE_OF[name]) for name in PARTIES}
        | {"coordinator": rec.address("coordinator"), "sponsor": rec.address("sponsor")},
        "psi_manifest_cid": record.round_cid,
        "commits": record.commits,
        "parts": {n: {"cid": part.cid, "hash": part.hash} for n, part in record.parts.items()},
        "rewards": asdict(rewards),
        "timeline": asdict(rec.timeline()),
        "gas_used_total": rec.gas_used,
    }


def evaluation_report(record: FtlRecord) -> str:
    """The Markdown report of a run: metrics against the baselines, contribution, chain."""
    m = record.methods
    rows = [
        [name, fmt(r.mae), fmt(r.rmse), fmt(r.valid_rmse), r.steps, r.best_step, f"{r.seconds:.1f}"]
        for name, r in m.items()
    ]
    gain = recovered(m["target_only"].rmse, m["federated"].rmse, m["centralised"].rmse)
    c, rw = record.contributions, record.rewards
    lines = [
        f"# Federated transfer learning on X-Wines (task {record.recorder.task_id})",
        "",
        f"Source: red wines ({len(record.source.ratings):,} ratings); target: every other type "
        f"({len(record.target.ratings):,} ratings); {len(record.alignment.shared_ids):,} users "
        f"shared (DH-OPRF PSI, {record.alignment.seconds:.1f} s). Seed {record.settings.seed}; "
        "the target's ratings split 70 / 10 / 20 (train / validation / test).",
        "",
        *markdown_table(
            ["method", "test MAE", "test RMSE", "valid RMSE", "steps", "best step", "seconds"], rows
        ),
        "",
        "Gain recovered: (RMSE target-only - federated) / (target-only - centralised) = "
        f"{gain:.1%}.",
        "",
        "## Contribution and rewards",
        "",
        f"Utility: {record.settings.task_spec(record.dataset)['contribution']}.",
        f"Shapley: target {c.target:.5f}, source {c.source:.5f}. Paid (wei): {rw.paid_wei}.",
        "",
        "## On chain",
        "",
        f"Model manifest {rw.model_cid} ({rw.model_hash}); evidence {rw.evidence_cid}; "
        f"rewards root {rw.rewards_root}; part commitments: {record.commits}.",
        "",
        "See docs/ftl.md for what each message carries and what each party can infer.",
    ]
    return "\n".join(lines) + "\n"


__all__ = ["ARTIFACTS", "evaluation_report", "model_config", "summary_document", "write_outputs"]
