"""A FedTask v2 task as the API shows it: from the index (:func:`indexed_task_view`), per request.

``GET /tasks/{id}`` answers from the task's row in the index (:class:`~marketplace_api.indexer.
TaskSnapshot`, rebuilt by the indexer from FedTask's and ChallengeCourt's events), with no chain
read: the figures that depend on time (whether a round is claimable, whether the task is final,
by when the next round must open) are worked out against the chain time of the last block
indexed.

:func:`task_view` reads the same view straight from the chain (FedTask's views ``getTask``,
``getSchedule``, ``getRound``, ``getParticipants``, ``stakeOf``, ``shares``, ``isFinal``, and its
events). It is the reference the index is tested against, never called per request.

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
from typing import cast

from chain import FedTaskClient, TaskInfo, TaskStatus
from chain.fed_task import (
    CommitBatchPostedEvent,
    RoundFinalizedEvent,
    RoundInfo,
    RoundOpenedEvent,
    UpdateCommittedEvent,
)
from marketplace_api.indexer import (
    Allocation,
    EvidenceDocument,
    RoundRecord,
    TaskSnapshot,
    check_allocation,
    fetch_evidence,
)
from marketplace_api.schemas import (
    BatchPublic,
    CommitmentPublic,
    RewardPublic,
    RoundPublic,
    SchedulePublic,
    TaskPublic,
    TaskStatusName,
)
from storage import ContentStore

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


def read_evidence(store: ContentStore, evidence_cid: str) -> EvidenceDocument | None:
    """The reward leaves of the evidence stored under ``evidence_cid`` (``None`` if unreadable).

    Parameters
    ----------
    store : ContentStore
        The content store.
    evidence_cid : str
        ``RoundFinalized.evidenceCid``.
    """
    record = fetch_evidence(store, evidence_cid)
    if record.status != "ok" or record.body is None:
        return None
    body = record.body
    return EvidenceDocument.model_validate(
        {
            "kind": "fedmarket/round-evidence",
            "task_id": body["task_id"],
            "round": body["round"],
            "rewards": {"leaves": [{"account": a, "amount": w} for a, w in body["leaves"]]},
        }
    )


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
    record = fetch_evidence(store, evidence_cid)
    return check_allocation(
        task_id,
        int(info.round),
        record.body if record.status == "ok" else None,
        rewards_root=bytes(info.rewards_root),
        budget=int(info.budget),
    )


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


# ---- the view from the index -------------------------------------------------------------------
def indexed_round_public(task: TaskSnapshot, r: RoundRecord, now: int) -> RoundPublic:
    """One round of an indexed task as the API shows it.

    Parameters
    ----------
    task : TaskSnapshot
        The task's indexed state.
    r : RoundRecord
        The round.
    now : int
        The chain time of the last block indexed.
    """
    amounts = r.allocations
    return RoundPublic(
        round=r.round,
        opened_model_cid=r.opened_model_cid,
        opened_model_hash=r.opened_model_hash,
        commit_deadline=r.commit_deadline,
        reveal_start=r.reveal_start,
        reveal_deadline=r.reveal_deadline,
        finalize_deadline=r.finalize_deadline,
        commitments=task.commitments_of(r),
        batches=[BatchPublic.model_validate(b.model_dump()) for b in r.batches],
        direct_commitments=[
            CommitmentPublic.model_validate(c.model_dump()) for c in r.direct_commitments
        ],
        finalized=r.finalized,
        model_cid=r.model_cid,
        model_hash=r.model_hash,
        evidence_cid=r.evidence_cid,
        rewards_root=r.rewards_root if r.finalized else None,
        budget_wei=r.budget if r.finalized else None,
        claimed_wei=r.claimed,
        accepted=r.accepted,
        flagged=list(r.flagged),
        claimable_at=r.claimable_at or None,
        claimable=r.finalized and now >= r.claimable_at and not r.disputed,
        disputed=r.disputed,
        evidence_status=r.evidence_status,
        rewards=[
            RewardPublic(
                participant=p,
                allocated_wei=None if amounts is None else amounts.get(p, 0),
                claimed_wei=r.claims.get(p, 0),
            )
            for p in task.participants
        ],
    )


def is_final(task: TaskSnapshot, now: int) -> bool:
    """Whether the task completed and its last round's window passed undisputed (``isFinal``)."""
    if task.status != "completed" or len(task.rounds) < task.total_rounds:
        return False
    last = task.rounds[task.total_rounds - 1]
    return now >= last.claimable_at and not last.disputed


def indexed_task_view(task: TaskSnapshot, now: int) -> TaskPublic:
    """An indexed task as the API shows it (the same view :func:`task_view` reads from the chain).

    Parameters
    ----------
    task : TaskSnapshot
        The task's row in the index (its ``detail``).
    now : int
        The chain time of the last block indexed (the index's "now").
    """
    rounds = [indexed_round_public(task, r, now) for r in task.rounds if r.round <= task.last_round]
    allocated, claimed = reward_totals(rounds, task.participants)
    running = task.status in ("joining", "training")
    pending = task.pending_coordinator
    return TaskPublic(
        task_id=task.task_id,
        sponsor=task.sponsor,
        coordinator=task.coordinator,
        status=task.status,
        final=is_final(task, now),
        created_at=task.created_at,
        ended_at=task.ended_at or None,
        schedule=SchedulePublic.model_validate(task.schedule),
        open_by=task.deadline if running and not task.round_open else None,
        total_rounds=task.total_rounds,
        current_round=task.last_round,
        round_open=task.round_open,
        max_participants=task.max_participants,
        quorum=task.quorum,
        permissioned=task.permissioned,
        slash_bps=task.slash_bps,
        pool_wei=task.pool,
        unallocated_wei=task.unallocated,
        slashed_in_wei=task.slashed_in,
        refunded_wei=task.refunded,
        participant_stake_wei=task.participant_stake,
        coordinator_stake_wei=task.coordinator_stake,
        coordinator_staked=task.coordinator_staked,
        stakes={a: task.stakes.get(a, 0) for a in [*task.participants, task.coordinator]},
        open_disputes=task.open_disputes,
        pending_coordinator=pending,
        replacement_not_before=task.replacement_not_before if pending else None,
        spec_cid=task.spec_cid,
        spec_hash=task.spec_hash,
        model_cid=task.latest_model_cid,
        model_hash=task.latest_model_hash,
        participants=list(task.participants),
        shares_bps=list(task.shares),
        rounds=rounds,
        allocated=allocated,
        claimed=claimed,
    )


__all__ = [
    "Allocation",
    "EvidenceDocument",
    "TaskEvents",
    "indexed_round_public",
    "indexed_task_view",
    "is_final",
    "read_allocation",
    "read_evidence",
    "task_view",
]
