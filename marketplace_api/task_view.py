"""A FedTask v2 task as the chain records it, for ``GET /tasks/{id}`` (read fresh, never cached).

State comes from FedTask's views (``getTask``, ``getSchedule``, ``getRound`` for every round
opened, ``getParticipants``, ``stakeOf``, ``shares``, ``isFinal``), history from its events:
``RoundOpened`` (the model a round started from), ``CommitBatchPosted`` and ``UpdateCommitted``
(the round's commitments), ``RoundFinalized`` (new model, evidence CID, flags) and
``RewardsClaimed``.

**Rewards per participant: the chain first, the evidence as its checked detail.** FedTask keeps
only a Merkle root and a budget per round; who gets what is in the round's evidence document,
which the coordinator publishes in the content store. So each participant's reward of a round has
two figures:

- ``claimed_wei``, from ``RewardsClaimed`` events: what the chain paid. Authoritative, but it
  says nothing of rewards not claimed yet.
- ``allocated_wei``, from the reward leaves ``{account, amount}`` of the round's evidence document
  (``rewards.leaves`` of ``fedmarket/round-evidence`` v2, :class:`EvidenceDocument`), shown
  **only** when those leaves rebuild the round's on-chain rewards root and sum to its on-chain
  budget (:class:`~chain.commitments.RewardTree`). Otherwise (a dispute replaced the root, the
  document is missing, malformed or about another round) the allocations are null and
  ``evidence_status`` says why; the chain's figures stand.

Nothing here trusts the evidence beyond what the chain confirms, and nothing fails when the
content store does: the task is still shown, with its allocations unverified.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Annotated, Literal, cast

from eth_utils.address import to_checksum_address
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints, ValidationError

from chain import FedTaskClient, TaskInfo, TaskStatus
from chain.commitments import RewardTree
from chain.fed_task import (
    CommitBatchPostedEvent,
    RoundFinalizedEvent,
    RoundInfo,
    RoundOpenedEvent,
    UpdateCommittedEvent,
)
from marketplace_api.schemas import (
    BatchPublic,
    CommitmentPublic,
    EvidenceStatus,
    RewardPublic,
    RoundPublic,
    SchedulePublic,
    TaskPublic,
    TaskStatusName,
)
from storage import ContentStore, StoreError

log = logging.getLogger(__name__)

MAX_EVIDENCE_BYTES = 16 * 1024 * 1024
"""Largest evidence document read."""


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


@dataclass
class TaskEvents:
    """A task's events, by round.

    Attributes
    ----------
    opened : dict of int to RoundOpenedEvent
        ``RoundOpened`` per round.
    finalized : dict of int to RoundFinalizedEvent
        ``RoundFinalized`` per round.
    batches : dict of int to list of CommitBatchPostedEvent
        ``CommitBatchPosted`` per round.
    commits : dict of int to list of UpdateCommittedEvent
        Direct ``UpdateCommitted`` per round.
    claims : dict of int to dict of str to int
        Wei claimed per round and account (``RewardsClaimed``).
    """

    opened: dict[int, RoundOpenedEvent] = field(default_factory=dict)
    finalized: dict[int, RoundFinalizedEvent] = field(default_factory=dict)
    batches: dict[int, list[CommitBatchPostedEvent]] = field(default_factory=dict)
    commits: dict[int, list[UpdateCommittedEvent]] = field(default_factory=dict)
    claims: dict[int, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def read(cls, fed_task: FedTaskClient, task_id: int) -> TaskEvents:
        """Every event of ``task_id`` the view shows.

        Parameters
        ----------
        fed_task : FedTaskClient
            Read-only FedTask client.
        task_id : int
            The task.
        """
        events = cls(
            opened={e.round: e for e in fed_task.rounds_opened(task_id)},
            finalized={e.round: e for e in fed_task.rounds_finalized(task_id)},
        )
        batches: dict[int, list[CommitBatchPostedEvent]] = defaultdict(list)
        for b in fed_task.batches_posted(task_id):
            batches[b.round].append(b)
        commits: dict[int, list[UpdateCommittedEvent]] = defaultdict(list)
        for c in fed_task.updates_committed(task_id):
            commits[c.round].append(c)
        claims: dict[int, dict[str, int]] = defaultdict(dict)
        for claim in fed_task.claims(task_id):
            paid = claims[claim.round]
            paid[claim.account] = paid.get(claim.account, 0) + int(claim.amount)
        events.batches, events.commits, events.claims = dict(batches), dict(commits), dict(claims)
        return events


class EvidenceLeaf(BaseModel):
    """One leaf of a round's rewards tree as the evidence publishes it."""

    model_config = ConfigDict(extra="ignore")

    account: Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{40}$")]
    amount: StrictInt = Field(ge=1)


class EvidenceRewards(BaseModel):
    """The rewards part of a round's evidence: its leaves (the rest is not read here)."""

    model_config = ConfigDict(extra="ignore")

    leaves: list[EvidenceLeaf]


