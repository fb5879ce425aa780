"""Where a task stands now: its phase, the current round, deadlines, money, disputes, overdue.

What an operator asks of a running task, read from FedTask (and, for the reveals, the content
store) into one :class:`TaskStatusReport`. The rules that turn the chain's numbers into a phase,
deadlines and an overdue verdict are pure functions of the task's records and the chain's time
(:func:`task_phase`, :func:`deadlines_of`, :func:`overdue_of`), the same rules FedTask applies:

- a task *joining* must open round 1 before its deadline; a *training* task with no round open
  must open the next one before its deadline (``openPeriod`` after the last finalisation);
- an open round goes commit (until ``commit_deadline``) -> inclusion (left-out participants
  commit directly, until ``reveal_start``) -> reveal (until ``reveal_deadline``) -> finalize
  (until ``finalize_deadline``);
- a completed task is in its last *challenge* window until the last round is claimable, then
  *ended* (as are cancelled and aborted tasks);
- a deadline missed (a round not finalised, or not opened, in time) makes an active task
  abortable: by the sponsor at once, by anyone ``abortGrace`` later (``abortTask``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from chain.fed_task import FedTaskClient, RoundFinalizedEvent, RoundInfo, Schedule, TaskInfo
from chain.fed_task import TaskStatus as ChainStatus
from chain.units import format_amount
from fl_node.commitments import commitments_of_round
from fl_node.errors import BatchDocumentError, UnknownTaskError
from kernel.types import Address, Cid, Wei
from storage import ContentStore


class TaskPhase(StrEnum):
    """Where a task stands in its timetable."""

    JOIN = "join"
    """Joining: participants join; the coordinator must open round 1 before the deadline."""
    COMMIT = "commit"
    """A round is open: participants train and commit (in the batch or directly)."""
    INCLUSION = "inclusion"
    """The commit deadline passed: left-out participants commit directly until the reveal."""
    REVEAL = "reveal"
    """Participants publish their updates' bytes."""
    FINALIZE = "finalize"
    """The coordinator may (and must, before the deadline) finalise the round."""
    NEXT_ROUND = "next_round"
    """Training, no round open: the next round must open before the deadline."""
    CHALLENGE = "challenge"
    """Completed; the last round's challenge window runs (or a dispute holds it)."""
    ENDED = "ended"
    """Completed past its last window, cancelled or aborted."""


@dataclass(frozen=True)
class Deadline:
    """One moment of the timetable, in chain time.

    Attributes
    ----------
    name : str
        ``open_by``, ``commit``, ``reveal_start``, ``reveal``, ``finalize``, ``claimable`` or
        ``stakes_withdrawable``.
    at : int
        The chain timestamp.
    seconds_left : int
        ``at`` less the chain's time now (negative once passed).
    """

    name: str
    at: int
    seconds_left: int

    @property
    def passed(self) -> bool:
        """Whether the chain's time reached it."""
        return self.seconds_left <= 0


@dataclass(frozen=True)
class Overdue:
    """A missed deadline that makes an active task abortable.

    Attributes
    ----------
    missed : str
        What was not done in time (``finalize round 3``, ``open round 1``).
    deadline : int
        When it was due (chain time).
    sponsor_may_abort_at, anyone_may_abort_at : int
        From when ``abortTask`` succeeds for the sponsor, and for anyone.
    abortable_by_sponsor, abortable_by_anyone : bool
        Whether it does now.
    """

    missed: str
    deadline: int
    sponsor_may_abort_at: int
    anyone_may_abort_at: int
    abortable_by_sponsor: bool
    abortable_by_anyone: bool


