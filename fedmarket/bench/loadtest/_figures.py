"""What a process task did, read back from the chain and the content store after (or during) it.

Times are block timestamps (anvil stamps each block with the wall clock, to the second): a round
lasts from its ``RoundOpened`` to its ``RoundFinalized``; its commit lag runs from the opening to
the last ``UpdateCommitted``; its finalisation work from the reveal deadline (when the coordinator
may start) to the ``RoundFinalized``. A participant's start-up runs from its process's start to
its ``TaskJoined`` block (import, spec, data, stake approval and join).

Updates: every participant is expected to commit every finalised round (no client sampling), so
the lost updates are the expected ones the coordinator did not accept (``RoundFinalized.accepted``).
Payments: each round's evidence (in the store) gives every participant's reward; the
``RewardsClaimed`` events give what was paid. A (round, participant) paid twice is a double
payment; a claim above the reward is overpaid; a reward nobody claimed is unclaimed.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass

from chain.fed_task import (
    RewardsClaimedEvent,
    RoundFinalizedEvent,
    RoundOpenedEvent,
    StakeWithdrawnEvent,
    UpdateCommittedEvent,
)
from fedmarket.bench.loadtest._children import Child, MemoryFigures
from fedmarket.bench.loadtest._task import ProcessTask, TaskSchedule
from fl_node.evidence import RoundEvidence
from storage import LocalCidStore


@dataclass(frozen=True)
class RoundTiming:
    """One finalised round.

    Parameters
    ----------
    round : int
        The round.
    seconds : int
        Opened -> finalised.
    commit_lag_s : int
        Opened -> the last participant's commitment (the commit period's slack is the rest).
    finalize_s : int
        Reveal deadline -> finalised: the coordinator's checks, aggregation, contributions,
        evidence and transaction.
    committed, accepted : int
        Updates committed on-chain; updates the coordinator accepted.
    coalitions : int
        Coalitions whose utility the contribution estimator measured.
    evidence_kb : float
        Size of the round's evidence document.
    """

    round: int
    seconds: int
    commit_lag_s: int
    finalize_s: int
    committed: int
    accepted: int
    coalitions: int
    evidence_kb: float


@dataclass(frozen=True)
class PaymentFigures:
    """Rewards allotted against rewards paid (wei), and stakes returned."""

    budgets_wei: int
    claimed_wei: int
    claims: int
    double_payments: int
    overpaid_wei: int
    unclaimed_wei: int
    stakes_returned: int


@dataclass(frozen=True)
class ProcessesResult:
    """A process task's figures (see the module docstring)."""

    participants: int
    rounds_asked: int
    rounds_completed: int
    schedule: TaskSchedule
    rounds: tuple[RoundTiming, ...]
    updates_expected: int
    updates_committed: int
    updates_accepted: int
    payments: PaymentFigures
    startup_p50_s: float
    startup_max_s: float
    memory: MemoryFigures
    participant_cpu_s: float
    coordinator_cpu_s: float
    failed: tuple[str, ...]
    wall_s: float

    @property
    def lost_updates(self) -> int:
        """Expected updates not accepted."""
        return self.updates_expected - self.updates_accepted

    @property
    def round_mean_s(self) -> float:
        """Mean seconds per round (0 without rounds)."""
        return statistics.fmean(r.seconds for r in self.rounds) if self.rounds else 0.0


def _round_timings(task: ProcessTask, store: LocalCidStore) -> list[RoundTiming]:
    client, tid = task.fed_task(), task.task_id
    opened = {int(e.round): e for e in client.events(RoundOpenedEvent, task_id=tid)}
    commits = client.events(UpdateCommittedEvent, task_id=tid)
    timings = []
    for final in client.events(RoundFinalizedEvent, task_id=tid):
        r = int(final.round)
        opening: RoundOpenedEvent = opened[r]
        opened_at = task.block_time(opening.meta.block)
        finalized_at = task.block_time(final.meta.block)
        mine = [c for c in commits if int(c.round) == r]
        last = max((task.block_time(c.meta.block) for c in mine), default=opened_at)
        data = store.get(final.evidence_cid)
        evidence = RoundEvidence.from_dict(store.get_json(final.evidence_cid))
        timings.append(
            RoundTiming(
                round=r,
                seconds=finalized_at - opened_at,
                commit_lag_s=last - opened_at,
                finalize_s=finalized_at - int(opening.reveal_deadline),
                committed=len(mine),
                accepted=int(final.accepted),
                coalitions=len(evidence.contribution.utilities),
                evidence_kb=len(data) / 1024,
            )
        )
    return timings


