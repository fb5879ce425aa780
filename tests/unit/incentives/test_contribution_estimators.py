"""Every contribution estimator against brute-force Shapley values on small games with known values.

The games: additive (each player's value is its own weight), symmetric (the value depends on the
coalition's size only), a null player, an FL-like saturating game (the validation accuracy of an
aggregate saturates in the rows behind it) and random games. The sampled estimators (GTG, TMC) are
checked for the Shapley axioms where sampling cannot break them, for efficiency within the bound
their truncation allows, for convergence to the exact values, for determinism from the seed, and
for replay from their own recorded utilities (what the audit does).
"""

from __future__ import annotations

import functools
import json
import math
import random
from collections import Counter
from collections.abc import Callable, Sequence
from itertools import permutations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from incentives import (
    ESTIMATORS,
    ExactShapley,
    GtgShapley,
    LeaveOneOut,
    TmcShapley,
    lookup_utility,
    make_estimator,
)
from incentives.contribution import (
    Coalition,
    ContributionEstimator,
    ContributionResult,
    UnrecordedCoalitionError,
    coalition_key,
)
from incentives.contribution._sampling import shuffled
from kernel.errors import InvalidInputError, NotFoundError

Game = Callable[[Coalition], float]
NO_TRUNCATION = {
    "shapley-gtg": {"eps_within": -1.0, "eps_round": 0.0},
    "shapley-tmc": {"truncation": -1.0},
}
LIGHT_TRUNCATION = {"shapley-gtg": {"eps_within": 0.01}, "shapley-tmc": {"truncation": 0.01}}
SAMPLED = ("shapley-gtg", "shapley-tmc")


