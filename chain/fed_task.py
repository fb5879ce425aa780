"""Typed client of FedTask (protocol v2): tasks, stakes, rounds, commitments, Merkle claims.

One contract holds every task. A sponsor escrows a pool (:meth:`FedTaskClient.create_task`);
participants join with a stake, through the allowlist or the sponsor's EIP-712 invitation
(:mod:`chain.commitments`); the coordinator stakes, opens rounds, anchors the round's signed
commitments in one Merkle root (:meth:`FedTaskClient.post_batch`) while left-out participants
commit directly, and finalises after the reveal deadline with a rewards root
(:class:`Finalization`); participants claim with Merkle proofs once the challenge window passed.
Missed deadlines make a task abortable; the sponsor can replace the coordinator; flagged
participants are slashed after the window; ChallengeCourt (:mod:`chain.court`) disputes rounds.

Every struct of ``IFedTask`` has a frozen dataclass here (:class:`Schedule`, :class:`TaskConfig`,
:class:`Finalization`, :class:`TaskInfo`, :class:`RoundInfo`) and every event a record
(:class:`TaskCreatedEvent` ... :class:`DisputeResolvedEvent`, :data:`FED_TASK_EVENTS`) read with
:meth:`FedTaskClient.events`; roles and pauses come from ``PausableClient``. A revert surfaces
as :class:`~chain.errors.ChainRevertError` with the custom error's name and arguments
(``TaskTooEarly(taskId=1, round=1, notBefore=...)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import IntEnum
from typing import Any

from chain._access import EventMeta
from chain._records import RecordsClient, from_struct
from chain.commitments import (
    Claim,
    CommitmentBatch,
    FedTaskDomain,
    SignedInvitation,
    UpdateCommitment,
    decode_shares,
)
from chain.signer import TxResult
from kernel.types import Address, Cid, Hash32, Round, TaskId, Wei

ZERO_ADDRESS = Address("0x0000000000000000000000000000000000000000")


class TaskStatus(IntEnum):
    """Lifecycle of a task (mirrors ``IFedTask.TaskStatus``).

    Joining -> Training -> Completed; Joining -> Cancelled; Joining/Training -> Aborted.
    """

    NONE = 0
    JOINING = 1
    TRAINING = 2
    COMPLETED = 3
    CANCELLED = 4
    ABORTED = 5

    @property
    def ended(self) -> bool:
        """Whether the task is over (completed, cancelled or aborted)."""
        return self in (TaskStatus.COMPLETED, TaskStatus.CANCELLED, TaskStatus.ABORTED)


# ---------------------------------------------------------------------------------- structs


@dataclass(frozen=True)
class Schedule:
    """A task's timetable in seconds (``IFedTask.Schedule``); every period > 0 but inclusion.

    Attributes
    ----------
    join_period : int
        Round 1 must open before ``created_at + join_period``.
    commit_period : int
        Round opening -> ``commit_deadline`` (the batch must be posted before it).
    inclusion_period : int
        ``commit_deadline`` -> ``reveal_start``: left-out participants commit directly (may be 0).
    reveal_period : int
        ``reveal_start`` -> ``reveal_deadline``: update bytes are published off-chain.
    finalize_period : int
        ``reveal_deadline`` -> ``finalize_deadline``.
    challenge_period : int
        Finalisation -> claimable (the challenge window).
    open_period : int
        Finalisation of round ``r`` -> round ``r + 1`` must open before then.
    abort_grace : int
        After a missed deadline the sponsor may abort at once, anyone after this much more.
    stake_cooldown : int
        Task end -> stakes withdrawable.
    """

    join_period: int
    commit_period: int
    inclusion_period: int
    reveal_period: int
    finalize_period: int
    challenge_period: int
    open_period: int
    abort_grace: int
    stake_cooldown: int

    @classmethod
    def uniform(cls, period: int, *, inclusion_period: int | None = None) -> Schedule:
        """Every period ``period`` seconds (tests, demos).

        Parameters
        ----------
        period : int
            Seconds of each period (> 0).
        inclusion_period : int or None, default None
            The inclusion period, when it should differ (0 allowed).
        """
        inclusion = period if inclusion_period is None else inclusion_period
        return cls(period, period, inclusion, period, period, period, period, period, period)

    def to_abi(self) -> tuple[int, ...]:
        """The struct as the contract takes it."""
        return (
            self.join_period,
            self.commit_period,
            self.inclusion_period,
            self.reveal_period,
            self.finalize_period,
            self.challenge_period,
            self.open_period,
            self.abort_grace,
            self.stake_cooldown,
        )


@dataclass(frozen=True)
class TaskConfig:
    """What a sponsor asks for when it creates a task (``IFedTask.TaskConfig``).

    Attributes
    ----------
    spec_cid : str
        Content identifier of the task specification.
    spec_hash : bytes
        Hash of the task specification (non-zero).
    coordinator : str
        Account that opens, anchors and finalises the rounds (not the sponsor).
    pool : int
        Token wei escrowed from the sponsor (approve FedTask for it first).
    total_rounds : int
        Number of rounds, 1 to 1,000.
    max_participants : int
        Participant limit, 1 to 1,024.
    schedule : Schedule
        The timetable.
    quorum : int, default 1
        Commitments (and accepted updates) a round needs to pay a budget.
    participant_stake : int, default 0
        Stake each participant locks to join.
    coordinator_stake : int, default 0
        Stake the coordinator locks before round 1.
    slash_bps : int, default 0
        Share of a flagged or stalling party's stake that is slashed, 0 to 10,000.
    permissioned : bool, default False
        Join only if allowlisted or invited by the sponsor.
    """

    spec_cid: str
    spec_hash: bytes
    coordinator: str
    pool: int
    total_rounds: int
    max_participants: int
    schedule: Schedule
    quorum: int = 1
    participant_stake: int = 0
    coordinator_stake: int = 0
    slash_bps: int = 0
    permissioned: bool = False

    def to_abi(self) -> tuple[object, ...]:
        """The struct as the contract takes it."""
        return (
            self.spec_cid,
            self.spec_hash,
            self.coordinator,
            self.pool,
            self.total_rounds,
            self.max_participants,
            self.quorum,
            self.participant_stake,
            self.coordinator_stake,
            self.slash_bps,
            self.permissioned,
            self.schedule.to_abi(),
        )


@dataclass(frozen=True)
class Finalization:
    """What the coordinator posts to finalise a round (``IFedTask.Finalization``).

    Attributes
    ----------
    new_model_cid : str
        Content identifier of the aggregated model.
    new_model_hash : bytes
        Hash of the aggregated model (non-zero); the next round opens from it.
    evidence_cid : str
        The round's evidence document in the content store.
    rewards_root : bytes
        Merkle root of the rewards (``RewardTree.root``); zero iff ``budget`` is zero.
    budget : int
        Token wei moved to the round (``RewardTree.budget``), at most ``round_cap``.
    accepted : int
        Updates accepted: at least the quorum for a non-zero budget, at most the commitments.
    flagged : tuple of str, default ()
        Participants flagged malicious with evidence (slashed after the window).
    shares : bytes, default b""
        Last round only: ``encode_shares(bps)`` (one uint16 per participant in join order).
    """

    new_model_cid: str
    new_model_hash: bytes
    evidence_cid: str
    rewards_root: bytes
    budget: int
    accepted: int
    flagged: tuple[str, ...] = ()
    shares: bytes = b""

    def to_abi(self) -> tuple[object, ...]:
        """The struct as the contract takes it."""
        return (
            self.new_model_cid,
            self.new_model_hash,
            self.evidence_cid,
            self.rewards_root,
            self.budget,
            self.accepted,
            list(self.flagged),
            self.shares,
        )


@dataclass(frozen=True)
class TaskInfo:
    """A task as ``getTask`` returns it (``IFedTask.TaskInfo``), with its id.

    Attributes
    ----------
    task_id : TaskId
        The task's id.
    sponsor, coordinator : Address
        Who funded it; who runs its rounds now.
    status : TaskStatus
        Lifecycle status.
    created_at, ended_at : int
        Creation time; completion, cancellation or abort time (0 while it runs).
    total_rounds, last_round : int
        Number of rounds; the last opened round (0 before the first).
    round_open : bool
        Whether ``last_round`` is open (not finalised).
    max_participants, participant_count, quorum : int
        Participant limit; participants joined; commitments a round needs to pay a budget.
    slash_bps : int
        Share of a stake slashed, in basis points.
    permissioned, coordinator_staked : bool
        Joining needs the allowlist or an invitation; the coordinator has staked.
    open_disputes : int
        Rounds of the task disputed in ChallengeCourt now.
    deadline : int
        While no round is open: round ``last_round + 1`` must open before this time.
    pool, unallocated, slashed_in, refunded : Wei
        Escrowed at creation; not allocated to any round; slashes paid into the pool; paid back.
    participant_stake, coordinator_stake : Wei
        Stakes each participant and the coordinator lock.
    spec_hash, model_hash : Hash32
        The specification's hash; the open round's model or the latest finalised one.
    pending_coordinator : Address or None
        Proposed replacement coordinator (``None`` when there is none).
    replacement_not_before : int
        When ``pending_coordinator`` may accept.
    spec_cid : Cid
        Content identifier of the task specification.
    """

    task_id: TaskId
    sponsor: Address
    coordinator: Address
    status: TaskStatus
    created_at: int
    ended_at: int
    total_rounds: int
    last_round: Round
    round_open: bool
    max_participants: int
    participant_count: int
    quorum: int
    slash_bps: int
    permissioned: bool
    coordinator_staked: bool
    open_disputes: int
    deadline: int
    pool: Wei
    unallocated: Wei
    slashed_in: Wei
    refunded: Wei
    participant_stake: Wei
    coordinator_stake: Wei
    spec_hash: Hash32
    model_hash: Hash32
    pending_coordinator: Address | None
    replacement_not_before: int
    spec_cid: Cid


@dataclass(frozen=True)
class RoundInfo:
    """A round as ``getRound`` returns it (``IFedTask.RoundInfo``), with its task and number.

    Attributes
    ----------
    task_id : TaskId
        The task.
    round : Round
        The round.
    commit_deadline, reveal_start, reveal_deadline, finalize_deadline : int
        The batch must be posted before ``commit_deadline``; direct commitments close at
        ``reveal_start``; the round can be finalised from ``reveal_deadline`` and before
        ``finalize_deadline`` (all 0 for a round not opened).
    commit_root : Hash32
        The batch root while this is the latest round (older roots: ``CommitBatchPosted``).
    commitments, accepted : int
        Commitments counted for the quorum; updates the coordinator accepted.
    claimable_at : int
        End of the challenge window (0 while not finalised).
    finalizer : Address
        The coordinator that finalised the round.
    rewards_root : Hash32
        Merkle root of the round's rewards.
    budget, claimed : Wei
        Allocated to the round; claimed from it.
    disputed, flags_cleared : bool
        A dispute is open; an upheld dispute cancelled the round's flags.
    flag_count : int
        Participants flagged in the round.
    """

    task_id: TaskId
    round: Round
    commit_deadline: int
    reveal_start: int
    reveal_deadline: int
    finalize_deadline: int
    commit_root: Hash32
    commitments: int
    accepted: int
    claimable_at: int
    finalizer: Address
    rewards_root: Hash32
    budget: Wei
    claimed: Wei
    disputed: bool
    flags_cleared: bool
    flag_count: int

    @property
    def opened(self) -> bool:
        """Whether the round was opened."""
        return self.commit_deadline != 0

    @property
    def finalized(self) -> bool:
        """Whether the round was finalised."""
        return self.claimable_at != 0


# ---------------------------------------------------------------------------------- events


@dataclass(frozen=True)
class TaskCreatedEvent:
    """A task was created and its pool escrowed (``pool`` as received)."""

    task_id: TaskId
    sponsor: Address
    coordinator: Address
    pool: Wei
    total_rounds: int
    max_participants: int
    spec_cid: Cid
    spec_hash: Hash32
    meta: EventMeta


@dataclass(frozen=True)
class AllowlistUpdatedEvent:
    """The sponsor allowed (or disallowed) ``account`` to join its permissioned task."""

    task_id: TaskId
    account: Address
    allowed: bool
    meta: EventMeta


@dataclass(frozen=True)
class TaskJoinedEvent:
    """``participant`` joined at ``index`` (its position in the shares), locking ``stake``."""

    task_id: TaskId
    participant: Address
    index: int
    stake: Wei
    meta: EventMeta


@dataclass(frozen=True)
class CoordinatorStakedEvent:
    """The coordinator locked its stake."""

    task_id: TaskId
    coordinator: Address
    stake: Wei
    meta: EventMeta


@dataclass(frozen=True)
class TaskCancelledEvent:
    """The sponsor cancelled a task in Joining and got ``refunded`` back."""

    task_id: TaskId
    refunded: Wei
    meta: EventMeta


@dataclass(frozen=True)
class RoundOpenedEvent:
    """The coordinator opened a round from a model, with the round's deadlines."""

    task_id: TaskId
    round: Round
    model_cid: Cid
    model_hash: Hash32
    commit_deadline: int
    reveal_start: int
    reveal_deadline: int
    finalize_deadline: int
    meta: EventMeta


