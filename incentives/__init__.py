"""Incentives: contribution measurement and the reward policy that pays for it.

Everything here is pure: typed inputs in, dataclasses out, no I/O. The coordinator feeds it
utilities measured on its validation data; the contract's on-chain split mirrors
:func:`split_proportional` exactly.
"""

from incentives.contribution import (
    ESTIMATORS,
    ContributionEstimator,
    ContributionLedger,
    ContributionResult,
    ExactShapley,
    GtgShapley,
    LeaveOneOut,
    RoundScores,
    TmcShapley,
    lookup_utility,
    make_estimator,
)
from incentives.rewards import (
    SCORE_SCALE,
    RoundRewards,
    allocate_round,
    round_budget,
    scores_to_fixed,
    split_proportional,
)
from incentives.shares import shares_bps

__all__ = [
    "ESTIMATORS",
    "SCORE_SCALE",
    "ContributionEstimator",
    "ContributionLedger",
    "ContributionResult",
    "ExactShapley",
    "GtgShapley",
    "LeaveOneOut",
    "RoundRewards",
    "RoundScores",
    "TmcShapley",
    "allocate_round",
    "lookup_utility",
    "make_estimator",
    "round_budget",
    "scores_to_fixed",
    "shares_bps",
    "split_proportional",
]