@dataclass(frozen=True)
class FinalizedRound:
    """A finalised round as the chain holds it now (``task show`` prints the same).

    Attributes
    ----------
    round : int
        The round.
    model_cid, evidence_cid : str
        The round's new model and its evidence in the content store.
    budget, claimed : Wei
        Allocated to the round; claimed from it so far.
    rewards_root : bytes
        The rewards root now (a challenger's correction after an upheld dispute).
    claimable_at : int
        End of the challenge window.
    disputed : bool
        A dispute holds its claims.
    """

    round: int
    model_cid: str
    evidence_cid: str
    budget: Wei
    claimed: Wei
    rewards_root: bytes
    claimable_at: int
    disputed: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (wei as decimal strings)."""
        return {
            "round": self.round,
            "model_cid": self.model_cid,
            "evidence_cid": self.evidence_cid,
            "budget_wei": str(self.budget),
            "claimed_wei": str(self.claimed),
            "rewards_root": "0x" + self.rewards_root.hex(),
            "claimable_at": self.claimable_at,
            "disputed": self.disputed,
        }


def finalized_round(final: RoundFinalizedEvent, now: RoundInfo) -> FinalizedRound:
    """A finalised round from its ``RoundFinalized`` event and its state now.

    Parameters
    ----------
    final : RoundFinalizedEvent
        The event (model and evidence CIDs).
    now : RoundInfo
        The round's state now (budget, claims, root, window, dispute).
    """
    return FinalizedRound(
        round=int(final.round),
        model_cid=final.model_cid,
        evidence_cid=final.evidence_cid,
        budget=now.budget,
        claimed=now.claimed,
        rewards_root=bytes(now.rewards_root),
        claimable_at=now.claimable_at,
        disputed=now.disputed,
    )


def finalized_rounds(client: FedTaskClient, task_id: int) -> tuple[FinalizedRound, ...]:
    """Every finalised round of a task, oldest first.

    Parameters
    ----------
    client : FedTaskClient
        FedTask (read-only is enough).
    task_id : int
        The task.
    """
    return tuple(
        finalized_round(f, client.round(task_id, int(f.round)))
        for f in client.rounds_finalized(task_id)
    )


@dataclass(frozen=True)
class RoundProgress:
    """The task's latest round: how far it got.

    Attributes
    ----------
    round : int
        The round (``last_round``).
    open : bool
        Whether it is open (not finalised).
    quorum : int
        Commitments (and accepted updates) it needs to pay.
    committed : int
        Commitments counted (live while open, as finalised after).
    revealed : int or None
        Committed updates whose bytes the store holds; ``None`` without a store (or when the
        batch document cannot be read).
    accepted : int
        Updates the coordinator accepted (0 while open).
    """

    round: int
    open: bool
    quorum: int
    committed: int
    revealed: int | None
    accepted: int

    @property
    def quorum_met(self) -> bool:
        """Whether enough commitments were made for the round to pay."""
        return self.committed >= self.quorum


@dataclass(frozen=True)
class Stake:
    """A stake held in the task.

    Attributes
    ----------
    account : Address
        Who holds it.
    role : str
        ``participant`` or ``coordinator``.
    amount : Wei
        Token wei held now (0 once withdrawn).
    """

    account: Address
    role: str
    amount: Wei


def last_finalized_round(client: FedTaskClient, info: TaskInfo) -> int:
    """The task's last finalised round (0 before the first).

    The latest round is not finalised while it is open, nor when the task was aborted while it
    was open (no longer open, never finalised).

    Parameters
    ----------
    client : FedTaskClient
        FedTask.
    info : TaskInfo
        The task.
    """
    latest = int(info.last_round)
    if latest == 0:
        return 0
    if info.round_open or not client.round(int(info.task_id), latest).finalized:
        return latest - 1
    return latest


def task_phase(
    info: TaskInfo, current: RoundInfo | None, last_claimable_at: int, now: int
) -> TaskPhase:
    """The task's phase at chain time ``now``.

    Parameters
    ----------
    info : TaskInfo
        The task.
    current : RoundInfo or None
        Its open round (``None`` when none is open).
    last_claimable_at : int
        End of the last finalised round's challenge window (0 when none).
    now : int
        The chain's time.
    """
    if info.status == ChainStatus.JOINING:
        return TaskPhase.JOIN
    if info.status == ChainStatus.COMPLETED and now < last_claimable_at:
        return TaskPhase.CHALLENGE
    if info.status.ended:
        return TaskPhase.ENDED
    if current is None or not info.round_open:
        return TaskPhase.NEXT_ROUND
    if now < current.commit_deadline:
        return TaskPhase.COMMIT
    if now < current.reveal_start:
        return TaskPhase.INCLUSION
    if now < current.reveal_deadline:
        return TaskPhase.REVEAL
    return TaskPhase.FINALIZE


def stakes_withdrawable_at(info: TaskInfo, schedule: Schedule, last_claimable_at: int) -> int:
    """When an ended task's participants and coordinator may take their stakes back (0: active).

    Parameters
    ----------
    info : TaskInfo
        The task.
    schedule : Schedule
        Its timetable (the stake cooldown).
    last_claimable_at : int
        End of the last finalised round's challenge window (0 when none).
    """
    if not info.status.ended:
        return 0
    cooldown = 0 if info.status == ChainStatus.CANCELLED else schedule.stake_cooldown
    return max(info.ended_at + cooldown, last_claimable_at)


def deadlines_of(
    info: TaskInfo,
    schedule: Schedule,
    current: RoundInfo | None,
    last_claimable_at: int,
    now: int,
) -> tuple[Deadline, ...]:
    """The moments of the timetable that matter now, in chain time.

    Parameters
    ----------
    info : TaskInfo
        The task.
    schedule : Schedule
        Its timetable.
    current : RoundInfo or None
        Its open round (``None`` when none is open).
    last_claimable_at : int
        End of the last finalised round's challenge window (0 when none).
    now : int
        The chain's time.
    """
    moments: list[tuple[str, int]] = []
    active = not info.status.ended
    if active and info.round_open and current is not None:
        moments += [
            ("commit", current.commit_deadline),
            ("reveal_start", current.reveal_start),
            ("reveal", current.reveal_deadline),
            ("finalize", current.finalize_deadline),
        ]
    elif active:
        moments.append(("open_by", info.deadline))
    if last_claimable_at:
        moments.append(("claimable", last_claimable_at))
    unlock = stakes_withdrawable_at(info, schedule, last_claimable_at)
    if unlock:
        moments.append(("stakes_withdrawable", unlock))
    return tuple(Deadline(name, at, at - now) for name, at in moments)


def overdue_of(
    info: TaskInfo, schedule: Schedule, current: RoundInfo | None, now: int
) -> Overdue | None:
    """The missed deadline that makes the task abortable, or ``None`` (FedTask's ``abortTask``).

    Parameters
    ----------
    info : TaskInfo
        The task.
    schedule : Schedule
        Its timetable (the abort grace).
    current : RoundInfo or None
        Its open round (``None`` when none is open).
    now : int
        The chain's time.
    """
    if info.status.ended:
        return None
    if info.round_open and current is not None:
        missed, due = f"finalize round {int(info.last_round)}", current.finalize_deadline
    else:
        missed, due = f"open round {int(info.last_round) + 1}", info.deadline
    if now < due:
        return None
    anyone = due + schedule.abort_grace
    return Overdue(
        missed=missed,
        deadline=due,
        sponsor_may_abort_at=due,
        anyone_may_abort_at=anyone,
        abortable_by_sponsor=now >= due,
        abortable_by_anyone=now >= anyone,
    )


@dataclass(frozen=True)
class Money:
    """Where a task's tokens are (token wei).

    Attributes
    ----------
    pool : Wei
        Escrowed at creation.
    unallocated : Wei
        Not given to any round yet (the sponsor's again once the task ends).
    allocated : Wei
        Given to finalised rounds (their budgets).
    claimed : Wei
        Claimed from those rounds.
    slashed_in : Wei
        Slashes paid into the pool.
    refunded : Wei
        Paid back to the sponsor.
    """

    pool: Wei
    unallocated: Wei
    allocated: Wei
    claimed: Wei
    slashed_in: Wei
    refunded: Wei

    def to_dict(self) -> dict[str, str]:
        """JSON-ready: each amount in wei (``*_wei``) and in whole tokens."""
        found: dict[str, str] = {}
        for name, wei in vars(self).items():
            found[f"{name}_wei"] = str(wei)
            found[name] = format_amount(wei)
        return found


@dataclass(frozen=True)
class TaskStatusReport:
    """Where a task stands now (:func:`read_task_status`).

    Attributes
    ----------
    task_id : int
        The task.
    chain_time : int
        The chain's time the report was made at.
    status : ChainStatus
        FedTask's status.
    phase : TaskPhase
        Where it stands in its timetable.
    sponsor, coordinator : Address
        Who funded it; who runs its rounds now.
    total_rounds, rounds_finalized : int
        Rounds asked for; rounds finalised.
    current : RoundProgress or None
        The latest round (``None`` before round 1 opens).
    max_participants : int
        Participant limit.
    stakes : tuple of Stake
        The coordinator's stake, then each participant's in join order.
    required_stakes : tuple of (Wei, Wei)
        What each participant and the coordinator must lock.
    money : Money
        Pool, allocations, claims, slashes, refunds.
    open_disputes : int
        Rounds disputed in ChallengeCourt now.
    disputed_rounds : tuple of int
        Which.
    deadlines : tuple of Deadline
        The moments that matter now.
    overdue : Overdue or None
        A missed deadline that makes the task abortable.
    rounds : tuple of FinalizedRound
        Every finalised round.
    notes : tuple of str
        What could not be read (a batch document), in words.
    """

    task_id: int
    chain_time: int
    status: ChainStatus
    phase: TaskPhase
    sponsor: Address
    coordinator: Address
    total_rounds: int
    rounds_finalized: int
    current: RoundProgress | None
    max_participants: int
    stakes: tuple[Stake, ...]
    required_stakes: tuple[Wei, Wei]
    money: Money
    open_disputes: int
    disputed_rounds: tuple[int, ...]
    deadlines: tuple[Deadline, ...]
    overdue: Overdue | None
    rounds: tuple[FinalizedRound, ...]
    notes: tuple[str, ...] = ()

    @property
    def participants(self) -> tuple[Stake, ...]:
        """The participants' stakes, in join order."""
        return tuple(s for s in self.stakes if s.role == "participant")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (wei as decimal strings)."""
        return {
            "task_id": self.task_id,
            "chain_time": self.chain_time,
            "status": self.status.name.lower(),
            "phase": str(self.phase),
            "sponsor": self.sponsor,
            "coordinator": self.coordinator,
            "total_rounds": self.total_rounds,
            "rounds_finalized": self.rounds_finalized,
            "current_round": _progress_dict(self.current),
            "participants_joined": len(self.participants),
            "max_participants": self.max_participants,
            "stakes": [_stake_dict(s) for s in self.stakes],
            "participant_stake_wei": str(self.required_stakes[0]),
            "coordinator_stake_wei": str(self.required_stakes[1]),
            "money": self.money.to_dict(),
            "open_disputes": self.open_disputes,
            "disputed_rounds": list(self.disputed_rounds),
            "deadlines": [{**vars(d), "passed": d.passed} for d in self.deadlines],
            "overdue": vars(self.overdue) if self.overdue is not None else None,
            "rounds": [r.to_dict() for r in self.rounds],
            "notes": list(self.notes),
        }


def _stake_dict(stake: Stake) -> dict[str, str]:
    return {
        "account": stake.account,
        "role": stake.role,
        "amount_wei": str(stake.amount),
        "amount": format_amount(stake.amount),
    }


def _progress_dict(progress: RoundProgress | None) -> dict[str, Any] | None:
    if progress is None:
        return None
    return {**vars(progress), "quorum_met": progress.quorum_met}


def read_task_status(
    client: FedTaskClient, task_id: int, *, store: ContentStore | None = None
) -> TaskStatusReport:
    """Read where ``task_id`` stands now from FedTask (and the store, for the reveals).

    Parameters
    ----------
    client : FedTaskClient
        FedTask (read-only is enough).
    task_id : int
        The task.
    store : ContentStore or None, default None
        The shared content store: counts the current round's revealed updates.

    Raises
    ------
    UnknownTaskError
        FedTask never issued ``task_id``.
    """
    if not 1 <= task_id <= client.task_count():
        raise UnknownTaskError(f"task {task_id} does not exist on FedTask {client.address}")
    info = client.task(task_id)
    schedule = client.schedule(task_id)
    now = client.backend.chain_time()
    rounds = finalized_rounds(client, task_id)
    last = last_finalized_round(client, info)
    last_claimable = client.round(task_id, last).claimable_at if last else 0
    latest = client.round(task_id, int(info.last_round)) if info.last_round else None
    current = latest if info.round_open else None
    progress, notes = _progress(client, store, info, latest)
    return TaskStatusReport(
        task_id=task_id,
        chain_time=now,
        status=info.status,
        phase=task_phase(info, current, last_claimable, now),
        sponsor=info.sponsor,
        coordinator=info.coordinator,
        total_rounds=info.total_rounds,
        rounds_finalized=last,
        current=progress,
        max_participants=info.max_participants,
        stakes=_stakes(client, info),
        required_stakes=(info.participant_stake, info.coordinator_stake),
        money=_money(info, rounds),
        open_disputes=info.open_disputes,
        disputed_rounds=tuple(r.round for r in rounds if r.disputed),
        deadlines=deadlines_of(info, schedule, current, last_claimable, now),
        overdue=overdue_of(info, schedule, current, now),
        rounds=rounds,
        notes=notes,
    )


def _money(info: TaskInfo, rounds: tuple[FinalizedRound, ...]) -> Money:
    return Money(
        pool=info.pool,
        unallocated=info.unallocated,
        allocated=Wei(sum(int(r.budget) for r in rounds)),
        claimed=Wei(sum(int(r.claimed) for r in rounds)),
        slashed_in=info.slashed_in,
        refunded=info.refunded,
    )


def _stakes(client: FedTaskClient, info: TaskInfo) -> tuple[Stake, ...]:
    """The coordinator's stake, then each participant's, as held now."""
    task_id = int(info.task_id)
    found = [Stake(info.coordinator, "coordinator", client.stake_of(task_id, info.coordinator))]
    for account in client.participants(task_id):
        found.append(Stake(account, "participant", client.stake_of(task_id, account)))
    return tuple(found)


def _progress(
    client: FedTaskClient, store: ContentStore | None, info: TaskInfo, latest: RoundInfo | None
) -> tuple[RoundProgress | None, tuple[str, ...]]:
    """The latest round's progress, and a note when its reveals could not be counted."""
    if latest is None:
        return None, ()
    revealed: int | None = None
    notes: tuple[str, ...] = ()
    if store is not None:
        try:
            revealed = _revealed(client, store, latest, client.participants(int(info.task_id)))
        except BatchDocumentError as exc:
            notes = (f"reveals of round {int(latest.round)} not counted: {exc}",)
    progress = RoundProgress(
        round=int(latest.round),
        open=info.round_open,
        quorum=info.quorum,
        committed=latest.commitments,
        revealed=revealed,
        accepted=latest.accepted,
    )
    return progress, notes


def _revealed(
    client: FedTaskClient, store: ContentStore, latest: RoundInfo, participants: list[Address]
) -> int:
    """How many of the round's committed updates the store holds (published bytes)."""
    _, commitments = commitments_of_round(
        client, store, int(latest.task_id), int(latest.round), participants
    )
    return len([c for c in commitments if store.has(Cid(c.cid))])
