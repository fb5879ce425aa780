"""Exact Shapley values by enumerating every coalition (2^n utility evaluations).

Fine for a handful of players (four hospitals, two feature groups of a vertical task) and the
reference the sampled estimators (:mod:`~incentives.contribution.gtg`,
:mod:`~incentives.contribution.tmc`) are tested against.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from math import factorial
from typing import ClassVar

from incentives.contribution.base import (
    CachedUtility,
    ContributionEstimator,
    ContributionResult,
    Utility,
    check_inputs,
)
from kernel.errors import InvalidInputError

MAX_EXACT_PLAYERS = 16


@dataclass(frozen=True)
class ExactShapley(ContributionEstimator):
    """``phi_i = sum over S not containing i of |S|!(n-|S|-1)!/n! * (U(S+i) - U(S))``.

    The scores sum to ``U(N) - U(empty)`` (efficiency). Deterministic: the seed is only recorded.
    """

    name: ClassVar[str] = "shapley-exact"

    def estimate(self, n: int, utility: Utility, *, seed: int = 0) -> ContributionResult:
        """Score participants ``0..n-1`` exactly (refuses more than 16 players).

        Parameters
        ----------
        n : int
            Number of participants, at most :data:`MAX_EXACT_PLAYERS`.
        utility : callable
            Maps a coalition to the value of its aggregate.
        seed : int, default 0
            Recorded only.
        """
        check_inputs(n, seed, "ExactShapley")
        if n > MAX_EXACT_PLAYERS:
            raise InvalidInputError(f"ExactShapley: {n} players is too many for exact enumeration")
        cached = CachedUtility(utility)
        weights = [factorial(k) * factorial(n - k - 1) / factorial(n) for k in range(n)]
        scores = [0.0] * n
        for i in range(n):
            others = [j for j in range(n) if j != i]
            for k in range(n):
                for subset in combinations(others, k):
                    s = frozenset(subset)
                    scores[i] += weights[k] * (cached(s | {i}) - cached(s))
        return ContributionResult(
            method=self.name, scores=scores, utilities=cached.values, seed=seed
        )
