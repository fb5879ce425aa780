"""A FedTask task rebuilt from its events: the state ``getTask``, ``getRound`` and ``stakeOf`` show.

:func:`reduce_task` replays a task's events in chain order (FedTask's, and ChallengeCourt's about
the task) the way FedTask's code changes its storage, so the index answers what the views would
without reading the chain. The immutable terms ``TaskCreated`` does not carry (quorum, stakes,
slash rate, permissioned, schedule) come with it in ``extra``, read once when it was indexed. A
round's allocations come from its evidence document, kept only where the reward leaves rebuild
the round's current on-chain root and budget
(:func:`~marketplace_api.indexer._documents.check_allocation`).

What depends on the time (whether a round is claimable, whether the task is final, by when the
next round must open) is left to the reader, who knows the chain time of the index
(:class:`TaskSnapshot` keeps the timestamps it needs).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from chain.commitments import decode_shares
from marketplace_api.indexer._documents import DocumentRecord, EvidenceStatus, check_allocation

ZERO_HASH = "0x" + "00" * 32
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
BPS = 10_000

TaskStatusName = Literal["none", "joining", "training", "completed", "cancelled", "aborted"]
ChallengeStatusName = Literal["open", "upheld", "rejected", "dismissed"]
_CHALLENGE_STATUSES: dict[int, ChallengeStatusName] = {
    1: "open",
    2: "upheld",
    3: "rejected",
    4: "dismissed",
}


@dataclass(frozen=True)
class LoggedEvent:
    """An indexed event with the time of its block (what the reducers replay).

    Attributes
    ----------
    contract : str
        ``registry``, ``market``, ``fed_task`` or ``court``.
    name : str
        The event's name.
    block, log_index : int
        Where it was emitted (chain order).
    tx_hash : str
        Its transaction.
    timestamp : int
        Its block's time.
    args : mapping
        Its arguments by ABI name.
    extra : mapping or None
        What the indexer read besides the log.
    """

    contract: str
    name: str
    block: int
    log_index: int
    tx_hash: str
    timestamp: int
    args: Mapping[str, Any]
    extra: Mapping[str, Any] | None = None


class BatchRecord(BaseModel):
    """A ``CommitBatchPosted``."""

    root: str
    count: int
    batch_cid: str
    block: int
    tx_hash: str


class CommitRecord(BaseModel):
    """A direct ``UpdateCommitted``."""

    participant: str
    update_hash: str
    samples: int
    update_cid: str
    block: int
    tx_hash: str


class RoundRecord(BaseModel):
    """A round as FedTask stores it, with its history (batches, commitments, claims)."""

    round: int
    opened_model_cid: str | None = None
    opened_model_hash: str | None = None
    commit_deadline: int = 0
    reveal_start: int = 0
    reveal_deadline: int = 0
    finalize_deadline: int = 0
    batch_count: int = 0
    direct_count: int = 0
    commitments: int = 0
    batches: list[BatchRecord] = Field(default_factory=list)
    direct_commitments: list[CommitRecord] = Field(default_factory=list)
    finalized: bool = False
    finalizer: str | None = None
    model_cid: str | None = None
    model_hash: str | None = None
    evidence_cid: str | None = None
    rewards_root: str = ZERO_HASH
    budget: int = 0
    claimed: int = 0
    accepted: int = 0
    flagged: list[str] = Field(default_factory=list)
    flags_cleared: bool = False
    claimable_at: int = 0
    disputed: bool = False
    claims: dict[str, int] = Field(default_factory=dict)
    evidence_status: EvidenceStatus = "not_finalized"
    allocations: dict[str, int] | None = None


class ChallengeRecord(BaseModel):
    """A ChallengeCourt challenge of one of the task's rounds, and its verdict."""

    challenge_id: int
    round: int
    challenger: str
    accused: str | None
    bond: int
    evidence_cid: str
    corrected_root: str
    corrected_shares: str
    voting_ends: int
    votes: int = 0
    status: ChallengeStatusName = "open"
    consensus_bps: int | None = None
    challenger_paid: int = 0
    validators_paid: int = 0
    block: int
    tx_hash: str


