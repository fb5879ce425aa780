"""The pool's draw: seeds, determinism, group sizes, uniformity, and a brute-force reference.

The reference re-derives the draw's distribution from its written rule on a tiny pool (3 models,
3 participants): k uniform, the subset uniform, then every balanced deal equally likely; the
draw's frequencies over many seeds must fit it (chi-square).
"""

from __future__ import annotations

import itertools
from collections import Counter

import pytest
from eth_utils.crypto import keccak
from scipy.stats import chisquare

from fl_node.pool import (
    DrawError,
    KeccakStream,
    NotInDrawError,
    PoolDraw,
    PoolInputError,
    draw,
    participant_key,
    round_seed,
    seed_commitment,
)

SECRET = b"pool secret of the coordinator!!"
PEOPLE = tuple(f"0x{i:040x}" for i in range(1, 8))
P_MIN = 1e-4
"""A chi-square p-value below this fails; seeds are fixed, so each test passes or fails for good."""


def seeds(n: int, task: int = 7) -> list[bytes]:
    return [round_seed(SECRET, task, r) for r in range(n)]


def test_seed_commitment_and_round_seed_are_the_stated_keccaks() -> None:
    assert seed_commitment(SECRET) == keccak(SECRET)
    expected = keccak(SECRET + (3).to_bytes(32, "big") + (5).to_bytes(32, "big"))
    assert round_seed(SECRET, 3, 5) == expected
    assert round_seed(SECRET, 3, 5) != round_seed(SECRET, 5, 3)


@pytest.mark.parametrize(("task", "round_"), [(-1, 0), (0, -1), (2**256, 0)])
def test_round_seed_rejects_numbers_that_are_not_uint256(task: int, round_: int) -> None:
    with pytest.raises(PoolInputError):
        round_seed(SECRET, task, round_)


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(PoolInputError):
        seed_commitment(b"short")


def test_the_stream_is_the_keccak_counter() -> None:
    seed = b"\x01" * 32
    stream = KeccakStream(seed)
    first = int.from_bytes(keccak(seed + (0).to_bytes(8, "big")), "big")
    second = int.from_bytes(keccak(seed + (1).to_bytes(8, "big")), "big")
    assert stream.below(2**256) == first
    assert stream.below(1000) == second % 1000


def test_the_draw_is_a_function_of_the_seed() -> None:
    a, b = seeds(2)
    kwargs = {"n_models": 4, "participants": PEOPLE, "max_models": 3}
    assert draw(a, 0, **kwargs) == draw(a, 0, **kwargs)  # type: ignore[arg-type]
    assert draw(a, 0, n_models=4, participants=PEOPLE[::-1]) == draw(
        a, 0, n_models=4, participants=PEOPLE
    )
    outcomes = {draw(s, 0, n_models=4, participants=PEOPLE).assignment for s in seeds(20)}
    assert len(outcomes) > 10
    assert draw(a, 0, n_models=4, participants=PEOPLE) != draw(
        b, 0, n_models=4, participants=PEOPLE
    )


