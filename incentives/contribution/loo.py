"""Leave-one-out contribution: what the full aggregate loses without a participant."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from incentives.contribution.base import (
    CachedUtility,
    ContributionEstimator,
    ContributionResult,
    Utility,
    check_inputs,
)


@dataclass(frozen=True)
class LeaveOneOut(ContributionEstimator):
    r"""``score_i = U(N) - U(N \ {i})``: ``n + 1`` utility evaluations.

    Cheap and simple, but blind to redundancy: two participants with identical data each look
    useless, since either can be removed without loss. The Shapley family fixes that, at a
    higher cost. Deterministic: the seed is only recorded.
    """

    name: ClassVar[str] = "leave-one-out"

    def estimate(self, n: int, utility: Utility, *, seed: int = 0) -> ContributionResult:
        """Score participants ``0..n-1`` (see the class docstring).

        Parameters
        ----------
        n : int
            Number of participants.
        utility : callable
            Maps a coalition to the value of its aggregate.
        seed : int, default 0
            Recorded only.
        """
        check_inputs(n, seed, "LeaveOneOut")
        cached = CachedUtility(utility)
        if n == 0:
            return ContributionResult(method=self.name, scores=[], seed=seed)
        everyone = frozenset(range(n))
        full = cached(everyone)
        scores = [full - cached(everyone - {i}) for i in range(n)]
        return ContributionResult(
            method=self.name, scores=scores, utilities=cached.values, seed=seed
        )
