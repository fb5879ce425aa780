"""``summary.json``: the story's figures, every one read back from the chain or the store.

:func:`build_summary` assembles it from what the run produced (:class:`Outcome`), the audit and
the chain; the CLI prints it and the tests check the demo's promises against it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from chain import ChainBackend
from chain.fed_task import StakeWithdrawnEvent
from fedmarket.demo.deliverables import Deliverables
from fedmarket.demo.sale import Sale
from fedmarket.demo.world import World
from fl_node.audit import AuditReport
from fl_node.coordinator import Coordinator, RoundReport
from fl_node.evaluation import meets
from fl_node.participant import ParticipantNode
from fl_node.payout import cumulative_contributions
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
    nodes : list of ParticipantNode
        The hospitals' nodes, in join order (what they committed and claimed).
    coordinator : Coordinator
        The coordinator (its gas).
    remainder_wei : int
        What was left unallocated and went back to the sponsor.
    deliverables : Deliverables
        The stored model card and artifacts.
    datasets_listed : int
        Listings the sponsor found in the marketplace.
    sale : Sale
        The model's listing on ModelMarket and its one sale.
    listing_gas : int
        Gas of the listing.
    model_listing_id : int
        The listing as the marketplace API describes it (the ModelMarket id).
    task_view_rounds : int
        Rounds the marketplace's view of the task shows.
    """

    task_id: int
    spec: TaskSpec
    reports: list[RoundReport]
    nodes: list[ParticipantNode]
    coordinator: Coordinator
    remainder_wei: int
    deliverables: Deliverables
    datasets_listed: int
    sale: Sale
    listing_gas: int
    model_listing_id: int
    task_view_rounds: int

    @property
    def participants(self) -> list[str]:
        """The participants' addresses, in join order."""
        return [n.address for n in self.nodes]

    @property
    def paid_wei(self) -> dict[str, int]:
        """What each participant claimed over the task."""
        return {n.address: sum(c.amount for c in n.claims) for n in self.nodes}


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


def _scores(outcome: Outcome) -> dict[str, float]:
    """Each participant's score over the task: its positive round contributions summed."""
    totals = cumulative_contributions([r.contributions for r in outcome.reports])
    return dict(zip(outcome.participants, totals, strict=True))


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
        "metrics": {k: test[k] for k in HEADLINE_METRICS if k in test},
        "acceptance": {
            "targets": acceptance,
            "met": all(meets(outcome.reports[-1].test, acceptance).values()),
        },
        "chain": _chain_section(world, outcome),
        "participant_names": {a: world.names[a] for a in outcome.participants},
        "rewards": {
            "pool_wei": pool_wei,
            "paid_wei": outcome.paid_wei,
            "remainder_wei": outcome.remainder_wei,
            "per_round_cap_wei": [r.rewards.cap for r in outcome.reports],
            "per_round_paid_wei": [r.budget for r in outcome.reports],
            "per_round_improvement": [r.rewards.improvement for r in outcome.reports],
            "policy": outcome.spec.rewards.to_dict(),
            "contribution_method": outcome.spec.contribution,
            "scores": _scores(outcome),
        },
        "protocol": _protocol_section(world, outcome),
        "sale": _sale_section(outcome),
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
    commitments = [c for r in outcome.reports for c in r.commitments]
    return {
        "backend": world.backend.name,
        "chain_id": world.backend.chain_id,
        "contracts": world.deployment.to_dict(),
        "updates_committed": len(commitments),
        "commitments": {
            "batched": sum(c.source == "batch" for c in commitments),
            "direct": sum(c.source == "direct" for c in commitments),
        },
        "updates_rejected": sum(len(r.rejected) for r in outcome.reports),
        "gas_used_total": chain_gas_used(world.backend, senders, 0),
    }


def _gas_section(outcome: Outcome) -> dict[str, Any]:
    """The coordinator's gas per round, and per participant-update (amortised)."""
    per_round = [{"round": r.round, **asdict(r.gas), "total": r.gas.total} for r in outcome.reports]
    updates = sum(len(r.commitments) for r in outcome.reports) or 1
    direct = sum(h.gas_used for n in outcome.nodes for h in n.history)
    total = sum(r.gas.total for r in outcome.reports)
    return {
        "per_round": per_round,
        "mean_per_round": total // max(1, len(outcome.reports)),
        "anchoring_per_participant_update": (sum(r.gas.batch for r in outcome.reports) + direct)
        // updates,
        "per_participant_update": (total + direct) // updates,
        "coordinator_stake": outcome.coordinator.stake_gas,
    }


def _claims_section(outcome: Outcome) -> dict[str, Any]:
    """Every claim transaction, per participant and in all."""
    by_participant: dict[str, Any] = {
        n.address: {
            "transactions": len(n.claims),
            "rounds": sorted(r for c in n.claims for r in c.rounds),
            "wei": sum(c.amount for c in n.claims),
            "gas_used": sum(c.gas_used for c in n.claims),
        }
        for n in outcome.nodes
    }
    claims = [c for n in outcome.nodes for c in n.claims]
    return {
        "transactions": len(claims),
        "rounds_claimed": sum(len(c.rounds) for c in claims),
        "gas_used": sum(c.gas_used for c in claims),
        "by_participant": by_participant,
    }


def _protocol_section(world: World, outcome: Outcome) -> dict[str, Any]:
    fed_task = world.fed_task()
    info = fed_task.task(outcome.task_id)
    withdrawn = fed_task.events(StakeWithdrawnEvent, task_id=outcome.task_id)
    shares = outcome.reports[-1].shares
    return {
        "schedule_seconds": asdict(fed_task.schedule(outcome.task_id)),
        "quorum": info.quorum,
        "stakes": {
            "participant_wei": info.participant_stake,
            "coordinator_wei": info.coordinator_stake,
            "slash_bps": info.slash_bps,
            "returned_wei": {e.account: e.amount for e in withdrawn},
        },
        "gas": _gas_section(outcome),
        "claims": _claims_section(outcome),
        "shares_bps": dict(zip(outcome.participants, fed_task.shares(outcome.task_id), strict=True))
        if shares
        else {},
    }


def _sale_section(outcome: Outcome) -> dict[str, Any]:
    sale = outcome.sale
    return {
        "model_id": sale.model_id,
        "price_wei": sale.price,
        "fee_wei": sale.fee,
        "sponsor_wei": sale.sponsor_amount,
        "contributors_wei": sale.contributors_amount,
        "claimed_wei": dict(sale.claimed),
        "gas_used": sale.gas_used + outcome.listing_gas,
    }


def _artifacts_section(world: World, outcome: Outcome) -> dict[str, Any]:
    return {
        "global_model_cid": outcome.reports[-1].model_cid,
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