@pytest.mark.parametrize(
    ("n_models", "min_per", "pending"), [(5, 1, None), (5, 2, None), (6, 3, (1, 4, 5))]
)
def test_every_drawn_model_gets_its_minimum_and_only_pending_models_are_drawn(
    n_models: int, min_per: int, pending: tuple[int, ...] | None
) -> None:
    ks: set[int] = set()
    for s in seeds(200):
        d = draw(s, 1, n_models, PEOPLE, min_per_model=min_per, pending=pending)
        ks.add(len(d.drawn))
        assert sorted(p for p, _ in d.assignment) == sorted(PEOPLE)
        assert set(d.drawn) <= set(pending or range(n_models))
        sizes = [len(d.members(m)) for m in d.drawn]
        assert min(sizes) >= min_per and max(sizes) - min(sizes) <= 1
        assert {m for _, m in d.assignment} == set(d.drawn)
    hi = min(n_models, len(pending or range(n_models)), len(PEOPLE) // min_per)
    assert ks == set(range(1, hi + 1))


def test_model_of_and_members_agree() -> None:
    d = draw(seeds(1)[0], 4, 3, PEOPLE, min_models=2)
    for p in PEOPLE:
        assert p in d.members(d.model_of(p))
    assert d.members(99) == ()
    with pytest.raises(NotInDrawError):
        d.model_of("0x" + "f" * 40)


def test_the_number_of_models_and_which_ones_are_uniform() -> None:
    ks: Counter[int] = Counter()
    subsets: Counter[tuple[int, ...]] = Counter()
    for s in seeds(3000):
        ks[len(draw(s, 0, 5, PEOPLE, min_models=2, max_models=4).drawn)] += 1
        subsets[draw(s, 0, 5, PEOPLE, min_models=2, max_models=2).drawn] += 1
    assert sorted(ks) == [2, 3, 4]
    assert chisquare(list(ks.values())).pvalue > P_MIN
    assert len(subsets) == 10
    assert chisquare(list(subsets.values())).pvalue > P_MIN


def test_a_participants_model_is_uniform_even_when_groups_are_uneven() -> None:
    """7 participants over 3 models: groups of 3, 2 and 2, yet each model is equally likely."""
    overall: Counter[int] = Counter()
    rank: Counter[int] = Counter()
    for s in seeds(3000):
        d = draw(s, 0, 5, PEOPLE, min_models=3, max_models=3)
        overall[d.model_of(PEOPLE[0])] += 1
        rank[d.drawn.index(d.model_of(PEOPLE[0]))] += 1
    assert sorted(overall) == [0, 1, 2, 3, 4]
    assert chisquare(list(overall.values())).pvalue > P_MIN
    assert chisquare(list(rank.values())).pvalue > P_MIN


def _balanced_deals(
    people: tuple[str, ...], models: tuple[int, ...]
) -> list[tuple[tuple[str, int], ...]]:
    lo, hi = len(people) // len(models), -(-len(people) // len(models))
    deals = []
    for choice in itertools.product(models, repeat=len(people)):
        sizes = [choice.count(m) for m in models]
        if all(lo <= s <= hi for s in sizes):
            deals.append(tuple(sorted(zip(people, choice, strict=True))))
    return deals


def reference_distribution(people: tuple[str, ...], n_models: int) -> dict[PoolDraw, float]:
    """The rule as written: k uniform in [1, n], subset uniform, balanced deal uniform."""
    top = min(n_models, len(people))
    probs: dict[PoolDraw, float] = {}
    for k in range(1, top + 1):
        subsets = list(itertools.combinations(range(n_models), k))
        for subset in subsets:
            deals = _balanced_deals(people, subset)
            for deal in deals:
                probs[PoolDraw(0, subset, deal)] = 1 / top / len(subsets) / len(deals)
    return probs


def test_the_draw_matches_the_brute_force_distribution() -> None:
    people = PEOPLE[:3]
    probs = reference_distribution(people, 3)
    assert len(probs) == 3 + 3 * 6 + 6 and abs(sum(probs.values()) - 1) < 1e-12
    n = 5400
    seen = Counter(draw(s, 0, 3, people) for s in seeds(n, task=11))
    assert set(seen) <= set(probs)
    outcomes = sorted(probs, key=repr)
    observed = [seen[o] for o in outcomes]
    expected = [probs[o] * n for o in outcomes]
    assert chisquare(observed, expected).pvalue > P_MIN


def test_a_biased_deal_would_fail_the_reference() -> None:
    """The chi-square above can fail: a deal that always favours the first drawn model does."""
    people = PEOPLE[:3]
    probs = reference_distribution(people, 3)
    n = 5400
    seen: Counter[PoolDraw] = Counter()
    for s in seeds(n, task=11):
        d = draw(s, 0, 3, people)
        biased = tuple(
            (p, d.drawn[0]) if i == 0 else (p, m) for i, (p, m) in enumerate(d.assignment)
        )
        seen[PoolDraw(0, d.drawn, biased)] += 1
    outcomes = sorted(probs, key=repr)
    observed = [seen[o] for o in outcomes]
    assert sum(observed) < n or chisquare(observed, [probs[o] * n for o in outcomes]).pvalue < P_MIN


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_models": 0},
        {"min_models": 0},
        {"min_models": 3, "max_models": 2},
        {"pending": ()},
        {"pending": (0, 0)},
        {"pending": (9,)},
        {"min_models": 3, "min_per_model": 3},
        {"participants": (PEOPLE[0], PEOPLE[0].upper().replace("0X", "0x"))},
    ],
)
def test_impossible_draws_are_named_errors(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {"n_models": 4, "participants": PEOPLE} | kwargs
    with pytest.raises(DrawError):
        draw(seeds(1)[0], 0, **args)  # type: ignore[arg-type]


def test_min_models_is_capped_by_the_models_still_pending() -> None:
    d = draw(seeds(1)[0], 9, 4, PEOPLE, min_models=3, pending=(2,))
    assert d.drawn == (2,) and d.members(2) == tuple(sorted(PEOPLE))


def test_hex_addresses_hash_as_their_twenty_bytes_in_any_case() -> None:
    assert participant_key("0x" + "Ab" * 20) == bytes.fromhex("ab" * 20)
    assert participant_key("alice") == b"alice"
