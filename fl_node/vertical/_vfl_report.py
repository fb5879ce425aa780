"""Deliverables of a vertical-FL run: training log, loss curve, model config, report.

All inputs are the reportable results the parties returned (losses, timings, metrics,
hashes); nothing here touches a party's rows or weights.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def write_training_log(
    path: Path, losses: list[float], batch_losses: list[float], batches_per_epoch: int
) -> Path:
    """Write ``epoch,loss,batches,first_batch_loss,last_batch_loss`` as CSV.

    Parameters
    ----------
    path : Path
        Target file.
    losses : list of float
        Epoch losses (Taylor loss incl. L2, as the arbiter computed them).
    batch_losses : list of float
        Every batch loss, in order.
    batches_per_epoch : int
        Batches in a full epoch.
    """
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["epoch", "loss", "batches", "first_batch_loss", "last_batch_loss"])
        for epoch, loss in enumerate(losses):
            chunk = batch_losses[epoch * batches_per_epoch : (epoch + 1) * batches_per_epoch]
            writer.writerow(
                [
                    epoch + 1,
                    f"{loss:.8f}",
                    len(chunk),
                    f"{chunk[0]:.8f}" if chunk else "",
                    f"{chunk[-1]:.8f}" if chunk else "",
                ]
            )
    return path


def plot_losses(path: Path, losses: list[float], batch_losses: list[float], title: str) -> Path:
    """Plot batch and epoch losses to a PNG.

    Parameters
    ----------
    path : Path
        Target file.
    losses : list of float
        Epoch losses.
    batch_losses : list of float
        Batch losses.
    title : str
        Figure title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    if batch_losses and losses:
        per = len(batch_losses) / len(losses)
        ax.plot(
            [(i + 1) / per for i in range(len(batch_losses))],
            batch_losses,
            lw=0.8,
            alpha=0.5,
            label="mini-batch loss",
        )
    ax.plot(range(1, len(losses) + 1), losses, "o-", label="epoch loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("Taylor logistic loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _fmt(value: Any, digits: int = 4) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def evaluation_report(summary: Mapping[str, Any]) -> str:
    """Render the Markdown evaluation report of a run.

    Parameters
    ----------
    summary : mapping
        The run summary.
    """
    m = summary["holdout"]["metrics"]
    c = summary["centralized"]
    psi = summary["psi"]
    lines = [
        f"# Vertical FL evaluation: {summary['dataset']} (task {summary['task_id']})",
        "",
        "Hetero logistic regression (Taylor loss) trained by guest, host and arbiter as separate "
        "processes over mutual TLS; Paillier with the arbiter holding the key.",
        "",
        f"Headline metrics: {summary['evaluation']}: AUC {_fmt(summary['metrics']['auc'])}, "
        f"KS {_fmt(summary['metrics']['ks'])}; centralised LR AUC "
        f"{_fmt(summary['centralized_auc'])}.",
        "",
    ]
    if summary.get("cv"):
        lines += [
            "## Cross-validation (each fold trained end to end, federated prediction)",
            "",
            "| fold | test rows | AUC (ours) | AUC (centralised) | KS (ours) |",
            "|---:|---:|---:|---:|---:|",
            *[
                f"| {f['fold']} | {f['test_rows']} | {_fmt(f['metrics']['auc'])} | "
                f"{_fmt(f['centralized_auc'])} | {_fmt(f['metrics']['ks'])} |"
                for f in summary["cv"]["per_fold"]
            ],
            f"| mean | | {_fmt(summary['metrics']['auc'])} | {_fmt(summary['centralized_auc'])} "
            f"| {_fmt(summary['metrics']['ks'])} |",
            "",
        ]
    lines += [
        "## Anchored model on the single held-out split (federated prediction)",
        "",
        "| model | AUC | KS | accuracy | F1 | log loss |",
        "|---|---:|---:|---:|---:|---:|",
        f"| federated (ours) | {_fmt(m['auc'])} | {_fmt(m['ks'])} | {_fmt(m['accuracy'])} | "
        f"{_fmt(m['f1'])} | {_fmt(m['log_loss'])} |",
        f"| centralised LR, joined data | {_fmt(c['auc'])} | {_fmt(c['ks'])} | "
        f"{_fmt(c['metrics']['accuracy'])} | {_fmt(c['metrics']['f1'])} | "
        f"{_fmt(c['metrics']['log_loss'])} |",
        f"| centralised LR, same winsorised features | {_fmt(c['same_preprocessing']['auc'])} | "
        f"{_fmt(c['same_preprocessing']['ks'])} | | | |",
        "",
        f"AUC gap of the headline metrics (ours - centralised): {summary['auc_gap']:+.4f}. Split: "
        + ", ".join(f"{k} {v:,}" for k, v in summary["split"].items())
        + ".",
        "",
        "## Private set intersection",
        "",
        f"{psi['method']}: guest {psi['guest_size']:,} ids, host {psi['host_size']:,} ids, "
        f"intersection {psi['intersection_size']:,}; {psi['seconds']:.2f} s, "
        f"{psi['bytes']:,} bytes in {psi['messages']} messages. On-chain commitment "
        f"`{psi['commitment']}`.",
        "",
        "## Training",
        "",
        f"{summary['epochs']} epochs (converged: {summary['converged']}), "
        f"{summary['seconds_per_epoch']:.2f} s per epoch, "
        f"{summary['row_features_per_core_second']:,.0f} row-features per core-second "
        f"({summary['vs_fate']:.1f}x FATE's reference "
        f"{summary['fate_reference']['row_features_per_core_second']:,.0f}).",
        "",
        "| epoch | loss |",
        "|---:|---:|",
        *[f"| {i + 1} | {loss:.6f} |" for i, loss in enumerate(summary["losses"])],
        "",
        "Seconds per epoch by phase (summed over the three parties):",
        "",
        "| phase | seconds |",
        "|---|---:|",
        *[f"| {k} | {v:.3f} |" for k, v in summary["breakdown"].items()],
        "",
    ]
    if "phe_seconds_per_epoch" in summary:
        phe = summary["phe"]
        lines += [
            "## Same protocol with python-paillier",
            "",
            f"{phe['batches_measured']} batches ({phe['rows_measured']:,} rows) in "
            f"{phe['seconds_measured']:.1f} s, extrapolated to "
            f"{summary['phe_seconds_per_epoch']:.1f} s per epoch; ours / phe = "
            f"{summary['speed_ratio']:.4f}.",
            "",
        ]
    sh = summary["shapley"]
    rw = summary["rewards"]
    lines += [
        "## Contribution and rewards",
        "",
        "Feature-group Shapley over {guest features, host features}; utility = validation AUC "
        "(empty coalition 0.5).",
        "",
        "| coalition | utility |",
        "|---|---:|",
        *[
            f"| {{{k}}} | {v:.4f} |"
            for k, v in sorted(sh["utilities"].items(), key=lambda kv: len(kv[0]))
        ],
        "",
        f"Shapley: guest {sh['guest']:.4f}, host {sh['host']:.4f}. Pool {rw['pool_wei']:,} wei; "
        + "; ".join(f"{a}: {v:,} wei" for a, v in rw["paid_wei"].items())
        + f"; remainder {rw['remainder_wei']:,} wei.",
        "",
        "## Chain",
        "",
        f"Backend {summary['chain']['backend']}, task {summary['chain']['task_id']}, "
        f"gas used {summary['chain']['gas_used_total']:,}. Model manifest "
        f"`{summary['chain']['model_manifest_cid']}`, "
        f"evidence `{summary['chain']['evidence_cid']}`.",
        "",
    ]
    return "\n".join(lines)


def write_deliverables(
    out: Path,
    summary: Mapping[str, Any],
    full: Mapping[str, Mapping[str, Any]],
    *,
    arbiter: Mapping[str, Any],
) -> dict[str, str]:
    """Write the training log, loss curve, joint model config and report into ``out``.

    Parameters
    ----------
    out : Path
        Output folder.
    summary : mapping
        The run summary (without ``artifacts``).
    full : mapping
        The parties' results of the main training session.
    arbiter : mapping
        The arbiter's result (epoch and batch losses).

    Returns
    -------
    dict
        Artifact name -> path relative to ``out``.
    """
    losses = list(arbiter["losses"])
    batch_losses = list(arbiter.get("batch_losses", []))
    cfg = summary["config"]
    per_epoch = -(-int(summary["split"]["train"]) // int(cfg["batch_size"]))
    write_training_log(out / "training_log.csv", losses, batch_losses, per_epoch)
    plot_losses(
        out / "loss_curve.png",
        losses,
        batch_losses,
        f"hetero LR on {summary['dataset']} (task {summary['task_id']})",
    )
    model_config = {
        "kind": "vertical-lr-model",
        "task_id": summary["task_id"],
        "parts": {
            "guest": {"file": "guest/model_guest.json", **summary["chain"]["model_parts"]["guest"]},
            "host": {"file": "host/model_host.json", **summary["chain"]["model_parts"]["host"]},
        },
        "combine": "p = sigmoid(guest partial score (incl. intercept) + host partial score)",
        "features": summary["features"],
        "config": cfg,
        "note": "each party keeps its own part; prediction is federated",
    }
    (out / "model_config.json").write_text(
        json.dumps(model_config, indent=2) + "\n", encoding="utf-8"
    )
    (out / "evaluation_report.md").write_text(evaluation_report(summary), encoding="utf-8")
    return {
        "training_log": "training_log.csv",
        "loss_curve": "loss_curve.png",
        "model_config": "model_config.json",
        "report": "evaluation_report.md",
        "guest_model": "guest/model_guest.json",
        "host_model": "host/model_host.json",
    }
