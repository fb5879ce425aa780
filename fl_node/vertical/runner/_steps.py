"""The named steps :func:`~fl_node.vertical.runner.run_vfl` is made of (private).

Each step takes the plan and what earlier steps produced, emits its events and returns a
typed record (:mod:`~fl_node.vertical.runner.records`). The steps that talk to the parties
keep the order the parties expect: PSI, then each cross-validation fold (split, train,
predict), then the anchored split, model, coalitions and the phe comparison.
"""

from __future__ import annotations

import logging
import os

import numpy as np

from fl_node.events import ChainReady, EventSink, TaskCreated
from fl_node.vertical.data import SplitIndices
from fl_node.vertical.protocol import CipherName
from fl_node.vertical.runner._process import PartyProcesses, PartySpec
from fl_node.vertical.runner.baseline import centralized_baseline
from fl_node.vertical.runner.events import (
    PartiesStarted,
    PsiDone,
    SplitDone,
    TrainingFinished,
    TrainingStarted,
)
from fl_node.vertical.runner.jobs import (
    PredictJob,
    PredictOutcome,
    PsiJob,
    PsiOutcome,
    SplitJob,
    SplitOutcome,
    TrainJob,
    TrainOutcome,
)
from fl_node.vertical.runner.onchain import TaskRecorder
from fl_node.vertical.runner.parties import ROLES
from fl_node.vertical.runner.records import (
    Coalition,
    FoldResult,
    ModelRecord,
    PsiRecord,
    Training,
)
from fl_node.vertical.runner.settings import RunPlan
from fl_node.vertical.transport import make_credentials

log = logging.getLogger(__name__)

COALITIONS = (("guest-only", True, False, "0"), ("host-only", False, True, "1"))
"""``(model, use guest features, use host features, Shapley coalition key)``."""


def create_task(plan: RunPlan, recorder: TaskRecorder, emit: EventSink) -> int:
    """Escrow the pool for the task; guest and host join. Return the task id."""
    p = recorder.parties
    emit(ChainReady(backend=p.backend.describe(), fed_task=p.deployment.fed_task))
    task_id = recorder.create_task(plan.task_spec(), plan.terms())
    emit(TaskCreated(task_id=task_id, pool_wei=plan.pool_wei, rounds=1))
    return task_id


def start_parties(plan: RunPlan) -> PartyProcesses:
    """The three party processes, each with only its own TLS identity and its own file."""
    creds = make_credentials(list(ROLES))
    data = {"guest": plan.guest_csv, "host": plan.host_csv, "arbiter": None}
    specs = {
        role: PartySpec(
            role=role,
            creds=creds[role],
            data=data[role],
            drop_fraction=plan.settings.drop_fraction,
            seed=plan.settings.seed,
            timeout=plan.settings.party_timeout_s,
        )
        for role in ROLES
    }
    return PartyProcesses(specs)


def run_psi(procs: PartyProcesses, plan: RunPlan, emit: EventSink) -> PsiRecord:
    """Guest and host find their shared customers and commit to them."""
    emit(PartiesStarted(roles=ROLES, transport="mutual TLS 1.3 on 127.0.0.1"))
    job = PsiJob(workers=plan.settings.workers)
    psi = PsiRecord.agreed(**procs.run({"guest": job, "host": job}, PsiOutcome))
    emit(PsiDone(method=psi.method, intersection_size=psi.intersection_size, seconds=psi.seconds))
    return psi


def _split(procs: PartyProcesses, job: SplitJob) -> SplitIndices:
    """Have the guest split the aligned rows (and tell the host); return its positions."""
    host_job = SplitJob(clip=job.clip)
    return procs.run({"guest": job, "host": host_job}, SplitOutcome)["guest"].split


def _train(procs: PartyProcesses, job: TrainJob, emit: EventSink) -> Training:
    """One training session of the three parties."""
    emit(TrainingStarted(job.name, job.cipher, job.config.max_epochs, job.max_batches))
    return Training.of(procs.run(dict.fromkeys(ROLES, job), TrainOutcome))


