"""The pure rules of ``fedmarket status task``: phase, deadlines, overdue, stake release.

Records are built by hand here; the integration tests read the same from a real task on anvil
and hold the overdue verdict to FedTask's own ``abortTask``.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from chain.fed_task import RoundInfo, Schedule, TaskInfo, TaskStatus
from fl_node.status import (
    TaskPhase,
    deadlines_of,
    overdue_of,
    stakes_withdrawable_at,
    task_phase,
)
from kernel.types import Address, Cid, Hash32, Round, TaskId, Wei

T0 = 1_000_000
SCHEDULE = Schedule(
    join_period=100,
    commit_period=10,
    inclusion_period=5,
    reveal_period=10,
    finalize_period=20,
    challenge_period=50,
    open_period=30,
    abort_grace=40,
    stake_cooldown=60,
)
A = Address("0x" + "aa" * 20)


def task(**changes: object) -> TaskInfo:
    info = TaskInfo(
        task_id=TaskId(1), sponsor=A, coordinator=A, status=TaskStatus.JOINING,
        created_at=T0, ended_at=0, total_rounds=3, last_round=Round(0), round_open=False,
        max_participants=4, participant_count=2, quorum=2, slash_bps=0, permissioned=False,
        coordinator_staked=True, open_disputes=0, deadline=T0 + 100, pool=Wei(100),
        unallocated=Wei(100), slashed_in=Wei(0), refunded=Wei(0), participant_stake=Wei(1),
        coordinator_stake=Wei(1), spec_hash=Hash32(b"\x01" * 32), model_hash=Hash32(b"\x02" * 32),
        pending_coordinator=None, replacement_not_before=0, spec_cid=Cid("bafyspec"),
    )  # fmt: skip
    return replace(info, **changes)  # type: ignore[arg-type]


def opened(at: int, round_: int = 1, **changes: object) -> RoundInfo:
    """Round ``round_`` opened at ``at`` with :data:`SCHEDULE`'s periods."""
    commit = at + 10
    info = RoundInfo(
        task_id=TaskId(1), round=Round(round_), commit_deadline=commit, reveal_start=commit + 5,
        reveal_deadline=commit + 15, finalize_deadline=commit + 35, commit_root=Hash32(b"\0" * 32),
        commitments=0, accepted=0, claimable_at=0, finalizer=A, rewards_root=Hash32(b"\0" * 32),
        budget=Wei(0), claimed=Wei(0), disputed=False, flags_cleared=False, flag_count=0,
    )  # fmt: skip
    return replace(info, **changes)  # type: ignore[arg-type]


TRAINING = {"status": TaskStatus.TRAINING, "last_round": Round(1), "round_open": True}


@pytest.mark.parametrize(
    ("now", "phase"),
    [
        (T0 + 50, TaskPhase.COMMIT),
        (T0 + 59, TaskPhase.COMMIT),
        (T0 + 60, TaskPhase.INCLUSION),  # the commit deadline is exclusive, as on-chain
        (T0 + 65, TaskPhase.REVEAL),
        (T0 + 75, TaskPhase.FINALIZE),
        (T0 + 500, TaskPhase.FINALIZE),  # late, and overdue (below)
    ],
)
def test_an_open_round_goes_commit_inclusion_reveal_finalize(now: int, phase: TaskPhase):
    assert task_phase(task(**TRAINING), opened(T0 + 50), 0, now) is phase


def test_joining_between_rounds_challenge_and_ended() -> None:
    assert task_phase(task(), None, 0, T0 + 5) is TaskPhase.JOIN
    between = task(status=TaskStatus.TRAINING, last_round=Round(1), deadline=T0 + 200)
    assert task_phase(between, None, T0 + 150, T0 + 120) is TaskPhase.NEXT_ROUND
    done = task(status=TaskStatus.COMPLETED, last_round=Round(3), ended_at=T0 + 300)
    assert task_phase(done, None, T0 + 350, T0 + 349) is TaskPhase.CHALLENGE
    assert task_phase(done, None, T0 + 350, T0 + 350) is TaskPhase.ENDED
    for status in (TaskStatus.CANCELLED, TaskStatus.ABORTED):
        assert task_phase(task(status=status), None, 0, T0) is TaskPhase.ENDED


