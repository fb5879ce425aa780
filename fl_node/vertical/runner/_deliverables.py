"""Deliverables of a vertical run: training log, loss curve, model config, report (private).

Written with the same pieces as the horizontal deliverables (:mod:`fl_node.reporting.common`),
from the reportable results the parties returned (losses, timings, metrics, hashes); nothing
here touches a party's rows or weights.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fl_node.reporting.common import Series, dump_json, fmt, markdown_table, plot_lines, write_csv
from fl_node.vertical.runner._summary import FATE_ROW_FEATURES_PER_CORE_SECOND
from fl_node.vertical.runner.records import PHASE_KEYS, RunRecord

log = logging.getLogger(__name__)

ARTIFACTS = {
    "training_log": "training_log.csv",
    "loss_curve": "loss_curve.png",
    "model_config": "model_config.json",
    "report": "evaluation_report.md",
    "guest_model": "guest/model_guest.json",
    "host_model": "host/model_host.json",
}
"""Artifact name -> path relative to the output folder."""
LOG_FIELDS = ("epoch", "loss", "batches", "first_batch_loss", "last_batch_loss")


def write_deliverables(record: RunRecord) -> dict[str, str]:
    """Write the training log, loss curve, joint model config and report; return their paths.

    Parameters
    ----------
    record : RunRecord
        The finished run.
    """
    out = record.plan.out
    arbiter = record.model.training.arbiter
    losses, batch_losses = list(arbiter.session.losses), list(arbiter.batch_losses)
    per_epoch = -(-record.figures.n_train // record.plan.config.batch_size)
    write_training_log(out / ARTIFACTS["training_log"], losses, batch_losses, per_epoch)
    title = f"hetero LR on {record.plan.dataset} (task {record.chain.task_id})"
    plot_losses(out / ARTIFACTS["loss_curve"], losses, batch_losses, title)
    dump_json(model_config(record), out / ARTIFACTS["model_config"])
    report = evaluation_report(record)
    (out / ARTIFACTS["report"]).write_text(report, encoding="utf-8")
    return dict(ARTIFACTS)


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
    rows = []
    for epoch, loss in enumerate(losses):
        chunk = batch_losses[epoch * batches_per_epoch : (epoch + 1) * batches_per_epoch]
        rows.append(
            {
                "epoch": epoch + 1,
                "loss": f"{loss:.8f}",
                "batches": len(chunk),
                "first_batch_loss": f"{chunk[0]:.8f}" if chunk else "",
                "last_batch_loss": f"{chunk[-1]:.8f}" if chunk else "",
            }
        )
    return write_csv(rows, LOG_FIELDS, path)


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
    series = []
    if batch_losses and losses:
        per = len(batch_losses) / len(losses)
        x = [(i + 1) / per for i in range(len(batch_losses))]
        options = {"linewidth": 0.8, "alpha": 0.5}
        series.append(Series("mini-batch loss", x, batch_losses, options=options))
    epochs = [float(e) for e in range(1, len(losses) + 1)]
    series.append(Series("epoch loss", epochs, losses, "o-"))
    return plot_lines(series, path, title=title, xlabel="epoch", ylabel="Taylor logistic loss")


def model_config(record: RunRecord) -> dict[str, object]:
    """The joint model's description: each party's part (file, CID, hash, anchor) and config."""
    parts, chain, figs = record.collected.parts, record.chain, record.figures
    described = {
        role: {
            "file": ARTIFACTS[f"{role}_model"],
            "cid": parts[role].cid,
            "hash": parts[role].hash,
            "tx": chain.commits[role],
            "address": chain.addresses[role],
        }
        for role in ("guest", "host")
    }
    return {
        "kind": "vertical-lr-model",
        "task_id": chain.task_id,
        "parts": described,
        "combine": "p = sigmoid(guest partial score (incl. intercept) + host partial score)",
        "features": {
            "guest": figs.guest_features,
            "host": figs.host_features,
            "total": figs.guest_features + figs.host_features,
        },
        "config": record.plan.config.to_dict(),
        "note": "each party keeps its own part; prediction is federated",
    }


def evaluation_report(record: RunRecord) -> str:
    """The Markdown evaluation report of a run.

    Parameters
    ----------
    record : RunRecord
        The finished run.
    """
    head = record.headline
    lines = [
        f"# Vertical FL evaluation: {record.plan.dataset} (task {record.chain.task_id})",
        "",
        "Hetero logistic regression (Taylor loss) trained by guest, host and arbiter as separate "
        "processes over mutual TLS; Paillier with the arbiter holding the key.",
        "",
        f"Headline metrics: {head.evaluation}: AUC {fmt(head.metrics['auc'])}, "
        f"KS {fmt(head.metrics['ks'])}; centralised LR AUC {fmt(head.centralized_auc)}.",
        "",
    ]
    for section in (_cv, _holdout, _psi, _training, _phe, _rewards, _chain):
        lines += section(record)
    return "\n".join(lines)


def _cv(record: RunRecord) -> list[str]:
    if not record.cv:
        return []
    head = record.headline
    rows: list[list[object]] = [
        [f.fold, f.test_rows, f.metrics["auc"], f.centralized_auc, f.metrics["ks"]]
        for f in record.cv
    ]
    rows.append(["mean", "", head.metrics["auc"], head.centralized_auc, head.metrics["ks"]])
    headers = ["fold", "test rows", "AUC (ours)", "AUC (centralised)", "KS (ours)"]
    return [
        "## Cross-validation (each fold trained end to end, federated prediction)",
        "",
        *markdown_table(headers, rows),
        "",
    ]


def _holdout(record: RunRecord) -> list[str]:
    m, c = record.model.test_metrics, record.baseline
    rows = [
        ["federated (ours)", m["auc"], m["ks"], m["accuracy"], m["f1"], m["log_loss"]],
        ["centralised LR, joined data", c.auc, c.ks]
        + [c.metrics[k] for k in ("accuracy", "f1", "log_loss")],
        ["centralised LR, same winsorised features", c.same_auc, c.same_ks, "", "", ""],
    ]
    gap = record.headline.metrics["auc"] - record.headline.centralized_auc
    split = ", ".join(f"{k} {v:,}" for k, v in record.model.split.to_dict().items())
    return [
        "## Anchored model on the single held-out split (federated prediction)",
        "",
        *markdown_table(["model", "AUC", "KS", "accuracy", "F1", "log loss"], rows),
        "",
        f"AUC gap of the headline metrics (ours - centralised): {gap:+.4f}. Split: {split}.",
        "",
    ]


def _psi(record: RunRecord) -> list[str]:
    psi = record.psi
    nbytes, messages = record.collected.comm.total(phase="psi")
    return [
        "## Private set intersection",
        "",
        f"{psi.method}: guest {psi.guest_size:,} ids, host {psi.host_size:,} ids, "
        f"intersection {psi.intersection_size:,}; {psi.seconds:.2f} s, "
        f"{nbytes:,} bytes in {messages} messages. On-chain commitment `{psi.commitment}`.",
        "",
    ]


def _training(record: RunRecord) -> list[str]:
    figs = record.figures
    guest = record.model.training.guest.session
    rf = figs.row_features_per_core_second
    breakdown = record.model.training.breakdown_total(figs.n_train)
    return [
        "## Training",
        "",
        f"{guest.epochs} epochs (converged: {bool(guest.converged)}), "
        f"{figs.seconds_per_epoch:.2f} s per epoch, {rf:,.0f} row-features per core-second "
        f"({rf / FATE_ROW_FEATURES_PER_CORE_SECOND:.1f}x FATE's reference "
        f"{FATE_ROW_FEATURES_PER_CORE_SECOND:,.0f}).",
        "",
        *markdown_table(
            ["epoch", "loss"], [[i + 1, f"{v:.6f}"] for i, v in enumerate(guest.losses)]
        ),
        "",
        "Seconds per epoch by phase (summed over the three parties):",
        "",
        *markdown_table(["phase", "seconds"], [[k, f"{breakdown[k]:.3f}"] for k in PHASE_KEYS]),
        "",
    ]


def _phe(record: RunRecord) -> list[str]:
    if record.phe is None:
        return []
    phe, guest = record.phe, record.phe.training.guest.session
    return [
        "## Same protocol with python-paillier",
        "",
        f"{guest.batches} batches ({guest.rows:,} rows) in {guest.seconds:.1f} s, extrapolated "
        f"to {phe.seconds_per_epoch:.1f} s per epoch; ours / phe = {phe.speed_ratio:.4f}.",
        "",
    ]


def _rewards(record: RunRecord) -> list[str]:
    shares, rewards = record.contributions, record.chain.rewards
    utilities = sorted(shares.utilities.items(), key=lambda kv: len(kv[0]))
    paid = "; ".join(f"{a}: {v:,} wei" for a, v in rewards.paid_wei.items())
    bps = ", ".join(f"{a}: {v / 100:.2f} %" for a, v in rewards.shares_bps.items())
    return [
        "## Contribution and rewards",
        "",
        "Feature-group Shapley over {guest features, host features}; utility = validation AUC "
        "(empty coalition 0.5).",
        "",
        *markdown_table(["coalition", "utility"], [[f"{{{k}}}", v] for k, v in utilities]),
        "",
        f"Shapley: guest {shares.guest:.4f}, host {shares.host:.4f}. Pool "
        f"{record.chain.pool_wei:,} wei, budget {rewards.budget_wei:,} wei (cap "
        f"{rewards.cap_wei:,}); claimed by Merkle proof: {paid}; remainder "
        f"{rewards.remainder_wei:,} wei withdrawn by the sponsor. Rewards root "
        f"`{rewards.rewards_root}`. Shares of the model: {bps}.",
        "",
    ]


def _chain(record: RunRecord) -> list[str]:
    chain, timeline = record.chain, record.chain.timeline
    periods = ", ".join(
        f"{k.removesuffix('_period')} {v:,} s" for k, v in timeline.schedule.items()
    )
    return [
        "## Chain",
        "",
        f"FedTask v2 on {chain.backend}, task {chain.task_id}, gas used {chain.gas_used:,}. "
        f"Model manifest `{chain.rewards.model_cid}`, evidence `{chain.rewards.evidence_cid}`.",
        "",
        f"Schedule: {periods}. Deadlines reached by {timeline.clock} "
        f"({timeline.waited_seconds:.1f} s waited).",
        "",
    ]
