"""A pool task end to end on one machine: spec, chain, training, audit, bundle listing.

:func:`run_pool_task` is what ``fedmarket pool`` runs: fresh contracts on the in-process chain
(or a dev node), the sponsor escrows the reward pool for a :class:`~fl_node.pool.PoolSpec`,
every participant joins with its own key, the coordinator draws from a fresh secret whose
commitment is in the spec, the rounds run until every base model has converged
(:class:`~fl_node.pool.run.PoolRunner`), the audit re-checks the task from the chain and the
store (:func:`~fl_node.pool.audit.audit_pool`), and the sponsor lists the shared pool on the
marketplace as one bundle whose sales flow to the participants by their summed contributions.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chain import ChainBackend, provision
from chain.backends import InProcessBackend
from chain.fed_task import FedTaskClient, Schedule
from fedmarket.bench._fl_task import bench_task
from fl_node.data import FederatedSplit
from fl_node.models import ModelSpec
from fl_node.pool.acceptance import AcceptanceRule
from fl_node.pool.assignment import seed_commitment
from fl_node.pool.audit import PoolAudit, audit_pool
from fl_node.pool.convergence import ConvergenceRule
from fl_node.pool.ledger import COORDINATOR, SPONSOR, FedTaskLedger, participant_role
from fl_node.pool.run import PoolParty, PoolResult, PoolRound, PoolRunner, base_model_name
from fl_node.pool.spec import DrawRule, PoolSpec
from kernel.errors import InvalidInputError
from storage import ContentStore, LocalCidStore, canonical_json, content_hash

log = logging.getLogger(__name__)

TOKEN = 10**18
POOL = 1_000 * TOKEN
"""The reward pool a pool task escrows."""
PRICE = 10 * TOKEN
"""The bundle's default price."""
DEFAULT_BASE_MODELS = ("mlp:32@7", "mlp:32@8", "mlp:64@9", "linear@10")
"""Two initialisations of one architecture, a wider one, and a linear model."""


def fresh_secret() -> bytes:
    """A new 32-byte draw secret (the coordinator keeps it until the bundle reveals it)."""
    return secrets.token_bytes(32)


def parse_base_model(text: str, template: ModelSpec) -> ModelSpec:
    """``KIND[:W1xW2...][@SEED]`` (e.g. ``mlp:32x16@3``, ``linear@1``) on ``template``'s task.

    Raises
    ------
    InvalidInputError
        An unknown family or a malformed width or seed.
    """
    body, _, seed = text.partition("@")
    kind, _, widths = body.partition(":")
    if kind not in ("mlp", "linear"):
        raise InvalidInputError(f"--base-model {text!r}: the family must be mlp or linear")
    try:
        hidden = tuple(int(w) for w in widths.split("x")) if widths else ()
        chosen = int(seed) if seed else template.seed
    except ValueError:
        raise InvalidInputError(f"--base-model {text!r}: widths and seed are integers") from None
    if kind == "mlp" and (not hidden or min(hidden) < 1):
        raise InvalidInputError(f"--base-model {text!r}: an mlp needs positive widths")
    return dataclasses.replace(template, kind=kind, hidden=hidden, seed=chosen)


def pool_task(
    dataset: str,
    base_models: Sequence[str] = DEFAULT_BASE_MODELS,
    *,
    clients: int = 10,
    rounds: int = 20,
    convergence: ConvergenceRule | None = None,
    draw: DrawRule | None = None,
    secret: bytes,
    seed: int = 0,
) -> tuple[PoolSpec, FederatedSplit]:
    """A pool spec over a bundled dataset split among ``clients``, and the split.

    Parameters
    ----------
    dataset : str
        ``digits`` or ``breast-cancer`` (scikit-learn's bundled copies).
    base_models : sequence of str
        :func:`parse_base_model` texts.
    clients, rounds : int
        Participants, and the most rounds the task runs.
    convergence, draw : rules or None
        Defaults: the last 3 errors within 0.02, and between 1 and all base models a round.
    secret : bytes
        The coordinator's draw secret (only its commitment goes in the spec).
    seed : int, default 0
        Seed of the split.
    """
    task = bench_task(dataset, clients=clients, rounds=max(rounds, 2), seed=seed)
    models = tuple(parse_base_model(t, task.spec.model) for t in base_models)
    spec = PoolSpec(
        name=f"pool-{dataset}",
        base_models=models,
        train=task.spec.train,
        rounds=rounds,
        convergence=convergence or ConvergenceRule(window=3, band=0.02),
        acceptance=AcceptanceRule(),
        seed_commitment="0x" + seed_commitment(secret).hex(),
        draw=draw or DrawRule(),
        feature_names=task.split.feature_names,
    )
    return spec, task.split


