"""Big-integer kernels behind :mod:`fl_node.vertical.crypto.paillier` (private).

Everything here works on :class:`gmpy2.mpz` values and knows nothing about
fixed-point encodings, keys or wire formats:

* prime generation for key pairs,
* :class:`FixedBaseTable`, a windowed fixed-base exponentiation table used for
  short-exponent randomizers ``h**s mod n**2``,
* :func:`multi_exp_columns`, a bucket (Pippenger) multi-exponentiation that
  computes ``prod_i b_i ** e_ij`` for every column ``j`` of a small signed
  exponent matrix -- the ``sum_i x_ij * [[d_i]]`` hot path of vertical
  logistic regression.
"""

from __future__ import annotations

import logging
import math
import secrets
from collections.abc import Sequence
from typing import Any, TypeAlias

import gmpy2
import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from fl_node.vertical.crypto.paillier._errors import PaillierInputError

logger = logging.getLogger(__name__)

#: gmpy2 ships no type stubs; ``Mpz`` documents where a :class:`gmpy2.mpz` lives.
Mpz: TypeAlias = Any

#: Extra Miller-Rabin rounds run on each prime on top of gmpy2's own test.
_EXTRA_MR_ROUNDS = 32

#: Largest magnitude handled by the int64 (numpy) exponent path.
INT64_EXPONENT_LIMIT = 1 << 62


def random_prime(bits: int) -> Mpz:
    """Return a random prime of exactly ``bits`` bits with its two top bits set.

    A uniformly random odd candidate (from :mod:`secrets`) is moved to the next
    prime with :func:`gmpy2.next_prime`; candidates whose next prime overflows
    the bit length are discarded.  Setting the two top bits guarantees that the
    product of two such primes has exactly ``2 * bits`` bits.

    Parameters
    ----------
    bits : int
        Bit length of the prime, at least 16.

    Returns
    -------
    gmpy2.mpz
        A prime ``p`` with ``p.bit_length() == bits``.
    """
    if bits < 16:
        raise PaillierInputError(f"prime size must be at least 16 bits, got {bits}")
    top = 3 << (bits - 2)
    while True:
        candidate = gmpy2.mpz(secrets.randbits(bits) | top | 1)
        prime = gmpy2.next_prime(candidate)
        if prime.bit_length() != bits:
            continue
        if gmpy2.is_prime(prime, _EXTRA_MR_ROUNDS):
            return prime


def crt_combine(a_p: Mpz, a_q: Mpz, m_p: Mpz, m_q: Mpz, m_p_inv_mod_m_q: Mpz) -> Mpz:
    """Return ``x mod m_p*m_q`` with ``x = a_p (mod m_p)`` and ``x = a_q (mod m_q)``.

    Parameters
    ----------
    a_p, a_q : gmpy2.mpz
        Residues modulo ``m_p`` and ``m_q``.
    m_p, m_q : gmpy2.mpz
        Coprime moduli.
    m_p_inv_mod_m_q : gmpy2.mpz
        ``m_p**-1 mod m_q``.

    Returns
    -------
    gmpy2.mpz
        The unique solution in ``[0, m_p * m_q)``.
    """
    return a_p + m_p * (((a_q - a_p) * m_p_inv_mod_m_q) % m_q)