@dataclass(frozen=True)
class CommitBatchPostedEvent:
    """The coordinator anchored the round's batch: ``count`` leaves under ``root``."""

    task_id: TaskId
    round: Round
    root: Hash32
    count: int
    batch_cid: Cid
    meta: EventMeta


@dataclass(frozen=True)
class UpdateCommittedEvent:
    """A participant committed its update directly (superseding its batched leaf, if any)."""

    task_id: TaskId
    round: Round
    participant: Address
    update_hash: Hash32
    samples: int
    update_cid: Cid
    meta: EventMeta


@dataclass(frozen=True)
class RoundFinalizedEvent:
    """The coordinator finalised a round: new model, evidence, rewards root, budget, flags."""

    task_id: TaskId
    round: Round
    model_cid: Cid
    model_hash: Hash32
    evidence_cid: Cid
    rewards_root: Hash32
    budget: Wei
    accepted: int
    flagged: tuple[Address, ...]
    claimable_at: int
    meta: EventMeta


@dataclass(frozen=True)
class TaskCompletedEvent:
    """The last round was finalised; ``shares`` is the packed ``bytes`` (see :attr:`bps`)."""

    task_id: TaskId
    final_model_cid: Cid
    final_model_hash: Hash32
    shares: bytes
    meta: EventMeta

    @property
    def bps(self) -> list[int]:
        """The shares in basis points, in join order."""
        return decode_shares(self.shares)


