"""TMC-Shapley: truncated Monte-Carlo Shapley values.

Reference: A. Ghorbani, J. Zou, "Data Shapley: Equitable Valuation of Data for Machine Learning",
ICML 2019 (the "truncated Monte Carlo" algorithm).

The idea, in our words. Sample orders of the participants uniformly at random; walking each order,
add the participants one by one and credit each with the utility gained when it joined. The mean
credit over many orders converges to the Shapley value. Since late joiners of a large coalition
change little, the walk stops (the rest are credited 0 and not evaluated) once the prefix's
utility is within a tolerance of the full coalition's. The paper states the tolerance against the
performance of the whole data set; here it is relative to the round's improvement
``|U(N) - U(empty)|``, which is scale-free for any utility (our utilities are negative losses).
Sampling stops when the relative L1 change of the estimates over the last ``window``
permutations is at most ``tolerance`` (tested from ``min_permutations`` on), or after
``max_permutations`` permutations (or ``max_evaluations`` coalitions, if set).

Unlike :class:`~incentives.contribution.gtg.GtgShapley` there is no between-round truncation and
no guided first position: TMC is the plain baseline GTG improves on.
"""

from __future__ import annotations

import logging
import random
from dataclasses import asdict, dataclass
from typing import ClassVar

from incentives.contribution._sampling import (
    RunningShapley,
    budget_left,
    check_count,
    check_finite,
    check_sampling_params,
    shuffled,
    walk,
)
from incentives.contribution.base import (
    CachedUtility,
    ContributionEstimator,
    ContributionResult,
    Utility,
    check_inputs,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TmcShapley(ContributionEstimator):
    """Truncated Monte-Carlo Shapley estimator (see the module docstring).

    Parameters
    ----------
    truncation : float, default 0.05
        Stop a walk once ``|U(N) - U(prefix)| <= truncation * |U(N) - U(empty)|``; a negative
        value never truncates.
    tolerance : float, default 0.03
        Stop when the relative L1 change of the estimates over ``window`` permutations is at
        most this.
    window : int, default 10
        Permutations the change is measured over.
    min_permutations : int, default 30
        Permutations sampled before convergence is tested.
    max_permutations : int, default 500
        Hard cap on the permutations sampled.
    max_evaluations : int, default 0
        Cap on distinct coalitions evaluated (0: none); tested before each permutation, so it
        may be overshot by at most ``n - 1``.
    """

    name: ClassVar[str] = "shapley-tmc"

    truncation: float = 0.05
    tolerance: float = 0.03
    window: int = 10
    min_permutations: int = 30
    max_permutations: int = 500
    max_evaluations: int = 0

    def __post_init__(self) -> None:
        """Refuse parameters out of range."""
        check_sampling_params(
            "TmcShapley", self.tolerance, self.min_permutations, self.max_permutations, 0.0
        )
        check_finite("TmcShapley", "truncation", self.truncation)
        check_count("TmcShapley", "window", self.window, 1)
        check_count("TmcShapley", "max_evaluations", self.max_evaluations, 0)

    def params(self) -> dict[str, float]:
        """The parameters by name, as recorded in the result."""
        return dict(asdict(self))

    def estimate(self, n: int, utility: Utility, *, seed: int = 0) -> ContributionResult:
        """Score participants ``0..n-1`` by truncated Monte-Carlo sampling.

        Parameters
        ----------
        n : int
            Number of participants.
        utility : callable
            Maps a coalition to the value of its aggregate.
        seed : int, default 0
            Seed of the permutations (``random.Random(seed)``).
        """
        check_inputs(n, seed, "TmcShapley")
        cached = CachedUtility(utility)
        running = RunningShapley(n)
        if n > 0:
            empty, full = cached(frozenset()), cached(frozenset(range(n)))
            cutoff = self.truncation * abs(full - empty)
            rng = random.Random(seed)
            while budget_left(running.count, self.max_permutations, cached, self.max_evaluations):
                running.add(walk(shuffled(rng, range(n)), cached, (empty, full), cutoff))
                if running.count >= self.min_permutations and (
                    running.relative_change(self.window) <= self.tolerance
                ):
                    break
        log.debug(
            "TmcShapley: %s permutations, %s evaluations for %s players",
            running.count,
            len(cached.values),
            n,
        )
        return ContributionResult(
            method=self.name,
            scores=running.estimates(),
            utilities=cached.values,
            seed=seed,
            params=self.params(),
            permutations=running.count,
        )
