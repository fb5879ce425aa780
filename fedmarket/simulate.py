"""A whole task on one machine: every party's data in one process, the full protocol on a chain.

:func:`simulate` is what ``fedmarket simulate`` runs, and what the experiments and tests use to
try a task on any data: the demo's world of parties (one funded key each) on the in-process
chain or any JSON-RPC node, the spec escrowed with a reward pool, one participant per dataset
joining with its stake, the coordinator crossing the deadlines by time travel, every update
committed, revealed, checked, scored and paid on-chain, and the task audited at the end.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from chain import ChainBackend
from fedmarket.demo.world import (
    DEMO_TERMS,
    TOKEN,
    ballot_source,
    build_world,
    make_coordinator,
    make_participants,
    sponsor_task,
    step_all,
)
from fl_node.audit import AuditReport, audit_task
from fl_node.coordinator import RoundReport
from fl_node.data import FederatedSplit, LocalDataset
from fl_node.evaluation import Metrics, task_metrics
from fl_node.models import build_model
from fl_node.objectives import predict
from fl_node.sponsor import TaskTerms
from fl_node.task import TaskSpec
from fl_node.training import train_local

log = logging.getLogger(__name__)

POOL = 1_000 * TOKEN
"""The reward pool a simulation escrows."""


@dataclass(frozen=True)
class Simulation:
    """What a simulated task produced."""

    task_id: int
    spec: TaskSpec
    reports: tuple[RoundReport, ...]
    audit: AuditReport | None
    seconds: float
    startup_seconds: float

    @property
    def final(self) -> RoundReport:
        """The last round's report (its ``test`` metrics are the final model's)."""
        return self.reports[-1]


def simulate(
    spec: TaskSpec,
    split: FederatedSplit,
    store_dir: Path,
    *,
    backend: ChainBackend | None = None,
    terms: TaskTerms = DEMO_TERMS,
    audit: bool = True,
    on_round: Callable[[RoundReport], None] | None = None,
) -> Simulation:
    """Run ``spec`` over ``split`` (one participant per dataset) and audit it.

    Parameters
    ----------
    spec : TaskSpec
        The task; each party's data is checked against it when the party joins.
    split : FederatedSplit
        The parties' datasets, the coordinator's validation set and the held-out test set.
    store_dir : Path
        Folder of the embedded content store.
    backend : ChainBackend or None, default None
        The chain (it needs a faucet); a fresh in-process chain when ``None``.
    terms : TaskTerms, default DEMO_TERMS
        Schedule, quorum, stakes; the quorum is capped at the number of parties.
    audit : bool, default True
        Audit every round from the chain and the store at the end.
    on_round : callable or None, default None
        Called with each round's report as it is finalised (progress display).
    """
    started = time.perf_counter()
    world = build_world(store_dir, backend=backend, split=split)
    world.mint(world.sponsor, POOL)
    terms = replace(terms, quorum=min(terms.quorum, len(split.hospitals)))
    task_id = sponsor_task(
        world, spec, pool=POOL, max_participants=len(split.hospitals), terms=terms
    )
    nodes = make_participants(world, task_id)
    coordinator = make_coordinator(world, task_id)
    coordinator.ballots = ballot_source(nodes)  # the trusted vote's signed ballots, in process
    ready = time.perf_counter()
    reports = coordinator.run(between=step_all(nodes, task_id), on_round=on_round)
    trained = time.perf_counter()
    checked = (
        audit_task(world.fed_task(), world.store, task_id, mailbox=world.mailbox) if audit else None
    )
    log.info("simulate: task %d, %d rounds in %.1f s", task_id, len(reports), trained - ready)
    return Simulation(
        task_id=task_id,
        spec=spec,
        reports=tuple(reports),
        audit=checked,
        seconds=trained - ready,
        startup_seconds=ready - started,
    )


def centralised_baseline(spec: TaskSpec, split: FederatedSplit) -> Metrics:
    """The reference a federation is compared with: one linear model on the pooled rows.

    Only an experiment can pool the parties' rows; this is what the federated model's held-out
    metrics are measured against. scikit-learn's logistic regression (binary, multi-class,
    L2 with C = 1) or ridge regression (alpha = 1), on features standardised with the pooled
    rows' own mean and deviation, scored on the same test set by the same metrics.
    """
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.concatenate([h.x.reshape(h.rows, -1) for h in split.hospitals])
    y = np.concatenate([h.y for h in split.hospitals])
    test_x = split.test.x.reshape(split.test.rows, -1)
    if spec.kind == "regression":
        regressor = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(x, y)
        return task_metrics("regression", split.test.y, regressor.predict(test_x))
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(x, y)
    prob = classifier.predict_proba(test_x)
    return task_metrics(spec.kind, split.test.y, prob[:, 1] if spec.kind == "binary" else prob)


def centralised_same_model(spec: TaskSpec, split: FederatedSplit) -> Metrics:
    """The task's own model trained on the pooled rows, as many epochs as the federation ran.

    The same initial weights, optimiser and batch size; ``rounds x local_epochs`` epochs over the
    union of the parties' rows (each row is seen as often as in the federation). The gap to the
    federated model is what federation costs on this split.
    """
    pooled = LocalDataset(
        "pooled",
        np.concatenate([h.x for h in split.hospitals]),
        np.concatenate([h.y for h in split.hospitals]),
    )
    epochs = spec.train.local_epochs * spec.rounds
    model = build_model(spec.model)
    config = replace(spec.train, local_epochs=epochs, max_steps=0, proximal_mu=0.0)
    train_local(model, pooled, config, round=1)
    return task_metrics(spec.kind, split.test.y, predict(model, split.test.x))


__all__ = ["POOL", "Simulation", "centralised_baseline", "centralised_same_model", "simulate"]
