"""Turning contribution scores into token amounts: pure integer functions, no wei lost or created.

The split is the one the FedTask contract computes on-chain in ``finalizeRound``; this module is its
reference, used by the coordinator to predict what each participant is paid and by auditors to
check it. With ``S = sum(scores)`` and prefix sums ``C_i``::

    amount_i = floor(budget * C_i / S) - floor(budget * C_(i-1) / S)

The amounts telescope to exactly ``budget``, each within one wei of ``budget * s_i / S``, and
participants with a zero score get zero. With ``S == 0`` nothing is paid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from kernel.errors import InvalidInputError

SCORE_SCALE = 10**18
"""Fixed-point scale of on-chain scores: a contribution of 1.0 is ``10**18``."""


def split_proportional(budget: int, scores: Sequence[int]) -> list[int]:
    """Split ``budget`` in proportion to non-negative integer ``scores``.

    Parameters
    ----------
    budget : int
        Amount to split, in wei (>= 0).
    scores : sequence of int
        One non-negative score per participant.

    Returns
    -------
    list[int]
        One amount per participant; sums to ``budget`` exactly, or to 0 when every score is 0.
    """
    if budget < 0:
        raise InvalidInputError("split_proportional: negative budget")
    if any(s < 0 for s in scores):
        raise InvalidInputError("split_proportional: negative score")
    total = sum(scores)
    if total == 0:
        return [0] * len(scores)
    amounts: list[int] = []
    cumulative = 0
    previous = 0
    for score in scores:
        cumulative += score
        current = budget * cumulative // total
        amounts.append(current - previous)
        previous = current
    return amounts


def round_budget(escrow_remaining: int, rounds_left: int) -> int:
    """The budget of the next round: an equal share of what is left, the last round taking all.

    Budgets a round did not spend (all scores zero) roll over to the rounds after it.

    Parameters
    ----------
    escrow_remaining : int
        Wei left in the task's escrow.
    rounds_left : int
        Rounds not yet finalised, this one included (>= 1).
    """
    if rounds_left < 1:
        raise InvalidInputError("round_budget: no round left")
    if escrow_remaining < 0:
        raise InvalidInputError("round_budget: negative escrow")
    return escrow_remaining // rounds_left


def scores_to_fixed(contributions: Sequence[float], scale: int = SCORE_SCALE) -> list[int]:
    """Fixed-point on-chain scores from real-valued contributions.

    Negative and non-finite contributions score 0 (a participant whose update hurt the model earns
    nothing for it); the rest are floored to ``scale`` units.
    """
    out: list[int] = []
    for c in contributions:
        if not math.isfinite(c) or c <= 0:
            out.append(0)
        else:
            out.append(math.floor(c * scale))
    return out


@dataclass(frozen=True)
class RoundRewards:
    """The rewards of one round as the contract will compute them."""

    budget: int
    scores: list[int]
    amounts: list[int]

    @property
    def paid(self) -> int:
        """Wei paid out this round (``budget`` or 0)."""
        return sum(self.amounts)


def allocate_round(
    contributions: Sequence[float],
    escrow_remaining: int,
    rounds_left: int,
    *,
    eligible: Sequence[bool] | None = None,
) -> RoundRewards:
    """Budget, on-chain scores and amounts of one round.

    Parameters
    ----------
    contributions : sequence of float
        Measured contribution per participant (join order).
    escrow_remaining : int
        Wei left in escrow before this round.
    rounds_left : int
        Rounds not yet finalised, this one included.
    eligible : sequence of bool or None, default None
        ``False`` forces a participant's score to 0 (rejected or missing update, flagged as
        malicious).
    """
    scores = scores_to_fixed(contributions)
    if eligible is not None:
        if len(eligible) != len(scores):
            raise InvalidInputError("allocate_round: eligible and contributions differ in length")
        scores = [s if ok else 0 for s, ok in zip(scores, eligible, strict=True)]
    budget = round_budget(escrow_remaining, rounds_left)
    return RoundRewards(budget=budget, scores=scores, amounts=split_proportional(budget, scores))
