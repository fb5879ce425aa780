"""SecAgg+'s communication graph: a Harary graph on a ring shuffled by the public round seed.

Each client is joined to the ``k / 2`` clients either side of it on a ring whose order is a
permutation drawn from the round seed (everyone computes the same graph from public values):
a ``k``-regular graph (``k`` even) in which shares and pairwise masks travel only along edges.
With ``n <= k + 1`` clients it is the complete graph: classic SecAgg. :func:`default_degree`
picks ``k`` for a stated dropout tolerance.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence

import numpy as np

from fl_node.secagg.errors import SecAggInputError


def majority(holders: int) -> int:
    """The default threshold: ``floor(h / 2) + 1`` of a secret's ``h`` holders."""
    return holders // 2 + 1


def _short(holders: int, keep: float, threshold: int) -> float:
    """``P(Binomial(holders, keep) < threshold)``: a secret left with too few answers."""
    return sum(
        math.comb(holders, i) * keep**i * (1 - keep) ** (holders - i) for i in range(threshold)
    )


def default_degree(n: int, tolerance: float = 0.3, failure: float = 0.01) -> int:
    """The smallest even ``k >= 2 ceil(log2 n)`` that survives ``tolerance`` dropouts.

    With ``h = k + 1`` holders per secret and the :func:`majority` threshold, it asks that a
    client dropping independently with probability ``tolerance`` leaves some secret of the round
    with fewer than ``t`` answering holders with probability at most ``failure`` (a union bound
    over the ``n`` secrets). ``k`` grows as ``O(log n)``; below about 64 clients it is the complete
    graph (``n - 1``): classic SecAgg.

    Parameters
    ----------
    n : int
        Clients in the round.
    tolerance : float, default 0.3
        The dropout fraction the round should survive.
    failure : float, default 0.01
        The accepted chance that it does not.
    """
    if not 0 <= tolerance < 1 or not 0 < failure < 1:
        raise SecAggInputError("default_degree: tolerance in [0, 1), failure in (0, 1)")
    if n < 2:
        return 0
    k = 2 * math.ceil(math.log2(n))
    while k < n - 1 and n * _short(k + 1, 1 - tolerance, majority(k + 1)) > failure:
        k += 2
    return min(k, n - 1)


def neighbours(
    clients: Sequence[int], degree: int, round_seed: bytes
) -> Mapping[int, frozenset[int]]:
    """Each client's neighbours on the round's graph (a symmetric relation, no self loops).

    Parameters
    ----------
    clients : sequence of int
        The clients' ids (distinct).
    degree : int
        ``k``; an odd ``k`` is rounded up to the next even number.
    round_seed : bytes
        The public seed that shuffles the ring.
    """
    ids = sorted(set(clients))
    if len(ids) != len(clients) or degree < 0:
        raise SecAggInputError("neighbours: clients must be distinct and the degree >= 0")
    n = len(ids)
    if n <= degree + 1:
        return {u: frozenset(v for v in ids if v != u) for u in ids}
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(round_seed).digest()[:8], "big"))
    ring = [ids[i] for i in rng.permutation(n)]
    half = (degree + 1) // 2
    found: dict[int, set[int]] = {u: set() for u in ids}
    for i, u in enumerate(ring):
        for step in range(1, half + 1):
            v = ring[(i + step) % n]
            found[u].add(v)
            found[v].add(u)
    return {u: frozenset(vs) for u, vs in found.items()}


__all__ = ["default_degree", "majority", "neighbours"]