class TaskSnapshot(BaseModel):
    """Everything the index knows of a task (stored as the ``detail`` of its row)."""

    task_id: int
    sponsor: str
    coordinator: str
    status: TaskStatusName = "joining"
    created_at: int
    ended_at: int | None = None
    total_rounds: int
    last_round: int = 0
    round_open: bool = False
    max_participants: int
    quorum: int
    slash_bps: int
    permissioned: bool
    coordinator_staked: bool
    open_disputes: int = 0
    deadline: int
    pool: int
    unallocated: int
    slashed_in: int = 0
    refunded: int = 0
    participant_stake: int
    coordinator_stake: int
    spec_cid: str
    spec_hash: str
    model_hash: str = ZERO_HASH
    latest_model_cid: str | None = None
    latest_model_hash: str | None = None
    pending_coordinator: str | None = None
    replacement_not_before: int = 0
    schedule: dict[str, int]
    participants: list[str] = Field(default_factory=list)
    former_coordinators: list[str] = Field(default_factory=list)
    stakes: dict[str, int] = Field(default_factory=dict)
    shares: list[int] = Field(default_factory=list)
    rounds: list[RoundRecord] = Field(default_factory=list)
    challenges: list[ChallengeRecord] = Field(default_factory=list)

    def round_record(self, number: int) -> RoundRecord:
        """Round ``number``'s record (created on first use, as FedTask's storage is zero)."""
        while len(self.rounds) < number:
            self.rounds.append(RoundRecord(round=len(self.rounds) + 1))
        return self.rounds[number - 1]

    def commitments_of(self, record: RoundRecord) -> int:
        """Commitments counted for the quorum (``getRound().commitments``)."""
        if record.round == self.last_round and self.round_open:
            return min(record.batch_count + record.direct_count, len(self.participants))
        return record.commitments


@dataclass(frozen=True)
class TaskAccountRow:
    """One account's part in a task (a row of ``task_accounts``)."""

    account: str
    role: str
    join_index: int | None
    stake: int
    allocated: int | None
    claimed: int
    share_bps: int | None


@dataclass(frozen=True)
class TaskProjection:
    """A task rebuilt from its events.

    Attributes
    ----------
    snapshot : TaskSnapshot
        Its state.
    block, tx_hash : int and str
        Where it was created.
    updated_block : int
        The block of its latest event.
    accounts : list of TaskAccountRow
        Participants, coordinator and former coordinators.
    """

    snapshot: TaskSnapshot
    block: int
    tx_hash: str
    updated_block: int
    accounts: list[TaskAccountRow]


def _created(event: LoggedEvent) -> TaskSnapshot:
    a, config = event.args, dict(event.extra or {})
    schedule: dict[str, int] = {k: int(v) for k, v in dict(config.get("schedule", {})).items()}
    return TaskSnapshot(
        task_id=int(a["taskId"]),
        sponsor=a["sponsor"],
        coordinator=a["coordinator"],
        created_at=event.timestamp,
        total_rounds=int(a["totalRounds"]),
        max_participants=int(a["maxParticipants"]),
        quorum=int(config.get("quorum", 1)),
        slash_bps=int(config.get("slash_bps", 0)),
        permissioned=bool(config.get("permissioned", False)),
        coordinator_staked=int(config.get("coordinator_stake", 0)) == 0,
        deadline=event.timestamp + schedule.get("join_period", 0),
        pool=int(a["pool"]),
        unallocated=int(a["pool"]),
        participant_stake=int(config.get("participant_stake", 0)),
        coordinator_stake=int(config.get("coordinator_stake", 0)),
        spec_cid=a["specCid"],
        spec_hash=a["specHash"],
        schedule=schedule,
    )


