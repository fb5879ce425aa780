"""Turning contribution scores into token amounts: pure integer functions, no wei lost or created.

Two layers live here.

**The reward policy** (:class:`RewardPolicy`, fixed in the task spec) decides how much a round pays
and how it is split; ``docs/incentives.md`` states it and its incentive properties:

- :func:`round_budget_for`: the round's budget. ``"even"`` pays the whole limit every round;
  ``"improvement"`` pays ``limit * clamp(improvement / full_at, 0, 1)``, where ``improvement`` is
  the gain of the global model on the coordinator's validation metric, converted once to fixed
  point (:func:`to_fixed`, exact floor). The limit is the round's on-chain cap (``"carry"``: what a
  round does not earn stays in escrow and raises later caps) or ``min(cap, pool // rounds)``
  (``"return"``: it stays in escrow for the sponsor's ``withdrawRemainder``).
- :func:`allocate_rewards`: the split. Only accepted updates with a positive score earn; an
  optional floor (``floor_bps`` of the budget) is shared equally among them and the rest in
  proportion to the scores, both in one largest-remainder apportionment (:func:`apportion`): the
  amounts sum to exactly the budget, each within one wei of its exact real-valued share, a larger
  score never earns less, and equal scores differ by at most one wei.

**The legacy split** (:func:`split_proportional`, :func:`allocate_round`): the whole cap split by
prefix floors, with ``S = sum(scores)`` and prefix sums ``C_i``::

    amount_i = floor(budget * C_i / S) - floor(budget * C_(i-1) / S)

The amounts telescope to exactly ``budget``, each within one wei of ``budget * s_i / S``, and
participants with a zero score get zero. With ``S == 0`` nothing is paid.

The coordinator uses these functions to fix what each participant is paid (the amounts become the
leaves of the round's reward root) and the audit to check it, so everything after the one
conversion from float is integer arithmetic and reproduces bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Literal, cast

from kernel.errors import InvalidInputError

SCORE_SCALE = 10**18
"""Fixed-point scale of on-chain scores: a contribution of 1.0 is ``10**18``."""


def split_proportional(budget: int, scores: Sequence[int]) -> list[int]:
    """Split ``budget`` in proportion to non-negative integer ``scores``.

    Parameters
    ----------
    budget : int
        Amount to split, in wei (>= 0).
    scores : sequence of int
        One non-negative score per participant.

    Returns
    -------
    list[int]
        One amount per participant; sums to ``budget`` exactly, or to 0 when every score is 0.
    """
    if budget < 0:
        raise InvalidInputError("split_proportional: negative budget")
    if any(s < 0 for s in scores):
        raise InvalidInputError("split_proportional: negative score")
    total = sum(scores)
    if total == 0:
        return [0] * len(scores)
    amounts: list[int] = []
    cumulative = 0
    previous = 0
    for score in scores:
        cumulative += score
        current = budget * cumulative // total
        amounts.append(current - previous)
        previous = current
    return amounts


def round_budget(escrow_remaining: int, rounds_left: int) -> int:
    """The budget of the next round: an equal share of what is left, the last round taking all.

    Budgets a round did not spend (all scores zero) roll over to the rounds after it.

    Parameters
    ----------
    escrow_remaining : int
        Wei left in the task's escrow.
    rounds_left : int
        Rounds not yet finalised, this one included (>= 1).
    """
    if rounds_left < 1:
        raise InvalidInputError("round_budget: no round left")
    if escrow_remaining < 0:
        raise InvalidInputError("round_budget: negative escrow")
    return escrow_remaining // rounds_left


def scores_to_fixed(contributions: Sequence[float], scale: int = SCORE_SCALE) -> list[int]:
    """Fixed-point on-chain scores from real-valued contributions.

    Negative and non-finite contributions score 0 (a participant whose update hurt the model earns
    nothing for it); the rest are floored to ``scale`` units.
    """
    out: list[int] = []
    for c in contributions:
        if not math.isfinite(c) or c <= 0:
            out.append(0)
        else:
            out.append(math.floor(c * scale))
    return out


@dataclass(frozen=True)
class RoundRewards:
    """The rewards of one round as the contract will compute them."""

    budget: int
    scores: list[int]
    amounts: list[int]

    @property
    def paid(self) -> int:
        """Wei paid out this round (``budget`` or 0)."""
        return sum(self.amounts)


def allocate_round(
    contributions: Sequence[float],
    escrow_remaining: int,
    rounds_left: int,
    *,
    eligible: Sequence[bool] | None = None,
) -> RoundRewards:
    """Budget, on-chain scores and amounts of one round.

    Parameters
    ----------
    contributions : sequence of float
        Measured contribution per participant (join order).
    escrow_remaining : int
        Wei left in escrow before this round.
    rounds_left : int
        Rounds not yet finalised, this one included.
    eligible : sequence of bool or None, default None
        ``False`` forces a participant's score to 0 (rejected or missing update, flagged as
        malicious).
    """
    scores = scores_to_fixed(contributions)
    if eligible is not None:
        if len(eligible) != len(scores):
            raise InvalidInputError("allocate_round: eligible and contributions differ in length")
        scores = [s if ok else 0 for s, ok in zip(scores, eligible, strict=True)]
    budget = round_budget(escrow_remaining, rounds_left)
    return RoundRewards(budget=budget, scores=scores, amounts=split_proportional(budget, scores))


BPS = 10_000
"""Basis points in a whole."""

MAX_FLOOR_BPS = 5_000
"""The largest participation floor: at least half of a budget always follows the scores."""

BudgetRule = Literal["even", "improvement"]
"""How a round's budget is set: the whole limit, or the share of it its improvement earns."""

