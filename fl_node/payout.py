"""What a round pays and what its contributors own: rules the coordinator and the audit share.

- :func:`contribution_seed`: the seed of a round's contribution estimator, fixed by the round's
  opening model and number, so that no coordinator can pick the permutations it likes.
- :func:`round_improvement`: ``v(all accepted) - v(none)`` from the round's coalition utilities,
  the measured gain the improvement budget follows.
- :func:`round_rewards`: the round's budget under the spec's :class:`incentives.RewardPolicy`
  (:func:`incentives.rewards.round_budget_for`) split among accepted updates with a positive
  score (:func:`incentives.rewards.allocate_rewards`); a round below quorum pays 0.
- :func:`reward_split`: those amounts as the evidence writes them, with the Merkle leaves and root
  that ``finalizeRound`` posts and ``claimRewards`` proves against.
- :func:`shares_record`: the last round's shares, basis points of each participant's positive
  contributions summed over every round (:func:`incentives.shares.shares_bps`), the rule rounds
  pay by.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from eth_utils.crypto import keccak

from chain.commitments import RewardTree
from fl_node.commitments import hex32
from fl_node.evidence import RewardLeaf, RewardSplit, RoundEvidence, SharesRecord
from incentives import RoundRewards, scores_to_fixed
from incentives.contribution import coalition_key
from incentives.rewards import RewardPolicy, allocate_rewards, round_budget_for
from incentives.shares import shares_bps
from kernel.types import Address


@dataclass(frozen=True)
class RoundTerms:
    """What fixes a round's budget besides the scores: chain state and the spec's policy.

    Attributes
    ----------
    policy : RewardPolicy
        The task spec's reward policy.
    cap : int
        The round's on-chain cap (``roundCap``) when it is finalised, in wei.
    quorum : int
        Accepted updates the round needs to pay anything.
    pool : int
        The task's pool as deposited, in wei.
    rounds : int
        The task's rounds.
    """

    policy: RewardPolicy
    cap: int
    quorum: int
    pool: int
    rounds: int


def contribution_seed(base_model_hash: str | bytes, round_: int) -> int:
    """The round's estimator seed: 53 bits of ``keccak(base model hash || round)``.

    The opening model is fixed before any update is seen, so the coordinator cannot grind the
    seed for sampled permutations that favour someone; anyone can recompute it. 53 bits stay
    exact in every JSON reader.

    Parameters
    ----------
    base_model_hash : str or bytes
        The round's opening model hash (32 bytes, or ``0x`` hex).
    round_ : int
        The round.
    """
    raw = (
        bytes.fromhex(base_model_hash.removeprefix("0x"))
        if isinstance(base_model_hash, str)
        else base_model_hash
    )
    digest = keccak(raw + round_.to_bytes(32, "big"))
    return int.from_bytes(digest[:8], "big") >> 11


def round_improvement(utilities: Mapping[str, float], accepted: int) -> float:
    """``v(all accepted updates) - v(none)``: the round's measured gain (0.0 with no updates).

    Parameters
    ----------
    utilities : mapping of str to float
        The round's recorded coalition utilities (by ``coalition_key``).
    accepted : int
        How many updates were accepted (the coalition indices are ``0..accepted-1``).

    Returns
    -------
    float
        The gain; NaN when either utility is missing or not finite (a round that pays nothing
        under an improvement budget).
    """
    if accepted == 0:
        return 0.0
    full = utilities.get(coalition_key(frozenset(range(accepted))))
    empty = utilities.get(coalition_key(frozenset()))
    if full is None or empty is None or not math.isfinite(full - empty):
        return math.nan
    return float(full - empty)


def round_rewards(
    terms: RoundTerms, contributions: Sequence[float], accepted: Sequence[bool], improvement: float
) -> RoundRewards:
    """The round's budget under the policy, split among accepted positive scores.

    Parameters
    ----------
    terms : RoundTerms
        Policy, cap, quorum, pool and rounds.
    contributions : sequence of float
        Measured contribution per participant (join order; 0 unless accepted).
    accepted : sequence of bool
        Whether each participant's update was accepted.
    improvement : float
        The round's measured gain (:func:`round_improvement`).
    """
    budget = 0
    if sum(accepted) >= terms.quorum:
        budget = round_budget_for(
            terms.policy, terms.cap, improvement, pool=terms.pool, rounds=terms.rounds
        )
    return allocate_rewards(terms.policy, budget, scores_to_fixed(contributions), accepted)


def reward_split(
    task_id: int,
    round: int,
    participants: Sequence[Address],
    terms: RoundTerms,
    rewards: RoundRewards,
    improvement: float,
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
    terms : RoundTerms
        The round's cap and the spec's policy.
    rewards : RoundRewards
        Budget, scores and amounts (:func:`round_rewards`).
    improvement : float
        The round's measured gain the budget followed.
    """
    leaves = tuple(
        RewardLeaf(p, int(a)) for p, a in zip(participants, rewards.amounts, strict=True) if a
    )
    tree = RewardTree.build(task_id, round, {leaf.account: leaf.amount for leaf in leaves})
    return RewardSplit(
        cap=terms.cap,
        budget=rewards.budget,
        scores=tuple(rewards.scores),
        amounts=tuple(rewards.amounts),
        split=terms.policy.describe(),
        improvement=improvement if math.isfinite(improvement) else None,
        policy=terms.policy.to_dict(),
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
    "RoundTerms",
    "contribution_seed",
    "contributions_of",
    "cumulative_contributions",
    "reward_split",
    "round_improvement",
    "round_rewards",
    "shares_record",
]