@dataclass(frozen=True)
class RewardsClaimedEvent:
    """``account`` claimed ``amount`` from a round."""

    task_id: TaskId
    round: Round
    account: Address
    amount: Wei
    meta: EventMeta


@dataclass(frozen=True)
class TaskAbortedEvent:
    """The task was aborted; the sponsor got ``refunded`` (``coordinator_slashed`` of it)."""

    task_id: TaskId
    caller: Address
    refunded: Wei
    coordinator_slashed: Wei
    meta: EventMeta


@dataclass(frozen=True)
class RemainderWithdrawnEvent:
    """The sponsor of an ended task withdrew the unallocated escrow left."""

    task_id: TaskId
    sponsor: Address
    amount: Wei
    meta: EventMeta


@dataclass(frozen=True)
class CoordinatorProposedEvent:
    """The sponsor proposed a new coordinator, which may accept from ``not_before``."""

    task_id: TaskId
    proposed: Address
    not_before: int
    meta: EventMeta


@dataclass(frozen=True)
class CoordinatorProposalCancelledEvent:
    """The sponsor withdrew its coordinator proposal."""

    task_id: TaskId
    proposed: Address
    meta: EventMeta


@dataclass(frozen=True)
class CoordinatorReplacedEvent:
    """A proposed coordinator accepted, staking ``stake``; the previous one's stake is released."""

    task_id: TaskId
    previous: Address
    coordinator: Address
    stake: Wei
    meta: EventMeta


