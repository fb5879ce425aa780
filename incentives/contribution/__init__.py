"""Contribution measurement: estimators that score participants from a utility over coalitions.

Estimators (one file each, a common interface in :mod:`~incentives.contribution.base`):
leave-one-out, exact Shapley, GTG-Shapley and TMC-Shapley, by name in :data:`ESTIMATORS`.
:mod:`~incentives.contribution.accounting` adds the rounds' scores up into the final shares.
"""

from incentives.contribution.accounting import ContributionLedger, RoundScores
from incentives.contribution.base import (
    CachedUtility,
    Coalition,
    ContributionEstimator,
    ContributionResult,
    UnrecordedCoalitionError,
    Utility,
    coalition_key,
    lookup_utility,
)
from incentives.contribution.gtg import GtgShapley
from incentives.contribution.loo import LeaveOneOut
from incentives.contribution.registry import ESTIMATORS, make_estimator
from incentives.contribution.shapley import ExactShapley
from incentives.contribution.tmc import TmcShapley

__all__ = [
    "ESTIMATORS",
    "CachedUtility",
    "Coalition",
    "ContributionEstimator",
    "ContributionLedger",
    "ContributionResult",
    "ExactShapley",
    "GtgShapley",
    "LeaveOneOut",
    "RoundScores",
    "TmcShapley",
    "UnrecordedCoalitionError",
    "Utility",
    "coalition_key",
    "lookup_utility",
    "make_estimator",
]
