"""Leave-one-out contribution: what the full aggregate loses without a participant."""

from __future__ import annotations

from incentives.contribution.base import (
    CachedUtility,
    ContributionEstimator,
    ContributionResult,
    Utility,
)


class LeaveOneOut(ContributionEstimator):
    r"""``score_i = U(N) - U(N \ {i})``: ``n + 1`` utility evaluations.

    Cheap and simple, but blind to redundancy: two participants with identical data each look
    useless, since either can be removed without loss. The Shapley family fixes that, at a
    higher cost.
    """

    name = "leave-one-out"

    def estimate(self, n: int, utility: Utility) -> ContributionResult:
        """Score participants ``0..n-1`` (see the class docstring)."""
        cached = CachedUtility(utility)
        everyone = frozenset(range(n))
        full = cached(everyone)
        scores = [full - cached(everyone - {i}) for i in range(n)]
        return ContributionResult(method=self.name, scores=scores, utilities=cached.values)