def brute_force_shapley(n: int, utility: Game) -> list[float]:
    """Average marginal contribution over every ordering (the textbook definition)."""
    scores = [0.0] * n
    orders = list(permutations(range(n)))
    for order in orders:
        seen: Coalition = frozenset()
        for player in order:
            scores[player] += utility(seen | {player}) - utility(seen)
            seen = seen | {player}
    return [s / len(orders) for s in scores]


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation of two sequences without ties."""

    def ranks(x: Sequence[float]) -> list[int]:
        order = sorted(range(len(x)), key=lambda i: x[i])
        out = [0] * len(x)
        for rank, i in enumerate(order):
            out[i] = rank
        return out

    n = len(a)
    d2 = sum((x - y) ** 2 for x, y in zip(ranks(a), ranks(b), strict=True))
    return 1 - 6 * d2 / (n * (n * n - 1))


def additive(weights: Sequence[float]) -> Game:
    return lambda c: sum(weights[i] for i in sorted(c))


def saturating(weights: Sequence[float], reach: float) -> Game:
    """Validation accuracy of a FedAvg aggregate of IID clients holding ``weights`` rows.

    Accuracy rises from 0.1 (the previous model) towards 0.95 as ``1 - exp(-rows / scale)``;
    ``reach`` is ``sum(weights) / scale`` (8: about three average clients give 90 % of the gain).
    """
    scale = sum(weights) / reach
    return lambda c: 0.1 + 0.85 * (1.0 - math.exp(-sum(weights[i] for i in sorted(c)) / scale))


def fl_game(n: int, rng: random.Random) -> Game:
    """A saturating game of spread-out clients, with small pairwise synergy or interference."""
    weights = [0.4 * (i + 1) * rng.uniform(0.9, 1.1) for i in range(n)]
    rng.shuffle(weights)
    sat = saturating(weights, reach=3.0)
    pair = {(i, j): rng.uniform(-0.02, 0.02) for i in range(n) for j in range(i + 1, n)}

    def utility(c: Coalition) -> float:
        s = sorted(c)
        extra = sum(pair[(a, b)] for k, a in enumerate(s) for b in s[k + 1 :])
        return sat(c) + extra / n

    return utility


@functools.cache
def distinct_fl_game(n: int, seed: int) -> tuple[Game, list[float]]:
    """An FL-like game whose exact values are at least 5 % of the largest apart.

    Exact values by :class:`ExactShapley` (2^n evaluations; checked against the n! brute force
    by ``test_exact_shapley_matches_brute_force_on_random_games``).
    """
    rng = random.Random(seed)
    while True:
        game = fl_game(n, rng)
        exact = ExactShapley().estimate(n, game).scores
        ordered = sorted(exact)
        gaps = [b - a for a, b in zip(ordered, ordered[1:], strict=False)]
        if min(gaps) >= 0.05 * max(abs(v) for v in exact):
            return game, exact


def estimators() -> list[ContributionEstimator]:
    return [make_estimator(name) for name in sorted(ESTIMATORS)]


# -- the interface ---------------------------------------------------------------------------


def test_registry_names_every_method() -> None:
    assert set(ESTIMATORS) == {"leave-one-out", "shapley-exact", "shapley-gtg", "shapley-tmc"}
    for name, kind in ESTIMATORS.items():
        assert kind.name == name
        assert isinstance(make_estimator(name), kind)


def test_make_estimator_refuses_unknown_names_and_parameters() -> None:
    with pytest.raises(InvalidInputError, match="unknown method"):
        make_estimator("shapley-magic")
    with pytest.raises(InvalidInputError, match="bad parameters"):
        make_estimator("shapley-gtg", epsilon=0.1)
    with pytest.raises(InvalidInputError):
        make_estimator("shapley-gtg", tolerance=-0.1)
    with pytest.raises(InvalidInputError):
        make_estimator("shapley-tmc", window=0)
    with pytest.raises(InvalidInputError):
        make_estimator("shapley-gtg", eps_within=float("nan"))


@pytest.mark.parametrize("estimator", estimators(), ids=lambda e: e.name)
def test_result_records_method_seed_params_and_every_evaluation(
    estimator: ContributionEstimator,
) -> None:
    calls: list[str] = []
    game = saturating([1.0, 2.0, 3.0, 0.5, 1.5], reach=3.0)

    def counted(c: Coalition) -> float:
        calls.append(coalition_key(c))
        return game(c)

    result = estimator.estimate(5, counted, seed=42)
    assert result.method == estimator.name
    assert result.seed == 42
    assert len(result.scores) == 5
    # each coalition evaluated once, and every one evaluated is recorded
    assert len(calls) == len(set(calls)) == result.evaluations == len(result.utilities)
    assert set(calls) == set(result.utilities)
    assert make_estimator(result.method, **result.params) == estimator


@pytest.mark.parametrize("estimator", estimators(), ids=lambda e: e.name)
def test_positional_call_still_works_and_seed_defaults_to_zero(
    estimator: ContributionEstimator,
) -> None:
    result = estimator.estimate(3, additive([1.0, 2.0, 3.0]))  # the coordinator's call
    assert result.seed == 0
    assert estimator.estimate(0, additive([])).scores == []


def test_evaluations_must_match_the_utilities() -> None:
    assert ContributionResult("x", [1.0], {"": 0.0, "0": 1.0}).evaluations == 2
    with pytest.raises(InvalidInputError):
        ContributionResult("x", [1.0], {"": 0.0}, evaluations=5)


@pytest.mark.parametrize("estimator", estimators(), ids=lambda e: e.name)
def test_estimators_refuse_bad_inputs(estimator: ContributionEstimator) -> None:
    with pytest.raises(InvalidInputError):
        estimator.estimate(-1, additive([]))
    with pytest.raises(InvalidInputError):
        estimator.estimate(2, additive([1.0, 1.0]), seed="7")  # type: ignore[arg-type]


# -- exact Shapley against the axioms -----------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-5, 5), min_size=1, max_size=6))
def test_exact_shapley_of_an_additive_game_is_each_weight(weights: list[float]) -> None:
    scores = ExactShapley().estimate(len(weights), additive(weights)).scores
    assert scores == pytest.approx(weights, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-5, 5), min_size=2, max_size=7), st.integers(0, 6))
def test_exact_shapley_symmetric_players_equal_null_player_zero(
    by_size: list[float], null: int
) -> None:
    n = len(by_size)  # players 0..n-1, one of them null: n-1 symmetric ones
    null = null % n

    def game(c: Coalition) -> float:  # depends on how many non-null players are in c
        return by_size[len(c - {null})]

    scores = ExactShapley().estimate(n, game).scores
    assert scores[null] == 0.0
    others = [s for i, s in enumerate(scores) if i != null]
    assert others == pytest.approx([others[0]] * len(others), abs=1e-9)
    assert sum(scores) == pytest.approx(game(frozenset(range(n))) - game(frozenset()), abs=1e-9)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 6), st.integers(0, 2**32))
def test_exact_shapley_matches_brute_force_on_random_games(n: int, seed: int) -> None:
    rng = random.Random(seed)
    values = {coalition_key(frozenset(c)): rng.uniform(-1, 1) for c in _all_coalitions(n)}
    game = lookup_utility(values)
    result = ExactShapley().estimate(n, game)
    assert result.scores == pytest.approx(brute_force_shapley(n, game), abs=1e-9)
    assert result.evaluations == 2**n
    gain = values[coalition_key(frozenset(range(n)))] - values[""]
    assert sum(result.scores) == pytest.approx(gain)


def _all_coalitions(n: int) -> list[tuple[int, ...]]:
    return [tuple(i for i in range(n) if mask >> i & 1) for mask in range(2**n)]


# -- the sampled estimators: axioms that sampling keeps ---------------------------------------


@pytest.mark.parametrize("name", SAMPLED)
@settings(max_examples=15, deadline=None)
@given(weights=st.lists(st.floats(0.1, 3.0), min_size=2, max_size=7), seed=st.integers(0, 999))
def test_sampled_null_player_gets_exactly_zero(name: str, weights: list[float], seed: int) -> None:
    null = len(weights)
    inner = saturating(weights, reach=3.0)
    result = make_estimator(name).estimate(null + 1, lambda c: inner(c - {null}), seed=seed)
    assert result.scores[null] == 0.0


@pytest.mark.parametrize("name", SAMPLED)
@settings(max_examples=15, deadline=None)
@given(weights=st.lists(st.floats(-3.0, 3.0), min_size=1, max_size=7), seed=st.integers(0, 999))
def test_sampled_additive_game_without_truncation_gives_each_weight(
    name: str, weights: list[float], seed: int
) -> None:
    assume(sum(weights) != 0.0)  # a round that improves nothing pays nothing (GTG's eps_round)
    result = make_estimator(name, **NO_TRUNCATION[name]).estimate(
        len(weights), additive(weights), seed=seed
    )
    assert result.scores == pytest.approx(weights, abs=1e-9)


@settings(max_examples=15, deadline=None)
@given(by_size=st.lists(st.floats(-2, 2), min_size=3, max_size=8), seed=st.integers(0, 999))
def test_gtg_fully_symmetric_players_get_equal_scores(by_size: list[float], seed: int) -> None:
    # GTG's cycles rotate one order, so each player takes every position once a cycle: in a game
    # where only the coalition's size matters, every player sees the same marginals.
    n = len(by_size) - 1
    result = GtgShapley(eps_within=-1.0).estimate(n, lambda c: by_size[len(c)], seed=seed)
    fair = (by_size[n] - by_size[0]) / n
    if abs(by_size[n] - by_size[0]) > GtgShapley().eps_round:
        assert result.scores == pytest.approx([fair] * n, abs=1e-9)
    else:  # the round barely moved: between-round truncation
        assert result.scores == [0.0] * n


@pytest.mark.parametrize("name", SAMPLED)
def test_sampled_symmetric_pair_gets_about_equal_scores(name: str) -> None:
    # players 0 and 1 hold the same rows; 2..5 differ
    game = saturating([2.0, 2.0, 0.5, 1.0, 3.0, 1.5], reach=3.0)
    exact = ExactShapley().estimate(6, game).scores
    scores = make_estimator(name, tolerance=0.005).estimate(6, game, seed=3).scores
    assert exact[0] == pytest.approx(exact[1], abs=1e-12)
    assert scores[0] == pytest.approx(scores[1], rel=0.1)


@pytest.mark.parametrize("name", SAMPLED)
@pytest.mark.parametrize("n", [2, 4, 6, 8])
def test_sampled_efficiency(name: str, n: int) -> None:
    game, _ = distinct_fl_game(n, seed=n)
    gain = game(frozenset(range(n))) - game(frozenset())
    # without truncation each permutation's marginals telescope to U(N) - U(empty): exact
    exact_sum = make_estimator(name, **NO_TRUNCATION[name]).estimate(n, game, seed=1).scores
    assert sum(exact_sum) == pytest.approx(gain, abs=1e-12)
    # with it each permutation stops within eps * |gain| of U(N), so the mean does too
    estimator = make_estimator(name)
    eps = float(estimator.params()["eps_within" if name == "shapley-gtg" else "truncation"])
    truncated = estimator.estimate(n, game, seed=1).scores
    assert abs(sum(truncated) - gain) <= eps * abs(gain) + 1e-12


# -- the sampled estimators converge to the exact values ----------------------------------------


@pytest.mark.parametrize("name", SAMPLED)
@pytest.mark.parametrize("n", [4, 5, 6, 7, 8])
def test_sampled_estimators_converge_to_exact(name: str, n: int) -> None:
    game, exact = distinct_fl_game(n, seed=100 + n)
    if n <= 6:
        assert brute_force_shapley(n, game) == pytest.approx(exact, abs=1e-12)
    # a tight stopping rule and 1 % truncation (its bias is at most 1 % of the round's gain)
    tight = make_estimator(name, tolerance=0.0005, max_permutations=5000, **LIGHT_TRUNCATION[name])
    top = max(abs(v) for v in exact)
    for seed in range(3):
        scores = tight.estimate(n, game, seed=seed).scores
        assert spearman(scores, exact) >= 0.95
        assert max(abs(a - b) for a, b in zip(scores, exact, strict=True)) <= 0.05 * top


@pytest.mark.parametrize("name", SAMPLED)
def test_sampled_error_shrinks_with_more_permutations(name: str) -> None:
    rng = random.Random(5)
    values = {coalition_key(frozenset(c)): rng.uniform(0, 1) for c in _all_coalitions(6)}
    game = lookup_utility(values)
    exact = ExactShapley().estimate(6, game).scores

    def error(permutations: int) -> float:
        estimator = make_estimator(
            name, tolerance=0.0, max_permutations=permutations, **NO_TRUNCATION[name]
        )
        errors = []
        for seed in range(5):
            scores = estimator.estimate(6, game, seed=seed).scores
            errors.append(math.dist(scores, exact))
        return sum(errors) / len(errors)

    assert error(3000) < 0.3 * error(30)


# -- GTG's truncations and its budget -----------------------------------------------------------


def test_gtg_between_round_truncation_zeroes_a_round_that_changed_nothing() -> None:
    rng = random.Random(0)
    values = {coalition_key(frozenset(c)): rng.uniform(0, 1) for c in _all_coalitions(6)}
    values[coalition_key(frozenset(range(6)))] = values[""]  # v(all) == v(empty)
    result = GtgShapley().estimate(6, lookup_utility(values), seed=9)
    assert result.scores == [0.0] * 6
    assert result.evaluations == 2
    assert result.permutations == 0
    # ... and a round that moved by more than eps_round is scored
    values[coalition_key(frozenset(range(6)))] = values[""] + 0.01
    assert any(GtgShapley().estimate(6, lookup_utility(values), seed=9).scores)


def test_gtg_within_round_truncation_skips_the_tail() -> None:
    game = saturating([0.3 * (i + 1) for i in range(8)], reach=8.0)
    truncated = GtgShapley(tolerance=0.0, max_permutations=40).estimate(8, game, seed=2)
    full = GtgShapley(eps_within=-1.0, tolerance=0.0, max_permutations=40).estimate(8, game, seed=2)
    assert truncated.evaluations < 0.6 * full.evaluations


def test_gtg_uses_at_most_a_fifth_of_exact_evaluations_on_ten_fl_clients() -> None:
    # ten IID clients with 0.3..3.0 (thousand) rows; about three average clients give 90 % of
    # the full aggregate's gain in validation accuracy (a saturating FL round)
    weights = [0.3 * (i + 1) for i in range(10)]
    random.Random(3).shuffle(weights)
    game = saturating(weights, reach=8.0)
    exact = ExactShapley().estimate(10, game)
    assert exact.evaluations == 1024
    results = [GtgShapley().estimate(10, game, seed=seed) for seed in range(10)]
    assert max(r.evaluations for r in results) <= 0.2 * exact.evaluations
    rhos = [spearman(r.scores, exact.scores) for r in results]
    assert sum(rhos) / len(rhos) >= 0.95
    assert min(rhos) >= 0.85


@pytest.mark.parametrize("name", SAMPLED)
def test_an_evaluation_budget_caps_the_coalitions_evaluated(name: str) -> None:
    game = saturating([0.3 * (i + 1) for i in range(10)], reach=3.0)
    free = make_estimator(name).estimate(10, game, seed=4)
    capped = make_estimator(name, max_evaluations=100).estimate(10, game, seed=4)
    assert free.evaluations > 110
    assert 100 <= capped.evaluations <= 100 + 9  # a permutation in progress may add n - 1
    assert capped.permutations < free.permutations
    with pytest.raises(InvalidInputError):
        make_estimator(name, max_evaluations=-1)


# -- determinism and replay ---------------------------------------------------------------------


@pytest.mark.parametrize("estimator", estimators(), ids=lambda e: e.name)
def test_same_seed_same_result_bit_for_bit(estimator: ContributionEstimator) -> None:
    game, _ = distinct_fl_game(7, seed=1)
    first = estimator.estimate(7, game, seed=123)
    again = estimator.estimate(7, game, seed=123)
    assert first.scores == again.scores  # floats compared with ==: bit for bit
    assert first.utilities == again.utilities
    assert list(first.utilities) == list(again.utilities)  # same order of evaluation


@pytest.mark.parametrize("name", SAMPLED)
def test_different_seeds_sample_differently(name: str) -> None:
    game, _ = distinct_fl_game(7, seed=1)
    results = [make_estimator(name).estimate(7, game, seed=seed) for seed in range(4)]
    assert len({tuple(r.scores) for r in results}) > 1


@pytest.mark.parametrize("estimator", estimators(), ids=lambda e: e.name)
def test_replay_from_the_published_utilities_reproduces_the_result(
    estimator: ContributionEstimator,
) -> None:
    game, _ = distinct_fl_game(8, seed=2)
    result = estimator.estimate(8, game, seed=77)
    published = json.loads(json.dumps(result.utilities))  # what the evidence stores
    rebuilt = make_estimator(result.method, **json.loads(json.dumps(result.params)))
    replay = rebuilt.estimate(8, lookup_utility(published), seed=result.seed)
    assert replay == result


@pytest.mark.parametrize("name", SAMPLED)
def test_replay_under_another_seed_needs_unrecorded_coalitions(name: str) -> None:
    game = saturating([0.3 * (i + 1) for i in range(10)], reach=8.0)
    result = make_estimator(name).estimate(10, game, seed=1)
    with pytest.raises(UnrecordedCoalitionError):
        make_estimator(name).estimate(10, lookup_utility(result.utilities), seed=2)


def test_lookup_utility_raises_a_project_error_not_a_key_error() -> None:
    utility = lookup_utility({"": 0.5, "0,1": 0.75})
    assert utility(frozenset({1, 0})) == 0.75
    with pytest.raises(NotFoundError, match="0,2") as caught:
        utility(frozenset({0, 2}))
    assert not isinstance(caught.value, KeyError)


def test_shuffle_is_uniform_and_pinned() -> None:
    # the permutation stream is part of the evidence: it must not change under us
    assert shuffled(random.Random(0), range(6)) == shuffled(random.Random(0), range(6))
    assert shuffled(random.Random(0), range(6)) == [2, 4, 0, 1, 3, 5]
    counts = Counter(tuple(shuffled(random.Random(s), range(3))) for s in range(6000))
    assert len(counts) == 6
    assert all(900 <= c <= 1100 for c in counts.values())


def test_loo_and_exact_record_the_seed_without_using_it() -> None:
    game, _ = distinct_fl_game(5, seed=3)
    for estimator in (LeaveOneOut(), ExactShapley()):
        a, b = estimator.estimate(5, game, seed=1), estimator.estimate(5, game, seed=2)
        assert a.scores == b.scores
        assert (a.seed, b.seed) == (1, 2)
    assert TmcShapley().name == "shapley-tmc"