class _Reducer:
    """Applies one task's events to its snapshot, as FedTask's functions change its storage."""

    def __init__(self, snapshot: TaskSnapshot) -> None:
        self.t = snapshot
        self.handlers: dict[str, Callable[[LoggedEvent], None]] = {
            "TaskJoined": self.joined,
            "CoordinatorStaked": self.coordinator_staked,
            "TaskCancelled": self.cancelled,
            "RoundOpened": self.round_opened,
            "CommitBatchPosted": self.batch_posted,
            "UpdateCommitted": self.update_committed,
            "RoundFinalized": self.round_finalized,
            "TaskCompleted": self.completed,
            "RewardsClaimed": self.claimed,
            "TaskAborted": self.aborted,
            "RemainderWithdrawn": self.remainder_withdrawn,
            "CoordinatorProposed": self.proposed,
            "CoordinatorProposalCancelled": self.proposal_cancelled,
            "CoordinatorReplaced": self.replaced,
            "StakeWithdrawn": self.stake_withdrawn,
            "ParticipantSlashed": self.participant_slashed,
            "DisputeOpened": self.dispute_opened,
            "DisputeResolved": self.dispute_resolved,
            "ChallengeOpened": self.challenge_opened,
            "VoteCast": self.vote_cast,
            "ChallengeResolved": self.challenge_resolved,
        }

    def apply(self, event: LoggedEvent) -> None:
        handler = self.handlers.get(event.name)
        if handler is not None:
            handler(event)

    def _stake(self, account: str, delta: int) -> None:
        self.t.stakes[account] = self.t.stakes.get(account, 0) + delta

    def joined(self, e: LoggedEvent) -> None:
        self.t.participants.append(e.args["participant"])
        if int(e.args["stake"]):
            self.t.stakes[e.args["participant"]] = int(e.args["stake"])

    def coordinator_staked(self, e: LoggedEvent) -> None:
        self._stake(e.args["coordinator"], int(e.args["stake"]))
        self.t.coordinator_staked = True

    def cancelled(self, e: LoggedEvent) -> None:
        self.t.refunded += int(e.args["refunded"])
        self.t.unallocated = 0
        self.t.status, self.t.ended_at = "cancelled", e.timestamp

    def round_opened(self, e: LoggedEvent) -> None:
        a, r = e.args, self.t.round_record(int(e.args["round"]))
        r.opened_model_cid, r.opened_model_hash = a["modelCid"], a["modelHash"]
        r.commit_deadline, r.reveal_start = int(a["commitDeadline"]), int(a["revealStart"])
        r.reveal_deadline, r.finalize_deadline = (
            int(a["revealDeadline"]),
            int(a["finalizeDeadline"]),
        )
        self.t.last_round, self.t.round_open = r.round, True
        if self.t.status == "joining":
            self.t.status, self.t.model_hash = "training", a["modelHash"]

    def batch_posted(self, e: LoggedEvent) -> None:
        a, r = e.args, self.t.round_record(int(e.args["round"]))
        r.batches.append(
            BatchRecord(
                root=a["root"],
                count=int(a["count"]),
                batch_cid=a["batchCid"],
                block=e.block,
                tx_hash=e.tx_hash,
            )
        )
        r.batch_count = int(a["count"])

    def update_committed(self, e: LoggedEvent) -> None:
        a, r = e.args, self.t.round_record(int(e.args["round"]))
        r.direct_commitments.append(
            CommitRecord(
                participant=a["participant"],
                update_hash=a["updateHash"],
                samples=int(a["samples"]),
                update_cid=a["updateCid"],
                block=e.block,
                tx_hash=e.tx_hash,
            )
        )
        r.direct_count += 1

    def round_finalized(self, e: LoggedEvent) -> None:
        a, r = e.args, self.t.round_record(int(e.args["round"]))
        r.commitments = self.t.commitments_of(r)
        r.finalized, r.finalizer = True, self.t.coordinator
        r.model_cid, r.model_hash, r.evidence_cid = a["modelCid"], a["modelHash"], a["evidenceCid"]
        r.rewards_root, r.budget, r.accepted = (
            a["rewardsRoot"],
            int(a["budget"]),
            int(a["accepted"]),
        )
        r.flagged, r.claimable_at = list(a["flagged"]), int(a["claimableAt"])
        self.t.unallocated -= r.budget
        self.t.model_hash, self.t.round_open = a["modelHash"], False
        self.t.latest_model_cid, self.t.latest_model_hash = a["modelCid"], a["modelHash"]
        self.t.deadline = e.timestamp + self.t.schedule.get("open_period", 0)

    def completed(self, e: LoggedEvent) -> None:
        self.t.shares = decode_shares(bytes.fromhex(str(e.args["shares"])[2:]))
        self.t.status, self.t.ended_at = "completed", e.timestamp

    def claimed(self, e: LoggedEvent) -> None:
        a, r = e.args, self.t.round_record(int(e.args["round"]))
        r.claimed += int(a["amount"])
        r.claims[a["account"]] = r.claims.get(a["account"], 0) + int(a["amount"])

    def aborted(self, e: LoggedEvent) -> None:
        slashed = int(e.args["coordinatorSlashed"])
        self._stake(self.t.coordinator, -slashed)
        self.t.unallocated, self.t.slashed_in = 0, self.t.slashed_in + slashed
        self.t.refunded += int(e.args["refunded"])
        self.t.status, self.t.ended_at, self.t.round_open = "aborted", e.timestamp, False

    def remainder_withdrawn(self, e: LoggedEvent) -> None:
        self.t.unallocated -= int(e.args["amount"])
        self.t.refunded += int(e.args["amount"])

    def proposed(self, e: LoggedEvent) -> None:
        self.t.pending_coordinator = e.args["proposed"]
        self.t.replacement_not_before = int(e.args["notBefore"])

    def proposal_cancelled(self, e: LoggedEvent) -> None:
        self.t.pending_coordinator, self.t.replacement_not_before = None, 0

    def replaced(self, e: LoggedEvent) -> None:
        t, previous = self.t, e.args["previous"]
        if previous not in t.former_coordinators:
            t.former_coordinators.append(previous)
        t.coordinator, t.pending_coordinator, t.replacement_not_before = (
            e.args["coordinator"],
            None,
            0,
        )
        self._stake(t.coordinator, int(e.args["stake"]))
        if t.round_open:
            r = t.round_record(t.last_round)
            r.finalize_deadline = max(
                r.finalize_deadline, e.timestamp + t.schedule.get("finalize_period", 0)
            )
        else:
            t.deadline = max(t.deadline, e.timestamp + t.schedule.get("open_period", 0))
        t.coordinator_staked = True

    def stake_withdrawn(self, e: LoggedEvent) -> None:
        self.t.stakes[e.args["account"]] = 0

    def participant_slashed(self, e: LoggedEvent) -> None:
        amount = int(e.args["amount"])
        self._stake(e.args["account"], -amount)
        self.t.unallocated += amount
        self.t.slashed_in += amount

    def dispute_opened(self, e: LoggedEvent) -> None:
        self.t.round_record(int(e.args["round"])).disputed = True
        self.t.open_disputes += 1

    def dispute_resolved(self, e: LoggedEvent) -> None:
        r = self.t.round_record(int(e.args["round"]))
        r.disputed = False
        self.t.open_disputes -= 1
        if not e.args["upheld"]:
            return
        challenge = self._challenge_of(r.round)
        if challenge is not None and challenge.corrected_shares not in ("0x", ""):
            self.t.shares = decode_shares(bytes.fromhex(challenge.corrected_shares[2:]))
        r.rewards_root = e.args["rewardsRoot"]
        if r.rewards_root == ZERO_HASH:  # nothing claimable: what was not paid goes back
            self.t.unallocated += r.budget - r.claimed
            r.budget = r.claimed
        r.flags_cleared = True
        if r.finalizer is not None:
            self._stake(r.finalizer, -int(e.args["coordinatorSlashed"]))

    def _challenge_of(self, round: int) -> ChallengeRecord | None:
        found = [c for c in self.t.challenges if c.round == round and c.status == "open"]
        return found[-1] if found else None

    def challenge_opened(self, e: LoggedEvent) -> None:
        a = e.args
        self.t.challenges.append(
            ChallengeRecord(
                challenge_id=int(a["challengeId"]),
                round=int(a["round"]),
                challenger=a["challenger"],
                accused=None if a["accused"] == ZERO_ADDRESS else a["accused"],
                bond=int(a["bond"]),
                evidence_cid=a["evidenceCid"],
                corrected_root=a["correctedRoot"],
                corrected_shares=a["correctedShares"],
                voting_ends=int(a["votingEnds"]),
                block=e.block,
                tx_hash=e.tx_hash,
            )
        )

    def _challenge(self, challenge_id: int) -> ChallengeRecord | None:
        found = [c for c in self.t.challenges if c.challenge_id == challenge_id]
        return found[0] if found else None

    def vote_cast(self, e: LoggedEvent) -> None:
        challenge = self._challenge(int(e.args["challengeId"]))
        if challenge is not None:
            challenge.votes += 1

    def challenge_resolved(self, e: LoggedEvent) -> None:
        a, challenge = e.args, self._challenge(int(e.args["challengeId"]))
        if challenge is None:
            return
        challenge.status = _CHALLENGE_STATUSES.get(int(a["status"]), "open")
        challenge.consensus_bps = int(a["consensusBps"])
        challenge.challenger_paid = int(a["challengerPaid"])
        challenge.validators_paid = int(a["validatorsPaid"])