UnspentRule = Literal["carry", "return"]
"""Where a budget a round does not earn goes: later rounds' caps, or back to the sponsor."""

_BUDGET_RULES: tuple[BudgetRule, ...] = ("even", "improvement")
_UNSPENT_RULES: tuple[UnspentRule, ...] = ("carry", "return")
_UINT128_MAX = 2**128 - 1


def to_fixed(value: float, scale: int = SCORE_SCALE) -> int:
    """``floor(value * scale)`` computed exactly: the one conversion from float to fixed point.

    The float is read as the exact binary fraction it stores (:class:`fractions.Fraction`), so the
    product is not rounded before the floor: the result depends only on the float's bits.

    Parameters
    ----------
    value : float
        A finite number (an int is exact too).
    scale : int, default SCORE_SCALE
        Fixed-point units per 1.0 (``10**18``).

    Raises
    ------
    InvalidInputError
        ``value`` is NaN or infinite, or ``scale`` < 1.
    """
    if scale < 1:
        raise InvalidInputError("to_fixed: scale must be at least 1")
    if not math.isfinite(value):
        raise InvalidInputError(f"to_fixed: {value!r} is not finite")
    return math.floor(Fraction(value) * scale)


def contract_cap(unallocated: int, total_rounds: int, round: int) -> int:
    """The round's cap as ``FedTask.roundCap`` computes it (``FedTaskBase._cap``).

    ``min(unallocated // (total_rounds - round + 1), 2**128 - 1)``: an equal share of the escrow not
    yet allocated over the rounds left, this one included.

    Parameters
    ----------
    unallocated : int
        Wei in the task's escrow not allocated to a round (pool + slashed - earlier budgets).
    total_rounds : int
        The task's rounds.
    round : int
        The round, 1..total_rounds.
    """
    if not 1 <= round <= total_rounds:
        raise InvalidInputError(f"contract_cap: round {round} outside 1..{total_rounds}")
    if unallocated < 0:
        raise InvalidInputError("contract_cap: negative escrow")
    return min(unallocated // (total_rounds - round + 1), _UINT128_MAX)


@dataclass(frozen=True)
class RewardPolicy:
    """How a task's rounds are paid: fixed in the task spec, checked by the audit.

    The defaults are what a demanding sponsor wants: pay for measured improvement only, at the
    same price in every round, with nothing for participation alone.

    Attributes
    ----------
    budget : {"even", "improvement"}, default "improvement"
        ``"even"``: every paying round pays its whole limit (the behaviour before this policy).
        ``"improvement"``: a round pays ``limit * clamp(improvement / full_at, 0, 1)``.
    full_at : float, default 0.01
        The improvement of the global model, in the validation metric's units, that earns the whole
        limit (the default: 0.01 nats less validation log loss). Used by ``"improvement"`` only.
    unspent : {"carry", "return"}, default "return"
        ``"carry"``: the limit is the on-chain cap, so what a round does not earn raises later
        rounds' caps. ``"return"``: the limit is also at most ``pool // rounds``, so what a round
        does not earn is left for the sponsor's ``withdrawRemainder`` after the task.
    floor_bps : int, default 0
        Participation floor: basis points (0..5,000) of the budget shared equally among the
        accepted updates with a positive score; the rest follows the scores.
    """

    budget: BudgetRule = "improvement"
    full_at: float = 0.01
    unspent: UnspentRule = "return"
    floor_bps: int = 0

    def __post_init__(self) -> None:
        if self.budget not in _BUDGET_RULES:
            raise InvalidInputError(f"RewardPolicy: budget {self.budget!r} not in {_BUDGET_RULES}")
        if self.unspent not in _UNSPENT_RULES:
            raise InvalidInputError(
                f"RewardPolicy: unspent {self.unspent!r} not in {_UNSPENT_RULES}"
            )
        if isinstance(self.full_at, bool) or not isinstance(self.full_at, int | float):
            raise InvalidInputError("RewardPolicy: full_at must be a number")
        if not math.isfinite(self.full_at) or to_fixed(self.full_at) < 1:
            raise InvalidInputError(
                f"RewardPolicy: full_at {self.full_at!r} must be finite and at least 1e-18"
            )
        if isinstance(self.floor_bps, bool) or not isinstance(self.floor_bps, int):
            raise InvalidInputError("RewardPolicy: floor_bps must be an integer")
        if not 0 <= self.floor_bps <= MAX_FLOOR_BPS:
            raise InvalidInputError(
                f"RewardPolicy: floor_bps {self.floor_bps} outside 0..{MAX_FLOOR_BPS}"
            )

    def to_dict(self) -> dict[str, object]:
        """The policy as the task spec's JSON object (``full_at`` as a float)."""
        data = asdict(self)
        data["full_at"] = float(self.full_at)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> RewardPolicy:
        """The policy a spec's JSON object states; keys left out take their defaults.

        Raises
        ------
        InvalidInputError
            An unknown key, or a value of the wrong type or out of range.
        """
        known = {"budget", "full_at", "unspent", "floor_bps"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInputError(f"RewardPolicy: unknown keys {unknown}")
        full_at = data.get("full_at", cls.full_at)
        floor_bps = data.get("floor_bps", cls.floor_bps)
        if isinstance(full_at, bool) or not isinstance(full_at, int | float):
            raise InvalidInputError("RewardPolicy: full_at must be a number")
        if isinstance(floor_bps, bool) or not isinstance(floor_bps, int):
            raise InvalidInputError("RewardPolicy: floor_bps must be an integer")
        return cls(
            budget=cast(BudgetRule, data.get("budget", cls.budget)),
            full_at=float(full_at),
            unspent=cast(UnspentRule, data.get("unspent", cls.unspent)),
            floor_bps=floor_bps,
        )

    def describe(self) -> str:
        """The budget and split rule in words and formulas, as the round's evidence states it."""
        limit = "roundCap" if self.unspent == "carry" else "min(roundCap, pool // rounds)"
        if self.budget == "even":
            budget = f"budget = {limit}"
        else:
            budget = (
                f"budget = {limit} * min(max(I, 0), F) // F with I = floor(improvement * 1e18), "
                f"F = floor({float(self.full_at)!r} * 1e18) (exact)"
            )
        return (
            f"{budget}; paid only to accepted updates with score > 0 (none: 0); weights "
            f"w_i = {self.floor_bps}*S + {BPS - self.floor_bps}*k*s_i over the k such updates, "
            "score sum S; amounts: largest remainders of budget*w_i/sum(w), ties to the earlier "
            "participant"
        )


LEGACY_POLICY = RewardPolicy(budget="even", unspent="carry", floor_bps=0)
"""Before reward policies: every paying round pays its whole cap (for specs that state none).

Its budget is :func:`round_budget_for`'s; its split is :func:`allocate_rewards`' largest
remainders, which may differ by a wei from the legacy prefix floors of :func:`split_proportional`.
"""


def round_limit(policy: RewardPolicy, cap: int, pool: int, rounds: int) -> int:
    """The most a round may pay under ``policy``: its cap, and under ``"return"`` an even share.

    Parameters
    ----------
    policy : RewardPolicy
        The task's policy.
    cap : int
        The round's on-chain cap (``roundCap``), in wei.
    pool : int
        The task's pool as deposited (``TaskInfo.pool``), in wei.
    rounds : int
        The task's rounds (``totalRounds``).
    """
    if cap < 0 or pool < 0:
        raise InvalidInputError("round_limit: negative cap or pool")
    if rounds < 1:
        raise InvalidInputError("round_limit: a task has at least one round")
    return cap if policy.unspent == "carry" else min(cap, pool // rounds)


def round_budget_for(
    policy: RewardPolicy, cap: int, improvement: float, *, pool: int, rounds: int
) -> int:
    """The round's budget: its limit, scaled by the improvement it earned under ``"improvement"``.

    ``budget = limit * min(max(I, 0), F) // F`` with ``I = to_fixed(improvement)`` and
    ``F = to_fixed(policy.full_at)``: 0 for no (or a negative) improvement, the whole limit from
    ``full_at`` up, floored to the wei in between. A non-finite improvement (a broken
    measurement) earns nothing. Never more than ``cap``.

    Parameters
    ----------
    policy : RewardPolicy
        The task's policy.
    cap : int
        The round's on-chain cap (``roundCap``), in wei.
    improvement : float
        The global model's gain on the validation metric this round (higher is better):
        the utility of all accepted updates minus that of none, ``v(N) - v(empty)``.
    pool : int, keyword-only
        The task's pool as deposited, in wei.
    rounds : int, keyword-only
        The task's rounds.
    """
    limit = round_limit(policy, cap, pool, rounds)
    if policy.budget == "even":
        return limit
    if not math.isfinite(improvement):
        return 0
    full = to_fixed(policy.full_at)
    earned = min(max(to_fixed(improvement), 0), full)
    return limit * earned // full


def apportion(total: int, weights: Sequence[int]) -> list[int]:
    """Largest-remainder apportionment of ``total`` wei to non-negative integer ``weights``.

    Each gets ``floor(total * w_i / W)``; the wei left go one each to the largest remainders,
    ties to the earlier index. So the amounts sum to exactly ``total`` (0 when ``W == 0``), each
    is within one wei of ``total * w_i / W``, a larger weight never gets less, equal weights differ
    by at most one wei, and a zero weight gets 0.

    Parameters
    ----------
    total : int
        Wei to apportion (>= 0).
    weights : sequence of int
        One non-negative weight per participant.
    """
    if total < 0:
        raise InvalidInputError("apportion: negative total")
    if any(w < 0 for w in weights):
        raise InvalidInputError("apportion: negative weight")
    whole = sum(weights)
    if whole == 0:
        return [0] * len(weights)
    parts = [divmod(total * w, whole) for w in weights]
    amounts = [q for q, _ in parts]
    left = total - sum(amounts)
    by_remainder = sorted(range(len(parts)), key=lambda i: (-parts[i][1], i))
    for i in by_remainder[:left]:
        amounts[i] += 1
    return amounts


def reward_weights(scores: Sequence[int], floor_bps: int) -> list[int]:
    """Integer weights of the split: the floor shared equally, the rest by score.

    With ``k`` positive scores summing to ``S`` and floor ``f`` (basis points), a positive score
    ``s_i`` weighs ``f*S + (10,000 - f)*k*s_i`` out of ``10,000*k*S``: exactly the share
    ``f/10,000/k + (1 - f/10,000) * s_i/S``. Zero and negative scores weigh 0.

    Parameters
    ----------
    scores : sequence of int
        Fixed-point scores (already 0 for updates that may not earn).
    floor_bps : int
        The participation floor, 0..5,000 basis points.
    """
    if not 0 <= floor_bps <= MAX_FLOOR_BPS:
        raise InvalidInputError(f"reward_weights: floor_bps {floor_bps} outside 0..{MAX_FLOOR_BPS}")
    positive = [max(s, 0) for s in scores]
    k = sum(1 for s in positive if s > 0)
    total = sum(positive)
    return [floor_bps * total + (BPS - floor_bps) * k * s if s > 0 else 0 for s in positive]


def allocate_rewards(
    policy: RewardPolicy, budget: int, scores: Sequence[int], eligible: Sequence[bool]
) -> RoundRewards:
    """The round's amounts: ``budget`` split among eligible updates with a positive score.

    Only an eligible participant (its update accepted: committed, revealed, verified, not a copy)
    with a positive fixed-point score earns; zero and negative scores earn nothing, and the
    participation floor goes to those same participants only (a positive score is the evidence of
    honest work that a zero update cannot fake). The amounts are :func:`apportion` of ``budget``
    by :func:`reward_weights`: they sum to exactly ``budget``, or to 0 when no eligible score is
    positive (the budget is then unspent and the round posts 0).

    Parameters
    ----------
    policy : RewardPolicy
        The task's policy (its ``floor_bps``).
    budget : int
        The round's budget (:func:`round_budget_for`), in wei.
    scores : sequence of int
        Fixed-point score per participant in join order (:func:`scores_to_fixed`).
    eligible : sequence of bool
        Whether each participant's update was accepted.

    Returns
    -------
    RoundRewards
        ``budget`` is what the round pays (``budget`` or 0), ``scores`` the scores that earned
        (others 0), ``amounts`` one per participant.
    """
    if budget < 0:
        raise InvalidInputError("allocate_rewards: negative budget")
    if len(eligible) != len(scores):
        raise InvalidInputError("allocate_rewards: scores and eligible differ in length")
    earning = [s if ok and s > 0 else 0 for s, ok in zip(scores, eligible, strict=True)]
    amounts = apportion(budget, reward_weights(earning, policy.floor_bps))
    return RoundRewards(budget=sum(amounts), scores=earning, amounts=amounts)
