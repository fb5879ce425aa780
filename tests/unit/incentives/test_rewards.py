"""The reward split against exact rational references, the round budgets and a task's escrow.

The legacy split (prefix floors of the whole cap), then the reward policy: budgets that follow the
global model's improvement (against a decimal reference), the largest-remainder split (against a
brute-force one and the exact real-valued shares), and whole tasks run through the contract's
``roundCap`` escrow rule.
"""

import itertools
import json
import math
from decimal import Decimal, localcontext
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from incentives import allocate_round, round_budget, scores_to_fixed, split_proportional
from incentives.rewards import (
    BPS,
    LEGACY_POLICY,
    MAX_FLOOR_BPS,
    RewardPolicy,
    allocate_rewards,
    apportion,
    contract_cap,
    reward_weights,
    round_budget_for,
    round_limit,
    to_fixed,
)
from kernel.errors import InvalidInputError

budgets = st.integers(min_value=0, max_value=10**30)
score_lists = st.lists(st.integers(min_value=0, max_value=10**24), min_size=1, max_size=12)


@given(budgets, score_lists)
def test_split_proportional_sums_exactly_and_stays_within_one_wei(budget, scores):
    amounts = split_proportional(budget, scores)
    total = sum(scores)
    if total == 0:
        assert amounts == [0] * len(scores)
        return
    assert sum(amounts) == budget
    for amount, score in zip(amounts, scores, strict=True):
        exact = Fraction(budget * score, total)
        assert abs(amount - exact) < 1
        if score == 0:
            assert amount == 0


def test_split_proportional_hand_computed():
    # 100 wei over scores 1:1:1 -> prefix floors 33, 66, 100
    assert split_proportional(100, [1, 1, 1]) == [33, 33, 34]
    assert split_proportional(10, [0, 3, 0, 7]) == [0, 3, 0, 7]
    assert split_proportional(7, [0, 0]) == [0, 0]


@pytest.mark.parametrize(("budget", "scores"), [(-1, [1]), (5, [1, -2])])
def test_split_proportional_rejects_negative_input(budget, scores):
    with pytest.raises(InvalidInputError):
        split_proportional(budget, scores)


@given(st.integers(min_value=0, max_value=10**30), st.integers(min_value=1, max_value=50))
def test_round_budgets_spend_the_whole_pool_over_the_rounds(pool, rounds):
    remaining = pool
    spent = 0
    for left in range(rounds, 0, -1):
        budget = round_budget(remaining, left)
        spent += budget
        remaining -= budget
    assert spent == pool
    assert remaining == 0


def test_round_budget_rolls_unspent_budget_forward():
    # 3 rounds of 90: round 1 pays nothing, so rounds 2 and 3 share all 90.
    assert round_budget(90, 3) == 30
    assert round_budget(90, 2) == 45
    assert round_budget(45, 1) == 45
    with pytest.raises(InvalidInputError):
        round_budget(10, 0)


def test_scores_to_fixed_clips_negatives_and_non_finite():
    assert scores_to_fixed([0.5, -0.1, float("nan"), float("inf"), 0.0], scale=100) == [
        50,
        0,
        0,
        0,
        0,
    ]


def test_allocate_round_zeroes_ineligible_participants():
    rewards = allocate_round(
        [0.2, 0.3, 0.5], escrow_remaining=1000, rounds_left=2, eligible=[True, False, True]
    )
    assert rewards.budget == 500
    assert rewards.scores[1] == 0
    assert rewards.amounts[1] == 0
    assert rewards.paid == 500
    assert rewards.amounts == split_proportional(500, rewards.scores)


# --- The reward policy: budgets that follow the improvement, and the largest-remainder split. ---

policies = st.builds(
    RewardPolicy,
    budget=st.sampled_from(["even", "improvement"]),
    full_at=st.one_of(
        st.sampled_from([1e-18, 1e-6, 0.001, 0.01, 0.1, 1.0]),
        st.floats(min_value=1e-9, max_value=10.0, allow_nan=False, allow_infinity=False),
    ),
    unspent=st.sampled_from(["carry", "return"]),
    floor_bps=st.one_of(
        st.sampled_from([0, 1, 2500, MAX_FLOOR_BPS]), st.integers(0, MAX_FLOOR_BPS)
    ),
)
improvements = st.one_of(
    st.floats(min_value=-1.0, max_value=1.0, allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 1e-300, -1e-300, 5e-324]),
)
wei = st.integers(min_value=0, max_value=10**30)
signed_scores = st.lists(st.integers(min_value=-(10**20), max_value=10**20), min_size=1, max_size=9)