@dataclass(frozen=True)
class PoolTask:
    """A finished, audited and listed pool task."""

    task_id: int
    spec: PoolSpec
    result: PoolResult
    audit: PoolAudit
    listing: int
    price: int
    card_cid: str
    seconds: float
    store: LocalCidStore
    record: tuple[dict[str, Any], ...] = ()


def _ledger(backend: ChainBackend, store: LocalCidStore, n: int) -> FedTaskLedger:
    roles = [SPONSOR, COORDINATOR, *(participant_role(i) for i in range(n))]
    return FedTaskLedger(provision(backend, roles), store)


def pool_card(
    task_id: int, spec: PoolSpec, result: PoolResult, store: ContentStore
) -> dict[str, Any]:
    """The bundle's model card: the marketplace's card shape, naming the bundle as the model.

    ``model_cid`` / ``model_hash`` are the task's final model on FedTask (the bundle manifest),
    as the marketplace checks; ``pool`` lists every base model with its decision and test error;
    the metrics are the accepted models' best and worst test accuracy.

    Parameters
    ----------
    task_id : int
        The pool task.
    spec : PoolSpec
        Its spec.
    result : PoolResult
        The finished run.
    store : ContentStore
        Where the bundle is stored.
    """
    bundle = store.get(result.bundle_cid)
    errors = {m: e[-1] for m, e in enumerate(result.errors) if e}
    kept = [errors[m] for m in result.accepted if m in errors]
    return {
        "kind": "fedmarket/model-card",
        "task_id": task_id,
        "name": f"{spec.name}: a pool of {len(result.accepted)} models",
        "model_cid": result.bundle_cid,
        "model_hash": "0x" + bytes(content_hash(bundle)).hex(),
        "metrics": (
            {"best_accuracy": 1 - min(kept), "worst_accuracy": 1 - max(kept)} if kept else {}
        ),
        "pool": [
            {
                "model": d.model,
                "name": d.name,
                "accepted": d.accepted,
                "reason": d.reason,
                "test_error": errors.get(d.model),
            }
            for d in result.decisions
        ],
    }


def list_bundle(
    ledger: FedTaskLedger, spec: PoolSpec, result: PoolResult, price: int, sponsor_bps: int = 0
) -> tuple[int, str]:
    """The sponsor lists the shared pool as one bundle on ModelMarket; (listing id, card CID).

    Parameters
    ----------
    ledger : FedTaskLedger
        The finished (final) pool task.
    spec : PoolSpec
        Its spec.
    result : PoolResult
        The run.
    price : int
        The bundle's price in token wei.
    sponsor_bps : int, default 0
        The sponsor's cut of each sale.
    """
    card = canonical_json(pool_card(ledger.task_id, spec, result, ledger.store))
    cid = str(ledger.store.put(card))
    listing, _ = ledger.parties.market(SPONSOR).list_model(
        ledger.task_id, price, sponsor_bps, cid, bytes(content_hash(card))
    )
    return listing, cid


