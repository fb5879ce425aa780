"""Incentives: contribution measurement and the reward policy that pays for it.

Everything here is pure: typed inputs in, dataclasses out, no I/O. The coordinator feeds it
utilities measured on its validation data; the contract's on-chain split mirrors
:func:`split_proportional` exactly.
"""

from incentives.contribution import (
    ContributionEstimator,
    ContributionResult,
    ExactShapley,
    LeaveOneOut,
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
    "SCORE_SCALE",
    "ContributionEstimator",
    "ContributionResult",
    "ExactShapley",
    "LeaveOneOut",
    "RoundRewards",
    "allocate_round",
    "round_budget",
    "scores_to_fixed",
    "shares_bps",
    "split_proportional",
]