def _allocate(snapshot: TaskSnapshot, evidence: Mapping[str, DocumentRecord]) -> None:
    """Check each finalised round's evidence against its current root and budget."""
    for r in snapshot.rounds:
        if not r.finalized or r.evidence_cid is None:
            r.evidence_status, r.allocations = "not_finalized", None
            continue
        record = evidence.get(r.evidence_cid)
        body = record.body if record is not None and record.status == "ok" else None
        allocation = check_allocation(
            snapshot.task_id,
            r.round,
            body,
            rewards_root=bytes.fromhex(r.rewards_root[2:]),
            budget=r.budget,
        )
        r.evidence_status, r.allocations = allocation.status, allocation.amounts


def _accounts(t: TaskSnapshot) -> list[TaskAccountRow]:
    """The task's participants, coordinator and former coordinators, with their figures."""
    rows = []
    for index, account in enumerate(t.participants):
        allocated: int | None = 0
        for r in t.rounds:
            if r.finalized and allocated is not None:
                allocated = (
                    None if r.allocations is None else allocated + r.allocations.get(account, 0)
                )
        rows.append(
            TaskAccountRow(
                account=account,
                role="participant",
                join_index=index,
                stake=t.stakes.get(account, 0),
                allocated=allocated,
                claimed=sum(r.claims.get(account, 0) for r in t.rounds),
                share_bps=t.shares[index] if index < len(t.shares) else None,
            )
        )
    others = [(t.coordinator, "coordinator")]
    others += [(a, "former_coordinator") for a in t.former_coordinators if a != t.coordinator]
    for account, role in others:
        rows.append(TaskAccountRow(account, role, None, t.stakes.get(account, 0), None, 0, None))
    return rows


def reduce_task(
    events: Sequence[LoggedEvent], evidence: Mapping[str, DocumentRecord]
) -> TaskProjection | None:
    """Replay a task's events (chain order); ``None`` when it has no ``TaskCreated``.

    Parameters
    ----------
    events : sequence of LoggedEvent
        The task's FedTask events and the court's events about it, in chain order.
    evidence : mapping of str to DocumentRecord
        The rounds' evidence documents by CID (a CID absent counts as unreadable).
    """
    created = next((e for e in events if e.name == "TaskCreated"), None)
    if created is None:
        return None
    reducer = _Reducer(_created(created))
    for event in events:
        if (event.block, event.log_index) > (created.block, created.log_index):
            reducer.apply(event)
    snapshot = reducer.t
    _allocate(snapshot, evidence)
    return TaskProjection(
        snapshot=snapshot,
        block=created.block,
        tx_hash=created.tx_hash,
        updated_block=max(e.block for e in events),
        accounts=_accounts(snapshot),
    )


__all__ = [
    "BatchRecord",
    "ChallengeRecord",
    "CommitRecord",
    "LoggedEvent",
    "RoundRecord",
    "TaskAccountRow",
    "TaskProjection",
    "TaskSnapshot",
    "reduce_task",
]