def run_pool_task(
    spec: PoolSpec,
    split: FederatedSplit,
    store_dir: Path,
    *,
    secret: bytes,
    backend: ChainBackend | None = None,
    price: int = PRICE,
    on_round: Callable[[PoolRound], None] | None = None,
) -> PoolTask:
    """Create, run, audit and list a pool task (see the module docstring).

    Parameters
    ----------
    spec : PoolSpec
        The task (its ``seed_commitment`` must be ``secret``'s).
    split : FederatedSplit
        One participant per ``hospitals`` entry, the coordinator's validation and test rows.
    store_dir : Path
        Folder of the content store.
    secret : bytes
        The coordinator's draw secret.
    backend : ChainBackend or None, default None
        The chain (it needs a faucet); a fresh in-process chain when ``None``.
    price : int, default PRICE
        The bundle's price in token wei.
    on_round : callable or None, default None
        Called with each finalised round.
    """
    if "0x" + seed_commitment(secret).hex() != spec.seed_commitment:
        raise InvalidInputError("run_pool_task: the secret is not the spec's seed commitment")
    started = time.perf_counter()
    store = LocalCidStore(store_dir)
    n = len(split.hospitals)
    ledger = _ledger(backend or InProcessBackend(), store, n)
    ledger.create(spec, pool=POOL, schedule=Schedule.uniform(60), n_participants=n)
    parties = [PoolParty(a, d) for a, d in zip(ledger.participants, split.hospitals, strict=True)]
    runner = PoolRunner(spec, parties, split.validation, split.test, secret, ledger, store)
    result = runner.run(on_round)
    reader = ledger.parties.fed_task()
    audit = audit_pool(reader, store, ledger.task_id, validation=split.validation)
    listing, card = list_bundle(ledger, spec, result, price)
    seconds = time.perf_counter() - started
    log.info("pool task %d: %d rounds, audit ok %s", ledger.task_id, len(result.rounds), audit.ok)
    record = chain_record(ledger.parties.fed_task(), ledger.task_id)
    return PoolTask(
        ledger.task_id, spec, result, audit, listing, price, card, seconds, store, record
    )


def chain_record(fed_task: FedTaskClient, task_id: int) -> tuple[dict[str, Any], ...]:
    """What FedTask holds of each round: manifests, the batch root, the evidence, the budget.

    The opening manifest commits to the round's assignment; the batch root anchors each
    participant's signed commitment to its update, whose bytes name its base model.
    """
    opened = {int(e.round): e for e in fed_task.rounds_opened(task_id)}
    rows = []
    for final in fed_task.rounds_finalized(task_id):
        number = int(final.round)
        batches = fed_task.batches_posted(task_id, number)
        rows.append(
            {
                "round": number,
                "opening_manifest": {
                    "cid": str(opened[number].model_cid),
                    "hash": "0x" + bytes(opened[number].model_hash).hex(),
                },
                "batch": (
                    {"root": "0x" + bytes(batches[0].root).hex(), "count": batches[0].count}
                    if batches
                    else None
                ),
                "closing_manifest": {
                    "cid": str(final.model_cid),
                    "hash": "0x" + bytes(final.model_hash).hex(),
                },
                "evidence_cid": str(final.evidence_cid),
                "budget_wei": str(final.budget),
            }
        )
    return tuple(rows)


def pool_summary(task: PoolTask) -> dict[str, Any]:
    """The run's figures: per base model its rounds, convergence, error and decision."""
    r = task.result
    decisions = {d.model: d for d in r.decisions}
    return {
        "task_id": task.task_id,
        "rounds": len(r.rounds),
        "rounds_trained": sum(1 for x in r.rounds if x.lanes),
        "base_models": [
            {
                "model": i,
                "name": base_model_name(i, task.spec),
                "rounds_trained": len(errors),
                "converged_at": r.converged_at[i],
                "test_error": errors[-1] if errors else None,
                "accepted": decisions[i].accepted,
                "reason": decisions[i].reason,
            }
            for i, errors in enumerate(r.errors)
        ],
        "accepted": list(r.accepted),
        "assignment": [
            {"round": x.round, "drawn": list(x.draw.drawn), "assignment": x.draw.assignment}
            for x in r.rounds
            if x.lanes
        ],
        "received_wei": [str(v) for v in r.received],
        "bundle_cid": r.bundle_cid,
        "listing": {"model_id": task.listing, "price_wei": str(task.price), "card": task.card_cid},
        "audit": {"ok": task.audit.ok, "problems": [list(p) for p in task.audit.problems]},
        "chain": list(task.record),
        "seconds": round(task.seconds, 2),
    }


__all__ = [
    "DEFAULT_BASE_MODELS",
    "POOL",
    "PRICE",
    "PoolTask",
    "chain_record",
    "fresh_secret",
    "list_bundle",
    "pool_card",
    "parse_base_model",
    "pool_summary",
    "pool_task",
    "run_pool_task",
]