def test_deadlines_of_an_open_round_count_down_in_chain_time() -> None:
    found = deadlines_of(task(**TRAINING), SCHEDULE, opened(T0 + 50), 0, T0 + 62)
    assert [(d.name, d.at, d.seconds_left) for d in found] == [
        ("commit", T0 + 60, -2),
        ("reveal_start", T0 + 65, 3),
        ("reveal", T0 + 75, 13),
        ("finalize", T0 + 95, 33),
    ]
    assert [d.passed for d in found] == [True, False, False, False]


def test_deadlines_between_rounds_and_after_the_end() -> None:
    between = task(status=TaskStatus.TRAINING, last_round=Round(1), deadline=T0 + 200)
    found = deadlines_of(between, SCHEDULE, None, T0 + 150, T0 + 120)
    assert [(d.name, d.at) for d in found] == [("open_by", T0 + 200), ("claimable", T0 + 150)]
    done = task(status=TaskStatus.COMPLETED, last_round=Round(3), ended_at=T0 + 300)
    found = deadlines_of(done, SCHEDULE, None, T0 + 350, T0 + 400)
    assert [(d.name, d.at) for d in found] == [
        ("claimable", T0 + 350),
        ("stakes_withdrawable", T0 + 360),  # ended + cooldown, after the last window
    ]


def test_stakes_are_released_after_the_cooldown_and_the_last_window() -> None:
    assert stakes_withdrawable_at(task(**TRAINING), SCHEDULE, 0) == 0
    done = task(status=TaskStatus.COMPLETED, ended_at=T0 + 300)
    assert stakes_withdrawable_at(done, SCHEDULE, T0 + 350) == T0 + 360
    assert stakes_withdrawable_at(done, SCHEDULE, T0 + 400) == T0 + 400
    cancelled = task(status=TaskStatus.CANCELLED, ended_at=T0 + 10)
    assert stakes_withdrawable_at(cancelled, SCHEDULE, 0) == T0 + 10  # no cooldown


def test_a_round_not_finalised_in_time_is_overdue_sponsor_first_then_anyone() -> None:
    info, current = task(**TRAINING), opened(T0 + 50)
    assert overdue_of(info, SCHEDULE, current, T0 + 94) is None
    late = overdue_of(info, SCHEDULE, current, T0 + 95)
    assert late is not None
    assert (late.missed, late.deadline) == ("finalize round 1", T0 + 95)
    assert (late.sponsor_may_abort_at, late.anyone_may_abort_at) == (T0 + 95, T0 + 135)
    assert late.abortable_by_sponsor and not late.abortable_by_anyone
    later = overdue_of(info, SCHEDULE, current, T0 + 135)
    assert later is not None and later.abortable_by_anyone


def test_a_round_not_opened_in_time_is_overdue_and_an_ended_task_never() -> None:
    joining = task()
    assert overdue_of(joining, SCHEDULE, None, T0 + 99) is None
    late = overdue_of(joining, SCHEDULE, None, T0 + 100)
    assert late is not None and late.missed == "open round 1"
    between = task(status=TaskStatus.TRAINING, last_round=Round(2), deadline=T0 + 200)
    late = overdue_of(between, SCHEDULE, None, T0 + 250)
    assert late is not None and late.missed == "open round 3" and late.abortable_by_anyone
    for status in (TaskStatus.COMPLETED, TaskStatus.CANCELLED, TaskStatus.ABORTED):
        assert overdue_of(task(status=status), SCHEDULE, None, T0 + 10**6) is None
