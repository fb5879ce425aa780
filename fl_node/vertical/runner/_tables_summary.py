"""The auditor's twin, the on-chain record and ``summary.json`` of a run on a user's tables.

The orchestrator plays the auditor for the centralised twin: it reads every party's file
(no party does), prepares each exactly as that party did, joins them on the normalised ids
(sorted: the federated aligned order) and fits on each cross-validation fold's training rows,
scoring its held-out rows, the plaintext SecureBoost twin
(:func:`~fl_node.vertical.protocol.boost.fit_twin`: the same bins, quantised gradients and
split search) or, for hetero LR, logistic regression on the joined features standardised and
clipped on the fold's training rows as the parties do.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from fl_node.events import ChainReady, EventSink, Finished, RewardsPaid, TaskCreated
from fl_node.vertical.data import FloatArray, SplitIndices, Standardizer
from fl_node.vertical.protocol import HeteroLRConfig, multihost_reference
from fl_node.vertical.protocol.boost import BoostConfig, fit_twin, predict_twin
from fl_node.vertical.runner import tables_run as tr
from fl_node.vertical.runner._errors import InconsistentResultError
from fl_node.vertical.runner.events import PartiesStarted
from fl_node.vertical.runner.jobs import PsiOutcome
from fl_node.vertical.runner.onchain import TaskRecorder
from fl_node.vertical.runner.tables_run import Anchored, BoostFold, TablesPlan, shapley
from fl_node.vertical.tables import (
    JoinedTable,
    Preflight,
    centralised_cv_auc,
    join_prepared,
    prepare_party,
    read_table,
)
from fl_node.vertical.transport import CommStats

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from chain import ChainBackend, Deployment

METRIC_KEYS = ("auc", "ks", "accuracy", "precision", "recall", "f1", "log_loss")


def twin_fold_aucs(plan: TablesPlan, folds: list[BoostFold]) -> list[float]:
    """The centralised twin's test AUC on each fold (the auditor reads every file).

    SecureBoost's twin is :func:`~fl_node.vertical.protocol.boost.fit_twin` on the same
    bins; hetero LR's is scikit-learn's logistic regression on the joined table standardised
    on each fold's training rows and clipped at ``x_bound``, as every party does, with the
    scikit-learn's default ``C = 1`` (the issue's "centralised model on the joined table with
    the same preprocessing"; the protocol's exact plaintext maths is
    :func:`reference_fold_aucs`).

    Raises
    ------
    InconsistentResultError
        When the plain join finds another number of shared rows than the PSI did.
    """
    t = plan.tables
    prepared = [
        prepare_party(read_table(s.path, s.schema, role=s.kind), t.id_rules, t.prep)
        for s in t.sources
    ]
    joined = join_prepared(prepared[0], prepared[1:])
    for fold in folds:
        if fold.split.n_aligned != joined.labels.size:
            raise InconsistentResultError(
                f"PSI kept {fold.split.n_aligned} rows, the plain join {joined.labels.size}"
            )
    widths = np.cumsum([p.features.shape[1] for p in prepared])[:-1]
    parts = np.split(joined.features, widths, axis=1)
    if isinstance(plan.config, HeteroLRConfig):
        return [_lr_twin(joined, fold.split, plan.config) for fold in folds]
    return [_boost_twin(parts, joined.labels, fold.split, plan.config) for fold in folds]


def reference_fold_aucs(plan: TablesPlan, folds: list[BoostFold]) -> list[float]:
    """Hetero LR's plaintext reference on each fold: the protocol's exact maths in the clear.

    :func:`~fl_node.vertical.protocol.multihost_reference` (Taylor loss, the same epoch
    plans, as many epochs as the federated fold ran) on the joined rows standardised and
    clipped per party on the fold's training rows; empty for SecureBoost, whose twin is exact.
    """
    if not isinstance(plan.config, HeteroLRConfig) or not folds:
        return []
    t = plan.tables
    prepared = [
        prepare_party(read_table(s.path, s.schema, role=s.kind), t.id_rules, t.prep)
        for s in t.sources
    ]
    joined = join_prepared(prepared[0], prepared[1:])
    widths = np.cumsum([p.features.shape[1] for p in prepared])[:-1]
    parts = np.split(joined.features, widths, axis=1)
    return [_lr_reference(parts, joined.labels, f, plan.config) for f in folds]


def _lr_reference(
    parts: list[FloatArray], labels: FloatArray, fold: BoostFold, config: HeteroLRConfig
) -> float:
    from fl_node.evaluation import roc_auc

    train, test = fold.split.train, fold.split.test
    scalers = [Standardizer.fit(p[train], clip=config.x_bound) for p in parts]
    z = [s.transform(p) for s, p in zip(scalers, parts, strict=True)]
    fit = multihost_reference(
        z[0][train],
        [h[train] for h in z[1:]],
        labels[train],
        config,
        session=f"cv-{fold.fold}",
        epochs=fold.session.rounds,
    )
    score = z[0][test] @ fit.guest[:-1] + fit.guest[-1]
    for h, w in zip(z[1:], fit.hosts, strict=True):
        score = score + h[test] @ w
    return float(roc_auc(labels[test], 1.0 / (1.0 + np.exp(-score))))


def _lr_twin(joined: JoinedTable, split: SplitIndices, config: HeteroLRConfig) -> float:
    twin = centralised_cv_auc(
        joined, splits=[(split.train, split.test)], fold_standardise=True, fold_clip=config.x_bound
    )
    return twin.fold_aucs[0]


def _boost_twin(
    parts: list[FloatArray], labels: FloatArray, split: SplitIndices, config: BoostConfig
) -> float:
    from fl_node.evaluation import roc_auc

    train, test = split.train, split.test
    fit = fit_twin([p[train] for p in parts], labels[train], config)
    prob = predict_twin(fit.model, [p[test] for p in parts])
    return float(roc_auc(labels[test], prob))


@dataclass(frozen=True)
class TablesChain:
    """What the chain recorded: task, addresses, commits, rewards, gas."""

    task_id: int
    addresses: dict[str, str]
    commits: dict[str, str]
    shapley: dict[str, float]
    rewards: Any
    gas_used: int
    backend: str


def record_on_chain(
    recorder: TaskRecorder,
    plan: TablesPlan,
    psi: PsiOutcome,
    model: Anchored,
    commits: dict[str, str],
    emit: EventSink,
) -> TablesChain:
    """Finalise round 1 with the model manifest, the evidence and one reward per party."""
    roles = plan.roles
    values = shapley(model.utilities, len(roles))
    addresses = {role: recorder.address(role) for role in roles}
    rewards_plan = recorder.plan_rewards(values)
    lr = isinstance(plan.config, HeteroLRConfig)
    manifest = {
        "kind": "vertical-logistic-regression-model" if lr else "vertical-secureboost-model",
        "task_id": recorder.task_id,
        "parts": {
            role: {
                "address": addresses[role],
                "cid": model.parts[role].cid,
                "hash": model.parts[role].hash,
                "bytes": model.parts[role].bytes,
            }
            for role in roles
        },
        "combine": "sigmoid(guest partial score + every host's partial score)"
        if lr
        else "the guest walks its trees; each host answers the branches at its records",
        "psi_commitment": "0x" + psi.commitment,
    }
    evidence = {
        "kind": "vertical-shapley-evidence",
        "version": 3,
        "task_id": recorder.task_id,
        "players": {str(i): addresses[role] for i, role in enumerate(roles)},
        "utility": "validation AUC of the model on the coalition's features, the guest's "
        "labels always used (empty: 0.5)"
        if lr
        else "validation AUC of the model of the guest and the coalition's hosts (no guest: 0.5)",
        "utilities": model.utilities,
        "shapley": dict(zip(roles, values, strict=True)),
        "metrics": {"test": model.test_metrics, "validation": model.val_metrics},
        "psi_commitment": "0x" + psi.commitment,
        "rewards": rewards_plan.evidence(),
    }
    rewards = recorder.finalize(manifest, evidence, rewards_plan)
    emit(RewardsPaid(recorder.task_id, rewards.paid_wei, rewards.remainder_wei))
    return TablesChain(
        task_id=recorder.task_id,
        addresses=addresses,
        commits=commits,
        shapley=dict(zip(roles, values, strict=True)),
        rewards=rewards,
        gas_used=recorder.gas_used,
        backend=recorder.parties.backend.name,
    )


@dataclass(frozen=True)
class TablesRecord:
    """Everything a run on a user's tables measured."""

    plan: TablesPlan
    preflight: Preflight
    features: dict[str, int]
    psi: dict[str, PsiOutcome]
    folds: list[BoostFold]
    twin_aucs: list[float]
    reference_aucs: list[float]
    model: Anchored
    chain: TablesChain
    comm: CommStats


