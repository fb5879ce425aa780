"""Shamir secret sharing of 32-byte secrets over the prime field of ``2^256 + 297``.

A secret ``s`` (read as a big-endian integer, below ``2^256``) is the constant term of a random
polynomial ``f`` of degree ``t - 1`` over GF(p); holder ``x`` (a non-zero field element) gets
``f(x)``. Any ``t`` shares give ``f(0)`` by Lagrange interpolation at 0; any ``t - 1`` shares are
consistent with every secret equally often (perfect secrecy). The functions take the prime as an
argument so that the tests can check them against brute force over a tiny field.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from fl_node.secagg.errors import SecAggInputError

PRIME = 2**256 + 297
"""The smallest prime above ``2^256``: every 32-byte secret is a field element."""
SHARE_BYTES = 33
"""Bytes of one share's value (``ceil(257 / 8)``)."""
SECRET_BYTES = 32


@dataclass(frozen=True)
class Share:
    """One holder's share: the point ``(x, f(x))`` of the sharing polynomial.

    Attributes
    ----------
    x : int
        The holder's non-zero evaluation point (client id + 1 in the protocol).
    y : int
        ``f(x)`` in GF(p).
    """

    x: int
    y: int


def split_int(secret: int, xs: Sequence[int], threshold: int, prime: int = PRIME) -> list[Share]:
    """Shares of ``secret`` for the holders at ``xs``, any ``threshold`` of which recover it.

    Parameters
    ----------
    secret : int
        In ``[0, prime)``.
    xs : sequence of int
        Distinct non-zero points in ``[1, prime)``, one per holder.
    threshold : int
        Shares needed, ``1 <= threshold <= len(xs)``.
    prime : int, default PRIME
        The field's modulus.
    """
    if not 0 <= secret < prime:
        raise SecAggInputError("split: the secret is outside the field")
    if not 1 <= threshold <= len(xs) or len(set(xs)) != len(xs):
        raise SecAggInputError(f"split: threshold {threshold} of {len(xs)} distinct holders")
    if any(not 0 < x < prime for x in xs):
        raise SecAggInputError("split: a holder's point is zero or outside the field")
    coefficients = [secret] + [secrets.randbelow(prime) for _ in range(threshold - 1)]
    return [Share(x, _evaluate(coefficients, x, prime)) for x in xs]


def _evaluate(coefficients: Sequence[int], x: int, prime: int) -> int:
    value = 0
    for c in reversed(coefficients):
        value = (value * x + c) % prime
    return value


def combine_int(shares: Sequence[Share], prime: int = PRIME) -> int:
    """``f(0)`` from the shares by Lagrange interpolation (exactly ``t`` of them suffice).

    Parameters
    ----------
    shares : sequence of Share
        Shares at distinct points; with fewer than the threshold the result is meaningless.
    prime : int, default PRIME
        The field's modulus.
    """
    xs = [s.x % prime for s in shares]
    if not shares or len(set(xs)) != len(xs) or 0 in xs:
        raise SecAggInputError("combine: shares need distinct non-zero points")
    secret = 0
    for i, share in enumerate(shares):
        numerator, denominator = 1, 1
        for j, x in enumerate(xs):
            if j != i:
                numerator = numerator * x % prime
                denominator = denominator * (x - xs[i]) % prime
        secret = (secret + share.y * numerator * pow(denominator, -1, prime)) % prime
    return secret


def split(secret: bytes, xs: Sequence[int], threshold: int) -> list[Share]:
    """Shares of a 32-byte secret (see :func:`split_int`)."""
    if len(secret) != SECRET_BYTES:
        raise SecAggInputError(f"split: a secret has {SECRET_BYTES} bytes, not {len(secret)}")
    return split_int(int.from_bytes(secret, "big"), xs, threshold)


def combine(shares: Sequence[Share]) -> bytes:
    """The 32-byte secret the shares recover (see :func:`combine_int`)."""
    value = combine_int(shares)
    if value >= 2 ** (8 * SECRET_BYTES):
        raise SecAggInputError("combine: the shares do not recover a 32-byte secret")
    return value.to_bytes(SECRET_BYTES, "big")


def share_bytes(share: Share) -> bytes:
    """The share's value as :data:`SHARE_BYTES` big-endian bytes (its point travels apart)."""
    return share.y.to_bytes(SHARE_BYTES, "big")


__all__ = [
    "PRIME",
    "SECRET_BYTES",
    "SHARE_BYTES",
    "Share",
    "combine",
    "combine_int",
    "share_bytes",
    "split",
    "split_int",
]