@dataclass(frozen=True)
class StakeWithdrawnEvent:
    """A staker withdrew its stake."""

    task_id: TaskId
    account: Address
    amount: Wei
    meta: EventMeta


@dataclass(frozen=True)
class ParticipantSlashedEvent:
    """A participant's stake was slashed into the pool (``round`` 0 for a court verdict)."""

    task_id: TaskId
    round: Round
    account: Address
    amount: Wei
    meta: EventMeta


@dataclass(frozen=True)
class FlagDismissedEvent:
    """A flag cancelled by an upheld dispute was settled without a slash."""

    task_id: TaskId
    round: Round
    account: Address
    meta: EventMeta


@dataclass(frozen=True)
class DisputeOpenedEvent:
    """ChallengeCourt marked a round disputed (its claims and slashes wait)."""

    task_id: TaskId
    round: Round
    meta: EventMeta


@dataclass(frozen=True)
class DisputeResolvedEvent:
    """ChallengeCourt resolved a dispute; upheld replaces the root and slashes the finalizer."""

    task_id: TaskId
    round: Round
    upheld: bool
    rewards_root: Hash32
    coordinator_slashed: Wei
    meta: EventMeta


FED_TASK_EVENTS: tuple[type[Any], ...] = (
    TaskCreatedEvent,
    AllowlistUpdatedEvent,
    TaskJoinedEvent,
    CoordinatorStakedEvent,
    TaskCancelledEvent,
    RoundOpenedEvent,
    CommitBatchPostedEvent,
    UpdateCommittedEvent,
    RoundFinalizedEvent,
    TaskCompletedEvent,
    RewardsClaimedEvent,
    TaskAbortedEvent,
    RemainderWithdrawnEvent,
    CoordinatorProposedEvent,
    CoordinatorProposalCancelledEvent,
    CoordinatorReplacedEvent,
    StakeWithdrawnEvent,
    ParticipantSlashedEvent,
    FlagDismissedEvent,
    DisputeOpenedEvent,
    DisputeResolvedEvent,
)
"""Every FedTask event with a record (all of ``IFedTask``'s)."""


# ---------------------------------------------------------------------------------- client