def summary_document(record: TablesRecord) -> dict[str, Any]:
    """``summary.json`` of a run on a user's tables (``seconds_total`` added by the caller)."""
    plan, model, folds = record.plan, record.model, record.folds
    metrics = (
        {k: float(np.mean([f.metrics[k] for f in folds])) for k in METRIC_KEYS}
        if folds
        else model.test_metrics
    )
    twin = float(np.mean(record.twin_aucs)) if record.twin_aucs else float("nan")
    guest_psi = record.psi["guest"]
    return {
        "dataset": plan.tables.name,
        "algorithm": plan.tables.algorithm,
        "parties": list(plan.roles),
        "input": plan.tables.spec(),
        "preflight": record.preflight.text().splitlines(),
        "features": record.features,
        "metrics": metrics,
        "evaluation": _evaluation(plan.folds if folds else 1),
        "cv": _cv(folds, record.twin_aucs, record.reference_aucs) if folds else None,
        "twin_auc": twin if folds else None,
        "auc_gap": metrics["auc"] - twin if folds else None,
        "holdout": {"metrics": model.test_metrics, "validation": model.val_metrics},
        "psi": {
            "method": guest_psi.method,
            "intersection_size": guest_psi.intersection_size,
            "sizes": {role: o.own_size for role, o in record.psi.items()},
            "seconds": guest_psi.seconds,
            "commitment": "0x" + guest_psi.commitment,
        },
        "config": {**_config(plan), "folds": plan.folds},
        **_rounds(plan, model),
        "shapley": {"utilities": model.utilities, "values": record.chain.shapley},
        "communication": record.comm.to_dict(),
        "chain": _chain(record.chain),
        "key_bits": plan.settings.key_bits,
        "machine": {"cpus": os.cpu_count()},
    }