class FixedBaseTable:
    """Windowed fixed-base exponentiation: ``h**s mod m`` for short ``s``.

    The table stores ``T[t][d] = h**(d * 2**(w*t)) mod m`` for every window
    ``t < ceil(exponent_bits / w)`` and digit ``0 < d < 2**w``.  Writing ``s`` in
    base ``2**w``, ``h**s = prod_t T[t][s_t]``: about ``exponent_bits / w``
    modular multiplications and no squarings (Brickell-Gordon-McCurley-Wilson
    style fixed-base windowing).  With 256-bit exponents and ``w = 8`` that is
    31 multiplications instead of ~300 for a plain ``powmod``.

    Parameters
    ----------
    base : gmpy2.mpz
        The fixed base ``h``.
    modulus : gmpy2.mpz
        The modulus ``m`` (``n**2`` for Paillier).
    exponent_bits : int
        Largest exponent length the table serves.
    window_bits : int
        Window width ``w`` (1..16); memory is
        ``ceil(exponent_bits / w) * (2**w - 1)`` residues.
    """

    def __init__(self, base: Mpz, modulus: Mpz, exponent_bits: int, window_bits: int) -> None:
        if not 1 <= window_bits <= 16:
            raise PaillierInputError(f"window_bits must be in [1, 16], got {window_bits}")
        if exponent_bits < 1:
            raise PaillierInputError(f"exponent_bits must be positive, got {exponent_bits}")
        self.modulus = gmpy2.mpz(modulus)
        self.exponent_bits = exponent_bits
        self.window_bits = window_bits
        self.n_windows = -(-exponent_bits // window_bits)
        size = 1 << window_bits
        m = self.modulus
        rows: list[list[Mpz]] = []
        step = gmpy2.mpz(base) % m  # h ** (2 ** (w * t)) for the current window
        for _ in range(self.n_windows):
            row: list[Mpz] = [gmpy2.mpz(1), step]
            for _ in range(size - 2):
                row.append(row[-1] * step % m)
            rows.append(row)
            step = row[-1] * step % m  # h ** ((2**w - 1) * 2**(w t)) * h ** (2**(w t))
        self._rows = rows

    @property
    def n_entries(self) -> int:
        """Number of stored residues."""
        return self.n_windows * ((1 << self.window_bits) - 1)

    def pow(self, exponent: int) -> Mpz:
        """Return ``h**exponent mod m`` for ``0 <= exponent < 2**exponent_bits``."""
        if exponent < 0 or exponent.bit_length() > self.exponent_bits:
            raise PaillierInputError("exponent out of the table's range")
        w = self.window_bits
        mask = (1 << w) - 1
        m = self.modulus
        acc: Mpz = None
        for row in self._rows:
            digit = exponent & mask
            exponent >>= w
            if digit:
                entry = row[digit]
                acc = entry if acc is None else acc * entry % m
        return gmpy2.mpz(1) if acc is None else acc

    def pow_bytes(self, digits: bytes) -> Mpz:
        """Return ``h**s mod m`` where ``s`` is given little-endian as bytes.

        Only valid for ``window_bits == 8``: each byte is one window digit, so
        random bytes from :func:`os.urandom` are used directly.
        """
        if self.window_bits != 8 or len(digits) > self.n_windows:
            raise PaillierInputError("pow_bytes needs window_bits == 8 and a short enough exponent")
        m = self.modulus
        acc: Mpz = None
        for row, digit in zip(self._rows, digits, strict=False):
            if digit:
                entry = row[digit]
                acc = entry if acc is None else acc * entry % m
        return gmpy2.mpz(1) if acc is None else acc


def choose_window(n_terms: int, exponent_bits: int) -> int:
    """Pick the bucket window that minimises the estimated multiplication count.

    Each of the ``ceil(bits / w)`` windows costs one multiplication per
    non-zero digit (at most ``n_terms``) plus about ``2 * 2**w`` for the
    running-sum bucket aggregation.

    Parameters
    ----------
    n_terms : int
        Number of base/exponent pairs.
    exponent_bits : int
        Bit length of the largest exponent.

    Returns
    -------
    int
        Window width in bits (1..16).
    """
    if exponent_bits <= 0:
        return 1
    best_w, best_cost = 1, math.inf
    for w in range(1, min(exponent_bits, 16) + 1):
        cost = -(-exponent_bits // w) * (n_terms + 2 * (1 << w)) + exponent_bits
        if cost < best_cost:
            best_w, best_cost = w, cost
    return best_w


def _bucket_multi_exp(
    bases: Sequence[Mpz],
    exponents: npt.NDArray[np.int64],
    modulus: Mpz,
    window_bits: int,
) -> Mpz:
    """Return ``prod_i bases[i] ** exponents[i]`` for non-negative int64 exponents."""
    m = modulus
    max_e = int(exponents.max()) if exponents.size else 0
    if max_e == 0:
        return gmpy2.mpz(1)
    w = window_bits
    mask = (1 << w) - 1
    n_windows = -(-max_e.bit_length() // w)
    acc: Mpz = None
    for t in range(n_windows - 1, -1, -1):
        if acc is not None:
            for _ in range(w):
                acc = acc * acc % m
        digits = (exponents >> (w * t)) & mask
        nonzero = np.flatnonzero(digits)
        if nonzero.size == 0:
            continue
        buckets: list[Mpz] = [None] * (mask + 1)
        for i, d in zip(nonzero.tolist(), digits[nonzero].tolist(), strict=True):
            b = buckets[d]
            buckets[d] = bases[i] if b is None else b * bases[i] % m
        # Running-sum aggregation: prod_d B_d ** d with ~2 multiplications per digit.
        running: Mpz = None
        total: Mpz = None
        for d in range(mask, 0, -1):
            b = buckets[d]
            if b is not None:
                running = b if running is None else running * b % m
            if running is not None:
                total = running if total is None else total * running % m
        if total is not None:
            acc = total if acc is None else acc * total % m
    return gmpy2.mpz(1) if acc is None else acc


def multi_exp_columns(
    bases: Sequence[Mpz],
    exponents: npt.NDArray[np.int64],
    modulus: Mpz,
    *,
    progress: bool = False,
) -> list[Mpz]:
    """Return ``[prod_i bases[i] ** exponents[i, j] mod modulus for j in columns]``.

    Bucket (Pippenger) multi-exponentiation over small signed exponents.
    Negative exponents never become full-size: a column ``j`` with minimum
    ``-B_j < 0`` is shifted to non-negative exponents ``e_ij + B_j`` and the
    result is corrected once with ``(prod_i b_i) ** -B_j`` -- a single
    inversion per output column.  All bases must be invertible modulo
    ``modulus`` (true for Paillier ciphertexts).

    Parameters
    ----------
    bases : sequence of gmpy2.mpz
        ``N`` bases, already reduced modulo ``modulus``.
    exponents : numpy.ndarray of int64, shape (N, F)
        Signed exponents with ``|e| < 2**62``.
    modulus : gmpy2.mpz
        Modulus (``n**2``).
    progress : bool
        Show a tqdm progress bar over the ``F`` columns.

    Returns
    -------
    list of gmpy2.mpz
        ``F`` products.
    """
    if exponents.ndim != 2 or exponents.shape[0] != len(bases):
        raise PaillierInputError(
            f"exponent matrix of shape {exponents.shape} does not match {len(bases)} bases"
        )
    m = gmpy2.mpz(modulus)
    n_rows, n_cols = exponents.shape
    if n_rows and int(np.abs(exponents).max()) >= INT64_EXPONENT_LIMIT:
        raise PaillierInputError("exponents must satisfy |e| < 2**62")
    columns = np.ascontiguousarray(exponents.T)
    product: list[Mpz] = []  # prod_i bases[i], computed once when a column needs it
    return [
        _column_power(bases, columns[j], m, product)
        for j in tqdm(range(n_cols), desc="multi-exp", disable=not progress, leave=False)
    ]


def _column_power(
    bases: Sequence[Mpz], col: npt.NDArray[np.int64], m: Mpz, product: list[Mpz]
) -> Mpz:
    """One output of :func:`multi_exp_columns`: shift negatives away, correct once."""
    n_rows = len(col)
    shift = -int(col.min()) if n_rows else 0
    if shift > 0:
        col = col + shift
    bits = int(col.max()).bit_length() if n_rows else 0
    w = choose_window(int(np.count_nonzero(col)), bits)
    value = _bucket_multi_exp(bases, col, m, w)
    if shift > 0:
        if not product:
            total = gmpy2.mpz(1)
            for b in bases:
                total = total * b % m
            product.append(total)
        value = value * gmpy2.powmod(product[0], -shift, m) % m
    return value


def multi_exp_naive(bases: Sequence[Mpz], exponents: Sequence[int], modulus: Mpz) -> Mpz:
    """Return ``prod_i bases[i] ** exponents[i] mod modulus`` with one powmod per term.

    Fallback for exponents too large for the int64 bucket path; negative
    exponents use modular inverses.
    """
    m = gmpy2.mpz(modulus)
    acc = gmpy2.mpz(1)
    for b, e in zip(bases, exponents, strict=True):
        if e:
            acc = acc * gmpy2.powmod(b, e, m) % m
    return acc