def reference_fixed(value: float) -> int:
    """floor(value * 10**18) with decimals: exact for any float at this precision."""
    with localcontext() as ctx:
        ctx.prec = 1200
        return math.floor(Decimal(value) * 10**18)


def ideal_shares(budget: int, scores: list[int], eligible: list[bool], floor_bps: int):
    """The exact real-valued split: the floor equally, the rest by score, to earning updates."""
    earning = [s if ok and s > 0 else 0 for s, ok in zip(scores, eligible, strict=True)]
    k = sum(1 for s in earning if s > 0)
    total = sum(earning)
    if total == 0:
        return [Fraction(0)] * len(scores)
    f = Fraction(floor_bps, BPS)
    return [
        budget * (f / k + (1 - f) * Fraction(s, total)) if s > 0 else Fraction(0) for s in earning
    ]


def brute_force_apportion(total: int, weights: list[int]) -> list[int]:
    """Of the roundings of the exact quotas summing to ``total``, the closest (least squares)."""
    whole = sum(weights)
    if whole == 0:
        return [0] * len(weights)
    quotas = [Fraction(total * w, whole) for w in weights]
    floors = [math.floor(q) for q in quotas]
    best: tuple[Fraction, list[int]] | None = None
    for ups in itertools.combinations(range(len(weights)), total - sum(floors)):
        amounts = [f + (i in ups) for i, f in enumerate(floors)]
        cost = sum((a - q) ** 2 for a, q in zip(amounts, quotas, strict=True))
        if best is None or cost < best[0]:
            best = (cost, amounts)
    assert best is not None
    return best[1]


def test_to_fixed_is_the_exact_floor_of_the_stored_float():
    # 0.1 is stored as 0.1000000000000000055511151231257827..., so 10**18 * it floors to ...005;
    # the float product 0.1 * 1e18 rounds to exactly 1e17 instead.
    assert to_fixed(0.1) == 100_000_000_000_000_005
    assert to_fixed(-0.1) == -100_000_000_000_000_006
    assert to_fixed(0.0) == to_fixed(-0.0) == 0
    assert to_fixed(5e-324) == 0
    assert to_fixed(3, scale=7) == 21
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(InvalidInputError):
            to_fixed(bad)
    with pytest.raises(InvalidInputError):
        to_fixed(1.0, scale=0)


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6))
def test_to_fixed_matches_a_decimal_reference(value):
    assert to_fixed(value) == reference_fixed(value)


def test_contract_cap_is_an_equal_share_of_the_unallocated_escrow():
    assert contract_cap(100, 3, 1) == 33
    assert contract_cap(67, 3, 2) == 33
    assert contract_cap(34, 3, 3) == 34
    assert contract_cap(2**200, 1, 1) == 2**128 - 1
    for args in ((10, 3, 0), (10, 3, 4), (-1, 3, 1)):
        with pytest.raises(InvalidInputError):
            contract_cap(*args)


def test_default_policy_is_the_demanding_sponsors_and_round_trips_through_json():
    policy = RewardPolicy()
    assert (policy.budget, policy.full_at, policy.unspent, policy.floor_bps) == (
        "improvement",
        0.01,
        "return",
        0,
    )
    for p in (policy, LEGACY_POLICY, RewardPolicy("even", 0.5, "carry", 5000)):
        assert RewardPolicy.from_dict(json.loads(json.dumps(p.to_dict()))) == p
    assert RewardPolicy.from_dict({}) == policy
    assert RewardPolicy.from_dict({"unspent": "carry", "full_at": 1}) == RewardPolicy(
        unspent="carry", full_at=1.0
    )
    assert "min(roundCap, pool // rounds)" in policy.describe()
    assert LEGACY_POLICY.describe().startswith("budget = roundCap;")