def _predict(procs: PartyProcesses, name: str, part: str) -> dict[str, float]:
    """Federated prediction of a split part; the guest's metrics."""
    job = PredictJob(name, "test" if part == "test" else "validation")
    metrics = procs.run({"guest": job, "host": PredictJob()}, PredictOutcome)["guest"].metrics
    assert metrics is not None
    return metrics


def cross_validate(procs: PartyProcesses, plan: RunPlan, emit: EventSink) -> list[FoldResult]:
    """Each fold trained end to end and scored by federated prediction (none for 1 fold)."""
    folds = plan.folds if plan.folds > 1 else 0
    return [_fold(procs, plan, fold, emit) for fold in range(folds)]


def _fold(procs: PartyProcesses, plan: RunPlan, fold: int, emit: EventSink) -> FoldResult:
    cfg, seed = plan.config, plan.settings.seed
    split = _split(procs, SplitJob(cfg.x_bound, 0.1, seed=seed, folds=plan.folds, fold=fold))
    name = f"cv-{fold}"
    trained = _train(procs, TrainJob(name, cfg), emit)
    metrics = _predict(procs, name, "test")
    baseline = centralized_baseline(
        plan.guest_csv,
        plan.host_csv,
        split,
        drop_fraction=plan.settings.drop_fraction,
        seed=seed,
        clip=cfg.x_bound,
    )
    session = trained.guest.session
    emit(TrainingFinished(name, session.epochs, session.seconds, test_auc=metrics["auc"]))
    return FoldResult(
        fold=fold,
        test_rows=int(split.test.size),
        epochs=session.epochs,
        metrics=metrics,
        centralized_auc=baseline.auc,
        centralized_ks=baseline.ks,
    )


def train_model(procs: PartyProcesses, plan: RunPlan, emit: EventSink) -> ModelRecord:
    """The anchored model: the single split, its training and its federated predictions."""
    split = _split(procs, SplitJob(plan.config.x_bound, 0.1, 0.2, seed=plan.settings.seed))
    emit(SplitDone(**split.to_dict()))
    training = _train(procs, TrainJob("full", plan.config), emit)
    g = training.guest.session
    emit(TrainingFinished("full", g.epochs, g.seconds, losses=tuple(g.losses)))
    test_metrics = _predict(procs, "full", "test")
    val_metrics = _predict(procs, "full", "validation")
    return ModelRecord(split, training, test_metrics, val_metrics)


def train_coalitions(
    procs: PartyProcesses, plan: RunPlan, model: ModelRecord, emit: EventSink
) -> tuple[dict[str, float], dict[str, Coalition]]:
    """The single-group models' validation AUCs: the utilities of feature-group Shapley."""
    utilities = {"": 0.5, "0,1": model.val_metrics["auc"]}
    coalitions: dict[str, Coalition] = {}
    if not plan.settings.shapley:
        return utilities, coalitions
    for name, use_guest, use_host, key in COALITIONS:
        job = TrainJob(name, plan.config, use_guest=use_guest, use_host=use_host)
        session = _train(procs, job, emit).guest.session
        auc = _predict(procs, name, "validation")["auc"]
        utilities[key] = auc
        coalitions[name] = Coalition(session.epochs, session.seconds, auc)
        emit(TrainingFinished(name, session.epochs, session.seconds, validation_auc=auc))
    return utilities, coalitions


def compare_phe(procs: PartyProcesses, plan: RunPlan, emit: EventSink) -> Training | None:
    """The same protocol with python-paillier on a few batches (when asked)."""
    if not plan.settings.compare_phe:
        return None
    cipher: CipherName = "phe"
    batches = plan.settings.phe_batches
    job = TrainJob("phe-benchmark", plan.config, cipher, max_batches=batches, keep=False)
    training = _train(procs, job, emit)
    g = training.guest.session
    emit(TrainingFinished("phe-benchmark", g.epochs, g.seconds))
    return training


def cores() -> int:
    """CPU cores available to this process."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def mean_metrics(cv: list[FoldResult], keys: tuple[str, ...]) -> dict[str, float]:
    """The mean of each metric over the folds."""
    return {k: float(np.mean([f.metrics[k] for f in cv])) for k in keys}
