"""The steps after training (private): collect, Shapley, on-chain record, headline, figures.

Like :mod:`~fl_node.vertical.runner._steps`, each takes typed records and returns one.
"""

from __future__ import annotations

import logging

import numpy as np

from fl_node.events import EventSink, RewardsPaid
from fl_node.vertical.runner._process import PartyProcesses
from fl_node.vertical.runner._steps import cores, mean_metrics
from fl_node.vertical.runner.baseline import Baseline, centralized_baseline
from fl_node.vertical.runner.events import BaselineDone, PheCompared
from fl_node.vertical.runner.jobs import PartRecord, PartyStats, SaveJob, StatsJob
from fl_node.vertical.runner.onchain import DATA_ROLES, RewardPlan, TaskRecorder
from fl_node.vertical.runner.parties import ROLES
from fl_node.vertical.runner.records import (
    ChainRecord,
    Coalition,
    Collected,
    Contributions,
    Figures,
    FoldResult,
    Headline,
    ModelRecord,
    PheRecord,
    PsiRecord,
    Training,
)
from fl_node.vertical.runner.settings import RunPlan
from fl_node.vertical.transport import CommStats

log = logging.getLogger(__name__)

METRIC_KEYS = ("auc", "ks", "accuracy", "precision", "recall", "f1", "log_loss")
"""The metrics averaged over cross-validation folds."""


def save_parts(procs: PartyProcesses, plan: RunPlan) -> dict[str, PartRecord]:
    """Each data party saves its part of the anchored model in its own store."""
    saves = {role: SaveJob("full", str(plan.out / role)) for role in DATA_ROLES}
    return procs.run(saves, PartRecord)


def commit_parts(recorder: TaskRecorder, parts: dict[str, PartRecord]) -> dict[str, str]:
    """Each data party commits its part's hash and CID on chain; return role -> tx hash."""
    return {role: recorder.commit_part(role, parts[role]) for role in DATA_ROLES}


def collect(procs: PartyProcesses, parts: dict[str, PartRecord]) -> Collected:
    """The saved parts, and every party's report of its traffic."""
    stats = procs.run(dict.fromkeys(ROLES, StatsJob()), PartyStats)
    comm = CommStats()
    for role in ROLES:
        comm.merge(CommStats.from_state(stats[role].stats))
    return Collected(parts, comm)


def baseline(plan: RunPlan, model: ModelRecord, emit: EventSink) -> Baseline:
    """The centralised logistic regression on the anchored model's split."""
    base = centralized_baseline(
        plan.guest_csv,
        plan.host_csv,
        model.split,
        drop_fraction=plan.settings.drop_fraction,
        seed=plan.settings.seed,
        clip=plan.config.x_bound,
    )
    emit(BaselineDone(auc=base.auc, ks=base.ks))
    return base


def contributions(
    utilities: dict[str, float], coalitions: dict[str, Coalition], measured: bool
) -> Contributions:
    """Exact feature-group Shapley from the measured utilities (else a 50/50 split)."""
    if measured:
        from incentives.contribution import ExactShapley

        def utility(coalition: frozenset[int]) -> float:
            return float(utilities[",".join(str(i) for i in sorted(coalition))])

        guest, host = list(ExactShapley().estimate(2, utility).scores)
    else:
        guest = host = 0.5 * (utilities["0,1"] - 0.5)
    return Contributions(utilities, coalitions, guest, host, measured)