def _payments(task: ProcessTask, store: LocalCidStore) -> PaymentFigures:
    client, tid = task.fed_task(), task.task_id
    allotted: dict[tuple[int, str], int] = {}
    budgets = 0
    for final in client.events(RoundFinalizedEvent, task_id=tid):
        evidence = RoundEvidence.from_dict(store.get_json(final.evidence_cid))
        for who, amount in zip(evidence.participants, evidence.rewards.amounts, strict=True):
            allotted[(int(final.round), who.lower())] = int(amount)
        budgets += int(final.budget)
    claims = client.events(RewardsClaimedEvent, task_id=tid)
    paid: Counter[tuple[int, str]] = Counter()
    times: Counter[tuple[int, str]] = Counter()
    for claim in claims:
        key = (int(claim.round), claim.account.lower())
        paid[key] += int(claim.amount)
        times[key] += 1
    keys = set(allotted) | set(paid)
    withdrawn = client.events(StakeWithdrawnEvent, task_id=tid)
    addresses = {a.address.lower() for a in task.accounts}
    return PaymentFigures(
        budgets_wei=budgets,
        claimed_wei=sum(paid.values()),
        claims=len(claims),
        double_payments=sum(n - 1 for n in times.values() if n > 1),
        overpaid_wei=sum(max(0, paid[k] - allotted.get(k, 0)) for k in keys),
        unclaimed_wei=sum(max(0, allotted.get(k, 0) - paid[k]) for k in keys),
        stakes_returned=sum(1 for e in withdrawn if e.account.lower() in addresses),
    )


def _startups(task: ProcessTask) -> list[float]:
    joined = task.joined_at()
    found = []
    for account, child in zip(task.accounts, task.participant_children, strict=True):
        at = joined.get(account.address.lower())
        if at is not None:
            found.append(max(0.0, at - child.started_at))
    return found


def _failed(children: list[Child]) -> tuple[str, ...]:
    return tuple(
        f"{c.role}: exit {c.proc.returncode}" for c in children if c.proc.poll() not in (None, 0)
    )


def task_figures(task: ProcessTask, wall_s: float) -> ProcessesResult:
    """Everything :class:`ProcessesResult` holds, for ``task`` as it stands now.

    Parameters
    ----------
    task : ProcessTask
        A launched task (ended, or still running: then only its finalised rounds count).
    wall_s : float
        Seconds from the processes' start to now.
    """
    store = LocalCidStore(task.place.store_dir)
    rounds = _round_timings(task, store)
    startups = _startups(task)
    participants = task.participant_children
    coordinator = task.coordinator_child
    spec_rounds = task.fed_task().task(task.task_id).total_rounds
    return ProcessesResult(
        participants=task.parties,
        rounds_asked=int(spec_rounds),
        rounds_completed=len(rounds),
        schedule=task.schedule,
        rounds=tuple(rounds),
        updates_expected=task.parties * len(rounds),
        updates_committed=sum(r.committed for r in rounds),
        updates_accepted=sum(r.accepted for r in rounds),
        payments=_payments(task, store),
        startup_p50_s=statistics.median(startups) if startups else 0.0,
        startup_max_s=max(startups, default=0.0),
        memory=task.children.memory(task.processes()),
        participant_cpu_s=statistics.fmean(c.cpu_s for c in participants) if participants else 0.0,
        coordinator_cpu_s=coordinator.cpu_s if coordinator is not None else 0.0,
        failed=_failed(task.processes()),
        wall_s=wall_s,
    )


__all__ = ["PaymentFigures", "ProcessesResult", "RoundTiming", "task_figures"]