def _rounds(plan: TablesPlan, model: Anchored) -> dict[str, Any]:
    """Trees (SecureBoost) or epochs (hetero LR) of the anchored model, and their seconds."""
    unit, session = plan.steps.unit, model.session
    return {
        f"{unit}s": session.rounds,
        f"seconds_per_{unit}": session.seconds / max(1, session.rounds),
        "training_seconds": session.seconds,
    }


def _config(plan: TablesPlan) -> dict[str, Any]:
    from dataclasses import asdict

    return dict(asdict(plan.config))


def _evaluation(folds: int) -> str:
    if folds <= 1:
        return "a single stratified held-out test split (20 % of the aligned rows)"
    return (
        f"stratified {folds}-fold cross-validation over the rows every party shares: each "
        "fold trained end to end with the encrypted protocol and scored by federated "
        "prediction on its held-out fold; the centralised twin is scored on the same folds"
    )


def _cv(folds: list[BoostFold], twin: list[float], reference: list[float]) -> dict[str, Any]:
    per_fold = [
        {
            "fold": f.fold,
            "test_rows": int(f.split.test.size),
            "metrics": f.metrics,
            "twin_auc": t,
            "seconds": f.session.seconds,
        }
        for f, t in zip(folds, twin, strict=True)
    ]
    for row, auc in zip(per_fold, reference, strict=False):
        row["reference_auc"] = auc  # hetero LR: the plaintext Taylor-LR reference
    return {"folds": len(folds), "per_fold": per_fold}


def _chain(chain: TablesChain) -> dict[str, Any]:
    rewards = chain.rewards
    return {
        "backend": chain.backend,
        "task_id": chain.task_id,
        "addresses": chain.addresses,
        "commits": chain.commits,
        "model_cid": rewards.model_cid,
        "evidence_cid": rewards.evidence_cid,
        "paid_wei": rewards.paid_wei,
        "remainder_wei": rewards.remainder_wei,
        "shares_bps": rewards.shares_bps,
        "rewards_root": rewards.rewards_root,
        "gas_used_total": chain.gas_used,
    }


