"""The contributors' shares of a task's final model: basis points that sum to exactly 10,000.

The last round of a FedTask task records one share per participant (``uint16`` basis points in
join order, summing to exactly 10,000); ModelMarket later pays each contributor its share of every
sale. :func:`shares_bps` turns cumulative contributions into those shares with the largest
remainder method (Hamilton's apportionment): each participant gets the floor of its exact quota
``10,000 * c_i / sum(c)``, and the units left go one each to the largest remainders, ties to the
earlier participant in join order. So the shares

- sum to exactly 10,000,
- differ from the exact quotas by less than one basis point each,
- are monotone: a larger contribution never gets a smaller share,
- give 0 to a participant that contributed nothing (unless nobody contributed: then equal shares).

Arithmetic is exact (:class:`fractions.Fraction`), so the result depends only on the inputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

from kernel.errors import InvalidInputError

BPS = 10_000
"""Basis points in a whole."""


def shares_bps(contributions: Sequence[float], total: int = BPS) -> list[int]:
    """Largest-remainder apportionment of ``total`` basis points to ``contributions``.

    Parameters
    ----------
    contributions : sequence of float
        Cumulative contribution per participant, in join order (ints are exact). Negative
        contributions count as zero: a participant whose updates hurt the model gets no share.
    total : int, default 10,000
        The whole to apportion (basis points).

    Returns
    -------
    list of int
        One share per participant, summing to exactly ``total``; all zero contributions give equal
        shares (the earlier participants get the units left over).

    Raises
    ------
    InvalidInputError
        No participant, a non-finite contribution, or a negative ``total``.
    """
    if not contributions:
        raise InvalidInputError("shares_bps: no participants")
    if total < 0:
        raise InvalidInputError("shares_bps: negative total")
    if any(not math.isfinite(c) for c in contributions):
        raise InvalidInputError("shares_bps: contributions must be finite")
    weights = [max(Fraction(c), Fraction(0)) for c in contributions]
    if not any(weights):
        weights = [Fraction(1)] * len(weights)
    whole = sum(weights, Fraction(0))
    quotas = [total * w / whole for w in weights]
    shares = [math.floor(q) for q in quotas]
    left = total - sum(shares)
    by_remainder = sorted(range(len(quotas)), key=lambda i: (-(quotas[i] - shares[i]), i))
    for i in by_remainder[:left]:
        shares[i] += 1
    return shares


__all__ = ["BPS", "shares_bps"]