class EvidenceDocument(BaseModel):
    """What the API reads of a round-evidence document (``fedmarket/round-evidence``, v2).

    Only the round it is about and its reward leaves ``{account, amount}``: everything shown from
    it is confirmed by rebuilding the on-chain rewards root, so nothing else needs trusting.
    """

    model_config = ConfigDict(extra="ignore")

    kind: Literal["fedmarket/round-evidence"]
    task_id: StrictInt
    round: StrictInt
    rewards: EvidenceRewards


@dataclass(frozen=True)
class Allocation:
    """What a round's evidence says each participant was allocated, as checked against the chain.

    Attributes
    ----------
    status : EvidenceStatus
        Whether the evidence rebuilds the on-chain root and budget.
    amounts : dict of str to int or None
        Wei per account (checksummed) when ``status`` is ``verified`` or ``no_rewards``;
        ``None`` otherwise.
    """

    status: EvidenceStatus
    amounts: dict[str, int] | None


def read_evidence(store: ContentStore, evidence_cid: str) -> EvidenceDocument | None:
    """The reward leaves of the evidence stored under ``evidence_cid`` (``None`` if unreadable).

    Parameters
    ----------
    store : ContentStore
        The content store.
    evidence_cid : str
        ``RoundFinalized.evidenceCid``.
    """
    try:
        return EvidenceDocument.model_validate(
            store.get_json(evidence_cid, max_bytes=MAX_EVIDENCE_BYTES)
        )
    except (StoreError, ValidationError) as exc:
        log.info("read_evidence: %s is not readable round evidence: %s", evidence_cid, exc)
        return None


def read_allocation(
    store: ContentStore, task_id: int, info: RoundInfo, evidence_cid: str | None
) -> Allocation:
    """The round's allocations from its evidence's leaves, kept only when they match the chain.

    Parameters
    ----------
    store : ContentStore
        Where the evidence document is.
    task_id : int
        The task.
    info : RoundInfo
        The round as the chain records it now (its current root and budget).
    evidence_cid : str or None
        ``RoundFinalized.evidenceCid`` (``None`` while the round is open).
    """
    if not info.finalized or evidence_cid is None:
        return Allocation("not_finalized", None)
    if info.budget == 0:
        return Allocation("no_rewards", {})
    evidence = read_evidence(store, evidence_cid)
    if evidence is None or (evidence.task_id, evidence.round) != (task_id, info.round):
        return Allocation("unavailable", None)
    amounts: dict[str, int] = {
        str(to_checksum_address(leaf.account)): leaf.amount for leaf in evidence.rewards.leaves
    }
    if len(amounts) != len(evidence.rewards.leaves):  # an account twice
        return Allocation("mismatch", None)
    tree = RewardTree.build(task_id, info.round, amounts)
    if bytes(tree.root) != bytes(info.rewards_root) or tree.budget != info.budget:
        return Allocation("mismatch", None)
    return Allocation("verified", amounts)


def round_public(
    info: RoundInfo,
    events: TaskEvents,
    participants: list[str],
    allocation: Allocation,
    now: int,
) -> RoundPublic:
    """One round as the API shows it.

    Parameters
    ----------
    info : RoundInfo
        The round's state.
    events : TaskEvents
        The task's events.
    participants : list of str
        The task's participants, in join order.
    allocation : Allocation
        The round's checked allocations.
    now : int
        The chain's time (for ``claimable``).
    """
    number = int(info.round)
    opened, final = events.opened.get(number), events.finalized.get(number)
    claimed = events.claims.get(number, {})
    amounts = allocation.amounts
    return RoundPublic(
        round=number,
        opened_model_cid=opened.model_cid if opened else None,
        opened_model_hash=_hex(opened.model_hash) if opened else None,
        commit_deadline=info.commit_deadline,
        reveal_start=info.reveal_start,
        reveal_deadline=info.reveal_deadline,
        finalize_deadline=info.finalize_deadline,
        commitments=info.commitments,
        batches=[batch_public(b) for b in events.batches.get(number, [])],
        direct_commitments=[commitment_public(c) for c in events.commits.get(number, [])],
        finalized=info.finalized,
        model_cid=final.model_cid if final else None,
        model_hash=_hex(final.model_hash) if final else None,
        evidence_cid=final.evidence_cid if final else None,
        rewards_root=_hex(info.rewards_root) if info.finalized else None,
        budget_wei=info.budget if info.finalized else None,
        claimed_wei=info.claimed,
        accepted=info.accepted,
        flagged=list(final.flagged) if final else [],
        claimable_at=info.claimable_at or None,
        claimable=info.finalized and now >= info.claimable_at and not info.disputed,
        disputed=info.disputed,
        evidence_status=allocation.status,
        rewards=[
            RewardPublic(
                participant=p,
                allocated_wei=None if amounts is None else amounts.get(p, 0),
                claimed_wei=claimed.get(p, 0),
            )
            for p in participants
        ],
    )


def batch_public(event: CommitBatchPostedEvent) -> BatchPublic:
    """A ``CommitBatchPosted`` event as the API shows it."""
    return BatchPublic(
        root=_hex(event.root),
        count=event.count,
        batch_cid=event.batch_cid,
        block=event.meta.block,
        tx_hash=event.meta.tx_hash,
    )