def run_tables(
    plan: TablesPlan,
    connect: Callable[[], ChainBackend],
    chain_options: ChainOptions,
    emit: EventSink,
) -> dict[str, Any]:
    """Every step of a run on a user's tables; the summary, also written to ``summary.json``.

    Parameters
    ----------
    plan : TablesPlan
        The checked input and settings.
    connect : callable
        Returns the chain backend; called only once the preflight passed.
    chain_options : ChainOptions
        The deployment and the roles' keys.
    emit : EventSink
        Receives the progress events.
    """
    from fl_node.reporting.common import dump_json
    from storage import canonical_json

    started = time.perf_counter()
    with tr.start_table_parties(plan) as procs:
        emit(PartiesStarted(roles=plan.roles, transport="mutual TLS 1.3 on 127.0.0.1"))
        checked = tr.preflight(procs, plan)
        prepared = tr.prepare(procs, plan)
        recorder = _create_task(plan, connect(), chain_options, emit)
        psi = tr.align(procs, plan, checked, emit)
        tr.overlap_check(procs, plan, psi["guest"].intersection_size)
        recorder.open_round(_psi_manifest(recorder.task_id, psi))
        folds = tr.cross_validate(procs, plan, emit)
        model, commits = tr.anchored_model(procs, plan, recorder, emit)
        comm = tr.collect(procs, plan)
    chain = record_on_chain(recorder, plan, psi["guest"], model, commits, emit)
    record = TablesRecord(
        plan=plan,
        preflight=checked,
        features={role: o.features for role, o in prepared.items()},
        psi=psi,
        folds=folds,
        twin_aucs=twin_fold_aucs(plan, folds),
        reference_aucs=reference_fold_aucs(plan, folds),
        model=model,
        chain=chain,
        comm=comm,
    )
    summary = summary_document(record)
    summary["seconds_total"] = time.perf_counter() - started
    canonical_json(summary)  # refuses NaN / infinities before anything is written
    dump_json(summary, plan.out / "summary.json")
    emit(Finished(summary_path=str(plan.out / "summary.json"), seconds=summary["seconds_total"]))
    return summary


@dataclass(frozen=True)
class ChainOptions:
    """Where the task is recorded: an existing deployment and the roles' own keys."""

    deployment: Deployment | None = None
    keys: Mapping[str, LocalAccount] | None = None


def _create_task(
    plan: TablesPlan, backend: ChainBackend, options: ChainOptions, emit: EventSink
) -> TaskRecorder:
    """Provision a signer per role (one per party), escrow the pool, every party joins."""
    recorder = TaskRecorder.provision(
        plan.out / "store",
        backend=backend,
        deployment=options.deployment,
        keys=options.keys,
        owns_chain=plan.settings.owns_chain,
        emit=emit,
        data_roles=plan.roles,
    )
    p = recorder.parties
    emit(ChainReady(backend=p.backend.describe(), fed_task=p.deployment.fed_task))
    terms = plan.terms()
    task_id = recorder.create_task(plan.task_spec(), terms)
    emit(TaskCreated(task_id=task_id, pool_wei=terms.pool, rounds=1))
    return recorder


def _psi_manifest(task_id: int, psi: Mapping[str, PsiOutcome]) -> dict[str, Any]:
    """The PSI manifest opened on chain: commitment, method, sizes (never ids)."""
    guest = psi["guest"]
    return {
        "kind": "psi-manifest",
        "task_id": task_id,
        "method": guest.method + ", guest with each host, rows every party shares",
        "commitment": "0x" + guest.commitment,
        "commitment_scheme": "SHA-256 over sorted canonical ids with a secret 32-byte salt",
        "intersection_size": guest.intersection_size,
        "sizes": {role: o.own_size for role, o in psi.items()},
    }


__all__ = [
    "ChainOptions",
    "TablesChain",
    "TablesRecord",
    "record_on_chain",
    "run_tables",
    "summary_document",
    "reference_fold_aucs",
    "twin_fold_aucs",
]