@pytest.mark.parametrize(
    "data",
    [
        {"budget": "stake"},
        {"unspent": "burn"},
        {"full_at": 0.0},
        {"full_at": -0.01},
        {"full_at": 1e-19},
        {"full_at": math.inf},
        {"full_at": math.nan},
        {"full_at": "0.01"},
        {"full_at": True},
        {"floor_bps": -1},
        {"floor_bps": MAX_FLOOR_BPS + 1},
        {"floor_bps": 10.0},
        {"floor_bps": True},
        {"fullAt": 0.01},
    ],
)
def test_policy_rejects_what_it_cannot_pay_by(data):
    with pytest.raises(InvalidInputError):
        RewardPolicy.from_dict(data)


@given(policies, wei, improvements, wei, st.integers(min_value=1, max_value=100))
def test_round_budget_against_a_decimal_reference(policy, cap, improvement, pool, rounds):
    budget = round_budget_for(policy, cap, improvement, pool=pool, rounds=rounds)
    limit = cap if policy.unspent == "carry" else min(cap, pool // rounds)
    assert round_limit(policy, cap, pool, rounds) == limit
    if policy.budget == "even":
        assert budget == limit
        return
    full = reference_fixed(policy.full_at)
    earned = min(max(reference_fixed(improvement), 0), full)
    assert budget == limit * earned // full
    assert 0 <= budget <= limit <= cap
    ideal = limit * min(max(Fraction(improvement), Fraction(0)) / Fraction(policy.full_at), 1)
    # Each fixed-point floor loses under one unit of 10**-18, so the budget errs by a wei plus that.
    assert ideal - budget < 1 + Fraction(limit, full) * 2


@given(policies, wei, improvements, improvements, wei, st.integers(1, 100))
def test_round_budget_is_monotone_in_the_improvement(policy, cap, a, b, pool, rounds):
    low, high = sorted((a, b))
    budget_low = round_budget_for(policy, cap, low, pool=pool, rounds=rounds)
    assert budget_low <= round_budget_for(policy, cap, high, pool=pool, rounds=rounds)


@pytest.mark.parametrize("unspent", ["carry", "return"])
def test_round_budget_edges(unspent):
    policy = RewardPolicy(full_at=0.02, unspent=unspent)
    limit = 600 if unspent == "carry" else 500
    kw = {"pool": 5000, "rounds": 10}
    assert round_budget_for(policy, 600, 0.0, **kw) == 0
    assert round_budget_for(policy, 600, -0.3, **kw) == 0
    assert round_budget_for(policy, 600, math.nan, **kw) == 0
    assert round_budget_for(policy, 600, math.inf, **kw) == 0
    assert round_budget_for(policy, 600, 0.02, **kw) == limit
    assert round_budget_for(policy, 600, 7.0, **kw) == limit
    # 0.005 / 0.02 of the limit, the fixed-point floors computed by hand
    assert round_budget_for(policy, 600, 0.005, **kw) == limit * to_fixed(0.005) // to_fixed(0.02)
    assert round_budget_for(policy, 600, 0.005, **kw) == limit // 4
    assert round_budget_for(RewardPolicy(budget="even", unspent=unspent), 600, -1.0, **kw) == limit
    with pytest.raises(InvalidInputError):
        round_budget_for(policy, -1, 0.1, **kw)
    with pytest.raises(InvalidInputError):
        round_budget_for(policy, 600, 0.1, pool=5000, rounds=0)


@given(st.integers(min_value=0, max_value=40), st.lists(st.integers(0, 30), min_size=1, max_size=6))
def test_apportion_matches_the_brute_force_reference(total, weights):
    assert apportion(total, weights) == brute_force_apportion(total, weights)


@given(wei, st.lists(st.integers(min_value=0, max_value=10**24), min_size=1, max_size=12))
def test_apportion_is_exact_close_monotone_and_symmetric(total, weights):
    amounts = apportion(total, weights)
    whole = sum(weights)
    if whole == 0:
        assert amounts == [0] * len(weights)
        return
    assert sum(amounts) == total
    for amount, weight in zip(amounts, weights, strict=True):
        assert abs(amount - Fraction(total * weight, whole)) < 1
        if weight == 0:
            assert amount == 0
    for i, j in itertools.permutations(range(len(weights)), 2):
        if weights[i] > weights[j]:
            assert amounts[i] >= amounts[j]
        if weights[i] == weights[j] and i < j:
            assert amounts[i] - amounts[j] in (0, 1)


def test_apportion_hand_computed_and_rejects_negatives():
    assert apportion(100, [1, 1, 1]) == [34, 33, 33]
    assert apportion(10, [0, 3, 0, 7]) == [0, 3, 0, 7]
    assert apportion(5, [0, 0]) == [0, 0]
    # quotas 3.5, 1.75, 1.75: the two wei left go to the larger remainders
    assert apportion(7, [2, 1, 1]) == [3, 2, 2]
    with pytest.raises(InvalidInputError):
        apportion(-1, [1])
    with pytest.raises(InvalidInputError):
        apportion(1, [1, -1])


def test_reward_weights_are_the_exact_shares():
    # floor 20 %, scores 1 and 3 (and a zero and a negative): shares 0.1 + 0.8/4 and 0.1 + 2.4/4
    weights = reward_weights([1, 0, 3, -2], 2000)
    assert weights == [2000 * 4 + 8000 * 2 * 1, 0, 2000 * 4 + 8000 * 2 * 3, 0]
    assert [Fraction(w, sum(weights)) for w in weights] == [
        Fraction(3, 10),
        0,
        Fraction(7, 10),
        0,
    ]
    with pytest.raises(InvalidInputError):
        reward_weights([1], MAX_FLOOR_BPS + 1)


@given(policies, wei, signed_scores, st.data())
def test_allocate_rewards_against_the_exact_split(policy, budget, scores, data):
    eligible = data.draw(st.lists(st.booleans(), min_size=len(scores), max_size=len(scores)))
    rewards = allocate_rewards(policy, budget, scores, eligible)
    ideal = ideal_shares(budget, scores, eligible, policy.floor_bps)
    earning = [ok and s > 0 for s, ok in zip(scores, eligible, strict=True)]
    if any(earning):
        assert rewards.paid == rewards.budget == budget
    else:
        assert rewards.paid == rewards.budget == 0
    for i, (amount, exact) in enumerate(zip(rewards.amounts, ideal, strict=True)):
        assert abs(amount - exact) < 1
        assert amount >= 0
        if not earning[i]:
            assert amount == 0
            assert rewards.scores[i] == 0
    for i, j in itertools.permutations(range(len(scores)), 2):
        if earning[i] and earning[j] and scores[i] > scores[j]:
            assert rewards.amounts[i] >= rewards.amounts[j]
        if earning[i] and earning[j] and scores[i] == scores[j]:
            assert abs(rewards.amounts[i] - rewards.amounts[j]) <= 1


def test_allocate_rewards_free_rider_and_floor_by_hand():
    policy = RewardPolicy(floor_bps=5000)
    # participant 1 sent a zero update (score 0), 2 was rejected, 3 hurt the model
    rewards = allocate_rewards(policy, 1000, [3, 0, 9, -4, 1], [True, True, False, True, True])
    # floor 500 between the two positive scores, 500 by 3:1
    assert rewards.amounts == [250 + 375, 0, 0, 0, 250 + 125]
    assert rewards.scores == [3, 0, 0, 0, 1]
    nobody = allocate_rewards(policy, 1000, [0, -1, 5], [True, True, False])
    assert (nobody.budget, nobody.amounts) == (0, [0, 0, 0])
    with pytest.raises(InvalidInputError):
        allocate_rewards(policy, -1, [1], [True])
    with pytest.raises(InvalidInputError):
        allocate_rewards(policy, 10, [1, 2], [True])


def test_copies_share_what_one_of_them_is_worth():
    # Shapley gives a duplicate-data pair equal scores: they split the pair's value equally.
    # quotas 417.08, 417.08, 166.83: the wei left goes to the largest remainder
    rewards = allocate_rewards(RewardPolicy(), 1001, [5, 5, 2], [True, True, True])
    assert rewards.amounts == [417, 417, 167]
    # quotas 416.67, 416.67, 166.67: the two wei left go to the earlier of the tied remainders
    tied = allocate_rewards(RewardPolicy(), 1000, [5, 5, 2], [True, True, True])
    assert tied.amounts == [417, 417, 166]
    tied = allocate_rewards(RewardPolicy(), 1000, [2, 2, 2], [True, True, True])
    assert tied.amounts == [334, 333, 333]


def run_task(policy, pool, rounds, slashed=None):
    """A task's escrow round by round, as the contract keeps it.

    Each round: slashed stakes enter the unallocated escrow, ``roundCap`` is taken from it, the
    contract rejects a budget above the cap, and the round's budget leaves it. Returns the
    rounds' limits, the amounts paid per round and what is left for ``withdrawRemainder``.
    """
    total_rounds = len(rounds)
    unallocated = pool
    limits, paid = [], []
    for r, (improvement, scores, eligible) in enumerate(rounds, start=1):
        unallocated += slashed[r - 1] if slashed else 0
        cap = contract_cap(unallocated, total_rounds, r)
        budget = round_budget_for(policy, cap, improvement, pool=pool, rounds=total_rounds)
        rewards = allocate_rewards(policy, budget, scores, eligible)
        assert rewards.budget <= budget <= cap  # FedTask reverts TaskBudgetExceeded otherwise
        assert sum(rewards.amounts) == rewards.budget
        unallocated -= rewards.budget
        limits.append(round_limit(policy, cap, pool, total_rounds))
        paid.append(rewards.amounts)
    return limits, paid, unallocated


@st.composite
def tasks(draw):
    """A task's rounds (improvement, scores, eligibility) and the stakes slashed before each."""
    n = draw(st.integers(min_value=1, max_value=5))
    total_rounds = draw(st.integers(min_value=1, max_value=12))
    round_input = st.tuples(
        improvements,
        st.lists(st.integers(min_value=-(10**18), max_value=10**18), min_size=n, max_size=n),
        st.lists(st.booleans(), min_size=n, max_size=n),
    )
    rounds = draw(st.lists(round_input, min_size=total_rounds, max_size=total_rounds))
    slashed = st.integers(min_value=0, max_value=10**20)
    return rounds, draw(st.lists(slashed, min_size=total_rounds, max_size=total_rounds))


@given(policies, wei, tasks(), st.booleans())
def test_a_whole_task_pays_at_most_its_escrow_and_leaves_the_rest_exactly(
    policy, pool, rounds_and_slashes, with_slashing
):
    rounds, slashes = rounds_and_slashes
    slashed = slashes if with_slashing else [0] * len(rounds)
    limits, paid, remainder = run_task(policy, pool, rounds, slashed)
    total_paid = sum(sum(amounts) for amounts in paid)
    assert total_paid + remainder == pool + sum(slashed)
    assert remainder >= 0
    if policy.unspent == "return":
        even = pool // len(rounds)
        # the price of improvement is the same in every round: the limit is always the even share
        assert limits == [even] * len(rounds)
        assert all(sum(amounts) <= even for amounts in paid)
        assert total_paid <= pool
    if not with_slashing:
        assert total_paid <= pool


@given(wei, st.integers(min_value=1, max_value=12))
def test_even_carry_spends_the_pool_when_every_round_has_an_earner(pool, total_rounds):
    rounds = [(0.0, [1, 0], [True, True])] * total_rounds
    _, paid, remainder = run_task(LEGACY_POLICY, pool, rounds)
    assert remainder == 0
    assert sum(a[0] for a in paid) == pool
    assert all(a[1] == 0 for a in paid)


@given(wei, st.integers(min_value=1, max_value=12), st.floats(min_value=0.01, max_value=5.0))
def test_improvement_beyond_full_at_every_round_spends_the_pool_under_carry(pool, rounds, gain):
    policy = RewardPolicy(full_at=0.01, unspent="carry")
    _, _, remainder = run_task(policy, pool, [(gain, [1], [True])] * rounds)
    assert remainder == 0


def test_converged_rounds_pay_nothing_carry_and_return_by_hand():
    # pool 1000 over 10 rounds; the model converges after round 4; the last round gains 0.005
    gains = [0.05, 0.02, 0.01, 0.001, 0.0, -0.002, 0.0, 0.0, 0.0, 0.005]
    rounds = [(g, [3, 1], [True, True]) for g in gains]
    _, paid, remainder = run_task(RewardPolicy(unspent="return"), 1000, rounds)
    per_round = [sum(a) for a in paid]
    assert per_round == [100, 100, 100, 10, 0, 0, 0, 0, 0, 50]
    assert remainder == 640
    _, paid, remainder = run_task(RewardPolicy(unspent="carry"), 1000, rounds)
    per_round = [sum(a) for a in paid]
    # caps: 100, 100, 100, 100, 690/6=115, ..., then the whole 690 in round 10, half of it earned
    assert per_round == [100, 100, 100, 10, 0, 0, 0, 0, 0, 345]
    assert remainder == 345
    assert paid[0] == [75, 25]
