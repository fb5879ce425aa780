"""What the sponsor of a vertical task asks for on chain: pool, schedule, stakes, quorum.

A vertical task is one FedTask round between two participants (the guest and the host), both
needed (quorum 2), joining by the sponsor's EIP-712 invitation (a permissioned task: nobody
else can take a seat). Its timetable is a :class:`~chain.fed_task.Schedule`: where the run
travels past deadlines (:func:`travel_schedule`), realistic periods cost nothing; where it
waits in real time (:func:`waiting_schedule`), the periods are what the run waits for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chain.fed_task import Schedule, TaskConfig

TOKEN = 10**18
"""Wei per whole reward token."""
BPS = 10_000
"""Basis points in a whole."""
HOUR = 3_600
"""Seconds in an hour."""
DAY = 86_400
"""Seconds in a day."""
DATA_ROLES = ("guest", "host")
"""The task's participants, in join order."""
QUORUM = 2
"""Commitments round 1 needs to pay its budget: both model parts."""


def travel_schedule() -> Schedule:
    """The default timetable of a run that travels past its deadlines (it waits for none).

    Realistic periods: round 1 opens within an hour of creation, the parties commit within a
    day (training happens then), a day to finalise, a day's challenge window, a day's stake
    cooldown.
    """
    from chain.fed_task import Schedule

    return Schedule(
        join_period=HOUR,
        commit_period=DAY,
        inclusion_period=HOUR,
        reveal_period=HOUR,
        finalize_period=DAY,
        challenge_period=DAY,
        open_period=DAY,
        abort_grace=DAY,
        stake_cooldown=DAY,
    )


def waiting_schedule(training: int = 900, wait: int = 60) -> Schedule:
    """A timetable for runs that wait for their deadlines in real time.

    Parameters
    ----------
    training : int, default 900
        Seconds of the periods a step must fit in: round 1 opens within ``training`` of the
        task's creation (party start-up and PSI), the parties commit their parts within
        ``training`` of the opening (all the training), the coordinator finalises within
        ``training`` of the reveal deadline; also the open period and the abort grace. The run
        waits for what is left of the commit period after the parts are committed.
    wait : int, default 60
        Seconds of each period the run waits for in full: inclusion, reveal, the challenge
        window and the stake cooldown.
    """
    from chain.fed_task import Schedule

    return Schedule(
        join_period=training,
        commit_period=training,
        inclusion_period=wait,
        reveal_period=wait,
        finalize_period=training,
        challenge_period=wait,
        open_period=training,
        abort_grace=training,
        stake_cooldown=wait,
    )


@dataclass(frozen=True)
class TaskTerms:
    """The task a sponsor creates for one vertical run.

    Attributes
    ----------
    pool : int
        Reward pool escrowed from the sponsor, in wei; round 1 may pay all of it.
    schedule : Schedule or None, default None
        The timetable; ``None`` for :func:`travel_schedule` where the run travels, else
        :func:`waiting_schedule`.
    participant_stake : int, default 0
        Wei the guest and the host each lock to join.
    coordinator_stake : int, default 0
        Wei the coordinator locks before opening round 1.
    slash_bps : int, default 0
        Share of a flagged or stalling party's stake slashed, in basis points.
    data_roles : tuple of str, default DATA_ROLES
        The participants in join order (the guest and each host); all are needed (quorum).
    """

    pool: int
    schedule: Schedule | None = None
    participant_stake: int = 0
    coordinator_stake: int = 0
    slash_bps: int = 0
    data_roles: tuple[str, ...] = DATA_ROLES

    def resolved(self, travels: bool) -> Schedule:
        """The schedule to create the task with.

        Parameters
        ----------
        travels : bool
            Whether the run travels past its deadlines.
        """
        if self.schedule is not None:
            return self.schedule
        return travel_schedule() if travels else waiting_schedule()

    def needs(self) -> dict[str, int]:
        """Wei of reward token each role must hold: the sponsor the pool, stakers their stake."""
        return {
            "sponsor": self.pool,
            "coordinator": self.coordinator_stake,
            **dict.fromkeys(self.data_roles, self.participant_stake),
        }

    def config(
        self, spec_cid: str, spec_hash: bytes, coordinator: str, schedule: Schedule
    ) -> TaskConfig:
        """The ``TaskConfig`` of a one-round permissioned task that needs every participant.

        Parameters
        ----------
        spec_cid : str
            CID of the task spec in the content store.
        spec_hash : bytes
            Keccak-256 of the spec's canonical JSON.
        coordinator : str
            The coordinator's address.
        schedule : Schedule
            The timetable (:meth:`resolved`).
        """
        from chain.fed_task import TaskConfig

        return TaskConfig(
            spec_cid=spec_cid,
            spec_hash=spec_hash,
            coordinator=coordinator,
            pool=self.pool,
            total_rounds=1,
            max_participants=len(self.data_roles),
            schedule=schedule,
            quorum=len(self.data_roles),
            participant_stake=self.participant_stake,
            coordinator_stake=self.coordinator_stake,
            slash_bps=self.slash_bps,
            permissioned=True,
        )


__all__ = [
    "BPS",
    "DATA_ROLES",
    "DAY",
    "HOUR",
    "QUORUM",
    "TOKEN",
    "TaskTerms",
    "travel_schedule",
    "waiting_schedule",
]