def record_on_chain(
    recorder: TaskRecorder,
    psi: PsiRecord,
    model: ModelRecord,
    cv: list[FoldResult],
    shares: Contributions,
    collected: Collected,
    *,
    commits: dict[str, str],
    round_cid: str,
    emit: EventSink,
) -> ChainRecord:
    """Finalise the round with manifest, evidence and rewards root; claim; withdraw."""
    task_id, parts = recorder.task_id, collected.parts
    addresses = {role: recorder.address(role) for role in DATA_ROLES}
    plan = recorder.plan_rewards([shares.guest, shares.host])
    manifest = {
        "kind": "vertical-lr-model",
        "task_id": task_id,
        "parts": {
            role: {
                "address": addresses[role],
                "cid": parts[role].cid,
                "hash": parts[role].hash,
                "bytes": parts[role].bytes,
            }
            for role in DATA_ROLES
        },
        "combine": "p = sigmoid(guest partial score incl. intercept + host partial score)",
        "psi_commitment": psi.commitment,
    }
    evidence = _evidence(task_id, addresses, psi, model, cv, shares, plan)
    rewards = recorder.finalize(manifest, evidence, plan)
    emit(RewardsPaid(task_id, rewards.paid_wei, rewards.remainder_wei))
    p = recorder.parties
    return ChainRecord(
        backend=p.backend.name,
        chain_id=p.backend.chain_id,
        task_id=task_id,
        pool_wei=int(p.fed_task().task(task_id).pool),
        psi_manifest_cid=round_cid,
        addresses=addresses,
        commits=commits,
        rewards=rewards,
        stakes=recorder.stakes(),
        timeline=recorder.timeline(),
        gas_used=recorder.gas_used,
        contracts=p.deployment.to_dict(),
    )


def _evidence(
    task_id: int,
    addresses: dict[str, str],
    psi: PsiRecord,
    model: ModelRecord,
    cv: list[FoldResult],
    shares: Contributions,
    plan: RewardPlan,
) -> dict[str, object]:
    """The round's evidence: utilities, Shapley values, metrics, PSI commitment, rewards."""
    return {
        "kind": "vertical-shapley-evidence",
        "version": 2,
        "task_id": task_id,
        "players": {"0": addresses["guest"], "1": addresses["host"]},
        "utility": "validation AUC of the model trained on the coalition's features",
        "utilities": shares.utilities,
        "shapley": {"guest": shares.guest, "host": shares.host},
        "metrics": {"test": model.test_metrics, "validation": model.val_metrics},
        "cross_validation": [{"fold": f.fold, **f.metrics} for f in cv],
        "psi_commitment": psi.commitment,
        "rewards": plan.evidence(),
    }


def headline(plan: RunPlan, cv: list[FoldResult], model: ModelRecord, base: Baseline) -> Headline:
    """Cross-validated means where there are folds, else the anchored model's test split."""
    if not cv:
        text = "a single stratified held-out test split (20 % of the aligned rows)"
        return Headline(model.test_metrics, base.auc, base.ks, text)
    text = (
        f"stratified {plan.folds}-fold cross-validation over the aligned rows: each fold trained "
        "end to end with the encrypted protocol and scored by federated prediction on its "
        "held-out fold; metrics are the mean over folds, the centralised baseline uses the "
        "same folds"
    )
    return Headline(
        mean_metrics(cv, METRIC_KEYS),
        float(np.mean([f.centralized_auc for f in cv])),
        float(np.mean([f.centralized_ks for f in cv])),
        text,
    )


def figures(model: ModelRecord, parts: dict[str, PartRecord]) -> Figures:
    """Seconds per epoch, row-features per core-second and CPU work of the anchored model."""
    n_train = int(model.split.train.size)
    training = model.training
    seconds_per_epoch = training.seconds_per_epoch(n_train)
    n_features = parts["guest"].features + parts["host"].features
    available = cores()
    epochs_done = training.guest.session.rows / n_train
    return Figures(
        n_train=n_train,
        guest_features=parts["guest"].features,
        host_features=parts["host"].features,
        seconds_per_epoch=seconds_per_epoch,
        cores=available,
        row_features_per_core_second=n_train * n_features / (seconds_per_epoch * available),
        cpu_seconds_per_epoch=training.cpu_seconds() / epochs_done,
        cpu_seconds_per_epoch_by_party={
            r: training.role(r).session.cpu_seconds / epochs_done for r in ROLES
        },
    )


def phe_record(phe: Training | None, figs: Figures, emit: EventSink) -> PheRecord | None:
    """Phe's seconds per epoch, extrapolated by rows, and ours / phe."""
    if phe is None:
        return None
    phe_epoch = phe.seconds_per_epoch(figs.n_train)
    record = PheRecord(phe, phe_epoch, figs.seconds_per_epoch / phe_epoch)
    emit(PheCompared(seconds_per_epoch=phe_epoch, ratio=record.speed_ratio))
    return record