def commitment_public(event: UpdateCommittedEvent) -> CommitmentPublic:
    """An ``UpdateCommitted`` event as the API shows it."""
    return CommitmentPublic(
        participant=event.participant,
        update_hash=_hex(event.update_hash),
        samples=event.samples,
        update_cid=event.update_cid,
        block=event.meta.block,
        tx_hash=event.meta.tx_hash,
    )


def reward_totals(
    rounds: list[RoundPublic], participants: list[str]
) -> tuple[dict[str, int] | None, dict[str, int]]:
    """``(allocated, claimed)`` per participant over ``rounds``.

    ``allocated`` is ``None`` when a finalised round's allocations could not be checked.
    """
    claimed = dict.fromkeys(participants, 0)
    allocated: dict[str, int] | None = dict.fromkeys(participants, 0)
    for r in rounds:
        for reward in r.rewards:
            claimed[reward.participant] += reward.claimed_wei
            if allocated is not None and r.finalized:
                if reward.allocated_wei is None:
                    allocated = None
                else:
                    allocated[reward.participant] += reward.allocated_wei
    return allocated, claimed


def stakes_of(fed_task: FedTaskClient, info: TaskInfo, participants: list[str]) -> dict[str, int]:
    """The stake each participant and the coordinator hold in the task now."""
    accounts = [*participants, info.coordinator]
    return {a: int(fed_task.stake_of(info.task_id, a)) for a in accounts}


def task_view(fed_task: FedTaskClient, store: ContentStore, task_id: int) -> TaskPublic:
    """Everything the chain records about ``task_id`` (raises ``TaskUnknown``).

    Parameters
    ----------
    fed_task : FedTaskClient
        Read-only client of the FedTask contract.
    store : ContentStore
        Where the rounds' evidence documents are.
    task_id : int
        The task.
    """
    info = fed_task.task(task_id)
    participants: list[str] = list(fed_task.participants(task_id))
    events = TaskEvents.read(fed_task, task_id)
    now = fed_task.backend.latest_timestamp()
    rounds = []
    for number in range(1, int(info.last_round) + 1):
        state = fed_task.round(task_id, number)
        final = events.finalized.get(number)
        allocation = read_allocation(store, task_id, state, final.evidence_cid if final else None)
        rounds.append(round_public(state, events, participants, allocation, now))
    allocated, claimed = reward_totals(rounds, participants)
    latest = events.finalized[max(events.finalized)] if events.finalized else None
    return task_public(
        info,
        fed_task,
        participants=participants,
        rounds=rounds,
        latest=latest,
        totals=(allocated, claimed),
    )


def task_public(
    info: TaskInfo,
    fed_task: FedTaskClient,
    *,
    participants: list[str],
    rounds: list[RoundPublic],
    latest: RoundFinalizedEvent | None,
    totals: tuple[dict[str, int] | None, dict[str, int]],
) -> TaskPublic:
    """Assemble the :class:`TaskPublic` of a task whose rounds are already read."""
    task_id = int(info.task_id)
    running = info.status in (TaskStatus.JOINING, TaskStatus.TRAINING)
    pending = info.pending_coordinator
    return TaskPublic(
        task_id=task_id,
        sponsor=info.sponsor,
        coordinator=info.coordinator,
        status=cast(TaskStatusName, info.status.name.lower()),
        final=fed_task.is_final(task_id),
        created_at=info.created_at,
        ended_at=info.ended_at or None,
        schedule=SchedulePublic.model_validate(vars(fed_task.schedule(task_id))),
        open_by=info.deadline if running and not info.round_open else None,
        total_rounds=info.total_rounds,
        current_round=int(info.last_round),
        round_open=info.round_open,
        max_participants=info.max_participants,
        quorum=info.quorum,
        permissioned=info.permissioned,
        slash_bps=info.slash_bps,
        pool_wei=info.pool,
        unallocated_wei=info.unallocated,
        slashed_in_wei=info.slashed_in,
        refunded_wei=info.refunded,
        participant_stake_wei=info.participant_stake,
        coordinator_stake_wei=info.coordinator_stake,
        coordinator_staked=info.coordinator_staked,
        stakes=stakes_of(fed_task, info, participants),
        open_disputes=info.open_disputes,
        pending_coordinator=pending,
        replacement_not_before=info.replacement_not_before if pending else None,
        spec_cid=info.spec_cid,
        spec_hash=_hex(info.spec_hash),
        model_cid=latest.model_cid if latest else None,
        model_hash=_hex(latest.model_hash) if latest else None,
        participants=participants,
        shares_bps=fed_task.shares(task_id),
        rounds=rounds,
        allocated=totals[0],
        claimed=totals[1],
    )


__all__ = [
    "Allocation",
    "EvidenceDocument",
    "EvidenceLeaf",
    "EvidenceRewards",
    "TaskEvents",
    "read_allocation",
    "read_evidence",
    "task_view",
]
