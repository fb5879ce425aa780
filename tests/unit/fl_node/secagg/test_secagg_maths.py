"""Shamir against brute-force interpolation, the fixed-point bound, and the SecAgg+ graph.

Shamir: over GF(31) with threshold 3, every polynomial of degree < 3 is enumerated; exactly one
passes through any 3 shares and its constant is what :func:`combine_int` returns, and 2 shares
are consistent with every secret exactly once (they tell nothing). Over the real field, any
``t`` of ``n`` shares recover a 32-byte secret and ``t - 1`` do not.
"""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest
import sympy

from fl_node.secagg import FixedPoint, SecAggInputError, default_degree, neighbours
from fl_node.secagg.shamir import PRIME, Share, combine, combine_int, split, split_int

SMALL = 31


def brute_force_polynomials(shares: list[Share]) -> np.ndarray:
    """Every (a0, a1, a2) over GF(31) whose polynomial passes through all ``shares``."""
    a = np.array(list(itertools.product(range(SMALL), repeat=3)))
    ok = np.ones(len(a), dtype=bool)
    for s in shares:
        ok &= (a[:, 0] + a[:, 1] * s.x + a[:, 2] * s.x * s.x) % SMALL == s.y
    return a[ok]


@pytest.mark.parametrize("secret", [0, 7, 30])
def test_combine_matches_brute_force_interpolation(secret: int) -> None:
    shares = split_int(secret, [1, 2, 3, 4, 5], 3, prime=SMALL)
    for chosen in itertools.combinations(shares, 3):
        found = brute_force_polynomials(list(chosen))
        assert len(found) == 1 and found[0, 0] == secret
        assert combine_int(chosen, prime=SMALL) == secret


def test_fewer_than_threshold_shares_fit_every_secret_equally() -> None:
    shares = split_int(11, [1, 2, 3, 4, 5], 3, prime=SMALL)
    for chosen in itertools.combinations(shares, 2):
        constants = brute_force_polynomials(list(chosen))[:, 0]
        assert np.bincount(constants, minlength=SMALL).tolist() == [1] * SMALL


def test_any_t_of_n_shares_recover_a_32_byte_secret_and_t_minus_1_do_not() -> None:
    secret = os.urandom(32)
    shares = split(secret, list(range(1, 8)), 4)
    for chosen in itertools.combinations(shares, 4):
        assert combine(chosen) == secret
    assert combine_int(shares[:3]) != int.from_bytes(secret, "big")
    assert all(0 <= s.y < PRIME for s in shares)
    assert sympy.isprime(PRIME) and PRIME > 2**256


def test_split_rejects_impossible_settings() -> None:
    with pytest.raises(SecAggInputError):
        split_int(1, [1, 2], 3)
    with pytest.raises(SecAggInputError):
        split_int(1, [1, 1, 2], 2)
    with pytest.raises(SecAggInputError):
        split(b"short", [1, 2], 2)


def test_fixed_point_sum_of_the_largest_words_never_wraps_and_decodes_within_bound() -> None:
    fp = FixedPoint(clip=2.0, max_clients=50)
    assert fp.levels * 50 < 2**32 <= (fp.levels + 1) * 50 + 50
    top = fp.encode(np.full(3, 5.0))
    assert top.tolist() == [fp.levels] * 3
    assert int(top[0]) * 50 < 2**32
    values = np.random.default_rng(0).uniform(-2, 2, (50, 1000))
    words = sum(fp.encode(v).astype(np.uint64) for v in values)
    assert words.max() < 2**32
    decoded = fp.decode_sum(words.astype(np.uint32), 50)
    error = np.abs(decoded - values.sum(axis=0)).max()
    assert 0 < error <= fp.bound(50)
    with pytest.raises(SecAggInputError):
        fp.decode_sum(words.astype(np.uint32), 51)
    with pytest.raises(SecAggInputError):
        fp.encode([np.nan])


@pytest.mark.parametrize("n", [2, 9, 10, 30, 50, 101])
def test_the_graph_is_symmetric_regular_and_complete_when_small(n: int) -> None:
    k = default_degree(n)
    graph = neighbours(list(range(n)), k, b"seed")
    assert all(u not in vs and all(u in graph[v] for v in vs) for u, vs in graph.items())
    if n <= k + 1:
        assert all(len(vs) == n - 1 for vs in graph.values())
    else:
        assert {len(vs) for vs in graph.values()} == {k}
    assert graph == neighbours(list(range(n)), k, b"seed")
    if n > k + 1:
        assert graph != neighbours(list(range(n)), k, b"another seed")
