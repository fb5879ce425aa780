"""``summary.json``: the story's figures, every one read back from the chain or the store.

:func:`build_summary` assembles it from what the run produced (:class:`Outcome`), the audit and
the chain; the CLI prints it and the tests check the demo's promises against it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from chain import ChainBackend
from fedmarket.demo.deliverables import Deliverables
from fedmarket.demo.world import World
from fl_node.audit import AuditReport
from fl_node.coordinator import RoundReport
from fl_node.task import TaskSpec

HEADLINE_METRICS = ("accuracy", "f1", "precision", "recall", "auc", "ks")
"""The held-out test metrics the summary reports."""


@dataclass(frozen=True)
class Outcome:
    """What one run of the story produced, before the audit.

    Attributes
    ----------
    task_id : int
        The task.
    spec : TaskSpec
        Its specification.
    reports : list of RoundReport
        The coordinator's report of every round.
    participants : list of str
        The participants' addresses, in join order.
    paid_wei : dict of str to int
        Each participant's token balance after claiming.
    remainder_wei : int
        What was left in escrow and went back to the sponsor.
    deliverables : Deliverables
        The stored model card and artifacts.
    datasets_listed : int
        Listings the sponsor found in the marketplace.
    model_listing_id : int
        The final model's marketplace id.
    task_view_rounds : int
        Rounds the marketplace's view of the task shows.
    """

    task_id: int
    spec: TaskSpec
    reports: list[RoundReport]
    participants: list[str]
    paid_wei: dict[str, int]
    remainder_wei: int
    deliverables: Deliverables
    datasets_listed: int
    model_listing_id: int
    task_view_rounds: int


def chain_gas_used(backend: ChainBackend, senders: Iterable[str], from_block: int) -> int:
    """Gas used by the transactions of ``senders`` since ``from_block``, read from the chain.

    Parameters
    ----------
    backend : ChainBackend
        The chain.
    senders : iterable of str
        Addresses whose transactions count.
    from_block : int
        First block to read.
    """
    w3 = backend.w3
    total = 0
    wanted = {s.lower() for s in senders}
    for number in range(from_block, int(w3.eth.block_number) + 1):
        block = w3.eth.get_block(number, full_transactions=True)
        for tx in block["transactions"]:
            if isinstance(tx, bytes) or str(tx["from"]).lower() not in wanted:
                continue
            total += int(w3.eth.get_transaction_receipt(tx["hash"])["gasUsed"])
    return total


def build_summary(
    world: World, outcome: Outcome, audit: AuditReport, *, pool_wei: int, seconds: float
) -> dict[str, Any]:
    """The content of ``summary.json``.

    Parameters
    ----------
    world : World
        The parties, the chain and the store.
    outcome : Outcome
        What the run produced.
    audit : AuditReport
        The task's audit from the chain and the store.
    pool_wei : int
        The reward pool.
    seconds : float
        Wall time of the run so far.
    """
    test = outcome.reports[-1].test.to_dict()
    acceptance = outcome.spec.acceptance
    return {
        "task": outcome.spec.name,
        "task_id": outcome.task_id,
        "rounds": len(outcome.reports),
        "participants": len(outcome.participants),
        "metrics": {k: test[k] for k in HEADLINE_METRICS},
        "acceptance": {
            "targets": acceptance,
            "met": all(test[k] >= v for k, v in acceptance.items()),
        },
        "chain": _chain_section(world, outcome),
        "participant_names": {a: world.names[a] for a in outcome.participants},
        "rewards": {
            "pool_wei": pool_wei,
            "paid_wei": outcome.paid_wei,
            "remainder_wei": outcome.remainder_wei,
            "per_round_paid_wei": [sum(r.amounts) for r in outcome.reports],
        },
        "artifacts": _artifacts_section(world, outcome),
        "audit": {
            "ok": audit.ok,
            "checks": sum(len(r.checks) for r in audit.rounds),
            "failures": [f"round {r}: {c.name}: {c.detail}" for r, c in audit.failures],
            "report": "audit.json",
        },
        "marketplace": {
            "datasets_listed": outcome.datasets_listed,
            "model_listing_id": outcome.model_listing_id,
            "task_view_rounds": outcome.task_view_rounds,
        },
        "seconds": seconds,
    }


def _chain_section(world: World, outcome: Outcome) -> dict[str, Any]:
    senders = {s.address for s in world.parties.signers.values()}
    return {
        "backend": world.backend.name,
        "chain_id": world.backend.chain_id,
        "contracts": world.deployment.to_dict(),
        "updates_anchored": len(world.fed_task().update_anchors(outcome.task_id)),
        "updates_rejected": sum(len(r.rejected) for r in outcome.reports),
        "gas_used_total": chain_gas_used(world.backend, senders, 0),
    }


def _artifacts_section(world: World, outcome: Outcome) -> dict[str, Any]:
    return {
        "global_model_cid": world.fed_task().task(outcome.task_id).model_cid,
        "model_card_cid": outcome.deliverables.card_cid,
        "report": "evaluation_report.md",
        "model": "model.safetensors",
        "model_config": "model_config.json",
        "training_log": "training_log.csv",
        "loss_curve": "loss_curve.png",
        "communication": "communication.json",
        "evidence": [r.evidence_cid for r in outcome.reports],
    }


__all__ = ["HEADLINE_METRICS", "Outcome", "build_summary", "chain_gas_used"]
