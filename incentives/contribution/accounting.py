"""Multi-round accounting: the rounds' contribution scores, added up into the final model shares.

A task runs many rounds; each round's estimator scores the participants whose updates it
accepted. :class:`ContributionLedger` keeps those per-round scores (:class:`RoundScores`) and
folds them into one cumulative contribution per participant, which fixes the participants' shares
of the final model's sales (basis points summing to exactly 10,000, via
:func:`incentives.shares.shares_bps`).

The rule for negative scores. A negative round score counts as 0 in the cumulative: a round that
a participant's update made worse earns it nothing, but is not a debt against what it earned in
other rounds. Why:

- per-round scores of a nearly converged model are small and noisy around 0; letting noise
  subtract from genuine earlier contributions would make shares a lottery;
- it matches the per-round rewards, which pay positive scores only (a negative score earns 0), so
  the shares follow what the rounds paid for;
- the cumulative never decreases, so a participant cannot lose its share by taking part.

The price: a participant that alternates harmful and helpful updates keeps the credit for the
helpful ones. Harmful updates are meant to be stopped earlier, by validation (rejected updates
score 0) and by the estimators (a harmful update scores <= 0 and is paid nothing that round).

The fold is sequential, in round order, starting from 0.0, so it is reproducible bit for bit.
Everything here is pure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from incentives.contribution.base import ContributionResult
from incentives.shares import shares_bps
from kernel.errors import InvalidInputError


@dataclass(frozen=True)
class RoundScores:
    """One round's contribution scores, one per participant in join order.

    Attributes
    ----------
    round : int
        The round number (>= 0).
    scores : tuple of float
        One finite score per participant of the task, 0 for those whose update was not accepted;
        may be negative.
    method : str, default ""
        The estimator that measured them.
    seed : int, default 0
        The estimator's seed.
    """

    round: int
    scores: tuple[float, ...]
    method: str = ""
    seed: int = 0

    def __post_init__(self) -> None:
        """Refuse a negative round or a non-finite score."""
        if self.round < 0:
            raise InvalidInputError(f"RoundScores: negative round {self.round}")
        if any(not math.isfinite(s) for s in self.scores):
            raise InvalidInputError(f"RoundScores: round {self.round} has a non-finite score")

    @classmethod
    def from_result(
        cls,
        round_: int,
        result: ContributionResult,
        positions: Sequence[int],
        n_participants: int,
    ) -> RoundScores:
        """A round's scores in join order from an estimate over its accepted updates.

        Parameters
        ----------
        round_ : int
            The round number.
        result : ContributionResult
            The estimate; its ``scores[k]`` belongs to participant ``positions[k]``.
        positions : sequence of int
            Join-order position of each scored update (distinct, in ``0..n_participants-1``).
        n_participants : int
            Participants of the task; those not in ``positions`` score 0.
        """
        if len(positions) != len(result.scores) or len(set(positions)) != len(positions):
            raise InvalidInputError("RoundScores.from_result: positions do not match the scores")
        if any(not 0 <= p < n_participants for p in positions):
            raise InvalidInputError("RoundScores.from_result: a position is out of range")
        scores = [0.0] * n_participants
        for position, score in zip(positions, result.scores, strict=True):
            scores[position] = score
        return cls(round=round_, scores=tuple(scores), method=result.method, seed=result.seed)


@dataclass(frozen=True)
class ContributionLedger:
    """The per-round scores of a task's participants, and what they add up to.

    Attributes
    ----------
    n_participants : int
        Participants of the task (join order).
    rounds : tuple of RoundScores, default ()
        Recorded rounds, in strictly increasing round order.
    """

    n_participants: int
    rounds: tuple[RoundScores, ...] = ()

    def __post_init__(self) -> None:
        """Refuse rounds of the wrong width or out of order."""
        if self.n_participants < 1:
            raise InvalidInputError("ContributionLedger: needs at least one participant")
        for entry in self.rounds:
            if len(entry.scores) != self.n_participants:
                raise InvalidInputError(
                    f"ContributionLedger: round {entry.round} has {len(entry.scores)} scores "
                    f"for {self.n_participants} participants"
                )
        numbers = [entry.round for entry in self.rounds]
        if any(b <= a for a, b in zip(numbers, numbers[1:], strict=False)):
            raise InvalidInputError("ContributionLedger: rounds must be in increasing order")

    def record(self, scores: RoundScores) -> ContributionLedger:
        """A ledger with ``scores`` appended (it must come after every recorded round)."""
        return ContributionLedger(self.n_participants, (*self.rounds, scores))

    def cumulative(self) -> tuple[float, ...]:
        """Each participant's positive round scores summed in round order (negatives count 0)."""
        totals = [0.0] * self.n_participants
        for entry in self.rounds:
            totals = [t + max(s, 0.0) for t, s in zip(totals, entry.scores, strict=True)]
        return tuple(totals)

    def net(self) -> tuple[float, ...]:
        """Each participant's signed round scores summed in round order (for reports only)."""
        totals = [0.0] * self.n_participants
        for entry in self.rounds:
            totals = [t + s for t, s in zip(totals, entry.scores, strict=True)]
        return tuple(totals)

    def shares_bps(self) -> list[int]:
        """The final model-sale shares: basis points of :meth:`cumulative`, summing to 10,000.

        Largest remainder (see :func:`incentives.shares.shares_bps`); if nobody has a positive
        cumulative score the shares are equal.
        """
        return shares_bps(self.cumulative())


__all__ = ["ContributionLedger", "RoundScores"]
