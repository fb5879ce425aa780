"""What a round pays and what its contributors own: rules the coordinator and the audit share.

- :func:`allocate_within_cap`: the round's budget is its on-chain cap (an equal share of what is
  left), split in proportion to the fixed-point contributions of the accepted updates
  (:func:`incentives.split_proportional`); a round below quorum, or whose accepted updates all
  scored nothing, pays 0.
- :func:`reward_split`: those amounts as the evidence writes them, with the Merkle leaves and root
  that ``finalizeRound`` posts and ``claimRewards`` proves against.
- :func:`shares_record`: the last round's shares, basis points of each participant's positive
  contributions summed over every round (:func:`incentives.shares.shares_bps`), the rule rounds
  pay by.
"""

from __future__ import annotations

from collections.abc import Sequence

from chain.commitments import RewardTree
from fl_node.commitments import hex32
from fl_node.evidence import RewardLeaf, RewardSplit, RoundEvidence, SharesRecord
from incentives import RoundRewards, scores_to_fixed, split_proportional
from incentives.shares import shares_bps
from kernel.types import Address

SPLIT_DESCRIPTION = (
    "budget = roundCap when at least quorum updates are accepted and their scores are not all 0, "
    "else 0; amount_i = floor(budget*C_i/S) - floor(budget*C_(i-1)/S)"
)
"""How amounts follow from scores, as the evidence states it."""


def allocate_within_cap(
    contributions: Sequence[float], accepted: Sequence[bool], cap: int, quorum: int
) -> RoundRewards:
    """The round's budget, fixed-point scores and amounts.

    Parameters
    ----------
    contributions : sequence of float
        Measured contribution per participant (join order).
    accepted : sequence of bool
        Whether each participant's update was accepted (others score 0).
    cap : int
        The round's on-chain budget cap, in wei.
    quorum : int
        Accepted updates the round needs to pay anything.
    """
    fixed = scores_to_fixed(contributions)
    scores = [s if ok else 0 for s, ok in zip(fixed, accepted, strict=True)]
    budget = cap if sum(accepted) >= quorum else 0
    amounts = split_proportional(budget, scores)
    return RoundRewards(budget=sum(amounts), scores=scores, amounts=amounts)


def reward_split(
    task_id: int,
    round: int,
    participants: Sequence[Address],
    cap: int,
    rewards: RoundRewards,
) -> RewardSplit:
    """The evidence's record of the round's rewards, with the leaves and the root.

    Parameters
    ----------
    task_id : int
        The task.
    round : int
        The round.
    participants : sequence of Address
        The participants in join order (``rewards`` lists them in this order).
    cap : int
        The round's budget cap.
    rewards : RoundRewards
        Budget, scores and amounts (:func:`allocate_within_cap`).
    """
    leaves = tuple(
        RewardLeaf(p, int(a)) for p, a in zip(participants, rewards.amounts, strict=True) if a
    )
    tree = RewardTree.build(task_id, round, {leaf.account: leaf.amount for leaf in leaves})
    return RewardSplit(
        cap=cap,
        budget=rewards.budget,
        scores=tuple(rewards.scores),
        amounts=tuple(rewards.amounts),
        split=SPLIT_DESCRIPTION,
        root=hex32(tree.root),
        leaves=leaves,
    )


def cumulative_contributions(rounds: Sequence[Sequence[float]]) -> list[float]:
    """Each participant's positive contributions summed over ``rounds`` (in round order).

    A round pays only positive scores (a negative one earns nothing, it is not a debt), so the
    shares of the model's sales follow the same rule: a round that hurt the model adds 0, it does
    not take away what earlier rounds earned.

    Parameters
    ----------
    rounds : sequence of sequence of float
        Per round, the contribution of each participant in join order (0 unless accepted).
    """
    if not rounds:
        return []
    totals = [0.0] * len(rounds[0])
    for scores in rounds:
        totals = [t + max(s, 0.0) for t, s in zip(totals, scores, strict=True)]
    return totals


def contributions_of(evidence: Sequence[RoundEvidence]) -> list[list[float]]:
    """The contributions each round's evidence records, in round order.

    Parameters
    ----------
    evidence : sequence of RoundEvidence
        The rounds' evidence.
    """
    return [list(e.contribution.scores) for e in evidence]


def shares_record(cumulative: Sequence[float]) -> SharesRecord:
    """The last round's shares of the cumulative contributions.

    Parameters
    ----------
    cumulative : sequence of float
        Each participant's contribution over the task, in join order.
    """
    return SharesRecord(contributions=tuple(cumulative), bps=tuple(shares_bps(cumulative)))


__all__ = [
    "SPLIT_DESCRIPTION",
    "allocate_within_cap",
    "contributions_of",
    "cumulative_contributions",
    "reward_split",
    "shares_record",
]
