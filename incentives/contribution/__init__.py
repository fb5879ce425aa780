"""Contribution measurement: estimators that score participants from a utility over coalitions."""

from incentives.contribution.base import (
    CachedUtility,
    Coalition,
    ContributionEstimator,
    ContributionResult,
    Utility,
    coalition_key,
)
from incentives.contribution.loo import LeaveOneOut
from incentives.contribution.shapley import ExactShapley

__all__ = [
    "CachedUtility",
    "Coalition",
    "ContributionEstimator",
    "ContributionResult",
    "ExactShapley",
    "LeaveOneOut",
    "Utility",
    "coalition_key",
]