class FedTaskClient(RecordsClient):
    """Every function, view and event of FedTask v2, typed.

    Writes send as the client's signer (:meth:`as_signer` for another party) and return the
    mined :class:`~chain.signer.TxResult`; a revert raises
    :class:`~chain.errors.ChainRevertError` before anything is sent. Token intakes (pool, stakes)
    are pulled from the caller: approve FedTask for them first. Roles (``grant_role``,
    ``has_role``...) and pauses (``pause``, ``paused``...) come from
    :class:`~chain._access.PausableClient`.
    """

    artifact_name = "FedTask"

    # ---- creation and joining -----------------------------------------------------------------
    def create_task(self, config: TaskConfig) -> tuple[TaskId, TxResult]:
        """Create a task escrowing ``config.pool`` from the signer (the sponsor).

        Parameters
        ----------
        config : TaskConfig
            The task.

        Returns
        -------
        tuple of (TaskId, TxResult)
            The new task's id and the transaction.
        """
        result = self._send(self.contract.functions.createTask(config.to_abi()))
        created = self.events_in(result, TaskCreatedEvent)
        return created[0].task_id, result

    def set_allowed(self, task_id: int, accounts: Sequence[str], allowed: bool = True) -> TxResult:
        """Allow (or disallow) ``accounts`` to join a permissioned task (sponsor only).

        Parameters
        ----------
        task_id : int
            The task.
        accounts : sequence of str
            The accounts.
        allowed : bool, default True
            Whether they may join.
        """
        return self._send(self.contract.functions.setAllowed(task_id, list(accounts), allowed))

    def join(self, task_id: int, invitation: SignedInvitation | None = None) -> TxResult:
        """Join as a participant, locking the task's ``participant_stake``.

        Parameters
        ----------
        task_id : int
            The task.
        invitation : SignedInvitation or None, default None
            The sponsor's invitation of the signer (permissioned tasks, unless allowlisted).
        """
        deadline = invitation.invitation.deadline if invitation else 0
        signature = invitation.signature if invitation else b""
        return self._send(self.contract.functions.joinTask(task_id, deadline, signature))

    def cancel_task(self, task_id: int) -> TxResult:
        """Cancel a task still joining: pool back to the sponsor, stakes free (sponsor only).

        Parameters
        ----------
        task_id : int
            The task.
        """
        return self._send(self.contract.functions.cancelTask(task_id))

    def stake_as_coordinator(self, task_id: int) -> TxResult:
        """Lock the coordinator's stake (round 1 cannot open before).

        Parameters
        ----------
        task_id : int
            The task.
        """
        return self._send(self.contract.functions.stakeAsCoordinator(task_id))

    # ---- rounds ---------------------------------------------------------------------------------
    def open_round(self, task_id: int, round: int, model_cid: str, model_hash: bytes) -> TxResult:
        """Open ``round`` from a model (coordinator; round > 1 from the last finalised model).

        Parameters
        ----------
        task_id : int
            The task.
        round : int
            The round, ``last_round + 1``.
        model_cid : str
            Content identifier of the model participants train from.
        model_hash : bytes
            Its hash (non-zero).
        """
        return self._send(self.contract.functions.openRound(task_id, round, model_cid, model_hash))

    def commit_batch(
        self, task_id: int, round: int, root: bytes, count: int, batch_cid: str
    ) -> TxResult:
        """Anchor the round's batch of signed commitments before its commit deadline.

        Parameters
        ----------
        task_id : int
            The task.
        round : int
            The open round.
        root : bytes
            Merkle root of the commitment leaves.
        count : int
            Number of leaves (1 to the participants).
        batch_cid : str
            Content identifier of the batch document.
        """
        fn = self.contract.functions.commitBatch(task_id, round, root, count, batch_cid)
        return self._send(fn)

    def post_batch(self, batch: CommitmentBatch, batch_cid: str) -> TxResult:
        """:meth:`commit_batch` of a :class:`~chain.commitments.CommitmentBatch`.

        Parameters
        ----------
        batch : CommitmentBatch
            The round's signed commitments.
        batch_cid : str
            Content identifier of ``batch.to_dict()`` in the content store.
        """
        return self.commit_batch(batch.task_id, batch.round, batch.root, batch.count, batch_cid)

    def commit_update(
        self, task_id: int, round: int, update_hash: bytes, samples: int, update_cid: str
    ) -> TxResult:
        """Commit the signer's update directly (participant, before the reveal start).

        Parameters
        ----------
        task_id : int
            The task.
        round : int
            The open round.
        update_hash : bytes
            ``keccak256`` of the update's bytes.
        samples : int
            Training samples behind it (> 0).
        update_cid : str
            The CID the bytes will have once revealed (kept in the event only).
        """
        fn = self.contract.functions.commitUpdate(task_id, round, update_hash, samples, update_cid)
        return self._send(fn)

    def finalize_round(self, task_id: int, round: int, finalization: Finalization) -> TxResult:
        """Finalise ``round`` (coordinator, from its reveal deadline, before its finalize deadline).

        Parameters
        ----------
        task_id : int
            The task.
        round : int
            The open round.
        finalization : Finalization
            New model, evidence, rewards root and budget, flags, last-round shares.
        """
        fn = self.contract.functions.finalizeRound(task_id, round, finalization.to_abi())
        return self._send(fn)

    # ---- claims ---------------------------------------------------------------------------------
    def claim_rewards(self, task_id: int, claim: Claim) -> TxResult:
        """Claim the signer's reward of one round (after its window, while undisputed).

        Parameters
        ----------
        task_id : int
            The task.
        claim : Claim
            Round, amount and proof (``RewardTree.claim_for(address)``).
        """
        fn = self.contract.functions.claimRewards(
            task_id, claim.round, claim.amount, list(claim.proof)
        )
        return self._send(fn)

    def claim_many(self, task_id: int, claims: Sequence[Claim]) -> TxResult:
        """Claim several rounds of one task in one transaction (paid in one transfer).

        Parameters
        ----------
        task_id : int
            The task.
        claims : sequence of Claim
            One per round.
        """
        fn = self.contract.functions.claimMany(
            task_id,
            [c.round for c in claims],
            [c.amount for c in claims],
            [list(c.proof) for c in claims],
        )
        return self._send(fn)

    # ---- liveness, stakes, slashing -------------------------------------------------------------
    def abort_task(self, task_id: int) -> TxResult:
        """Abort a task whose coordinator missed a deadline (sponsor at once, anyone after grace).

        Parameters
        ----------
        task_id : int
            The task.
        """
        return self._send(self.contract.functions.abortTask(task_id))

    def withdraw_remainder(self, task_id: int) -> TxResult:
        """Pay the sponsor of an ended task the unallocated escrow left (sponsor only).

        Parameters
        ----------
        task_id : int
            The task.
        """
        return self._send(self.contract.functions.withdrawRemainder(task_id))

    def propose_coordinator(self, task_id: int, new_coordinator: str) -> TxResult:
        """Propose a replacement coordinator; it may accept after ``REPLACEMENT_DELAY`` (sponsor).

        Parameters
        ----------
        task_id : int
            The task.
        new_coordinator : str
            The proposed account (not the sponsor, the coordinator or a participant).
        """
        return self._send(self.contract.functions.proposeCoordinator(task_id, new_coordinator))

    def cancel_coordinator_proposal(self, task_id: int) -> TxResult:
        """Withdraw the pending coordinator proposal (sponsor only).

        Parameters
        ----------
        task_id : int
            The task.
        """
        return self._send(self.contract.functions.cancelCoordinatorProposal(task_id))

    def accept_coordination(self, task_id: int) -> TxResult:
        """Take over as coordinator after the timelock, staking ``coordinator_stake``.

        Parameters
        ----------
        task_id : int
            The task.
        """
        return self._send(self.contract.functions.acceptCoordination(task_id))

    def withdraw_stake(self, task_id: int) -> TxResult:
        """Withdraw the signer's stake once the task ended and the cooldown passed.

        Parameters
        ----------
        task_id : int
            The task.
        """
        return self._send(self.contract.functions.withdrawStake(task_id))

    def execute_slash(self, task_id: int, round: int, account: str) -> TxResult:
        """Settle a flag once the round's window passed undisputed (anyone).

        Parameters
        ----------
        task_id : int
            The task.
        round : int
            The round ``account`` was flagged in.
        account : str
            The flagged participant.
        """
        return self._send(self.contract.functions.executeSlash(task_id, round, account))

    # ---- COURT_ROLE hooks (ChallengeCourt calls them; anyone else reverts) -----------------------
    def open_dispute(self, task_id: int, round: int) -> TxResult:
        """Mark a round disputed (``COURT_ROLE`` only).

        Parameters
        ----------
        task_id : int
            The task.
        round : int
            A round inside its challenge window.
        """
        return self._send(self.contract.functions.openDispute(task_id, round))

    def resolve_dispute(
        self,
        task_id: int,
        round: int,
        upheld: bool,
        corrected_root: bytes,
        corrected_shares: bytes = b"",
    ) -> TxResult:
        """Resolve a dispute (``COURT_ROLE`` only).

        Parameters
        ----------
        task_id : int
            The task.
        round : int
            The disputed round.
        upheld : bool
            Whether the coordinator's verdict is overturned.
        corrected_root : bytes
            The corrected rewards root (upheld only).
        corrected_shares : bytes, default b""
            Corrected last-round shares, or empty.
        """
        fn = self.contract.functions.resolveDispute(
            task_id, round, upheld, corrected_root, corrected_shares
        )
        return self._send(fn)

    def slash_participant(self, task_id: int, account: str, bps: int) -> TxResult:
        """Slash a participant's stake into the pool (``COURT_ROLE`` only).

        Parameters
        ----------
        task_id : int
            The task.
        account : str
            The participant.
        bps : int
            Basis points of its stake, at most 10,000.
        """
        return self._send(self.contract.functions.slashParticipant(task_id, account, bps))

    # ---- views: tasks ---------------------------------------------------------------------------
    def task(self, task_id: int) -> TaskInfo:
        """The task's state (``TaskUnknown`` for an unknown id).

        Parameters
        ----------
        task_id : int
            The task.
        """
        raw = self._call(self.contract.functions.getTask(task_id))
        info = from_struct(TaskInfo, raw, task_id=TaskId(task_id))
        if info.pending_coordinator == ZERO_ADDRESS:
            info = replace(info, pending_coordinator=None)
        return info

    def schedule(self, task_id: int) -> Schedule:
        """The task's timetable (``TaskUnknown`` for an unknown id).

        Parameters
        ----------
        task_id : int
            The task.
        """
        return from_struct(Schedule, self._call(self.contract.functions.getSchedule(task_id)))

    def round(self, task_id: int, round: int) -> RoundInfo:
        """A round's deadlines, roots, budget and state (all zero for a round not opened).

        Parameters
        ----------
        task_id : int
            The task.
        round : int
            The round.
        """
        raw = self._call(self.contract.functions.getRound(task_id, round))
        return from_struct(RoundInfo, raw, task_id=TaskId(task_id), round=Round(round))

    def round_claimable_at(self, task_id: int, round: int) -> tuple[int, bool]:
        """(end of the round's challenge window or 0, whether it is disputed).

        Parameters
        ----------
        task_id : int
            The task.
        round : int
            The round.
        """
        at, disputed = self._call(self.contract.functions.roundClaimableAt(task_id, round))
        return int(at), bool(disputed)

    def round_cap(self, task_id: int, round: int) -> Wei:
        """The most a round not finalised yet may be given now (0 out of range).

        Parameters
        ----------
        task_id : int
            The task.
        round : int
            The round.
        """
        return Wei(int(self._call(self.contract.functions.roundCap(task_id, round))))

    def task_count(self) -> int:
        """Number of tasks ever created (the latest id)."""
        return int(self._call(self.contract.functions.taskCount()))

    def sponsor_of(self, task_id: int) -> Address:
        """The task's sponsor (the zero address for an unknown task).

        Parameters
        ----------
        task_id : int
            The task.
        """
        return Address(self._call(self.contract.functions.sponsorOf(task_id)))

    def is_final(self, task_id: int) -> bool:
        """Whether the task completed and its last window passed undisputed (shares are final).

        Parameters
        ----------
        task_id : int
            The task.
        """
        return bool(self._call(self.contract.functions.isFinal(task_id)))

    # ---- views: participants --------------------------------------------------------------------
    def participants(self, task_id: int) -> list[Address]:
        """Participants in join order (the order of the shares).

        Parameters
        ----------
        task_id : int
            The task.
        """
        found = self._call(self.contract.functions.getParticipants(task_id))
        return [Address(a) for a in found]

    def participant_index(self, task_id: int, account: str) -> int:
        """``account``'s 0-based join index (``TaskNotParticipant`` for others).

        Parameters
        ----------
        task_id : int
            The task.
        account : str
            The participant.
        """
        return int(self._call(self.contract.functions.participantIndex(task_id, account)))

    def is_participant(self, task_id: int, account: str) -> bool:
        """Whether ``account`` joined the task.

        Parameters
        ----------
        task_id : int
            The task.
        account : str
            The account.
        """
        return bool(self._call(self.contract.functions.isParticipant(task_id, account)))

    def is_allowed(self, task_id: int, account: str) -> bool:
        """Whether the sponsor allowlisted ``account``.

        Parameters
        ----------
        task_id : int
            The task.
        account : str
            The account.
        """
        return bool(self._call(self.contract.functions.isAllowed(task_id, account)))

    def stake_of(self, task_id: int, account: str) -> Wei:
        """Stake ``account`` holds in the task (participant, coordinator or former coordinator).

        Parameters
        ----------
        task_id : int
            The task.
        account : str
            The account.
        """
        return Wei(int(self._call(self.contract.functions.stakeOf(task_id, account))))

    def commitment_of(self, task_id: int, round: int, account: str) -> UpdateCommitment | None:
        """``account``'s direct commitment in a round, or ``None`` (batched leaves are off-chain).

        Parameters
        ----------
        task_id : int
            The task.
        round : int
            The round.
        account : str
            The participant.
        """
        fn = self.contract.functions.commitmentOf(task_id, round, account)
        update_hash, samples = self._call(fn)
        if not any(update_hash):
            return None
        return UpdateCommitment(TaskId(task_id), Round(round), Hash32(bytes(update_hash)), samples)

    def has_claimed(self, task_id: int, round: int, account: str) -> bool:
        """Whether ``account`` claimed its reward of ``round``.

        Parameters
        ----------
        task_id : int
            The task.
        round : int
            The round.
        account : str
            The account.
        """
        return bool(self._call(self.contract.functions.hasClaimed(task_id, round, account)))

    def is_flagged(self, task_id: int, round: int, account: str) -> bool:
        """Whether ``account`` is flagged (not settled yet) in ``round``.

        Parameters
        ----------
        task_id : int
            The task.
        round : int
            The round.
        account : str
            The account.
        """
        return bool(self._call(self.contract.functions.isFlagged(task_id, round, account)))

    def pending_flags(self, task_id: int, account: str) -> int:
        """Flags pending against ``account`` over all rounds.

        Parameters
        ----------
        task_id : int
            The task.
        account : str
            The participant.
        """
        return int(self._call(self.contract.functions.pendingFlags(task_id, account)))

    def shares(self, task_id: int) -> list[int]:
        """A completed task's shares in basis points, in join order (empty before completion).

        Parameters
        ----------
        task_id : int
            The task.
        """
        return [int(b) for b in self._call(self.contract.functions.shares(task_id))]

    def share_of(self, task_id: int, account: str) -> int:
        """``account``'s share of the final model in basis points (0 for non-contributors).

        Parameters
        ----------
        task_id : int
            The task.
        account : str
            The account.
        """
        return int(self._call(self.contract.functions.shareOf(task_id, account)))

    # ---- views: contract ------------------------------------------------------------------------
    def token(self) -> Address:
        """The reward token every task is funded, staked and paid in."""
        return Address(self._call(self.contract.functions.token()))

    def domain(self) -> FedTaskDomain:
        """The EIP-712 domain of this deployment (for invitations and commitments)."""
        return FedTaskDomain(self.backend.chain_id, Address(self.address))

    def domain_separator(self) -> Hash32:
        """``DOMAIN_SEPARATOR`` as the contract reports it."""
        return Hash32(bytes(self._call(self.contract.functions.DOMAIN_SEPARATOR())))

    def court_role(self) -> Hash32:
        """``COURT_ROLE``: the role of ChallengeCourt's hooks."""
        return Hash32(bytes(self._call(self.contract.functions.COURT_ROLE())))

    def pauser_role(self) -> Hash32:
        """``PAUSER_ROLE``."""
        return Hash32(bytes(self._call(self.contract.functions.PAUSER_ROLE())))

    def invitation_typehash(self) -> Hash32:
        """``INVITATION_TYPEHASH``."""
        return Hash32(bytes(self._call(self.contract.functions.INVITATION_TYPEHASH())))

    def update_commitment_typehash(self) -> Hash32:
        """``UPDATE_COMMITMENT_TYPEHASH``."""
        fn = self.contract.functions.UPDATE_COMMITMENT_TYPEHASH()
        return Hash32(bytes(self._call(fn)))

    def max_rounds(self) -> int:
        """``MAX_ROUNDS`` (1,000)."""
        return int(self._call(self.contract.functions.MAX_ROUNDS()))

    def max_participants(self) -> int:
        """``MAX_PARTICIPANTS`` (1,024)."""
        return int(self._call(self.contract.functions.MAX_PARTICIPANTS()))

    def replacement_delay(self) -> int:
        """``REPLACEMENT_DELAY`` in seconds (2 days)."""
        return int(self._call(self.contract.functions.REPLACEMENT_DELAY()))

    # ---- events ---------------------------------------------------------------------------------
    def rounds_opened(self, task_id: int) -> list[RoundOpenedEvent]:
        """Every ``RoundOpened`` of a task, in order.

        Parameters
        ----------
        task_id : int
            The task.
        """
        return self.events(RoundOpenedEvent, task_id=task_id)

    def batches_posted(
        self, task_id: int, round: int | None = None
    ) -> list[CommitBatchPostedEvent]:
        """Every ``CommitBatchPosted`` of a task (one round, or all).

        Parameters
        ----------
        task_id : int
            The task.
        round : int or None, default None
            Only this round.
        """
        return self.events(CommitBatchPostedEvent, task_id=task_id, round=round)

    def updates_committed(
        self, task_id: int, round: int | None = None, *, from_block: int | None = None
    ) -> list[UpdateCommittedEvent]:
        """Every direct ``UpdateCommitted`` of a task (one round, or all).

        Parameters
        ----------
        task_id : int
            The task.
        round : int or None, default None
            Only this round.
        from_block : int or None, default None
            Scan from this block (never before the deployment block).
        """
        return self.events(
            UpdateCommittedEvent, from_block=from_block, task_id=task_id, round=round
        )

    def rounds_finalized(self, task_id: int) -> list[RoundFinalizedEvent]:
        """Every ``RoundFinalized`` of a task, in order.

        Parameters
        ----------
        task_id : int
            The task.
        """
        return self.events(RoundFinalizedEvent, task_id=task_id)

    def claims(
        self, task_id: int | None = None, *, account: str | None = None
    ) -> list[RewardsClaimedEvent]:
        """Every ``RewardsClaimed`` (of one task and/or one account, or all).

        Parameters
        ----------
        task_id : int or None, default None
            Only this task.
        account : str or None, default None
            Only this account.
        """
        return self.events(RewardsClaimedEvent, task_id=task_id, account=account)


__all__ = [
    "FED_TASK_EVENTS",
    "AllowlistUpdatedEvent",
    "CommitBatchPostedEvent",
    "CoordinatorProposalCancelledEvent",
    "CoordinatorProposedEvent",
    "CoordinatorReplacedEvent",
    "CoordinatorStakedEvent",
    "DisputeOpenedEvent",
    "DisputeResolvedEvent",
    "FedTaskClient",
    "Finalization",
    "FlagDismissedEvent",
    "ParticipantSlashedEvent",
    "RemainderWithdrawnEvent",
    "RewardsClaimedEvent",
    "RoundFinalizedEvent",
    "RoundInfo",
    "RoundOpenedEvent",
    "Schedule",
    "StakeWithdrawnEvent",
    "TaskAbortedEvent",
    "TaskCancelledEvent",
    "TaskCompletedEvent",
    "TaskConfig",
    "TaskCreatedEvent",
    "TaskInfo",
    "TaskJoinedEvent",
    "TaskStatus",
    "UpdateCommittedEvent",
]
